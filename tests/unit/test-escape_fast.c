/*
 * test-escape_fast.c: the escapes' block-at-a-time fast path (16 and 8
 * bytes, the overlapping tail) give exactly what escaping one byte at a
 * time gives, for every length around the block sizes and a byte needing
 * an escape at every position.
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "syslog_fmt.h"

#define MAXN	80

static bool
plain(uint8_t c, bool json)
{
	return c >= 0x20 && c < 0x7f && c != '\\' && (!json || c != '"');
}

/*
 * The reference: plain bytes copied one by one; each run of bytes that are
 * not plain escaped on its own, where no block of the fast path can pass
 * (so a UTF-8 sequence stays whole).
 */
static size_t
ref_escape(char *out, const uint8_t *p, size_t n, bool json)
{
	size_t i = 0, j, k = 0;

	while (i < n) {
		if (plain(p[i], json)) {
			out[k++] = (char)p[i++];
			continue;
		}
		for (j = i; j < n && !plain(p[j], json); j++)
			;
		k += json ? syslog_escape_json(out + k, p + i, j - i) :
		    syslog_escape_c(out + k, p + i, j - i);
		i = j;
	}
	return k;
}

static void
check_one(const uint8_t *in, size_t n)
{
	char got[6 * MAXN + 16], want[6 * MAXN + 16];
	size_t gl, wl;

	memset(got, 0x55, sizeof(got));
	gl = syslog_escape_c(got, in, n);
	wl = ref_escape(want, in, n, false);
	ck_assert_uint_eq(gl, wl);
	ck_assert(memcmp(got, want, gl) == 0);
	gl = syslog_escape_json(got, in, n);
	wl = ref_escape(want, in, n, true);
	ck_assert_uint_eq(gl, wl);
	ck_assert(memcmp(got, want, gl) == 0);
}

START_TEST(plain_and_one_special)
{
	static const uint8_t specials[] = { 0, 0x01, '\t', '\n', 0x1f, '"', '\\', 0x7f, 0x80,
	    0xff };
	uint8_t in[MAXN];
	size_t n, pos, s;

	memset(in, 'a', sizeof(in));
	for (n = 0; n <= MAXN; n++) {
		for (pos = 0; pos < n; pos++)
			in[pos] = (uint8_t)('a' + pos % 26);
		check_one(in, n);
		for (pos = 0; pos < n; pos++) {
			for (s = 0; s < sizeof(specials); s++) {
				in[pos] = specials[s];
				check_one(in, n);
			}
			in[pos] = (uint8_t)('a' + pos % 26);
		}
	}
}
END_TEST

START_TEST(boundary_bytes)
{
	/* Bytes next to the thresholds the bit tricks test: 0x1f/0x20, 0x7e/0x7f/0x80. */
	static const uint8_t edge[] = { 0x1f, 0x20, 0x21, 0x5b, 0x5c, 0x5d, 0x21, 0x22, 0x23,
	    0x7e, 0x7f, 0x80, 0xc2, 0xa0 };
	uint8_t in[MAXN];
	unsigned seed = 1;
	size_t n, i, round;

	for (round = 0; round < 2000; round++) {
		n = (size_t)(rand_r(&seed) % (MAXN + 1));
		for (i = 0; i < n; i++)
			in[i] = rand_r(&seed) % 4 == 0 ? edge[rand_r(&seed) % sizeof(edge)] :
			    (uint8_t)(0x20 + rand_r(&seed) % 0x5f);
		check_one(in, n);
	}
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("escape_fast");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, plain_and_one_special);
	tcase_add_test(tc, boundary_bytes);
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
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
