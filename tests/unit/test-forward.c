/*
 * test-forward.c: the forward handler's handle path over real loopback
 * sockets, with the core's services: every datagram of a batch reaches
 * each target ("all") or one target in turn ("round_robin"), whole and in
 * order, at the end of the batch; the handler's counters (through the
 * stats visitor) and the socket's (through the services) agree.
 */
#include <arpa/inet.h>
#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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
	struct handler_services	 svc;
	struct conf		*conf;
	struct dg_socket	*sock;
	struct handler		*h;
	int			 rx[2];
	unsigned		 port[2];
};

static int
udp_rx(unsigned *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void
rig_up(struct rig *g, const char *mode)
{
	struct conf_err err = { { 0 } };
	const char *what = NULL;
	char text[512];
	int i;

	memset(g, 0, sizeof(*g));
	for (i = 0; i < 2; i++)
		g->rx[i] = udp_rx(&g->port[i]);
	snprintf(text, sizeof(text), "sockets = ( { name = \"in\"; type = \"udp4\"; "
	    "address = \"127.0.0.1\"; port = 0; handlers = ( { type = \"forward\"; "
	    "mode = \"%s\"; to = [ \"127.0.0.1:%u\", \"127.0.0.1:%u\" ]; } ); } );", mode,
	    g->port[0], g->port[1]);
	ck_assert_msg(conf_load_string(text, "t.conf", &g->conf, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(sock_open(&g->conf->socks[0], &g->sock, &what), 0);
	ck_assert_int_eq(reactor_new(&g->r), 0);
	g->svc = services_of(g->r);
	ck_assert_int_eq(handler_new(&g->conf->socks[0].handlers[0], &g->conf->socks[0],
	    g->sock, &g->svc, 0, NULL, &g->h), 0);
}

static void
rig_down(struct rig *g)
{
	handler_free(g->h);
	sock_close(g->sock);
	reactor_free(g->r);
	conf_free(g->conf);
	close(g->rx[0]);
	close(g->rx[1]);
}

/* Hands "0", "1", ... n-1 to the handler as one batch. */
static void
batch(struct rig *g, unsigned n)
{
	struct sockaddr_in peer = { .sin_family = AF_INET, .sin_port = htons(40000) };
	struct timespec ts = { 0 };
	char bufs[64][8];
	unsigned i;

	peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_uint_le(n, 64);
	for (i = 0; i < n; i++) {
		struct dgram d = {
			.data = (const uint8_t *)bufs[i], .peer = (struct sockaddr *)&peer,
			.peer_len = sizeof(peer), .rtime = &ts, .sock = g->sock,
		};

		d.len = (size_t)snprintf(bufs[i], sizeof(bufs[i]), "%u", i);
		ck_assert_int_eq(g->h->ops->handle(g->h, &d), 0);
	}
	g->h->ops->end_batch(g->h);
}

/* Expects the numbers in want[0..n) on fd, then nothing more. */
static void
expect(int fd, const unsigned *want, unsigned n)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char b[16], w[16];
	unsigned i;
	ssize_t k;

	for (i = 0; i < n; i++) {
		ck_assert_int_eq(poll(&p, 1, 2000), 1);
		k = recv(fd, b, sizeof(b) - 1, MSG_DONTWAIT);
		ck_assert_int_gt(k, 0);
		b[k] = '\0';
		snprintf(w, sizeof(w), "%u", want[i]);
		ck_assert_str_eq(b, w);
	}
	ck_assert_int_lt(recv(fd, b, sizeof(b), MSG_DONTWAIT), 0);
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
		n = atoll(p + strlen(key));
	strbuf_free(&sb);
	return n;
}

START_TEST(test_all_targets_get_every_datagram_in_order)
{
	unsigned want[40], i;
	char key[64];
	struct rig g;

	rig_up(&g, "all");
	for (i = 0; i < 40; i++)
		want[i] = i;
	batch(&g, 40);
	expect(g.rx[0], want, 40);
	expect(g.rx[1], want, 40);
	snprintf(key, sizeof(key), " fwd.127.0.0.1:%u.sent=", g.port[1]);
	ck_assert_int_eq(stat_of(g.h, key), 40);
	ck_assert_uint_eq(g.sock->stats.sent, 80);
	ck_assert_uint_eq(g.sock->stats.send_errors, 0);
	rig_down(&g);
}
END_TEST

START_TEST(test_round_robin_alternates)
{
	unsigned even[5] = { 0, 2, 4, 6, 8 }, odd[5] = { 1, 3, 5, 7, 9 };
	struct rig g;

	rig_up(&g, "round_robin");
	batch(&g, 10);
	expect(g.rx[0], even, 5);
	expect(g.rx[1], odd, 5);
	ck_assert_uint_eq(g.sock->stats.sent, 10);
	rig_down(&g);
}
END_TEST

static Suite *
forward_suite(void)
{
	Suite *s = suite_create("forward");
	TCase *tc = tcase_create("forward");

	tcase_add_test(tc, test_all_targets_get_every_datagram_in_order);
	tcase_add_test(tc, test_round_robin_alternates);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(forward_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
