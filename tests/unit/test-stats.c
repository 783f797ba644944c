/*
 * test-stats.c: counters as data. The visitor's labels (socket, handler,
 * an instance), the stats line view (keys as documented, an instance
 * inside the key: "fwd.TARGET.sent", "log.N.written"), the STATUS=
 * summary view, and the handlers' own counters seen through the visitor
 * with a family name, help text and type each.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "handler.h"
#include "stats.h"
#include "strbuf.h"

static const struct stat_desc rx_desc = {
	"dgramd_socket_received_total", "Datagrams read.", STAT_COUNTER, "received",
	STAT_ROLE_RECEIVED, { NULL, NULL },
};
static const struct stat_desc lost_desc = {
	"dgramd_socket_dropped_total", "Dropped.", STAT_COUNTER, "dropped", STAT_ROLE_LOST, { NULL, NULL },
};
static const struct stat_desc q_desc = {
	"dgramd_forward_queued", "Waiting.", STAT_GAUGE, "fwd.queued", STAT_ROLE_NONE, { NULL, NULL },
};

/* Records the samples it is shown, as text: "name{l=v,...} value". */
struct record {
	char	lines[16][160];
	size_t	n;
};

static void
record(void *ud, const struct stat_sample *s)
{
	struct record *r = ud;
	char *o = r->lines[r->n];
	size_t i, len = sizeof(r->lines[0]);
	int k;

	ck_assert_uint_lt(r->n, 16);
	k = snprintf(o, len, "%s{", s->desc->name);
	for (i = 0; i < s->n_labels; i++)
		k += snprintf(o + k, len - (size_t)k, "%s%s=%s", i > 0 ? "," : "",
		    s->labels[i].name, s->labels[i].value);
	snprintf(o + k, len - (size_t)k, "} %llu", (unsigned long long)s->value);
	r->n++;
}

static void
put_some(struct stats_visitor *v)
{
	stats_push_label(v, "socket", "in");
	stats_put(v, &rx_desc, 5);
	stats_put(v, &lost_desc, 2);
	stats_push_label(v, "handler", "forward");
	stats_put_instance(v, &q_desc, "target", "127.0.0.1:9", 3);
	stats_pop_label(v);
	stats_pop_label(v);
	stats_put(v, &lost_desc, 1);
}

START_TEST(test_labels)
{
	struct stats_visitor v;
	struct record r = { 0 };

	stats_visitor_init(&v, record, &r);
	put_some(&v);
	ck_assert_uint_eq(r.n, 4);
	ck_assert_str_eq(r.lines[0], "dgramd_socket_received_total{socket=in} 5");
	ck_assert_str_eq(r.lines[1], "dgramd_socket_dropped_total{socket=in} 2");
	ck_assert_str_eq(r.lines[2],
	    "dgramd_forward_queued{socket=in,handler=forward,target=127.0.0.1:9} 3");
	/* Popped back to no label at all. */
	ck_assert_str_eq(r.lines[3], "dgramd_socket_dropped_total{} 1");
}
END_TEST

static void
check_label(void *ud, const struct stat_sample *s)
{
	(void)ud;
	if (s->desc == &q_desc) {
		ck_assert_str_eq(stats_label(s, "target"), "127.0.0.1:9");
		ck_assert_str_eq(s->instance, "127.0.0.1:9");
		ck_assert_str_eq(stats_label(s, "handler"), "forward");
	} else {
		ck_assert_ptr_null(s->instance);
		ck_assert_ptr_null(stats_label(s, "target"));
	}
}

START_TEST(test_label_lookup)
{
	struct stats_visitor v;

	stats_visitor_init(&v, check_label, NULL);
	put_some(&v);
}
END_TEST

START_TEST(test_line_view)
{
	struct strbuf sb = { 0 };
	struct stats_visitor v;
	static const struct stat_desc written = {
		"dgramd_log_written_total", "Lines.", STAT_COUNTER, "log.written", STAT_ROLE_NONE, { NULL, NULL },
	};

	stats_visitor_init(&v, stats_line_sample, &sb);
	put_some(&v);
	stats_put(&v, &written, 7);
	stats_put_instance(&v, &written, "index", "2", 8);
	ck_assert_str_eq(strbuf_str(&sb), " received=5 dropped=2 fwd.127.0.0.1:9.queued=3"
	    " dropped=1 log.written=7 log.2.written=8");
	strbuf_free(&sb);
}
END_TEST

START_TEST(test_summary_view)
{
	struct stats_summary sum = { 0 };
	struct stats_visitor v;

	stats_visitor_init(&v, stats_summary_sample, &sum);
	put_some(&v);
	ck_assert_uint_eq(sum.received, 5);
	ck_assert_uint_eq(sum.lost, 3);
}
END_TEST

/* Every family a handler shows is named, explained and typed consistently. */
static void
check_family(void *ud, const struct stat_sample *s)
{
	const struct stat_desc *d = s->desc;
	size_t n = strlen(d->name);
	bool total = n > 6 && strcmp(d->name + n - 6, "_total") == 0;

	(*(unsigned *)ud)++;
	ck_assert(strncmp(d->name, "dgramd_", 7) == 0);
	ck_assert_uint_gt(strlen(d->help), 5);
	ck_assert(total == (d->type == STAT_COUNTER));
	ck_assert_str_eq(stats_label(s, "handler"), "echo");
}

START_TEST(test_echo_counters)
{
	struct handler h = { .ops = &echo_handler_ops };
	struct stats_visitor v;
	struct strbuf sb = { 0 };
	unsigned n = 0;

	ck_assert_int_eq(h.ops->start(&h, NULL), 0);
	stats_visitor_init(&v, check_family, &n);
	stats_push_label(&v, "handler", "echo");
	h.ops->stats(&h, &v);
	ck_assert_uint_eq(n, 2);
	stats_visitor_init(&v, stats_line_sample, &sb);
	h.ops->stats(&h, &v);
	ck_assert_str_eq(strbuf_str(&sb), " echo.no_peer=0 echo.ignored=0");
	strbuf_free(&sb);
	h.ops->stop(&h);
}
END_TEST

static Suite *
stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("stats");

	tcase_add_test(tc, test_labels);
	tcase_add_test(tc, test_label_lookup);
	tcase_add_test(tc, test_line_view);
	tcase_add_test(tc, test_summary_view);
	tcase_add_test(tc, test_echo_counters);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(stats_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
