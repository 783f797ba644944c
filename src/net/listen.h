/*
 * listen.h: opening a config socket: adopting the socket systemd passed
 * for it (from a socket unit, or dgramd's own from the fd store) when it
 * fits, or binding it; the one check of whether a passed socket fits.
 */
#ifndef DGRAMD_LISTEN_H
#define DGRAMD_LISTEN_H

#include <stddef.h>

struct activation_fd;
struct dg_socket;
struct sock_conf;

/* What listen_fits found; a negative value is -errno (fd not inspectable). */
enum listen_fit {
	LISTEN_FITS = 0,	/* fd binds what the config socket declares */
	LISTEN_MISFIT = 1,	/* it binds something else: *why says what */
};

/* Where a passed socket comes from. */
enum listen_origin {
	LISTEN_FROM_UNIT,	/* a socket unit's: systemd chose its options */
	LISTEN_FROM_STORE,	/* dgramd's own fd store: bound from this config */
};

/*
 * Whether fd binds what c declares: a datagram socket of c's family; for
 * UDP the port (any port when c says 0) and the address (a socket unit's
 * may bind one address where c declares all of them); for unix the path,
 * whose file must still be a socket (abstract names have none). A socket
 * from the fd store must also have c's exact address, reuseport and, for
 * udp6, ipv6_only (unset means on): those of a socket unit are the unit's
 * (BindIPv6Only=, ReusePort=), as sd_listen_fds(3) advises checking
 * loosely. Returns LISTEN_FITS, LISTEN_MISFIT, or -errno when fd cannot be
 * inspected; *why is set to a short reason whenever the result is not
 * LISTEN_FITS.
 */
int	listen_fits(const struct sock_conf *c, int fd, enum listen_origin from, const char **why);

/*
 * What listen_open did; a negative value is -errno. A misfit of a socket
 * unit's socket is a config error, which no errno stands for.
 */
enum listen_how {
	LISTEN_OPEN_BOUND,	/* nothing fitting passed under c's name: bound afresh */
	LISTEN_OPEN_UNIT,	/* a socket unit's, adopted: never bound, shut down or unlinked */
	LISTEN_OPEN_STORE,	/* dgramd's own from the fd store: its own again */
	LISTEN_OPEN_MISFIT,	/* a socket unit's that does not fit c */
};

/* Room for listen_open's error text: a path or address for each side, and words. */
#define LISTEN_ERR_MAX	512

/*
 * Opens config socket c. The first fd of fds[0..n_fds) passed under c's
 * name and not used yet is taken over and marked used: a socket unit's
 * when it fits c loosely (listen_fits), one from the fd store when it fits
 * strictly; the latter is then dgramd's own (closed and unlinked when the
 * config drops it) and its entry's fd is -1. A stored socket that does not
 * fit is closed and removed from the store with a notice, and c is bound
 * afresh, as when nothing was passed. Returns a LISTEN_OPEN_* with *ret
 * set (except for LISTEN_OPEN_MISFIT), or -errno; on LISTEN_OPEN_MISFIT
 * and -errno, err holds what to tell the user after "FILE: NAME: ".
 */
int	listen_open(const struct sock_conf *c, struct activation_fd *fds, size_t n_fds,
	    struct dg_socket **ret, char *err, size_t err_size);
/* Marks the passed fd no socket uses any more free for a later listen_open. */
void	listen_give_back(struct activation_fd *fds, size_t n_fds, int fd);
/* Closes a socket from the fd store and removes it from the store, with a notice. */
void	listen_drop_stored(struct activation_fd *a, const char *why);
/* Describes a passed fd for an error: "udp4 127.0.0.1:53", "a stream socket"... */
void	passed_fd_describe(int fd, char *buf, size_t size);

#endif
