/*
 * route.c: dispatch of one datagram through its socket's handler chain,
 * after the checks that may stop it: allow lists, then the rate limit
 * (max_size is enforced by sock.c, which sees MSG_TRUNC).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "addr.h"
#include "handler.h"
#include "log.h"
#include "ratelimit.h"
#include "reactor.h"
#include "route.h"
#include "services.h"
#include "sock.h"
#include "stats.h"
#include "util.h"

#define NSEC			1000000000ull
/* A drop episode ends after this long without a drop. */
#define RL_QUIET_NS		NSEC
/* While an episode lasts, a progress line this often. */
#define RL_REPORT_NS		(60 * NSEC)

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

static void
episode_line(const struct route *rt, const struct rl_episode *ep, const char *what)
{
	char first[64];
	unsigned long long ms = (ep->last_ns - ep->start_ns) / 1000000;

	ratelimit_key_format(&ep->first, first, sizeof(first));
	if (rt->conf->rate_limit.per_source)
		log_notice("%s: rate limit: %s %llu datagrams from %llu senders (first %s) "
		    "in %llu.%03llus", rt->conf->name, what, (unsigned long long)ep->dropped,
		    (unsigned long long)ep->senders, first, ms / 1000, ms % 1000);
	else
		log_notice("%s: rate limit: %s %llu datagrams (first from %s) in %llu.%03llus",
		    rt->conf->name, what, (unsigned long long)ep->dropped, first, ms / 1000,
		    ms % 1000);
}

/* Runs every second while dropping: reports the end of the episode. */
static void
on_rl_timer(void *userdata)
{
	struct route *rt = userdata;
	struct rl_episode ep;
	uint64_t now = mono_ns();

	if (ratelimit_episode_end(rt->rl, now, RL_QUIET_NS, &ep)) {
		episode_line(rt, &ep, "dropped");
		rt->rl_timer = reactor_del_timer(rt->reactor, rt->rl_timer);
		return;
	}
	if (ratelimit_episode(rt->rl, &ep) && now - rt->rl_reported_ns >= RL_REPORT_NS) {
		rt->rl_reported_ns = now;
		episode_line(rt, &ep, "still dropping, so far");
	}
}

static void
episode_started(struct route *rt, const struct rl_key *k)
{
	char who[64];
	int r;

	log_warning("%s: rate limit exceeded, dropping (first from %s)", rt->conf->name,
	    ratelimit_key_format(k, who, sizeof(who)));
	rt->rl_reported_ns = rt->now_ns;
	if (rt->rl_timer != NULL)
		return;
	r = reactor_add_timer(rt->reactor, 1000, on_rl_timer, rt, &rt->rl_timer);
	if (r < 0)
		log_warning_errno(r, "%s: rate limit: cannot start the timer (the end of "
		    "dropping is reported with the next datagram): %m", rt->conf->name);
}

/* Sets up rate limiting; on reload keeps old's state when the settings are equal. */
static int
rl_start(struct route *rt, struct route *old)
{
	uint64_t seed;
	int r;

	if (!rt->conf->rate_limit.set)
		return 0;
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
		seed = mono_ns() ^ (uint64_t)(uintptr_t)rt;
	r = ratelimit_new(&rt->conf->rate_limit, seed, &rt->rl);
	if (r < 0)
		return r;
	if (old == NULL || old->rl == NULL || !ratelimit_same_conf(old->rl, &rt->conf->rate_limit))
		return 0;
	ratelimit_copy_state(rt->rl, old->rl);
	rt->rl_reported_ns = old->rl_reported_ns;
	old->rl_successor = rt;
	rt->rl_predecessor = old;
	if (ratelimit_episode(rt->rl, NULL))
		(void)reactor_add_timer(rt->reactor, 1000, on_rl_timer, rt, &rt->rl_timer);
	return 0;
}

static void
rl_stop(struct route *rt)
{
	struct rl_episode ep;

	rt->rl_timer = reactor_del_timer(rt->reactor, rt->rl_timer);
	if (rt->rl_successor != NULL) {
		/* It lives on in the successor, which reports it. */
		rt->rl_successor->rl_predecessor = NULL;
	} else if (rt->rl_predecessor != NULL) {
		/* A reload that failed: the predecessor still runs and reports it. */
		rt->rl_predecessor->rl_successor = NULL;
	} else if (rt->rl != NULL && ratelimit_episode(rt->rl, &ep)) {
		episode_line(rt, &ep, "dropped");
	}
	rt->rl = ratelimit_free(rt->rl);
}

int
route_new(const struct sock_conf *sc, struct dg_socket *sock, struct reactor *r,
    struct route *old, struct route **ret)
{
	struct route *rt;
	size_t i;
	int rc;

	rt = calloc(1, sizeof(*rt));
	if (rt == NULL)
		return -ENOMEM;
	rt->conf = sc;
	rt->sock = sock;
	rt->reactor = r;
	rt->svc = services_of(r);
	rt->err_rl = calloc(1, sizeof(*rt->err_rl));
	rt->handlers = calloc(sc->n_handlers, sizeof(struct handler *));
	if (rt->err_rl == NULL || rt->handlers == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	*rt->err_rl = (struct log_ratelimit)LOG_RATELIMIT_INIT;
	rc = rl_start(rt, old);
	if (rc < 0)
		goto fail;
	for (i = 0; i < sc->n_handlers; i++) {
		struct handler *prev = NULL;

		if (old != NULL && i < old->n_handlers)
			prev = old->handlers[i];
		rc = handler_new(&sc->handlers[i], sc, sock, &rt->svc, (unsigned)i, prev,
		    &rt->handlers[i]);
		if (rc < 0)
			goto fail;
		rt->n_handlers++;
	}
	/*
	 * One handler that takes whole batches, and no allow list or rate
	 * limit to pass each datagram through first: it gets the batch.
	 */
	if (rt->n_handlers == 1 && rt->handlers[0]->ops->handle_batch != NULL && !sc->has_allow &&
	    sc->allow_uids == NULL && sc->allow_gids == NULL && rt->rl == NULL)
		rt->batch_h = rt->handlers[0];
	*ret = rt;
	return 0;
fail:
	route_free(rt);
	return rc;
}

struct route *
route_free(struct route *rt)
{
	size_t i;

	if (rt == NULL)
		return NULL;
	rl_stop(rt);
	for (i = 0; i < rt->n_handlers; i++)
		handler_free(rt->handlers[i]);
	free(rt->handlers);
	free(rt->err_rl);
	free(rt);
	return NULL;
}

static void
handler_failed(struct route *rt, struct handler *h, const struct dgram *d, int r)
{
	char peer[ADDR_STRLEN];

	h->errors++;
	if (!log_ratelimit_ok(rt->err_rl))
		return;
	log_warning_errno(r, "%s: %s handler: datagram from %s: %m, ignoring%s",
	    rt->conf->name, h->ops->type, addr_format(d->peer, d->peer_len, peer, sizeof(peer)),
	    rt->err_rl->suppressed ? " (more suppressed)" : "");
}

/* allow / allow_uids / allow_gids; an empty allow list lets no one in. */
static bool
allowed(const struct sock_conf *sc, const struct dgram *d)
{
	size_t i;

	if (sc->has_allow) {
		for (i = 0; i < sc->n_allow; i++)
			if (cidr_match(&sc->allow[i], d->peer))
				return true;
		return false;
	}
	if (sc->allow_uids == NULL && sc->allow_gids == NULL)
		return true;
	if (d->cred == NULL)
		return false;
	for (i = 0; sc->allow_uids != NULL && i < sc->n_allow_uids; i++)
		if (d->cred->uid == sc->allow_uids[i])
			return true;
	for (i = 0; sc->allow_gids != NULL && i < sc->n_allow_gids; i++)
		if (d->cred->gid == sc->allow_gids[i])
			return true;
	return false;
}

/* True when d is within the rate limit; logs the start of a drop episode. */
static bool
within_limit(struct route *rt, const struct dgram *d)
{
	struct rl_episode ep;
	struct rl_key k;

	if (!rt->now_valid) {
		rt->now_ns = mono_ns();
		rt->now_valid = true;
	}
	ratelimit_key(d->peer, d->cred, &k);
	switch (ratelimit_check(rt->rl, &k, rt->now_ns)) {
	case RL_PASS:
		/* Without a timer, the next datagram that passes ends the episode. */
		if (rt->rl_timer == NULL && ratelimit_episode_end(rt->rl, rt->now_ns,
		    RL_QUIET_NS, &ep))
			episode_line(rt, &ep, "dropped");
		return true;
	case RL_DROP_FIRST:
		episode_started(rt, &k);
		return false;
	default:
		return false;
	}
}

static void
dispatch_one(struct route *rt, const struct dgram *d)
{
	size_t i;
	int r;

	if (!allowed(rt->conf, d)) {
		rt->sock->stats.denied++;
		return;
	}
	if (rt->rl != NULL && !within_limit(rt, d)) {
		rt->sock->stats.limited++;
		return;
	}
	for (i = 0; i < rt->n_handlers; i++) {
		struct handler *h = rt->handlers[i];

		h->handled++;
		r = h->ops->handle(h, d);
		if (r < 0)
			handler_failed(rt, h, d, r);
	}
}

void
route_dispatch(void *route, const struct dgram *d, unsigned n)
{
	struct route *rt = route;
	unsigned i;

	if (rt->batch_h != NULL && rt->batch_h->ops->handle_batch(rt->batch_h, d, n)) {
		rt->batch_h->handled += n;
		return;
	}
	for (i = 0; i < n; i++)
		dispatch_one(rt, &d[i]);
}

void
route_end_batch(void *route)
{
	struct route *rt = route;
	size_t i;

	rt->now_valid = false;
	for (i = 0; i < rt->n_handlers; i++)
		if (rt->handlers[i]->ops->end_batch != NULL)
			rt->handlers[i]->ops->end_batch(rt->handlers[i]);
}

void
route_flush(struct route *rt)
{
	size_t i;

	for (i = 0; i < rt->n_handlers; i++)
		if (rt->handlers[i]->ops->flush != NULL)
			rt->handlers[i]->ops->flush(rt->handlers[i]);
}

void
route_reopen(struct route *rt)
{
	size_t i;

	for (i = 0; i < rt->n_handlers; i++)
		if (rt->handlers[i]->ops->reopen != NULL)
			rt->handlers[i]->ops->reopen(rt->handlers[i]);
}

static const struct stat_desc rl_senders_desc = {
	"dgramd_rate_limit_senders", "Senders in the per-sender rate limit table.", STAT_GAUGE,
	"rate_limit.senders", STAT_ROLE_NONE, { NULL, NULL },
};
static const struct stat_desc rl_capacity_desc = {
	"dgramd_rate_limit_capacity", "Senders the per-sender rate limit table can hold.",
	STAT_GAUGE, "rate_limit.capacity", STAT_ROLE_NONE, { NULL, NULL },
};

void
route_stats(const struct route *rt, struct stats_visitor *v)
{
	size_t i;

	/* The per-sender table: how full it is, never beyond its capacity. */
	if (rt->rl != NULL && rt->conf->rate_limit.per_source) {
		stats_put(v, &rl_senders_desc, ratelimit_used(rt->rl));
		stats_put(v, &rl_capacity_desc, ratelimit_capacity(rt->rl));
	}
	for (i = 0; i < rt->n_handlers; i++) {
		const struct handler *h = rt->handlers[i];

		if (h->ops->stats == NULL)
			continue;
		stats_push_label(v, "handler", h->ops->type);
		h->ops->stats(h, v);
		stats_pop_label(v);
	}
}
