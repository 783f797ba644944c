/*
 * route.h: a socket's handler chain, and the checks every datagram passes
 * before it (max_size, allow lists, rate limits).
 */
#ifndef DGRAMD_ROUTE_H
#define DGRAMD_ROUTE_H

#include "conf.h"
#include "handler.h"

struct ratelimit;
struct reactor;
struct reactor_watch;
struct stats_visitor;

/* Owned by the daemon, one per socket; owns its handlers and its limiter. */
struct route {
	const struct sock_conf	*conf;	/* owned by the daemon's current conf */
	struct dg_socket	*sock;
	struct handler		**handlers;
	size_t			 n_handlers;
	struct log_ratelimit	*err_rl;
	struct reactor		*reactor;
	struct handler_services	 svc;	/* what its handlers get from the core */
	/* rate_limit: the buckets, and a timer that runs while dropping. */
	struct ratelimit	*rl;
	struct reactor_watch	*rl_timer;
	uint64_t		 rl_reported_ns;	/* last "still dropping" line */
	uint64_t		 now_ns;	/* CLOCK_MONOTONIC, read once per batch */
	bool			 now_valid;
	/*
	 * Across a reload, the route that copied this one's limiter state
	 * (or the one it was copied from), so that the drop episode is
	 * reported once, by whichever of the two lives on.
	 */
	struct route		*rl_successor;
	struct route		*rl_predecessor;
	/* The only handler, when it takes whole batches and nothing filters (route_new). */
	struct handler		*batch_h;
};

/*
 * Builds the chain sc declares for sock. On reload old is the socket's
 * running route, whose handler state may be taken over; it stays usable
 * until freed. Returns 0 or -errno.
 */
int	route_new(const struct sock_conf *sc, struct dg_socket *sock, struct reactor *r,
	    struct route *old, struct route **ret);
/* Frees the chain (stopping its handlers); accepts NULL; returns NULL. */
struct route	*route_free(struct route *rt);

/*
 * Runs d[0..n) through the chain, in order (a sock_dispatch_fn);
 * per-datagram errors are counted and logged rate-limited.
 */
void	route_dispatch(void *route, const struct dgram *d, unsigned n);
/* The end of a receive batch. */
void	route_end_batch(void *route);
/* Writes what handlers buffered (before the reactor sleeps). */
void	route_flush(struct route *rt);
/* Reopens the handlers' files. */
void	route_reopen(struct route *rt);
/* Puts the rate limit table's and the handlers' counters into v (label "handler"). */
void	route_stats(const struct route *rt, struct stats_visitor *v);

#endif
