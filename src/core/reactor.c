/*
 * reactor.c: the event loop, on systemd's sd-event. The only file that
 * includes <systemd/sd-event.h>; the rest of dgramd sees watchers,
 * signals, timers and before-sleep hooks (reactor.h).
 *
 * A watcher wraps one sd_event_source. Deleting it disables and unrefs the
 * source; sd-event keeps a source that is being dispatched alive until its
 * callback returns, and the wrapper is freed by the source's destroy
 * callback, so a callback may remove any watcher (its own included).
 *
 * The before-sleep hooks run from a prepare callback, which sd-event calls
 * at the start of every iteration, before it polls. Its host is a timer
 * that never elapses (sd-event runs prepare callbacks of enabled sources
 * only, and a timer at infinity is enabled but never pending).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "reactor.h"
#include "util.h"

/* Timers may fire up to 1 ms late, so sd-event can coalesce wakeups. */
#define TIMER_ACCURACY_USEC	1000

struct reactor_watch {
	struct reactor		*r;
	sd_event_source		*src;
	uint32_t		 events;	/* fd watchers: the interest */
	uint64_t		 interval_usec;	/* timers: the period */
	reactor_fd_fn		 fd_cb;
	reactor_fn		 cb;
	reactor_signal_fn	 sig_cb;
	void			*userdata;
	struct reactor_watch	*next;		/* all live watchers, for reactor_free */
	struct reactor_watch	*prev;
};

struct hook {
	reactor_fn		 cb;
	void			*userdata;
};

struct reactor {
	sd_event		*event;
	struct reactor_watch	*watches;
	sd_event_source		*hook_host;	/* carries the prepare callback */
	struct hook		*hooks;
	size_t			 n_hooks;
};

static int
run_hooks(sd_event_source *s, void *userdata)
{
	struct reactor *r = userdata;
	size_t i;

	(void)s;
	for (i = 0; i < r->n_hooks; i++)
		r->hooks[i].cb(r->hooks[i].userdata);
	return 0;
}

static int
never(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	(void)userdata;
	return 0;
}

int
reactor_new(struct reactor **ret)
{
	struct reactor *r;
	int rc;

	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	rc = sd_event_new(&r->event);
	if (rc < 0) {
		free(r);
		return rc;
	}
	rc = sd_event_add_time(r->event, &r->hook_host, CLOCK_MONOTONIC, UINT64_MAX, 0, never,
	    r);
	if (rc == 0)
		rc = sd_event_source_set_enabled(r->hook_host, SD_EVENT_ON);
	if (rc == 0)
		rc = sd_event_source_set_prepare(r->hook_host, run_hooks);
	if (rc < 0) {
		reactor_free(r);
		return rc;
	}
	*ret = r;
	return 0;
}

static void
unlink_watch(struct reactor *r, struct reactor_watch *w)
{
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		r->watches = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	w->next = w->prev = NULL;
}

/* Frees the wrapper once sd-event lets go of the source. */
static void
watch_destroyed(void *userdata)
{
	free(userdata);
}

/* Stops w: the source is disabled now and freed with w when sd-event allows. */
static void
del_watch(struct reactor_watch *w)
{
	sd_event_source *src = w->src;

	unlink_watch(w->r, w);
	/* The destroy callback frees w: src is the last thing read from it. */
	(void)sd_event_source_disable_unref(src);
}

struct reactor *
reactor_free(struct reactor *r)
{
	if (r == NULL)
		return NULL;
	while (r->watches != NULL)
		del_watch(r->watches);
	(void)sd_event_source_disable_unref(r->hook_host);
	/*
	 * The signals stay blocked: a stop signal arriving while the daemon
	 * shuts down must wait for the exit, not kill the process.
	 */
	sd_event_unref(r->event);
	free(r->hooks);
	free(r);
	return NULL;
}

/* A new watcher in r's list, or NULL. */
static struct reactor_watch *
new_watch(struct reactor *r, void *userdata)
{
	struct reactor_watch *w;

	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	w->r = r;
	w->userdata = userdata;
	return w;
}

/* Ties w to its new source src (or frees w after a failure rc). */
static int
attach_watch(struct reactor *r, struct reactor_watch *w, int rc, struct reactor_watch **ret)
{
	if (rc == 0)
		rc = sd_event_source_set_destroy_callback(w->src, watch_destroyed);
	if (rc < 0) {
		if (w->src != NULL)
			(void)sd_event_source_disable_unref(w->src);	/* no destroy cb yet */
		free(w);
		return rc;
	}
	w->next = r->watches;
	if (w->next != NULL)
		w->next->prev = w;
	r->watches = w;
	if (ret != NULL)
		*ret = w;
	return 0;
}

static int
on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct reactor_watch *w = userdata;

	(void)s;
	/* Deliver only what is still asked for (libuv uv__io_poll). */
	revents &= w->events | EPOLLERR | EPOLLHUP;
	if (revents != 0)
		w->fd_cb(w, fd, revents, w->userdata);
	return 0;
}

int
reactor_add_fd(struct reactor *r, int fd, uint32_t events, reactor_fd_fn cb,
    void *userdata, struct reactor_watch **ret)
{
	struct reactor_watch *w;

	w = new_watch(r, userdata);
	if (w == NULL)
		return -ENOMEM;
	w->events = events;
	w->fd_cb = cb;
	return attach_watch(r, w, sd_event_add_io(r->event, &w->src, fd, events, on_io, w), ret);
}

int
reactor_mod_fd(struct reactor *r, struct reactor_watch *w, uint32_t events)
{
	int rc;

	(void)r;
	if (w->events == events)
		return 0;
	rc = sd_event_source_set_io_events(w->src, events);
	if (rc < 0)
		return rc;
	w->events = events;
	return 0;
}

struct reactor_watch *
reactor_del_fd(struct reactor *r, struct reactor_watch *w)
{
	(void)r;
	if (w != NULL)
		del_watch(w);
	return NULL;
}

static int
on_time(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct reactor_watch *w = userdata;
	uint64_t now = usec, next;

	/* Periodic: the next expiry one period after this one, never in the past. */
	(void)sd_event_now(sd_event_source_get_event(s), CLOCK_MONOTONIC, &now);
	next = usec + w->interval_usec;
	if (next <= now)
		next = now + w->interval_usec;
	(void)sd_event_source_set_time(s, next);
	w->cb(w->userdata);
	return 0;
}

int
reactor_add_timer(struct reactor *r, uint64_t interval_ms, reactor_fn cb,
    void *userdata, struct reactor_watch **ret)
{
	struct reactor_watch *w;
	uint64_t now;
	int rc;

	rc = sd_event_now(r->event, CLOCK_MONOTONIC, &now);
	if (rc < 0)
		return rc;
	w = new_watch(r, userdata);
	if (w == NULL)
		return -ENOMEM;
	w->interval_usec = MAX(interval_ms, 1) * 1000;
	w->cb = cb;
	rc = sd_event_add_time(r->event, &w->src, CLOCK_MONOTONIC, now + w->interval_usec,
	    TIMER_ACCURACY_USEC, on_time, w);
	/* Time sources are one-shot by default; on_time re-arms this one. */
	if (rc == 0)
		rc = sd_event_source_set_enabled(w->src, SD_EVENT_ON);
	return attach_watch(r, w, rc, ret);
}

struct reactor_watch *
reactor_del_timer(struct reactor *r, struct reactor_watch *w)
{
	return reactor_del_fd(r, w);
}

static int
on_sig(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct reactor_watch *w = userdata;

	(void)s;
	w->sig_cb((int)si->ssi_signo, w->userdata);
	return 0;
}

int
reactor_add_signal(struct reactor *r, int signo, reactor_signal_fn cb, void *userdata,
    struct reactor_watch **ret)
{
	struct reactor_watch *w;
	sigset_t set;

	/* sd-event reads signals from a signalfd: they must be blocked first. */
	sigemptyset(&set);
	sigaddset(&set, signo);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	w = new_watch(r, userdata);
	if (w == NULL)
		return -ENOMEM;
	w->sig_cb = cb;
	return attach_watch(r, w, sd_event_add_signal(r->event, &w->src, signo, on_sig, w),
	    ret);
}

struct reactor_watch *
reactor_del_signal(struct reactor *r, struct reactor_watch *w)
{
	return reactor_del_fd(r, w);
}

int
reactor_set_watchdog(struct reactor *r)
{
	return sd_event_set_watchdog(r->event, true);
}

int
reactor_on_before_sleep(struct reactor *r, reactor_fn cb, void *userdata)
{
	struct hook *h;

	h = reallocarray(r->hooks, r->n_hooks + 1, sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	r->hooks = h;
	h[r->n_hooks].cb = cb;
	h[r->n_hooks].userdata = userdata;
	r->n_hooks++;
	return 0;
}

void
reactor_del_before_sleep(struct reactor *r, reactor_fn cb, void *userdata)
{
	size_t i;

	for (i = 0; i < r->n_hooks; i++) {
		if (r->hooks[i].cb == cb && r->hooks[i].userdata == userdata) {
			memmove(&r->hooks[i], &r->hooks[i + 1],
			    (r->n_hooks - i - 1) * sizeof(r->hooks[0]));
			r->n_hooks--;
			return;
		}
	}
}

bool
reactor_may_continue(struct reactor *r, const struct reactor_watch *w)
{
	const struct reactor_watch *o;
	int code;

	/* What the last epoll_wait found ready is pending; so is an exit. */
	if (sd_event_get_exit_code(r->event, &code) >= 0)
		return false;
	for (o = r->watches; o != NULL; o = o->next)
		if (o != w && sd_event_source_get_pending(o->src) > 0)
			return false;
	(void)run_hooks(NULL, r);
	return true;
}

int
reactor_run_once(struct reactor *r, int timeout_ms)
{
	int rc;

	rc = sd_event_run(r->event, timeout_ms < 0 ? UINT64_MAX : (uint64_t)timeout_ms * 1000);
	if (rc == -EINTR)
		return 0;
	return rc < 0 ? rc : rc > 0;
}

int
reactor_run(struct reactor *r)
{
	int rc;

	rc = sd_event_loop(r->event);
	return rc < 0 ? rc : 0;
}

void
reactor_stop(struct reactor *r)
{
	(void)sd_event_exit(r->event, 0);
}
