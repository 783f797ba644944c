/*
 * test-listen.c: whether a passed socket (from a systemd socket unit or
 * taken back from systemd's fd store) fits its config socket (datagram
 * type, family, address, port or any port for port = 0, reuseport,
 * ipv6_only, unix path and its file), and how a passed fd is described in
 * an error; then adopt-or-bind (listen_open) on sockets really passed at
 * fds 3 and 4 with LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES through the
 * activation path: a fitting socket unit's socket is adopted as it is, a
 * misfit (port, stream socket, socketpair) is refused with its reason, a
 * pipe is an error, a config socket without a passed one is bound, and a
 * stored socket is taken back or, no longer fitting, dropped and rebound.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "activation.h"
#include "in_child.h"
#include "addr.h"
#include "conf.h"
#include "listen.h"
#include "sock.h"

static void
udp_conf(struct sock_conf *c, enum sock_type t, const char *ip, int port)
{
	memset(c, 0, sizeof(*c));
	c->type = t;
	c->port = port;
	c->ipv6_only = -1;
	ck_assert_int_eq(addr_parse_ip(ip, t == SOCK_T_UDP4 ? AF_INET : AF_INET6,
	    (uint16_t)port, &c->addr, &c->addr_len), 0);
}

/* A bound datagram socket like the one c declares; returns the real port. */
static int
bound(const struct sock_conf *c, int v6only, int reuseport, int *port)
{
	union sockaddr_any a = { 0 };
	socklen_t len = sizeof(a);
	int fd;

	fd = socket(c->type == SOCK_T_UDP4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	if (c->type == SOCK_T_UDP6)
		ck_assert_int_eq(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
		    sizeof(v6only)), 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &reuseport,
	    sizeof(reuseport)), 0);
	ck_assert_int_eq(bind(fd, &c->addr.sa, c->addr_len), 0);
	ck_assert_int_eq(getsockname(fd, &a.sa, &len), 0);
	*port = ntohs(a.sa.sa_family == AF_INET ? a.in.sin_port : a.in6.sin6_port);
	return fd;
}

START_TEST(test_udp4_port_and_address)
{
	struct sock_conf c, other;
	const char *why = NULL;
	int fd, port, p2;

	udp_conf(&c, SOCK_T_UDP4, "127.0.0.1", 0);
	fd = bound(&c, 0, 0, &port);
	/* port = 0 accepts the ephemeral port it got: it survives a restart. */
	ck_assert_int_eq(listen_fits(&c, fd, LISTEN_FROM_STORE, &why), LISTEN_FITS);
	udp_conf(&other, SOCK_T_UDP4, "127.0.0.1", port);
	ck_assert_int_eq(listen_fits(&other, fd, LISTEN_FROM_STORE, &why), LISTEN_FITS);
	p2 = port == 65535 ? port - 1 : port + 1;
	udp_conf(&other, SOCK_T_UDP4, "127.0.0.1", p2);
	ck_assert_int_eq(listen_fits(&other, fd, LISTEN_FROM_STORE, &why), LISTEN_MISFIT);
	ck_assert_str_eq(why, "bound to another address or port");
	udp_conf(&other, SOCK_T_UDP4, "127.0.0.2", 0);
	ck_assert_int_eq(listen_fits(&other, fd, LISTEN_FROM_STORE, &why), LISTEN_MISFIT);
	udp_conf(&other, SOCK_T_UDP6, "::1", 0);
	ck_assert_int_eq(listen_fits(&other, fd, LISTEN_FROM_STORE, &why), LISTEN_MISFIT);
	/* reuseport changed */
	c.reuseport = true;
	ck_assert_int_eq(listen_fits(&c, fd, LISTEN_FROM_STORE, &why), LISTEN_MISFIT);
	ck_assert_str_eq(why, "reuseport differs");
	close(fd);
}
END_TEST

START_TEST(test_udp6_v6only)
{
	struct sock_conf c;
	const char *why = NULL;
	int fd, port;

	udp_conf(&c, SOCK_T_UDP6, "::1", 0);
	fd = bound(&c, 1, 0, &port);
	ck_assert_int_eq(listen_fits(&c, fd, LISTEN_FROM_STORE, &why), LISTEN_FITS);	/* unset = v6 only */
	c.ipv6_only = 0;
	ck_assert_int_eq(listen_fits(&c, fd, LISTEN_FROM_STORE, &why), LISTEN_MISFIT);
	ck_assert_str_eq(why, "ipv6_only differs");
	/* A socket unit's BindIPv6Only= is the unit's business. */
	ck_assert_int_eq(listen_fits(&c, fd, LISTEN_FROM_UNIT, &why), LISTEN_FITS);
	close(fd);
}
END_TEST

START_TEST(test_unix_path)
{
	char dir[] = "/tmp/dgramd-unit-XXXXXX", path[128], other[128], desc[256];
	struct sock_conf c;
	const char *why = NULL;
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	snprintf(other, sizeof(other), "%s/t.sock", dir);
	memset(&c, 0, sizeof(c));
	c.type = SOCK_T_UNIX;
	c.port = -1;
	c.path = path;
	ck_assert_int_eq(addr_unix(path, &c.addr, &c.addr_len), 0);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, &c.addr.sa, c.addr_len), 0);
	ck_assert_int_eq(listen_fits(&c, fd, LISTEN_FROM_STORE, &why), LISTEN_FITS);
	passed_fd_describe(fd, desc, sizeof(desc));
	ck_assert_str_eq(desc + strlen("unix_dgram "), path);
	/* The file was removed: the stored socket is unreachable. */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(listen_fits(&c, fd, LISTEN_FROM_STORE, &why), LISTEN_MISFIT);
	ck_assert_str_eq(why, "its socket file is gone");
	c.path = other;
	ck_assert_int_eq(addr_unix(other, &c.addr, &c.addr_len), 0);
	ck_assert_int_eq(listen_fits(&c, fd, LISTEN_FROM_STORE, &why), LISTEN_MISFIT);
	close(fd);
	rmdir(dir);
}
END_TEST

START_TEST(test_wildcard_declared)
{
	struct sock_conf c, any;
	const char *why = NULL;
	int fd, port;

	/* A config on 0.0.0.0 does not take a socket bound to one address. */
	udp_conf(&c, SOCK_T_UDP4, "127.0.0.1", 0);
	fd = bound(&c, 0, 0, &port);
	udp_conf(&any, SOCK_T_UDP4, "0.0.0.0", port);
	ck_assert_int_eq(listen_fits(&any, fd, LISTEN_FROM_STORE, &why), LISTEN_MISFIT);
	ck_assert_str_eq(why, "bound to another address or port");
	/* A socket unit may bind one address of a wildcard config: the port counts. */
	ck_assert_int_eq(listen_fits(&any, fd, LISTEN_FROM_UNIT, &why), LISTEN_FITS);
	udp_conf(&any, SOCK_T_UDP4, "0.0.0.0", port == 65535 ? 1 : port + 1);
	ck_assert_int_eq(listen_fits(&any, fd, LISTEN_FROM_UNIT, &why), LISTEN_MISFIT);
	/* ... but not another address than a specific one the config names. */
	udp_conf(&any, SOCK_T_UDP4, "127.0.0.2", port);
	ck_assert_int_eq(listen_fits(&any, fd, LISTEN_FROM_UNIT, &why), LISTEN_MISFIT);
	close(fd);
}
END_TEST

START_TEST(test_wrong_kinds)
{
	struct sock_conf u4, un;
	const char *why = NULL;
	int sp[2], fd, fds[2];

	udp_conf(&u4, SOCK_T_UDP4, "127.0.0.1", 0);
	memset(&un, 0, sizeof(un));
	un.type = SOCK_T_UNIX;
	un.port = -1;
	un.path = "/nonexistent/dgramd-unit.sock";
	ck_assert_int_eq(addr_unix(un.path, &un.addr, &un.addr_len), 0);

	/* An unnamed unix datagram pair: the right type, but no path. */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp), 0);
	ck_assert_int_eq(listen_fits(&un, sp[0], LISTEN_FROM_STORE, &why), LISTEN_MISFIT);
	ck_assert_str_eq(why, "bound to another path");
	ck_assert_int_eq(listen_fits(&u4, sp[0], LISTEN_FROM_UNIT, &why), LISTEN_MISFIT);
	ck_assert_str_eq(why, "not a datagram socket of the declared type");
	close(sp[0]);
	close(sp[1]);
	/* Stream sockets, unix and TCP. */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	ck_assert_int_eq(listen_fits(&un, sp[0], LISTEN_FROM_STORE, &why), LISTEN_MISFIT);
	ck_assert_str_eq(why, "not a datagram socket of the declared type");
	close(sp[0]);
	close(sp[1]);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(listen_fits(&u4, fd, LISTEN_FROM_UNIT, &why), LISTEN_MISFIT);
	close(fd);
	/* Not a socket at all: it cannot be inspected. */
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(listen_fits(&u4, fds[0], LISTEN_FROM_UNIT, &why), -ENOTSOCK);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

START_TEST(test_describe)
{
	char desc[256];
	int fds[2], fd;

	ck_assert_int_eq(pipe(fds), 0);
	passed_fd_describe(fds[0], desc, sizeof(desc));
	ck_assert_str_eq(desc, "not a socket");
	close(fds[0]);
	close(fds[1]);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	passed_fd_describe(fd, desc, sizeof(desc));
	ck_assert_str_eq(desc, "a stream socket of family 2");
	close(fd);
}
END_TEST

/* --- adopt-or-bind with sockets really passed at fds 3 and 4 ------------------ */

/* Moves fd to the number at (out of the way of 3 and 4 first). */
static int
place(int fd, int at)
{
	int hi;

	hi = fcntl(fd, F_DUPFD, 10);
	if (hi < 0 || close(fd) < 0 || dup2(hi, at) != at || close(hi) < 0)
		return -1;
	return 0;
}

/*
 * Passes a at fd 3 and b (unless -1) at fd 4 as systemd does, named by
 * names ("relay:store/kept"), and takes them through the activation path.
 * Returns the count, or -1.
 */
static int
pass(int a, int b, const char *names, struct activation_fd **ret)
{
	char pid[32];

	if (place(a, 3) < 0 || (b >= 0 && place(b, 4) < 0))
		return -1;
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (setenv("LISTEN_PID", pid, 1) < 0 || setenv("LISTEN_FDS", b >= 0 ? "2" : "1", 1) < 0 ||
	    setenv("LISTEN_FDNAMES", names, 1) < 0)
		return -1;
	return activation_listen_fds(ret);
}

/* A socket of type (datagram or stream) bound to 127.0.0.1, any port: *ret_port. */
static int
loopback(int type, int *ret_port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return -1;
	*ret_port = ntohs(a.sin_port);
	return fd;
}

/* The config of one socket, loaded as dgramd loads its file, or NULL. */
static struct conf *
one_sock(const char *fmt, ...)
{
	struct conf_err err = { { 0 } };
	struct conf *c = NULL;
	char body[512], text[640];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	snprintf(text, sizeof(text), "sockets = ( { %s handlers = ( { type = \"echo\"; } ); } );",
	    body);
	if (conf_load_string(text, "t.conf", &c, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return NULL;
	}
	return c;
}

/* The port fd is bound to, or -1. */
static int
port_of(int fd)
{
	union sockaddr_any a = { 0 };
	socklen_t len = sizeof(a);

	if (getsockname(fd, &a.sa, &len) < 0 || a.sa.sa_family != AF_INET)
		return -1;
	return ntohs(a.in.sin_port);
}

/* The lowest free fd number: unchanged when nothing was opened meanwhile. */
static int
lowest_free(void)
{
	int fd = dup(STDERR_FILENO);

	close(fd);
	return fd;
}

static int
unit_udp_adopted(void)
{
	struct activation_fd *fds = NULL;
	struct dg_socket *s = NULL, *none = NULL;
	char err[LISTEN_ERR_MAX];
	struct conf *c, *c2;
	struct stat before, after;
	int u, sp[2], port, low, n;

	u = loopback(SOCK_DGRAM, &port);
	REQUIRE(u >= 0);
	REQUIRE(fstat(u, &before) == 0);
	REQUIRE(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp) == 0);
	n = pass(u, sp[0], "relay:pair", &fds);
	REQUIRE(n == 2);
	/* Consumed: nothing dgramd starts sees them. */
	REQUIRE(getenv("LISTEN_FDS") == NULL && getenv("LISTEN_PID") == NULL &&
	    getenv("LISTEN_FDNAMES") == NULL);
	c = one_sock("name = \"relay\"; type = \"udp4\"; address = \"127.0.0.1\"; port = %d;",
	    port);
	REQUIRE(c != NULL);
	low = lowest_free();
	REQUIRE(listen_open(&c->socks[0], fds, (size_t)n, &s, err, sizeof(err)) ==
	    LISTEN_OPEN_UNIT);
	/* The very socket passed, at its number: nothing new was opened or bound. */
	REQUIRE(s->fd == 3 && s->adopted && fds[0].used && !fds[1].used);
	REQUIRE(fstat(3, &after) == 0 && after.st_ino == before.st_ino);
	REQUIRE(port_of(3) == port);
	REQUIRE(lowest_free() == low);
	REQUIRE(fcntl(3, F_GETFL) & O_NONBLOCK);

	/* The socketpair is no udp4 socket: a misfit, left as it was. */
	c2 = one_sock("name = \"pair\"; type = \"udp4\"; address = \"127.0.0.1\"; port = 0;");
	REQUIRE(c2 != NULL);
	REQUIRE(listen_open(&c2->socks[0], fds, (size_t)n, &none, err, sizeof(err)) ==
	    LISTEN_OPEN_MISFIT);
	REQUIRE(none == NULL && !fds[1].used && fcntl(4, F_GETFD) >= 0);
	REQUIRE(strstr(err, "socket passed by systemd (fd 4) does not match the config: "
	    "it is unix_dgram ") == err);
	REQUIRE(strstr(err, ", the config declares udp4 127.0.0.1:0") != NULL);

	/* Given back when a reload drops it, it is adopted again. */
	s = sock_forget(s);
	listen_give_back(fds, (size_t)n, 3);
	REQUIRE(!fds[0].used);
	REQUIRE(listen_open(&c->socks[0], fds, (size_t)n, &s, err, sizeof(err)) ==
	    LISTEN_OPEN_UNIT && s->fd == 3);
	sock_forget(s);
	conf_free(c);
	conf_free(c2);
	activation_fds_free(fds, (size_t)n, true);
	close(3);
	close(sp[1]);
	return 0;
}

START_TEST(test_open_adopts_fitting_unit_socket)
{
	ck_assert_msg(in_child(unit_udp_adopted) == 0, "see the failed check above");
}
END_TEST

static int
unit_misfits(void)
{
	struct activation_fd *fds = NULL;
	struct dg_socket *s = NULL;
	char err[LISTEN_ERR_MAX], want[128];
	struct conf *c;
	int u, t, port, other, tport, n;

	u = loopback(SOCK_DGRAM, &port);
	t = loopback(SOCK_STREAM, &tport);
	REQUIRE(u >= 0 && t >= 0);
	other = port == 65535 ? port - 1 : port + 1;
	n = pass(u, t, "relay:tcp", &fds);
	REQUIRE(n == 2);

	/* Another port than the config's. */
	c = one_sock("name = \"relay\"; type = \"udp4\"; address = \"127.0.0.1\"; port = %d;",
	    other);
	REQUIRE(c != NULL);
	REQUIRE(listen_open(&c->socks[0], fds, (size_t)n, &s, err, sizeof(err)) ==
	    LISTEN_OPEN_MISFIT);
	snprintf(want, sizeof(want), "it is udp4 127.0.0.1:%d, the config declares udp4 "
	    "127.0.0.1:%d", port, other);
	REQUIRE(strstr(err, want) != NULL);
	REQUIRE(s == NULL && !fds[0].used && port_of(3) == port);
	conf_free(c);

	/* A stream socket for a udp4 config, though on a fitting address. */
	c = one_sock("name = \"tcp\"; type = \"udp4\"; address = \"127.0.0.1\"; port = %d;",
	    tport);
	REQUIRE(c != NULL);
	REQUIRE(listen_open(&c->socks[0], fds, (size_t)n, &s, err, sizeof(err)) ==
	    LISTEN_OPEN_MISFIT);
	REQUIRE(strstr(err, "(fd 4) does not match the config: it is a stream socket") != NULL);
	REQUIRE(s == NULL && !fds[1].used);
	conf_free(c);
	activation_fds_free(fds, (size_t)n, true);
	REQUIRE(fcntl(3, F_GETFD) < 0 && fcntl(4, F_GETFD) < 0);
	return 0;
}

START_TEST(test_open_refuses_misfit_unit_socket)
{
	ck_assert_msg(in_child(unit_misfits) == 0, "see the failed check above");
}
END_TEST

static int
not_a_socket(void)
{
	struct activation_fd *fds = NULL;
	struct dg_socket *s = NULL;
	char err[LISTEN_ERR_MAX];
	struct conf *c;
	int p[2], n;

	REQUIRE(pipe(p) == 0);
	n = pass(p[0], -1, "relay", &fds);
	REQUIRE(n == 1);
	c = one_sock("name = \"relay\"; type = \"udp4\"; address = \"127.0.0.1\"; port = 0;");
	REQUIRE(c != NULL);
	/* Not inspectable: a system error, not a config error. */
	REQUIRE(listen_open(&c->socks[0], fds, (size_t)n, &s, err, sizeof(err)) == -ENOTSOCK);
	REQUIRE(strstr(err, "it is not a socket, the config declares udp4 127.0.0.1:0: ") != NULL);
	REQUIRE(s == NULL);
	conf_free(c);
	activation_fds_free(fds, (size_t)n, true);
	close(p[1]);
	return 0;
}

START_TEST(test_open_passed_pipe_is_an_error)
{
	ck_assert_msg(in_child(not_a_socket) == 0, "see the failed check above");
}
END_TEST

static int
bound_without_passed(void)
{
	struct activation_fd *fds = NULL;
	struct dg_socket *s = NULL;
	char err[LISTEN_ERR_MAX];
	struct conf *c;
	int u, port, n;

	u = loopback(SOCK_DGRAM, &port);
	REQUIRE(u >= 0);
	n = pass(u, -1, "relay", &fds);
	REQUIRE(n == 1);
	/* No socket passed under this name: bound afresh, the passed one untouched. */
	c = one_sock("name = \"other\"; type = \"udp4\"; address = \"127.0.0.1\"; port = 0;");
	REQUIRE(c != NULL);
	REQUIRE(listen_open(&c->socks[0], fds, (size_t)n, &s, err, sizeof(err)) ==
	    LISTEN_OPEN_BOUND);
	REQUIRE(s->fd > 3 && !s->adopted && !fds[0].used);
	REQUIRE(port_of(s->fd) > 0 && port_of(s->fd) != port);
	s = sock_close(s);
	/* Not socket-activated at all. */
	REQUIRE(listen_open(&c->socks[0], NULL, 0, &s, err, sizeof(err)) == LISTEN_OPEN_BOUND);
	REQUIRE(s->fd >= 0 && port_of(s->fd) > 0);
	sock_close(s);
	conf_free(c);
	activation_fds_free(fds, (size_t)n, true);
	return 0;
}

START_TEST(test_open_binds_without_passed_socket)
{
	ck_assert_msg(in_child(bound_without_passed) == 0, "see the failed check above");
}
END_TEST

/*
 * From the fd store: a fitting socket is dgramd's own again (its file goes
 * with it); one that no longer fits is closed, removed from the store
 * (FDSTOREREMOVE=1 on NOTIFY_SOCKET) and the config socket bound afresh.
 */
static int
store_sockets(const char *dir)
{
	struct activation_fd *fds = NULL;
	struct dg_socket *s = NULL, *s2 = NULL;
	union sockaddr_any a;
	socklen_t alen;
	char path[128], npath[128], err[LISTEN_ERR_MAX], note[256];
	struct conf *c, *c2;
	struct stat st;
	int un, u, port, ns, n;
	ssize_t len;

	snprintf(path, sizeof(path), "%s/kept.sock", dir);
	snprintf(npath, sizeof(npath), "%s/notify.sock", dir);
	un = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	REQUIRE(un >= 0 && addr_unix(path, &a, &alen) == 0 && bind(un, &a.sa, alen) == 0);
	u = loopback(SOCK_DGRAM, &port);
	REQUIRE(u >= 0);
	n = pass(un, u, "store/kept:store/moved", &fds);
	REQUIRE(n == 2 && fds[0].stored && fds[1].stored);
	ns = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	REQUIRE(ns >= 0 && addr_unix(npath, &a, &alen) == 0 && bind(ns, &a.sa, alen) == 0);
	REQUIRE(setenv("NOTIFY_SOCKET", npath, 1) == 0);

	c = one_sock("name = \"kept\"; type = \"unix_dgram\"; path = \"%s\";", path);
	REQUIRE(c != NULL);
	REQUIRE(listen_open(&c->socks[0], fds, (size_t)n, &s, err, sizeof(err)) ==
	    LISTEN_OPEN_STORE);
	REQUIRE(s->fd == 3 && !s->adopted && fds[0].used && fds[0].fd == -1);
	REQUIRE(s->created_path && strcmp(s->path, path) == 0);

	/*
	 * The config now asks for reuseport on the same port: the stored
	 * socket (without it) is closed before the new one binds that port.
	 */
	c2 = one_sock("name = \"moved\"; type = \"udp4\"; address = \"127.0.0.1\"; port = %d; "
	    "reuseport = true;", port);
	REQUIRE(c2 != NULL);
	REQUIRE(listen_open(&c2->socks[0], fds, (size_t)n, &s2, err, sizeof(err)) ==
	    LISTEN_OPEN_BOUND);
	REQUIRE(fds[1].used && fds[1].fd == -1);
	REQUIRE(!s2->adopted && port_of(s2->fd) == port);
	len = recv(ns, note, sizeof(note) - 1, MSG_DONTWAIT);
	REQUIRE(len > 0);
	note[len] = '\0';
	REQUIRE(strcmp(note, "FDSTOREREMOVE=1\nFDNAME=store/moved") == 0);
	REQUIRE(recv(ns, note, sizeof(note), MSG_DONTWAIT) < 0);

	/* Its own again: closing it removes the file. */
	sock_close(s);
	REQUIRE(lstat(path, &st) < 0);
	sock_close(s2);
	conf_free(c);
	conf_free(c2);
	activation_fds_free(fds, (size_t)n, true);
	close(ns);
	unlink(npath);
	return 0;
}

static int
store_sockets_in_tmp(void)
{
	char dir[] = "/tmp/dgramd-unit-XXXXXX";
	int r;

	if (mkdtemp(dir) == NULL)
		return 1;
	r = store_sockets(dir);
	(void)rmdir(dir);
	return r;
}

START_TEST(test_open_takes_back_or_drops_stored_socket)
{
	ck_assert_msg(in_child(store_sockets_in_tmp) == 0, "see the failed check above");
}
END_TEST

static Suite *
listen_suite(void)
{
	Suite *s = suite_create("listen");
	TCase *tc = tcase_create("listen");

	tcase_add_test(tc, test_udp4_port_and_address);
	tcase_add_test(tc, test_udp6_v6only);
	tcase_add_test(tc, test_unix_path);
	tcase_add_test(tc, test_wildcard_declared);
	tcase_add_test(tc, test_wrong_kinds);
	tcase_add_test(tc, test_describe);
	tcase_add_test(tc, test_open_adopts_fitting_unit_socket);
	tcase_add_test(tc, test_open_refuses_misfit_unit_socket);
	tcase_add_test(tc, test_open_passed_pipe_is_an_error);
	tcase_add_test(tc, test_open_binds_without_passed_socket);
	tcase_add_test(tc, test_open_takes_back_or_drops_stored_socket);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(listen_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
