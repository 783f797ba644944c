/*
 * test-services.c: what the core does for handlers, through the table a
 * handler is given: an outbound socket with the socket's options whose
 * writability is reported only while asked for, a timer, and the socket
 * counters a handler adds to.
 */
#include <check.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "handler.h"
#include "reactor.h"
#include "services.h"
#include "sock.h"
#include "sock_out.h"

static void
bump(void *userdata)
{
	(*(unsigned *)userdata)++;
}

/* Runs turns of r until *n reaches want (bounded). */
static void
run_until(struct reactor *r, const unsigned *n, unsigned want)
{
	int turns;

	for (turns = 0; *n < want && turns < 200; turns++)
		ck_assert_int_ge(reactor_run_once(r, 50), 0);
	ck_assert_uint_ge(*n, want);
}

START_TEST(test_outbound_socket_and_writability)
{
	struct sock_conf sc = { .type = SOCK_T_UDP4, .ttl = 9, .broadcast = -1,
	    .multicast_ttl = -1, .multicast_loop = -1, .ipv6_only = -1 };
	struct reactor *r = NULL;
	struct handler_services svc;
	struct handler h = { .sock_conf = &sc };
	struct sock_out *o = NULL;
	socklen_t len = sizeof(int);
	unsigned writable = 0;
	int ttl = 0;

	ck_assert_int_eq(reactor_new(&r), 0);
	svc = services_of(r);
	h.svc = &svc;
	ck_assert_int_eq(handler_open_out(&h, AF_INET, bump, &writable, &o), 0);
	ck_assert_int_eq(getsockopt(sock_out_fd(o), IPPROTO_IP, IP_TTL, &ttl, &len), 0);
	ck_assert_int_eq(ttl, 9);
	/* Not asked for: nothing reported. */
	ck_assert_int_ge(reactor_run_once(r, 0), 0);
	ck_assert_uint_eq(writable, 0);
	ck_assert_int_eq(handler_want_write(&h, o, true), 0);
	run_until(r, &writable, 1);
	ck_assert_int_eq(handler_want_write(&h, o, false), 0);
	writable = 0;
	ck_assert_int_ge(reactor_run_once(r, 0), 0);
	ck_assert_uint_eq(writable, 0);
	ck_assert_ptr_null(handler_close_out(&h, o));
	reactor_free(r);
}
END_TEST

START_TEST(test_timer)
{
	struct reactor *r = NULL;
	struct handler_services svc;
	struct handler h = { 0 };
	struct handler_timer *t = NULL;
	unsigned fired = 0;

	ck_assert_int_eq(reactor_new(&r), 0);
	svc = services_of(r);
	h.svc = &svc;
	ck_assert_int_eq(handler_timer_add(&h, 1, bump, &fired, &t), 0);
	run_until(r, &fired, 2);
	ck_assert_ptr_null(handler_timer_del(&h, t));
	reactor_free(r);
}
END_TEST

START_TEST(test_counters)
{
	struct handler_services svc = services_of(NULL);
	struct dg_socket s;
	struct handler h = { .svc = &svc, .sock = &s };

	memset(&s, 0, sizeof(s));
	handler_count(&h, HANDLER_SENT, 5);
	handler_count(&h, HANDLER_SEND_ERRORS, 2);
	handler_count(&h, HANDLER_DROPPED, 3);
	handler_count(&h, HANDLER_SENT, 1);
	ck_assert_uint_eq(s.stats.sent, 6);
	ck_assert_uint_eq(s.stats.send_errors, 2);
	ck_assert_uint_eq(s.stats.dropped, 3);
	/* Without services (a handler under test alone), nothing happens. */
	h.svc = NULL;
	handler_count(&h, HANDLER_SENT, 1);
	ck_assert_uint_eq(s.stats.sent, 6);
	ck_assert_int_eq(handler_open_out(&h, AF_INET, bump, NULL, NULL), -EOPNOTSUPP);
}
END_TEST

static Suite *
services_suite(void)
{
	Suite *s = suite_create("services");
	TCase *tc = tcase_create("services");

	tcase_add_test(tc, test_outbound_socket_and_writability);
	tcase_add_test(tc, test_timer);
	tcase_add_test(tc, test_counters);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(services_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
