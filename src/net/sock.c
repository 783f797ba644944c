/*
 * sock.c: listening sockets. Every socket receives with recvmmsg into the
 * one receive area the daemon owns (no allocation per datagram), hands
 * each datagram to its route, and sends the replies its handlers queued
 * with one sendmmsg when the batch ends, while the bytes are still there.
 */

#include <errno.h>
#include <fcntl.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "handler.h"
#include "log.h"
#include "reactor.h"
#include "sock.h"
#include "sockopt.h"
#include "stats.h"
#include "txq.h"
#include "util.h"

/* Control space per received datagram: pktinfo, credentials, a few fds. */
#define RECV_CTRL	(CMSG_SPACE(sizeof(struct in6_pktinfo)) + \
			 CMSG_SPACE(sizeof(struct ucred)) + \
			 CMSG_SPACE(16 * sizeof(int)))
/* Full receive batches read from one socket in one wakeup at most (on_readable). */
#define SOCK_TURN_BATCHES	4
/* Full wakeups that do not read again after reading again found nothing. */
#define SOCK_AGAIN_BACKOFF	32
/* Control space per reply: one pktinfo. */
#define REPLY_CTRL	CMSG_SPACE(sizeof(struct in6_pktinfo))
/* What the control messages of one datagram said. */
struct slot_info {
	int			family;		/* of the pktinfo; 0 = none */
	struct in_pktinfo	pi4;
	struct in6_pktinfo	pi6;
	struct ucred		cred;
};

struct recv_area {
	unsigned		 batch;
	size_t			 slot_size;
	size_t			 iov_len;	/* what the iovecs hold now (max_size + 1) */
	unsigned		 dirty;		/* slots the last receive filled */
	uint8_t			*bufs;
	struct mmsghdr		*msgs;
	struct iovec		*iov;
	union sockaddr_any	*names;
	uint8_t			*ctrl;
	struct slot_info	*info;
	struct dgram		*dg;		/* what dispatch gets, one per slot */
};

struct recv_area *
sock_area_free(struct recv_area *a)
{
	if (a == NULL)
		return NULL;
	free(a->bufs);
	free(a->msgs);
	free(a->iov);
	free(a->names);
	free(a->ctrl);
	free(a->info);
	free(a->dg);
	free(a);
	return NULL;
}

int
sock_area_new(unsigned batch, size_t max_size, struct recv_area **ret)
{
	struct recv_area *a;
	unsigned i;

	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return -ENOMEM;
	a->batch = batch;
	/* One byte more than the largest datagram accepted, to see oversize ones. */
	a->slot_size = max_size + 1;
	/* Pages are touched only as datagrams fill them: idle RSS stays small. */
	a->bufs = malloc((size_t)batch * a->slot_size);
	a->msgs = calloc(batch, sizeof(*a->msgs));
	a->iov = calloc(batch, sizeof(*a->iov));
	a->names = calloc(batch, sizeof(*a->names));
	a->ctrl = calloc(batch, RECV_CTRL);
	a->info = calloc(batch, sizeof(*a->info));
	a->dg = malloc((size_t)batch * sizeof(*a->dg));
	if (a->bufs == NULL || a->msgs == NULL || a->iov == NULL || a->names == NULL ||
	    a->ctrl == NULL || a->info == NULL || a->dg == NULL) {
		sock_area_free(a);
		return -ENOMEM;
	}
	/* What never changes is set once; on_readable resets what the kernel wrote. */
	for (i = 0; i < batch; i++) {
		a->iov[i].iov_base = a->bufs + (size_t)i * a->slot_size;
		a->iov[i].iov_len = a->slot_size;
		a->msgs[i].msg_hdr.msg_iov = &a->iov[i];
		a->msgs[i].msg_hdr.msg_iovlen = 1;
		a->msgs[i].msg_hdr.msg_name = &a->names[i];
		a->msgs[i].msg_hdr.msg_namelen = sizeof(a->names[i]);
		a->msgs[i].msg_hdr.msg_control = a->ctrl + (size_t)i * RECV_CTRL;
		a->msgs[i].msg_hdr.msg_controllen = RECV_CTRL;
	}
	a->iov_len = a->slot_size;
	*ret = a;
	return 0;
}

unsigned
sock_area_batch(const struct recv_area *a)
{
	return a->batch;
}

size_t
sock_area_max_size(const struct recv_area *a)
{
	return a->slot_size - 1;
}

static int
family_of(enum sock_type t)
{
	switch (t) {
	case SOCK_T_UDP4:
		return AF_INET;
	case SOCK_T_UDP6:
		return AF_INET6;
	default:
		return AF_UNIX;
	}
}

/* True when c binds to all addresses (replies then need the datagram's destination). */
static bool
conf_wildcard(const struct sock_conf *c)
{
	return c->address == NULL ||
	    (c->type == SOCK_T_UDP4 && c->addr.in.sin_addr.s_addr == htonl(INADDR_ANY)) ||
	    (c->type == SOCK_T_UDP6 && IN6_IS_ADDR_UNSPECIFIED(&c->addr.in6.sin6_addr));
}

static int
join_groups(struct dg_socket *s, const struct sock_conf *c)
{
	union sockaddr_any g;
	socklen_t glen;
	size_t i;

	for (i = 0; i < c->n_mcast_groups; i++) {
		if (addr_parse_ip(c->mcast_groups[i], family_of(c->type), 0, &g, &glen) < 0)
			return -EINVAL;
		if (g.sa.sa_family == AF_INET) {
			struct ip_mreqn m = { 0 };

			m.imr_multiaddr = g.in.sin_addr;
			if (setsockopt(s->fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof(m)) < 0 &&
			    errno != EADDRINUSE)
				return -errno;
		} else {
			struct ipv6_mreq m = { 0 };

			m.ipv6mr_multiaddr = g.in6.sin6_addr;
			if (setsockopt(s->fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof(m)) < 0 &&
			    errno != EADDRINUSE)
				return -errno;
		}
	}
	return 0;
}

int
sock_apply_options(struct dg_socket *s, const struct sock_conf *c)
{
	bool v6 = c->type == SOCK_T_UDP6;
	int want_pktinfo = s->adopted || conf_wildcard(c);
	int r;

	s->max_size = c->max_size;
	r = sockopt_apply(s->fd, c, s->name);
	/*
	 * Kernel drops are read with SO_MEMINFO (kernel_drops()), not carried
	 * by an SO_RXQ_OVFL message on every datagram once there was one; off
	 * also on a socket handed over by an older dgramd.
	 */
	if (r == 0)
		r = sockopt_set_int(s->fd, SOL_SOCKET, SO_RXQ_OVFL, 0);
	if (r < 0 || c->type == SOCK_T_UNIX) {
		if (r == 0 && c->type == SOCK_T_UNIX) {
			/* Off where nothing reads them: both sides pay for them. */
			bool cred = sock_conf_wants_cred(c);

			r = sockopt_set_int(s->fd, SOL_SOCKET, SO_PASSCRED, cred);
			s->passcred = r == 0 && cred;
		}
		return r;
	}
	/* Replies need the address a datagram came to only on a wildcard socket. */
	r = v6 ? sockopt_set_int(s->fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, want_pktinfo) :
	    sockopt_set_int(s->fd, IPPROTO_IP, IP_PKTINFO, want_pktinfo);
	if (r == 0)
		r = join_groups(s, c);
	return r;
}

static struct dg_socket *
sock_alloc(const struct sock_conf *c)
{
	struct dg_socket *s;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->fd = -1;
	s->type = c->type;
	s->max_size = c->max_size;
	s->name = strdup(c->name);
	if (s->name == NULL)
		return mfree(s);
	return s;
}

/*
 * Makes room for a unix socket at path: a stale socket (nobody answers
 * on it) is removed; a live one or anything that is not a socket is left
 * alone and reported.
 */
static int
clear_unix_path(const char *path, const union sockaddr_any *a, socklen_t alen)
{
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, &a->sa, alen);
	r = r == 0 ? -EADDRINUSE : (errno == ECONNREFUSED ? 0 : -errno);
	safe_close(fd);
	if (r == 0 && unlink(path) < 0 && errno != ENOENT)
		r = -errno;
	return r;
}

static int
finish_unix(struct dg_socket *s, const struct sock_conf *c)
{
	if (c->mode >= 0 && chmod(c->path, (mode_t)c->mode) < 0)
		return -errno;
	if ((c->has_owner || c->has_group) &&
	    chown(c->path, c->has_owner ? c->owner : (uid_t)-1,
	    c->has_group ? c->group : (gid_t)-1) < 0)
		return -errno;
	(void)s;
	return 0;
}

static bool
has_group(const struct sock_conf *c, const char *g)
{
	size_t i;

	for (i = 0; i < c->n_mcast_groups; i++)
		if (strcmp(c->mcast_groups[i], g) == 0)
			return true;
	return false;
}

static int
leave_group(struct dg_socket *s, enum sock_type t, const char *group)
{
	union sockaddr_any g;
	socklen_t glen;

	if (addr_parse_ip(group, family_of(t), 0, &g, &glen) < 0)
		return -EINVAL;
	if (g.sa.sa_family == AF_INET) {
		struct ip_mreqn m = { 0 };

		m.imr_multiaddr = g.in.sin_addr;
		if (setsockopt(s->fd, IPPROTO_IP, IP_DROP_MEMBERSHIP, &m, sizeof(m)) < 0 &&
		    errno != EADDRNOTAVAIL)
			return -errno;
	} else {
		struct ipv6_mreq m = { 0 };

		m.ipv6mr_multiaddr = g.in6.sin6_addr;
		if (setsockopt(s->fd, IPPROTO_IPV6, IPV6_LEAVE_GROUP, &m, sizeof(m)) < 0 &&
		    errno != EADDRNOTAVAIL)
			return -errno;
	}
	return 0;
}

int
sock_update_options(struct dg_socket *s, const struct sock_conf *c, const struct sock_conf *old)
{
	size_t i;
	int r;

	r = sockopt_reset(s->fd, c, old);
	for (i = 0; r == 0 && i < old->n_mcast_groups; i++)
		if (!has_group(c, old->mcast_groups[i]))
			r = leave_group(s, c->type, old->mcast_groups[i]);
	if (r == 0)
		r = sock_apply_options(s, c);
	if (r == 0 && c->type == SOCK_T_UNIX && s->created_path && !s->adopted)
		r = finish_unix(s, c);
	if (r < 0)
		return r;
	/* These shape the bind itself: a kept socket cannot take them. */
	sockopt_warn_binding(c, old);
	return 0;
}

int
sock_open(const struct sock_conf *c, struct dg_socket **ret, const char **ret_what)
{
	struct dg_socket *s;
	const char *what = "socket";
	bool is_path;
	int r;

	s = sock_alloc(c);
	if (s == NULL)
		return -ENOMEM;
	s->fd = socket(family_of(c->type), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		r = -errno;
		goto fail;
	}
	what = "setsockopt";
	r = sockopt_apply_binding(s->fd, c);
	if (r == 0)
		r = sock_apply_options(s, c);
	if (r < 0)
		goto fail;
	is_path = c->type == SOCK_T_UNIX && c->path[0] != '@';
	if (is_path) {
		what = "replace stale socket at";
		r = clear_unix_path(c->path, &c->addr, c->addr_len);
		if (r < 0)
			goto fail;
	}
	what = "bind";
	if (bind(s->fd, &c->addr.sa, c->addr_len) < 0) {
		r = -errno;
		goto fail;
	}
	if (is_path) {
		s->created_path = true;
		s->path = strdup(c->path);
		if (s->path == NULL) {
			r = -ENOMEM;
			goto fail;
		}
		what = "set mode/owner of";
		r = finish_unix(s, c);
		if (r < 0)
			goto fail;
	}
	s->local_len = sizeof(s->local);
	if (getsockname(s->fd, &s->local.sa, &s->local_len) < 0) {
		r = -errno;
		what = "getsockname";
		goto fail;
	}
	s->wildcard = conf_wildcard(c);
	*ret = s;
	return 0;
fail:
	if (ret_what != NULL)
		*ret_what = what;
	sock_close(s);
	return r;
}

int
sock_adopt(const struct sock_conf *c, int fd, struct dg_socket **ret)
{
	struct dg_socket *s;
	int fl, r;

	s = sock_alloc(c);
	if (s == NULL)
		return -ENOMEM;
	s->adopted = true;
	s->local_len = sizeof(s->local);
	if (getsockname(fd, &s->local.sa, &s->local_len) < 0) {
		r = -errno;
		goto fail;
	}
	/* systemd passes blocking sockets; the reactor must never block. */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		r = -errno;
		goto fail;
	}
	s->fd = fd;
	r = sock_apply_options(s, c);
	if (r < 0) {
		s->fd = -1;
		goto fail;
	}
	s->wildcard = true;
	*ret = s;
	return 0;
fail:
	sock_close(s);
	return r;
}

/*
 * Replies go out through the socket's txq: one sendmmsg at the end of the
 * batch, UDP GSO runs, and a backlog of SOCK_REPLY_QUEUE_BYTES for what
 * would block, drained when the socket is writable (UDP: EPOLLOUT) or,
 * for unix sockets, whose writability says nothing of a peer's full
 * queue, on a short timer. A unix peer that still cannot take a reply
 * holds back only its own replies: the others are sent around it.
 */
#define RQ_RETRY_MS	20

unsigned
sock_queued(const struct dg_socket *s)
{
	return s->txq != NULL ? txq_queued(s->txq) : 0;
}

static void
on_rq_timer(void *userdata)
{
	struct dg_socket *s = userdata;

	txq_drain(s->txq);
}

/* Asks to be woken while replies wait, and stops asking when none do. */
static void
reply_want_write(void *userdata, bool waiting)
{
	struct dg_socket *s = userdata;

	if (s->reactor == NULL || s->watch == NULL)
		return;
	if (s->type != SOCK_T_UNIX) {
		(void)reactor_mod_fd(s->reactor, s->watch,
		    waiting ? REACTOR_IN | REACTOR_OUT : REACTOR_IN);
		return;
	}
	if (waiting && s->retry_timer == NULL)
		(void)reactor_add_timer(s->reactor, RQ_RETRY_MS, on_rq_timer, s, &s->retry_timer);
	else if (!waiting && s->retry_timer != NULL)
		s->retry_timer = reactor_del_timer(s->reactor, s->retry_timer);
}

static void
reply_sent(void *userdata, unsigned n)
{
	struct dg_socket *s = userdata;

	s->stats.sent += n;
}

static void
reply_failed(void *userdata, int err, unsigned n)
{
	struct dg_socket *s = userdata;

	(void)err;
	s->stats.send_errors += n;
}

static void
reply_dropped(void *userdata, unsigned n)
{
	struct dg_socket *s = userdata;

	s->stats.dropped += n;
}

static const struct txq_ops reply_ops = {
	.want_write = reply_want_write,
	.sent = reply_sent,
	.failed = reply_failed,
	.dropped = reply_dropped,
};

static void
read_cmsgs(struct msghdr *mh, struct slot_info *si, const struct ucred **cred)
{
	struct cmsghdr *cm;

	si->family = 0;
	*cred = NULL;
	for (cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
			memcpy(&si->pi4, CMSG_DATA(cm), sizeof(si->pi4));
			si->family = AF_INET;
		} else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
			memcpy(&si->pi6, CMSG_DATA(cm), sizeof(si->pi6));
			si->family = AF_INET6;
		} else if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS) {
			memcpy(&si->cred, CMSG_DATA(cm), sizeof(si->cred));
			*cred = &si->cred;
		} else if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			/* A unix sender passed descriptors: never keep them. */
			size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int), i;
			int fd;

			for (i = 0; i < n; i++) {
				memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
				safe_close(fd);
			}
		}
	}
}

/* The socket's receive-queue drops so far (SO_MEMINFO), or last if unreadable. */
static uint64_t
kernel_drops(const struct dg_socket *s, uint64_t last)
{
	uint32_t mem[SK_MEMINFO_VARS] = { 0 };
	socklen_t len = sizeof(mem);

	if (getsockopt(s->fd, SOL_SOCKET, SO_MEMINFO, mem, &len) < 0 ||
	    len < (SK_MEMINFO_DROPS + 1) * sizeof(mem[0]))
		return last;
	return mem[SK_MEMINFO_DROPS];
}

/*
 * Reads one batch and hands it to the route, then sends the replies;
 * returns how many datagrams were read (0: none, or an error).
 */
static unsigned
read_batch(struct dg_socket *s, int fd)
{
	struct recv_area *a = s->area;
	struct timespec now;
	struct dgram *d;
	uint64_t bytes = 0;
	socklen_t no_name;
	unsigned i;
	int n;

	/*
	 * The slots are set up once (sock_area_new): only the lengths the
	 * kernel overwrote in the last receive, and the iovec lengths when
	 * this socket's max_size differs from the previous one's, are reset.
	 */
	if (a->iov_len != (size_t)s->max_size + 1) {
		a->iov_len = (size_t)s->max_size + 1;
		for (i = 0; i < a->batch; i++)
			a->iov[i].iov_len = a->iov_len;
	}
	for (i = 0; i < a->dirty; i++) {
		a->msgs[i].msg_hdr.msg_namelen = sizeof(a->names[i]);
		a->msgs[i].msg_hdr.msg_controllen = RECV_CTRL;
	}
	n = recvmmsg(fd, a->msgs, a->batch, MSG_TRUNC | MSG_CMSG_CLOEXEC, NULL);
	a->dirty = n > 0 ? (unsigned)n : 0;
	if (n <= 0)
		return 0;	/* EAGAIN, EINTR, or an error report consumed: nothing to do */
	(void)clock_gettime(CLOCK_REALTIME, &now);
	/* Drops for STATUS=, once a second at most; stats lines read them afresh. */
	if (now.tv_sec != s->drops_sec) {
		s->drops_sec = now.tv_sec;
		s->stats.kernel_drops = kernel_drops(s, s->stats.kernel_drops);
	}
	s->stats.received += (unsigned)n;
	/* Who has no address: a UDP sender always has one, a unix one bound to no name not. */
	no_name = s->type == SOCK_T_UNIX ? offsetof(struct sockaddr_un, sun_path) : 0;
	d = a->dg;
	for (i = 0; i < (unsigned)n; i++) {
		struct msghdr *mh = &a->msgs[i].msg_hdr;
		size_t len = a->msgs[i].msg_len;
		const struct ucred *cred = NULL;
		const void *local = NULL;

		bytes += len;
		/* The kernel says how much control it wrote: usually none. */
		if (mh->msg_controllen > 0) {
			read_cmsgs(mh, &a->info[i], &cred);
			if (a->info[i].family != 0)
				local = &a->info[i];
		}
		if ((mh->msg_flags & MSG_TRUNC) || len > s->max_size) {
			s->stats.truncated++;
			continue;
		}
		d->data = a->iov[i].iov_base;
		d->len = len;
		/* An unbound unix sender has no address (msg_namelen 0 or just the family). */
		if (mh->msg_namelen > no_name) {
			d->peer = &a->names[i].sa;
			d->peer_len = mh->msg_namelen;
		} else {
			d->peer = NULL;
			d->peer_len = 0;
		}
		d->cred = cred;
		d->rtime = &now;
		d->sock = s;
		d->local = local;
		d++;
	}
	s->stats.bytes += bytes;
	if (d > a->dg)
		s->dispatch(s->userdata, a->dg, (unsigned)(d - a->dg));
	txq_flush(s->txq);
	if (s->batch_end != NULL)
		s->batch_end(s->userdata);
	return (unsigned)n;
}

/*
 * A batch per turn of the loop, which level-triggered epoll brings back
 * for the rest; but a socket that filled its batch is read again at
 * once, up to SOCK_TURN_BATCHES in all, while nothing else is ready.
 * A full batch is no proof of more: when reading again finds nothing,
 * the next SOCK_AGAIN_BACKOFF full wakeups do not try.
 */
static void
on_readable(struct reactor_watch *w, int fd, uint32_t events, void *userdata)
{
	struct dg_socket *s = userdata;
	unsigned turn, n;

	if (events & REACTOR_OUT)
		txq_drain(s->txq);
	if (!(events & (REACTOR_IN | REACTOR_ERR)))
		return;
	if (read_batch(s, fd) < s->area->batch)
		return;
	if (s->again_skip > 0) {
		s->again_skip--;
		return;
	}
	for (turn = 1; turn < SOCK_TURN_BATCHES && reactor_may_continue(s->reactor, w); turn++) {
		n = read_batch(s, fd);
		if (n == 0)
			s->again_skip = SOCK_AGAIN_BACKOFF;
		if (n < s->area->batch)
			return;
	}
}

/* The socket's txq, sized to the receive batch (one reply per datagram). */
static int
alloc_replies(struct dg_socket *s, unsigned batch)
{
	struct txq_conf c = {
		.batch = batch,
		.backlog_bytes = SOCK_REPLY_QUEUE_BYTES,
		.gso = s->type != SOCK_T_UNIX,
		.per_peer = s->type == SOCK_T_UNIX,
	};

	if (s->txq != NULL)
		return txq_set_batch(s->txq, batch);
	return txq_new(s->fd, &c, &reply_ops, s, &s->txq);
}

int
sock_rebind_area(struct dg_socket *s, struct recv_area *area)
{
	int r;

	r = alloc_replies(s, area->batch);
	if (r < 0)
		return r;
	s->area = area;
	return 0;
}

int
sock_start(struct dg_socket *s, struct reactor *r, struct recv_area *area,
    sock_dispatch_fn dispatch, sock_batch_end_fn batch_end, void *userdata)
{
	int rc;

	rc = sock_rebind_area(s, area);
	if (rc < 0)
		return rc;
	s->dispatch = dispatch;
	s->batch_end = batch_end;
	s->userdata = userdata;
	s->reactor = r;
	if (s->watch == NULL)
		return reactor_add_fd(r, s->fd, REACTOR_IN, on_readable, s, &s->watch);
	return 0;
}

static struct dg_socket *
sock_release(struct dg_socket *s, bool close_fd)
{
	if (s == NULL)
		return NULL;
	if (s->watch != NULL)
		s->watch = reactor_del_fd(s->reactor, s->watch);
	if (s->retry_timer != NULL)
		s->retry_timer = reactor_del_timer(s->reactor, s->retry_timer);
	s->txq = txq_free(s->txq);
	if (close_fd)
		s->fd = safe_close(s->fd);
	if (close_fd && s->created_path && !s->adopted && s->path != NULL &&
	    unlink(s->path) < 0 && errno != ENOENT)
		log_warning_errno(-errno, "%s: cannot remove %s: %m (after dropping privileges, "
		    "keep unix sockets in a directory the user owns)", s->name, s->path);
	free(s->path);
	free(s->name);
	free(s);
	return NULL;
}

struct dg_socket *
sock_close(struct dg_socket *s)
{
	return sock_release(s, true);
}

struct dg_socket *
sock_forget(struct dg_socket *s)
{
	return sock_release(s, false);
}

const char *
sock_address(const struct dg_socket *s, char *buf, size_t size)
{
	return addr_format(&s->local.sa, s->local_len, buf, size);
}

/* Queues len bytes to peer, from the address in pktinfo (family 0: none). */
static void
reply_from(struct dg_socket *s, const void *data, size_t len, const struct sockaddr *peer,
    socklen_t peer_len, int family, const struct in_pktinfo *pi4,
    const struct in6_pktinfo *pi6)
{
	union {
		struct cmsghdr	align;
		uint8_t		b[REPLY_CTRL];
	} ctrl;
	struct cmsghdr *cm = &ctrl.align;
	size_t ctrllen = 0;

	if (s->wildcard && family == AF_INET) {
		/* Answer from the address the request was sent to. */
		struct in_pktinfo pi = { 0 };

		pi.ipi_spec_dst = pi4->ipi_spec_dst;
		ctrllen = CMSG_SPACE(sizeof(pi));
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	} else if (s->wildcard && family == AF_INET6) {
		struct in6_pktinfo pi = { 0 };

		if (!IN6_IS_ADDR_MULTICAST(&pi6->ipi6_addr))
			pi.ipi6_addr = pi6->ipi6_addr;
		pi.ipi6_ifindex = pi6->ipi6_ifindex;
		ctrllen = CMSG_SPACE(sizeof(pi));
		cm->cmsg_level = IPPROTO_IPV6;
		cm->cmsg_type = IPV6_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	}
	txq_add(s->txq, data, len, peer, peer_len, ctrl.b, ctrllen);
}

int
sock_reply(struct dg_socket *s, const struct dgram *d)
{
	const struct slot_info *si = d->local;

	if (d->peer == NULL)
		return -EDESTADDRREQ;
	reply_from(s, d->data, d->len, d->peer, d->peer_len, si != NULL ? si->family : 0,
	    si != NULL ? &si->pi4 : NULL, si != NULL ? &si->pi6 : NULL);
	return 0;
}

int
sock_origin_get(const struct dgram *d, struct sock_origin *o)
{
	const struct slot_info *si = d->local;

	if (d->peer == NULL || d->peer_len > sizeof(o->peer))
		return -EDESTADDRREQ;
	memcpy(&o->peer, d->peer, d->peer_len);
	o->peer_len = d->peer_len;
	o->family = si != NULL ? si->family : 0;
	if (o->family == AF_INET)
		o->pi4 = si->pi4;
	else if (o->family == AF_INET6)
		o->pi6 = si->pi6;
	return 0;
}

void
sock_reply_origin(struct dg_socket *s, const struct sock_origin *o, const void *data, size_t len)
{
	reply_from(s, data, len, &o->peer.sa, o->peer_len, o->family, &o->pi4, &o->pi6);
}

void
sock_flush(struct dg_socket *s)
{
	if (s->txq != NULL)
		txq_flush(s->txq);
}

/*
 * The socket's counters, in the order of the stats line. The families
 * are the metrics' names; the four kinds of receive drop are one family
 * with a "reason" label.
 */
#define SOCK_DROP(field, reason) \
	{ "dgramd_socket_dropped_datagrams_total", "Datagrams received and dropped, by reason.", \
	  STAT_COUNTER, #field, STAT_ROLE_LOST, { "reason", reason } }

static const struct stat_desc sock_descs[] = {
	{ "dgramd_socket_received_datagrams_total", "Datagrams read, truncated ones included.",
	  STAT_COUNTER, "received", STAT_ROLE_RECEIVED, { NULL, NULL } },
	{ "dgramd_socket_received_bytes_total", "Bytes of the datagrams read.", STAT_COUNTER,
	  "bytes", STAT_ROLE_NONE, { NULL, NULL } },
	SOCK_DROP(truncated, "truncated"),
	SOCK_DROP(denied, "denied"),
	SOCK_DROP(limited, "limited"),
	SOCK_DROP(kernel_drops, "kernel"),
	{ "dgramd_socket_sent_datagrams_total",
	  "Datagrams the socket's handlers sent (replies, forwarded copies).", STAT_COUNTER,
	  "sent", STAT_ROLE_NONE, { NULL, NULL } },
	{ "dgramd_socket_send_errors_total", "Sends that failed.", STAT_COUNTER, "send_errors",
	  STAT_ROLE_LOST, { NULL, NULL } },
	{ "dgramd_socket_send_dropped_datagrams_total",
	  "Datagrams to send dropped on a full queue.", STAT_COUNTER, "dropped", STAT_ROLE_LOST,
	  { NULL, NULL } },
};

static const struct stat_desc sock_queued_desc = {
	"dgramd_socket_queued", "Replies waiting for the socket to be writable.", STAT_GAUGE,
	"queued", STAT_ROLE_NONE, { NULL, NULL },
};

void
sock_stats(const struct dg_socket *s, struct stats_visitor *v)
{
	const struct dg_stats *st = &s->stats;
	const uint64_t values[] = {
		st->received, st->bytes, st->truncated, st->denied, st->limited,
		kernel_drops(s, st->kernel_drops), st->sent, st->send_errors, st->dropped,
	};
	size_t i;

	_Static_assert(ARRAY_SIZE(values) == ARRAY_SIZE(sock_descs), "one value per counter");
	for (i = 0; i < ARRAY_SIZE(sock_descs); i++)
		stats_put(v, &sock_descs[i], values[i]);
	/* Shown once replies ever had to wait. */
	if (s->txq != NULL && txq_has_backlog(s->txq))
		stats_put(v, &sock_queued_desc, sock_queued(s));
}
