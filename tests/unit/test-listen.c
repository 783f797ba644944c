/*
 * test-listen.c: whether a passed socket (from a systemd socket unit or
 * taken back from systemd's fd store) fits its config socket (datagram
 * type, family, address, port or any port for port = 0, reuseport,
 * ipv6_only, unix path and its file), and how a passed fd is described in
 * an error.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "listen.h"

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
