/*
 * ceiling: the cheapest servers the kernel allows for dgramd's three jobs,
 * used by the benchmark as the ceiling dgramd is measured against.
 *
 *   echo     recvmmsg, then sendmmsg every datagram back to its sender
 *   forward  recvmmsg, then sendmmsg to one connected target (optional GSO)
 *   log      recvmmsg, then one writev of "payload\n" lines per batch
 *   proxy    request/response: a socket connected to the target per client
 *            (source address and port); requests are read with recvmmsg
 *            on the listener, replies with recvmmsg on each ready client
 *            socket, and all the replies of one wakeup go back with one
 *            sendmmsg on the listener (epoll; clients never expire)
 *
 * One blocking socket, no event loop, no parsing: each batch costs one
 * receive and one send or write system call. Loopback and unix only; each
 * run stops after its maximum duration or on SIGTERM/SIGINT, and prints its
 * counts as one "key=value ..." line on stdout.
 */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT	103
#endif

#define PROG		"ceiling"
#define MAX_BATCH	512		/* log: 2 iovecs per datagram <= IOV_MAX */
#define GSO_MAX_SEGS	64
#define GSO_MAX_BYTES	65507

enum job {
	JOB_ECHO,
	JOB_FORWARD,
	JOB_LOG,
	JOB_PROXY,
};

#define PROXY_MAX	4096		/* clients the proxy keeps */

struct proxy_client {
	struct sockaddr_storage	 name;
	socklen_t		 len;
	int			 fd;
};

struct server {
	enum job		 job;
	int			 fd;		/* the listener */
	int			 out;		/* forward socket or log file */
	int			 gso;
	unsigned		 batch;
	size_t			 slot;		/* max_size + 1 */
	char			*buf;
	struct mmsghdr		*rx;
	struct iovec		*rxiov;
	struct sockaddr_storage	*names;
	struct mmsghdr		*tx;
	struct iovec		*txiov;		/* 2 per datagram for log */
	char			*ctl;		/* forward GSO cmsgs */
	uint64_t		 received;
	uint64_t		 bytes;
	uint64_t		 truncated;
	uint64_t		 sent;
	uint64_t		 send_errors;
	uint64_t		 no_peer;
	uint64_t		 batches;
	uint64_t		 writes;
	uint64_t		 first;
	uint64_t		 last;
	struct bench_addr	 target;	/* proxy */
	struct proxy_client	*clients;
	unsigned		 n_clients;
};

static const char nl = '\n';
static volatile sig_atomic_t stop_flag;

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void
usage(FILE *f)
{
	fprintf(f,
"usage: ceiling echo    [-b BATCH] [-t SECS] [-m MAX_SIZE] LISTEN\n"
"       ceiling forward [-b BATCH] [-t SECS] [-m MAX_SIZE] [-g] LISTEN TARGET\n"
"       ceiling log     [-b BATCH] [-t SECS] [-m MAX_SIZE] LISTEN FILE\n"
"       ceiling proxy   [-b BATCH] [-t SECS] [-m MAX_SIZE] LISTEN TARGET\n"
"\n"
"LISTEN, TARGET: 127.x.y.z:PORT, [::1]:PORT, unix:PATH, unix:@NAME, /PATH\n"
"(loopback and unix only; port 0 picks one). When ready it prints\n"
"\"listening PORT\" or \"listening PATH\"; on exit one line of counts.\n"
"\n"
"  -b BATCH     datagrams per recvmmsg, 1..512 (default 64)\n"
"  -t SECS      maximum run time (default 300); SIGTERM stops it earlier\n"
"  -m MAX_SIZE  largest datagram accepted, bigger ones are counted as\n"
"               truncated and dropped (default 65535)\n"
"  -g           forward: send runs of equal-size datagrams with UDP GSO\n");
}

static int
alloc_server(struct server *s)
{
	size_t ntx;
	unsigned i;

	ntx = s->job == JOB_LOG ? 2 * (size_t)s->batch : s->batch;
	/* The proxy's replies use a second area, behind the requests'. */
	s->buf = malloc(s->slot * s->batch * (s->job == JOB_PROXY ? 2 : 1));
	s->rx = calloc(s->batch, sizeof(*s->rx));
	s->rxiov = calloc(s->batch, sizeof(*s->rxiov));
	s->names = calloc(s->batch, sizeof(*s->names));
	s->tx = calloc(s->batch, sizeof(*s->tx));
	s->txiov = calloc(ntx, sizeof(*s->txiov));
	s->ctl = calloc(s->batch, CMSG_SPACE(sizeof(uint16_t)));
	if (s->buf == NULL || s->rx == NULL || s->rxiov == NULL ||
	    s->names == NULL || s->tx == NULL || s->txiov == NULL ||
	    s->ctl == NULL)
		return -ENOMEM;
	for (i = 0; i < s->batch && s->job == JOB_PROXY; i++)
		s->txiov[i].iov_base = s->buf + (size_t)(s->batch + i) * s->slot;
	for (i = 0; i < s->batch; i++) {
		s->rxiov[i].iov_base = s->buf + (size_t)i * s->slot;
		s->rxiov[i].iov_len = s->slot;
		s->rx[i].msg_hdr.msg_iov = &s->rxiov[i];
		s->rx[i].msg_hdr.msg_iovlen = 1;
		s->rx[i].msg_hdr.msg_name = &s->names[i];
		s->rx[i].msg_hdr.msg_namelen = sizeof(s->names[i]);
	}
	return 0;
}

/*
 * sendmmsg all n messages; a message the kernel refuses is counted and
 * skipped, so one bad destination cannot wedge the loop. Each iovec of a
 * sent message is one datagram (GSO messages carry several).
 */
static void
send_all(struct server *s, int fd, struct mmsghdr *m, unsigned n)
{
	unsigned i, j;
	int r;

	i = 0;
	while (i < n) {
		r = sendmmsg(fd, m + i, n - i, 0);
		if (r < 0) {
			if (errno == EINTR && !stop_flag)
				continue;
			s->send_errors++;
			i++;
			continue;
		}
		for (j = 0; j < (unsigned)r; j++)
			s->sent += m[i + j].msg_hdr.msg_iovlen;
		i += (unsigned)r;
	}
}

static void
do_echo(struct server *s, unsigned n)
{
	struct msghdr *h;
	unsigned i, k;

	for (i = k = 0; i < n; i++) {
		h = &s->rx[i].msg_hdr;
		if (h->msg_flags & MSG_TRUNC)
			continue;
		if (h->msg_namelen == 0) {
			/* An unbound unix sender cannot be answered. */
			s->no_peer++;
			continue;
		}
		s->txiov[k].iov_base = s->rxiov[i].iov_base;
		s->txiov[k].iov_len = s->rx[i].msg_len;
		memset(&s->tx[k].msg_hdr, 0, sizeof(s->tx[k].msg_hdr));
		s->tx[k].msg_hdr.msg_name = h->msg_name;
		s->tx[k].msg_hdr.msg_namelen = h->msg_namelen;
		s->tx[k].msg_hdr.msg_iov = &s->txiov[k];
		s->tx[k].msg_hdr.msg_iovlen = 1;
		k++;
	}
	send_all(s, s->fd, s->tx, k);
}

/* Close the current GSO message over txiov[from..to). */
static void
gso_msg(struct server *s, unsigned m, unsigned from, unsigned to,
    size_t seg)
{
	struct msghdr *h;
	struct cmsghdr *c;
	uint16_t v;

	h = &s->tx[m].msg_hdr;
	memset(h, 0, sizeof(*h));
	h->msg_iov = &s->txiov[from];
	h->msg_iovlen = to - from;
	if (to - from < 2)
		return;
	h->msg_control = s->ctl + (size_t)m * CMSG_SPACE(sizeof(v));
	h->msg_controllen = CMSG_SPACE(sizeof(v));
	c = CMSG_FIRSTHDR(h);
	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(v));
	v = (uint16_t)seg;
	memcpy(CMSG_DATA(c), &v, sizeof(v));
}

/*
 * Runs of equal-size datagrams become one GSO message each (the kernel
 * splits it again), so one sendmmsg often carries the whole batch as one
 * or two sends through the stack.
 */
static void
forward_gso(struct server *s, unsigned k)
{
	unsigned i, m, start;
	size_t seg, total;

	m = 0;
	start = 0;
	seg = k > 0 ? s->txiov[0].iov_len : 0;
	total = 0;
	for (i = 0; i < k; i++) {
		size_t len = s->txiov[i].iov_len;

		if (i > start && (len != seg || len == 0 ||
		    i - start == GSO_MAX_SEGS || total + len > GSO_MAX_BYTES)) {
			gso_msg(s, m++, start, i, seg);
			start = i;
			seg = len;
			total = 0;
		}
		total += len;
	}
	if (k > start)
		gso_msg(s, m++, start, k, seg);
	send_all(s, s->out, s->tx, m);
}

static void
do_forward(struct server *s, unsigned n)
{
	unsigned i, k;

	for (i = k = 0; i < n; i++) {
		if (s->rx[i].msg_hdr.msg_flags & MSG_TRUNC)
			continue;
		s->txiov[k].iov_base = s->rxiov[i].iov_base;
		s->txiov[k].iov_len = s->rx[i].msg_len;
		k++;
	}
	if (s->gso) {
		forward_gso(s, k);
		return;
	}
	for (i = 0; i < k; i++) {
		memset(&s->tx[i].msg_hdr, 0, sizeof(s->tx[i].msg_hdr));
		s->tx[i].msg_hdr.msg_iov = &s->txiov[i];
		s->tx[i].msg_hdr.msg_iovlen = 1;
	}
	send_all(s, s->out, s->tx, k);
}

static void
do_log(struct server *s, unsigned n)
{
	struct iovec *v;
	unsigned i, k;
	ssize_t w;
	int cnt;

	for (i = k = 0; i < n; i++) {
		if (s->rx[i].msg_hdr.msg_flags & MSG_TRUNC)
			continue;
		s->txiov[k].iov_base = s->rxiov[i].iov_base;
		s->txiov[k++].iov_len = s->rx[i].msg_len;
		s->txiov[k].iov_base = (void *)&nl;
		s->txiov[k++].iov_len = 1;
	}
	v = s->txiov;
	cnt = (int)k;
	while (cnt > 0) {
		w = writev(s->out, v, cnt);
		if (w < 0) {
			if (errno == EINTR && !stop_flag)
				continue;
			s->send_errors++;
			return;
		}
		s->writes++;
		/* A short write to a regular file is rare; finish it. */
		while (cnt > 0 && (size_t)w >= v->iov_len) {
			w -= (ssize_t)v->iov_len;
			v++;
			cnt--;
		}
		if (cnt > 0) {
			v->iov_base = (char *)v->iov_base + w;
			v->iov_len -= (size_t)w;
		}
	}
	s->sent += k / 2;
}

static void
serve(struct server *s)
{
	unsigned i;
	int r;

	while (!stop_flag) {
		r = recvmmsg(s->fd, s->rx, s->batch, MSG_WAITFORONE, NULL);
		if (r <= 0)
			continue;
		s->last = bench_now_ns();
		if (s->received == 0)
			s->first = s->last;
		s->batches++;
		s->received += (uint64_t)r;
		for (i = 0; i < (unsigned)r; i++) {
			s->bytes += s->rx[i].msg_len;
			if (s->rx[i].msg_hdr.msg_flags & MSG_TRUNC)
				s->truncated++;
		}
		if (s->job == JOB_ECHO)
			do_echo(s, (unsigned)r);
		else if (s->job == JOB_FORWARD)
			do_forward(s, (unsigned)r);
		else
			do_log(s, (unsigned)r);
		for (i = 0; i < (unsigned)r; i++)
			s->rx[i].msg_hdr.msg_namelen = sizeof(s->names[i]);
	}
}

/* The client socket for name: found, or opened and watched; -1 when full. */
static int
proxy_client(struct server *s, int ep, const struct sockaddr_storage *name, socklen_t len)
{
	struct epoll_event e = { .events = EPOLLIN };
	unsigned i;
	int fd;

	for (i = 0; i < s->n_clients; i++)
		if (s->clients[i].len == len && memcmp(&s->clients[i].name, name, len) == 0)
			return s->clients[i].fd;
	if (s->n_clients == PROXY_MAX)
		return -1;
	fd = bench_socket(&s->target);
	if (fd < 0 || connect(fd, &s->target.u.sa, s->target.len) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	e.data.u32 = s->n_clients + 1;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0) {
		close(fd);
		return -1;
	}
	s->clients[s->n_clients].name = *name;
	s->clients[s->n_clients].len = len;
	s->clients[s->n_clients].fd = fd;
	s->n_clients++;
	return fd;
}

/* Requests: each to its client's socket (one send each: the sockets differ). */
static void
proxy_requests(struct server *s, int ep)
{
	unsigned i;
	int r, fd;

	r = recvmmsg(s->fd, s->rx, s->batch, MSG_DONTWAIT, NULL);
	if (r <= 0)
		return;
	s->received += (uint64_t)r;
	for (i = 0; i < (unsigned)r; i++) {
		fd = proxy_client(s, ep, &s->names[i], s->rx[i].msg_hdr.msg_namelen);
		if (fd < 0 || send(fd, s->rxiov[i].iov_base, s->rx[i].msg_len, MSG_DONTWAIT) < 0)
			s->send_errors++;
		s->rx[i].msg_hdr.msg_namelen = sizeof(s->names[i]);
	}
}

static void
serve_proxy(struct server *s)
{
	struct epoll_event ev[256], e = { .events = EPOLLIN, .data.u32 = 0 };
	unsigned ntx = 0;
	int ep, r, j, m, k;

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &e) < 0)
		return;
	while (!stop_flag) {
		r = epoll_wait(ep, ev, 256, 250);
		for (j = 0; j < r; j++) {
			struct proxy_client *c;

			if (ev[j].data.u32 == 0) {
				proxy_requests(s, ep);
				continue;
			}
			c = &s->clients[ev[j].data.u32 - 1];
			/* Replies land in the tx slots' buffers (the rx area's second half). */
			if (ntx == s->batch) {
				send_all(s, s->fd, s->tx, ntx);
				ntx = 0;
			}
			for (k = 0; k < (int)(s->batch - ntx); k++) {
				s->txiov[ntx + (unsigned)k].iov_len = s->slot;
				s->rx[k].msg_hdr.msg_iov = &s->txiov[ntx + (unsigned)k];
				s->rx[k].msg_hdr.msg_name = NULL;
				s->rx[k].msg_hdr.msg_namelen = 0;
			}
			m = recvmmsg(c->fd, s->rx, s->batch - ntx, MSG_DONTWAIT, NULL);
			for (k = 0; k < (int)(s->batch - ntx); k++) {
				s->rx[k].msg_hdr.msg_iov = &s->rxiov[k];
				s->rx[k].msg_hdr.msg_name = &s->names[k];
				s->rx[k].msg_hdr.msg_namelen = sizeof(s->names[k]);
			}
			for (k = 0; k < m; k++, ntx++) {
				struct msghdr *h = &s->tx[ntx].msg_hdr;

				memset(h, 0, sizeof(*h));
				h->msg_iov = &s->txiov[ntx];
				h->msg_iov->iov_len = s->rx[k].msg_len;
				h->msg_iovlen = 1;
				h->msg_name = &c->name;
				h->msg_namelen = c->len;
			}
		}
		if (ntx > 0)
			send_all(s, s->fd, s->tx, ntx);
		ntx = 0;
	}
	close(ep);
}

static int
open_out(struct server *s, const char *arg, int gso)
{
	struct bench_addr t;
	int v;

	if (s->job == JOB_PROXY) {
		if (bench_addr_parse(PROG, arg, &s->target) < 0 ||
		    (s->target.family != AF_INET && s->target.family != AF_INET6))
			return -1;
		s->clients = calloc(PROXY_MAX, sizeof(*s->clients));
		return s->clients != NULL ? 0 : -1;
	}
	if (s->job == JOB_LOG) {
		s->out = open(arg, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		    0644);
		if (s->out < 0) {
			fprintf(stderr, PROG ": %s: %s\n", arg,
			    strerror(errno));
			return -1;
		}
		return 0;
	}
	if (bench_addr_parse(PROG, arg, &t) < 0)
		return -1;
	s->out = bench_socket(&t);
	if (s->out < 0 || connect(s->out, &t.u.sa, t.len) < 0) {
		fprintf(stderr, PROG ": connect %s: %s\n", arg,
		    strerror(errno));
		return -1;
	}
	/* A full unix receiver must not hold us past the deadline. */
	bench_set_timeouts(s->out, 250);
	if (gso && t.family != AF_UNIX) {
		v = 0;
		/* Probe: kernels without UDP GSO refuse the option. */
		s->gso = setsockopt(s->out, SOL_UDP, UDP_SEGMENT, &v,
		    sizeof(v)) == 0;
	}
	return 0;
}

static void
report(const struct server *s, const char *listen)
{
	static const char *const names[] = { "echo", "forward", "log", "proxy" };
	struct rusage ru;

	(void)getrusage(RUSAGE_SELF, &ru);
	printf("mode=%s listen=%s received=%" PRIu64 " bytes=%" PRIu64
	    " truncated=%" PRIu64 " %s=%" PRIu64 " errors=%" PRIu64
	    " no_peer=%" PRIu64 " batches=%" PRIu64 " writes=%" PRIu64
	    " gso=%d secs=%.6f utime_us=%ld stime_us=%ld\n", names[s->job],
	    listen, s->received, s->bytes, s->truncated,
	    s->job == JOB_LOG ? "written" : "sent", s->sent, s->send_errors,
	    s->no_peer, s->batches, s->writes, s->gso,
	    s->last > s->first ? (double)(s->last - s->first) / 1e9 : 0.0,
	    (long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
	    (long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec);
}

static int
parse_args(int argc, char **argv, struct server *s, double *secs, int *gso)
{
	double v;
	int c;

	if (argc < 2) {
		usage(stderr);
		return -1;
	}
	if (strcmp(argv[1], "echo") == 0)
		s->job = JOB_ECHO;
	else if (strcmp(argv[1], "forward") == 0)
		s->job = JOB_FORWARD;
	else if (strcmp(argv[1], "log") == 0)
		s->job = JOB_LOG;
	else if (strcmp(argv[1], "proxy") == 0)
		s->job = JOB_PROXY;
	else {
		usage(strcmp(argv[1], "-h") == 0 ? stdout : stderr);
		return -1;
	}
	argc--;
	argv++;
	while ((c = getopt(argc, argv, "b:t:m:gh")) != -1) {
		if (c == 'g') {
			*gso = 1;
			continue;
		}
		if (c == 'h' || c == '?' || bench_parse_num(optarg, &v) < 0) {
			usage(stderr);
			return -1;
		}
		if (c == 'b' && v >= 1 && v <= MAX_BATCH)
			s->batch = (unsigned)v;
		else if (c == 't' && v > 0 && v <= 86400)
			*secs = v;
		else if (c == 'm' && v <= 65535)
			s->slot = (size_t)v + 1;
		else {
			fprintf(stderr, PROG ": -%c %s: out of range\n", c,
			    optarg);
			return -1;
		}
	}
	if (argc - optind != (s->job == JOB_ECHO ? 1 : 2)) {
		usage(stderr);
		return -1;
	}
	return optind;
}

int
main(int argc, char **argv)
{
	struct server s;
	struct bench_addr a;
	struct sigaction sa;
	struct itimerval it;
	double secs;
	int gso, i;

	memset(&s, 0, sizeof(s));
	s.fd = s.out = -1;
	s.batch = 64;
	s.slot = 65536;
	secs = 300;
	gso = 0;
	i = parse_args(argc, argv, &s, &secs, &gso);
	if (i < 0)
		return 64;
	argv++;
	if (bench_addr_parse(PROG, argv[i], &a) < 0)
		return 64;
	if (alloc_server(&s) < 0) {
		fprintf(stderr, PROG ": out of memory\n");
		return 71;
	}
	if (s.job != JOB_ECHO && open_out(&s, argv[i + 1], gso) < 0)
		return 71;
	/* No SA_RESTART: a blocked recvmmsg returns EINTR and we stop. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGALRM, &sa, NULL);
	s.fd = bench_listen(PROG, &a);
	if (s.fd < 0)
		return 71;
	/* Backstop for a signal that lands just before recvmmsg blocks. */
	bench_set_timeouts(s.fd, 250);
	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = (time_t)secs;
	it.it_value.tv_usec = (suseconds_t)((secs - (double)(time_t)secs) *
	    1e6);
	(void)setitimer(ITIMER_REAL, &it, NULL);
	bench_print_listening(&a);
	if (s.job == JOB_PROXY)
		serve_proxy(&s);
	else
		serve(&s);
	report(&s, argv[i]);
	bench_addr_cleanup(&a);
	return 0;
}
