/*
 * handlers/forward.c: the forward handler. Relays each datagram, unchanged, to
 * the targets in "to" (UDP or unix), to all of them, in rotation, or by
 * sender.
 *
 * Each target has its own outbound socket (sock_out.c) and send path
 * (txq.c), so a dead or slow target can only fill its own queue: handle()
 * adds the lent bytes to the target's batch, and end_batch() sends each
 * batch with one sendmmsg (UDP GSO runs). What would block is copied into
 * the target's bounded queue, sent when its socket is writable; past the
 * bound it is dropped and counted. Host names resolve in the background
 * (resolve.c); until a name resolves its target is skipped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "addr.h"
#include "handler.h"
#include "log.h"
#include "resolve.h"
#include "session.h"
#include "sock.h"
#include "sock_out.h"
#include "stats.h"
#include "txq.h"
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
/* Sessions (replies = true). */
#define FWD_DEFAULT_IDLE	30
#define FWD_MAX_IDLE		86400
#define FWD_DEFAULT_SESSIONS	4096
#define FWD_MAX_SESSIONS	1000000
#define FWD_MAX_RESPONSES	1000000000
/* The expiry timer's period while sessions exist. */
#define FWD_EXPIRE_TICK_MS	250
/* Passive health: the first back-off of a target that refused, and the longest. */
#define FWD_BACKOFF_MIN_MS	1000
#define FWD_BACKOFF_MAX_MS	30000
/* Replies read per send to clients (one sendmmsg), the largest one, legs per wakeup. */
#define FWD_REPLY_BATCH		64
#define FWD_REPLY_MAX		65535
/* Descriptors -t keeps aside for everything but session legs. */
#define FWD_FD_RESERVE		64

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
	bool			 replies;
	uint32_t		 idle_timeout;		/* seconds */
	uint32_t		 responses;		/* 0: no limit */
	uint32_t		 max_sessions;
	int			 line;			/* of the handler block */
	char			*sock_name;		/* for messages */
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
	struct txq		*txq;
	uint64_t		 sent;
	uint64_t		 errors;
	uint64_t		 dropped;
	struct log_ratelimit	 rl;
	/* Sessions: replies relayed, and passive health. */
	uint64_t		 replies;
	uint64_t		 down_until;	/* CLOCK_MONOTONIC ms; down before it */
	uint32_t		 backoff_ms;	/* the last back-off; 0 after a reply */
};

struct fsess;

/* One leg of a session: a socket connected to one target. */
struct leg {
	struct fsess		*s;
	struct target		*t;
	int			 fd;		/* in the handler's legs fd set */
};

/* A session: a client of the listening socket and its legs. */
struct fsess {
	struct session		 base;
	struct fwd		*f;
	uint64_t		 created_ms;
	uint64_t		 to_targets;	/* datagrams from the client */
	uint64_t		 to_client;	/* replies relayed */
	struct fsess		*next_done;	/* ends after this wakeup's replies are sent */
	bool			 done;
	unsigned		 n_legs;
	struct leg		 legs[];
};

/* A forward handler's state (handler->state). */
struct fwd {
	struct handler		*h;
	const struct fwd_conf	*conf;
	struct target		*t;
	size_t			 n;
	size_t			 rr;		/* next round_robin target */
	/* Sessions (replies = true). */
	struct sess_table	 table;
	struct handler_timer	*expire_timer;
	/*
	 * The legs' sockets are one fd set (the core's service): one wakeup
	 * reads every ready leg and sends all their replies with one sendmmsg.
	 */
	struct handler_fdset	*legs;
	uint8_t			*rbuf;		/* replies are read here */
	struct mmsghdr		*rmsgs;
	struct iovec		*riov;
	uint64_t		 created;
	uint64_t		 expired;
	uint64_t		 full;
	uint64_t		 unbound;
	struct log_ratelimit	 full_rl;
};

static const char *const fwd_keys[] = { "to", "mode", "resolve_interval", "queue", "replies",
	"idle_timeout", "responses", "max_sessions", NULL };

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
	c->sock_name = mfree(c->sock_name);
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

/* replies, idle_timeout, responses, max_sessions. */
static int
parse_sessions(const config_setting_t *s, struct fwd_conf *c, struct conf_err *err)
{
	const config_setting_t *sock = config_setting_parent(config_setting_parent(s));
	const char *name = NULL;
	long long v;
	int r;

	c->idle_timeout = FWD_DEFAULT_IDLE;
	c->max_sessions = FWD_DEFAULT_SESSIONS;
	c->line = (int)config_setting_source_line(s);
	if (sock != NULL && config_setting_lookup_string(sock, "name", &name) == CONFIG_TRUE) {
		c->sock_name = strdup(name);
		if (c->sock_name == NULL)
			return -ENOMEM;
	}
	r = conf_get_bool(s, "replies", &c->replies, err);
	if (r < 0)
		return r;
	r = conf_get_int(s, "idle_timeout", 1, FWD_MAX_IDLE, &v, err);
	if (r < 0)
		return r;
	if (r > 0)
		c->idle_timeout = (uint32_t)v;
	r = conf_get_int(s, "responses", 0, FWD_MAX_RESPONSES, &v, err);
	if (r < 0)
		return r;
	if (r > 0)
		c->responses = (uint32_t)v;
	r = conf_get_int(s, "max_sessions", 1, FWD_MAX_SESSIONS, &v, err);
	if (r < 0)
		return r;
	if (r > 0)
		c->max_sessions = (uint32_t)v;
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
	return parse_sessions(s, c, err);
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

/* Sockets a handler's full session table holds: one per leg. */
static uint64_t
session_fds(const struct fwd_conf *c)
{
	uint64_t legs = c->mode == FWD_ALL ? c->n_targets : 1;

	return c->replies ? (uint64_t)c->max_sessions * legs : 0;
}

/*
 * A full session table must fit in the open-file limit dgramd raises
 * itself to at start (the hard limit), besides FWD_FD_RESERVE for the
 * listening sockets, targets, files and the control socket.
 */
static int
check_fd_budget(const struct fwd_conf *c, const char *file, struct conf_err *err)
{
	uint64_t need = session_fds(c);
	struct rlimit rl;

	if (need == 0 || getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_max == RLIM_INFINITY)
		return 0;
	if (need + FWD_FD_RESERVE <= (uint64_t)rl.rlim_max)
		return 0;
	snprintf(err->msg, sizeof(err->msg), "%s:%d: forward handler of socket \"%s\": "
	    "max_sessions %u x %llu leg%s = %llu sockets do not fit in the open-file limit "
	    "%llu (less %d kept for the rest): lower max_sessions or raise LimitNOFILE=",
	    file, c->line, c->sock_name != NULL ? c->sock_name : "?", c->max_sessions,
	    (unsigned long long)(c->mode == FWD_ALL ? c->n_targets : 1),
	    c->mode == FWD_ALL && c->n_targets > 1 ? "s" : "", (unsigned long long)need,
	    (unsigned long long)rl.rlim_max, FWD_FD_RESERVE);
	return -EMFILE;
}

static int
fwd_test(const void *conf, const char *file, struct conf_err *err)
{
	const struct fwd_conf *c = conf;
	union sockaddr_any a;
	socklen_t len;
	size_t i;
	int r;

	r = check_fd_budget(c, file, err);
	if (r < 0)
		return r;
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


static void
count_sent(struct target *t, unsigned n)
{
	t->sent += n;
	handler_count(t->f->h, HANDLER_SENT, n);
}

static void
count_dropped(struct target *t, unsigned n)
{
	t->dropped += n;
	handler_count(t->f->h, HANDLER_DROPPED, n);
}

/* --- sending (the txq's callbacks) -------------------------------------- */

static void
on_sent(void *userdata, unsigned n)
{
	count_sent(userdata, n);
}

/* A send to t failed with r: count it, log at a limited rate. */
static void
count_failed(struct target *t, int r, unsigned n)
{
	t->errors += n;
	handler_count(t->f->h, HANDLER_SEND_ERRORS, n);
	/* A unix receiver that went away may come back at the same path. */
	if (t->tc->kind == TK_UNIX && (r == -ECONNREFUSED || r == -ENOTCONN))
		sock_out_disconnect(t->out);
	if (!log_ratelimit_ok(&t->rl))
		return;
	log_warning_errno(r, "%s: forward to %s: %m, ignoring%s", t->f->h->sock->name,
	    t->tc->spec, t->rl.suppressed ? " (more suppressed)" : "");
}

static void
on_failed(void *userdata, int r, unsigned n)
{
	struct target *t = userdata;

	/* A unix receiver that went away may come back at the same path. */
	if (t->tc->kind == TK_UNIX && (r == -ECONNREFUSED || r == -ENOTCONN))
		sock_out_disconnect(t->out);
	count_failed(t, r, n);
}

static void
on_dropped(void *userdata, unsigned n)
{
	struct target *t = userdata;

	count_dropped(t, n);
	if (log_ratelimit_ok(&t->rl))
		log_warning("%s: forward to %s: queue full (%u waiting), dropping%s",
		    t->f->h->sock->name, t->tc->spec, txq_queued(t->txq),
		    t->rl.suppressed ? " (more suppressed)" : "");
}

/* Unix targets are connected, so writability follows the receiver's queue. */
static int
on_prepare(void *userdata)
{
	struct target *t = userdata;

	if (t->tc->kind != TK_UNIX || sock_out_connected(t->out))
		return 0;
	return sock_out_connect(t->out, &t->addr.sa, t->addr_len);
}

static void
on_want_write(void *userdata, bool on)
{
	struct target *t = userdata;
	int r;

	if (t->out == NULL)
		return;
	r = handler_want_write(t->f->h, t->out, on);
	if (r < 0)
		log_warning_errno(r, "%s: forward to %s: cannot wait for the socket: %m",
		    t->f->h->sock->name, t->tc->spec);
}

static const struct txq_ops fwd_txq_ops = {
	.prepare = on_prepare,
	.want_write = on_want_write,
	.sent = on_sent,
	.failed = on_failed,
	.dropped = on_dropped,
};

/* The socket of t is writable: send its queue, oldest first. */
static void
drain(void *userdata)
{
	struct target *t = userdata;

	txq_drain(t->txq);
}

static void
push(struct target *t, const struct dgram *d)
{
	if (!t->resolved) {
		count_dropped(t, 1);
		return;
	}
	txq_add(t->txq, d->data, d->len, NULL, 0, NULL, 0);
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

/* --- sessions (replies = true) ------------------------------------------- */

static bool
target_up(const struct target *t, uint64_t now)
{
	return t->resolved && now >= t->down_until;
}

/* A send or receive on a leg to t failed with r: ICMP says the target is down. */
static void
leg_failed(struct target *t, int r, uint64_t now)
{
	if (r != -ECONNREFUSED && r != -EHOSTUNREACH && r != -ENETUNREACH)
		return;
	if (now < t->down_until)
		return;
	t->backoff_ms = t->backoff_ms == 0 ? FWD_BACKOFF_MIN_MS :
	    MIN(t->backoff_ms * 2, FWD_BACKOFF_MAX_MS);
	t->down_until = now + t->backoff_ms;
	if (log_ratelimit_ok(&t->rl))
		log_warning_errno(r, "%s: forward to %s: %m; down for %u ms%s",
		    t->f->h->sock->name, t->tc->spec, t->backoff_ms,
		    t->rl.suppressed ? " (more suppressed)" : "");
}

/* A reply came from t: it is up, and its next back-off starts again at the minimum. */
static void
target_answered(struct target *t)
{
	t->down_until = 0;
	t->backoff_ms = 0;
}

/*
 * The target of a new session (round_robin, hash): up targets only while
 * there is one; hash re-picks among the up ones, so a sender stays on its
 * target as long as that is up. NULL: no target has an address.
 */
static struct target *
pick_target(struct fwd *f, const struct dgram *d, uint64_t now)
{
	size_t i, k, n_up = 0;
	uint32_t h;

	if (f->n == 0)
		return NULL;
	if (f->conf->mode == FWD_ROUND_ROBIN) {
		for (k = 0; k < f->n; k++) {
			i = (f->rr + k) % f->n;
			if (target_up(&f->t[i], now)) {
				f->rr = i + 1;
				return &f->t[i];
			}
		}
		i = f->rr % f->n;
		f->rr = i + 1;
		return next_resolved(f, i);
	}
	h = sender_hash(d);
	i = h % f->n;
	if (target_up(&f->t[i], now))
		return &f->t[i];
	for (k = 0; k < f->n; k++)
		n_up += target_up(&f->t[k], now);
	if (n_up == 0)
		return next_resolved(f, i);
	n_up = h % n_up;
	for (k = 0; k < f->n; k++)
		if (target_up(&f->t[k], now) && n_up-- == 0)
			return &f->t[k];
	return NULL;
}

static void
leg_close(struct fwd *f, struct leg *l)
{
	if (l->fd >= 0)
		handler_fdset_del(f->h, f->legs, l->fd);
	l->fd = safe_close(l->fd);
	l->t = NULL;
}

static int
leg_watch(struct fwd *f, struct leg *l)
{
	return handler_fdset_add(f->h, f->legs, l->fd, l);
}

/* Opens l's socket, connected to t. 0 or -errno. */
static int
leg_open(struct fwd *f, struct leg *l, struct target *t)
{
	static const struct sockaddr autobind = { .sa_family = AF_UNIX };
	int family = t->addr.sa.sa_family, r;

	l->t = t;
	/* It carries the listener's outbound options, as a one-way target's socket does. */
	l->fd = handler_open_leg(f->h, family);
	if (l->fd < 0) {
		r = l->fd;
		l->fd = -1;
		l->t = NULL;
		return r;
	}
	/* A unix target answers to a name: the kernel picks an abstract one. */
	if (family == AF_UNIX && bind(l->fd, &autobind, sizeof(sa_family_t)) < 0)
		goto fail;
	if (connect(l->fd, &t->addr.sa, t->addr_len) < 0 && errno != ECONNREFUSED &&
	    errno != ENOENT)
		goto fail;
	r = leg_watch(f, l);
	if (r < 0) {
		leg_close(f, l);
		return r;
	}
	return 0;
fail:
	r = -errno;
	leg_close(f, l);
	return r;
}

static void
session_free(struct fwd *f, struct fsess *s)
{
	unsigned i;

	for (i = 0; i < s->n_legs; i++)
		leg_close(f, &s->legs[i]);
	sess_remove(&f->table, &s->base);
	free(s);
	if (f->table.n == 0)
		f->expire_timer = handler_timer_del(f->h, f->expire_timer);
}

static void
session_end(struct fwd *f, struct fsess *s)
{
	f->expired++;
	session_free(f, s);
}

static void
on_expire(void *userdata)
{
	struct fwd *f = userdata;
	uint64_t now = now_ms(), idle = (uint64_t)f->conf->idle_timeout * 1000;

	while (f->table.oldest != NULL && f->table.oldest->last_ms + idle <= now)
		session_end(f, (struct fsess *)(void *)f->table.oldest);
}

/* Reads the replies waiting on leg l into the area from slot used; returns how many. */
static unsigned
leg_read(struct fwd *f, struct leg *l, unsigned used, uint64_t now, struct fsess **done)
{
	struct fsess *s = l->s;
	struct target *t = l->t;
	int n, i;

	n = recvmmsg(l->fd, f->rmsgs + used, FWD_REPLY_BATCH - used, MSG_DONTWAIT, NULL);
	if (n < 0) {
		/* ICMP (refused, unreachable) on this leg's last datagram. */
		if (errno != EAGAIN && errno != EINTR && t != NULL) {
			t->errors++;
			leg_failed(t, -errno, now);
		}
		return 0;
	}
	for (i = 0; i < n; i++) {
		struct mmsghdr *m = &f->rmsgs[used + (unsigned)i];

		if (m->msg_hdr.msg_flags & MSG_TRUNC) {
			m->msg_hdr.msg_flags = 0;
			t->errors++;
			continue;
		}
		sock_reply_origin(f->h->sock, &s->base.origin, f->riov[used + (unsigned)i].iov_base,
		    m->msg_len);
		t->replies++;
		s->to_client++;
	}
	if (n > 0) {
		target_answered(t);
		sess_touch(&f->table, &s->base, now);
	}
	if (f->conf->responses > 0 && s->to_client >= f->conf->responses && !s->done) {
		s->done = true;
		s->next_done = *done;
		*done = s;
	}
	return (unsigned)n;
}

/*
 * Legs are readable: their replies go to the clients through the
 * listening socket, one sendmmsg for all of them (the area permitting);
 * sessions that reached "responses" end once their replies are sent.
 */
static void
on_legs(void *userdata, void *const *ready, unsigned n)
{
	struct fwd *f = userdata;
	struct fsess *done = NULL, *next;
	unsigned used = 0, i;
	uint64_t now;

	now = now_ms();
	for (i = 0; i < n; i++) {
		if (used == FWD_REPLY_BATCH) {
			sock_flush(f->h->sock);
			used = 0;
		}
		used += leg_read(f, ready[i], used, now, &done);
	}
	sock_flush(f->h->sock);
	for (; done != NULL; done = next) {
		next = done->next_done;
		session_end(f, done);
	}
}

/* The legs' fd set, made with the first session. 0 or -errno. */
static int
legs_set(struct fwd *f)
{
	if (f->legs != NULL)
		return 0;
	return handler_fdset_new(f->h, on_legs, f, &f->legs);
}

/* The reply area: allocated with the first session, pages touched as used. */
static int
alloc_reply_area(struct fwd *f)
{
	unsigned i;

	if (legs_set(f) < 0)
		return -ENOMEM;
	if (f->rbuf != NULL)
		return 0;
	f->rbuf = malloc((size_t)FWD_REPLY_BATCH * (FWD_REPLY_MAX + 1));
	f->rmsgs = calloc(FWD_REPLY_BATCH, sizeof(*f->rmsgs));
	f->riov = calloc(FWD_REPLY_BATCH, sizeof(*f->riov));
	if (f->rbuf == NULL || f->rmsgs == NULL || f->riov == NULL) {
		f->rbuf = mfree(f->rbuf);
		return -ENOMEM;
	}
	for (i = 0; i < FWD_REPLY_BATCH; i++) {
		f->riov[i].iov_base = f->rbuf + (size_t)i * (FWD_REPLY_MAX + 1);
		f->riov[i].iov_len = FWD_REPLY_MAX + 1;
		f->rmsgs[i].msg_hdr.msg_iov = &f->riov[i];
		f->rmsgs[i].msg_hdr.msg_iovlen = 1;
	}
	return 0;
}

/* A session for d's sender, with its legs open; NULL when none can be made (counted). */
static struct fsess *
session_new(struct fwd *f, const struct dgram *d, uint32_t hash, uint64_t now)
{
	unsigned n_legs = f->conf->mode == FWD_ALL ? (unsigned)f->n : 1, i;
	struct target *pick = NULL;
	struct fsess *s;
	int r = 0;

	if (f->table.n >= f->conf->max_sessions) {
		f->full++;
		if (log_ratelimit_ok(&f->full_rl))
			log_warning("%s: forward: %u sessions, the most max_sessions allows: "
			    "dropping datagrams of new clients%s", f->h->sock->name,
			    f->conf->max_sessions, f->full_rl.suppressed ? " (more suppressed)" : "");
		return NULL;
	}
	if (n_legs == 1) {
		pick = pick_target(f, d, now);
		if (pick == NULL) {
			count_dropped(&f->t[0], 1);
			return NULL;
		}
	}
	if (alloc_reply_area(f) < 0)
		return NULL;
	s = calloc(1, sizeof(*s) + n_legs * sizeof(s->legs[0]));
	if (s == NULL)
		return NULL;
	s->f = f;
	s->created_ms = now;
	s->base.hash = hash;
	(void)sock_origin_get(d, &s->base.origin);
	for (i = 0; i < n_legs; i++) {
		s->legs[i].s = s;
		s->legs[i].fd = -1;
	}
	if (sess_insert(&f->table, &s->base, now) < 0) {
		free(s);
		return NULL;
	}
	s->n_legs = n_legs;
	for (i = 0; i < n_legs && r == 0; i++) {
		struct target *t = pick != NULL ? pick : &f->t[i];

		if (t->resolved)
			r = leg_open(f, &s->legs[i], t);
	}
	if (r == 0 && f->expire_timer == NULL)
		r = handler_timer_add(f->h, FWD_EXPIRE_TICK_MS, on_expire, f,
		    &f->expire_timer);
	if (r < 0) {
		struct target *t = pick != NULL ? pick : &f->t[0];

		t->errors++;
		handler_count(f->h, HANDLER_SEND_ERRORS, 1);
		if (log_ratelimit_ok(&t->rl))
			log_warning_errno(r, "%s: forward: cannot open a session socket: %m%s",
			    f->h->sock->name, t->rl.suppressed ? " (more suppressed)" : "");
		session_free(f, s);
		return NULL;
	}
	f->created++;
	return s;
}

/*
 * round_robin and hash: a session whose target went down moves to an up
 * one, when there is one, for its next datagram.
 */
static void
session_rehome(struct fwd *f, struct fsess *s, const struct dgram *d, uint64_t now)
{
	struct leg *l = &s->legs[0];
	struct target *t;

	if (f->conf->mode == FWD_ALL || (l->t != NULL && target_up(l->t, now)))
		return;
	t = pick_target(f, d, now);
	if (t == NULL || t == l->t || !target_up(t, now))
		return;
	leg_close(f, l);
	if (leg_open(f, l, t) < 0)
		l->t = NULL;
}

static void
leg_send(struct leg *l, const struct dgram *d, uint64_t now)
{
	struct target *t = l->t;
	int r;

	if (t == NULL || l->fd < 0)
		return;
	if (send(l->fd, d->data, d->len, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) {
		count_sent(t, 1);
		return;
	}
	if (errno == EAGAIN) {
		count_dropped(t, 1);
		return;
	}
	r = -errno;
	count_failed(t, r, 1);
	leg_failed(t, r, now);
}

static int
session_handle(struct fwd *f, const struct dgram *d)
{
	uint64_t now = now_ms();
	struct session *b;
	struct fsess *s;
	uint32_t hash;
	unsigned i;

	hash = sess_hash(d->peer, d->peer_len);
	b = sess_find(&f->table, d->peer, d->peer_len, hash);
	if (b == NULL) {
		s = session_new(f, d, hash, now);
		if (s == NULL)
			return 0;
	} else {
		s = (struct fsess *)(void *)b;
		session_rehome(f, s, d, now);
		sess_touch(&f->table, b, now);
	}
	s->to_targets++;
	for (i = 0; i < s->n_legs; i++)
		leg_send(&s->legs[i], d, now);
	return 0;
}

static void
sessions_close_all(struct fwd *f)
{
	while (f->table.oldest != NULL)
		session_free(f, (struct fsess *)(void *)f->table.oldest);
	sess_table_done(&f->table);
}

static int
fwd_handle(struct handler *h, const struct dgram *d)
{
	struct fwd *f = h->state;
	struct target *t;
	size_t i;

	if (f->conf->replies) {
		if (d->peer != NULL)
			return session_handle(f, d);
		/* An unbound unix client cannot be answered: one-way, counted. */
		f->unbound++;
	}
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

/*
 * A whole receive batch, to all targets without sessions: each target
 * takes the batch in order. Other modes go one by one (fwd_handle).
 */
static bool
fwd_handle_batch(struct handler *h, const struct dgram *d, unsigned n)
{
	struct fwd *f = h->state;
	unsigned i;
	size_t k;

	if (f->conf->replies || f->conf->mode != FWD_ALL)
		return false;
	for (k = 0; k < f->n; k++) {
		struct target *t = &f->t[k];

		if (!t->resolved) {
			count_dropped(t, n);
			continue;
		}
		for (i = 0; i < n; i++)
			txq_add(t->txq, d[i].data, d[i].len, NULL, 0, NULL, 0);
	}
	return true;
}

static void
fwd_end_batch(struct handler *h)
{
	struct fwd *f = h->state;
	size_t i;

	for (i = 0; i < f->n; i++)
		txq_flush(f->t[i].txq);
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
		t->out = handler_close_out(t->f->h, t->out);
	if (t->out == NULL) {
		r = handler_open_out(f->h, a->sa.sa_family, drain, t, &t->out);
		if (r < 0) {
			log_warning_errno(r, "%s: forward to %s: cannot open a socket: %m",
			    f->h->sock->name, t->tc->spec);
			t->resolved = false;
			return;
		}
		txq_set_fd(t->txq, sock_out_fd(t->out));
		if (txq_queued(t->txq) > 0)
			(void)handler_want_write(f->h, t->out, true);
	}
	if (!t->resolved || !addr_equal(&t->addr.sa, t->addr_len, &a->sa, len))
		log_info("%s: forward to %s: %s", f->h->sock->name, t->tc->spec,
		    addr_format(&a->sa, len, buf, sizeof(buf)));
	t->addr = *a;
	t->addr_len = len;
	txq_set_peer(t->txq, &a->sa, len);
	t->resolved = true;
}

static int
start_resolve(struct target *t)
{
	const struct fwd_conf *c = t->f->conf;
	uint64_t interval = (uint64_t)c->resolve_interval * 1000;

	return handler_resolve(t->f->h, t->tc->host, t->tc->port, interval,
	    interval > 0 ? MIN(interval, FWD_RETRY_MS) : FWD_RETRY_MS, on_resolved, t, &t->rs);
}

/* --- life cycle ---------------------------------------------------------- */

/* t's send path: bounded by the queue key and by FWD_QUEUE_BYTES_MAX. */
static int
target_txq(struct target *t)
{
	const struct fwd_conf *c = t->f->conf;
	size_t per = TXQ_ENTRY_BYTES(MAX(t->f->h->sock_conf->max_size, 1u), 0);
	struct txq_conf qc = {
		.batch = FWD_PENDING,
		.backlog_bytes = MIN((size_t)c->queue * per, FWD_QUEUE_BYTES_MAX),
		.backlog_max = c->queue,
		.gso = t->tc->kind != TK_UNIX,
	};

	return txq_new(-1, &qc, &fwd_txq_ops, t, &t->txq);
}

static int
target_init(struct fwd *f, struct target *t, const struct target_conf *tc)
{
	char *p;
	int r;

	t->f = f;
	t->tc = tc;
	t->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT;
	t->key = strdup(tc->spec);
	if (t->key == NULL)
		return -ENOMEM;
	for (p = t->key; *p != '\0'; p++)
		if (*p == ' ' || *p == '=' || *p == '\t' || *p == '\n')
			*p = '_';
	r = target_txq(t);
	if (r < 0)
		return r;
	if (tc->kind == TK_HOST)
		return start_resolve(t);
	t->addr = tc->addr;
	t->addr_len = tc->addr_len;
	t->resolved = true;
	/* Unix targets are connected: their datagrams carry no name. */
	if (tc->kind != TK_UNIX)
		txq_set_peer(t->txq, &t->addr.sa, t->addr_len);
	r = handler_open_out(f->h, tc->kind == TK_UNIX ? AF_UNIX : tc->addr.sa.sa_family,
	    drain, t, &t->out);
	if (r == 0)
		txq_set_fd(t->txq, sock_out_fd(t->out));
	return r;
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
	/*
	 * Sessions live on with their sockets; idle_timeout, responses and
	 * max_sessions apply to them from now on (a smaller max_sessions
	 * turns newcomers away until enough have ended, evicting no one).
	 */
	if (!f->conf->replies || was->mode != f->conf->mode || old->sock != h->sock)
		sessions_close_all(f);
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
		t->rs = handler_resolve_free(t->f->h, t->rs);
		r = start_resolve(t);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The target of f named spec, or NULL. */
static struct target *
find_target(struct fwd *f, const char *spec)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->t[i].tc->spec, spec) == 0)
			return &f->t[i];
	return NULL;
}

/*
 * Reload with a changed target list: the sessions (round_robin, hash) of
 * targets still listed move to f with their sockets, oldest first so the
 * idle order holds; those of removed targets close. With mode "all", or a
 * change of mode or socket, they all close (with old's stop).
 */
static void
adopt_sessions(struct fwd *f, struct handler *old)
{
	struct fwd *o = old->state;
	struct session *b;
	int r;

	f->created = o->created;
	f->expired = o->expired;
	f->full = o->full;
	f->unbound = o->unbound;
	if (!o->conf->replies || !f->conf->replies || o->conf->mode != f->conf->mode ||
	    f->conf->mode == FWD_ALL || old->sock != f->h->sock || o->table.n == 0 ||
	    alloc_reply_area(f) < 0)
		return;
	while ((b = o->table.oldest) != NULL) {
		struct fsess *s = (struct fsess *)(void *)b;
		struct target *t = s->legs[0].t != NULL ?
		    find_target(f, s->legs[0].t->tc->spec) : NULL;
		uint64_t last = b->last_ms;

		if (t == NULL || t->addr_len != s->legs[0].t->addr_len ||
		    memcmp(&t->addr, &s->legs[0].t->addr, t->addr_len) != 0) {
			session_free(o, s);
			continue;
		}
		sess_remove(&o->table, b);
		s->f = f;
		s->legs[0].t = t;
		if (s->legs[0].fd >= 0) {
			handler_fdset_del(old, o->legs, s->legs[0].fd);
			if (leg_watch(f, &s->legs[0]) < 0)
				leg_close(f, &s->legs[0]);
		}
		if (sess_insert(&f->table, b, last) < 0) {
			s->f = o;
			(void)sess_insert(&o->table, b, last);
			session_free(o, s);
		}
	}
	o->expire_timer = handler_timer_del(old, o->expire_timer);
	if (f->table.n > 0 && f->expire_timer == NULL) {
		r = handler_timer_add(f->h, FWD_EXPIRE_TICK_MS, on_expire, f,
		    &f->expire_timer);
		if (r < 0)
			sessions_close_all(f);
	}
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
	f->full_rl = (struct log_ratelimit)LOG_RATELIMIT_INIT;
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
	if (old != NULL && old->state != NULL)
		adopt_sessions(f, old);
	/* Made now, so that the descriptors sessions leave behind are none. */
	if (c->replies && alloc_reply_area(f) < 0)
		return log_error_errno(-ENOMEM, "%s: forward: %m", h->sock->name);
	return 0;
}

static const struct stat_desc fwd_descs[] = {
	{ "dgramd_forward_sent_datagrams_total", "Datagrams sent to the target.", STAT_COUNTER,
	  "fwd.sent", STAT_ROLE_NONE, { NULL, NULL } },
	{ "dgramd_forward_errors_total", "Sends to the target that failed.", STAT_COUNTER,
	  "fwd.errors", STAT_ROLE_NONE, { NULL, NULL } },
	{ "dgramd_forward_queued", "Datagrams waiting for the target's socket.", STAT_GAUGE,
	  "fwd.queued", STAT_ROLE_NONE, { NULL, NULL } },
	{ "dgramd_forward_dropped_datagrams_total", "Datagrams for the target dropped (queue full, "
	  "name not resolved).", STAT_COUNTER, "fwd.dropped", STAT_ROLE_NONE, { NULL, NULL } },
	/* Metrics only (no stats line key): 1 while the target has an address. */
	{ "dgramd_forward_target_up", "1 when the target can be sent to (its name resolved, "
	  "and passive health does not hold it down), else 0.", STAT_GAUGE, NULL, STAT_ROLE_NONE, { NULL, NULL } },
};

/* Sessions (replies = true): per target. */
static const struct stat_desc fwd_target_sess_descs[] = {
	{ "dgramd_forward_replies_total", "Datagrams the target sent back, relayed to clients.",
	  STAT_COUNTER, "fwd.replies", STAT_ROLE_NONE, { NULL, NULL } },
	{ "dgramd_forward_target_down", "1 while the target is down (it refused, ICMP), "
	  "else 0.", STAT_GAUGE, "fwd.down", STAT_ROLE_NONE, { NULL, NULL } },
};

/* Sessions: per handler. */
static const struct stat_desc fwd_sess_descs[] = {
	{ "dgramd_forward_sessions", "Live sessions.", STAT_GAUGE, "fwd.sessions",
	  STAT_ROLE_NONE, { NULL, NULL } },
	{ "dgramd_forward_sessions_created_total", "Sessions started.", STAT_COUNTER,
	  "fwd.sessions_created", STAT_ROLE_NONE, { NULL, NULL } },
	{ "dgramd_forward_sessions_expired_total", "Sessions ended (idle_timeout or "
	  "responses).", STAT_COUNTER, "fwd.sessions_expired", STAT_ROLE_NONE, { NULL, NULL } },
	{ "dgramd_forward_sessions_full_total", "Datagrams of new clients dropped: "
	  "max_sessions reached.", STAT_COUNTER, "fwd.sessions_full", STAT_ROLE_LOST,
	  { NULL, NULL } },
	{ "dgramd_forward_unbound_datagrams_total", "Datagrams of unbound unix clients, "
	  "forwarded one-way (no address to reply to).", STAT_COUNTER, "fwd.unbound",
	  STAT_ROLE_NONE, { NULL, NULL } },
};

static void
fwd_stats(const struct handler *h, struct stats_visitor *v)
{
	const struct fwd *f = h->state;
	uint64_t now;
	size_t i, k;

	if (f == NULL)
		return;
	if (f->conf->replies) {
		const uint64_t sv[] = { f->table.n, f->created, f->expired, f->full, f->unbound };

		_Static_assert(ARRAY_SIZE(sv) == ARRAY_SIZE(fwd_sess_descs), "one value each");
		for (k = 0; k < ARRAY_SIZE(fwd_sess_descs); k++)
			stats_put(v, &fwd_sess_descs[k], sv[k]);
	}
	now = now_ms();
	for (i = 0; i < f->n; i++) {
		const struct target *t = &f->t[i];
		const uint64_t values[] = { t->sent, t->errors, txq_queued(t->txq), t->dropped,
					    target_up(t, now) };
		const uint64_t sv[] = { t->replies, now < t->down_until };

		for (k = 0; k < ARRAY_SIZE(fwd_descs); k++)
			stats_put_instance(v, &fwd_descs[k], "target", t->key, values[k]);
		for (k = 0; f->conf->replies && k < ARRAY_SIZE(sv); k++)
			stats_put_instance(v, &fwd_target_sess_descs[k], "target", t->key, sv[k]);
	}
}

static void
fwd_stop(struct handler *h)
{
	struct fwd *f = h->state;
	size_t i;

	if (f == NULL)
		return;
	sessions_close_all(f);
	f->expire_timer = handler_timer_del(h, f->expire_timer);
	f->legs = handler_fdset_free(h, f->legs);
	free(f->rbuf);
	free(f->rmsgs);
	free(f->riov);
	for (i = 0; i < f->n; i++) {
		struct target *t = &f->t[i];

		/* Send what can go without waiting; the rest is lost, counted. */
		if (t->txq != NULL) {
			if (t->out != NULL)
				txq_drain(t->txq);
			count_dropped(t, txq_discard(t->txq));
		}
		t->rs = handler_resolve_free(t->f->h, t->rs);
		t->out = handler_close_out(t->f->h, t->out);
		t->txq = txq_free(t->txq);
		free(t->key);
	}
	free(f->t);
	h->state = mfree(f);
}

static void
fwd_sessions(const struct handler *h, handler_session_fn fn, void *userdata)
{
	const struct fwd *f = h->state;
	const struct session *b;
	uint64_t now = now_ms();

	if (f == NULL)
		return;
	for (b = f->table.newest; b != NULL; b = b->older) {
		const struct fsess *s = (const struct fsess *)(const void *)b;
		const struct leg *l = &s->legs[0];
		struct handler_session hs = {
			.client = &b->origin.peer.sa,
			.client_len = b->origin.peer_len,
			.target = l->t != NULL ? l->t->tc->spec : "-",
			.legs = s->n_legs,
			.age_ms = now - s->created_ms,
			.idle_ms = now - b->last_ms,
			.to_targets = s->to_targets,
			.to_client = s->to_client,
		};

		fn(userdata, &hs);
	}
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
	.handle_batch = fwd_handle_batch,
	.end_batch = fwd_end_batch,
	.stats = fwd_stats,
	.sessions = fwd_sessions,
	.stop = fwd_stop,
};
