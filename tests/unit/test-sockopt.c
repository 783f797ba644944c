/*
 * test-sockopt.c: the socket option table applied to real sockets and
 * read back with getsockopt: every option at bind, the options that shape
 * the binding, what a reload puts back when a key is removed, what
 * forward's outbound sockets carry (per family), and the config checks
 * the table drives (bounds, socket types).
 */
#include <check.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf.h"
#include "sockopt.h"

#define ECHO	"handlers = ( { type = \"echo\"; } );"

static struct conf *
load(const char *type, const char *opts)
{
	struct conf_err err = { { 0 } };
	struct conf *c = NULL;
	char text[1024];
	const char *where = strcmp(type, "unix_dgram") == 0 ? "path = \"@dgramd-test-sockopt\";" :
	    "port = 0;";

	snprintf(text, sizeof(text), "sockets = ( { name = \"s\"; type = \"%s\"; %s %s " ECHO
	    " } );", type, where, opts);
	ck_assert_msg(conf_load_string(text, "t.conf", &c, &err) == 0, "%s", err.msg);
	return c;
}

static const char *
load_err(const char *type, const char *opts)
{
	static struct conf_err err;
	struct conf *c = NULL;
	char text[1024];

	snprintf(text, sizeof(text), "sockets = ( { name = \"s\"; type = \"%s\"; %s %s " ECHO
	    " } );", type, strcmp(type, "unix_dgram") == 0 ? "path = \"/tmp/x\";" : "port = 0;",
	    opts);
	memset(&err, 0, sizeof(err));
	ck_assert_int_eq(conf_load_string(text, "t.conf", &c, &err), -EINVAL);
	return err.msg;
}

static int
get(int fd, int level, int name)
{
	int v = -12345;
	socklen_t len = sizeof(v);

	ck_assert_int_eq(getsockopt(fd, level, name, &v, &len), 0);
	return v;
}

static int
sock(int family)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	return fd;
}

START_TEST(test_apply_udp4)
{
	struct conf *c = load("udp4", "ttl = 7; broadcast = true; multicast_ttl = 3; "
	    "multicast_loop = false; recv_buffer = 65536; send_buffer = 70000;");
	int fd = sock(AF_INET);

	ck_assert_int_eq(sockopt_apply(fd, &c->socks[0], "s"), 0);
	ck_assert_int_eq(get(fd, IPPROTO_IP, IP_TTL), 7);
	ck_assert_int_eq(get(fd, SOL_SOCKET, SO_BROADCAST), 1);
	ck_assert_int_eq(get(fd, IPPROTO_IP, IP_MULTICAST_TTL), 3);
	ck_assert_int_eq(get(fd, IPPROTO_IP, IP_MULTICAST_LOOP), 0);
	/* The kernel reports twice what was asked. */
	ck_assert_int_eq(get(fd, SOL_SOCKET, SO_RCVBUF), 2 * 65536);
	ck_assert_int_eq(get(fd, SOL_SOCKET, SO_SNDBUF), 2 * 70000);
	close(fd);
	conf_free(c);
}
END_TEST

START_TEST(test_apply_udp6)
{
	struct conf *c = load("udp6", "ttl = 9; multicast_ttl = 4; multicast_loop = false;");
	int fd = sock(AF_INET6);

	ck_assert_int_eq(sockopt_apply(fd, &c->socks[0], "s"), 0);
	ck_assert_int_eq(get(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS), 9);
	ck_assert_int_eq(get(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS), 4);
	ck_assert_int_eq(get(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP), 0);
	close(fd);
	conf_free(c);
}
END_TEST

START_TEST(test_binding_options)
{
	struct conf *dflt = load("udp6", "");
	struct conf *dual = load("udp6", "ipv6_only = false; reuseport = true;");
	int a = sock(AF_INET6), b = sock(AF_INET6);

	ck_assert_int_eq(sockopt_apply_binding(a, &dflt->socks[0]), 0);
	ck_assert_int_eq(get(a, IPPROTO_IPV6, IPV6_V6ONLY), 1);	/* on unless told */
	ck_assert_int_eq(get(a, SOL_SOCKET, SO_REUSEPORT), 0);
	ck_assert_int_eq(sockopt_apply_binding(b, &dual->socks[0]), 0);
	ck_assert_int_eq(get(b, IPPROTO_IPV6, IPV6_V6ONLY), 0);
	ck_assert_int_eq(get(b, SOL_SOCKET, SO_REUSEPORT), 1);
	/* sockopt_apply leaves them alone: only a new bind takes them. */
	ck_assert_int_eq(sockopt_apply(a, &dual->socks[0], "s"), 0);
	ck_assert_int_eq(get(a, IPPROTO_IPV6, IPV6_V6ONLY), 1);
	close(a);
	close(b);
	conf_free(dflt);
	conf_free(dual);
}
END_TEST

START_TEST(test_reset_removed_keys)
{
	struct conf *old = load("udp4", "ttl = 7; broadcast = true; multicast_ttl = 3; "
	    "multicast_loop = false; recv_buffer = 65536; send_buffer = 70000;");
	struct conf *now = load("udp4", "");
	int fd = sock(AF_INET), fresh = sock(AF_INET);

	ck_assert_int_eq(sockopt_apply(fd, &old->socks[0], "s"), 0);
	ck_assert_int_eq(sockopt_reset(fd, &now->socks[0], &old->socks[0]), 0);
	/* What a fresh socket has. */
	ck_assert_int_eq(get(fd, IPPROTO_IP, IP_TTL), get(fresh, IPPROTO_IP, IP_TTL));
	ck_assert_int_eq(get(fd, SOL_SOCKET, SO_BROADCAST), 0);
	ck_assert_int_eq(get(fd, IPPROTO_IP, IP_MULTICAST_TTL), 1);
	ck_assert_int_eq(get(fd, IPPROTO_IP, IP_MULTICAST_LOOP), 1);
	ck_assert_int_eq(get(fd, SOL_SOCKET, SO_RCVBUF), get(fresh, SOL_SOCKET, SO_RCVBUF));
	ck_assert_int_eq(get(fd, SOL_SOCKET, SO_SNDBUF), get(fresh, SOL_SOCKET, SO_SNDBUF));
	close(fd);
	close(fresh);
	conf_free(old);
	conf_free(now);
}
END_TEST

START_TEST(test_reset_keeps_what_stays_set)
{
	struct conf *old = load("udp6", "ttl = 7; multicast_ttl = 3;");
	struct conf *now = load("udp6", "ttl = 8;");
	int fd = sock(AF_INET6), fresh = sock(AF_INET6);

	ck_assert_int_eq(sockopt_apply(fd, &old->socks[0], "s"), 0);
	ck_assert_int_eq(sockopt_reset(fd, &now->socks[0], &old->socks[0]), 0);
	ck_assert_int_eq(get(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS), 7);	/* not reset */
	ck_assert_int_eq(get(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS),
	    get(fresh, IPPROTO_IPV6, IPV6_MULTICAST_HOPS));
	ck_assert_int_eq(sockopt_apply(fd, &now->socks[0], "s"), 0);
	ck_assert_int_eq(get(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS), 8);
	close(fd);
	close(fresh);
	conf_free(old);
	conf_free(now);
}
END_TEST

START_TEST(test_outbound_by_family)
{
	struct conf *c = load("udp4", "ttl = 5; broadcast = true; multicast_ttl = 2; "
	    "recv_buffer = 65536; send_buffer = 70000;");
	int v4 = sock(AF_INET), v6 = sock(AF_INET6), un = sock(AF_UNIX), fresh = sock(AF_INET);

	ck_assert_int_eq(sockopt_apply_outbound(v4, AF_INET, &c->socks[0]), 0);
	ck_assert_int_eq(get(v4, IPPROTO_IP, IP_TTL), 5);
	ck_assert_int_eq(get(v4, SOL_SOCKET, SO_BROADCAST), 1);
	ck_assert_int_eq(get(v4, IPPROTO_IP, IP_MULTICAST_TTL), 2);
	ck_assert_int_eq(get(v4, SOL_SOCKET, SO_SNDBUF), 2 * 70000);
	/* The receive buffer is the listener's only. */
	ck_assert_int_eq(get(v4, SOL_SOCKET, SO_RCVBUF), get(fresh, SOL_SOCKET, SO_RCVBUF));
	/* A udp4 listener forwarding to an IPv6 target: the hop limits carry over. */
	ck_assert_int_eq(sockopt_apply_outbound(v6, AF_INET6, &c->socks[0]), 0);
	ck_assert_int_eq(get(v6, IPPROTO_IPV6, IPV6_UNICAST_HOPS), 5);
	ck_assert_int_eq(get(v6, IPPROTO_IPV6, IPV6_MULTICAST_HOPS), 2);
	/* Unix targets: the send buffer only. */
	ck_assert_int_eq(sockopt_apply_outbound(un, AF_UNIX, &c->socks[0]), 0);
	ck_assert_int_eq(get(un, SOL_SOCKET, SO_SNDBUF), 2 * 70000);
	close(v4);
	close(v6);
	close(un);
	close(fresh);
	conf_free(c);
}
END_TEST

START_TEST(test_unix_buffers)
{
	struct conf *c = load("unix_dgram", "recv_buffer = 65536; send_buffer = 70000;");
	int fd = sock(AF_UNIX);

	ck_assert_int_eq(sockopt_apply(fd, &c->socks[0], "s"), 0);
	ck_assert_int_eq(get(fd, SOL_SOCKET, SO_RCVBUF), 2 * 65536);
	ck_assert_int_eq(get(fd, SOL_SOCKET, SO_SNDBUF), 2 * 70000);
	close(fd);
	conf_free(c);
}
END_TEST

START_TEST(test_config_checks)
{
	ck_assert_ptr_nonnull(strstr(load_err("udp4", "ttl = 0;"), "ttl: must be 1..255, got 0"));
	ck_assert_ptr_nonnull(strstr(load_err("udp4", "multicast_ttl = 256;"),
	    "must be 0..255"));
	ck_assert_ptr_nonnull(strstr(load_err("udp4", "broadcast = 1;"),
	    "must be true or false"));
	ck_assert_ptr_nonnull(strstr(load_err("udp4", "recv_buffer = 10;"),
	    "recv_buffer: must be 1024.."));
	ck_assert_ptr_nonnull(strstr(load_err("unix_dgram", "ttl = 3;"),
	    "ttl: not allowed on a unix_dgram socket"));
	ck_assert_ptr_nonnull(strstr(load_err("unix_dgram", "reuseport = true;"),
	    "not allowed on a unix_dgram socket"));
	ck_assert_ptr_nonnull(strstr(load_err("udp6", "broadcast = true;"),
	    "applies to udp4 sockets only"));
	ck_assert_ptr_nonnull(strstr(load_err("udp4", "ipv6_only = true;"),
	    "applies to udp6 sockets only"));
}
END_TEST

/* Every row's unset value is what a config without the key holds. */
START_TEST(test_unset_defaults)
{
	struct conf *c = load("udp6", "");
	size_t i;

	for (i = 0; i < sockopt_count; i++)
		ck_assert_int_eq(sockopt_get(&sockopt_table[i], &c->socks[0]),
		    sockopt_table[i].unset);
	conf_free(c);
}
END_TEST

static Suite *
sockopt_suite(void)
{
	Suite *s = suite_create("sockopt");
	TCase *tc = tcase_create("sockopt");

	tcase_add_test(tc, test_apply_udp4);
	tcase_add_test(tc, test_apply_udp6);
	tcase_add_test(tc, test_binding_options);
	tcase_add_test(tc, test_reset_removed_keys);
	tcase_add_test(tc, test_reset_keeps_what_stays_set);
	tcase_add_test(tc, test_outbound_by_family);
	tcase_add_test(tc, test_unix_buffers);
	tcase_add_test(tc, test_config_checks);
	tcase_add_test(tc, test_unset_defaults);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(sockopt_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
