/*
 * listen.c: adopt-or-bind for one config socket, and the one check of a
 * passed socket against its config socket, for sockets from systemd socket
 * units and from dgramd's own fd store.
 */

#include <errno.h>
#include <string.h>
#include <stdbool.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "activation.h"
#include "addr.h"
#include "conf.h"
#include "listen.h"
#include "log.h"
#include "sock.h"
#include "util.h"

static int
getopt_int(int fd, int level, int name, int *v)
{
	socklen_t len = sizeof(*v);

	*v = 0;
	if (getsockopt(fd, level, name, v, &len) < 0)
		return -errno;
	return 0;
}

/* Whether a is an all-addresses (0.0.0.0 or ::) address. */
static bool
any_address(const union sockaddr_any *a)
{
	static const struct in6_addr any6 = IN6ADDR_ANY_INIT;

	if (a->sa.sa_family == AF_INET)
		return a->in.sin_addr.s_addr == htonl(INADDR_ANY);
	return memcmp(&a->in6.sin6_addr, &any6, sizeof(any6)) == 0;
}

int
listen_fits(const struct sock_conf *c, int fd, enum listen_origin from, const char **why)
{
	union sockaddr_any a = { 0 };
	socklen_t alen = sizeof(a);
	struct stat st;
	int type = 0, domain = 0, v = 0, want_domain, r;

	*why = "not a datagram socket of the declared type";
	want_domain = c->type == SOCK_T_UDP4 ? AF_INET : c->type == SOCK_T_UDP6 ? AF_INET6 : AF_UNIX;
	r = getopt_int(fd, SOL_SOCKET, SO_TYPE, &type);
	if (r == 0)
		r = getopt_int(fd, SOL_SOCKET, SO_DOMAIN, &domain);
	if (r < 0)
		return r;
	if (type != SOCK_DGRAM || domain != want_domain)
		return LISTEN_MISFIT;
	if (getsockname(fd, &a.sa, &alen) < 0) {
		*why = "getsockname failed";
		return -errno;
	}
	if (c->type == SOCK_T_UNIX) {
		*why = "bound to another path";
		if (!addr_equal(&a.sa, alen, &c->addr.sa, c->addr_len))
			return LISTEN_MISFIT;
		*why = "its socket file is gone";
		if (c->path[0] != '@' && (lstat(c->path, &st) < 0 || !S_ISSOCK(st.st_mode)))
			return LISTEN_MISFIT;
		return LISTEN_FITS;
	}
	/* Any port fits port = 0: an ephemeral port then survives a restart. */
	if (c->port == 0) {
		if (a.sa.sa_family == AF_INET)
			a.in.sin_port = 0;
		else
			a.in6.sin6_port = 0;
	}
	*why = "bound to another address or port";
	if (from == LISTEN_FROM_UNIT && any_address(&c->addr)) {
		/* The port is what counts: the unit may listen on one address. */
		if ((a.sa.sa_family == AF_INET ? a.in.sin_port : a.in6.sin6_port) !=
		    (c->addr.sa.sa_family == AF_INET ? c->addr.in.sin_port : c->addr.in6.sin6_port))
			return LISTEN_MISFIT;
		return LISTEN_FITS;
	}
	if (!addr_equal(&a.sa, alen, &c->addr.sa, c->addr_len))
		return LISTEN_MISFIT;
	if (from == LISTEN_FROM_UNIT)
		return LISTEN_FITS;
	*why = "reuseport differs";
	r = getopt_int(fd, SOL_SOCKET, SO_REUSEPORT, &v);
	if (r < 0)
		return r;
	if (!!v != c->reuseport)
		return LISTEN_MISFIT;
	if (c->type != SOCK_T_UDP6)
		return LISTEN_FITS;
	*why = "ipv6_only differs";
	r = getopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v);
	if (r < 0)
		return r;
	return !!v == (c->ipv6_only != 0) ? LISTEN_FITS : LISTEN_MISFIT;
}

void
passed_fd_describe(int fd, char *buf, size_t size)
{
	union sockaddr_any a;
	socklen_t alen = sizeof(a);
	char text[ADDR_STRLEN];
	struct stat st;
	int type, domain;

	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		snprintf(buf, size, "not a socket");
		return;
	}
	if (getopt_int(fd, SOL_SOCKET, SO_TYPE, &type) < 0 ||
	    getopt_int(fd, SOL_SOCKET, SO_DOMAIN, &domain) < 0 ||
	    getsockname(fd, &a.sa, &alen) < 0) {
		snprintf(buf, size, "an unknown socket");
		return;
	}
	if (type != SOCK_DGRAM || (domain != AF_INET && domain != AF_INET6 && domain != AF_UNIX)) {
		snprintf(buf, size, "a %s socket of family %d", type == SOCK_STREAM ? "stream" :
		    type == SOCK_SEQPACKET ? "seqpacket" : "non-datagram", domain);
		return;
	}
	snprintf(buf, size, "%s %s", domain == AF_INET ? "udp4" : domain == AF_INET6 ? "udp6" :
	    "unix_dgram", addr_format(&a.sa, alen, text, sizeof(text)));
}

/* The first fd passed under name that no socket uses yet, or NULL. */
static struct activation_fd *
find_passed(struct activation_fd *fds, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!fds[i].used && strcmp(fds[i].name, name) == 0)
			return &fds[i];
	return NULL;
}

void
listen_give_back(struct activation_fd *fds, size_t n_fds, int fd)
{
	size_t i;

	for (i = 0; i < n_fds; i++)
		if (fds[i].fd == fd)
			fds[i].used = false;
}

void
listen_drop_stored(struct activation_fd *a, const char *why)
{
	log_notice("%s: dropping the socket kept in systemd's fd store: %s", a->name, why);
	activation_fdstore_remove(a->name);
	a->fd = safe_close(a->fd);
	a->used = true;
}

/* Binds c afresh; on failure err says which step failed on what. */
static int
bind_fresh(const struct sock_conf *c, struct dg_socket **ret, char *err, size_t size)
{
	const char *what = "open";
	char a[ADDR_STRLEN];
	int r;

	r = sock_open(c, ret, &what);
	if (r == 0)
		return LISTEN_OPEN_BOUND;
	if (r == -ENOTSOCK && c->type == SOCK_T_UNIX)
		snprintf(err, size, "%s exists and is not a socket; not touching it", c->path);
	else if (r == -EADDRINUSE && c->type == SOCK_T_UNIX)
		snprintf(err, size, "%s is in use: another process receives on it; "
		    "not touching it", c->path);
	else
		snprintf(err, size, "%s %s: %s", what,
		    addr_format(&c->addr.sa, c->addr_len, a, sizeof(a)), strerror(-r));
	return r;
}

/*
 * Adopts a's fd for c if it fits c loosely, and marks a used; otherwise
 * err names what the fd is and what c declares, and a stays unused.
 */
static int
adopt(const struct sock_conf *c, struct activation_fd *a, struct dg_socket **ret, char *err,
    size_t size)
{
	char got[ADDR_STRLEN + 32], want[ADDR_STRLEN];
	const char *why;
	int r;

	r = listen_fits(c, a->fd, LISTEN_FROM_UNIT, &why);
	if (r == LISTEN_FITS)
		r = sock_adopt(c, a->fd, ret);
	if (r == 0) {
		a->used = true;
		return LISTEN_OPEN_UNIT;
	}
	passed_fd_describe(a->fd, got, sizeof(got));
	snprintf(err, size, "socket passed by systemd (fd %d) does not match the config: "
	    "it is %s, the config declares %s %s%s%s", a->fd, got, sock_type_to_string(c->type),
	    c->type == SOCK_T_UNIX ? c->path :
	    addr_format(&c->addr.sa, c->addr_len, want, sizeof(want)),
	    r == LISTEN_MISFIT ? "" : ": ", r == LISTEN_MISFIT ? "" : strerror(-r));
	return r == LISTEN_MISFIT ? LISTEN_OPEN_MISFIT : r;
}

/*
 * A socket taken back from the fd store was bound by dgramd from this
 * config: it is dgramd's own again, so its unix file is removed with it
 * and takes c's mode.
 */
static void
own(struct dg_socket *s, const struct sock_conf *c)
{
	s->adopted = false;
	if (c->type != SOCK_T_UNIX || c->path[0] == '@')
		return;
	s->path = strdup(c->path);
	s->created_path = s->path != NULL;
	if (c->mode >= 0)
		(void)chmod(c->path, (mode_t)c->mode);
}

int
listen_open(const struct sock_conf *c, struct activation_fd *fds, size_t n_fds,
    struct dg_socket **ret, char *err, size_t err_size)
{
	struct activation_fd *a;
	const char *why;
	int r;

	a = find_passed(fds, n_fds, c->name);
	/* A stored socket that no longer fits is not used: it would keep c from binding. */
	if (a != NULL && a->stored &&
	    listen_fits(c, a->fd, LISTEN_FROM_STORE, &why) != LISTEN_FITS) {
		listen_drop_stored(a, why);
		a = NULL;
	}
	if (a == NULL)
		return bind_fresh(c, ret, err, err_size);
	r = adopt(c, a, ret, err, err_size);
	if (r != LISTEN_OPEN_UNIT || !a->stored)
		return r;
	own(*ret, c);
	a->fd = -1;
	return LISTEN_OPEN_STORE;
}
