/*
 * activation.h: the only speaker of the systemd protocols (through
 * libsystemd's sd-daemon): sockets passed by systemd, readiness and status
 * notification, the fd store. The watchdog is the event loop's
 * (reactor_set_watchdog).
 */
#ifndef DGRAMD_ACTIVATION_H
#define DGRAMD_ACTIVATION_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The sockets dgramd puts in systemd's fd store are named with this prefix
 * and the config socket's name ("store/relay"). Config names cannot hold a
 * '/', so a socket unit's FileDescriptorName= never looks like one.
 */
#define ACTIVATION_STORE_PREFIX	"store/"

/* One fd passed by systemd (LISTEN_FDS), with its FileDescriptorName=. */
struct activation_fd {
	char	*name;		/* the config socket name (prefix removed) */
	int	 fd;		/* -1 once dropped or owned by a socket */
	bool	 used;		/* matched to a config socket */
	bool	 stored;	/* from dgramd's own fd store, not a socket unit */
};

/*
 * Takes the fds systemd passed (and unsets LISTEN_* so children do not
 * see them). Returns the count (0 when not socket-activated) or -errno.
 */
int	activation_listen_fds(struct activation_fd **ret);
/* Frees the array; closes the fds not marked used when close_unused. */
void	activation_fds_free(struct activation_fd *fds, size_t n, bool close_unused);

/* Sends a notification ("READY=1", "STATUS=...") if NOTIFY_SOCKET is set. */
void	activation_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* RELOADING=1 with MONOTONIC_USEC, as systemd expects around a reload. */
void	activation_notify_reloading(void);
/* True when systemd runs a notify socket (so the fd store may be used). */
bool	activation_has_notify(void);
/*
 * Hands fd to systemd's fd store as "store/NAME" (FDSTORE=1, FDPOLL=0);
 * 0 or -errno. systemd ignores it when FileDescriptorStoreMax= is 0, and
 * a second copy of a socket already stored.
 */
int	activation_fdstore(int fd, const char *name);
/* Asks systemd to close the socket stored as "store/NAME" (FDSTOREREMOVE=1). */
void	activation_fdstore_remove(const char *name);

#endif
