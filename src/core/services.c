/*
 * services.c: what the core does for handlers, so that they never see the
 * event loop: outbound sockets (sock_out.c) watched by it, background name
 * resolution (resolve.c), timers, and the socket counters they add to.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "reactor.h"
#include "resolve.h"
#include "services.h"
#include "sock.h"
#include "sock_out.h"
#include "util.h"

static int
open_out(void *core, int family, const struct sock_conf *sc, handler_fn on_writable,
    void *userdata, struct sock_out **ret)
{
	return sock_out_new(core, family, sc, on_writable, userdata, ret);
}

static int
open_leg(void *core, int family, const struct sock_conf *sc)
{
	(void)core;
	return sock_out_socket(family, sc);
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

/*
 * A handler's fd set: an epoll of its own, itself watched by the loop, so
 * one wakeup finds every ready fd (a handler with thousands of session
 * legs costs the loop one watch, not thousands).
 */
#define FDSET_EVENTS	64

struct handler_fdset {
	struct reactor		*reactor;
	int			 ep;
	struct reactor_watch	*watch;
	handler_ready_fn	 fn;
	void			*userdata;
};

static void
on_fdset(struct reactor_watch *w, int fd, uint32_t events, void *userdata)
{
	struct handler_fdset *set = userdata;
	struct epoll_event ev[FDSET_EVENTS];
	void *ready[FDSET_EVENTS];
	int n, i;

	(void)w;
	(void)events;
	n = epoll_wait(fd, ev, FDSET_EVENTS, 0);
	for (i = 0; i < n; i++)
		ready[i] = ev[i].data.ptr;
	if (n > 0)
		set->fn(set->userdata, ready, (unsigned)n);
}

static struct handler_fdset *
fdset_free(struct handler_fdset *set)
{
	if (set == NULL)
		return NULL;
	(void)reactor_del_fd(set->reactor, set->watch);
	safe_close(set->ep);
	free(set);
	return NULL;
}

static int
fdset_new(void *core, handler_ready_fn fn, void *userdata, struct handler_fdset **ret)
{
	struct handler_fdset *set;
	int r;

	set = calloc(1, sizeof(*set));
	if (set == NULL)
		return -ENOMEM;
	set->reactor = core;
	set->fn = fn;
	set->userdata = userdata;
	set->ep = epoll_create1(EPOLL_CLOEXEC);
	if (set->ep < 0) {
		r = -errno;
		free(set);
		return r;
	}
	r = reactor_add_fd(core, set->ep, REACTOR_IN, on_fdset, set, &set->watch);
	if (r < 0) {
		fdset_free(set);
		return r;
	}
	*ret = set;
	return 0;
}

static int
fdset_add(struct handler_fdset *set, int fd, void *fd_userdata)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = fd_userdata };

	return epoll_ctl(set->ep, EPOLL_CTL_ADD, fd, &e) < 0 ? -errno : 0;
}

static void
fdset_del(struct handler_fdset *set, int fd)
{
	(void)epoll_ctl(set->ep, EPOLL_CTL_DEL, fd, NULL);
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
		.open_leg = open_leg,
		.timer_add = timer_add,
		.timer_del = timer_del,
		.fdset_new = fdset_new,
		.fdset_add = fdset_add,
		.fdset_del = fdset_del,
		.fdset_free = fdset_free,
		.count = count,
	};

	return svc;
}
