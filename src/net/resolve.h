/*
 * resolve.h: non-blocking resolution of forward targets' host names.
 * Lookups run in glibc's getaddrinfo_a(3); each completion is announced
 * with RESOLVE_SIGNAL, which the reactor reads from its signalfd, so the
 * loop never waits for DNS. A name is looked up at once and again every
 * interval.
 */
#ifndef DGRAMD_RESOLVE_H
#define DGRAMD_RESOLVE_H

#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>

#include "addr.h"

struct reactor;
struct resolve;

/* The real-time signal glibc queues when a lookup ends (blocked, read by the loop). */
#define RESOLVE_SIGNAL	(SIGRTMIN + 3)

/*
 * Called in the reactor when a lookup ends: err is 0 with the first
 * address found in a/len (port set), or an EAI_* code (a is NULL).
 */
typedef void (*resolve_fn)(void *userdata, int err, const union sockaddr_any *a,
    socklen_t len);

/*
 * Starts resolving host (port is put in the result) now, and again every
 * interval_ms after a success (0 = never again); after a failure it
 * retries every retry_ms. Returns 0 or -errno.
 */
int	resolve_new(struct reactor *r, const char *host, uint16_t port, uint64_t interval_ms,
	    uint64_t retry_ms, resolve_fn cb, void *userdata, struct resolve **ret);
/*
 * Stops and frees; accepts NULL; returns NULL. A lookup still queued is
 * cancelled; one running is abandoned and freed when it ends.
 */
struct resolve	*resolve_free(struct resolve *rs);

/*
 * Resolves host synchronously (for -t only: it blocks). Returns 0 with the
 * first address, or an EAI_* code (gai_strerror describes it).
 */
int	resolve_sync(const char *host, uint16_t port, union sockaddr_any *ret,
	    socklen_t *ret_len);

#endif
