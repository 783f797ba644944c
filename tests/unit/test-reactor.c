/*
 * test-reactor.c: the event loop stepped one turn at a time over pipes:
 * readiness, a watcher deleting itself and another, interest changes,
 * timers (one deleting itself), signals, before-sleep hooks, and a
 * callback going on without a turn only while nothing else is ready.
 */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "reactor.h"

struct counts {
	struct reactor		*r;
	struct reactor_watch	*self;
	struct reactor_watch	*other;
	int			 calls;
	int			 hooks;
	int			 signals;
	int			 timers;
	int			 may;		/* reactor_may_continue's answer, -1 before */
	int			 hooks_then;	/* hooks counted after it */
};

static void
on_read(struct reactor_watch *w, int fd, uint32_t events, void *ud)
{
	struct counts *c = ud;
	char b;

	(void)w;
	ck_assert(events & REACTOR_IN);
	ck_assert_int_eq(read(fd, &b, 1), 1);
	c->calls++;
}

static void
on_read_delete_both(struct reactor_watch *w, int fd, uint32_t events, void *ud)
{
	struct counts *c = ud;

	(void)fd;
	(void)events;
	c->calls++;
	reactor_del_fd(c->r, w);
	if (c->other != NULL)
		c->other = reactor_del_fd(c->r, c->other);
}

START_TEST(test_readiness)
{
	struct counts c = { 0 };
	int p[2];

	ck_assert_int_eq(reactor_new(&c.r), 0);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(reactor_add_fd(c.r, p[0], REACTOR_IN, on_read, &c, &c.self), 0);
	ck_assert_int_eq(reactor_run_once(c.r, 0), 0);
	ck_assert_int_eq(c.calls, 0);
	ck_assert_int_eq(write(p[1], "ab", 2), 2);
	ck_assert_int_eq(reactor_run_once(c.r, 1000), 1);
	ck_assert_int_eq(c.calls, 1);
	/* Level-triggered: the second byte brings the callback back. */
	ck_assert_int_eq(reactor_run_once(c.r, 1000), 1);
	ck_assert_int_eq(c.calls, 2);
	/* No interest, no callback. */
	ck_assert_int_eq(write(p[1], "c", 1), 1);
	ck_assert_int_eq(reactor_mod_fd(c.r, c.self, 0), 0);
	ck_assert_int_eq(reactor_run_once(c.r, 0), 0);
	ck_assert_int_eq(c.calls, 2);
	reactor_del_fd(c.r, c.self);
	close(p[0]);
	close(p[1]);
	reactor_free(c.r);
}
END_TEST

START_TEST(test_delete_self_and_other_in_callback)
{
	struct counts c = { 0 };
	int p[2], q[2];

	ck_assert_int_eq(reactor_new(&c.r), 0);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(pipe(q), 0);
	ck_assert_int_eq(reactor_add_fd(c.r, p[0], REACTOR_IN, on_read_delete_both, &c, NULL), 0);
	ck_assert_int_eq(reactor_add_fd(c.r, q[0], REACTOR_IN, on_read_delete_both, &c,
	    &c.other), 0);
	/*
	 * Both ready in the same wait: whichever runs first deletes the other,
	 * which is then never called (one callback per turn, so 1).
	 */
	ck_assert_int_eq(write(p[1], "a", 1), 1);
	ck_assert_int_eq(write(q[1], "a", 1), 1);
	ck_assert_int_eq(reactor_run_once(c.r, 1000), 1);
	ck_assert_int_eq(c.calls, 1);
	ck_assert_int_eq(reactor_run_once(c.r, 0), 0);
	ck_assert_int_eq(c.calls, 1);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	reactor_free(c.r);
}
END_TEST

static void
on_hook(void *ud)
{
	((struct counts *)ud)->hooks++;
}

static void
on_timer(void *ud)
{
	struct counts *c = ud;

	c->timers++;
	if (c->timers == 3)
		reactor_stop(c->r);
}

static void
on_timer_delete_self(void *ud)
{
	struct counts *c = ud;

	c->timers++;
	c->self = reactor_del_timer(c->r, c->self);
}

static void
on_signal(int signo, void *ud)
{
	struct counts *c = ud;

	ck_assert_int_eq(signo, SIGUSR1);
	c->signals++;
}

START_TEST(test_hooks_timers_signals)
{
	struct counts c = { 0 };

	ck_assert_int_eq(reactor_new(&c.r), 0);
	ck_assert_int_eq(reactor_on_before_sleep(c.r, on_hook, &c), 0);
	ck_assert_int_eq(reactor_add_signal(c.r, SIGUSR1, on_signal, &c, NULL), 0);
	ck_assert_int_eq(reactor_run_once(c.r, 0), 0);
	ck_assert_int_eq(c.hooks, 1);
	ck_assert_int_eq(kill(getpid(), SIGUSR1), 0);
	ck_assert_int_eq(reactor_run_once(c.r, 1000), 1);
	ck_assert_int_eq(c.signals, 1);
	ck_assert_int_eq(reactor_add_timer(c.r, 10, on_timer, &c, NULL), 0);
	ck_assert_int_eq(reactor_run(c.r), 0);
	ck_assert_int_eq(c.timers, 3);
	ck_assert_int_ge(c.hooks, 4);
	reactor_del_before_sleep(c.r, on_hook, &c);
	c.hooks = 0;
	(void)reactor_run_once(c.r, 0);
	ck_assert_int_eq(c.hooks, 0);
	reactor_free(c.r);
}
END_TEST

START_TEST(test_signal_deleted_stays_blocked)
{
	struct counts c = { 0 };
	struct reactor_watch *w = NULL;

	ck_assert_int_eq(reactor_new(&c.r), 0);
	ck_assert_int_eq(reactor_add_signal(c.r, SIGUSR1, on_signal, &c, &w), 0);
	ck_assert_ptr_nonnull(w);
	ck_assert_ptr_null(reactor_del_signal(c.r, w));
	/* Not delivered, and still blocked: it waits instead of killing us. */
	ck_assert_int_eq(kill(getpid(), SIGUSR1), 0);
	ck_assert_int_eq(reactor_run_once(c.r, 50), 0);
	ck_assert_int_eq(c.signals, 0);
	/* A new watcher gets the pending one. */
	ck_assert_int_eq(reactor_add_signal(c.r, SIGUSR1, on_signal, &c, &w), 0);
	ck_assert_int_eq(reactor_run_once(c.r, 1000), 1);
	ck_assert_int_eq(c.signals, 1);
	reactor_free(c.r);
}
END_TEST

static void
on_read_ask(struct reactor_watch *w, int fd, uint32_t events, void *ud)
{
	struct counts *c = ud;
	char b;

	(void)events;
	ck_assert_int_eq(read(fd, &b, 1), 1);
	c->calls++;
	c->may = reactor_may_continue(c->r, w);
	c->hooks_then = c->hooks;
}

START_TEST(test_may_continue)
{
	struct counts c = { 0 };
	int p[2], q[2];

	ck_assert_int_eq(reactor_new(&c.r), 0);
	ck_assert_int_eq(reactor_on_before_sleep(c.r, on_hook, &c), 0);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(pipe(q), 0);
	ck_assert_int_eq(reactor_add_fd(c.r, p[0], REACTOR_IN, on_read_ask, &c, &c.self), 0);
	ck_assert_int_eq(reactor_add_fd(c.r, q[0], REACTOR_IN, on_read_ask, &c, &c.other), 0);
	/* Alone ready (itself still readable): it may go on, after the hooks. */
	ck_assert_int_eq(write(p[1], "ab", 2), 2);
	c.may = -1;
	ck_assert_int_eq(reactor_run_once(c.r, 1000), 1);
	ck_assert_int_eq(c.calls, 1);
	ck_assert_int_eq(c.may, 1);
	ck_assert_int_eq(c.hooks_then, 2);
	ck_assert_int_eq(reactor_run_once(c.r, 1000), 1);
	ck_assert_int_eq(c.calls, 2);
	/* Both ready in the same wait: the first one must let the other have its turn. */
	ck_assert_int_eq(write(p[1], "a", 1), 1);
	ck_assert_int_eq(write(q[1], "a", 1), 1);
	c.may = -1;
	ck_assert_int_eq(reactor_run_once(c.r, 1000), 1);
	ck_assert_int_eq(c.may, 0);
	/* The other, now alone, may go on. */
	c.may = -1;
	ck_assert_int_eq(reactor_run_once(c.r, 1000), 1);
	ck_assert_int_eq(c.calls, 4);
	ck_assert_int_eq(c.may, 1);
	/* Once the loop is stopping, nothing goes on. */
	reactor_stop(c.r);
	ck_assert(!reactor_may_continue(c.r, c.self));
	reactor_del_fd(c.r, c.self);
	reactor_del_fd(c.r, c.other);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	reactor_free(c.r);
}
END_TEST

START_TEST(test_timer_deletes_itself)
{
	struct counts c = { 0 };
	int i;

	ck_assert_int_eq(reactor_new(&c.r), 0);
	ck_assert_int_eq(reactor_add_timer(c.r, 5, on_timer_delete_self, &c, &c.self), 0);
	for (i = 0; i < 100 && c.timers == 0; i++)
		ck_assert_int_ge(reactor_run_once(c.r, 100), 0);
	ck_assert_int_eq(c.timers, 1);
	ck_assert_ptr_null(c.self);
	/* Gone: it never fires again. */
	ck_assert_int_eq(reactor_run_once(c.r, 50), 0);
	ck_assert_int_eq(c.timers, 1);
	reactor_free(c.r);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("reactor");
	TCase *tc = tcase_create("reactor");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_readiness);
	tcase_add_test(tc, test_delete_self_and_other_in_callback);
	tcase_add_test(tc, test_hooks_timers_signals);
	tcase_add_test(tc, test_timer_deletes_itself);
	tcase_add_test(tc, test_signal_deleted_stays_blocked);
	tcase_add_test(tc, test_may_continue);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
