/*
 * test-resolve.c: host names resolved through the reactor (lookup threads
 * whose completions are delivered by eventfd): a name found, a name not found and
 * retried, a lookup abandoned while in flight, and the synchronous -t path.
 */
#include <check.h>
#include <netdb.h>
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

START_TEST(test_free_while_in_flight)
{
	struct result res = { 0 };
	struct reactor *r;
	struct resolve *rs = NULL;
	int i;

	ck_assert_int_eq(reactor_new(&r), 0);
	for (i = 0; i < 20; i++) {
		ck_assert_int_eq(resolve_new(r, "localhost", 7, 0, 1000, on_done, &res, &rs), 0);
		resolve_free(rs);
	}
	ck_assert_int_eq(reactor_run_once(r, 100), 0);
	ck_assert_int_eq(res.calls, 0);
	reactor_free(r);
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
	tcase_add_test(tc, test_free_while_in_flight);
	tcase_add_test(tc, test_sync);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
