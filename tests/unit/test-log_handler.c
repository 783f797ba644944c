/*
 * test-h_log.c: the log handler's writer, driven through its ops without a
 * reactor: nothing is written per datagram, only at flush or when the
 * buffer passes its threshold; a reload hands the open file and unwritten
 * lines to the new handler; /dev/full is counted and the buffer kept, then
 * new lines dropped; a renamed file is noticed on a new second.
 */
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "handler.h"
#include "stats.h"
#include "strbuf.h"

static char dir[] = "/tmp/dgramd-test-h_log-XXXXXX";

struct fixture {
	struct conf	*conf;
	struct handler	*h;
};

static void
setup(struct fixture *f, const char *file, const char *extra)
{
	struct conf_err err = { { 0 } };
	char text[1024];

	snprintf(text, sizeof(text), "sockets = ( { name = \"in\"; type = \"udp4\"; port = 0; "
	    "handlers = ( { type = \"log\"; file = \"%s\"; format = \"raw\"; %s } ); } );",
	    file, extra);
	ck_assert_msg(conf_load_string(text, "t.conf", &f->conf, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(handler_new(&f->conf->socks[0].handlers[0], &f->conf->socks[0], NULL,
	    NULL, 0, NULL, &f->h), 0);
}

static void
teardown(struct fixture *f)
{
	handler_free(f->h);
	conf_free(f->conf);
}

static void
send_one(struct handler *h, const char *text, time_t sec)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(514),
	    .sin_addr.s_addr = htonl(0x7f000001) };
	struct timespec ts = { sec, 0 };
	struct dgram d = {
		.data = (const uint8_t *)text, .len = strlen(text),
		.peer = (const struct sockaddr *)&sin, .peer_len = sizeof(sin), .rtime = &ts,
	};

	ck_assert_int_eq(h->ops->handle(h, &d), 0);
}

static long long
stat_of(struct handler *h, const char *key)
{
	struct strbuf sb = { 0 };
	struct stats_visitor vis;
	const char *p;
	char k[64];
	long long v = -1;

	stats_visitor_init(&vis, stats_line_sample, &sb);
	h->ops->stats(h, &vis);
	snprintf(k, sizeof(k), " %s=", key);
	p = strstr(strbuf_str(&sb), k);
	if (p != NULL)
		v = atoll(p + strlen(k));
	strbuf_free(&sb);
	return v;
}

static long
lines_in(const char *path)
{
	FILE *fp = fopen(path, "r");
	long n = 0;
	int c, last = '\n';

	if (fp == NULL)
		return -1;
	while ((c = fgetc(fp)) != EOF) {
		if (c == '\n')
			n++;
		last = c;
	}
	fclose(fp);
	ck_assert_msg(last == '\n', "%s ends with a partial line", path);
	return n;
}

/* A path in a fresh temporary directory (made once per process). */
static void
path_for(char *buf, size_t size, const char *name)
{
	static bool made;

	if (!made)
		ck_assert_ptr_nonnull(mkdtemp(dir));
	made = true;
	snprintf(buf, size, "%s/%s", dir, name);
}

START_TEST(test_written_at_flush_only)
{
	struct fixture f;
	char path[256];
	int i;

	path_for(path, sizeof(path), "a.log");
	setup(&f, path, "");
	for (i = 0; i < 10; i++)
		send_one(f.h, "<13>t: hello", 1000);
	ck_assert_int_eq(lines_in(path), 0);
	f.h->ops->flush(f.h);
	ck_assert_int_eq(lines_in(path), 10);
	ck_assert_int_eq(stat_of(f.h, "log.written"), 10);
	/* Past the threshold it writes without waiting for the flush. */
	{
		static char big[1001];

		memset(big, 'x', 1000);
		for (i = 0; i < 300; i++)
			send_one(f.h, big, 1000);
	}
	ck_assert_int_gt(lines_in(path), 10);
	f.h->ops->flush(f.h);
	ck_assert_int_eq(lines_in(path), 310);
	teardown(&f);
}
END_TEST

START_TEST(test_reload_hands_over_file_and_lines)
{
	struct fixture f;
	struct handler *h2;
	struct conf *c2;
	struct conf_err err = { { 0 } };
	char path[256], text[512];

	path_for(path, sizeof(path), "b.log");
	setup(&f, path, "");
	send_one(f.h, "<13>t: before", 1000);
	snprintf(text, sizeof(text), "sockets = ( { name = \"in\"; type = \"udp4\"; port = 0; "
	    "handlers = ( { type = \"log\"; file = \"%s\"; format = \"json\"; } ); } );", path);
	ck_assert_int_eq(conf_load_string(text, "t.conf", &c2, &err), 0);
	ck_assert_int_eq(handler_new(&c2->socks[0].handlers[0], &c2->socks[0], NULL, NULL, 0,
	    f.h, &h2), 0);
	ck_assert_ptr_null(f.h->state);
	f.h->ops->flush(f.h);			/* the old one has nothing left to do */
	send_one(h2, "<13>t: after", 1000);
	h2->ops->flush(h2);
	ck_assert_int_eq(lines_in(path), 2);
	ck_assert_int_eq(stat_of(h2, "log.written"), 2);
	handler_free(h2);
	conf_free(c2);
	teardown(&f);
}
END_TEST

START_TEST(test_dev_full_keeps_then_drops)
{
	struct fixture f;
	static char big[60001];
	int i;

	setup(&f, "/dev/full", "");
	send_one(f.h, "<13>t: lost?", 1000);
	f.h->ops->flush(f.h);
	ck_assert_int_eq(stat_of(f.h, "log.write_errors"), 1);
	ck_assert_int_eq(stat_of(f.h, "log.written"), 0);
	ck_assert_int_eq(stat_of(f.h, "log.dropped"), 0);
	memset(big, 'y', 60000);
	for (i = 0; i < 20; i++)
		send_one(f.h, big, 1000);
	ck_assert_int_gt(stat_of(f.h, "log.dropped"), 0);
	/* While failing, handle() tries no write: only flush retries. */
	ck_assert_int_eq(stat_of(f.h, "log.write_errors"), 1);
	f.h->ops->flush(f.h);
	ck_assert_int_eq(stat_of(f.h, "log.write_errors"), 2);
	teardown(&f);
}
END_TEST

START_TEST(test_rename_noticed_on_new_second)
{
	struct fixture f;
	char path[256], old[300];

	path_for(path, sizeof(path), "c.log");
	snprintf(old, sizeof(old), "%s.1", path);
	setup(&f, path, "file_mode = \"0600\";");
	send_one(f.h, "<13>t: one", 1000);
	f.h->ops->flush(f.h);
	ck_assert_int_eq(rename(path, old), 0);
	send_one(f.h, "<13>t: same second", 1000);
	f.h->ops->flush(f.h);
	ck_assert_int_eq(lines_in(path), -1);
	send_one(f.h, "<13>t: next second", 1001);
	f.h->ops->flush(f.h);
	ck_assert_int_eq(lines_in(old), 2);
	ck_assert_int_eq(lines_in(path), 1);
	{
		struct stat st;

		ck_assert_int_eq(stat(path, &st), 0);
		ck_assert_int_eq(st.st_mode & 07777, 0600);
	}
	/* reopen (SIGUSR1) after another rename. */
	ck_assert_int_eq(rename(path, old), 0);
	f.h->ops->reopen(f.h);
	send_one(f.h, "<13>t: after reopen", 1001);
	f.h->ops->flush(f.h);
	ck_assert_int_eq(lines_in(path), 1);
	teardown(&f);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("h_log");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_written_at_flush_only);
	tcase_add_test(tc, test_reload_hands_over_file_and_lines);
	tcase_add_test(tc, test_dev_full_keeps_then_drops);
	tcase_add_test(tc, test_rename_noticed_on_new_second);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
