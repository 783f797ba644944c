/*
 * reactor.c: a small level-triggered epoll loop. Watchers live in
 * epoll's data.ptr; a deleted watcher is only marked during a batch of
 * events and freed when the batch ends, so a callback may remove any
 * watcher (its own included) without the loop touching freed memory.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "reactor.h"
#include "util.h"

enum watch_kind { W_FD, W_TIMER, W_SIGNAL };

struct reactor_watch {
	enum watch_kind		 kind;
	int			 fd;
	uint32_t		 events;
	bool			 deleted;
	reactor_fd_fn		 fd_cb;
	reactor_fn		 cb;
	void			*userdata;
	struct reactor_watch	*next_dead;
	struct reactor_watch	*next;	/* all live watchers, for reactor_free */
	struct reactor_watch	*prev;
};

struct sig_entry {
	int			 signo;
	reactor_signal_fn	 cb;
	void			*userdata;
};

struct hook {
	reactor_fn		 cb;
	void			*userdata;
};

struct reactor {
	int			 epfd;
	bool			 stopped;
	struct reactor_watch	*watches;
	struct reactor_watch	*dead;
	struct reactor_watch	*sigwatch;
	sigset_t		 sigmask;
	struct sig_entry	*sigs;
	size_t			 n_sigs;
	struct hook		*hooks;
	size_t			 n_hooks;
};

int
reactor_new(struct reactor **ret)
{
	struct reactor *r;

	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (r->epfd < 0) {
		int e = -errno;

		free(r);
		return e;
	}
	sigemptyset(&r->sigmask);
	*ret = r;
	return 0;
}

static void
free_dead(struct reactor *r)
{
	struct reactor_watch *w;

	while ((w = r->dead) != NULL) {
		r->dead = w->next_dead;
		free(w);
	}
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

struct reactor *
reactor_free(struct reactor *r)
{
	struct reactor_watch *w;

	if (r == NULL)
		return NULL;
	while ((w = r->watches) != NULL) {
		/* Unlink the head inline: its prev is always NULL. */
		r->watches = w->next;
		if (r->watches != NULL)
			r->watches->prev = NULL;
		if (w->kind != W_FD)
			safe_close(w->fd);
		free(w);
	}
	free_dead(r);
	/*
	 * The signals stay blocked: a second SIGTERM that arrives while the
	 * daemon is stopping must not kill it with its default action (the
	 * exit status is the contract). The process exits with them pending.
	 */
	free(r->sigs);
	free(r->hooks);
	safe_close(r->epfd);
	free(r);
	return NULL;
}

/* Registers fd; returns the new watcher, or NULL with *ret_err = -errno. */
static struct reactor_watch *
add_watch(struct reactor *r, enum watch_kind kind, int fd, uint32_t events, int *ret_err)
{
	struct epoll_event ev = { 0 };
	struct reactor_watch *w;

	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		*ret_err = -ENOMEM;
		return NULL;
	}
	w->kind = kind;
	w->fd = fd;
	w->events = events;
	ev.events = events;
	ev.data.ptr = w;
	if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		*ret_err = errno > 0 ? -errno : -EIO;
		free(w);
		return NULL;
	}
	w->next = r->watches;
	if (w->next != NULL)
		w->next->prev = w;
	r->watches = w;
	return w;
}

int
reactor_add_fd(struct reactor *r, int fd, uint32_t events, reactor_fd_fn cb,
    void *userdata, struct reactor_watch **ret)
{
	struct reactor_watch *w;
	int rc;

	w = add_watch(r, W_FD, fd, events, &rc);
	if (w == NULL)
		return rc;
	w->fd_cb = cb;
	w->userdata = userdata;
	if (ret != NULL)
		*ret = w;
	return 0;
}

int
reactor_mod_fd(struct reactor *r, struct reactor_watch *w, uint32_t events)
{
	struct epoll_event ev = { 0 };

	if (w->events == events)
		return 0;
	ev.events = events;
	ev.data.ptr = w;
	if (epoll_ctl(r->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
		return -errno;
	w->events = events;
	return 0;
}

static void
del_watch(struct reactor *r, struct reactor_watch *w)
{
	(void)epoll_ctl(r->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	if (w->kind != W_FD)
		w->fd = safe_close(w->fd);
	w->deleted = true;
	unlink_watch(r, w);
	w->next_dead = r->dead;
	r->dead = w;
}

struct reactor_watch *
reactor_del_fd(struct reactor *r, struct reactor_watch *w)
{
	if (w != NULL && !w->deleted)
		del_watch(r, w);
	return NULL;
}

int
reactor_add_timer(struct reactor *r, uint64_t interval_ms, reactor_fn cb,
    void *userdata, struct reactor_watch **ret)
{
	struct itimerspec its = { 0 };
	struct reactor_watch *w;
	int fd, rc;

	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	its.it_interval.tv_sec = (time_t)(interval_ms / 1000);
	its.it_interval.tv_nsec = (long)(interval_ms % 1000) * 1000000L;
	its.it_value = its.it_interval;
	if (timerfd_settime(fd, 0, &its, NULL) < 0) {
		rc = -errno;
		safe_close(fd);
		return rc;
	}
	w = add_watch(r, W_TIMER, fd, EPOLLIN, &rc);
	if (w == NULL) {
		safe_close(fd);
		return rc;
	}
	w->cb = cb;
	w->userdata = userdata;
	if (ret != NULL)
		*ret = w;
	return 0;
}

struct reactor_watch *
reactor_del_timer(struct reactor *r, struct reactor_watch *w)
{
	return reactor_del_fd(r, w);
}

int
reactor_add_signal(struct reactor *r, int signo, reactor_signal_fn cb, void *userdata)
{
	struct sig_entry *s;
	int fd, rc;

	s = realloc(r->sigs, (r->n_sigs + 1) * sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	r->sigs = s;
	sigaddset(&r->sigmask, signo);
	if (sigprocmask(SIG_BLOCK, &r->sigmask, NULL) < 0)
		return -errno;
	fd = signalfd(r->sigwatch != NULL ? r->sigwatch->fd : -1, &r->sigmask,
	    SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (r->sigwatch == NULL) {
		r->sigwatch = add_watch(r, W_SIGNAL, fd, EPOLLIN, &rc);
		if (r->sigwatch == NULL) {
			safe_close(fd);
			return rc;
		}
	}
	s[r->n_sigs].signo = signo;
	s[r->n_sigs].cb = cb;
	s[r->n_sigs].userdata = userdata;
	r->n_sigs++;
	return 0;
}

int
reactor_on_before_sleep(struct reactor *r, reactor_fn cb, void *userdata)
{
	struct hook *h;

	h = realloc(r->hooks, (r->n_hooks + 1) * sizeof(*h));
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

static void
dispatch_signals(struct reactor *r)
{
	struct signalfd_siginfo si;
	size_t i;

	/*
	 * One signal per turn: the before-sleep hooks run between two, so a
	 * stats line asked for after some output was produced reflects it.
	 * Level-triggered epoll brings us back for the next one.
	 */
	if (read(r->sigwatch->fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return;
	for (i = 0; i < r->n_sigs; i++)
		if (r->sigs[i].signo == (int)si.ssi_signo)
			r->sigs[i].cb((int)si.ssi_signo, r->sigs[i].userdata);
}

static void
dispatch(struct reactor *r, struct reactor_watch *w, uint32_t events)
{
	uint64_t expirations;

	if (w->deleted)
		return;
	switch (w->kind) {
	case W_FD:
		/* Deliver only what is still asked for (libuv uv__io_poll). */
		events &= w->events | EPOLLERR | EPOLLHUP;
		if (events != 0)
			w->fd_cb(w, w->fd, events, w->userdata);
		break;
	case W_TIMER:
		if (read(w->fd, &expirations, sizeof(expirations)) > 0)
			w->cb(w->userdata);
		break;
	case W_SIGNAL:
		dispatch_signals(r);
		break;
	}
}

int
reactor_run_once(struct reactor *r, int timeout_ms)
{
	struct epoll_event evs[64];
	size_t i;
	int n;

	for (i = 0; i < r->n_hooks; i++)
		r->hooks[i].cb(r->hooks[i].userdata);
	if (r->stopped)
		return 0;
	n = epoll_wait(r->epfd, evs, (int)ARRAY_SIZE(evs), timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 0; i < (size_t)n; i++)
		dispatch(r, evs[i].data.ptr, evs[i].events);
	free_dead(r);
	return n;
}

int
reactor_run(struct reactor *r)
{
	int rc;

	r->stopped = false;
	while (!r->stopped) {
		rc = reactor_run_once(r, -1);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void
reactor_stop(struct reactor *r)
{
	r->stopped = true;
}
