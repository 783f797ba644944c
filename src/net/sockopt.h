/*
 * sockopt.h: the socket options a socket's config sets, one table row
 * each: the config key and its bounds, the level/name per socket type,
 * the value a reload puts back when the key is removed, whether it shapes
 * the binding (then only a new bind takes it), and whether forward's
 * outbound sockets carry it. Config parsing (conf.c), listening sockets at
 * bind and reload (sock.c) and outbound sockets (sock_out.c) all read the
 * table. Adding an option is one row (plus the man page).
 */
#ifndef DGRAMD_SOCKOPT_H
#define DGRAMD_SOCKOPT_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

struct sockopt_level {
	int	level;
	int	name;		/* 0: the option does not apply to this socket type */
	int	reset;		/* what a reload puts back when the key is removed */
};

struct sockopt {
	const char		*key;		/* config key */
	size_t			 off;		/* its int in struct sock_conf */
	bool			 is_bool;
	int			 min, max;	/* integer bounds */
	int			 unset;		/* the int's value when the key is absent */
	struct sockopt_level	 at[_SOCK_T_MAX];	/* by socket type (outbound: family) */
	/* Buffers: the option that goes beyond the system maximum; reset = system default. */
	int			 force;
	/* Shapes the binding: set before bind only; unset means bind_default (< 0: none). */
	bool			 binding;
	int			 bind_default;
	bool			 outbound;	/* forward's outbound sockets carry it */
	const char		*wrong_type;	/* error on a UDP socket it does not apply to */
};

/* Rows the table has at most. */
#define SOCKOPT_MAX	16

extern const struct sockopt	sockopt_table[];
extern const size_t		sockopt_count;

/* setsockopt of an int. 0 or -errno. */
int	sockopt_set_int(int fd, int level, int name, int value);
/* The option's int in c. */
int	sockopt_get(const struct sockopt *o, const struct sock_conf *c);
int	*sockopt_field(const struct sockopt *o, struct sock_conf *c);
/* True when o can be set on a socket of type t. */
bool	sockopt_applies(const struct sockopt *o, enum sock_type t);

/*
 * Before bind: the options that shape the binding (ipv6_only, reuseport).
 * 0 or -errno.
 */
int	sockopt_apply_binding(int fd, const struct sock_conf *c);
/*
 * Sets every other option c sets on fd, a socket of c's type; name labels
 * the warning for a buffer above the system maximum. 0 or -errno.
 */
int	sockopt_apply(int fd, const struct sock_conf *c, const char *name);
/* Reload: puts back the reset value of what old set and c leaves unset. */
int	sockopt_reset(int fd, const struct sock_conf *c, const struct sock_conf *old);
/* Reload: warns about options that shape the binding and changed. */
void	sockopt_warn_binding(const struct sock_conf *c, const struct sock_conf *old);
/* Sets the options outbound sockets carry on fd, of family (AF_INET, AF_INET6, AF_UNIX). */
int	sockopt_apply_outbound(int fd, int family, const struct sock_conf *c);

#endif
