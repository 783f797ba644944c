/*
 * ctlsrv.h: a small, bounded stream server inside the event loop, shared by
 * the control socket and the /metrics listener. One request per connection:
 * it reads until the request is complete (at most CTLSRV_MAX_REQUEST
 * bytes), builds the whole answer, writes it as the client reads it, and
 * closes. At most CTLSRV_MAX_CLIENTS at once (one more is told "busy" and
 * closed), and a client that makes no progress for CTLSRV_IDLE_MS is
 * dropped: a silent, slow or hostile client never holds up datagrams.
 */
#ifndef DGRAMD_CTLSRV_H
#define DGRAMD_CTLSRV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CTLSRV_MAX_CLIENTS	16
#define CTLSRV_MAX_REQUEST	4096
#define CTLSRV_IDLE_MS		2000
/* Connections the kernel holds until they are accepted (a burst waits, then is served or told "busy"). */
#define CTLSRV_BACKLOG		128

struct reactor;
struct strbuf;
struct ctlsrv;

/* Who is asking: SO_PEERCRED on unix sockets (pid 0, uid/gid -1 elsewhere). */
struct ctl_peer {
	pid_t	pid;
	uid_t	uid;
	gid_t	gid;
};

struct ctlsrv_ops {
	/*
	 * How many bytes of buf make a complete request: > 0 when complete, 0
	 * when more is needed, < 0 when it can never become one (answered
	 * with bad(), then closed).
	 */
	ssize_t	(*complete)(const char *buf, size_t len);
	/* Writes the answer to a complete request into out. */
	void	(*respond)(void *userdata, const struct ctl_peer *peer, const char *req,
		    size_t len, struct strbuf *out);
	/* The answer to a malformed or oversized request, or when busy. */
	void	(*bad)(void *userdata, const char *why, struct strbuf *out);
};

/* What a server saw (all counters). */
struct ctlsrv_stats {
	uint64_t	accepted;
	uint64_t	served;
	uint64_t	bad;		/* malformed or oversized requests */
	uint64_t	busy;		/* turned away: CTLSRV_MAX_CLIENTS already */
	uint64_t	timeouts;	/* dropped after CTLSRV_IDLE_MS without progress */
};

/*
 * Serves the listening stream socket fd (non-blocking; the server owns it
 * from now on and closes it). what names it in diagnostics. Returns 0 or
 * -errno (fd is closed then too).
 */
int	ctlsrv_new(struct reactor *r, int fd, const char *what, const struct ctlsrv_ops *ops,
	    void *userdata, struct ctlsrv **ret);
/* Closes the listener and every client; accepts NULL; returns NULL. */
struct ctlsrv	*ctlsrv_free(struct ctlsrv *s);
const struct ctlsrv_stats *ctlsrv_stats(const struct ctlsrv *s);

#endif
