/*
 * test-route.c: a listening socket run by the loop through its route to
 * a forward handler, as the daemon wires them: whole receive batches
 * (read again while full) reach two UDP targets and a unix one (no GSO)
 * exactly once and in order, with sizes and senders that break GSO runs
 * and oversize datagrams in the middle of batches; the socket's and the
 * handler's counters are exact. With an allow list the route goes
 * datagram by datagram: the same result, or every datagram denied. A
 * signal that arrives with a flood waiting is handled within two turns.
 */
#include <arpa/inet.h>
#include <check.h>
#include <linux/sock_diag.h>
#include <signal.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "conf.h"
#include "handler.h"
#include "reactor.h"
#include "route.h"
#include "sock.h"
#include "stats.h"
#include "strbuf.h"

/* Datagrams sent per test: more than two receive batches of 16. */
#define N_DGRAMS	60
#define MAX_SIZE	64

struct rig {
	struct reactor		*r;
	struct recv_area	*area;
	struct conf		*conf;
	struct dg_socket	*sock;
	struct route		*route;
	int			 rx[3];		/* two UDP targets, then the unix one */
	unsigned		 port[2];
	char			 dir[64];
	char			 path[96];
	char			 spec[104];	/* "unix:" path */
	int			 cl[2];		/* two senders */
};

static int
udp_rx(unsigned *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd, size = 1 << 20;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static int
unix_rx(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void
rig_up(struct rig *g, const char *allow)
{
	struct conf_err err = { { 0 } };
	const char *what = NULL;
	char text[1024];
	int i;

	memset(g, 0, sizeof(*g));
	snprintf(g->dir, sizeof(g->dir), "/tmp/dgramd-route-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(g->dir));
	snprintf(g->path, sizeof(g->path), "%s/target", g->dir);
	snprintf(g->spec, sizeof(g->spec), "unix:%s", g->path);
	for (i = 0; i < 2; i++)
		g->rx[i] = udp_rx(&g->port[i]);
	g->rx[2] = unix_rx(g->path);
	snprintf(text, sizeof(text), "sockets = ( { name = \"in\"; type = \"udp4\"; "
	    "address = \"127.0.0.1\"; port = 0; max_size = %d; %s handlers = ( { "
	    "type = \"forward\"; to = [ \"127.0.0.1:%u\", \"127.0.0.1:%u\", \"unix:%s\" ]; "
	    "queue = 4096; } ); } );", MAX_SIZE, allow, g->port[0], g->port[1], g->path);
	ck_assert_msg(conf_load_string(text, "t.conf", &g->conf, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(sock_open(&g->conf->socks[0], &g->sock, &what), 0);
	ck_assert_int_eq(reactor_new(&g->r), 0);
	ck_assert_int_eq(sock_area_new(16, 2048, &g->area), 0);
	ck_assert_int_eq(route_new(&g->conf->socks[0], g->sock, g->r, NULL, &g->route), 0);
	ck_assert_int_eq(sock_start(g->sock, g->r, g->area, route_dispatch, route_end_batch,
	    g->route), 0);
	for (i = 0; i < 2; i++) {
		g->cl[i] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(g->cl[i], 0);
		ck_assert_int_eq(connect(g->cl[i], &g->sock->local.sa, g->sock->local_len), 0);
	}
}

static void
rig_down(struct rig *g)
{
	int i;

	/* The handlers count on the socket to the end. */
	route_free(g->route);
	sock_close(g->sock);
	sock_area_free(g->area);
	reactor_free(g->r);
	conf_free(g->conf);
	for (i = 0; i < 3; i++)
		close(g->rx[i]);
	for (i = 0; i < 2; i++)
		close(g->cl[i]);
	unlink(g->path);
	rmdir(g->dir);
}

/*
 * Datagram i: "<i>:" padded with its own letter to a size that changes
 * every few datagrams (GSO runs end there), one size shorter than the
 * run (the last segment may be), and every seventh one oversize.
 */
static size_t
make(unsigned i, char *buf)
{
	static const size_t sizes[] = { 20, 20, 20, 33, 33, 12, 20, 20, 40, 39 };
	size_t len = i % 7 == 3 ? MAX_SIZE + 1 + i % 5 : sizes[i % 10];
	int k;

	k = snprintf(buf, len + 1, "%u:", i);
	memset(buf + k, 'a' + (int)(i % 26), len - (size_t)k);
	return len;
}

static bool
oversize(unsigned i)
{
	return i % 7 == 3;
}

/* Sends datagrams 0..N_DGRAMS, switching senders every few; returns their bytes. */
static uint64_t
send_all(struct rig *g)
{
	char buf[256];
	uint64_t bytes = 0;
	unsigned i;
	size_t len;

	for (i = 0; i < N_DGRAMS; i++) {
		len = make(i, buf);
		ck_assert_int_eq(send(g->cl[(i / 4) % 2], buf, len, 0), (ssize_t)len);
		bytes += len;
	}
	return bytes;
}

/* Runs the loop until the socket has read n datagrams in all (bounded). */
static void
run_until_received(struct rig *g, uint64_t n)
{
	int turns;

	for (turns = 0; g->sock->stats.received < n && turns < 500; turns++)
		ck_assert_int_ge(reactor_run_once(g->r, 20), 0);
	ck_assert_uint_eq(g->sock->stats.received, n);
}

/*
 * Expects exactly the datagrams that fit, in order, on fd, running the
 * loop meanwhile (what waited for room is sent); returns how many.
 */
static unsigned
expect_all(struct rig *g, int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char b[256], w[256];
	unsigned i, got = 0;
	size_t len;
	ssize_t k;
	int turns;

	for (i = 0; i < N_DGRAMS; i++) {
		if (oversize(i))
			continue;
		len = make(i, w);
		for (turns = 0; poll(&p, 1, 0) == 0 && turns < 200; turns++)
			ck_assert_int_ge(reactor_run_once(g->r, 10), 0);
		ck_assert_msg(poll(&p, 1, 0) == 1, "datagram %u missing", i);
		k = recv(fd, b, sizeof(b), MSG_DONTWAIT);
		ck_assert_msg(k == (ssize_t)len && memcmp(b, w, len) == 0,
		    "datagram %u: got %zd bytes \"%.*s\"", i, k, (int)(k > 0 ? k : 0), b);
		got++;
	}
	ck_assert_int_lt(recv(fd, b, sizeof(b), MSG_DONTWAIT), 0);
	return got;
}

static long long
stat_of(const struct handler *h, const char *key)
{
	struct strbuf sb = { 0 };
	struct stats_visitor v;
	const char *p;
	long long n = -1;

	stats_visitor_init(&v, stats_line_sample, &sb);
	h->ops->stats(h, &v);
	p = strstr(strbuf_str(&sb), key);
	if (p != NULL)
		n = strtoll(p + strlen(key), NULL, 10);
	strbuf_free(&sb);
	return n;
}

/* The counters of target spec: sent, none dropped or failed. */
static void
expect_target(const struct rig *g, const char *spec, long long sent)
{
	char key[192];

	snprintf(key, sizeof(key), " fwd.%s.sent=", spec);
	ck_assert_int_eq(stat_of(g->route->handlers[0], key), sent);
	snprintf(key, sizeof(key), " fwd.%s.dropped=", spec);
	ck_assert_int_eq(stat_of(g->route->handlers[0], key), 0);
	snprintf(key, sizeof(key), " fwd.%s.errors=", spec);
	ck_assert_int_eq(stat_of(g->route->handlers[0], key), 0);
}

static unsigned
fitting(void)
{
	unsigned i, n = 0;

	for (i = 0; i < N_DGRAMS; i++)
		n += !oversize(i);
	return n;
}

/* Runs the rig's traffic and checks what every target and counter says. */
static void
forward_all(struct rig *g, bool batched)
{
	unsigned fit = fitting(), i;
	char spec[64];
	uint64_t bytes;

	ck_assert(batched == (g->route->batch_h != NULL));
	bytes = send_all(g);
	run_until_received(g, N_DGRAMS);
	ck_assert_uint_eq(g->sock->stats.bytes, bytes);
	ck_assert_uint_eq(g->sock->stats.truncated, N_DGRAMS - fit);
	ck_assert_uint_eq(g->sock->stats.denied, 0);
	ck_assert_uint_eq(g->route->handlers[0]->handled, fit);
	for (i = 0; i < 3; i++)
		ck_assert_msg(expect_all(g, g->rx[i]) == fit, "target %u", i);
	for (i = 0; i < 2; i++) {
		snprintf(spec, sizeof(spec), "127.0.0.1:%u", g->port[i]);
		expect_target(g, spec, fit);
	}
	expect_target(g, g->spec, fit);
	ck_assert_uint_eq(g->sock->stats.sent, (uint64_t)fit * 3);
	ck_assert_uint_eq(g->sock->stats.send_errors, 0);
	ck_assert_uint_eq(g->sock->stats.dropped, 0);
}

START_TEST(test_batch_path_exact)
{
	struct rig g;

	rig_up(&g, "");
	forward_all(&g, true);
	rig_down(&g);
}
END_TEST

START_TEST(test_allow_goes_one_by_one)
{
	struct rig g;

	rig_up(&g, "allow = [ \"127.0.0.0/8\" ];");
	forward_all(&g, false);
	rig_down(&g);
}
END_TEST

START_TEST(test_denied_all_counted)
{
	unsigned fit = fitting(), i;
	char b[256];
	struct rig g;

	rig_up(&g, "allow = [ \"127.0.0.2/32\" ];");
	ck_assert_ptr_null(g.route->batch_h);
	(void)send_all(&g);
	run_until_received(&g, N_DGRAMS);
	ck_assert_uint_eq(g.sock->stats.truncated, N_DGRAMS - fit);
	ck_assert_uint_eq(g.sock->stats.denied, fit);
	ck_assert_uint_eq(g.route->handlers[0]->handled, 0);
	ck_assert_uint_eq(g.sock->stats.sent, 0);
	for (i = 0; i < 3; i++)
		ck_assert_int_lt(recv(g.rx[i], b, sizeof(b), MSG_DONTWAIT), 0);
	rig_down(&g);
}
END_TEST

/* Bytes in the receive queue of fd (SO_MEMINFO). */
static uint32_t
queued_bytes(int fd)
{
	uint32_t mem[SK_MEMINFO_VARS] = { 0 };
	socklen_t len = sizeof(mem);

	ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len), 0);
	return mem[SK_MEMINFO_RMEM_ALLOC];
}

/* Waits (5 s at most) until fd's receive queue holds want bytes. */
static void
wait_queued(int fd, uint32_t want)
{
	int i;

	for (i = 0; queued_bytes(fd) < want && i < 5000; i++)
		ck_assert_int_ge(poll(NULL, 0, 1), 0);
	ck_assert_uint_eq(queued_bytes(fd), want);
}

static void
on_usr2(int signo, void *userdata)
{
	(void)signo;
	(*(int *)userdata)++;
}

START_TEST(test_signal_not_starved_by_flood)
{
	struct reactor_watch *sig = NULL;
	uint32_t per;
	int seen = 0, turns, i;
	struct rig g;

	rig_up(&g, "");
	ck_assert_int_eq(reactor_add_signal(g.r, SIGUSR2, on_usr2, &seen, &sig), 0);
	/* What one datagram takes in the queue; then a flood of 8 batches waits. */
	ck_assert_int_eq(send(g.cl[0], "0:", 2, 0), 2);
	for (i = 0; queued_bytes(g.sock->fd) == 0 && i < 5000; i++)
		ck_assert_int_ge(poll(NULL, 0, 1), 0);
	per = queued_bytes(g.sock->fd);
	for (i = 1; i < 128; i++)
		ck_assert_int_eq(send(g.cl[0], "0:", 2, 0), 2);
	wait_queued(g.sock->fd, 128 * per);
	ck_assert_int_eq(raise(SIGUSR2), 0);
	/* Both ready in one wait: the socket reads one batch at most before the signal. */
	for (turns = 0; seen == 0 && turns < 10; turns++)
		ck_assert_int_eq(reactor_run_once(g.r, 1000), 1);
	ck_assert_int_eq(seen, 1);
	ck_assert_int_le(turns, 2);
	ck_assert_uint_le(g.sock->stats.received, 16);
	run_until_received(&g, 128);
	reactor_del_signal(g.r, sig);
	rig_down(&g);
}
END_TEST

static Suite *
route_suite(void)
{
	Suite *s = suite_create("route");
	TCase *tc = tcase_create("route");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_batch_path_exact);
	tcase_add_test(tc, test_allow_goes_one_by_one);
	tcase_add_test(tc, test_denied_all_counted);
	tcase_add_test(tc, test_signal_not_starved_by_flood);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(route_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
