/*
 * route.h: a socket's handler chain, and the checks every datagram passes
 * before it (max_size, allow lists, rate limits).
 */
#ifndef DGRAMD_ROUTE_H
#define DGRAMD_ROUTE_H

#include "conf.h"
#include "handler.h"

struct reactor;
struct strbuf;

/* Owned by the daemon, one per socket; owns its handlers. */
struct route {
	const struct sock_conf	*conf;	/* owned by the daemon's current conf */
	struct dg_socket	*sock;
	struct handler		**handlers;
	size_t			 n_handlers;
	struct log_ratelimit	*err_rl;
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

/* Runs d through the chain; per-datagram errors are counted and logged rate-limited. */
void	route_dispatch(void *route, const struct dgram *d);
/* The end of a receive batch. */
void	route_end_batch(void *route);
/* Writes what handlers buffered (before the reactor sleeps). */
void	route_flush(struct route *rt);
/* Reopens the handlers' files. */
void	route_reopen(struct route *rt);
/* Appends the handlers' counters to sb. */
void	route_stats(const struct route *rt, struct strbuf *sb);

#endif
