/*
 * handler.c: the registry of handler types, instance life cycle, and the
 * services handlers call (through the table the core gave them).
 * Adding a handler type means one file under src/handlers/ and one line
 * below.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "handler.h"
#include "util.h"

static const struct handler_ops *const handler_types[] = {
	&echo_handler_ops,
	&log_handler_ops,
	&forward_handler_ops,
};

const struct handler_ops *
handler_lookup(const char *type)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(handler_types); i++)
		if (strcmp(handler_types[i]->type, type) == 0)
			return handler_types[i];
	return NULL;
}

void
handler_foreach(void (*cb)(const struct handler_ops *ops, void *ud), void *ud)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(handler_types); i++)
		cb(handler_types[i], ud);
}

int
handler_new(const struct handler_conf *hc, const struct sock_conf *sc,
    struct dg_socket *sock, const struct handler_services *svc, unsigned index,
    struct handler *old, struct handler **ret)
{
	struct handler *h;
	int rc;

	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	h->ops = hc->ops;
	h->conf = hc->conf;
	h->sock = sock;
	h->sock_conf = sc;
	h->svc = svc;
	h->index = index;
	if (old != NULL && old->ops != hc->ops)
		old = NULL;
	if (h->ops->start != NULL) {
		rc = h->ops->start(h, old);
		if (rc < 0) {
			handler_free(h);
			return rc;
		}
	}
	if (old != NULL) {
		/* The chain position lives on: so do its counters. */
		h->handled = old->handled;
		h->errors = old->errors;
	}
	*ret = h;
	return 0;
}

struct handler *
handler_free(struct handler *h)
{
	if (h == NULL)
		return NULL;
	if (h->ops->stop != NULL)
		h->ops->stop(h);
	free(h);
	return NULL;
}

/* --- services ------------------------------------------------------------ */

int
handler_open_out(const struct handler *h, int family, handler_fn on_writable, void *userdata,
    struct sock_out **ret)
{
	if (h->svc == NULL)
		return -EOPNOTSUPP;
	return h->svc->open_out(h->svc->core, family, h->sock_conf, on_writable, userdata, ret);
}

int
handler_open_leg(const struct handler *h, int family)
{
	if (h->svc == NULL)
		return -EOPNOTSUPP;
	return h->svc->open_leg(h->svc->core, family, h->sock_conf);
}

struct sock_out *
handler_close_out(const struct handler *h, struct sock_out *o)
{
	if (o == NULL || h->svc == NULL)
		return NULL;
	return h->svc->close_out(o);
}

int
handler_want_write(const struct handler *h, struct sock_out *o, bool on)
{
	return h->svc->want_write(o, on);
}

int
handler_resolve(const struct handler *h, const char *host, uint16_t port, uint64_t interval_ms,
    uint64_t retry_ms, handler_resolved_fn cb, void *userdata, struct resolve **ret)
{
	if (h->svc == NULL)
		return -EOPNOTSUPP;
	return h->svc->resolve(h->svc->core, host, port, interval_ms, retry_ms, cb, userdata,
	    ret);
}

struct resolve *
handler_resolve_free(const struct handler *h, struct resolve *rs)
{
	if (rs == NULL || h->svc == NULL)
		return NULL;
	return h->svc->resolve_free(rs);
}

int
handler_timer_add(const struct handler *h, uint64_t interval_ms, handler_fn fn, void *userdata,
    struct handler_timer **ret)
{
	if (h->svc == NULL)
		return -EOPNOTSUPP;
	return h->svc->timer_add(h->svc->core, interval_ms, fn, userdata, ret);
}

struct handler_timer *
handler_timer_del(const struct handler *h, struct handler_timer *t)
{
	if (t == NULL || h->svc == NULL)
		return NULL;
	return h->svc->timer_del(h->svc->core, t);
}

int
handler_fdset_new(const struct handler *h, handler_ready_fn fn, void *userdata,
    struct handler_fdset **ret)
{
	if (h->svc == NULL || h->svc->fdset_new == NULL)
		return -EOPNOTSUPP;
	return h->svc->fdset_new(h->svc->core, fn, userdata, ret);
}

int
handler_fdset_add(const struct handler *h, struct handler_fdset *set, int fd, void *fd_userdata)
{
	if (h->svc == NULL || set == NULL)
		return -EOPNOTSUPP;
	return h->svc->fdset_add(set, fd, fd_userdata);
}

void
handler_fdset_del(const struct handler *h, struct handler_fdset *set, int fd)
{
	if (h->svc != NULL && set != NULL)
		h->svc->fdset_del(set, fd);
}

struct handler_fdset *
handler_fdset_free(const struct handler *h, struct handler_fdset *set)
{
	if (h->svc != NULL && set != NULL)
		(void)h->svc->fdset_free(set);
	return NULL;
}

void
handler_count(const struct handler *h, enum handler_counter c, uint64_t n)
{
	if (h->svc != NULL && h->sock != NULL)
		h->svc->count(h->sock, c, n);
}
