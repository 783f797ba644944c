/*
 * test-echo.c: the echo handler's handle path on a real listening socket
 * run by the loop: replies come back byte for byte, in order, from the
 * address asked; an ignored source port and an unbound unix sender get
 * nothing and are counted; the socket counts what it sent; a socket that
 * fills its batch is read again in the same turn (at most 4 batches), but
 * not for a while after reading again found nothing.
 */
#include <arpa/inet.h>
#include <check.h>
#include <linux/sock_diag.h>
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
#include "services.h"
#include "sock.h"
#include "stats.h"
#include "strbuf.h"

struct rig {
	struct reactor		*r;
	struct recv_area	*area;
	struct handler_services	 svc;
	struct conf		*conf;
	struct dg_socket	*sock;
	struct handler		*h;
	uint32_t		 per;	/* queue bytes of a 1-byte datagram (send_n) */
};

static void
dispatch(void *userdata, const struct dgram *d, unsigned n)
{
	struct handler *h = userdata;
	unsigned i;

	for (i = 0; i < n; i++)
		(void)h->ops->handle(h, &d[i]);
}

static void
rig_up(struct rig *g, const char *sock_text)
{
	struct conf_err err = { { 0 } };
	const char *what = NULL;
	char text[512];

	memset(g, 0, sizeof(*g));
	snprintf(text, sizeof(text), "sockets = ( { name = \"e\"; %s } );", sock_text);
	ck_assert_msg(conf_load_string(text, "t.conf", &g->conf, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(sock_open(&g->conf->socks[0], &g->sock, &what), 0);
	ck_assert_int_eq(reactor_new(&g->r), 0);
	ck_assert_int_eq(sock_area_new(16, 2048, &g->area), 0);
	g->svc = services_of(g->r);
	ck_assert_int_eq(handler_new(&g->conf->socks[0].handlers[0], &g->conf->socks[0],
	    g->sock, &g->svc, 0, NULL, &g->h), 0);
	ck_assert_int_eq(sock_start(g->sock, g->r, g->area, dispatch, NULL, g->h), 0);
}

static void
rig_down(struct rig *g)
{
	sock_close(g->sock);
	handler_free(g->h);
	sock_area_free(g->area);
	reactor_free(g->r);
	conf_free(g->conf);
}

/* Runs the loop until the socket has read n datagrams in all (bounded). */
static void
run_until_received(struct rig *g, uint64_t n)
{
	int turns;

	for (turns = 0; g->sock->stats.received < n && turns < 200; turns++)
		ck_assert_int_ge(reactor_run_once(g->r, 20), 0);
	ck_assert_uint_eq(g->sock->stats.received, n);
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

static int
client_to(const struct dg_socket *s)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, &s->local.sa, s->local_len), 0);
	return fd;
}

START_TEST(test_udp_replies_in_order)
{
	struct pollfd p;
	char buf[64], want[64];
	struct rig g;
	unsigned i;
	int fd;

	rig_up(&g, "type = \"udp4\"; address = \"127.0.0.1\"; port = 0; "
	    "handlers = ( { type = \"echo\"; } );");
	fd = client_to(g.sock);
	for (i = 0; i < 10; i++) {
		snprintf(buf, sizeof(buf), "ping %u", i);
		ck_assert_int_eq(send(fd, buf, strlen(buf), 0), (ssize_t)strlen(buf));
	}
	run_until_received(&g, 10);
	p.fd = fd;
	p.events = POLLIN;
	for (i = 0; i < 10; i++) {
		ssize_t n;

		ck_assert_int_eq(poll(&p, 1, 2000), 1);
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		ck_assert_int_gt(n, 0);
		buf[n] = '\0';
		snprintf(want, sizeof(want), "ping %u", i);
		ck_assert_str_eq(buf, want);
	}
	ck_assert_uint_eq(g.sock->stats.sent, 10);
	ck_assert_int_eq(stat_of(g.h, " echo.ignored="), 0);
	close(fd);
	rig_down(&g);
}
END_TEST

START_TEST(test_ignored_port_not_answered)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	char text[256], b[8];
	struct rig g;
	int fd;

	/* The client's own port is the one to ignore: bind it first. */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	snprintf(text, sizeof(text), "type = \"udp4\"; address = \"127.0.0.1\"; port = 0; "
	    "handlers = ( { type = \"echo\"; ignore_ports = [ %u ]; } );", ntohs(a.sin_port));
	rig_up(&g, text);
	ck_assert_int_eq(connect(fd, &g.sock->local.sa, g.sock->local_len), 0);
	ck_assert_int_eq(send(fd, "x", 1, 0), 1);
	run_until_received(&g, 1);
	ck_assert_int_eq(stat_of(g.h, " echo.ignored="), 1);
	ck_assert_uint_eq(g.sock->stats.sent, 0);
	ck_assert_int_lt(recv(fd, b, sizeof(b), 0), 0);
	close(fd);
	rig_down(&g);
}
END_TEST

START_TEST(test_unbound_unix_sender_counted)
{
	struct rig g;
	int fd;

	rig_up(&g, "type = \"unix_dgram\"; path = \"@dgramd-test-echo\"; "
	    "handlers = ( { type = \"echo\"; } );");
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(connect(fd, &g.sock->local.sa, g.sock->local_len), 0);
	ck_assert_int_eq(send(fd, "hi", 2, 0), 2);
	run_until_received(&g, 1);
	ck_assert_int_eq(stat_of(g.h, " echo.no_peer="), 1);
	ck_assert_uint_eq(g.sock->stats.sent, 0);
	close(fd);
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

/*
 * Sends n datagrams of one byte from fd and, with g, waits (5 s at most)
 * until they are all in the queue of g's socket, which was empty.
 */
static void
send_n(const struct rig *g, int fd, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		ck_assert_int_eq(send(fd, "x", 1, 0), 1);
	for (i = 0; g != NULL && queued_bytes(g->sock->fd) < n * g->per && i < 5000; i++)
		ck_assert_int_ge(poll(NULL, 0, 1), 0);
	ck_assert(g == NULL || queued_bytes(g->sock->fd) == n * g->per);
}

START_TEST(test_full_batch_read_again)
{
	struct rig g;
	int fd, i;

	/* The rig's batch is 16. */
	rig_up(&g, "type = \"udp4\"; address = \"127.0.0.1\"; port = 0; "
	    "handlers = ( { type = \"echo\"; } );");
	fd = client_to(g.sock);
	/* What one datagram takes in the receive queue, for send_n's wait. */
	send_n(NULL, fd, 1);
	for (i = 0; queued_bytes(g.sock->fd) == 0 && i < 5000; i++)
		ck_assert_int_ge(poll(NULL, 0, 1), 0);
	g.per = queued_bytes(g.sock->fd);
	ck_assert_int_eq(reactor_run_once(g.r, 1000), 1);
	ck_assert_uint_eq(g.sock->stats.received, 1);
	/* Nothing else ready: full batches are read again in the same turn (16, 16, 8). */
	send_n(&g, fd, 40);
	ck_assert_int_eq(reactor_run_once(g.r, 1000), 1);
	ck_assert_uint_eq(g.sock->stats.received, 1 + 40);
	/* At most 4 batches in one turn. */
	send_n(&g, fd, 70);
	ck_assert_int_eq(reactor_run_once(g.r, 1000), 1);
	ck_assert_uint_eq(g.sock->stats.received, 41 + 64);
	run_until_received(&g, 111);
	/* Exactly one full batch: reading again finds nothing ... */
	send_n(&g, fd, 16);
	ck_assert_int_eq(reactor_run_once(g.r, 1000), 1);
	ck_assert_uint_eq(g.sock->stats.received, 127);
	/* ... so the next full batches are not followed up: one batch per turn. */
	send_n(&g, fd, 40);
	ck_assert_int_eq(reactor_run_once(g.r, 1000), 1);
	ck_assert_uint_eq(g.sock->stats.received, 127 + 16);
	run_until_received(&g, 167);
	ck_assert_uint_eq(g.sock->stats.sent, 167);
	close(fd);
	rig_down(&g);
}
END_TEST

static Suite *
echo_suite(void)
{
	Suite *s = suite_create("echo");
	TCase *tc = tcase_create("echo");

	tcase_add_test(tc, test_udp_replies_in_order);
	tcase_add_test(tc, test_ignored_port_not_answered);
	tcase_add_test(tc, test_unbound_unix_sender_counted);
	tcase_add_test(tc, test_full_batch_read_again);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(echo_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
