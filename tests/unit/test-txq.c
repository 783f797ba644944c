/*
 * test-txq.c: the send path over real sockets. Order of a batch and of
 * the backlog, the backlog's bounds (datagrams and bytes) with drops
 * counted, a ring that wraps while a unix peer is blocked and others are
 * sent around it, failures counted without stopping the rest, UDP GSO
 * grouping (equal-size runs, a shorter last segment, 64 segments and
 * 65507 bytes per message at most, boundaries kept on
 * receipt), and the fallback to plain sends that stays on once the kernel
 * refuses GSO (SO_NO_CHECK makes it refuse).
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "txq.h"

struct watch {
	bool		on;
	unsigned	calls;
	unsigned	dropped;
	unsigned	failed;
};

static void
want_write(void *ud, bool on)
{
	struct watch *w = ud;

	w->on = on;
	w->calls++;
}

static void
dropped(void *ud, unsigned n)
{
	((struct watch *)ud)->dropped += n;
}

static void
failed(void *ud, int err, unsigned n)
{
	(void)err;
	((struct watch *)ud)->failed += n;
}

static const struct txq_ops ops = {
	.want_write = want_write,
	.dropped = dropped,
	.failed = failed,
};

static struct txq *
new_txq(int fd, unsigned batch, size_t bytes, uint32_t max, bool gso, bool per_peer,
    struct watch *w)
{
	struct txq_conf c = { batch, bytes, max, gso, per_peer };
	struct txq *q = NULL;

	ck_assert_int_eq(txq_new(fd, &c, &ops, w, &q), 0);
	return q;
}

/* A UDP socket bound to 127.0.0.1 (port chosen by the kernel). */
static int
udp_bound(struct sockaddr_in *a)
{
	socklen_t len = sizeof(*a);
	int fd, big = 1 << 20;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)a, sizeof(*a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)a, &len), 0);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	return fd;
}

/* A unix datagram socket bound to an abstract name made of tag. */
static int
unix_bound(const char *tag, struct sockaddr_un *a, socklen_t *alen)
{
	int fd;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	*alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
	    (size_t)snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "dgramd-test-txq-%d-%s",
	    (int)getpid(), tag));
	ck_assert_int_eq(bind(fd, (struct sockaddr *)a, *alen), 0);
	return fd;
}

/* An unbound unix sender whose own buffer never is the limit. */
static int
unix_sender(void)
{
	int fd, big = 1 << 20;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	return fd;
}

/* Sends from fd to a until the receiver's queue is full; returns how many went. */
static unsigned
fill(int fd, const struct sockaddr_un *a, socklen_t alen)
{
	unsigned n = 0;

	while (sendto(fd, "x", 1, MSG_DONTWAIT, (const struct sockaddr *)a, alen) == 1)
		n++;
	ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
	return n;
}

/* Reads and throws away n datagrams. */
static void
skip(int fd, unsigned n)
{
	char b[8];

	while (n-- > 0)
		ck_assert_int_ge(recv(fd, b, sizeof(b), MSG_DONTWAIT), 0);
}

/* Receives one datagram (waiting up to 2 s); returns its length. */
static ssize_t
recv_one(int fd, void *buf, size_t size)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	ck_assert_int_eq(poll(&p, 1, 2000), 1);
	return recv(fd, buf, size, MSG_DONTWAIT);
}

static bool
nothing_left(int fd)
{
	char b[8];

	return recv(fd, b, sizeof(b), MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

/* Datagram i: size bytes, the first four naming i. */
static void
mk(uint8_t *b, unsigned i, size_t size)
{
	size_t k;

	for (k = 0; k < size; k++)
		b[k] = (uint8_t)((size_t)i * 7 + k);
	if (size >= 4)
		memcpy(b, &i, 4);
}

static void
expect(int fd, unsigned i, size_t size)
{
	uint8_t want[2048], got[2048];
	ssize_t n;

	mk(want, i, size);
	n = recv_one(fd, got, sizeof(got));
	ck_assert_int_eq(n, (ssize_t)size);
	ck_assert(memcmp(want, got, size) == 0);
}

START_TEST(test_batch_order_and_counts)
{
	static uint8_t data[20][300];
	struct sockaddr_in a;
	struct watch w = { 0 };
	struct txq *q;
	int rx, tx;
	unsigned i;

	rx = udp_bound(&a);
	tx = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	/* A batch of 8: adding 20 flushes twice on its own, the rest on txq_flush. */
	q = new_txq(tx, 8, 4096, 0, false, false, &w);
	txq_set_peer(q, (struct sockaddr *)&a, sizeof(a));
	for (i = 0; i < 20; i++) {
		mk(data[i], i, 10 + i * 13);
		txq_add(q, data[i], 10 + i * 13, NULL, 0, NULL, 0);
	}
	txq_flush(q);
	for (i = 0; i < 20; i++)
		expect(rx, i, 10 + i * 13);
	ck_assert(nothing_left(rx));
	ck_assert_uint_eq(txq_counters(q)->sent, 20);
	ck_assert_uint_eq(txq_counters(q)->msgs, 20);
	ck_assert_uint_eq(txq_counters(q)->errors, 0);
	ck_assert_uint_eq(txq_queued(q), 0);
	ck_assert(!txq_has_backlog(q));
	ck_assert_uint_eq(w.calls, 0);
	txq_free(q);
	close(rx);
	close(tx);
}
END_TEST

START_TEST(test_failure_counted_rest_sent)
{
	struct sockaddr_un a, gone;
	socklen_t alen, glen;
	struct watch w = { 0 };
	uint8_t d[3][16];
	struct txq *q;
	int rx, tx;
	unsigned i;

	rx = unix_bound("ok", &a, &alen);
	tx = unix_sender();
	gone = a;
	glen = alen;
	gone.sun_path[1] = 'X';	/* nobody is bound there */
	q = new_txq(tx, 8, 4096, 0, false, true, &w);
	for (i = 0; i < 3; i++)
		mk(d[i], i, sizeof(d[i]));
	txq_add(q, d[0], 16, (struct sockaddr *)&a, alen, NULL, 0);
	txq_add(q, d[1], 16, (struct sockaddr *)&gone, glen, NULL, 0);
	txq_add(q, d[2], 16, (struct sockaddr *)&a, alen, NULL, 0);
	txq_flush(q);
	expect(rx, 0, 16);
	expect(rx, 2, 16);
	ck_assert_uint_eq(txq_counters(q)->sent, 2);
	ck_assert_uint_eq(txq_counters(q)->errors, 1);
	ck_assert_uint_eq(w.failed, 1);
	ck_assert_uint_eq(txq_queued(q), 0);
	txq_free(q);
	close(rx);
	close(tx);
}
END_TEST

/*
 * A connected unix target that cannot take anything: n datagrams of size
 * bytes meet a backlog of bytes/max; want of them wait, the rest are
 * dropped and counted; once the target reads, the ones that waited arrive
 * in order and writability is no longer asked for.
 */
static void
bound_case(const char *tag, size_t size, unsigned n, size_t bytes, uint32_t max, unsigned want)
{
	static uint8_t d[16][256];
	struct sockaddr_un a;
	socklen_t alen;
	struct watch w = { 0 };
	struct txq *q;
	unsigned i, pre;
	int rx, tx;

	rx = unix_bound(tag, &a, &alen);
	tx = unix_sender();
	pre = fill(tx, &a, alen);
	ck_assert_int_eq(connect(tx, (struct sockaddr *)&a, alen), 0);
	q = new_txq(tx, 16, bytes, max, false, false, &w);
	for (i = 0; i < n; i++) {
		mk(d[i], i, size);
		txq_add(q, d[i], size, NULL, 0, NULL, 0);
	}
	txq_flush(q);
	ck_assert_uint_eq(txq_queued(q), want);
	ck_assert_uint_eq(txq_counters(q)->dropped, n - want);
	ck_assert_uint_eq(w.dropped, n - want);
	ck_assert(w.on);
	/* Behind a full backlog, a new datagram is dropped too. */
	txq_add(q, d[0], size, NULL, 0, NULL, 0);
	txq_flush(q);
	ck_assert_uint_eq(txq_counters(q)->dropped, n - want + 1);
	/* Still blocked: a drain sends nothing and keeps asking. */
	txq_drain(q);
	ck_assert_uint_eq(txq_queued(q), want);
	ck_assert(w.on);
	skip(rx, pre);
	txq_drain(q);
	for (i = 0; i < want; i++)
		expect(rx, i, size);
	ck_assert(nothing_left(rx));
	ck_assert_uint_eq(txq_queued(q), 0);
	ck_assert(!w.on);
	ck_assert_uint_eq(txq_counters(q)->sent, want);
	txq_free(q);
	close(rx);
	close(tx);
}

START_TEST(test_backlog_bound_in_datagrams)
{
	bound_case("count", 100, 10, 1 << 16, 4, 4);
}
END_TEST

START_TEST(test_backlog_bound_in_bytes)
{
	/* Room for exactly three entries of 200 bytes. */
	bound_case("bytes", 200, 8, 3 * TXQ_ENTRY_BYTES(200, 0), 0, 3);
}
END_TEST

/*
 * Peer A is full, peer B is full then read: B's entries go around A's,
 * the freed head lets A's later entries wrap to the start of the ring,
 * and once A reads, A gets all of its own in order.
 */
START_TEST(test_ring_wraps_per_peer_order)
{
	static uint8_t d[8][100];
	struct sockaddr_un a, b;
	socklen_t alen, blen;
	struct watch w = { 0 };
	size_t ent;
	struct txq *q;
	unsigned i, pre_a, pre_b;
	int ra, rb, tx;

	ra = unix_bound("a", &a, &alen);
	rb = unix_bound("b", &b, &blen);
	tx = unix_sender();
	pre_a = fill(tx, &a, alen);
	pre_b = fill(tx, &b, blen);
	for (i = 0; i < 8; i++)
		mk(d[i], i, sizeof(d[i]));
	/* Entries carry the name: four of them fill the ring. */
	ent = TXQ_ENTRY_BYTES(100, alen);
	q = new_txq(tx, 16, 4 * ent, 0, false, true, &w);
	txq_add(q, d[0], 100, (struct sockaddr *)&b, blen, NULL, 0);
	txq_add(q, d[1], 100, (struct sockaddr *)&b, blen, NULL, 0);
	txq_add(q, d[2], 100, (struct sockaddr *)&a, alen, NULL, 0);
	txq_flush(q);
	ck_assert_uint_eq(txq_queued(q), 3);
	skip(rb, pre_b);
	txq_drain(q);
	/* B got its two; A's one waits at the third slot. */
	expect(rb, 0, 100);
	expect(rb, 1, 100);
	ck_assert_uint_eq(txq_queued(q), 1);
	ck_assert(w.on);
	/* Slot four, then two wrapped to the start; the ring is full. */
	for (i = 3; i < 6; i++)
		txq_add(q, d[i], 100, (struct sockaddr *)&a, alen, NULL, 0);
	txq_add(q, d[6], 100, (struct sockaddr *)&a, alen, NULL, 0);
	txq_flush(q);
	ck_assert_uint_eq(txq_queued(q), 4);
	ck_assert_uint_eq(txq_counters(q)->dropped, 1);
	skip(ra, pre_a);
	txq_drain(q);
	for (i = 2; i < 6; i++)
		expect(ra, i, 100);
	ck_assert(nothing_left(ra));
	ck_assert(nothing_left(rb));
	ck_assert_uint_eq(txq_queued(q), 0);
	ck_assert(!w.on);
	ck_assert_uint_eq(txq_counters(q)->sent, 6);
	/* Empty again: the ring starts over and still works. */
	txq_add(q, d[7], 100, (struct sockaddr *)&a, alen, NULL, 0);
	txq_flush(q);
	expect(ra, 7, 100);
	txq_free(q);
	close(ra);
	close(rb);
	close(tx);
}
END_TEST

/* Adds sizes[] in order to a UDP txq for a, flushes, checks receipt; returns msgs used. */
static uint64_t
send_sizes(struct txq *q, int rx, const size_t *sizes, unsigned n)
{
	static uint8_t d[100][1024];
	uint64_t before = txq_counters(q)->msgs;
	unsigned i;

	for (i = 0; i < n; i++) {
		mk(d[i], i, sizes[i]);
		txq_add(q, d[i], sizes[i], NULL, 0, NULL, 0);
	}
	txq_flush(q);
	for (i = 0; i < n; i++)
		expect(rx, i, sizes[i]);
	ck_assert(nothing_left(rx));
	return txq_counters(q)->msgs - before;
}

START_TEST(test_gso_groups_equal_runs)
{
	size_t sizes[100];
	struct sockaddr_in a;
	struct watch w = { 0 };
	struct txq *q;
	unsigned i, n = 0;
	int rx, tx;

	rx = udp_bound(&a);
	tx = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	q = new_txq(tx, 100, 4096, 0, true, false, &w);
	txq_set_peer(q, (struct sockaddr *)&a, sizeof(a));
	for (i = 0; i < 10; i++)
		sizes[n++] = 100;
	sizes[n++] = 50;		/* a shorter one ends the run: message 1 */
	sizes[n++] = 200;
	sizes[n++] = 200;		/* message 2 */
	sizes[n++] = 0;			/* empty datagrams stand alone: 3, 4 */
	sizes[n++] = 0;
	sizes[n++] = 7;			/* a single: 5 */
	for (i = 0; i < 65; i++)
		sizes[n++] = 64;	/* 64 segments at most: 6, 7 */
	ck_assert_uint_eq(send_sizes(q, rx, sizes, n), 7);
	ck_assert_uint_eq(txq_counters(q)->sent, n);
	ck_assert_uint_eq(txq_counters(q)->errors, 0);
	txq_free(q);
	close(rx);
	close(tx);
}
END_TEST

/*
 * A GSO message holds 65507 bytes at most (the largest UDP payload over
 * IPv4): 63 segments of 1024 then, and a shorter last one only if it fits.
 */
START_TEST(test_gso_byte_limit)
{
	size_t sizes[100];
	struct sockaddr_in a;
	struct watch w = { 0 };
	struct txq *q;
	unsigned i;
	int rx, tx;

	rx = udp_bound(&a);
	tx = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	q = new_txq(tx, 100, 4096, 0, true, false, &w);
	txq_set_peer(q, (struct sockaddr *)&a, sizeof(a));
	for (i = 0; i < 64; i++)
		sizes[i] = 1024;
	/* 64 x 1024 is over: 63 in one message, the last alone. */
	ck_assert_uint_eq(send_sizes(q, rx, sizes, 64), 2);
	/* 63 x 1024 + 995 = 65507: one message, exactly full. */
	sizes[63] = 995;
	ck_assert_uint_eq(send_sizes(q, rx, sizes, 64), 1);
	/* One byte more does not fit: the shorter one goes alone. */
	sizes[63] = 996;
	ck_assert_uint_eq(send_sizes(q, rx, sizes, 64), 2);
	ck_assert_uint_eq(txq_counters(q)->sent, (uint64_t)64 * 3);
	ck_assert_uint_eq(txq_counters(q)->errors, 0);
	txq_free(q);
	close(rx);
	close(tx);
}
END_TEST

START_TEST(test_gso_refused_falls_back_and_stays_off)
{
	size_t sizes[8];
	struct sockaddr_in a;
	struct watch w = { 0 };
	struct txq *q;
	int rx, tx, one = 1;
	unsigned i;

	rx = udp_bound(&a);
	tx = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	/* Without checksums the kernel refuses UDP GSO (EINVAL); plain sends work. */
	ck_assert_int_eq(setsockopt(tx, SOL_SOCKET, SO_NO_CHECK, &one, sizeof(one)), 0);
	q = new_txq(tx, 8, 4096, 0, true, false, &w);
	txq_set_peer(q, (struct sockaddr *)&a, sizeof(a));
	for (i = 0; i < 8; i++)
		sizes[i] = i < 5 ? 100 : 300;
	/* Two GSO messages refused: each goes out again as plain datagrams. */
	ck_assert_uint_eq(send_sizes(q, rx, sizes, 8), 8);
	ck_assert_uint_eq(txq_counters(q)->sent, 8);
	ck_assert_uint_eq(txq_counters(q)->errors, 0);
	/* GSO stays off: the next batch is sent plain at once. */
	ck_assert_uint_eq(send_sizes(q, rx, sizes, 8), 8);
	ck_assert_uint_eq(txq_counters(q)->sent, 16);
	ck_assert_uint_eq(w.failed, 0);
	txq_free(q);
	close(rx);
	close(tx);
}
END_TEST

START_TEST(test_gso_keeps_peers_apart)
{
	struct sockaddr_in a, b;
	struct watch w = { 0 };
	uint8_t d[6][100];
	struct txq *q;
	int ra, rb, tx;
	unsigned i;

	ra = udp_bound(&a);
	rb = udp_bound(&b);
	tx = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	q = new_txq(tx, 8, 4096, 0, true, false, &w);
	for (i = 0; i < 6; i++) {
		mk(d[i], i, 100);
		txq_add(q, d[i], 100, (struct sockaddr *)(i < 3 ? &a : &b), sizeof(a), NULL, 0);
	}
	txq_flush(q);
	for (i = 0; i < 3; i++)
		expect(ra, i, 100);
	for (i = 3; i < 6; i++)
		expect(rb, i, 100);
	ck_assert(nothing_left(ra));
	ck_assert(nothing_left(rb));
	ck_assert_uint_eq(txq_counters(q)->sent, 6);
	txq_free(q);
	close(ra);
	close(rb);
	close(tx);
}
END_TEST

START_TEST(test_discard_counts)
{
	static uint8_t d[3][10];
	struct sockaddr_un a;
	socklen_t alen;
	struct watch w = { 0 };
	struct txq *q;
	int rx, tx;
	unsigned i;

	rx = unix_bound("discard", &a, &alen);
	tx = unix_sender();
	(void)fill(tx, &a, alen);
	ck_assert_int_eq(connect(tx, (struct sockaddr *)&a, alen), 0);
	q = new_txq(tx, 4, 4096, 0, false, false, &w);
	for (i = 0; i < 3; i++)
		txq_add(q, d[i], sizeof(d[i]), NULL, 0, NULL, 0);
	txq_flush(q);
	ck_assert_uint_eq(txq_queued(q), 3);
	ck_assert_uint_eq(txq_discard(q), 3);
	ck_assert_uint_eq(txq_queued(q), 0);
	ck_assert_uint_eq(txq_counters(q)->dropped, 3);
	ck_assert(!w.on);
	txq_free(q);
	close(rx);
	close(tx);
}
END_TEST

static Suite *
txq_suite(void)
{
	Suite *s = suite_create("txq");
	TCase *tc = tcase_create("txq");

	tcase_add_test(tc, test_batch_order_and_counts);
	tcase_add_test(tc, test_failure_counted_rest_sent);
	tcase_add_test(tc, test_backlog_bound_in_datagrams);
	tcase_add_test(tc, test_backlog_bound_in_bytes);
	tcase_add_test(tc, test_ring_wraps_per_peer_order);
	tcase_add_test(tc, test_gso_groups_equal_runs);
	tcase_add_test(tc, test_gso_byte_limit);
	tcase_add_test(tc, test_gso_refused_falls_back_and_stays_off);
	tcase_add_test(tc, test_gso_keeps_peers_apart);
	tcase_add_test(tc, test_discard_counts);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(txq_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
