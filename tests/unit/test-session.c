/*
 * test-session.c: the forward handler's session table. Sessions are found
 * by client address (address and port: the same address on another port
 * is another session), the idle list runs oldest first and a datagram
 * moves a session to its end, the buckets grow past their first size
 * with every session still found, and removal unlinks from both.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

#define N	1000

static struct session *
mk(uint32_t ip, uint16_t port)
{
	struct session *s = calloc(1, sizeof(*s));

	ck_assert_ptr_nonnull(s);
	s->origin.peer.in.sin_family = AF_INET;
	s->origin.peer.in.sin_addr.s_addr = htonl(ip);
	s->origin.peer.in.sin_port = htons(port);
	s->origin.peer_len = sizeof(struct sockaddr_in);
	s->hash = sess_hash(&s->origin.peer.sa, s->origin.peer_len);
	return s;
}

static struct session *
find(struct sess_table *t, uint32_t ip, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };

	a.sin_addr.s_addr = htonl(ip);
	a.sin_port = htons(port);
	return sess_find(t, (struct sockaddr *)&a, sizeof(a),
	    sess_hash((struct sockaddr *)&a, sizeof(a)));
}

START_TEST(test_find_by_address_and_port)
{
	struct sess_table t = { 0 };
	struct session *a = mk(0x7f000001, 1000), *b = mk(0x7f000001, 1001);

	ck_assert_ptr_null(find(&t, 0x7f000001, 1000));
	ck_assert_int_eq(sess_insert(&t, a, 1), 0);
	ck_assert_int_eq(sess_insert(&t, b, 2), 0);
	ck_assert_ptr_eq(find(&t, 0x7f000001, 1000), a);
	ck_assert_ptr_eq(find(&t, 0x7f000001, 1001), b);
	ck_assert_ptr_null(find(&t, 0x7f000002, 1000));
	ck_assert_uint_eq(t.n, 2);
	sess_remove(&t, a);
	ck_assert_ptr_null(find(&t, 0x7f000001, 1000));
	ck_assert_ptr_eq(t.oldest, b);
	ck_assert_ptr_eq(t.newest, b);
	sess_remove(&t, b);
	ck_assert_ptr_null(t.oldest);
	ck_assert_uint_eq(t.n, 0);
	sess_table_done(&t);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_idle_order_and_touch)
{
	struct sess_table t = { 0 };
	struct session *s[3];
	int i;

	for (i = 0; i < 3; i++) {
		s[i] = mk(0x7f000001, (uint16_t)(2000 + i));
		ck_assert_int_eq(sess_insert(&t, s[i], (uint64_t)i), 0);
	}
	ck_assert_ptr_eq(t.oldest, s[0]);
	ck_assert_ptr_eq(t.newest, s[2]);
	sess_touch(&t, s[0], 10);
	ck_assert_ptr_eq(t.oldest, s[1]);
	ck_assert_ptr_eq(t.newest, s[0]);
	ck_assert_ptr_eq(t.oldest->newer, s[2]);
	ck_assert_uint_eq(s[0]->last_ms, 10);
	sess_touch(&t, s[0], 11);	/* already the newest */
	ck_assert_ptr_eq(t.newest, s[0]);
	sess_remove(&t, s[2]);		/* from the middle */
	ck_assert_ptr_eq(t.oldest->newer, s[0]);
	ck_assert_ptr_eq(t.newest->older, s[1]);
	sess_remove(&t, s[1]);
	sess_remove(&t, s[0]);
	sess_table_done(&t);
	for (i = 0; i < 3; i++)
		free(s[i]);
}
END_TEST

START_TEST(test_grows_and_finds_all)
{
	struct sess_table t = { 0 };
	struct session **s = calloc(N, sizeof(*s));
	unsigned i;

	ck_assert_ptr_nonnull(s);
	for (i = 0; i < N; i++) {
		s[i] = mk(0x7f000000 + i / 100, (uint16_t)(3000 + i));
		ck_assert_int_eq(sess_insert(&t, s[i], i), 0);
	}
	ck_assert_uint_ge(t.mask + 1, N);
	for (i = 0; i < N; i++)
		ck_assert_ptr_eq(find(&t, 0x7f000000 + i / 100, (uint16_t)(3000 + i)), s[i]);
	for (i = 0; i < N; i++) {
		ck_assert_ptr_eq(t.oldest, s[i]);
		sess_remove(&t, s[i]);
		free(s[i]);
	}
	ck_assert_uint_eq(t.n, 0);
	sess_table_done(&t);
	free(s);
}
END_TEST

static Suite *
session_suite(void)
{
	Suite *s = suite_create("session");
	TCase *tc = tcase_create("session");

	tcase_add_test(tc, test_find_by_address_and_port);
	tcase_add_test(tc, test_idle_order_and_touch);
	tcase_add_test(tc, test_grows_and_finds_all);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(session_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
