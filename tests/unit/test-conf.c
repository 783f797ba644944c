/*
 * test-conf.c: config loading. Each error class gives one line naming
 * FILE:LINE: setting.path and what is wrong; valid files give the values.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "handler.h"

#define ECHO	"handlers = ( { type = \"echo\"; } );"

static struct conf *
load_ok(const char *text)
{
	struct conf_err err = { { 0 } };
	struct conf *c = NULL;
	int r;

	r = conf_load_string(text, "t.conf", &c, &err);
	ck_assert_msg(r == 0, "unexpected error: %s", err.msg);
	ck_assert_ptr_nonnull(c);
	return c;
}

/* Loads text, expects an error whose message equals want. */
static void
load_err_one(const char *text, const char *want)
{
	struct conf_err err = { { 0 } };
	struct conf *c = NULL;
	int r;

	r = conf_load_string(text, "t.conf", &c, &err);
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err.msg, want) != NULL, "got \"%s\", want \"%s\"", err.msg, want);
}

START_TEST(test_minimal_udp4)
{
	struct conf *c = load_ok("sockets = ( { name = \"a\"; type = \"udp4\"; port = 0; " ECHO
	    " } );");

	ck_assert_uint_eq(c->n_socks, 1);
	ck_assert_str_eq(c->socks[0].name, "a");
	ck_assert_int_eq(c->socks[0].type, SOCK_T_UDP4);
	ck_assert_int_eq(c->socks[0].port, 0);
	ck_assert_uint_eq(c->socks[0].max_size, 65535);
	ck_assert_uint_eq(c->batch, 64);
	ck_assert_int_eq(c->socks[0].addr.sa.sa_family, AF_INET);
	ck_assert_uint_eq(c->socks[0].n_handlers, 1);
	ck_assert_ptr_eq(c->socks[0].handlers[0].ops, &echo_handler_ops);
	conf_free(c);
}
END_TEST

START_TEST(test_all_socket_options)
{
	struct conf *c = load_ok(
	    "log_level = \"debug\"; batch = 1024;\n"
	    "sockets = (\n"
	    " { name = \"a\"; type = \"udp4\"; address = \"127.0.0.1\"; port = 5140; ttl = 255;\n"
	    "   broadcast = true; multicast_ttl = 0; multicast_loop = false;\n"
	    "   multicast_groups = [ \"239.1.2.3\" ]; reuseport = true; recv_buffer = 65536;\n"
	    "   send_buffer = 4096; max_size = 1; " ECHO " },\n"
	    " { name = \"b\"; type = \"udp6\"; address = \"::1\"; port = 65535; ttl = 1;\n"
	    "   ipv6_only = false; " ECHO " },\n"
	    " { name = \"u\"; type = \"unix_dgram\"; path = \"/tmp/x.sock\"; mode = \"0660\";\n"
	    "   owner = 0; group = 0; " ECHO " },\n"
	    " { name = \"v\"; type = \"unix_dgram\"; path = \"@abstract\"; " ECHO " }\n"
	    ");\n");

	ck_assert_int_eq(c->log_level, 7);
	ck_assert_uint_eq(c->batch, 1024);
	ck_assert_int_eq(c->socks[0].ttl, 255);
	ck_assert_int_eq(c->socks[0].broadcast, 1);
	ck_assert_int_eq(c->socks[0].multicast_ttl, 0);
	ck_assert_int_eq(c->socks[0].multicast_loop, 0);
	ck_assert_uint_eq(c->socks[0].n_mcast_groups, 1);
	ck_assert(c->socks[0].reuseport);
	ck_assert_int_eq(c->socks[0].recv_buffer, 65536);
	ck_assert_uint_eq(c->socks[0].max_size, 1);
	ck_assert_int_eq(c->socks[1].ttl, 1);
	ck_assert_int_eq(c->socks[1].ipv6_only, 0);
	ck_assert_int_eq(c->socks[2].mode, 0660);
	ck_assert(c->socks[2].has_owner);
	ck_assert_int_eq(c->socks[2].port, -1);
	ck_assert_int_eq(c->socks[3].addr.un.sun_path[0], '\0');
	conf_free(c);
}
END_TEST

/* One line per error class: the text and the exact message expected. */
static const struct {
	const char	*text;
	const char	*want;
} errors[] = {
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = 0; " ECHO " } ",
	  "t.conf:1: syntax error" },
	{ "sockets = (\n { name = \"a\"; type = \"udp4\"; port = 0;\n ttl = 300; " ECHO " }\n);",
	  "t.conf:3: sockets.[0].ttl: must be 1..255, got 300" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = 0; ttl = 0; " ECHO " } );",
	  "t.conf:1: sockets.[0].ttl: must be 1..255, got 0" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = 0; ttl = 256; " ECHO " } );",
	  "sockets.[0].ttl: must be 1..255, got 256" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = 65536; " ECHO " } );",
	  "sockets.[0].port: must be 0..65535, got 65536" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = -1; " ECHO " } );",
	  "sockets.[0].port: must be 0..65535, got -1" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = \"53\"; " ECHO " } );",
	  "sockets.[0].port: must be an integer, got \"53\"" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = 1; colour = 1; " ECHO " } );",
	  "t.conf:1: sockets.[0].colour: unknown setting" },
	{ "colour = 1; sockets = ( { name = \"a\"; type = \"udp4\"; port = 1; " ECHO " } );",
	  "t.conf:1: colour: unknown setting" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = 1; broadcast = 1; " ECHO " } );",
	  "sockets.[0].broadcast: must be true or false, got 1" },
	{ "sockets = ( { name = \"a\"; type = \"udp5\"; port = 1; " ECHO " } );",
	  "sockets.[0].type: must be udp4 | udp6 | unix_dgram, got \"udp5\"" },
	{ "sockets = ( { name = \"a\"; port = 1; " ECHO " } );",
	  "sockets.[0].type: missing" },
	{ "sockets = ( { type = \"udp4\"; port = 1; " ECHO " } );",
	  "sockets.[0].name: missing" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; " ECHO " } );",
	  "sockets.[0].port: missing (required for udp4" },
	{ "sockets = ( { name = \"a\"; type = \"unix_dgram\"; " ECHO " } );",
	  "sockets.[0].path: missing (required for unix_dgram)" },
	{ "sockets = ( { name = \"a\"; type = \"unix_dgram\"; path = \"/x\"; port = 5; " ECHO
	  " } );", "sockets.[0].port: not allowed on a unix_dgram socket" },
	{ "sockets = ( { name = \"a\"; type = \"udp6\"; port = 5; path = \"/x\"; " ECHO " } );",
	  "sockets.[0].path: not allowed on a udp6 socket" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = 5; " ECHO " },\n"
	  "{ name = \"a\"; type = \"udp4\"; port = 6; " ECHO " } );",
	  "t.conf:2: sockets.[1].name: duplicate socket name \"a\" (first at line 1)" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = 5; " ECHO " },\n"
	  "{ name = \"b\"; type = \"udp4\"; port = 5; " ECHO " } );",
	  "sockets.[1]: binds the same address as socket \"a\"" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; address = \"127.0.0.1\"; port = 5; "
	  ECHO " },\n{ name = \"b\"; type = \"udp4\"; port = 5; " ECHO " } );",
	  "t.conf:2: sockets.[1]: binds the same address as socket \"a\" (line 1)" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; address = \"127.0.0.1\"; port = 5; "
	  ECHO " },\n{ name = \"b\"; type = \"udp6\"; port = 5; ipv6_only = false; " ECHO " } );",
	  "t.conf:2: sockets.[1]: binds the same address as socket \"a\" (line 1)" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = 5; address = \"::1\"; " ECHO " } );",
	  "sockets.[0].address: must be a numeric IPv4 address, got \"::1\"" },
	{ "sockets = ( { name = \"a\"; type = \"udp6\"; port = 5; address = \"1.2.3.4\"; " ECHO
	  " } );", "sockets.[0].address: must be a numeric IPv6 address, got \"1.2.3.4\"" },
	{ "sockets = ( { name = \"a\"; type = \"unix_dgram\"; path = \"/x\"; mode = \"0999\"; "
	  ECHO " } );", "sockets.[0].mode: must be an octal mode such as \"0660\", got \"0999\"" },
	{ "sockets = ( { name = \"a\"; type = \"unix_dgram\"; path = \"/tmp/"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"; " ECHO " } );",
	  "sockets.[0].path: too long for a unix socket (at most 107 bytes)" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = 5; handlers = (); } );",
	  "sockets.[0].handlers: must hold at least one handler" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = 5; } );",
	  "sockets.[0].handlers: missing" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = 5; handlers = ( { type = \"x\"; } ); "
	  "} );", "sockets.[0].handlers.[0].type: unknown handler type \"x\"" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = 5; handlers = ( { type = \"echo\";"
	  " bogus = 1; } ); } );", "sockets.[0].handlers.[0].bogus: unknown setting" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = 5; handlers = ( { type = \"echo\";"
	  " ignore_ports = [ 70000 ]; } ); } );",
	  "sockets.[0].handlers.[0].ignore_ports.[0]: must be 0..65535, got 70000" },
	{ "batch = 0; sockets = ( { name = \"a\"; type = \"udp4\"; port = 5; " ECHO " } );",
	  "t.conf:1: batch: must be 1..1024, got 0" },
	{ "batch = 1025; sockets = ( { name = \"a\"; type = \"udp4\"; port = 5; " ECHO " } );",
	  "batch: must be 1..1024, got 1025" },
	{ "log_level = \"loud\"; sockets = ( { name = \"a\"; type = \"udp4\"; port = 5; " ECHO
	  " } );", "log_level: must be error | warning | notice | info | debug, got \"loud\"" },
	{ "user = \"no-such-user-dgramd\"; sockets = ( { name = \"a\"; type = \"udp4\"; port = 5; "
	  ECHO " } );", "user: no such user \"no-such-user-dgramd\"" },
	{ "sockets = ();", "sockets: must declare at least one socket" },
	{ "log_level = \"info\";", "sockets: missing" },
	{ "sockets = ( { name = \"a b\"; type = \"udp4\"; port = 5; " ECHO " } );",
	  "sockets.[0].name: may hold only letters" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = 5; ipv6_only = true; " ECHO " } );",
	  "sockets.[0].ipv6_only: applies to udp6 sockets only" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = 5; max_size = 0; " ECHO " } );",
	  "sockets.[0].max_size: must be 1..65535, got 0" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = 5; multicast_groups = "
	  "[ \"10.0.0.1\" ]; " ECHO " } );",
	  "sockets.[0].multicast_groups.[0]: must be a multicast group address" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = 5; multicast_groups = "
	  "\"239.1.2.3\"; " ECHO " } );",
	  "t.conf:1: sockets.[0].multicast_groups: must be a list, ( ... ) or [ ... ], "
	  "got \"239.1.2.3\"" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = 5; handlers = { type = \"echo\"; }; "
	  "} );", "t.conf:1: sockets.[0].handlers: must be a list, ( ... ) or [ ... ], got a group" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = 5; handlers = [ 1 ]; } );",
	  "t.conf:1: sockets.[0].handlers.[0]: must be a group { type = ...; }, got 1" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = 5; recv_buffer = 10; " ECHO " } );",
	  "sockets.[0].recv_buffer: must be 1024..1073741823, got 10" },
	{ "sockets = ( { name = \"a\"; type = \"unix_dgram\"; path = \"@x\"; mode = \"0600\"; "
	  ECHO " } );", "mode, owner and group do not apply to an abstract (@) socket" },
	{ "sockets = ( { name = \"a\"; type = \"unix_dgram\"; path = \"/x\"; reuseport = true; "
	  ECHO " } );", "sockets.[0].reuseport: not allowed on a unix_dgram socket" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = 5; handlers = ( { type = \"log\";"
	  " file = \"/tmp/x.log\"; format = \"json\"; compat = \"rsyslog\"; } ); } );",
	  "sockets.[0].handlers.[0].compat: \"rsyslog\" applies to format = \"syslog\" only, "
	  "got format = \"json\"" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = 5; handlers = ( { type = \"log\";"
	  " file = \"/tmp/x.log\"; compat = \"syslog-ng\"; } ); } );",
	  "sockets.[0].handlers.[0].compat: must be none | rsyslog, got \"syslog-ng\"" },
	/*
	 * Issue 14: libconfig 1.5 wraps an integer wider than 32 bits; every
	 * integer key refuses it, as written, wherever it is.
	 */
	{ "sockets = ( { name = \"a\"; type = \"udp4\";\n port = 4294974796; " ECHO " } );",
	  "t.conf:2: sockets.[0].port: out of range (got 4294974796)" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = 5;\n\n max_size = 4294967396; "
	  ECHO " } );", "t.conf:3: sockets.[0].max_size: out of range (got 4294967396)" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = 5; recv_buffer = 99999999999; "
	  ECHO " } );", "t.conf:1: sockets.[0].recv_buffer: out of range (got 99999999999)" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = 7500.0; " ECHO " } );",
	  "t.conf:1: sockets.[0].port: must be an integer, got 7500.0" },
	{ "batch = -4294967295; sockets = ( { name = \"a\"; type = \"udp4\"; port = 5; " ECHO
	  " } );", "t.conf:1: batch: out of range (got -4294967295)" },
	{ "batch = 0x100000040; sockets = ( { name = \"a\"; type = \"udp4\"; port = 5; " ECHO
	  " } );", "t.conf:1: batch: out of range (got 0x100000040)" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = 5; ttl = 4294967297; " ECHO
	  " } );", "t.conf:1: sockets.[0].ttl: out of range (got 4294967297)" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = 5; handlers = ( { type = \"echo\";"
	  " ignore_ports = [ 53, 4294967349 ]; } ); } );",
	  "sockets.[0].handlers.[0].ignore_ports.[1]: out of range (got 4294967349)" },
	{ "sockets = ( { name = \"a\"; type = \"unix_dgram\"; path = \"/x\"; "
	  "allow_uids = [ 0, 4294967296 ]; " ECHO " } );",
	  "sockets.[0].allow_uids.[1]: out of range (got 4294967296)" },
	{ "sockets = ( { name = \"a\"; type = \"unix_dgram\"; path = \"/x\"; "
	  "owner = 4294967296; " ECHO " } );", "sockets.[0].owner: out of range (got 4294967296)" },
	{ "sockets = ( { name = \"a\"; type = \"udp4\"; port = 5; rate_limit = { rate = "
	  "4294967396; }; " ECHO " } );",
	  "sockets.[0].rate_limit.rate: out of range (got 4294967396)" },
	{ "x = \"4294967296 # 1\"; /* 4294967296 */ // 4294967296\n# 4294967296\n"
	  "ratio = 1.5e3; big = 4294967296L; sockets = ( { name = \"a\"; type = \"udp4\";"
	  " port = 4294967296; " ECHO " } );",
	  "t.conf:3: sockets.[0].port: out of range (got 4294967296)" },
};

START_TEST(test_errors)
{
	load_err_one(errors[_i].text, errors[_i].want);
}
END_TEST

START_TEST(test_ttl_edges)
{
	static const char *const fmt = "sockets = ( { name = \"a\"; type = \"%s\"; port = 0; "
	    "ttl = %d; " ECHO " } );";
	static const int ok[] = { 1, 255 }, bad[] = { 0, 256 };
	char text[256];
	size_t i;

	for (i = 0; i < 2; i++) {
		struct conf *c;

		snprintf(text, sizeof(text), fmt, i ? "udp6" : "udp4", ok[0]);
		c = load_ok(text);
		ck_assert_int_eq(c->socks[0].ttl, 1);
		conf_free(c);
		snprintf(text, sizeof(text), fmt, i ? "udp6" : "udp4", ok[1]);
		c = load_ok(text);
		ck_assert_int_eq(c->socks[0].ttl, 255);
		conf_free(c);
		snprintf(text, sizeof(text), fmt, i ? "udp6" : "udp4", bad[0]);
		load_err_one(text, "ttl: must be 1..255, got 0");
		snprintf(text, sizeof(text), fmt, i ? "udp6" : "udp4", bad[1]);
		load_err_one(text, "ttl: must be 1..255, got 256");
	}
}
END_TEST

/* An integer that fits, or an L literal that libconfig reads whole, is accepted as is. */
START_TEST(test_wide_literals_that_fit)
{
	struct conf *c = load_ok("batch = 0x40; sockets = ( { name = \"a\"; type = \"udp4\";"
	    " port = +7500; recv_buffer = 65536L; " ECHO " } );");

	ck_assert_uint_eq(c->batch, 64);
	ck_assert_int_eq(c->socks[0].port, 7500);
	conf_free(c);
}
END_TEST

/* An integer out of range in an @include file is named by that file and line. */
START_TEST(test_wide_literal_in_include)
{
	char dir[] = "/tmp/dgramd-conf-XXXXXX", inc[64], text[256];
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(inc, sizeof(inc), "%s/sock.inc", dir);
	f = fopen(inc, "w");
	ck_assert_ptr_nonnull(f);
	fputs("{ name = \"a\"; type = \"udp4\";\n port = 4294967297; " ECHO " }\n", f);
	fclose(f);
	snprintf(text, sizeof(text), "batch = 8;\nsockets = (\n @include \"%s\"\n);\n", inc);
	load_err_one(text, "sock.inc:2: sockets.[0].port: out of range (got 4294967297)");
	unlink(inc);
	rmdir(dir);
}
END_TEST

START_TEST(test_missing_file)
{
	struct conf_err err = { { 0 } };
	struct conf *c = NULL;

	ck_assert_int_eq(conf_load("/nonexistent/dgramd.conf", &c, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "/nonexistent/dgramd.conf: cannot read") != NULL, "%s",
	    err.msg);
}
END_TEST

START_TEST(test_binds_that_do_not_clash)
{
	/* Different addresses, v4 beside v6-only, port 0 twice, reuseport on both. */
	struct conf *c = load_ok("sockets = (\n"
	    "{ name = \"a\"; type = \"udp4\"; address = \"127.0.0.1\"; port = 7; " ECHO " },\n"
	    "{ name = \"b\"; type = \"udp4\"; address = \"127.0.0.2\"; port = 7; " ECHO " },\n"
	    "{ name = \"c\"; type = \"udp6\"; port = 7; " ECHO " },\n"
	    "{ name = \"d\"; type = \"udp4\"; port = 0; " ECHO " },\n"
	    "{ name = \"e\"; type = \"udp4\"; port = 0; " ECHO " },\n"
	    "{ name = \"f\"; type = \"udp4\"; port = 9; reuseport = true; " ECHO " },\n"
	    "{ name = \"g\"; type = \"udp4\"; port = 9; reuseport = true; " ECHO " } );");

	ck_assert_uint_eq(c->n_socks, 7);
	conf_free(c);
}
END_TEST

START_TEST(test_same_binding)
{
	struct conf *c = load_ok("sockets = (\n"
	    "{ name = \"a\"; type = \"udp4\"; address = \"127.0.0.1\"; port = 7; " ECHO " },\n"
	    "{ name = \"b\"; type = \"udp4\"; address = \"127.0.0.2\"; port = 7; " ECHO " },\n"
	    "{ name = \"c\"; type = \"unix_dgram\"; path = \"/p\"; " ECHO " } );");
	struct conf *d = load_ok("sockets = (\n"
	    "{ name = \"x\"; type = \"udp4\"; address = \"127.0.0.1\"; port = 7; ttl = 3; " ECHO
	    " },\n{ name = \"c\"; type = \"unix_dgram\"; path = \"/q\"; " ECHO " } );");

	ck_assert(sock_conf_same_binding(&c->socks[0], &d->socks[0]));
	ck_assert(!sock_conf_same_binding(&c->socks[1], &d->socks[0]));
	ck_assert(!sock_conf_same_binding(&c->socks[2], &d->socks[1]));
	ck_assert(!sock_conf_same_binding(&c->socks[0], &c->socks[2]));
	conf_free(c);
	conf_free(d);
}
END_TEST

static Suite *
conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("conf");

	tcase_add_test(tc, test_minimal_udp4);
	tcase_add_test(tc, test_all_socket_options);
	tcase_add_loop_test(tc, test_errors, 0, (int)(sizeof(errors) / sizeof(errors[0])));
	tcase_add_test(tc, test_ttl_edges);
	tcase_add_test(tc, test_wide_literals_that_fit);
	tcase_add_test(tc, test_wide_literal_in_include);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_same_binding);
	tcase_add_test(tc, test_binds_that_do_not_clash);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(conf_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
