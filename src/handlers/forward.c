/*
 * handlers/forward.c: the forward handler. Relays each datagram, unchanged, to
 * the targets in "to" (UDP or unix), to all of them, in rotation, or by
 * sender.
 *
 * Each target has its own outbound socket (sock_out.c), so a dead or slow
 * target can only fill its own queue: handle() appends an iovec pointing
 * at the lent bytes to the target's pending batch, and end_batch() sends
 * each batch with one sendmmsg. What would block is copied into the
 * target's bounded queue, sent when its socket is writable; past the bound
 * it is dropped and counted. Host names resolve in the background
 * (resolve.c); until a name resolves its target is skipped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "addr.h"
#include "handler.h"
#include "log.h"
#include "resolve.h"
#include "sock.h"
#include "sock_out.h"
#include "strbuf.h"
#include "util.h"

#define FWD_DEFAULT_QUEUE	1024
#define FWD_MAX_QUEUE		1000000
#define FWD_DEFAULT_RESOLVE	60
#define FWD_MAX_RESOLVE		86400
/* Bytes a queue may hold, whatever queue x max_size says. */
#define FWD_QUEUE_BYTES_MAX	((size_t)4 << 20)
/* Datagrams per sendmmsg call (a longer receive batch is sent in steps). */
#define FWD_PENDING		64
/* Retry period for a name that does not resolve. */
#define FWD_RETRY_MS		5000
/*
 * UDP GSO (UDP_SEGMENT): a run of equal-size datagrams for one UDP target
 * goes out as one message the kernel splits; at most this many segments
 * (the kernel's UDP_MAX_SEGMENTS is 64 or more) and bytes per message.
 */
#ifndef UDP_SEGMENT
#define UDP_SEGMENT		103
#endif
#define FWD_GSO_SEGS		64
#define FWD_GSO_BYTES		65507

enum fwd_mode {
	FWD_ALL,
	FWD_ROUND_ROBIN,
	FWD_HASH,
	_FWD_MODE_MAX,
};

static const char *const mode_names[_FWD_MODE_MAX] = {
	[FWD_ALL] = "all",
	[FWD_ROUND_ROBIN] = "round_robin",
	[FWD_HASH] = "hash",
};

enum target_kind {
	TK_IP,		/* a numeric address */
	TK_HOST,	/* a name, resolved at run time */
	TK_UNIX,
};

struct target_conf {
	char			*spec;		/* as written */
	enum target_kind	 kind;
	char			*host;		/* TK_HOST */
	uint16_t		 port;
	union sockaddr_any	 addr;		/* TK_IP, TK_UNIX */
	socklen_t		 addr_len;
	int			 line;
};

struct fwd_conf {
	struct target_conf	*targets;
	size_t			 n_targets;
	int			 mode;
	long long		 resolve_interval;	/* seconds, 0 = at load only */
	uint32_t		 queue;
};

struct qent {
	uint64_t	pos;	/* in bytes since the queue began; buf offset is pos % size */
	uint32_t	len;
};

/*
 * Datagrams waiting for a writable socket: a byte ring of whole records
 * (one that would cross the end starts again at 0) and a ring of their
 * positions. Allocated once, the first time a target blocks.
 */
struct fwd_queue {
	uint8_t		*buf;
	size_t		 size;
	struct qent	*ent;
	uint32_t	 cap;
	uint32_t	 head;
	uint32_t	 n;
	uint64_t	 wr;
};

struct fwd;

/* One target's state. Owned by struct fwd. */
struct target {
	struct fwd		*f;
	const struct target_conf *tc;
	char			*key;		/* stats key: spec without ' ' or '=' */
	union sockaddr_any	 addr;
	socklen_t		 addr_len;
	bool			 resolved;
	bool			 warned;	/* the current resolve failure was logged */
	struct sock_out		*out;
	struct resolve		*rs;
	struct mmsghdr		 msgs[FWD_PENDING];
	struct iovec		 iov[FWD_PENDING];
	unsigned		 n_pend;
	/* GSO messages built from msgs: first datagram and count of each. */
	bool			 no_gso;	/* the kernel or the path refused it */
	struct mmsghdr		 gmsgs[FWD_PENDING];
	uint8_t			 gfirst[FWD_PENDING];
	uint8_t			 gcount[FWD_PENDING];
	union {
		struct cmsghdr	 align;
		uint8_t		 b[CMSG_SPACE(sizeof(uint16_t))];
	}			 gctrl[FWD_PENDING];
	struct fwd_queue	 q;
	uint64_t		 sent;
	uint64_t		 errors;
	uint64_t		 dropped;
	struct log_ratelimit	 rl;
};

/* A forward handler's state (handler->state). */
struct fwd {
	struct handler		*h;
	const struct fwd_conf	*conf;
	struct target		*t;
	size_t			 n;
	size_t			 rr;		/* next round_robin target */
};

static const char *const fwd_keys[] = { "to", "mode", "resolve_interval", "queue", NULL };

/* --- config -------------------------------------------------------------- */

static void
fwd_conf_free(void *conf)
{
	struct fwd_conf *c = conf;
	size_t i;

	for (i = 0; i < c->n_targets; i++) {
		free(c->targets[i].spec);
		free(c->targets[i].host);
	}
	c->targets = mfree(c->targets);
	c->n_targets = 0;
}

static bool
valid_hostname(const char *h)
{
	size_t n = strlen(h), i;

	if (n == 0 || n > 253 || h[0] == '-' || h[0] == '.')
		return false;
	for (i = 0; i < n; i++)
		if (!(h[i] >= 'a' && h[i] <= 'z') && !(h[i] >= 'A' && h[i] <= 'Z') &&
		    !(h[i] >= '0' && h[i] <= '9') && h[i] != '-' && h[i] != '.' && h[i] != '_')
			return false;
	return true;
}

/* Parses one "to" element; returns 0, -EINVAL or -ENOMEM (msg says why). */
static int
parse_target(const char *s, struct target_conf *tc, const char **msg)
{
	char *host = NULL;
	int r;

	*msg = "must be HOST:PORT, IPV4:PORT, [IPV6]:PORT, unix:PATH or unix:@NAME";
	if (strncmp(s, "unix:", 5) == 0) {
		r = addr_unix(s + 5, &tc->addr, &tc->addr_len);
		if (r == -ENAMETOOLONG)
			*msg = "unix path too long";
		if (r < 0)
			return -EINVAL;
		tc->kind = TK_UNIX;
		return 0;
	}
	r = addr_split_hostport(s, &host, &tc->port);
	if (r < 0)
		return r;
	if (tc->port == 0) {
		*msg = "port must be 1..65535";
		free(host);
		return -EINVAL;
	}
	if (addr_parse_ip(host, AF_UNSPEC, tc->port, &tc->addr, &tc->addr_len) == 0) {
		tc->kind = TK_IP;
		free(host);
		return 0;
	}
	if (s[0] == '[' || !valid_hostname(host)) {
		*msg = "not a valid address or host name";
		free(host);
		return -EINVAL;
	}
	tc->kind = TK_HOST;
	tc->host = host;
	return 0;
}

static int
parse_targets(const config_setting_t *l, struct fwd_conf *c, struct conf_err *err)
{
	const char *msg;
	unsigned n, i, j;
	int r;

	n = (unsigned)config_setting_length(l);
	if (n == 0)
		return conf_err_set(err, l, "must list at least one target");
	c->targets = calloc(n, sizeof(*c->targets));
	if (c->targets == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(l, i);
		struct target_conf *tc = &c->targets[i];
		const char *s;

		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return conf_err_set(err, e, "must be a string such as \"127.0.0.1:514\" "
			    "or \"unix:/run/collector.sock\"");
		s = config_setting_get_string(e);
		for (j = 0; j < i; j++)
			if (strcmp(c->targets[j].spec, s) == 0)
				return conf_err_set(err, e, "\"%.80s\" is listed twice", s);
		r = parse_target(s, tc, &msg);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			return conf_err_set(err, e, "%s, got \"%.80s\"", msg, s);
		tc->spec = strdup(s);
		if (tc->spec == NULL) {
			free(tc->host);
			tc->host = NULL;
			return -ENOMEM;
		}
		tc->line = (int)config_setting_source_line(e);
		c->n_targets++;
	}
	return 0;
}

static int
fwd_parse(const config_setting_t *s, void *conf, struct conf_err *err)
{
	struct fwd_conf *c = conf;
	config_setting_t *l;
	long long v;
	int r;

	c->mode = FWD_ALL;
	c->resolve_interval = FWD_DEFAULT_RESOLVE;
	c->queue = FWD_DEFAULT_QUEUE;
	r = conf_get_list(s, "to", &l, err);
	if (r < 0)
		return r;
	if (r == 0)
		return conf_err_key(err, s, "to", "missing: the list of targets, e.g. "
		    "[ \"127.0.0.1:514\", \"unix:/run/collector.sock\" ]");
	r = parse_targets(l, c, err);
	if (r < 0)
		return r;
	r = conf_get_enum(s, "mode", mode_names, _FWD_MODE_MAX, &c->mode, err);
	if (r < 0)
		return r;
	r = conf_get_int(s, "resolve_interval", 0, FWD_MAX_RESOLVE, &v, err);
	if (r < 0)
		return r;
	if (r > 0)
		c->resolve_interval = v;
	r = conf_get_int(s, "queue", 0, FWD_MAX_QUEUE, &v, err);
	if (r < 0)
		return r;
	if (r > 0)
		c->queue = (uint32_t)v;
	return 0;
}

static bool
is_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
	const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

	if (sa->sa_family == AF_INET)
		return (ntohl(in->sin_addr.s_addr) >> 24) == IN_LOOPBACKNET;
	return sa->sa_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
}

static bool
is_any(const struct sockaddr *sa)
{
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
	const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

	if (sa->sa_family == AF_INET)
		return in->sin_addr.s_addr == htonl(INADDR_ANY);
	return sa->sa_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr);
}

static uint16_t
port_of(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
	return 0;
}

/*
 * True when a datagram sent to a would arrive on a listener bound to l:
 * the same address and port (or path); a listener on all addresses takes
 * at least the loopback addresses of its port, and a dual-stack udp6
 * listener on :: takes IPv4 too.
 */
static bool
reaches(const struct sockaddr *a, socklen_t alen, const struct sockaddr *l, socklen_t llen,
    bool dual)
{
	if (a->sa_family == AF_UNIX || l->sa_family == AF_UNIX)
		return addr_equal(a, alen, l, llen);
	if (port_of(a) == 0 || port_of(a) != port_of(l))
		return false;
	if (a->sa_family != l->sa_family && !(dual && a->sa_family == AF_INET))
		return false;
	if (is_any(l))
		return is_loopback(a);
	return addr_equal(a, alen, l, llen);
}

static int
fwd_validate(const void *conf, const struct sock_conf *sc, const struct conf *all,
    const config_setting_t *s, struct conf_err *err)
{
	const struct fwd_conf *c = conf;
	size_t i, j;

	(void)sc;
	for (i = 0; i < c->n_targets; i++) {
		const struct target_conf *tc = &c->targets[i];

		if (tc->kind == TK_HOST)
			continue;
		for (j = 0; j < all->n_socks; j++) {
			const struct sock_conf *o = &all->socks[j];

			if (!reaches(&tc->addr.sa, tc->addr_len, &o->addr.sa, o->addr_len,
			    o->type == SOCK_T_UDP6 && o->ipv6_only == 0))
				continue;
			return conf_err_set(err, config_setting_get_elem(
			    config_setting_get_member(s, "to"), (unsigned)i),
			    "\"%.80s\" is this daemon's own socket \"%s\" (line %d): "
			    "forwarding there would loop", tc->spec, o->name, o->line);
		}
	}
	return 0;
}

static int
fwd_test(const void *conf, const char *file, struct conf_err *err)
{
	const struct fwd_conf *c = conf;
	union sockaddr_any a;
	socklen_t len;
	size_t i;
	int r;

	(void)err;
	for (i = 0; i < c->n_targets; i++) {
		if (c->targets[i].kind != TK_HOST)
			continue;
		r = resolve_sync(c->targets[i].host, c->targets[i].port, &a, &len);
		if (r != 0)
			log_warning("%s:%d: forward target \"%s\": cannot resolve \"%s\": %s; "
			    "it will be skipped until it resolves", file, c->targets[i].line,
			    c->targets[i].spec, c->targets[i].host, gai_strerror(r));
	}
	return 0;
}

/* --- counting ------------------------------------------------------------ */

static struct dg_stats *
sock_counters(struct target *t)
{
	return &t->f->h->sock->stats;
}

static void
count_sent(struct target *t, unsigned n)
{
	t->sent += n;
	sock_counters(t)->sent += n;
}

static void
count_dropped(struct target *t, unsigned n)
{
	t->dropped += n;
	sock_counters(t)->dropped += n;
}

/* A send to t failed with r: count it, log at a limited rate. */
static void
send_failed(struct target *t, int r, unsigned n)
{
	t->errors += n;
	sock_counters(t)->send_errors += n;
	if (!log_ratelimit_ok(&t->rl))
		return;
	log_warning_errno(r, "%s: forward to %s: %m, ignoring%s", t->f->h->sock->name,
	    t->tc->spec, t->rl.suppressed ? " (more suppressed)" : "");
}

/* --- the queue ----------------------------------------------------------- */

static int
queue_alloc(struct target *t)
{
	struct fwd_queue *q = &t->q;
	size_t size;

	q->cap = t->f->conf->queue;
	size = (size_t)q->cap * MAX(t->f->h->sock_conf->max_size, 1u);
	q->size = MIN(size, FWD_QUEUE_BYTES_MAX);
	q->buf = malloc(q->size);
	q->ent = calloc(q->cap, sizeof(*q->ent));
	if (q->buf == NULL || q->ent == NULL) {
		q->buf = mfree(q->buf);
		q->ent = mfree(q->ent);
		q->cap = 0;
		return -ENOMEM;
	}
	return 0;
}

/* Copies a datagram into the queue; false when it does not fit. */
static bool
queue_push(struct fwd_queue *q, const void *data, size_t len)
{
	uint64_t p = q->wr, rd;

	if (q->n == q->cap || len > q->size)
		return false;
	if (p % q->size + len > q->size)
		p += q->size - p % q->size;	/* records never wrap */
	rd = q->n > 0 ? q->ent[q->head].pos : p;
	if (p + len - rd > q->size)
		return false;
	if (len > 0)
		memcpy(q->buf + p % q->size, data, len);
	q->ent[(q->head + q->n) % q->cap] = (struct qent){ p, (uint32_t)len };
	q->n++;
	q->wr = p + len;
	return true;
}

static void
queue_pop(struct fwd_queue *q, unsigned n)
{
	q->head = (q->head + n) % q->cap;
	q->n -= n;
}

static void
enqueue(struct target *t, const void *data, size_t len)
{
	int r;

	if (t->f->conf->queue > 0 && t->q.buf == NULL && queue_alloc(t) < 0) {
		count_dropped(t, 1);
		return;
	}
	if (t->f->conf->queue == 0 || !queue_push(&t->q, data, len)) {
		count_dropped(t, 1);
		if (log_ratelimit_ok(&t->rl))
			log_warning("%s: forward to %s: queue full (%u waiting), dropping%s",
			    t->f->h->sock->name, t->tc->spec, t->q.n,
			    t->rl.suppressed ? " (more suppressed)" : "");
		return;
	}
	if (t->q.n == 1) {
		r = sock_out_want_write(t->out, true);
		if (r < 0)
			log_warning_errno(r, "%s: forward to %s: cannot wait for the socket: %m",
			    t->f->h->sock->name, t->tc->spec);
	}
}

/* --- sending ------------------------------------------------------------- */

/* Unix targets are connected, so writability follows the receiver's queue. */
static int
ensure_connected(struct target *t)
{
	if (t->tc->kind != TK_UNIX || sock_out_connected(t->out))
		return 0;
	return sock_out_connect(t->out, &t->addr.sa, t->addr_len);
}

static void
set_msg(struct target *t, unsigned i, const void *data, size_t len)
{
	struct msghdr *mh = &t->msgs[i].msg_hdr;

	t->iov[i].iov_base = (void *)(uintptr_t)data;
	t->iov[i].iov_len = len;
	memset(mh, 0, sizeof(*mh));
	mh->msg_iov = &t->iov[i];
	mh->msg_iovlen = 1;
	if (t->tc->kind != TK_UNIX) {
		mh->msg_name = &t->addr;
		mh->msg_namelen = t->addr_len;
	}
}

/*
 * Sends msgs[first..first + n) of t; returns how many were dealt with
 * (sent or failed) before the socket would block. A failing message is counted
 * and skipped, the rest still go out.
 */
static unsigned
send_msgs(struct target *t, unsigned first, unsigned n)
{
	unsigned i = first;
	int r;

	n += first;

	while (i < n) {
		r = ensure_connected(t);
		if (r < 0) {
			send_failed(t, r, n - i);
			return n - first;
		}
		r = sock_out_send(t->out, t->msgs + i, n - i);
		if (r > 0) {
			count_sent(t, (unsigned)r);
			i += (unsigned)r;
			continue;
		}
		if (r == -EAGAIN)
			break;
		if (r == 0)
			r = -EIO;
		send_failed(t, r, 1);
		i++;
		/* A unix receiver that went away may come back at the same path. */
		if (t->tc->kind == TK_UNIX && (r == -ECONNREFUSED || r == -ENOTCONN))
			sock_out_disconnect(t->out);
	}
	return i - first;
}

/*
 * Groups msgs[0..n) of a UDP target into GSO messages: each run of
 * equal-size datagrams (the last one of a run may be shorter) becomes one
 * message with a UDP_SEGMENT size; a datagram alone stays as it is.
 * Returns the number of messages, or 0 when no run has two datagrams.
 */
static unsigned
build_gso(struct target *t, unsigned n)
{
	unsigned i = 0, j, k = 0;
	size_t size, total;
	bool any = false;

	while (i < n) {
		size = t->iov[i].iov_len;
		total = size;
		j = i + 1;
		if (size > 0) {
			while (j < n && j - i < FWD_GSO_SEGS && t->iov[j].iov_len == size &&
			    total + size <= FWD_GSO_BYTES) {
				total += size;
				j++;
			}
			if (j < n && j - i < FWD_GSO_SEGS && t->iov[j].iov_len > 0 &&
			    t->iov[j].iov_len < size && total + t->iov[j].iov_len <= FWD_GSO_BYTES)
				j++;
		}
		t->gfirst[k] = (uint8_t)i;
		t->gcount[k] = (uint8_t)(j - i);
		t->gmsgs[k].msg_hdr = t->msgs[i].msg_hdr;
		if (j - i > 1) {
			struct msghdr *mh = &t->gmsgs[k].msg_hdr;
			struct cmsghdr *cm = (struct cmsghdr *)(void *)t->gctrl[k].b;
			uint16_t seg = (uint16_t)size;

			mh->msg_iovlen = j - i;
			mh->msg_control = t->gctrl[k].b;
			mh->msg_controllen = sizeof(t->gctrl[k].b);
			cm->cmsg_level = SOL_UDP;
			cm->cmsg_type = UDP_SEGMENT;
			cm->cmsg_len = CMSG_LEN(sizeof(seg));
			memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
			any = true;
		}
		k++;
		i = j;
	}
	return any ? k : 0;
}

/*
 * Sends msgs[0..n) of a UDP target as GSO messages; returns how many
 * datagrams were dealt with (sent or failed) before the socket would
 * block, like send_msgs. A message the kernel refuses (no GSO on the
 * route, a datagram beyond the path MTU) goes out again without GSO;
 * when GSO itself is unsupported it stays off for this target.
 */
static unsigned
send_gso(struct target *t, unsigned n)
{
	unsigned m, k = 0, i, done;
	int r;

	m = build_gso(t, n);
	if (m == 0)
		return send_msgs(t, 0, n);
	while (k < m) {
		r = sock_out_send(t->out, t->gmsgs + k, m - k);
		if (r > 0) {
			for (i = 0; i < (unsigned)r; i++)
				count_sent(t, t->gcount[k + i]);
			k += (unsigned)r;
			continue;
		}
		if (r == -EAGAIN)
			return t->gfirst[k];
		if (t->gcount[k] == 1) {
			send_failed(t, r == 0 ? -EIO : r, 1);
			k++;
			continue;
		}
		if (r == -EIO || r == -EINVAL || r == -EMSGSIZE || r == -ENOPROTOOPT ||
		    r == -EOPNOTSUPP)
			t->no_gso = true;
		done = send_msgs(t, t->gfirst[k], t->gcount[k]);
		if (done < t->gcount[k])
			return t->gfirst[k] + done;
		k++;
	}
	return n;
}

/* Sends t's pending batch; what would block goes to its queue. */
static void
send_pending(struct target *t)
{
	unsigned done, i;

	if (t->n_pend == 0)
		return;
	if (t->tc->kind != TK_UNIX && !t->no_gso && t->n_pend > 1)
		done = send_gso(t, t->n_pend);
	else
		done = send_msgs(t, 0, t->n_pend);
	for (i = done; i < t->n_pend; i++)
		enqueue(t, t->iov[i].iov_base, t->iov[i].iov_len);
	t->n_pend = 0;
}

/* The socket of t is writable: send its queue, oldest first. */
static void
drain(void *userdata)
{
	struct target *t = userdata;
	struct fwd_queue *q = &t->q;
	unsigned k, i, done;
	int r;

	while (q->n > 0) {
		k = MIN(q->n, FWD_PENDING);
		for (i = 0; i < k; i++) {
			const struct qent *e = &q->ent[(q->head + i) % q->cap];

			set_msg(t, i, q->buf + e->pos % q->size, e->len);
		}
		done = send_msgs(t, 0, k);
		queue_pop(q, done);
		if (done < k)
			return;	/* would block: wait for the next writable event */
	}
	r = sock_out_want_write(t->out, false);
	if (r < 0)
		log_debug_errno(r, "forward to %s: %m", t->tc->spec);
}

static void
push(struct target *t, const struct dgram *d)
{
	if (!t->resolved) {
		count_dropped(t, 1);
		return;
	}
	/* Behind a backlog, keep the order: queue. */
	if (t->q.n > 0) {
		enqueue(t, d->data, d->len);
		return;
	}
	if (t->n_pend == FWD_PENDING)
		send_pending(t);
	if (t->q.n > 0) {
		enqueue(t, d->data, d->len);
		return;
	}
	set_msg(t, t->n_pend++, d->data, d->len);
}

/* The resolved target at or after i (in rotation), or NULL. */
static struct target *
next_resolved(struct fwd *f, size_t i)
{
	size_t k;

	for (k = 0; k < f->n; k++)
		if (f->t[(i + k) % f->n].resolved)
			return &f->t[(i + k) % f->n];
	return NULL;
}

/* Per sender: the IP address whatever the port, or a unix sender's uid. */
static uint32_t
sender_hash(const struct dgram *d)
{
	uint32_t h = 2166136261u, uid;
	unsigned i;

	if (d->peer != NULL && (d->peer->sa_family == AF_INET ||
	    d->peer->sa_family == AF_INET6))
		return addr_hash_ip(d->peer, d->peer_len);
	uid = d->cred != NULL ? (uint32_t)d->cred->uid : 0;
	for (i = 0; i < 4; i++) {
		h ^= (uid >> (8 * i)) & 0xff;
		h *= 16777619u;
	}
	return h;
}

static int
fwd_handle(struct handler *h, const struct dgram *d)
{
	struct fwd *f = h->state;
	struct target *t;
	size_t i;

	switch (f->conf->mode) {
	case FWD_ROUND_ROBIN:
		i = f->rr % f->n;
		t = next_resolved(f, i);
		if (t == NULL) {
			f->rr = i + 1;
			count_dropped(&f->t[i], 1);
			return 0;
		}
		f->rr = (size_t)(t - f->t) + 1;
		push(t, d);
		return 0;
	case FWD_HASH:
		i = sender_hash(d) % f->n;
		t = next_resolved(f, i);
		push(t != NULL ? t : &f->t[i], d);
		return 0;
	default:
		for (i = 0; i < f->n; i++)
			push(&f->t[i], d);
		return 0;
	}
}

static void
fwd_end_batch(struct handler *h)
{
	struct fwd *f = h->state;
	size_t i;

	for (i = 0; i < f->n; i++)
		send_pending(&f->t[i]);
}

/* --- resolution ---------------------------------------------------------- */

/* True when a datagram to a would come back to the socket this handler serves. */
static bool
is_self(const struct fwd *f, const union sockaddr_any *a, socklen_t len)
{
	const struct dg_socket *s = f->h->sock;

	return reaches(&a->sa, len, &s->local.sa, s->local_len,
	    s->type == SOCK_T_UDP6 && f->h->sock_conf->ipv6_only == 0);
}

static void
on_resolved(void *userdata, int err, const union sockaddr_any *a, socklen_t len)
{
	struct target *t = userdata;
	struct fwd *f = t->f;
	char buf[ADDR_STRLEN];
	int r;

	if (err != 0) {
		if (!t->warned)
			log_warning("%s: forward to %s: cannot resolve \"%s\": %s; %s",
			    f->h->sock->name, t->tc->spec, t->tc->host, gai_strerror(err),
			    t->resolved ? "keeping the last address" :
			    "skipping it, retrying in the background");
		t->warned = true;
		return;
	}
	t->warned = false;
	if (is_self(f, a, len)) {
		log_error("%s: forward to %s: resolves to %s, this very socket: "
		    "skipping it, forwarding there would loop", f->h->sock->name, t->tc->spec,
		    addr_format(&a->sa, len, buf, sizeof(buf)));
		t->resolved = false;
		return;
	}
	if (t->out != NULL && sock_out_family(t->out) != a->sa.sa_family)
		t->out = sock_out_free(t->out);
	if (t->out == NULL) {
		r = sock_out_new(f->h->reactor, a->sa.sa_family, f->h->sock_conf, drain, t,
		    &t->out);
		if (r < 0) {
			log_warning_errno(r, "%s: forward to %s: cannot open a socket: %m",
			    f->h->sock->name, t->tc->spec);
			t->resolved = false;
			return;
		}
		if (t->q.n > 0)
			(void)sock_out_want_write(t->out, true);
	}
	if (!t->resolved || !addr_equal(&t->addr.sa, t->addr_len, &a->sa, len))
		log_info("%s: forward to %s: %s", f->h->sock->name, t->tc->spec,
		    addr_format(&a->sa, len, buf, sizeof(buf)));
	t->addr = *a;
	t->addr_len = len;
	t->resolved = true;
}

static int
start_resolve(struct target *t)
{
	const struct fwd_conf *c = t->f->conf;
	uint64_t interval = (uint64_t)c->resolve_interval * 1000;

	return resolve_new(t->f->h->reactor, t->tc->host, t->tc->port, interval,
	    interval > 0 ? MIN(interval, FWD_RETRY_MS) : FWD_RETRY_MS, on_resolved, t, &t->rs);
}

/* --- life cycle ---------------------------------------------------------- */

static int
target_init(struct fwd *f, struct target *t, const struct target_conf *tc)
{
	char *p;

	t->f = f;
	t->tc = tc;
	t->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT;
	t->key = strdup(tc->spec);
	if (t->key == NULL)
		return -ENOMEM;
	for (p = t->key; *p != '\0'; p++)
		if (*p == ' ' || *p == '=' || *p == '\t' || *p == '\n')
			*p = '_';
	if (tc->kind == TK_HOST)
		return start_resolve(t);
	t->addr = tc->addr;
	t->addr_len = tc->addr_len;
	t->resolved = true;
	return sock_out_new(f->h->reactor, tc->kind == TK_UNIX ? AF_UNIX : tc->addr.sa.sa_family,
	    f->h->sock_conf, drain, t, &t->out);
}

static bool
same_targets(const struct fwd_conf *a, const struct fwd_conf *b)
{
	size_t i;

	if (a->n_targets != b->n_targets || a->queue != b->queue)
		return false;
	for (i = 0; i < a->n_targets; i++)
		if (strcmp(a->targets[i].spec, b->targets[i].spec) != 0)
			return false;
	return true;
}

/* Takes over old's sockets, queues, addresses and counters (reload). */
static int
take_over(struct handler *h, struct handler *old)
{
	struct fwd *f = old->state;
	const struct fwd_conf *was = f->conf;
	size_t i;
	int r;

	old->state = NULL;
	h->state = f;
	f->h = h;
	f->conf = h->conf;
	for (i = 0; i < f->n; i++) {
		struct target *t = &f->t[i];

		t->tc = &f->conf->targets[i];
		if (t->out != NULL) {
			r = sock_out_apply(t->out, h->sock_conf);
			if (r < 0)
				log_warning_errno(r, "%s: forward to %s: cannot apply socket "
				    "options: %m", h->sock->name, t->tc->spec);
		}
		if (t->tc->kind != TK_HOST || was->resolve_interval == f->conf->resolve_interval)
			continue;
		t->rs = resolve_free(t->rs);
		r = start_resolve(t);
		if (r < 0)
			return r;
	}
	return 0;
}

static int
fwd_start(struct handler *h, struct handler *old)
{
	const struct fwd_conf *c = h->conf;
	struct fwd *f;
	size_t i;
	int r;

	if (old != NULL && old->state != NULL &&
	    same_targets(((struct fwd *)old->state)->conf, c))
		return take_over(h, old);
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -ENOMEM;
	h->state = f;
	f->h = h;
	f->conf = c;
	f->t = calloc(c->n_targets, sizeof(*f->t));
	if (f->t == NULL)
		return -ENOMEM;
	for (i = 0; i < c->n_targets; i++) {
		f->n++;
		r = target_init(f, &f->t[i], &c->targets[i]);
		if (r < 0)
			return log_error_errno(r, "%s: forward to %s: %m", h->sock->name,
			    c->targets[i].spec);
	}
	return 0;
}

static void
fwd_stats(const struct handler *h, struct strbuf *sb)
{
	const struct fwd *f = h->state;
	size_t i;

	if (f == NULL)
		return;
	for (i = 0; i < f->n; i++) {
		const struct target *t = &f->t[i];

		strbuf_printf(sb, " fwd.%s.sent=%llu fwd.%s.errors=%llu fwd.%s.queued=%u"
		    " fwd.%s.dropped=%llu", t->key, (unsigned long long)t->sent, t->key,
		    (unsigned long long)t->errors, t->key, t->q.n, t->key,
		    (unsigned long long)t->dropped);
	}
}

static void
fwd_stop(struct handler *h)
{
	struct fwd *f = h->state;
	size_t i;

	if (f == NULL)
		return;
	for (i = 0; i < f->n; i++) {
		struct target *t = &f->t[i];

		/* Send what can go without waiting; the rest is lost, counted. */
		if (t->out != NULL && t->q.n > 0)
			drain(t);
		if (t->q.n > 0)
			count_dropped(t, t->q.n);
		t->rs = resolve_free(t->rs);
		t->out = sock_out_free(t->out);
		free(t->q.buf);
		free(t->q.ent);
		free(t->key);
	}
	free(f->t);
	h->state = mfree(f);
}

/* mode "hash" keeps a unix sender (by uid) on one target. */
static bool
fwd_wants_cred(const void *conf)
{
	return ((const struct fwd_conf *)conf)->mode == FWD_HASH;
}

const struct handler_ops forward_handler_ops = {
	.type = "forward",
	.keys = fwd_keys,
	.conf_size = sizeof(struct fwd_conf),
	.parse = fwd_parse,
	.conf_free = fwd_conf_free,
	.validate = fwd_validate,
	.test = fwd_test,
	.start = fwd_start,
	.wants_cred = fwd_wants_cred,
	.handle = fwd_handle,
	.end_batch = fwd_end_batch,
	.stats = fwd_stats,
	.stop = fwd_stop,
};
