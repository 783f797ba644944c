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
#include "strbuf.h"
#include "util.h"

/* Control space per received datagram: pktinfo, credentials, a few fds. */
#define RECV_CTRL	(CMSG_SPACE(sizeof(struct in6_pktinfo)) + \
			 CMSG_SPACE(sizeof(struct ucred)) + \
			 CMSG_SPACE(16 * sizeof(int)))
/* Control space per reply: one pktinfo. */
#define REPLY_CTRL	CMSG_SPACE(sizeof(struct in6_pktinfo))
/*
 * Replies sent with UDP GSO (UDP_SEGMENT): a run of equal-size replies to
 * one peer from one address goes out as one message the kernel splits; at
 * most this many segments and bytes per message. Control space: the
 * reply's pktinfo and the segment size.
 */
#ifndef UDP_SEGMENT
#define UDP_SEGMENT	103
#endif
#define GSO_SEGS	64
#define GSO_BYTES	65507
#define GSO_CTRL	(REPLY_CTRL + CMSG_SPACE(sizeof(uint16_t)))

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
	/* Scratch for one socket's replies as GSO messages (reply_flush). */
	struct mmsghdr		*gmsgs;
	unsigned		*gfirst;
	uint8_t			*gctrl;
	bool			 no_gso;	/* the kernel refused it: plain sends */
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
	free(a->gmsgs);
	free(a->gfirst);
	free(a->gctrl);
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
	a->gmsgs = calloc(batch, sizeof(*a->gmsgs));
	a->gfirst = calloc(batch + 1, sizeof(*a->gfirst));
	a->gctrl = calloc(batch, GSO_CTRL);
	if (a->bufs == NULL || a->msgs == NULL || a->iov == NULL || a->names == NULL ||
	    a->ctrl == NULL || a->info == NULL || a->gmsgs == NULL || a->gfirst == NULL ||
	    a->gctrl == NULL) {
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
setopt_int(int fd, int level, int name, int value)
{
	if (setsockopt(fd, level, name, &value, sizeof(value)) < 0)
		return -errno;
	return 0;
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

/* Sets a buffer size; above the system maximum, forces it or warns. */
static int
set_buffer(struct dg_socket *s, int opt, int force_opt, int size, const char *what)
{
	int got = 0, r;
	socklen_t len = sizeof(got);

	r = setopt_int(s->fd, SOL_SOCKET, opt, size);
	if (r < 0)
		return r;
	/* The kernel doubles what it grants; less than asked means capped. */
	if (getsockopt(s->fd, SOL_SOCKET, opt, &got, &len) < 0)
		return -errno;
	if (got / 2 >= size)
		return 0;
	if (setopt_int(s->fd, SOL_SOCKET, force_opt, size) == 0)
		return 0;
	log_warning("%s: %s %d is above the system maximum, using %d "
	    "(raise net.core.%s or run with CAP_NET_ADMIN)", s->name, what, size, got / 2,
	    opt == SO_RCVBUF ? "rmem_max" : "wmem_max");
	return 0;
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
	int r = 0;

	s->max_size = c->max_size;
	if (c->recv_buffer > 0)
		r = set_buffer(s, SO_RCVBUF, SO_RCVBUFFORCE, c->recv_buffer, "recv_buffer");
	if (r == 0 && c->send_buffer > 0)
		r = set_buffer(s, SO_SNDBUF, SO_SNDBUFFORCE, c->send_buffer, "send_buffer");
	/*
	 * Kernel drops are read with SO_MEMINFO (kernel_drops()), not carried
	 * by an SO_RXQ_OVFL message on every datagram once there was one; off
	 * also on a socket handed over by an older dgramd.
	 */
	if (r == 0)
		r = setopt_int(s->fd, SOL_SOCKET, SO_RXQ_OVFL, 0);
	if (r < 0 || c->type == SOCK_T_UNIX) {
		if (r == 0 && c->type == SOCK_T_UNIX) {
			/* Off where nothing reads them: both sides pay for them. */
			bool cred = sock_conf_wants_cred(c);

			r = setopt_int(s->fd, SOL_SOCKET, SO_PASSCRED, cred);
			s->passcred = r == 0 && cred;
		}
		return r;
	}
	if (c->ttl > 0)
		r = v6 ? setopt_int(s->fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, c->ttl) :
		    setopt_int(s->fd, IPPROTO_IP, IP_TTL, c->ttl);
	if (r == 0 && c->broadcast >= 0 && !v6)
		r = setopt_int(s->fd, SOL_SOCKET, SO_BROADCAST, c->broadcast);
	if (r == 0 && c->multicast_ttl >= 0)
		r = v6 ? setopt_int(s->fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, c->multicast_ttl) :
		    setopt_int(s->fd, IPPROTO_IP, IP_MULTICAST_TTL, c->multicast_ttl);
	if (r == 0 && c->multicast_loop >= 0)
		r = v6 ? setopt_int(s->fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, c->multicast_loop) :
		    setopt_int(s->fd, IPPROTO_IP, IP_MULTICAST_LOOP, c->multicast_loop);
	/* Replies need the address a datagram came to only on a wildcard socket. */
	if (r == 0)
		r = v6 ? setopt_int(s->fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, want_pktinfo) :
		    setopt_int(s->fd, IPPROTO_IP, IP_PKTINFO, want_pktinfo);
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

/* The size a fresh socket of this type gets for opt (the system default). */
static int
default_buffer(enum sock_type t, int opt, int *ret)
{
	int fd, v = 0;
	socklen_t len = sizeof(v);

	fd = socket(family_of(t), SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, opt, &v, &len) < 0) {
		v = -errno;
		safe_close(fd);
		return v;
	}
	safe_close(fd);
	/* getsockopt reports twice what setsockopt takes. */
	*ret = v / 2;
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

/*
 * Puts back the system default of what old set and c leaves unset, so
 * that removing a key on reload undoes it.
 */
static int
reset_unset(struct dg_socket *s, const struct sock_conf *c, const struct sock_conf *old)
{
	bool v6 = c->type == SOCK_T_UDP6;
	int def = 0, r = 0;

	if (old->recv_buffer > 0 && c->recv_buffer == 0) {
		r = default_buffer(c->type, SO_RCVBUF, &def);
		if (r == 0)
			r = setopt_int(s->fd, SOL_SOCKET, SO_RCVBUF, def);
	}
	if (r == 0 && old->send_buffer > 0 && c->send_buffer == 0) {
		r = default_buffer(c->type, SO_SNDBUF, &def);
		if (r == 0)
			r = setopt_int(s->fd, SOL_SOCKET, SO_SNDBUF, def);
	}
	if (r < 0 || c->type == SOCK_T_UNIX)
		return r;
	/* -1 means "the system default" for the hop limits. */
	if (old->ttl > 0 && c->ttl == 0)
		r = v6 ? setopt_int(s->fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, -1) :
		    setopt_int(s->fd, IPPROTO_IP, IP_TTL, -1);
	if (r == 0 && old->broadcast > 0 && c->broadcast < 0 && !v6)
		r = setopt_int(s->fd, SOL_SOCKET, SO_BROADCAST, 0);
	if (r == 0 && old->multicast_ttl >= 0 && c->multicast_ttl < 0)
		r = v6 ? setopt_int(s->fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, -1) :
		    setopt_int(s->fd, IPPROTO_IP, IP_MULTICAST_TTL, 1);
	if (r == 0 && old->multicast_loop >= 0 && c->multicast_loop < 0)
		r = v6 ? setopt_int(s->fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 1) :
		    setopt_int(s->fd, IPPROTO_IP, IP_MULTICAST_LOOP, 1);
	return r;
}

int
sock_update_options(struct dg_socket *s, const struct sock_conf *c, const struct sock_conf *old)
{
	size_t i;
	int r;

	r = reset_unset(s, c, old);
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
	if ((c->ipv6_only != 0) != (old->ipv6_only != 0) && c->type == SOCK_T_UDP6)
		log_warning("%s: ipv6_only changed; it takes effect when the socket is bound "
		    "anew (restart, or change its address or port)", c->name);
	if (c->reuseport != old->reuseport)
		log_warning("%s: reuseport changed; it takes effect when the socket is bound "
		    "anew (restart, or change its address or port)", c->name);
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
	if (c->type == SOCK_T_UDP6) {
		r = setopt_int(s->fd, IPPROTO_IPV6, IPV6_V6ONLY, c->ipv6_only != 0);
		if (r < 0)
			goto fail;
	}
	if (c->reuseport) {
		r = setopt_int(s->fd, SOL_SOCKET, SO_REUSEPORT, 1);
		if (r < 0)
			goto fail;
	}
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

/*
 * Whether a passed UDP socket bound to local can stand for c: the port,
 * unless c says 0 (any), and the address, unless c leaves it to all.
 */
static bool
udp_fits(const struct sock_conf *c, const union sockaddr_any *local)
{
	if (c->type == SOCK_T_UDP4) {
		if (c->port != 0 && ntohs(local->in.sin_port) != c->port)
			return false;
		return c->addr.in.sin_addr.s_addr == htonl(INADDR_ANY) ||
		    c->addr.in.sin_addr.s_addr == local->in.sin_addr.s_addr;
	}
	if (c->port != 0 && ntohs(local->in6.sin6_port) != c->port)
		return false;
	return IN6_IS_ADDR_UNSPECIFIED(&c->addr.in6.sin6_addr) ||
	    memcmp(&c->addr.in6.sin6_addr, &local->in6.sin6_addr, 16) == 0;
}

int
sock_adopt(const struct sock_conf *c, int fd, struct dg_socket **ret)
{
	struct dg_socket *s;
	int type = 0, domain = 0, fl, r;
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return -errno;
	len = sizeof(domain);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0)
		return -errno;
	if (type != SOCK_DGRAM || domain != family_of(c->type))
		return -EPROTOTYPE;
	s = sock_alloc(c);
	if (s == NULL)
		return -ENOMEM;
	s->adopted = true;
	s->local_len = sizeof(s->local);
	if (getsockname(fd, &s->local.sa, &s->local_len) < 0) {
		r = -errno;
		goto fail;
	}
	if (c->type == SOCK_T_UNIX &&
	    !addr_equal(&s->local.sa, s->local_len, &c->addr.sa, c->addr_len)) {
		r = -EPROTOTYPE;
		goto fail;
	}
	if (c->type != SOCK_T_UNIX && !udp_fits(c, &s->local)) {
		r = -EPROTOTYPE;
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
 * The reply queue: replies that would have blocked wait here, copied, in
 * arrival order, in one ring of SOCK_REPLY_QUEUE_BYTES allocated the first
 * time it is needed; past that they are dropped and counted. It drains
 * when the socket is writable (UDP: EPOLLOUT) or, for unix sockets, whose
 * writability says nothing of a peer's full queue, on a short timer. A
 * peer that still cannot take a reply holds back only its own replies:
 * the others are sent around it, so one client that does not read never
 * delays the rest, and each peer's replies keep their order.
 */
#define RQ_RETRY_MS	20
#define RQ_BLOCKED_MAX	8

enum { RQ_LIVE = 1, RQ_DEAD, RQ_WRAP };

struct rq_entry {
	uint32_t		size;		/* whole entry, 8-aligned */
	uint32_t		state;
	uint32_t		len;		/* datagram bytes after the header */
	socklen_t		namelen;
	uint32_t		ctrllen;
	union sockaddr_any	name;
	uint8_t			ctrl[REPLY_CTRL];
};

struct reply_queue {
	uint8_t		*buf;
	size_t		 head;		/* oldest entry */
	size_t		 tail;		/* where the next one goes */
	size_t		 used;		/* bytes between head and tail, wrap gap included */
	unsigned	 count;		/* live entries */
};

#define RQ_ALIGN(n)	(((n) + 7) & ~(size_t)7)

unsigned
sock_queued(const struct dg_socket *s)
{
	return s->queue != NULL ? s->queue->count : 0;
}

static struct rq_entry *
rq_at(struct reply_queue *q, size_t off)
{
	return (struct rq_entry *)(void *)(q->buf + off);
}

/* Where an entry of size bytes fits, or -1; may mark a wrap at the tail. */
static ssize_t
rq_place(struct reply_queue *q, size_t size)
{
	size_t cap = SOCK_REPLY_QUEUE_BYTES, free_bytes = cap - q->used;

	if (size > free_bytes)
		return -1;
	if (q->tail + size <= cap)
		return (ssize_t)q->tail;
	/* Not at the end: wrap to the start if the gap there is big enough. */
	if (q->used > 0 && q->head < q->tail && size < q->head) {
		if (cap - q->tail >= sizeof(uint32_t) * 2)
			rq_at(q, q->tail)->state = RQ_WRAP;
		q->used += cap - q->tail;
		q->tail = 0;
		return 0;
	}
	if (q->used == 0) {
		q->head = q->tail = 0;
		return size <= cap ? 0 : -1;
	}
	return -1;
}

/* Copies reply i of the batch into the queue; false when it is full. */
static bool
rq_push(struct dg_socket *s, unsigned i)
{
	const struct msghdr *mh = &s->out_msgs[i].msg_hdr;
	const struct iovec *iov = &s->out_iov[i];
	struct reply_queue *q = s->queue;
	struct rq_entry *e;
	size_t size = RQ_ALIGN(sizeof(*e) + iov->iov_len);
	ssize_t off;

	if (q == NULL) {
		q = calloc(1, sizeof(*q));
		if (q == NULL)
			return false;
		q->buf = malloc(SOCK_REPLY_QUEUE_BYTES);
		if (q->buf == NULL) {
			free(q);
			return false;
		}
		s->queue = q;
	}
	off = rq_place(q, size);
	if (off < 0)
		return false;
	e = rq_at(q, (size_t)off);
	e->size = (uint32_t)size;
	e->state = RQ_LIVE;
	e->len = (uint32_t)iov->iov_len;
	e->namelen = mh->msg_namelen;
	memcpy(&e->name, mh->msg_name, mh->msg_namelen);
	e->ctrllen = (uint32_t)mh->msg_controllen;
	if (mh->msg_controllen > 0)
		memcpy(e->ctrl, mh->msg_control, mh->msg_controllen);
	memcpy((uint8_t *)e + sizeof(*e), iov->iov_base, iov->iov_len);
	q->tail = (size_t)off + size;
	q->used += size;
	q->count++;
	return true;
}

/* Frees the room of the dead entries at the head. */
static void
rq_trim(struct reply_queue *q)
{
	size_t cap = SOCK_REPLY_QUEUE_BYTES;

	while (q->used > 0) {
		struct rq_entry *e;

		if (cap - q->head < sizeof(uint32_t) * 2 || rq_at(q, q->head)->state == RQ_WRAP) {
			q->used -= cap - q->head;
			q->head = 0;
			continue;
		}
		e = rq_at(q, q->head);
		if (e->state != RQ_DEAD)
			break;
		q->used -= e->size;
		q->head += e->size;
	}
	if (q->used == 0)
		q->head = q->tail = 0;
}

static bool
rq_blocked(const struct rq_entry *e, const struct rq_entry *const *blocked, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (blocked[i]->namelen == e->namelen &&
		    memcmp(&blocked[i]->name, &e->name, e->namelen) == 0)
			return true;
	return false;
}

static void rq_watch(struct dg_socket *s);

/* One pass over the queue: sends what the peers can take now. */
static void
rq_drain(struct dg_socket *s)
{
	const struct rq_entry *blocked[RQ_BLOCKED_MAX];
	struct reply_queue *q = s->queue;
	unsigned n_blocked = 0;
	size_t off, left;

	if (q == NULL || q->count == 0) {
		rq_watch(s);
		return;
	}
	off = q->head;
	left = q->used;
	while (left > 0) {
		struct rq_entry *e;
		struct iovec iov;
		struct msghdr mh = { 0 };

		if (SOCK_REPLY_QUEUE_BYTES - off < sizeof(uint32_t) * 2 ||
		    rq_at(q, off)->state == RQ_WRAP) {
			left -= SOCK_REPLY_QUEUE_BYTES - off;
			off = 0;
			continue;
		}
		e = rq_at(q, off);
		off += e->size;
		left -= e->size;
		if (e->state != RQ_LIVE || rq_blocked(e, blocked, n_blocked))
			continue;
		iov.iov_base = (uint8_t *)e + sizeof(*e);
		iov.iov_len = e->len;
		mh.msg_name = &e->name;
		mh.msg_namelen = e->namelen;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		if (e->ctrllen > 0) {
			mh.msg_control = e->ctrl;
			mh.msg_controllen = e->ctrllen;
		}
		if (sendmsg(s->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) {
			s->stats.sent++;
		} else if (errno == EAGAIN || errno == ENOBUFS || errno == EINTR) {
			/* UDP: our own buffer is full, nothing more goes now. */
			if (s->type != SOCK_T_UNIX || n_blocked == RQ_BLOCKED_MAX)
				break;
			blocked[n_blocked++] = e;
			continue;
		} else {
			s->stats.send_errors++;
		}
		e->state = RQ_DEAD;
		q->count--;
	}
	rq_trim(q);
	rq_watch(s);
}

static void
on_rq_timer(void *userdata)
{
	rq_drain(userdata);
}

/* Asks to be woken while replies wait, and stops asking when none do. */
static void
rq_watch(struct dg_socket *s)
{
	bool waiting = sock_queued(s) > 0;

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

/* Queues replies [first, end) that would block; counts what does not fit. */
static void
rq_queue_rest_range(struct dg_socket *s, unsigned first, unsigned end)
{
	unsigned i;

	for (i = first; i < end; i++)
		if (!rq_push(s, i))
			s->stats.dropped++;
	rq_watch(s);
}

/*
 * Sends replies [first, first + n) one message each; returns false when
 * the socket would block (the rest is dropped and counted).
 */
static bool
reply_send_plain(struct dg_socket *s, unsigned first, unsigned n)
{
	unsigned i = first, end = first + n;
	int k;

	while (i < end) {
		k = sendmmsg(s->fd, s->out_msgs + i, end - i, 0);
		if (k > 0) {
			s->stats.sent += (unsigned)k;
			i += (unsigned)k;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == ENOBUFS) {
			/* The peer or our send buffer is full: queue the rest, never wait. */
			rq_queue_rest_range(s, i, end);
			return false;
		}
		/* This one failed (its peer vanished, say): count it, send the rest. */
		s->stats.send_errors++;
		i++;
	}
	return true;
}

/* True when replies a and b go to the same peer from the same address. */
static bool
same_flow(const struct msghdr *a, const struct msghdr *b)
{
	return a->msg_namelen == b->msg_namelen && a->msg_controllen == b->msg_controllen &&
	    memcmp(a->msg_name, b->msg_name, a->msg_namelen) == 0 &&
	    (a->msg_controllen == 0 ||
	    memcmp(a->msg_control, b->msg_control, a->msg_controllen) == 0);
}

/*
 * Groups the queued UDP replies into GSO messages in the area's scratch:
 * each run of equal-size replies to one peer from one address becomes one
 * message with a UDP_SEGMENT size; a reply alone stays as it is. Returns
 * the number of messages (gfirst[k] is message k's first reply,
 * gfirst[m] == n_out), or 0 when no run has two replies.
 */
static unsigned
reply_build_gso(struct dg_socket *s, struct recv_area *a)
{
	unsigned i = 0, j, k = 0;
	size_t size, total;
	bool any = false;

	while (i < s->n_out) {
		const struct msghdr *first = &s->out_msgs[i].msg_hdr;

		size = s->out_iov[i].iov_len;
		total = size;
		for (j = i + 1; size > 0 && j < s->n_out && j - i < GSO_SEGS &&
		    s->out_iov[j].iov_len == size && total + size <= GSO_BYTES &&
		    same_flow(first, &s->out_msgs[j].msg_hdr); j++)
			total += size;
		a->gfirst[k] = i;
		a->gmsgs[k].msg_hdr = *first;
		if (j - i > 1) {
			struct msghdr *mh = &a->gmsgs[k].msg_hdr;
			uint8_t *c = a->gctrl + (size_t)k * GSO_CTRL;
			struct cmsghdr *cm;
			uint16_t seg = (uint16_t)size;

			if (first->msg_controllen > 0)
				memcpy(c, first->msg_control, first->msg_controllen);
			cm = (struct cmsghdr *)(void *)(c + first->msg_controllen);
			cm->cmsg_level = SOL_UDP;
			cm->cmsg_type = UDP_SEGMENT;
			cm->cmsg_len = CMSG_LEN(sizeof(seg));
			memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
			mh->msg_iovlen = j - i;
			mh->msg_control = c;
			mh->msg_controllen = first->msg_controllen + CMSG_SPACE(sizeof(seg));
			any = true;
		}
		k++;
		i = j;
	}
	a->gfirst[k] = s->n_out;
	return any ? k : 0;
}

static void
reply_flush(struct dg_socket *s)
{
	struct recv_area *a = s->area;
	unsigned m = 0, k = 0, i, cnt;
	int r;

	/* Replies already wait: these go behind them, to keep each peer's order. */
	if (sock_queued(s) > 0) {
		rq_queue_rest_range(s, 0, s->n_out);
		s->n_out = 0;
		rq_drain(s);
		return;
	}
	if (s->type != SOCK_T_UNIX && !a->no_gso && s->n_out > 1)
		m = reply_build_gso(s, a);
	if (m == 0) {
		(void)reply_send_plain(s, 0, s->n_out);
		s->n_out = 0;
		return;
	}
	while (k < m) {
		r = sendmmsg(s->fd, a->gmsgs + k, m - k, 0);
		if (r > 0) {
			for (i = 0; i < (unsigned)r; i++)
				s->stats.sent += a->gfirst[k + i + 1] - a->gfirst[k + i];
			k += (unsigned)r;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == ENOBUFS) {
			rq_queue_rest_range(s, a->gfirst[k], s->n_out);
			break;
		}
		cnt = a->gfirst[k + 1] - a->gfirst[k];
		if (cnt == 1) {
			s->stats.send_errors++;
			k++;
			continue;
		}
		/* GSO refused (no support on the route, beyond the MTU): plain from now on. */
		if (errno == EIO || errno == EINVAL || errno == EMSGSIZE || errno == ENOPROTOOPT ||
		    errno == EOPNOTSUPP)
			a->no_gso = true;
		if (!reply_send_plain(s, a->gfirst[k], cnt)) {
			rq_queue_rest_range(s, a->gfirst[k + 1], s->n_out);
			break;
		}
		k++;
	}
	s->n_out = 0;
}

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

static void
on_readable(struct reactor_watch *w, int fd, uint32_t events, void *userdata)
{
	struct dg_socket *s = userdata;
	struct recv_area *a = s->area;
	const struct ucred *cred;
	struct timespec now;
	struct dgram d;
	unsigned i;
	int n;

	(void)w;
	if (events & REACTOR_OUT)
		rq_drain(s);
	if (!(events & (REACTOR_IN | REACTOR_ERR)))
		return;
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
	/* One batch per wakeup: level-triggered epoll brings us back for the rest. */
	n = recvmmsg(fd, a->msgs, a->batch, MSG_TRUNC | MSG_CMSG_CLOEXEC, NULL);
	a->dirty = n > 0 ? (unsigned)n : 0;
	if (n <= 0)
		return;	/* EAGAIN, EINTR, or an error report consumed: nothing to do */
	(void)clock_gettime(CLOCK_REALTIME, &now);
	/* Drops for STATUS=, once a second at most; stats lines read them afresh. */
	if (now.tv_sec != s->drops_sec) {
		s->drops_sec = now.tv_sec;
		s->stats.kernel_drops = kernel_drops(s, s->stats.kernel_drops);
	}
	for (i = 0; i < (unsigned)n; i++) {
		struct msghdr *mh = &a->msgs[i].msg_hdr;
		size_t len = a->msgs[i].msg_len;

		s->stats.received++;
		s->stats.bytes += len;
		read_cmsgs(mh, &a->info[i], &cred);
		if ((mh->msg_flags & MSG_TRUNC) || len > s->max_size) {
			s->stats.truncated++;
			continue;
		}
		d.data = a->iov[i].iov_base;
		d.len = len;
		/* An unbound unix sender has no address (msg_namelen 0 or just the family). */
		if (mh->msg_namelen == 0 || (a->names[i].sa.sa_family == AF_UNIX &&
		    mh->msg_namelen <= offsetof(struct sockaddr_un, sun_path))) {
			d.peer = NULL;
			d.peer_len = 0;
		} else {
			d.peer = &a->names[i].sa;
			d.peer_len = mh->msg_namelen;
		}
		d.cred = cred;
		d.rtime = &now;
		d.sock = s;
		d.local = a->info[i].family != 0 ? &a->info[i] : NULL;
		s->dispatch(s->userdata, &d);
	}
	if (s->n_out > 0)
		reply_flush(s);
	if (s->batch_end != NULL)
		s->batch_end(s->userdata);
}

static int
alloc_replies(struct dg_socket *s, unsigned batch)
{
	struct mmsghdr *m;
	struct iovec *iov;
	uint8_t *ctrl;

	if (s->out_cap == batch)
		return 0;
	m = calloc(batch, sizeof(*m));
	iov = calloc(batch, sizeof(*iov));
	ctrl = calloc(batch, REPLY_CTRL);
	if (m == NULL || iov == NULL || ctrl == NULL) {
		free(m);
		free(iov);
		free(ctrl);
		return -ENOMEM;
	}
	free(s->out_msgs);
	free(s->out_iov);
	free(s->out_ctrl);
	s->out_msgs = m;
	s->out_iov = iov;
	s->out_ctrl = ctrl;
	s->out_cap = batch;
	s->n_out = 0;
	return 0;
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
	if (s->queue != NULL) {
		free(s->queue->buf);
		s->queue = mfree(s->queue);
	}
	if (close_fd)
		s->fd = safe_close(s->fd);
	if (close_fd && s->created_path && !s->adopted && s->path != NULL &&
	    unlink(s->path) < 0 && errno != ENOENT)
		log_warning_errno(-errno, "%s: cannot remove %s: %m (after dropping privileges, "
		    "keep unix sockets in a directory the user owns)", s->name, s->path);
	free(s->path);
	free(s->name);
	free(s->out_msgs);
	free(s->out_iov);
	free(s->out_ctrl);
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

int
sock_reply(struct dg_socket *s, const struct dgram *d)
{
	const struct slot_info *si = d->local;
	struct mmsghdr *m;
	struct msghdr *mh;
	struct cmsghdr *cm;

	if (d->peer == NULL)
		return -EDESTADDRREQ;
	if (s->n_out == s->out_cap)
		reply_flush(s);	/* cannot happen with one reply per datagram; be safe */
	m = &s->out_msgs[s->n_out];
	mh = &m->msg_hdr;
	memset(m, 0, sizeof(*m));
	s->out_iov[s->n_out].iov_base = (void *)(uintptr_t)d->data;
	s->out_iov[s->n_out].iov_len = d->len;
	mh->msg_iov = &s->out_iov[s->n_out];
	mh->msg_iovlen = 1;
	mh->msg_name = (void *)(uintptr_t)d->peer;
	mh->msg_namelen = d->peer_len;
	if (s->wildcard && si != NULL) {
		/* Answer from the address the request was sent to. */
		mh->msg_control = s->out_ctrl + (size_t)s->n_out * REPLY_CTRL;
		cm = (struct cmsghdr *)mh->msg_control;
		if (si->family == AF_INET) {
			struct in_pktinfo pi = { 0 };

			pi.ipi_spec_dst = si->pi4.ipi_spec_dst;
			mh->msg_controllen = CMSG_SPACE(sizeof(pi));
			cm->cmsg_level = IPPROTO_IP;
			cm->cmsg_type = IP_PKTINFO;
			cm->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		} else {
			struct in6_pktinfo pi = { 0 };

			if (!IN6_IS_ADDR_MULTICAST(&si->pi6.ipi6_addr))
				pi.ipi6_addr = si->pi6.ipi6_addr;
			pi.ipi6_ifindex = si->pi6.ipi6_ifindex;
			mh->msg_controllen = CMSG_SPACE(sizeof(pi));
			cm->cmsg_level = IPPROTO_IPV6;
			cm->cmsg_type = IPV6_PKTINFO;
			cm->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		}
	}
	s->n_out++;
	return 0;
}

void
sock_stats(const struct dg_socket *s, struct strbuf *sb)
{
	const struct dg_stats *st = &s->stats;

	strbuf_printf(sb, " received=%llu bytes=%llu truncated=%llu denied=%llu limited=%llu"
	    " kernel_drops=%llu sent=%llu send_errors=%llu dropped=%llu",
	    (unsigned long long)st->received, (unsigned long long)st->bytes,
	    (unsigned long long)st->truncated, (unsigned long long)st->denied,
	    (unsigned long long)st->limited,
	    (unsigned long long)kernel_drops(s, st->kernel_drops),
	    (unsigned long long)st->sent, (unsigned long long)st->send_errors,
	    (unsigned long long)st->dropped);
	if (s->queue != NULL)
		strbuf_printf(sb, " queued=%u", sock_queued(s));
}
