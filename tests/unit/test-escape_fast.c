/*
 * test-escape_fast.c: the fast paths of line formatting give exactly what
 * the plain way gives: the escapes' block-at-a-time path (16 and 8 bytes,
 * the overlapping tail) against escaping byte by byte, for every length
 * around the block sizes and a byte needing an escape at every position;
 * and the syslog line's one-span copy of "HOST APP[PID]: MSG" against
 * escaping each field, over messages built from tricky pieces.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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


static char *
put_esc(char *o, const struct syslog_span *sp)
{
	return o + syslog_escape_c(o, sp->p, sp->len);
}

/* The syslog line field by field (what syslog_format_syslog does without its fast path). */
static size_t
ref_syslog(char *out, const struct syslog_msg *m, const struct syslog_ctx *ctx)
{
	char *o = out;

	memcpy(o, ctx->clock->rfc3164, 15);
	o += 15;
	*o++ = ' ';
	if (m->host.len > 0) {
		o = put_esc(o, &m->host);
		*o++ = ' ';
	} else if (ctx->host_len > 0) {
		o += syslog_escape_c(o, (const uint8_t *)ctx->host, ctx->host_len);
		*o++ = ' ';
	}
	if (m->app.len > 0 || m->procid.len > 0) {
		if (m->app.len > 0)
			o = put_esc(o, &m->app);
		else
			*o++ = '-';
		if (m->procid.len > 0) {
			*o++ = '[';
			o = put_esc(o, &m->procid);
			*o++ = ']';
		}
		*o++ = ':';
		*o++ = ' ';
	}
	if (m->sd.len > 0) {
		o = put_esc(o, &m->sd);
		if (m->msg.len > 0)
			*o++ = ' ';
	}
	o = put_esc(o, &m->msg);
	*o++ = '\n';
	return (size_t)(o - out);
}

START_TEST(syslog_line_one_span)
{
	static const char *const pri[] = { "<13>", "", "<190>" };
	static const char *const ts[] = { "Nov 25 10:00:00 ", "", "2024-11-25T10:00:00Z " };
	static const char *const host[] = { "host ", "", "h\xc3\xa9 ", "a-b.c ", "host  " };
	static const char *const tag[] = { "bench[42]: ", "bench: ", "bench[42]:", "b\x01[4]: ",
	    "x[]: ", "[1]: ", "su[1] ", "app[1\\]: ", "", "tag:  ", "bench[42]:\t" };
	static const char *const msg[] = { "seq=1 xxxxxxxxxxxxxxxxxxxxxxxxx", "", "a\nb\\c\x7f",
	    "caf\xc3\xa9 \xc2\x9b[31m", "[id k=\"v\"] m", "  lead", "trail \n" };
	struct timespec t = { 1732528800, 0 };
	struct syslog_clock clk = { 0 };
	struct syslog_ctx ctx = { .clock = &clk, .host = "fill", .host_len = 4 };
	char in[256], got[2048], want[2048];
	size_t a, b, c, d, e, n, gl, wl;
	struct syslog_msg m;

	setenv("TZ", "UTC", 1);
	tzset();
	syslog_clock_update(&clk, &t);
	for (a = 0; a < sizeof(pri) / sizeof(pri[0]); a++)
	for (b = 0; b < sizeof(ts) / sizeof(ts[0]); b++)
	for (c = 0; c < sizeof(host) / sizeof(host[0]); c++)
	for (d = 0; d < sizeof(tag) / sizeof(tag[0]); d++)
	for (e = 0; e < sizeof(msg) / sizeof(msg[0]); e++) {
		n = (size_t)snprintf(in, sizeof(in), "%s%s%s%s%s", pri[a], ts[b], host[c],
		    tag[d], msg[e]);
		syslog_parse((const uint8_t *)in, n, &m);
		ctx.host_len = e % 2 ? 4 : 0;
		gl = syslog_format_syslog(got, &m, &ctx);
		wl = ref_syslog(want, &m, &ctx);
		ck_assert_msg(gl == wl && memcmp(got, want, gl) == 0,
		    "input \"%s\": got \"%.*s\" want \"%.*s\"", in, (int)gl, got, (int)wl, want);
	}
}
END_TEST


START_TEST(json_short_fields)
{
	static const uint8_t specials[] = { 0x01, '\t', '"', '\\', 0x7f, 0x80, 0xc3, '/' };
	struct timespec t = { 1732528800, 0 };
	struct syslog_clock clk = { 0 };
	struct syslog_ctx ctx = { .clock = &clk, .sender = "s", .sender_len = 1 };
	uint8_t in[64];
	char got[2048], want[512], *f, *e;
	size_t n, pos, sp, len, wl;
	struct syslog_msg m;

	syslog_clock_update(&clk, &t);
	for (n = 1; n <= 40; n++) {
		for (pos = 0; pos <= n; pos++) {
			for (sp = 0; sp < sizeof(specials); sp++) {
				/* "<13>" then n message bytes, one of them special (or none). */
				in[0] = '<';
				in[1] = '1';
				in[2] = '3';
				in[3] = '>';
				memset(in + 4, 'm', n);
				if (pos < n)
					in[4 + pos] = specials[sp];
				syslog_parse(in, 4 + n, &m);
				len = syslog_format_json(got, &m, &ctx);
				got[len] = '\0';
				f = strstr(got, "\"message\":\"");
				ck_assert_ptr_nonnull(f);
				f += 11;
				e = strstr(f, "\",\"sender\":");
				ck_assert_ptr_nonnull(e);
				wl = syslog_escape_json(want, m.msg.p, m.msg.len);
				ck_assert_msg((size_t)(e - f) == wl && memcmp(f, want, wl) == 0,
				    "n %zu pos %zu special %#x: %s", n, pos, specials[sp], got);
			}
		}
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
	tcase_add_test(tc, syslog_line_one_span);
	tcase_add_test(tc, json_short_fields);
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
