/*
 * test-ratelimit.c: token buckets (exact counts, refill, the burst + rate*t
 * bound, no overflow at the extremes), the per-sender table (independent
 * senders, v4 and v4-mapped senders sharing a bucket, fixed capacity under
 * a flood of distinct senders, LRU eviction within a set), drop episodes,
 * state copied across a reload, and the rate_limit / allow_uids config keys.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "ratelimit.h"

#define SEC	1000000000ull

static struct ratelimit *
new_rl(uint32_t rate, uint32_t burst, bool per_source, uint32_t sources)
{
	struct rate_limit_conf c = { true, rate, burst, per_source, sources };
	struct ratelimit *rl = NULL;

	ck_assert_int_eq(ratelimit_new(&c, 12345, &rl), 0);
	return rl;
}

static void
key4(const char *ip, uint16_t port, struct rl_key *k)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	ck_assert_int_eq(inet_pton(AF_INET, ip, &a.sin_addr), 1);
	ratelimit_key((struct sockaddr *)&a, NULL, k);
}

static void
key6(const char *ip, struct rl_key *k)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6 };

	ck_assert_int_eq(inet_pton(AF_INET6, ip, &a.sin6_addr), 1);
	ratelimit_key((struct sockaddr *)&a, NULL, k);
}

static void
key_n(uint32_t n, struct rl_key *k)
{
	struct sockaddr_in a = { .sin_family = AF_INET };

	a.sin_addr.s_addr = htonl(0x7f000000u | n);
	ratelimit_key((struct sockaddr *)&a, NULL, k);
}

/* How many of n datagrams from k at now pass. */
static unsigned
send_n(struct ratelimit *rl, const struct rl_key *k, unsigned n, uint64_t now)
{
	unsigned i, pass = 0;

	for (i = 0; i < n; i++)
		pass += ratelimit_check(rl, k, now) == RL_PASS;
	return pass;
}

START_TEST(test_socket_bucket_exact)
{
	struct ratelimit *rl = new_rl(1, 5, false, 0);
	struct rl_key k;

	key4("127.0.0.1", 1000, &k);
	ck_assert_uint_eq(send_n(rl, &k, 20, 100 * SEC), 5);
	/* Just under one second: not one token yet. */
	ck_assert_uint_eq(send_n(rl, &k, 5, 101 * SEC - 1), 0);
	ck_assert_uint_eq(send_n(rl, &k, 5, 101 * SEC), 1);
	/* A long pause refills to burst, never beyond. */
	ck_assert_uint_eq(send_n(rl, &k, 50, 1000 * SEC), 5);
	ck_assert_uint_eq(ratelimit_capacity(rl), 1);
	ratelimit_free(rl);
}
END_TEST

START_TEST(test_burst_defaults_to_rate)
{
	struct rate_limit_conf c = { true, 7, 0, false, 0 };
	struct ratelimit *rl = NULL;
	struct rl_key k;

	ck_assert_int_eq(ratelimit_new(&c, 1, &rl), 0);
	key4("127.0.0.1", 1, &k);
	ck_assert_uint_eq(send_n(rl, &k, 100, SEC), 7);
	ratelimit_free(rl);
}
END_TEST

/* Saturating senders at irregular times: passes == burst + floor(rate * t). */
START_TEST(test_bound_burst_plus_rate_t)
{
	static const uint32_t rates[] = { 1, 3, 10, 1000, 123457 };
	size_t i;

	for (i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		struct ratelimit *rl = new_rl(rates[i], 4, false, 0);
		uint64_t t = 5 * SEC, start = t, pass, seed = 1;
		struct rl_key k;
		unsigned step;

		key4("127.0.0.1", 1, &k);
		pass = send_n(rl, &k, 3, t);
		for (step = 0; step < 20000; step++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			t += (seed >> 33) % (SEC / 1000);
			pass += send_n(rl, &k, 3, t);
			/* Never more than the bound, at any point. */
			ck_assert_uint_le(pass, 4 + (t - start) * rates[i] / SEC);
		}
		/*
		 * A sender that never lets the bucket fill gets everything the
		 * bound allows (at high rates it fills between sends: fewer).
		 */
		if (rates[i] <= 1000)
			ck_assert_uint_eq(pass, 4 + (t - start) * rates[i] / SEC);
		ratelimit_free(rl);
	}
}
END_TEST

START_TEST(test_extremes_no_overflow)
{
	struct ratelimit *rl = new_rl(1000000000, 1000000000, false, 0);
	struct rl_key k;
	uint64_t t = 1;

	key4("127.0.0.1", 1, &k);
	ck_assert_uint_eq(send_n(rl, &k, 10, t), 10);
	ck_assert_uint_eq(send_n(rl, &k, 10, UINT64_MAX / 2), 10);
	ratelimit_free(rl);
	rl = new_rl(1, 1, false, 0);
	ck_assert_uint_eq(send_n(rl, &k, 3, 0), 1);
	ck_assert_uint_eq(send_n(rl, &k, 3, UINT64_MAX - 1), 1);
	ratelimit_free(rl);
}
END_TEST

START_TEST(test_per_source_independent)
{
	struct ratelimit *rl = new_rl(1, 2, true, 64);
	struct rl_key a, a_other_port, a_mapped, b, u0, u1;
	struct ucred c0 = { .pid = 1, .uid = 0, .gid = 0 }, c1 = { .pid = 1, .uid = 1000 };

	key4("127.0.0.2", 1000, &a);
	key4("127.0.0.2", 2000, &a_other_port);
	key6("::ffff:127.0.0.2", &a_mapped);
	key6("::1", &b);
	ratelimit_key(NULL, &c0, &u0);
	ratelimit_key(NULL, &c1, &u1);
	ck_assert_mem_eq(&a, &a_other_port, sizeof(a));
	ck_assert_mem_eq(&a, &a_mapped, sizeof(a));
	ck_assert_uint_eq(send_n(rl, &a, 1, SEC), 1);
	ck_assert_uint_eq(send_n(rl, &a_other_port, 1, SEC), 1);
	ck_assert_uint_eq(send_n(rl, &a_mapped, 1, SEC), 0);
	ck_assert_uint_eq(send_n(rl, &b, 5, SEC), 2);
	ck_assert_uint_eq(send_n(rl, &u0, 5, SEC), 2);
	ck_assert_uint_eq(send_n(rl, &u1, 5, SEC), 2);
	ck_assert_uint_eq(ratelimit_used(rl), 4);
	ratelimit_free(rl);
}
END_TEST

START_TEST(test_table_capacity_fixed)
{
	struct ratelimit *rl = new_rl(1, 1, true, 100);
	struct rl_key k, well;
	uint32_t i;
	unsigned served = 0;

	/* 100 rounded up to whole sets of RATELIMIT_WAYS. */
	ck_assert_uint_eq(ratelimit_capacity(rl), 104);
	key6("2001:db8::1", &well);
	/* A million senders over 100 s; a well-behaved one sends once a second. */
	for (i = 0; i < 1000000; i++) {
		uint64_t t = SEC + (uint64_t)i * 100000;

		key_n(i, &k);
		/* Every new sender passes once: an evicted one comes back full. */
		ck_assert_int_eq(ratelimit_check(rl, &k, t), RL_PASS);
		if (i % 10000 == 0)
			served += send_n(rl, &well, 1, t);
	}
	ck_assert_uint_eq(ratelimit_used(rl), 104);
	ck_assert_uint_eq(served, 100);
	ratelimit_free(rl);
}
END_TEST

/* One set of 8 ways: the least recently seen sender is the one evicted. */
START_TEST(test_lru_within_set)
{
	struct ratelimit *rl = new_rl(1, 1, true, 8);
	struct rl_key k[9];
	unsigned i;

	ck_assert_uint_eq(ratelimit_capacity(rl), 8);
	for (i = 0; i < 9; i++)
		key_n(i, &k[i]);
	for (i = 0; i < 8; i++)
		ck_assert_uint_eq(send_n(rl, &k[i], 2, 10 + i), 1);
	/* Sender 0 seen again (dropped: its bucket is empty). */
	ck_assert_uint_eq(send_n(rl, &k[0], 1, 20), 0);
	/* A ninth sender evicts sender 1, the least recently seen. */
	ck_assert_uint_eq(send_n(rl, &k[8], 1, 21), 1);
	ck_assert_uint_eq(send_n(rl, &k[0], 1, 22), 0);
	ck_assert_uint_eq(send_n(rl, &k[2], 1, 23), 0);
	ck_assert_uint_eq(send_n(rl, &k[1], 1, 24), 1);	/* forgotten: full again */
	ratelimit_free(rl);
}
END_TEST

START_TEST(test_episodes)
{
	struct ratelimit *rl = new_rl(1, 1, true, 64);
	struct rl_episode ep;
	struct rl_key a, b;
	char buf[64];

	key4("127.0.0.3", 1, &a);
	key6("::1", &b);
	ck_assert(!ratelimit_episode(rl, NULL));
	ck_assert_int_eq(ratelimit_check(rl, &a, SEC), RL_PASS);
	ck_assert_int_eq(ratelimit_check(rl, &a, SEC), RL_DROP_FIRST);
	ck_assert_int_eq(ratelimit_check(rl, &a, SEC), RL_DROP);
	ck_assert_int_eq(ratelimit_check(rl, &b, SEC), RL_PASS);
	ck_assert_int_eq(ratelimit_check(rl, &b, SEC + 1), RL_DROP);
	ck_assert_int_eq(ratelimit_check(rl, &a, SEC + 2), RL_DROP);
	ck_assert(ratelimit_episode(rl, &ep));
	ck_assert_uint_eq(ep.dropped, 4);
	ck_assert(!ratelimit_episode_end(rl, 2 * SEC + 1, SEC, &ep));
	ck_assert(ratelimit_episode_end(rl, 2 * SEC + 2, SEC, &ep));
	ck_assert_uint_eq(ep.dropped, 4);
	ck_assert_uint_eq(ep.senders, 2);
	ck_assert_uint_eq(ep.start_ns, SEC);
	ck_assert_uint_eq(ep.last_ns, SEC + 2);
	ck_assert_str_eq(ratelimit_key_format(&ep.first, buf, sizeof(buf)), "127.0.0.3");
	ck_assert(!ratelimit_episode(rl, NULL));
	/* The next drop starts a new episode. */
	ck_assert_int_eq(ratelimit_check(rl, &a, 2 * SEC + 3), RL_PASS);
	ck_assert_int_eq(ratelimit_check(rl, &a, 2 * SEC + 3), RL_DROP_FIRST);
	ratelimit_free(rl);
}
END_TEST

START_TEST(test_copy_state_on_reload)
{
	struct rate_limit_conf same = { true, 1, 2, true, 64 };
	struct rate_limit_conf other = { true, 1, 3, true, 64 };
	struct ratelimit *old = new_rl(1, 2, true, 64), *nw = NULL;
	struct rl_key a;

	key4("127.0.0.4", 1, &a);
	ck_assert_uint_eq(send_n(old, &a, 5, SEC), 2);
	ck_assert(ratelimit_same_conf(old, &same));
	ck_assert(!ratelimit_same_conf(old, &other));
	ck_assert_int_eq(ratelimit_new(&same, 999, &nw), 0);
	ratelimit_copy_state(nw, old);
	ck_assert_uint_eq(send_n(nw, &a, 5, SEC), 0);
	ck_assert(ratelimit_episode(nw, NULL));
	ck_assert_uint_eq(ratelimit_used(nw), 1);
	/* The old one stays usable (a reload that fails keeps it). */
	ck_assert_uint_eq(send_n(old, &a, 5, 2 * SEC), 1);
	ratelimit_free(old);
	ratelimit_free(nw);
}
END_TEST

START_TEST(test_key_format)
{
	struct ucred c = { .pid = 1, .uid = 65534, .gid = 65534 };
	struct rl_key k;
	char buf[64];

	key6("2001:db8::7", &k);
	ck_assert_str_eq(ratelimit_key_format(&k, buf, sizeof(buf)), "2001:db8::7");
	ratelimit_key(NULL, &c, &k);
	ck_assert_str_eq(ratelimit_key_format(&k, buf, sizeof(buf)), "uid 65534");
	ratelimit_key(NULL, NULL, &k);
	ck_assert_str_eq(ratelimit_key_format(&k, buf, sizeof(buf)), "senders without credentials");
}
END_TEST

/* --- config -------------------------------------------------------------- */

#define UDP(x)	"sockets = ( { name = \"a\"; type = \"udp4\"; port = 0; " x \
		" handlers = ( { type = \"echo\"; } ); } );"
#define UNIX(x)	"sockets = ( { name = \"a\"; type = \"unix_dgram\"; path = \"/x/y\"; " x \
		" handlers = ( { type = \"echo\"; } ); } );"

static const struct {
	const char	*text;
	const char	*want;
} conf_errors[] = {
	{ UDP("rate_limit = 5;"), "t.conf:1: sockets.[0].rate_limit: must be a group" },
	{ UDP("rate_limit = { burst = 2; };"), "sockets.[0].rate_limit.rate: missing" },
	{ UDP("rate_limit = { rate = 0; };"), "rate_limit.rate: must be 1..1000000000, got 0" },
	{ UDP("rate_limit = { rate = 1; burst = 0; };"), "rate_limit.burst: must be 1..1000000000" },
	{ UDP("rate_limit = { rate = 1; per_source = 1; };"),
	    "rate_limit.per_source: must be true or false" },
	{ UDP("rate_limit = { rate = 1; per_source = true; sources = 0; };"),
	    "rate_limit.sources: must be 1..1048576, got 0" },
	{ UDP("rate_limit = { rate = 1; per_source = true; sources = 1048577; };"),
	    "rate_limit.sources: must be 1..1048576, got 1048577" },
	{ UDP("rate_limit = { rate = 1; sources = 10; };"),
	    "rate_limit.sources: applies only with per_source = true" },
	{ UDP("rate_limit = { rate = 1; type = \"x\"; };"), "rate_limit.type: unknown setting" },
	{ UDP("rate_limit = { rate = 1; brust = 2; };"), "rate_limit.brust: unknown setting" },
	{ UDP("allow = \"127.0.0.1\";"), "sockets.[0].allow: must be a list" },
	{ UDP("allow = [\"127.0.0.1\", \"300.1.1.1\"];"),
	    "sockets.[0].allow.[1]: must be an address or CIDR such as \"10.0.0.0/8\" or "
	    "\"::1\", got \"300.1.1.1\"" },
	{ UDP("allow = [\"10.0.0.0/33\"];"), "sockets.[0].allow.[0]: must be an address or CIDR" },
	{ UDP("allow = [1];"), "sockets.[0].allow.[0]: must be a string, got 1" },
	{ UDP("allow_uids = [0];"), "sockets.[0].allow_uids: not allowed on a udp4 socket" },
	{ UNIX("allow = [\"::1\"];"), "sockets.[0].allow: not allowed on a unix_dgram socket" },
	{ UNIX("allow_uids = (0, \"no-such-user-x\");"),
	    "sockets.[0].allow_uids.[1]: no such user \"no-such-user-x\"" },
	{ UNIX("allow_gids = [\"no-such-group-x\"];"),
	    "sockets.[0].allow_gids.[0]: no such group \"no-such-group-x\"" },
	{ UNIX("allow_uids = [-1];"), "sockets.[0].allow_uids.[0]: must be a user name or uid" },
	{ UNIX("allow_gids = [true];"), "sockets.[0].allow_gids.[0]: must be a group name or gid" },
	{ UNIX("allow_uids = 0;"), "sockets.[0].allow_uids: must be a list" },
	/* Found by fuzz-conf: a bad value was copied from an unset variable. */
	{ UDP("reuseport = \"::1\";"), "sockets.[0].reuseport: must be true or false" },
	{ UDP("max_size = \"big\";"), "sockets.[0].max_size: must be an integer" },
};

START_TEST(test_conf_errors)
{
	struct conf_err err = { { 0 } };
	struct conf *c = NULL;

	ck_assert_int_eq(conf_load_string(conf_errors[_i].text, "t.conf", &c, &err), -EINVAL);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err.msg, conf_errors[_i].want) != NULL, "got \"%s\", want \"%s\"",
	    err.msg, conf_errors[_i].want);
}
END_TEST

START_TEST(test_conf_values)
{
	struct conf_err err = { { 0 } };
	struct conf *c = NULL;
	const struct sock_conf *sc;

	ck_assert_int_eq(conf_load_string(UDP("rate_limit = { rate = 10; }; allow = [];"),
	    "t.conf", &c, &err), 0);
	sc = &c->socks[0];
	ck_assert(sc->rate_limit.set);
	ck_assert_uint_eq(sc->rate_limit.rate, 10);
	ck_assert_uint_eq(sc->rate_limit.burst, 10);
	ck_assert(!sc->rate_limit.per_source);
	ck_assert_uint_eq(sc->rate_limit.sources, 4096);
	ck_assert(sc->has_allow);
	ck_assert_uint_eq(sc->n_allow, 0);
	conf_free(c);
	ck_assert_int_eq(conf_load_string(UDP("rate_limit = { rate = 2; burst = 9; per_source = "
	    "true; sources = 1048576; }; allow = [\"10.0.0.0/8\", \"::1\"];"), "t.conf", &c, &err), 0);
	sc = &c->socks[0];
	ck_assert_uint_eq(sc->rate_limit.burst, 9);
	ck_assert(sc->rate_limit.per_source);
	ck_assert_uint_eq(sc->rate_limit.sources, 1048576);
	ck_assert_uint_eq(sc->n_allow, 2);
	ck_assert_int_eq(sc->allow[0].family, AF_INET);
	ck_assert_int_eq(sc->allow[1].family, AF_INET6);
	conf_free(c);
	ck_assert_int_eq(conf_load_string(UNIX("allow_uids = (0, \"root\", 4000000000L);"
	    " allow_gids = [];"), "t.conf", &c, &err), 0);
	sc = &c->socks[0];
	ck_assert_uint_eq(sc->n_allow_uids, 3);
	ck_assert_uint_eq(sc->allow_uids[1], 0);
	ck_assert_uint_eq(sc->allow_uids[2], 4000000000u);
	ck_assert_ptr_nonnull(sc->allow_gids);
	ck_assert_uint_eq(sc->n_allow_gids, 0);
	ck_assert(!sc->rate_limit.set);
	conf_free(c);
}
END_TEST

static Suite *
ratelimit_suite(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("ratelimit");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_socket_bucket_exact);
	tcase_add_test(tc, test_burst_defaults_to_rate);
	tcase_add_test(tc, test_bound_burst_plus_rate_t);
	tcase_add_test(tc, test_extremes_no_overflow);
	tcase_add_test(tc, test_per_source_independent);
	tcase_add_test(tc, test_table_capacity_fixed);
	tcase_add_test(tc, test_lru_within_set);
	tcase_add_test(tc, test_episodes);
	tcase_add_test(tc, test_copy_state_on_reload);
	tcase_add_test(tc, test_key_format);
	tcase_add_loop_test(tc, test_conf_errors, 0,
	    (int)(sizeof(conf_errors) / sizeof(conf_errors[0])));
	tcase_add_test(tc, test_conf_values);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(ratelimit_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
