/*
 * dgload: a bounded datagram load generator for dgramd's benchmark.
 *
 * It talks only to loopback (127.0.0.0/8, ::1) and unix datagram sockets,
 * and every mode stops by itself after a count and a duration, whichever
 * comes first. Each payload carries "seq=DDDDDDDDDD" so a receiver can count
 * losses and duplicates. Results are one "key=value ..." line on stdout.
 */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT	103
#endif

#define PROG		"dgload"
#define MAX_BATCH	1024
#define MAX_DGRAM	65536		/* receive slot: any datagram + 1 */
#define GSO_MAX_SEGS	64		/* UDP_MAX_SEGMENTS on older kernels */
#define GSO_MAX_BYTES	65507		/* largest UDP payload over IPv4 */
#define MAX_SEQ_BITS	(1u << 28)	/* sink tracks seq below this */
#define MAX_COUNT	9999999999ull	/* what ten digits can number */
#define MAX_SECS	3600.0

enum mode {
	MODE_SEND,
	MODE_SINK,
	MODE_ECHO,
	MODE_PING,
	MODE_RR,
	MODE_FREEPORT,
};

struct opts {
	enum mode	 mode;
	const char	*addr;
	uint64_t	 count;
	int		 count_set;
	size_t		 size;
	double		 secs;
	unsigned	 batch;
	double		 rate;
	int		 gso;
	int		 spin;
	int		 syslog;
	unsigned	 window;
	int		 idle_ms;
	int		 rcvbuf;
	unsigned	 warmup;
};

/* A batch of identical payloads whose sequence numbers are patched in. */
struct payload {
	char		*buf;		/* batch slots of size bytes, adjacent */
	size_t		 size;
	size_t		 seq_off;	/* SIZE_MAX: too small to carry one */
	unsigned	 slots;
};

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
"usage: dgload send        [-n COUNT] [-s SIZE] [-t SECS] [-b BATCH] [-r RATE]\n"
"                          [-g] [-S] [-f plain|syslog] TARGET\n"
"       dgload sink        [-n COUNT] [-t SECS] [-b BATCH] [-i IDLE_MS]\n"
"                          [-R RCVBUF] LISTEN\n"
"       dgload echo-window [-n COUNT] [-s SIZE] [-t SECS] [-w WINDOW]\n"
"                          [-i TIMEOUT_MS] [-f plain|syslog] TARGET\n"
"       dgload pingpong    [-n COUNT] [-s SIZE] [-t SECS] [-W WARMUP]\n"
"                          [-i TIMEOUT_MS] [-f plain|syslog] TARGET\n"
"       dgload rr          [-n COUNT] [-s SIZE] [-t SECS] [-w CLIENTS]\n"
"                          [-i TIMEOUT_MS] TARGET\n"
"       dgload freeport\n"
"\n"
"TARGET and LISTEN: 127.x.y.z:PORT, [::1]:PORT, unix:PATH, unix:@NAME, /PATH.\n"
"Only loopback and unix sockets are accepted. LISTEN may use port 0; the\n"
"real port is printed as \"listening PORT\" (or \"listening PATH\").\n"
"\n"
"modes:\n"
"  send         send COUNT datagrams with sendmmsg, BATCH per call\n"
"  sink         receive with recvmmsg; count, detect loss and duplicates\n"
"  echo-window  keep WINDOW datagrams outstanding to an echo server\n"
"  pingpong     one datagram outstanding; RTT percentiles\n"
"  rr           CLIENTS sockets (ports), each in ping-pong with TARGET:\n"
"               request/response transactions/s and RTT percentiles\n"
"  freeport     print a UDP port on 127.0.0.1 that is free right now\n"
"\n"
"options:\n"
"  -n COUNT   datagrams to send (send 1M, echo-window 1M, pingpong 10k);\n"
"             sink: stop after COUNT received (default: no count)\n"
"  -s SIZE    payload bytes, 0..65507 (default 64)\n"
"  -t SECS    maximum duration, at most 3600 (default 10)\n"
"  -b BATCH   datagrams per sendmmsg/recvmmsg, 1..1024 (default 64;\n"
"             send -g: 512)\n"
"  -r RATE    send: target datagrams/s, k/M suffixes (default unlimited)\n"
"  -g         send: UDP GSO (UDP_SEGMENT), falls back when unsupported\n"
"  -S         send: never sleep when the receiver is full (unix): send\n"
"             with MSG_DONTWAIT and retry at once, so the server, not the\n"
"             cost of waking a blocked sender, sets the pace\n"
"  -f FORMAT  plain: \"seq=NNNNNNNNNN xxx...\"; syslog: \"<13>Nov 25 10:00:00\n"
"             host bench[PID]: seq=NNNNNNNNNN xxx...\", padded to SIZE\n"
"  -w WINDOW  echo-window: datagrams outstanding, 1..1024 (default 64);\n"
"             rr: concurrent clients, each with one request outstanding\n"
"  -i MS      sink: stop after MS idle once traffic started (default 1000);\n"
"             echo-window, pingpong: reply timeout (default 200)\n"
"  -R BYTES   sink: receive buffer (default 4M)\n"
"  -W N       pingpong: warm-up round trips not measured (default 100)\n"
"\n"
"output, one line:\n"
"  mode=send sent= bytes= errors= full= gso= secs= rate=\n"
"            (full: sends refused with EAGAIN and retried)\n"
"  mode=sink received= bytes= unique= dups= gaps= noseq= truncated=\n"
"            kernel_drops= max_seq= secs= rate=   (secs: first to last)\n"
"  mode=echo-window sent= received= lost= bad= errors= secs= rate=\n"
"            (received: intact replies; bad: wrong size or sequence)\n"
"  mode=pingpong n= lost= errors= min_us= p50_us= p99_us= max_us= mean_us=\n"
"  mode=rr clients= n= lost= errors= p50_us= p99_us= secs= rate=\n");
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	double v;
	int c;

	memset(o, 0, sizeof(*o));
	o->size = 64;
	o->secs = 10;
	o->window = 64;
	o->idle_ms = -1;
	o->rcvbuf = 4 << 20;
	o->warmup = 100;
	if (argc < 2) {
		usage(stderr);
		return -1;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		exit(0);
	}
	if (strcmp(argv[1], "send") == 0)
		o->mode = MODE_SEND;
	else if (strcmp(argv[1], "sink") == 0)
		o->mode = MODE_SINK;
	else if (strcmp(argv[1], "echo-window") == 0)
		o->mode = MODE_ECHO;
	else if (strcmp(argv[1], "pingpong") == 0)
		o->mode = MODE_PING;
	else if (strcmp(argv[1], "rr") == 0)
		o->mode = MODE_RR;
	else if (strcmp(argv[1], "freeport") == 0)
		o->mode = MODE_FREEPORT;
	else {
		fprintf(stderr, PROG ": unknown mode '%s'\n", argv[1]);
		usage(stderr);
		return -1;
	}
	argc--;
	argv++;
	while ((c = getopt(argc, argv, "n:s:t:b:r:gSf:w:i:R:W:h")) != -1) {
		if (c == 'g' || c == 'S' || c == 'h' || c == 'f') {
			if (c == 'g')
				o->gso = 1;
			else if (c == 'S')
				o->spin = 1;
			else if (c == 'h') {
				usage(stdout);
				exit(0);
			} else if (strcmp(optarg, "syslog") == 0)
				o->syslog = 1;
			else if (strcmp(optarg, "plain") != 0) {
				fprintf(stderr, PROG ": -f plain|syslog\n");
				return -1;
			}
			continue;
		}
		if (c == '?' || bench_parse_num(optarg, &v) < 0) {
			if (c != '?')
				fprintf(stderr, PROG ": -%c: bad number '%s'\n",
				    c, optarg);
			usage(stderr);
			return -1;
		}
		switch (c) {
		case 'n':
			if (v < 1 || v > (double)MAX_COUNT)
				goto range;
			o->count = (uint64_t)v;
			o->count_set = 1;
			break;
		case 's':
			if (v > GSO_MAX_BYTES)
				goto range;
			o->size = (size_t)v;
			break;
		case 't':
			if (v <= 0 || v > MAX_SECS)
				goto range;
			o->secs = v;
			break;
		case 'b':
			if (v < 1 || v > MAX_BATCH)
				goto range;
			o->batch = (unsigned)v;
			break;
		case 'r':
			o->rate = v;
			break;
		case 'w':
			if (v < 1 || v > MAX_BATCH)
				goto range;
			o->window = (unsigned)v;
			break;
		case 'i':
			if (v < 1 || v > 3600000)
				goto range;
			o->idle_ms = (int)v;
			break;
		case 'R':
			if (v > INT_MAX)
				goto range;
			o->rcvbuf = (int)v;
			break;
		case 'W':
			if (v > 1000000)
				goto range;
			o->warmup = (unsigned)v;
			break;
		}
	}
	if (o->mode == MODE_FREEPORT)
		return 0;
	if (optind != argc - 1) {
		fprintf(stderr, PROG ": expected one address\n");
		usage(stderr);
		return -1;
	}
	o->addr = argv[optind];
	if (o->batch == 0)
		o->batch = o->mode == MODE_SEND && o->gso ? 512 : 64;
	if (!o->count_set)
		o->count = o->mode == MODE_PING ? 10000 : 1000000;
	if (o->idle_ms < 0)
		o->idle_ms = o->mode == MODE_SINK ? 1000 : 200;
	return 0;
range:
	fprintf(stderr, PROG ": -%c %s: out of range\n", c, optarg);
	return -1;
}

/*
 * Build the payload template once; per datagram only the ten sequence
 * digits change, so the generator spends its time in the kernel.
 */
static int
payload_init(struct payload *p, size_t size, unsigned slots, int syslog)
{
	char head[128];
	unsigned i;
	int n;

	if (syslog)
		n = snprintf(head, sizeof(head),
		    "<13>Nov 25 10:00:00 host bench[%ld]: " BENCH_SEQ_TAG,
		    (long)getpid());
	else
		n = snprintf(head, sizeof(head), BENCH_SEQ_TAG);
	p->size = size;
	p->slots = slots;
	p->seq_off = (size_t)n + BENCH_SEQ_DIGITS <= size ? (size_t)n :
	    SIZE_MAX;
	p->buf = malloc(size * slots + 1);
	if (p->buf == NULL)
		return -ENOMEM;
	for (i = 0; i < slots; i++) {
		char *s = p->buf + (size_t)i * size;
		size_t k;

		memset(s, 'x', size);
		k = (size_t)n < size ? (size_t)n : size;
		memcpy(s, head, k);
		if (p->seq_off != SIZE_MAX) {
			bench_put_seq(s + p->seq_off, 0);
			if (p->seq_off + BENCH_SEQ_DIGITS < size)
				s[p->seq_off + BENCH_SEQ_DIGITS] = ' ';
		}
	}
	return 0;
}

static void
payload_seq(struct payload *p, unsigned slot, uint64_t seq)
{
	if (p->seq_off != SIZE_MAX)
		bench_put_seq(p->buf + (size_t)slot * p->size + p->seq_off,
		    seq);
}

static int
is_udp(const struct bench_addr *a)
{
	return a->family == AF_INET || a->family == AF_INET6;
}

/*
 * A client socket connected to the target. Unix clients of echo servers
 * need an address to be answered at, so they bind to a path of their own.
 */
static int
open_client(const struct opts *o, const struct bench_addr *t,
    struct bench_addr *self)
{
	const char *dir;
	int fd, r;

	memset(self, 0, sizeof(*self));
	fd = bench_socket(t);
	if (fd < 0) {
		fprintf(stderr, PROG ": socket: %s\n", strerror(-fd));
		return fd;
	}
	if (t->family == AF_UNIX && o->mode != MODE_SEND) {
		char path[sizeof(self->u.sun.sun_path)];

		dir = getenv("TMPDIR");
		if (dir == NULL || *dir == '\0')
			dir = "/tmp";
		r = snprintf(path, sizeof(path), "%s/dgload-%ld.sock", dir,
		    (long)getpid());
		if (r < 0 || (size_t)r >= sizeof(path) ||
		    bench_addr_parse(PROG, path, self) < 0) {
			r = -ENAMETOOLONG;
			goto fail;
		}
		(void)unlink(path);
		if (bind(fd, &self->u.sa, self->len) < 0) {
			r = -errno;
			fprintf(stderr, PROG ": bind %s: %s\n", path,
			    strerror(errno));
			goto fail;
		}
		self->unlink_path = 1;
	}
	if (connect(fd, &t->u.sa, t->len) < 0) {
		r = -errno;
		fprintf(stderr, PROG ": connect %s: %s\n", o->addr,
		    strerror(errno));
		goto fail;
	}
	return fd;
fail:
	bench_addr_cleanup(self);
	close(fd);
	return r;
}

static double
secs_between(uint64_t a, uint64_t b)
{
	return b > a ? (double)(b - a) / 1e9 : 0.0;
}

static int
gso_enable(int fd, size_t size, unsigned *segs)
{
	int v;

	v = (int)size;
	if (size == 0 || size > GSO_MAX_BYTES / 2)
		return -EINVAL;
	if (setsockopt(fd, SOL_UDP, UDP_SEGMENT, &v, sizeof(v)) < 0)
		return -errno;
	*segs = GSO_MAX_BYTES / size;
	if (*segs > GSO_MAX_SEGS)
		*segs = GSO_MAX_SEGS;
	return 0;
}

static void
gso_disable(int fd, unsigned *segs)
{
	int v;

	v = 0;
	(void)setsockopt(fd, SOL_UDP, UDP_SEGMENT, &v, sizeof(v));
	*segs = 1;
}

/*
 * Send n datagrams from the payload slots, segs per message (1 without
 * GSO). Returns the number of datagrams the kernel took, or -errno.
 */
static int
send_slots(int fd, struct payload *p, struct mmsghdr *msgs,
    struct iovec *iov, unsigned n, unsigned segs, int flags)
{
	unsigned m, nmsg, k;
	int r;

	nmsg = (n + segs - 1) / segs;
	for (m = 0; m < nmsg; m++) {
		k = n - m * segs < segs ? n - m * segs : segs;
		iov[m].iov_base = p->buf + (size_t)m * segs * p->size;
		iov[m].iov_len = (size_t)k * p->size;
		memset(&msgs[m].msg_hdr, 0, sizeof(msgs[m].msg_hdr));
		msgs[m].msg_hdr.msg_iov = &iov[m];
		msgs[m].msg_hdr.msg_iovlen = 1;
	}
	r = sendmmsg(fd, msgs, nmsg, flags);
	if (r < 0)
		return -errno;
	if ((unsigned)r == nmsg)
		return (int)n;
	return r * (int)segs;
}

static int
run_send(const struct opts *o, const struct bench_addr *t)
{
	struct bench_addr self;
	struct payload p;
	struct mmsghdr *msgs;
	struct iovec *iov;
	uint64_t sent, errors, full, t0, now, deadline, due, fails;
	unsigned segs, chunk, i;
	int fd, gso, r;

	fd = open_client(o, t, &self);
	if (fd < 0)
		return 1;
	bench_set_timeouts(fd, 100);
	if (payload_init(&p, o->size, o->batch, o->syslog) < 0)
		return 1;
	msgs = calloc(o->batch, sizeof(*msgs));
	iov = calloc(o->batch, sizeof(*iov));
	if (msgs == NULL || iov == NULL)
		return 1;
	segs = 1;
	gso = o->gso && is_udp(t) && gso_enable(fd, o->size, &segs) == 0;
	sent = errors = full = fails = 0;
	t0 = bench_now_ns();
	deadline = t0 + (uint64_t)(o->secs * 1e9);
	now = t0;
	while (sent < o->count && !stop_flag && now < deadline) {
		chunk = o->batch;
		if (o->count - sent < chunk)
			chunk = (unsigned)(o->count - sent);
		if (o->rate > 0) {
			/* Pace in steps of about a millisecond. */
			if (o->rate / 1000 < chunk)
				chunk = o->rate < 1000 ? 1 :
				    (unsigned)(o->rate / 1000);
			due = t0 + (uint64_t)((double)sent * 1e9 / o->rate);
			if (due >= deadline)
				break;
			if (due > now) {
				struct timespec ts;

				ts.tv_sec = (time_t)(due / 1000000000u);
				ts.tv_nsec = (long)(due % 1000000000u);
				(void)clock_nanosleep(CLOCK_MONOTONIC,
				    TIMER_ABSTIME, &ts, NULL);
			}
		}
		for (i = 0; i < chunk; i++)
			payload_seq(&p, i, sent + i);
		r = send_slots(fd, &p, msgs, iov, chunk, segs,
		    o->spin ? MSG_DONTWAIT : 0);
		now = bench_now_ns();
		if (r > 0) {
			sent += (uint64_t)r;
			fails = 0;
			continue;
		}
		if (r == -EAGAIN)
			full++;
		if (r == -EINTR || r == -EAGAIN || r == -ENOBUFS)
			continue;
		if (gso && sent == 0 && (r == -EIO || r == -EINVAL)) {
			/* GSO refused by this path: plain sendmmsg then. */
			gso = 0;
			gso_disable(fd, &segs);
			continue;
		}
		errors++;
		if (++fails == 1000) {
			fprintf(stderr, PROG ": send: %s, giving up\n",
			    strerror(-r));
			break;
		}
	}
	now = bench_now_ns();
	printf("mode=send target=%s size=%zu format=%s gso=%d batch=%u "
	    "sent=%" PRIu64 " bytes=%" PRIu64 " errors=%" PRIu64
	    " full=%" PRIu64 " secs=%.6f rate=%.0f\n", o->addr, o->size,
	    o->syslog ? "syslog" : "plain", gso, o->batch, sent,
	    sent * o->size, errors, full, secs_between(t0, now),
	    secs_between(t0, now) > 0 ? (double)sent /
	    secs_between(t0, now) : 0.0);
	bench_addr_cleanup(&self);
	close(fd);
	free(p.buf);
	free(msgs);
	free(iov);
	return 0;
}

/* Receive side state shared by sink and echo-window. */
struct rxring {
	struct mmsghdr	*msgs;
	struct iovec	*iov;
	char		*buf;
	char		*ctl;
	size_t		 slot;
	size_t		 ctl_slot;
	unsigned	 n;
};

static int
rxring_init(struct rxring *rx, unsigned n, size_t slot, size_t ctl_slot)
{
	unsigned i;

	rx->n = n;
	rx->slot = slot;
	rx->ctl_slot = ctl_slot;
	rx->msgs = calloc(n, sizeof(*rx->msgs));
	rx->iov = calloc(n, sizeof(*rx->iov));
	rx->buf = malloc(slot * n);
	rx->ctl = ctl_slot > 0 ? calloc(n, ctl_slot) : NULL;
	if (rx->msgs == NULL || rx->iov == NULL || rx->buf == NULL ||
	    (ctl_slot > 0 && rx->ctl == NULL))
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		rx->iov[i].iov_base = rx->buf + (size_t)i * slot;
		rx->iov[i].iov_len = slot;
	}
	return 0;
}

static void
rxring_reset(struct rxring *rx, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		memset(&rx->msgs[i].msg_hdr, 0, sizeof(rx->msgs[i].msg_hdr));
		rx->msgs[i].msg_hdr.msg_iov = &rx->iov[i];
		rx->msgs[i].msg_hdr.msg_iovlen = 1;
		if (rx->ctl != NULL) {
			rx->msgs[i].msg_hdr.msg_control = rx->ctl +
			    (size_t)i * rx->ctl_slot;
			rx->msgs[i].msg_hdr.msg_controllen = rx->ctl_slot;
		}
	}
}

static void
rxring_free(struct rxring *rx)
{
	free(rx->msgs);
	free(rx->iov);
	free(rx->buf);
	free(rx->ctl);
}

struct seqmap {
	uint8_t		*bits;
	uint64_t	 cap;		/* in sequence numbers */
	uint64_t	 unique;
	uint64_t	 dups;
	uint64_t	 noseq;
	uint64_t	 outofrange;
	uint64_t	 max_seq;
	int		 any;
};

static void
seqmap_add(struct seqmap *m, const char *p, size_t len)
{
	uint64_t seq, ncap;
	uint8_t *nb;

	if (bench_get_seq(p, len, &seq) < 0) {
		m->noseq++;
		return;
	}
	if (seq >= MAX_SEQ_BITS) {
		m->outofrange++;
		return;
	}
	if (seq >= m->cap) {
		ncap = m->cap ? m->cap : 1 << 20;
		while (ncap <= seq)
			ncap *= 2;
		nb = realloc(m->bits, ncap / 8);
		if (nb == NULL) {
			m->outofrange++;
			return;
		}
		memset(nb + m->cap / 8, 0, (ncap - m->cap) / 8);
		m->bits = nb;
		m->cap = ncap;
	}
	if (m->bits[seq / 8] & (1u << (seq % 8))) {
		m->dups++;
		return;
	}
	m->bits[seq / 8] |= (uint8_t)(1u << (seq % 8));
	m->unique++;
	if (!m->any || seq > m->max_seq)
		m->max_seq = seq;
	m->any = 1;
}

static uint32_t
rx_overflow(struct msghdr *h, uint32_t old)
{
	struct cmsghdr *c;
	uint32_t v;

	for (c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR(h, c))
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SO_RXQ_OVFL) {
			memcpy(&v, CMSG_DATA(c), sizeof(v));
			return v;
		}
	return old;
}

static int
run_sink(const struct opts *o, struct bench_addr *a)
{
	struct rxring rx;
	struct seqmap map;
	uint64_t received, bytes, truncated, t0, first, last, now, deadline;
	uint32_t drops;
	unsigned i;
	int fd, r, on;

	fd = bench_listen(PROG, a);
	if (fd < 0)
		return 1;
	bench_set_rcvbuf(fd, o->rcvbuf);
	on = 1;
	(void)setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof(on));
	bench_set_timeouts(fd, 50);
	if (rxring_init(&rx, o->batch, MAX_DGRAM,
	    CMSG_SPACE(sizeof(uint32_t))) < 0)
		return 1;
	memset(&map, 0, sizeof(map));
	received = bytes = truncated = first = last = 0;
	drops = 0;
	bench_print_listening(a);
	t0 = bench_now_ns();
	deadline = t0 + (uint64_t)(o->secs * 1e9);
	for (;;) {
		now = bench_now_ns();
		if (stop_flag || now >= deadline)
			break;
		if (received > 0 &&
		    now - last >= (uint64_t)o->idle_ms * 1000000u)
			break;
		if (o->count_set && received >= o->count)
			break;
		rxring_reset(&rx, rx.n);
		r = recvmmsg(fd, rx.msgs, rx.n, MSG_WAITFORONE, NULL);
		if (r <= 0)
			continue;
		last = bench_now_ns();
		if (received == 0)
			first = last;
		for (i = 0; i < (unsigned)r; i++) {
			struct msghdr *h = &rx.msgs[i].msg_hdr;
			size_t len = rx.msgs[i].msg_len;

			received++;
			bytes += len;
			if (h->msg_flags & MSG_TRUNC) {
				truncated++;
				len = rx.slot;
			}
			seqmap_add(&map, rx.iov[i].iov_base, len);
			drops = rx_overflow(h, drops);
		}
	}
	printf("mode=sink listen=%s received=%" PRIu64 " bytes=%" PRIu64
	    " unique=%" PRIu64 " dups=%" PRIu64 " gaps=%" PRIu64
	    " noseq=%" PRIu64 " outofrange=%" PRIu64 " truncated=%" PRIu64
	    " kernel_drops=%" PRIu32 " max_seq=%" PRIu64 " secs=%.6f"
	    " rate=%.0f\n", o->addr, received, bytes, map.unique, map.dups,
	    map.any ? map.max_seq + 1 - map.unique : 0, map.noseq,
	    map.outofrange, truncated, drops, map.max_seq,
	    secs_between(first, last), secs_between(first, last) > 0 ?
	    (double)received / secs_between(first, last) : 0.0);
	bench_addr_cleanup(a);
	close(fd);
	rxring_free(&rx);
	free(map.bits);
	return 0;
}

static int
run_echo(const struct opts *o, const struct bench_addr *t)
{
	struct bench_addr self;
	struct payload p;
	struct rxring rx;
	struct mmsghdr *msgs;
	struct iovec *iov;
	uint64_t next, received, lost, bad, errors, t0, deadline, seq;
	unsigned want, i;
	int64_t outstanding;
	double secs;
	int draining;
	int fd, r;

	fd = open_client(o, t, &self);
	if (fd < 0)
		return 1;
	bench_set_timeouts(fd, o->idle_ms);
	if (payload_init(&p, o->size, o->window, o->syslog) < 0 ||
	    rxring_init(&rx, o->window, o->size + 1, 0) < 0)
		return 1;
	msgs = calloc(o->window, sizeof(*msgs));
	iov = calloc(o->window, sizeof(*iov));
	if (msgs == NULL || iov == NULL)
		return 1;
	next = received = lost = bad = errors = 0;
	outstanding = 0;
	t0 = bench_now_ns();
	deadline = t0 + (uint64_t)(o->secs * 1e9);
	for (;;) {
		/* Past the deadline, only the replies in flight are awaited. */
		draining = stop_flag || bench_now_ns() >= deadline;
		if (draining && (outstanding == 0 || stop_flag))
			break;
		want = o->window - (unsigned)outstanding;
		if (o->count - next < want)
			want = (unsigned)(o->count - next);
		if (want > 0 && !draining) {
			for (i = 0; i < want; i++)
				payload_seq(&p, i, next + i);
			r = send_slots(fd, &p, msgs, iov, want, 1, 0);
			if (r > 0) {
				next += (uint64_t)r;
				outstanding += r;
			} else if (r != -EINTR && r != -EAGAIN)
				errors++;
		}
		if (outstanding == 0 && next >= o->count)
			break;
		rxring_reset(&rx, rx.n);
		r = recvmmsg(fd, rx.msgs, rx.n, MSG_WAITFORONE, NULL);
		if (r < 0) {
			if (errno == EAGAIN) {
				/* Reply timeout: count the window as lost. */
				lost += (uint64_t)outstanding;
				outstanding = 0;
			} else if (errno != EINTR)
				errors++;
			continue;
		}
		for (i = 0; i < (unsigned)r; i++) {
			if (rx.msgs[i].msg_len != o->size ||
			    (p.seq_off != SIZE_MAX &&
			    (bench_get_seq(rx.iov[i].iov_base,
			    rx.msgs[i].msg_len, &seq) < 0 || seq >= next)))
				bad++;
			else
				received++;
		}
		outstanding -= r;
		if (outstanding < 0)
			outstanding = 0;
	}
	secs = secs_between(t0, bench_now_ns());
	printf("mode=echo-window target=%s size=%zu window=%u sent=%" PRIu64
	    " received=%" PRIu64 " lost=%" PRIu64 " bad=%" PRIu64
	    " errors=%" PRIu64 " secs=%.6f rate=%.0f\n", o->addr, o->size,
	    o->window, next, received, lost + (uint64_t)outstanding, bad,
	    errors, secs, secs > 0 ? (double)received / secs : 0.0);
	bench_addr_cleanup(&self);
	close(fd);
	free(p.buf);
	free(msgs);
	free(iov);
	rxring_free(&rx);
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array of n > 0 values. */
static double
pct_us(const uint64_t *v, uint64_t n, double pct)
{
	uint64_t rank;

	rank = (uint64_t)((pct / 100.0) * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (double)v[rank - 1] / 1000.0;
}

/*
 * Wait for the reply to seq; returns 0, or -EAGAIN on timeout, or -errno.
 * Stale replies (a seq that timed out earlier) are skipped.
 */
static int
await_reply(int fd, char *rbuf, size_t size, uint64_t seq)
{
	uint64_t got;
	ssize_t n;

	for (;;) {
		n = recv(fd, rbuf, size + 1, 0);
		if (n < 0) {
			if (errno == EINTR && !stop_flag)
				continue;
			return -errno;
		}
		if ((size_t)n != size)
			continue;
		if (bench_get_seq(rbuf, (size_t)n, &got) == 0 && got != seq)
			continue;
		return 0;
	}
}

static int
run_ping(const struct opts *o, const struct bench_addr *t)
{
	struct bench_addr self;
	struct payload p;
	uint64_t *rtt, k, i, lost, errors, t0, t1, deadline, sum;
	char *rbuf;
	int fd, r;

	if (o->count > 10000000) {
		fprintf(stderr, PROG ": pingpong: -n at most 10M\n");
		return 64;
	}
	fd = open_client(o, t, &self);
	if (fd < 0)
		return 1;
	bench_set_timeouts(fd, o->idle_ms);
	rtt = calloc(o->count, sizeof(*rtt));
	rbuf = malloc(o->size + 1);
	if (rtt == NULL || rbuf == NULL ||
	    payload_init(&p, o->size, 1, o->syslog) < 0) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	k = lost = errors = sum = 0;
	t0 = bench_now_ns();
	deadline = t0 + (uint64_t)(o->secs * 1e9);
	for (i = 0; k < o->count && !stop_flag; i++) {
		if (bench_now_ns() >= deadline)
			break;
		payload_seq(&p, 0, i);
		t1 = bench_now_ns();
		if (send(fd, p.buf, o->size, 0) < 0) {
			if (errno != EINTR)
				errors++;
			continue;
		}
		r = await_reply(fd, rbuf, o->size, i);
		if (r == -EAGAIN) {
			lost++;
			continue;
		}
		if (r < 0) {
			errors++;
			continue;
		}
		if (i < o->warmup)
			continue;
		rtt[k] = bench_now_ns() - t1;
		sum += rtt[k];
		k++;
	}
	if (k > 0)
		qsort(rtt, k, sizeof(*rtt), cmp_u64);
	printf("mode=pingpong target=%s size=%zu n=%" PRIu64 " lost=%" PRIu64
	    " errors=%" PRIu64 " min_us=%.2f p50_us=%.2f p99_us=%.2f"
	    " max_us=%.2f mean_us=%.2f secs=%.6f\n", o->addr, o->size, k,
	    lost, errors, k ? pct_us(rtt, k, 0) : 0.0,
	    k ? pct_us(rtt, k, 50) : 0.0, k ? pct_us(rtt, k, 99) : 0.0,
	    k ? pct_us(rtt, k, 100) : 0.0,
	    k ? (double)sum / (double)k / 1000.0 : 0.0,
	    secs_between(t0, bench_now_ns()));
	bench_addr_cleanup(&self);
	close(fd);
	free(rtt);
	free(rbuf);
	free(p.buf);
	return 0;
}

/* One rr client: its socket, the request in flight and when it left. */
struct rr_client {
	int		 fd;
	uint64_t	 seq;
	uint64_t	 t0;
};

/*
 * Request/response through a proxy: o->window clients (one UDP socket,
 * hence one source port, each) keep one request outstanding each; a reply
 * (its sequence checked) sends the next request at once. A request
 * unanswered for o->idle_ms is counted lost and sent again.
 */
static int
run_rr(const struct opts *o, const struct bench_addr *t)
{
	struct epoll_event ev[64];
	struct rr_client *c;
	struct bench_addr self;
	struct payload p;
	uint64_t *rtt, k = 0, lost = 0, errors = 0, next = 0, t0, now, deadline, got;
	uint64_t timeout = (uint64_t)o->idle_ms * 1000000;
	unsigned n = o->window, i;
	char *rbuf;
	int ep, r, j;

	if (!is_udp(t) || o->count > 100000000) {
		fprintf(stderr, PROG ": rr: a UDP target, -n at most 100M\n");
		return 64;
	}
	c = calloc(n, sizeof(*c));
	rtt = calloc(o->count > 20000000 ? 20000000 : o->count, sizeof(*rtt));
	rbuf = malloc(o->size + 1);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (c == NULL || rtt == NULL || rbuf == NULL || ep < 0 ||
	    payload_init(&p, o->size, n, 0) < 0) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	t0 = bench_now_ns();
	for (i = 0; i < n; i++) {
		struct epoll_event e = { .events = EPOLLIN, .data.u32 = i };

		c[i].fd = open_client(o, t, &self);
		if (c[i].fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &e) < 0)
			return 1;
		c[i].seq = next++;
		payload_seq(&p, i, c[i].seq);
		c[i].t0 = bench_now_ns();
		if (send(c[i].fd, p.buf + (size_t)i * o->size, o->size, 0) < 0)
			errors++;
	}
	deadline = t0 + (uint64_t)(o->secs * 1e9);
	while (!stop_flag && k < o->count) {
		now = bench_now_ns();
		if (now >= deadline)
			break;
		r = epoll_wait(ep, ev, 64, 10);
		if (r < 0 && errno != EINTR)
			break;
		now = bench_now_ns();
		for (j = 0; j < r; j++) {
			struct rr_client *x = &c[ev[j].data.u32];
			ssize_t m = recv(x->fd, rbuf, o->size + 1, MSG_DONTWAIT);

			if (m < 0 || (size_t)m != o->size)
				continue;
			if (p.seq_off != SIZE_MAX &&
			    (bench_get_seq(rbuf, (size_t)m, &got) < 0 || got != x->seq))
				continue;
			if (k < o->count && k < 20000000)
				rtt[k] = now - x->t0;
			k++;
			i = ev[j].data.u32;
			x->seq = next++;
			payload_seq(&p, i, x->seq);
			x->t0 = bench_now_ns();
			if (send(x->fd, p.buf + (size_t)i * o->size, o->size, 0) < 0)
				errors++;
		}
		for (i = 0; i < n; i++) {
			if (c[i].t0 + timeout > now)
				continue;
			lost++;
			c[i].seq = next++;
			payload_seq(&p, i, c[i].seq);
			c[i].t0 = bench_now_ns();
			if (send(c[i].fd, p.buf + (size_t)i * o->size, o->size, 0) < 0)
				errors++;
		}
	}
	now = bench_now_ns();
	got = k < 20000000 ? k : 20000000;
	if (got > 0)
		qsort(rtt, got, sizeof(*rtt), cmp_u64);
	printf("mode=rr target=%s size=%zu clients=%u n=%" PRIu64 " lost=%" PRIu64
	    " errors=%" PRIu64 " p50_us=%.2f p99_us=%.2f secs=%.6f rate=%.0f\n",
	    o->addr, o->size, n, k, lost, errors, got ? pct_us(rtt, got, 50) : 0.0,
	    got ? pct_us(rtt, got, 99) : 0.0, secs_between(t0, now),
	    (double)k / secs_between(t0, now));
	for (i = 0; i < n; i++)
		close(c[i].fd);
	close(ep);
	free(c);
	free(rtt);
	free(rbuf);
	free(p.buf);
	return 0;
}

static int
run_freeport(void)
{
	struct bench_addr a;
	int fd;

	if (bench_addr_parse(PROG, "127.0.0.1:0", &a) < 0)
		return 1;
	fd = bench_listen(PROG, &a);
	if (fd < 0)
		return 1;
	printf("%u\n", ntohs(a.u.sin.sin_port));
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	struct bench_addr a;
	struct opts o;

	if (parse_opts(argc, argv, &o) < 0)
		return 64;
	if (o.mode == MODE_FREEPORT)
		return run_freeport();
	if (bench_addr_parse(PROG, o.addr, &a) < 0)
		return 64;
	/* No SA_RESTART: blocking calls return EINTR and the loops stop. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	switch (o.mode) {
	case MODE_SEND:
		return run_send(&o, &a);
	case MODE_SINK:
		return run_sink(&o, &a);
	case MODE_ECHO:
		return run_echo(&o, &a);
	case MODE_PING:
		return run_ping(&o, &a);
	case MODE_RR:
		return run_rr(&o, &a);
	default:
		return 64;
	}
}
