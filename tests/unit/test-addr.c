/*
 * test-addr.c: CIDR parsing and matching (IPv4, IPv6, IPv4-mapped senders
 * matched as IPv4, ::ffff:0:0/96 rules kept as IPv4 rules, prefix edges,
 * host bits), plus address parsing and formatting round trips.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

static const struct {
	const char	*s;
	int		 family;	/* 0: must fail */
	int		 prefix;
} parse_cases[] = {
	{ "10.0.0.0/8", AF_INET, 8 },
	{ "127.0.0.1", AF_INET, 32 },
	{ "0.0.0.0/0", AF_INET, 0 },
	{ "1.2.3.4/32", AF_INET, 32 },
	{ "10.1.2.3/8", AF_INET, 8 },		/* host bits are ignored */
	{ "::1", AF_INET6, 128 },
	{ "::/0", AF_INET6, 0 },
	{ "fe80::/10", AF_INET6, 10 },
	{ "2001:db8::/128", AF_INET6, 128 },
	{ "::ffff:0:0/96", AF_INET, 0 },	/* mapped rules are IPv4 rules */
	{ "::ffff:127.0.0.0/104", AF_INET, 8 },
	{ "::ffff:10.1.2.3", AF_INET, 32 },
	{ "::ffff:0:0/95", AF_INET6, 95 },
	{ "1.2.3.4/33", 0, 0 },
	{ "::1/129", 0, 0 },
	{ "1.2.3.4/", 0, 0 },
	{ "1.2.3.4/-1", 0, 0 },
	{ "1.2.3.4/+8", 0, 0 },
	{ "1.2.3.4/ 8", 0, 0 },
	{ "1.2.3.4/8x", 0, 0 },
	{ "1.2.3.4/99999999999999999999999", 0, 0 },
	{ "1.2.3", 0, 0 },
	{ "300.0.0.0/8", 0, 0 },
	{ " 1.2.3.4", 0, 0 },
	{ "", 0, 0 },
	{ "/8", 0, 0 },
	{ "localhost", 0, 0 },
	{ "fe80::1%lo", 0, 0 },
	{ "1.2.3.4/8/8", 0, 0 },
	{ "aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa/128", 0, 0 },
};

START_TEST(test_cidr_parse)
{
	struct cidr c;
	int r = cidr_parse(parse_cases[_i].s, &c);

	if (parse_cases[_i].family == 0) {
		ck_assert_msg(r == -EINVAL, "\"%s\" accepted", parse_cases[_i].s);
		return;
	}
	ck_assert_msg(r == 0, "\"%s\" rejected", parse_cases[_i].s);
	ck_assert_int_eq(c.family, parse_cases[_i].family);
	ck_assert_int_eq(c.prefix, parse_cases[_i].prefix);
}
END_TEST

static void
sa_of(const char *ip, union sockaddr_any *a)
{
	socklen_t len;

	ck_assert_int_eq(addr_parse_ip(ip, AF_UNSPEC, 4242, a, &len), 0);
}

static const struct {
	const char	*cidr;
	const char	*sender;
	int		 match;
} match_cases[] = {
	{ "127.0.0.0/8", "127.1.2.3", 1 },
	{ "127.0.0.0/8", "128.0.0.1", 0 },
	{ "127.0.0.0/8", "::ffff:127.0.0.1", 1 },	/* v4-mapped sender as IPv4 */
	{ "127.0.0.0/8", "::ffff:10.0.0.1", 0 },
	{ "127.0.0.0/8", "::1", 0 },
	{ "127.0.0.1", "127.0.0.1", 1 },
	{ "127.0.0.1", "127.0.0.2", 0 },
	{ "0.0.0.0/0", "203.0.113.9", 1 },
	{ "0.0.0.0/0", "::ffff:203.0.113.9", 1 },
	{ "0.0.0.0/0", "2001:db8::1", 0 },
	{ "10.0.0.0/9", "10.127.255.255", 1 },
	{ "10.0.0.0/9", "10.128.0.0", 0 },
	{ "192.168.1.128/25", "192.168.1.200", 1 },
	{ "192.168.1.128/25", "192.168.1.127", 0 },
	{ "::1", "::1", 1 },
	{ "::1", "::2", 0 },
	{ "::1", "127.0.0.1", 0 },
	{ "::/0", "2001:db8::1", 1 },
	{ "::/0", "127.0.0.1", 0 },			/* a sender of the other family */
	{ "::/0", "::ffff:127.0.0.1", 0 },		/* mapped senders are IPv4 */
	{ "fe80::/10", "fe80::1", 1 },
	{ "fe80::/10", "febf::1", 1 },
	{ "fe80::/10", "fec0::1", 0 },
	{ "2001:db8::/127", "2001:db8::1", 1 },
	{ "2001:db8::/127", "2001:db8::2", 0 },
	{ "::ffff:0:0/96", "127.0.0.1", 1 },
	{ "::ffff:0:0/96", "::ffff:1.2.3.4", 1 },
	{ "::ffff:0:0/96", "::1", 0 },
	{ "::ffff:127.0.0.0/104", "127.9.9.9", 1 },
	{ "::ffff:127.0.0.0/104", "::ffff:127.9.9.9", 1 },
	{ "::ffff:127.0.0.0/104", "10.0.0.1", 0 },
};

START_TEST(test_cidr_match)
{
	union sockaddr_any a;
	struct cidr c;

	ck_assert_int_eq(cidr_parse(match_cases[_i].cidr, &c), 0);
	sa_of(match_cases[_i].sender, &a);
	ck_assert_msg(cidr_match(&c, &a.sa) == (match_cases[_i].match != 0), "%s vs %s",
	    match_cases[_i].cidr, match_cases[_i].sender);
}
END_TEST

START_TEST(test_cidr_match_other_families)
{
	union sockaddr_any a;
	socklen_t len;
	struct cidr c;

	ck_assert_int_eq(cidr_parse("0.0.0.0/0", &c), 0);
	ck_assert(!cidr_match(&c, NULL));
	ck_assert_int_eq(addr_unix("/tmp/x", &a, &len), 0);
	ck_assert(!cidr_match(&c, &a.sa));
}
END_TEST

static const struct {
	const char	*in;
	const char	*out;	/* NULL: must fail */
} hostport_cases[] = {
	{ "127.0.0.1:514", "127.0.0.1:514" },
	{ "[::1]:53", "::1:53" },
	{ "host.example:0", "host.example:0" },
	{ "127.0.0.1:65536", NULL },
	{ "127.0.0.1:", NULL },
	{ ":80", NULL },
	{ "[::1]53", NULL },
	{ "[]:53", NULL },
	{ "::1:53", NULL },
	{ "1.2.3.4:+5", NULL },
	{ "1.2.3.4:5x", NULL },
	{ "nocolon", NULL },
};

START_TEST(test_split_hostport)
{
	char *host = NULL, buf[300];
	uint16_t port = 0;
	int r = addr_split_hostport(hostport_cases[_i].in, &host, &port);

	if (hostport_cases[_i].out == NULL) {
		ck_assert_msg(r == -EINVAL, "\"%s\" accepted", hostport_cases[_i].in);
		return;
	}
	ck_assert_int_eq(r, 0);
	snprintf(buf, sizeof(buf), "%s:%u", host, port);
	ck_assert_str_eq(buf, hostport_cases[_i].out);
	free(host);
}
END_TEST

START_TEST(test_format_round_trip)
{
	union sockaddr_any a;
	socklen_t len;
	char buf[ADDR_STRLEN];

	ck_assert_int_eq(addr_parse_ip("127.0.0.1", AF_INET, 7, &a, &len), 0);
	ck_assert_str_eq(addr_format(&a.sa, len, buf, sizeof(buf)), "127.0.0.1:7");
	ck_assert_int_eq(addr_parse_ip("::ffff:127.0.0.1", AF_INET6, 9, &a, &len), 0);
	ck_assert_str_eq(addr_format(&a.sa, len, buf, sizeof(buf)), "[::ffff:127.0.0.1]:9");
	ck_assert_int_eq(addr_parse_ip("127.0.0.1", AF_INET6, 7, &a, &len), -EINVAL);
	ck_assert_int_eq(addr_unix("@abs", &a, &len), 0);
	ck_assert_str_eq(addr_format(&a.sa, len, buf, sizeof(buf)), "@abs");
	ck_assert_int_eq(addr_unix("/run/x.sock", &a, &len), 0);
	ck_assert_str_eq(addr_format(&a.sa, len, buf, sizeof(buf)), "/run/x.sock");
	ck_assert_str_eq(addr_format(NULL, 0, buf, sizeof(buf)), "(unbound)");
	ck_assert_int_eq(addr_unix("@", &a, &len), -EINVAL);
	ck_assert_int_eq(addr_unix("", &a, &len), -EINVAL);
}
END_TEST

static Suite *
addr_suite(void)
{
	Suite *s = suite_create("addr");
	TCase *tc = tcase_create("addr");

	tcase_add_loop_test(tc, test_cidr_parse, 0,
	    (int)(sizeof(parse_cases) / sizeof(parse_cases[0])));
	tcase_add_loop_test(tc, test_cidr_match, 0,
	    (int)(sizeof(match_cases) / sizeof(match_cases[0])));
	tcase_add_test(tc, test_cidr_match_other_families);
	tcase_add_loop_test(tc, test_split_hostport, 0,
	    (int)(sizeof(hostport_cases) / sizeof(hostport_cases[0])));
	tcase_add_test(tc, test_format_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(addr_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
