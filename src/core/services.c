/*
 * services.c: what the core does for handlers, so that they never see the
 * event loop: outbound sockets (sock_out.c) watched by it, background name
 * resolution (resolve.c), timers, and the socket counters they add to.
 */
#include <stddef.h>

#include "reactor.h"
#include "resolve.h"
#include "services.h"
#include "sock.h"
#include "sock_out.h"

static int
open_out(void *core, int family, const struct sock_conf *sc, handler_fn on_writable,
    void *userdata, struct sock_out **ret)
{
	return sock_out_new(core, family, sc, on_writable, userdata, ret);
}

static int
resolve(void *core, const char *host, uint16_t port, uint64_t interval_ms, uint64_t retry_ms,
    handler_resolved_fn cb, void *userdata, struct resolve **ret)
{
	return resolve_new(core, host, port, interval_ms, retry_ms, cb, userdata, ret);
}

/* A handler's timer is the loop's timer watch under another name. */
static int
timer_add(void *core, uint64_t interval_ms, handler_fn fn, void *userdata,
    struct handler_timer **ret)
{
	struct reactor_watch *w = NULL;
	int r;

	r = reactor_add_timer(core, interval_ms, fn, userdata, &w);
	if (r == 0)
		*ret = (struct handler_timer *)(void *)w;
	return r;
}

static struct handler_timer *
timer_del(void *core, struct handler_timer *t)
{
	(void)reactor_del_timer(core, (struct reactor_watch *)(void *)t);
	return NULL;
}

static void
count(struct dg_socket *s, enum handler_counter c, uint64_t n)
{
	switch (c) {
	case HANDLER_SENT:
		s->stats.sent += n;
		break;
	case HANDLER_SEND_ERRORS:
		s->stats.send_errors += n;
		break;
	case HANDLER_DROPPED:
		s->stats.dropped += n;
		break;
	}
}

struct handler_services
services_of(struct reactor *r)
{
	struct handler_services svc = {
		.core = r,
		.open_out = open_out,
		.close_out = sock_out_free,
		.want_write = sock_out_want_write,
		.resolve = resolve,
		.resolve_free = resolve_free,
		.timer_add = timer_add,
		.timer_del = timer_del,
		.count = count,
	};

	return svc;
}
