/*
 * resolve.c: non-blocking host name resolution for forward targets.
 *
 * Lookups are glibc's asynchronous getaddrinfo_a(3): glibc's helper
 * threads (at most 20, all signals blocked, gone when idle) run
 * getaddrinfo() and announce each completion with a queued real-time
 * signal, RESOLVE_SIGNAL, which the reactor reads from its signalfd like
 * any other signal. The handler then reaps every finished request with
 * gai_error(3), so a completion is seen even when its own signal comes
 * later or was merged with another, and results are only ever handled in
 * the loop. (SIGEV_THREAD is not used: glibc runs that notification with
 * every signal unblocked, where a SIGHUP meant for the signalfd would kill
 * the process.)
 *
 * This stands for systemd's sd-resolve, which does the same with its own
 * worker threads but which libsystemd does not export: neither
 * sd-resolve.h nor any sd_resolve_* symbol is part of its public
 * interface.
 *
 * A request's memory (struct lookup) must stay valid until glibc is done
 * with it. resolve_free() cancels a request still queued; one already
 * running is disowned and reaped when it finishes. One reactor at a time
 * resolves: the signal has one handler per process.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "reactor.h"
#include "resolve.h"
#include "util.h"

/* One getaddrinfo_a request, from submission until it is reaped. */
struct lookup {
	struct gaicb		 req;		/* first: glibc's view */
	struct addrinfo		 hints;
	char			 service[8];
	char			*host;
	struct resolve		*owner;		/* NULL once disowned */
	struct lookup		*next;		/* in running, or a reaped batch */
	bool			 reaped;	/* out of running, result being delivered */
};

/* One name, resolved now and periodically. Owned by its forward target. */
struct resolve {
	struct reactor		*reactor;
	char			*host;
	struct lookup		*lk;		/* the request running, if any */
	struct reactor_watch	*timer;
	uint64_t		 timer_ms;	/* of the timer armed now, 0 = none */
	uint64_t		 interval_ms;
	uint64_t		 retry_ms;
	uint16_t		 port;
	resolve_fn		 cb;
	void			*userdata;
};

/* What the process resolves with: one signal handler, one list of requests. */
static struct {
	struct reactor		*reactor;	/* whose loop gets the signal */
	struct reactor_watch	*sig;
	unsigned		 users;		/* live struct resolve */
	struct lookup		*running;	/* submitted, not reaped */
} gai;

static struct lookup *
lookup_free(struct lookup *lk)
{
	if (lk->req.ar_result != NULL)
		freeaddrinfo(lk->req.ar_result);
	free(lk->host);
	free(lk);
	return NULL;
}

static void
unlink_running(struct lookup *lk)
{
	struct lookup **p;

	for (p = &gai.running; *p != NULL; p = &(*p)->next)
		if (*p == lk) {
			*p = lk->next;
			lk->next = NULL;
			return;
		}
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

/* Submits a lookup of rs's name, unless one is running. Returns 0 or -errno. */
static int
start_lookup(struct resolve *rs)
{
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL };
	struct gaicb *list[1];
	struct lookup *lk;
	int r;

	if (rs->lk != NULL)
		return 0;
	lk = calloc(1, sizeof(*lk));
	if (lk == NULL)
		return -ENOMEM;
	lk->host = strdup(rs->host);
	if (lk->host == NULL) {
		free(lk);
		return -ENOMEM;
	}
	set_hints(&lk->hints);
	(void)snprintf(lk->service, sizeof(lk->service), "%u", rs->port);
	lk->req.ar_name = lk->host;
	lk->req.ar_service = lk->service;
	lk->req.ar_request = &lk->hints;
	list[0] = &lk->req;
	sev.sigev_signo = RESOLVE_SIGNAL;
	r = getaddrinfo_a(GAI_NOWAIT, list, 1, &sev);
	if (r != 0) {
		lookup_free(lk);
		return r == EAI_MEMORY ? -ENOMEM : -EAGAIN;
	}
	lk->owner = rs;
	lk->next = gai.running;
	gai.running = lk;
	rs->lk = lk;
	return 0;
}

static void
on_timer(void *userdata)
{
	struct resolve *rs = userdata;
	int r;

	r = start_lookup(rs);
	if (r < 0)
		log_debug_errno(r, "resolve %s: cannot start a lookup: %m", rs->host);
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
		log_warning_errno(r, "resolve %s: cannot arm a timer: %m", rs->host);
		return;
	}
	rs->timer_ms = ms;
}

/* Hands a finished lookup's outcome to its owner. */
static void
deliver(struct resolve *rs, struct lookup *lk)
{
	union sockaddr_any a;
	socklen_t len = 0;
	int err;

	err = gai_error(&lk->req);
	if (err == 0 && first_addr(lk->req.ar_result, &a, &len) < 0)
		err = EAI_NODATA;
	arm(rs, err == 0 ? rs->interval_ms : rs->retry_ms);
	rs->cb(rs->userdata, err, err == 0 ? &a : NULL, len);
}

/*
 * Takes every finished request out of the running list first, then
 * delivers them: a callback may free or start lookups meanwhile. An
 * owner keeps its reaped request (rs->lk) until its turn comes, so that
 * freeing it from another's callback disowns the request (disown()).
 */
static void
reap(void)
{
	struct lookup **p = &gai.running, *done = NULL, *lk;

	while ((lk = *p) != NULL) {
		if (gai_error(&lk->req) == EAI_INPROGRESS) {
			p = &lk->next;
			continue;
		}
		*p = lk->next;
		lk->next = done;
		lk->reaped = true;
		done = lk;
	}
	while ((lk = done) != NULL) {
		done = lk->next;
		if (lk->owner != NULL) {
			lk->owner->lk = NULL;
			deliver(lk->owner, lk);
		}
		lookup_free(lk);
	}
}

static void
on_signal(int signo, void *userdata)
{
	(void)signo;
	(void)userdata;
	reap();
}

/* Counts a new user of r; the first one installs the signal watcher. */
static int
gai_ref(struct reactor *r)
{
	int rc;

	if (gai.users > 0) {
		if (gai.reactor != r)
			return -EBUSY;
		gai.users++;
		return 0;
	}
	rc = reactor_add_signal(r, RESOLVE_SIGNAL, on_signal, NULL, &gai.sig);
	if (rc < 0)
		return rc;
	gai.reactor = r;
	gai.users = 1;
	return 0;
}

static void
gai_unref(void)
{
	if (--gai.users > 0)
		return;
	/* Requests still running stay listed: the next user reaps them. */
	gai.sig = reactor_del_signal(gai.reactor, gai.sig);
	gai.reactor = NULL;
}

int
resolve_new(struct reactor *r, const char *host, uint16_t port, uint64_t interval_ms,
    uint64_t retry_ms, resolve_fn cb, void *userdata, struct resolve **ret)
{
	struct resolve *rs;
	int rc;

	rs = malloc(sizeof(*rs));
	if (rs == NULL)
		return -ENOMEM;
	*rs = (struct resolve){ .reactor = r, .host = strdup(host), .port = port,
	    .interval_ms = interval_ms, .retry_ms = retry_ms, .cb = cb, .userdata = userdata };
	rc = rs->host == NULL ? -ENOMEM : gai_ref(r);
	if (rc < 0) {
		free(rs->host);
		free(rs);
		return rc;
	}
	rc = start_lookup(rs);
	if (rc < 0) {
		resolve_free(rs);
		return rc;
	}
	*ret = rs;
	return 0;
}

/* Lets go of rs's running request: cancelled if still queued, else disowned. */
static void
disown(struct resolve *rs)
{
	struct lookup *lk = rs->lk;

	if (lk == NULL)
		return;
	rs->lk = NULL;
	lk->owner = NULL;
	if (lk->reaped)
		return;		/* reap() frees it */
	if (gai_cancel(&lk->req) == EAI_NOTCANCELED)
		return;		/* running: reap() frees it when it ends */
	unlink_running(lk);
	lookup_free(lk);
}

struct resolve *
resolve_free(struct resolve *rs)
{
	if (rs == NULL)
		return NULL;
	disown(rs);
	rs->timer = reactor_del_timer(rs->reactor, rs->timer);
	free(rs->host);
	free(rs);
	gai_unref();
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
