/*
 * test-resolve.c: host names resolved through the reactor (getaddrinfo_a
 * requests whose completions arrive as a real-time signal on the loop's
 * signalfd): a name found, a name not found and retried, many names at
 * once, lookups abandoned while in flight (the process outlives their
 * signals), a callback freeing its own resolver or another whose lookup
 * ended with it, one loop per process, and the synchronous -t path.
 */
#include <check.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "reactor.h"
#include "resolve.h"

struct result {
	int			calls;
	int			err;
	union sockaddr_any	a;
	socklen_t		len;
};

static void
on_done(void *userdata, int err, const union sockaddr_any *a, socklen_t len)
{
	struct result *res = userdata;

	res->calls++;
	res->err = err;
	ck_assert(err == 0 ? a != NULL : a == NULL);
	if (a != NULL) {
		res->a = *a;
		res->len = len;
	}
}

/* Steps the loop until calls callbacks came, at most about 10 s. */
static void
run_until(struct reactor *r, const struct result *res, int calls)
{
	int i;

	for (i = 0; i < 100 && res->calls < calls; i++)
		ck_assert_int_ge(reactor_run_once(r, 100), 0);
	ck_assert_int_ge(res->calls, calls);
}

static int
is_loopback(const union sockaddr_any *a)
{
	if (a->sa.sa_family == AF_INET)
		return ntohl(a->in.sin_addr.s_addr) >> 24 == 127;
	return a->sa.sa_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&a->in6.sin6_addr);
}

START_TEST(test_async_localhost)
{
	struct result res = { 0 };
	struct reactor *r;
	struct resolve *rs = NULL;

	ck_assert_int_eq(reactor_new(&r), 0);
	ck_assert_int_eq(resolve_new(r, "localhost", 514, 0, 1000, on_done, &res, &rs), 0);
	ck_assert_int_eq(res.calls, 0);
	run_until(r, &res, 1);
	ck_assert_int_eq(res.err, 0);
	ck_assert(is_loopback(&res.a));
	ck_assert_int_eq(ntohs(res.a.sa.sa_family == AF_INET ? res.a.in.sin_port :
	    res.a.in6.sin6_port), 514);
	/* interval 0: resolved once, never again. */
	ck_assert_int_eq(reactor_run_once(r, 200), 0);
	ck_assert_int_eq(res.calls, 1);
	resolve_free(rs);
	reactor_free(r);
}
END_TEST

START_TEST(test_async_failure_is_retried)
{
	struct result res = { 0 };
	struct reactor *r;
	struct resolve *rs = NULL;

	ck_assert_int_eq(reactor_new(&r), 0);
	ck_assert_int_eq(resolve_new(r, "no-such-host.invalid", 53, 60000, 20, on_done, &res,
	    &rs), 0);
	run_until(r, &res, 2);
	ck_assert_int_ne(res.err, 0);
	resolve_free(rs);
	reactor_free(r);
}
END_TEST

START_TEST(test_many_at_once)
{
	/* More than glibc's 20 helper threads; signals may merge. */
	enum { N = 50 };
	struct result res[N];
	struct resolve *rs[N];
	struct reactor *r;
	int i, total = 0, spins;

	memset(res, 0, sizeof(res));
	ck_assert_int_eq(reactor_new(&r), 0);
	for (i = 0; i < N; i++)
		ck_assert_int_eq(resolve_new(r, i % 2 ? "localhost" : "127.0.0.1",
		    (uint16_t)(1000 + i), 0, 60000, on_done, &res[i], &rs[i]), 0);
	for (spins = 0; spins < 200 && total < N; spins++) {
		ck_assert_int_ge(reactor_run_once(r, 100), 0);
		for (total = 0, i = 0; i < N; i++)
			total += res[i].calls;
	}
	for (i = 0; i < N; i++) {
		ck_assert_int_eq(res[i].calls, 1);
		ck_assert_int_eq(res[i].err, 0);
		ck_assert(is_loopback(&res[i].a));
		ck_assert_int_eq(ntohs(res[i].a.sa.sa_family == AF_INET ? res[i].a.in.sin_port :
		    res[i].a.in6.sin6_port), 1000 + i);
		resolve_free(rs[i]);
	}
	reactor_free(r);
}
END_TEST

struct self_free {
	struct resolve	*rs;
	int		 calls;
};

static void
on_done_free(void *userdata, int err, const union sockaddr_any *a, socklen_t len)
{
	struct self_free *sf = userdata;

	(void)err;
	(void)a;
	(void)len;
	sf->calls++;
	sf->rs = resolve_free(sf->rs);
}

START_TEST(test_callback_frees_itself)
{
	struct self_free sf = { 0 };
	struct result res = { 0 };
	struct resolve *other = NULL;
	struct reactor *r;
	int i;

	ck_assert_int_eq(reactor_new(&r), 0);
	ck_assert_int_eq(resolve_new(r, "localhost", 9, 10, 10, on_done_free, &sf, &sf.rs), 0);
	ck_assert_int_eq(resolve_new(r, "localhost", 9, 0, 1000, on_done, &res, &other), 0);
	for (i = 0; i < 100 && (sf.calls == 0 || res.calls == 0); i++)
		ck_assert_int_ge(reactor_run_once(r, 100), 0);
	ck_assert_int_eq(sf.calls, 1);
	ck_assert_ptr_null(sf.rs);
	/* Its 10 ms re-lookup went with it. */
	for (i = 0; i < 5; i++)
		ck_assert_int_ge(reactor_run_once(r, 20), 0);
	ck_assert_int_eq(sf.calls, 1);
	resolve_free(other);
	reactor_free(r);
}
END_TEST

/* Two resolvers whose callbacks each free the other. */
struct pair {
	struct resolve	*rs[2];
	int		 calls;
};

struct side {
	struct pair	*p;
	int		 i;
};

static void
on_done_free_other(void *userdata, int err, const union sockaddr_any *a, socklen_t len)
{
	struct side *sd = userdata;

	(void)err;
	(void)a;
	(void)len;
	sd->p->calls++;
	sd->p->rs[1 - sd->i] = resolve_free(sd->p->rs[1 - sd->i]);
}

/* Signals queued for this user (SigQ in /proc/self/status), or -1. */
static int
signals_queued(void)
{
	char line[128];
	FILE *f = fopen("/proc/self/status", "r");
	int n = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "SigQ:", 5) == 0)
			n = atoi(line + 5);
	fclose(f);
	return n;
}

START_TEST(test_callback_frees_another_finished)
{
	struct pair p = { { NULL, NULL }, 0 };
	struct side sd[2] = { { &p, 0 }, { &p, 1 } };
	struct reactor *r;
	int i;

	ck_assert_int_eq(reactor_new(&r), 0);
	/* Numeric: both end at once, without a resolver. */
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(resolve_new(r, "127.0.0.1", 9, 0, 1000, on_done_free_other,
		    &sd[i], &p.rs[i]), 0);
	/* Both finished (their signals queued) before the loop reaps them together. */
	for (i = 0; i < 5000 && signals_queued() >= 0 && signals_queued() < 2; i++)
		ck_assert_int_ge(poll(NULL, 0, 1), 0);
	for (i = 0; i < 100 && p.calls == 0; i++)
		ck_assert_int_ge(reactor_run_once(r, 100), 0);
	for (i = 0; i < 3; i++)
		ck_assert_int_ge(reactor_run_once(r, 20), 0);
	/* The first callback freed the other resolver: that one is never called. */
	ck_assert_int_eq(p.calls, 1);
	ck_assert((p.rs[0] == NULL) != (p.rs[1] == NULL));
	for (i = 0; i < 2; i++)
		p.rs[i] = resolve_free(p.rs[i]);
	reactor_free(r);
}
END_TEST

START_TEST(test_abandoned_lookups_end_quietly)
{
	struct result res = { 0 };
	struct reactor *r;
	struct resolve *rs = NULL;
	int i;

	/* Lookups freed in flight, then left running without user or loop. */
	ck_assert_int_eq(reactor_new(&r), 0);
	for (i = 0; i < 20; i++) {
		ck_assert_int_eq(resolve_new(r, "localhost", 7, 0, 1000, on_done, &res, &rs), 0);
		resolve_free(rs);
	}
	ck_assert_int_eq(reactor_run_once(r, 100), 0);
	ck_assert_int_eq(res.calls, 0);
	reactor_free(r);
	/* A new loop resolves, and reaps the old requests on the way. */
	ck_assert_int_eq(reactor_new(&r), 0);
	ck_assert_int_eq(resolve_new(r, "localhost", 8, 0, 1000, on_done, &res, &rs), 0);
	run_until(r, &res, 1);
	ck_assert_int_eq(res.calls, 1);
	ck_assert_int_eq(res.err, 0);
	resolve_free(rs);
	reactor_free(r);
}
END_TEST

START_TEST(test_one_loop_per_process)
{
	struct result res = { 0 };
	struct reactor *r1, *r2;
	struct resolve *a = NULL, *b = NULL;

	ck_assert_int_eq(reactor_new(&r1), 0);
	ck_assert_int_eq(reactor_new(&r2), 0);
	ck_assert_int_eq(resolve_new(r1, "localhost", 7, 0, 1000, on_done, &res, &a), 0);
	ck_assert_int_eq(resolve_new(r2, "localhost", 7, 0, 1000, on_done, &res, &b), -EBUSY);
	ck_assert_ptr_null(b);
	resolve_free(a);
	/* Free again once the first loop has no resolver left. */
	ck_assert_int_eq(resolve_new(r2, "localhost", 7, 0, 1000, on_done, &res, &b), 0);
	run_until(r2, &res, 1);
	resolve_free(b);
	reactor_free(r1);
	reactor_free(r2);
}
END_TEST

START_TEST(test_sync)
{
	union sockaddr_any a;
	socklen_t len = 0;

	ck_assert_int_eq(resolve_sync("localhost", 9, &a, &len), 0);
	ck_assert(is_loopback(&a));
	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(resolve_sync("127.0.0.1", 9, &a, &len), 0);
	ck_assert_int_eq(a.sa.sa_family, AF_INET);
	ck_assert_int_ne(resolve_sync("no-such-host.invalid", 9, &a, &len), 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("resolve");
	TCase *tc = tcase_create("resolve");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_async_localhost);
	tcase_add_test(tc, test_async_failure_is_retried);
	tcase_add_test(tc, test_many_at_once);
	tcase_add_test(tc, test_callback_frees_itself);
	tcase_add_test(tc, test_callback_frees_another_finished);
	tcase_add_test(tc, test_abandoned_lookups_end_quietly);
	tcase_add_test(tc, test_one_loop_per_process);
	tcase_add_test(tc, test_sync);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
