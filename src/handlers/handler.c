/*
 * handler.c: the registry of handler types and instance life cycle.
 * Adding a handler type means one h_*.c file and one line below.
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
    struct dg_socket *sock, struct reactor *r, unsigned index, struct handler *old,
    struct handler **ret)
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
	h->reactor = r;
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
