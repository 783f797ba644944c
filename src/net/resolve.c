/*
 * resolve.c: non-blocking host name resolution for forward targets.
 *
 * Each lookup runs getaddrinfo() in a detached thread, which stores the
 * result and writes to an eventfd the reactor watches, so results are
 * handled in the loop and the loop never waits for DNS. (This is what
 * getaddrinfo_a(SIGEV_THREAD) does, but glibc runs that notification
 * with every signal unblocked, where SIGUSR2 or SIGHUP meant for the
 * reactor's signalfd would kill the process; our threads start with all
 * signals blocked.) The memory a thread touches (struct lookup) is
 * reference counted: resolve_free() may drop a lookup still running,
 * whose thread then frees it. No lock is needed.
 *
 * It is the design of systemd's sd-resolve (worker threads answering
 * through an fd that sd-event watches), which libsystemd does not export:
 * neither sd-resolve.h nor any sd_resolve_* symbol is part of its public
 * interface, so dgramd keeps this small version.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "reactor.h"
#include "resolve.h"
#include "util.h"

/* Shared with the lookup thread; freed by whoever drops the last reference. */
struct lookup {
	atomic_int		 refs;
	atomic_bool		 done;		/* err and result are set */
	int			 efd;
	char			*host;
	char			 service[8];
	struct addrinfo		 hints;
	int			 err;
	struct addrinfo		*result;
};

/* One name, resolved now and periodically. Owned by its forward target. */
struct resolve {
	struct reactor		*reactor;
	struct lookup		*lk;
	struct reactor_watch	*ev_watch;
	struct reactor_watch	*timer;
	uint64_t		 timer_ms;	/* of the timer armed now, 0 = none */
	uint64_t		 interval_ms;
	uint64_t		 retry_ms;
	uint16_t		 port;
	bool			 busy;		/* a lookup is running */
	resolve_fn		 cb;
	void			*userdata;
};

static void
lookup_unref(struct lookup *lk)
{
	if (lk == NULL || atomic_fetch_sub(&lk->refs, 1) != 1)
		return;
	if (lk->result != NULL)
		freeaddrinfo(lk->result);
	safe_close(lk->efd);
	free(lk->host);
	free(lk);
}

/* The lookup thread: resolve, publish, wake the loop, let go. */
static void *
lookup_thread(void *arg)
{
	struct lookup *lk = arg;
	uint64_t one = 1;

	lk->err = getaddrinfo(lk->host, lk->service, &lk->hints, &lk->result);
	atomic_store_explicit(&lk->done, true, memory_order_release);
	(void)write(lk->efd, &one, sizeof(one));
	lookup_unref(lk);
	return NULL;
}

/* The first IPv4 or IPv6 address of ai, or -EADDRNOTAVAIL. */
static int
first_addr(const struct addrinfo *ai, union sockaddr_any *ret, socklen_t *ret_len)
{
	for (; ai != NULL; ai = ai->ai_next) {
		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    ai->ai_addrlen > sizeof(*ret))
			continue;
		memset(ret, 0, sizeof(*ret));
		memcpy(ret, ai->ai_addr, ai->ai_addrlen);
		*ret_len = ai->ai_addrlen;
		return 0;
	}
	return -EADDRNOTAVAIL;
}

static void
set_hints(struct addrinfo *h)
{
	memset(h, 0, sizeof(*h));
	h->ai_family = AF_UNSPEC;
	h->ai_socktype = SOCK_DGRAM;
	h->ai_flags = AI_NUMERICSERV;
}

static int
start_lookup(struct resolve *rs)
{
	struct lookup *lk = rs->lk;
	sigset_t all, saved;
	pthread_attr_t attr;
	pthread_t tid;
	int r;

	if (rs->busy)
		return 0;
	if (lk->result != NULL)
		freeaddrinfo(lk->result);
	lk->result = NULL;
	lk->err = 0;
	atomic_store(&lk->done, false);
	r = pthread_attr_init(&attr);
	if (r != 0)
		return -r;
	(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* The thread's reference, dropped when it ends. */
	atomic_fetch_add(&lk->refs, 1);
	/* The thread inherits this mask: signals stay the reactor's. */
	sigfillset(&all);
	(void)pthread_sigmask(SIG_BLOCK, &all, &saved);
	r = pthread_create(&tid, &attr, lookup_thread, lk);
	(void)pthread_sigmask(SIG_SETMASK, &saved, NULL);
	(void)pthread_attr_destroy(&attr);
	if (r != 0) {
		atomic_fetch_sub(&lk->refs, 1);
		return -r;
	}
	rs->busy = true;
	return 0;
}

static void
on_timer(void *userdata)
{
	struct resolve *rs = userdata;
	int r;

	r = start_lookup(rs);
	if (r < 0)
		log_debug_errno(r, "resolve %s: cannot start a lookup: %m", rs->lk->host);
}

/* Arms the timer for ms (0 = none), unless it already runs at that period. */
static void
arm(struct resolve *rs, uint64_t ms)
{
	int r;

	if (ms == rs->timer_ms)
		return;
	rs->timer = reactor_del_timer(rs->reactor, rs->timer);
	rs->timer_ms = 0;
	if (ms == 0)
		return;
	r = reactor_add_timer(rs->reactor, ms, on_timer, rs, &rs->timer);
	if (r < 0) {
		log_warning_errno(r, "resolve %s: cannot arm a timer: %m", rs->lk->host);
		return;
	}
	rs->timer_ms = ms;
}

static void
on_event(struct reactor_watch *w, int fd, uint32_t events, void *userdata)
{
	struct resolve *rs = userdata;
	struct lookup *lk = rs->lk;
	union sockaddr_any a;
	socklen_t len = 0;
	uint64_t n;
	int err;

	(void)w;
	(void)events;
	if (read(fd, &n, sizeof(n)) < 0 || !rs->busy ||
	    !atomic_load_explicit(&lk->done, memory_order_acquire))
		return;
	rs->busy = false;
	err = lk->err;
	if (err == 0 && first_addr(lk->result, &a, &len) < 0)
		err = EAI_NODATA;
	if (lk->result != NULL) {
		freeaddrinfo(lk->result);
		lk->result = NULL;
	}
	arm(rs, err == 0 ? rs->interval_ms : rs->retry_ms);
	rs->cb(rs->userdata, err, err == 0 ? &a : NULL, len);
}

int
resolve_new(struct reactor *r, const char *host, uint16_t port, uint64_t interval_ms,
    uint64_t retry_ms, resolve_fn cb, void *userdata, struct resolve **ret)
{
	struct resolve *rs;
	struct lookup *lk;
	int rc;

	rs = calloc(1, sizeof(*rs));
	lk = calloc(1, sizeof(*lk));
	if (rs == NULL || lk == NULL) {
		free(rs);
		free(lk);
		return -ENOMEM;
	}
	atomic_init(&lk->refs, 1);
	atomic_init(&lk->done, false);
	lk->efd = -1;
	rs->lk = lk;
	rs->reactor = r;
	rs->port = port;
	rs->interval_ms = interval_ms;
	rs->retry_ms = retry_ms;
	rs->cb = cb;
	rs->userdata = userdata;
	set_hints(&lk->hints);
	(void)snprintf(lk->service, sizeof(lk->service), "%u", port);
	lk->host = strdup(host);
	if (lk->host == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	lk->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (lk->efd < 0) {
		rc = -errno;
		goto fail;
	}
	rc = reactor_add_fd(r, lk->efd, REACTOR_IN, on_event, rs, &rs->ev_watch);
	if (rc < 0)
		goto fail;
	rc = start_lookup(rs);
	if (rc < 0)
		goto fail;
	*ret = rs;
	return 0;
fail:
	resolve_free(rs);
	return rc;
}

struct resolve *
resolve_free(struct resolve *rs)
{
	if (rs == NULL)
		return NULL;
	rs->ev_watch = reactor_del_fd(rs->reactor, rs->ev_watch);
	rs->timer = reactor_del_timer(rs->reactor, rs->timer);
	lookup_unref(rs->lk);
	free(rs);
	return NULL;
}

int
resolve_sync(const char *host, uint16_t port, union sockaddr_any *ret, socklen_t *ret_len)
{
	struct addrinfo hints, *res = NULL;
	char service[8];
	int r;

	set_hints(&hints);
	(void)snprintf(service, sizeof(service), "%u", port);
	r = getaddrinfo(host, service, &hints, &res);
	if (r != 0)
		return r;
	if (first_addr(res, ret, ret_len) < 0)
		r = EAI_NODATA;
	freeaddrinfo(res);
	return r;
}
