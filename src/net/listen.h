/*
 * listen.h: whether a socket passed by systemd (from a socket unit or from
 * dgramd's own fd store) can stand for a config socket, and how to name
 * one that cannot in an error.
 */
#ifndef DGRAMD_LISTEN_H
#define DGRAMD_LISTEN_H

#include <stddef.h>

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
/* Describes a passed fd for an error: "udp4 127.0.0.1:53", "a stream socket"... */
void	passed_fd_describe(int fd, char *buf, size_t size);

#endif
