/*
 * route.c: dispatch of one datagram through its socket's handler chain.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "handler.h"
#include "log.h"
#include "route.h"
#include "sock.h"
#include "strbuf.h"
#include "util.h"

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
	rt->err_rl = calloc(1, sizeof(*rt->err_rl));
	rt->handlers = calloc(sc->n_handlers, sizeof(*rt->handlers));
	if (rt->err_rl == NULL || rt->handlers == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	*rt->err_rl = (struct log_ratelimit)LOG_RATELIMIT_INIT;
	for (i = 0; i < sc->n_handlers; i++) {
		struct handler *prev = NULL;

		if (old != NULL && i < old->n_handlers)
			prev = old->handlers[i];
		rc = handler_new(&sc->handlers[i], sc, sock, r, (unsigned)i, prev,
		    &rt->handlers[i]);
		if (rc < 0)
			goto fail;
		rt->n_handlers++;
	}
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

void
route_dispatch(void *route, const struct dgram *d)
{
	struct route *rt = route;
	size_t i;
	int r;

	for (i = 0; i < rt->n_handlers; i++) {
		struct handler *h = rt->handlers[i];

		h->handled++;
		r = h->ops->handle(h, d);
		if (r < 0)
			handler_failed(rt, h, d, r);
	}
}

void
route_end_batch(void *route)
{
	struct route *rt = route;
	size_t i;

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

void
route_stats(const struct route *rt, struct strbuf *sb)
{
	size_t i;

	for (i = 0; i < rt->n_handlers; i++)
		if (rt->handlers[i]->ops->stats != NULL)
			rt->handlers[i]->ops->stats(rt->handlers[i], sb);
}
