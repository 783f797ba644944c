/*
 * test-syslog_fmt.c: the syslog parser (the RFCs' own examples, what real
 * clients put on the wire, malformed and hostile input), the escapes, and
 * the three line formats; every line from hostile input must be one safe
 * line, and every json line valid JSON.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "syslog_fmt.h"
#include "syslog_check.h"

/* A parser case: NULL expects the field absent. */
struct pcase {
	const char	*in;
	size_t		 len;		/* 0: strlen(in) */
	int		 pri;
	bool		 has_pri;
	bool		 rfc5424;
	const char	*ts, *host, *app, *procid, *msgid, *sd, *msg;
};

#define BOM	"\xef\xbb\xbf"

static const struct pcase pcases[] = {
	/* RFC 3164 section 5.4, examples 1-4 (2 has no PRI; 3 and 4 are not conforming). */
	{ "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8", 0,
	  34, true, false, "Oct 11 22:14:15", "mymachine", "su", NULL, NULL, NULL,
	  "'su root' failed for lonvick on /dev/pts/8" },
	{ "Use the BFG!", 0, 13, false, false, NULL, NULL, NULL, NULL, NULL, NULL,
	  "Use the BFG!" },
	{ "<165>Aug 24 05:34:00 CST 1987 mymachine myproc[10]: %% It's time to make the "
	  "do-nuts.  %%  Ingredients: Mix=OK, Jiffy=OK", 0, 165, true, false,
	  "Aug 24 05:34:00", "CST", NULL, NULL, NULL, NULL,
	  "1987 mymachine myproc[10]: %% It's time to make the do-nuts.  %%  Ingredients: "
	  "Mix=OK, Jiffy=OK" },
	{ "<0>1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: "
	  "That's All Folks!", 0, 0, true, false, "1990 Oct 22 10:52:01", "TZ-6", NULL, NULL,
	  NULL, NULL, "scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!" },
	/* Network equipment: Cisco ASA (year, colon), NX-OS (year first); bad times. */
	{ "<166>Dec 01 2026 23:41:31: %ASA-6-302013: Built", 0, 166, true, false,
	  "Dec 01 2026 23:41:31:", NULL, "%ASA-6-302013", NULL, NULL, NULL, "Built" },
	{ "<189>2026 Dec  1 23:41:31 nx1 %ETHPORT-5-IF_UP: up", 0, 189, true, false,
	  "2026 Dec  1 23:41:31", "nx1", "%ETHPORT-5-IF_UP", NULL, NULL, NULL, "up" },
	{ "<13>Dec  1 25:61:31 host1 app: bad time", 0, 13, true, false, NULL, NULL, NULL, NULL,
	  NULL, NULL, "Dec  1 25:61:31 host1 app: bad time" },
	{ "<13>Dec  1 23:41:31:x h a: m", 0, 13, true, false, NULL, NULL, NULL, NULL, NULL, NULL,
	  "Dec  1 23:41:31:x h a: m" },
	/* RFC 5424 section 6.5, examples 1-4. */
	{ "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - " BOM
	  "'su root' failed for lonvick on /dev/pts/8", 0, 34, true, true,
	  "2003-10-11T22:14:15.003Z", "mymachine.example.com", "su", NULL, "ID47", NULL,
	  "'su root' failed for lonvick on /dev/pts/8" },
	{ "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to "
	  "make the do-nuts.", 0, 165, true, true, "2003-08-24T05:14:15.000003-07:00",
	  "192.0.2.1", "myproc", "8710", NULL, NULL, "%% It's time to make the do-nuts." },
	{ "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
	  "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] " BOM
	  "An application event log entry...", 0, 165, true, true, "2003-10-11T22:14:15.003Z",
	  "mymachine.example.com", "evntslog", NULL, "ID47",
	  "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]",
	  "An application event log entry..." },
	{ "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
	  "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]"
	  "[examplePriority@32473 class=\"high\"]", 0, 165, true, true,
	  "2003-10-11T22:14:15.003Z", "mymachine.example.com", "evntslog", NULL, "ID47",
	  "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]"
	  "[examplePriority@32473 class=\"high\"]", "" },
	/* util-linux logger 2.38: -u SOCK (local: no host), -i, --rfc5424, -n --rfc3164. */
	{ "<13>Nov 25 09:36:55 mytag: hello unix", 0, 13, true, false, "Nov 25 09:36:55",
	  NULL, "mytag", NULL, NULL, NULL, "hello unix" },
	{ "<34>Nov 25 09:36:55 root[11940]: hello pid", 0, 34, true, false, "Nov 25 09:36:55",
	  NULL, "root", "11940", NULL, NULL, "hello pid" },
	{ "<13>1 2026-11-25T09:36:55.500961+00:00 vm x - - [timeQuality tzKnown=\"1\" "
	  "isSynced=\"0\"] hello 5424 unix", 0, 13, true, true,
	  "2026-11-25T09:36:55.500961+00:00", "vm", "x", NULL, NULL,
	  "[timeQuality tzKnown=\"1\" isSynced=\"0\"]", "hello 5424 unix" },
	{ "<13>Nov 25 09:36:55 vm t3164: hello udp", 0, 13, true, false, "Nov 25 09:36:55",
	  "vm", "t3164", NULL, NULL, NULL, "hello udp" },
	{ "<13>1 2026-11-25T09:36:55.506435+00:00 vm t5424 - ID47 [timeQuality tzKnown=\"1\" "
	  "isSynced=\"0\"][ex@32473 iut=\"3\"] hello 5424", 0, 13, true, true,
	  "2026-11-25T09:36:55.506435+00:00", "vm", "t5424", NULL, "ID47",
	  "[timeQuality tzKnown=\"1\" isSynced=\"0\"][ex@32473 iut=\"3\"]", "hello 5424" },
	/* python logging.handlers.SysLogHandler: "<PRI>" + record + NUL. */
	{ "<12>py unix\0", 12, 12, true, false, NULL, NULL, NULL, NULL, NULL, NULL, "py unix" },
	{ "<11>myapp: py udp\0", 18, 11, true, false, NULL, NULL, "myapp", NULL, NULL, NULL,
	  "py udp" },
	/* glibc syslog(3) with LOG_PID, and python's syslog module (also glibc). */
	{ "<155>Nov 25 09:37:01 gtag[12489]: glibc msg", 0, 155, true, false,
	  "Nov 25 09:37:01", NULL, "gtag", "12489", NULL, NULL, "glibc msg" },
	{ "<14>Nov 25 09:37:01 pysys[12490]: via module", 0, 14, true, false,
	  "Nov 25 09:37:01", NULL, "pysys", "12490", NULL, NULL, "via module" },
	/* Tolerated forms. */
	{ "<13>Nov  5 01:02:03 host app: m", 0, 13, true, false, "Nov  5 01:02:03", "host",
	  "app", NULL, NULL, NULL, "m" },
	{ "<13>Nov 5 01:02:03 app[7]: m", 0, 13, true, false, "Nov 5 01:02:03", NULL, "app",
	  "7", NULL, NULL, "m" },
	{ "<13>Nov 25 10:00:00.123 host app: m", 0, 13, true, false, "Nov 25 10:00:00.123",
	  "host", "app", NULL, NULL, NULL, "m" },
	{ "<13>Nov 25 2024 10:00:00 host app: m", 0, 13, true, false, "Nov 25 2024 10:00:00",
	  "host", "app", NULL, NULL, NULL, "m" },
	{ "<13>2024-11-25T10:00:00Z host app[1]: m", 0, 13, true, false,
	  "2024-11-25T10:00:00Z", "host", "app", "1", NULL, NULL, "m" },
	{ "<13>Nov 25 10:00:00 fe80::1 app: m", 0, 13, true, false, "Nov 25 10:00:00",
	  "fe80::1", "app", NULL, NULL, NULL, "m" },
	{ "<13>hello\n\n", 0, 13, true, false, NULL, NULL, NULL, NULL, NULL, NULL, "hello" },
	{ "<13>hello\r\n\0\0", sizeof("<13>hello\r\n\0\0") - 1, 13, true, false, NULL, NULL,
	  NULL, NULL, NULL, NULL, "hello" },
	{ "hello world", 0, 13, false, false, NULL, NULL, NULL, NULL, NULL, NULL,
	  "hello world" },
	{ "<13>app:msg", 0, 13, true, false, NULL, NULL, NULL, NULL, NULL, NULL, "app:msg" },
	{ "<13>[123]: m", 0, 13, true, false, NULL, NULL, NULL, NULL, NULL, NULL, "[123]: m" },
	{ "<13>app: ", 0, 13, true, false, NULL, NULL, "app", NULL, NULL, NULL, "" },
	{ "<13>app:", 0, 13, true, false, NULL, NULL, "app", NULL, NULL, NULL, "" },
	{ "<13>app:  two spaces", 0, 13, true, false, NULL, NULL, "app", NULL, NULL, NULL,
	  " two spaces" },
	{ "<13>Nov 25 10:00:00", 0, 13, true, false, "Nov 25 10:00:00", NULL, NULL, NULL, NULL,
	  NULL, "" },
	{ "<13>Nov 25 10:00:0x host app: m", 0, 13, true, false, NULL, NULL, NULL, NULL, NULL,
	  NULL, "Nov 25 10:00:0x host app: m" },
	/* Bad PRIs: the text is all message, user.notice. */
	{ "<192>x", 0, 13, false, false, NULL, NULL, NULL, NULL, NULL, NULL, "<192>x" },
	{ "<>x", 0, 13, false, false, NULL, NULL, NULL, NULL, NULL, NULL, "<>x" },
	{ "<1a>x", 0, 13, false, false, NULL, NULL, NULL, NULL, NULL, NULL, "<1a>x" },
	{ "<0013>x", 0, 13, false, false, NULL, NULL, NULL, NULL, NULL, NULL, "<0013>x" },
	{ "<13", 0, 13, false, false, NULL, NULL, NULL, NULL, NULL, NULL, "<13" },
	{ "<013>x", 0, 13, true, false, NULL, NULL, NULL, NULL, NULL, NULL, "x" },
	{ "<191>x", 0, 191, true, false, NULL, NULL, NULL, NULL, NULL, NULL, "x" },
	{ "", 0, 13, false, false, NULL, NULL, NULL, NULL, NULL, NULL, "" },
	{ "<13>", 0, 13, true, false, NULL, NULL, NULL, NULL, NULL, NULL, "" },
	/* RFC 5424, cut short or malformed. */
	{ "<13>1 ", 0, 13, true, false, NULL, NULL, NULL, NULL, NULL, NULL, "1 " },
	{ "<13>1 2024-01-01T00:00:00Z host", 0, 13, true, true, "2024-01-01T00:00:00Z", "host",
	  NULL, NULL, NULL, NULL, "" },
	{ "<13>1 - h a p m [unterminated", 0, 13, true, true, NULL, "h", "a", "p", "m", NULL,
	  "[unterminated" },
	{ "<13>1 - h a p m [id k=\"a\\]b\\\"c\"] msg", 0, 13, true, true, NULL, "h", "a", "p",
	  "m", "[id k=\"a\\]b\\\"c\"]", "msg" },
	{ "<13>1 - - - - - nosd", 0, 13, true, true, NULL, NULL, NULL, NULL, NULL, NULL,
	  "nosd" },
	{ "<13>1 - - - - - -", 0, 13, true, true, NULL, NULL, NULL, NULL, NULL, NULL, "" },
	/* RFC 5424 is VERSION 1 then "-" or an RFC 3339 time stamp (rsyslog's rule). */
	{ "<13>12 - h a - - - m", 0, 13, true, false, NULL, NULL, NULL, NULL, NULL, NULL,
	  "12 - h a - - - m" },
	{ "<12>1 disk failed in array md0\0", 31, 12, true, false, NULL, NULL, NULL, NULL,
	  NULL, NULL, "1 disk failed in array md0" },
	{ "<13>2 files copied", 0, 13, true, false, NULL, NULL, NULL, NULL, NULL, NULL,
	  "2 files copied" },
	{ "<13>1 2024-13-01T00:00:00Z h a - - - m", 0, 13, true, false, NULL, NULL, NULL, NULL,
	  NULL, NULL, "1 2024-13-01T00:00:00Z h a - - - m" },
	{ "<13>1 2024-01-01T00:00:00 h a - - - m", 0, 13, true, false, NULL, NULL, NULL, NULL,
	  NULL, NULL, "1 2024-01-01T00:00:00 h a - - - m" },
	{ "<13>1 -", 0, 13, true, true, NULL, NULL, NULL, NULL, NULL, NULL, "" },
	{ "<13>1 -x h", 0, 13, true, false, NULL, NULL, NULL, NULL, NULL, NULL, "1 -x h" },
	{ "1 - h a - - - m", 0, 13, false, false, NULL, NULL, NULL, NULL, NULL, NULL,
	  "1 - h a - - - m" },
	/* RFC 6587 octet counting in a datagram (logger --octet-count, UDP and unix). */
	{ "89 <34>1 2026-12-01T23:37:44.810783+00:00 vm oc - - [timeQuality tzKnown=\"1\" "
	  "isSynced=\"0\"] x", 0, 34, true, true, "2026-12-01T23:37:44.810783+00:00", "vm",
	  "oc", NULL, NULL, "[timeQuality tzKnown=\"1\" isSynced=\"0\"]", "x" },
	{ "25 <34>Dec  1 23:37:45 oc: x", 0, 34, true, false, "Dec  1 23:37:45", NULL, "oc",
	  NULL, NULL, NULL, "x" },
	{ "26 <34>Dec  1 23:37:45 oc: x", 0, 13, false, false, NULL, NULL, NULL, NULL, NULL,
	  NULL, "26 <34>Dec  1 23:37:45 oc: x" },
	{ "024 <34>Dec  1 23:37:45 oc: x", 0, 13, false, false, NULL, NULL, NULL, NULL, NULL,
	  NULL, "024 <34>Dec  1 23:37:45 oc: x" },
	{ "6 apples", 0, 13, false, false, NULL, NULL, NULL, NULL, NULL, NULL, "6 apples" },
	{ "4 <9>", 0, 13, false, false, NULL, NULL, NULL, NULL, NULL, NULL, "4 <9>" },
	{ "3 <9>", 0, 9, true, false, NULL, NULL, NULL, NULL, NULL, NULL, "" },
	{ "0 ", 0, 13, false, false, NULL, NULL, NULL, NULL, NULL, NULL, "0 " },
	/* Hostile bytes stay in the fields; escaping is the formatter's job. */
#define P_HOSTILE "<13>app: a\nb\x1b[2Jc\x00" "d\xff"
	{ P_HOSTILE, sizeof(P_HOSTILE) - 1, 13, true, false, NULL, NULL, "app", NULL, NULL, NULL,
	  NULL },
};

static void
check_span(const struct syslog_span *s, const char *want, const char *what, size_t i)
{
	if (want == NULL) {
		ck_assert_msg(s->len == 0, "case %zu: %s: want absent, got \"%.*s\"", i, what,
		    (int)s->len, (const char *)s->p);
		return;
	}
	ck_assert_msg(s->len == strlen(want) && memcmp(s->p, want, s->len) == 0,
	    "case %zu: %s: want \"%s\", got \"%.*s\"", i, what, want, (int)s->len,
	    s->len ? (const char *)s->p : "");
}

START_TEST(test_parse_table)
{
	const struct pcase *c = &pcases[_i];
	size_t len = c->len ? c->len : strlen(c->in);
	struct syslog_msg m;

	syslog_parse((const uint8_t *)c->in, len, &m);
	ck_assert_msg(m.pri == c->pri, "case %d: pri %d, want %d", _i, m.pri, c->pri);
	ck_assert_int_eq(m.facility, c->pri / 8);
	ck_assert_int_eq(m.severity, c->pri % 8);
	ck_assert_msg(m.has_pri == c->has_pri, "case %d: has_pri", _i);
	ck_assert_msg((m.proto == SYSLOG_PROTO_RFC5424) == c->rfc5424, "case %d: proto", _i);
	check_span(&m.timestamp, c->ts, "timestamp", (size_t)_i);
	check_span(&m.host, c->host, "host", (size_t)_i);
	check_span(&m.app, c->app, "app", (size_t)_i);
	check_span(&m.procid, c->procid, "procid", (size_t)_i);
	check_span(&m.msgid, c->msgid, "msgid", (size_t)_i);
	check_span(&m.sd, c->sd, "sd", (size_t)_i);
	if (c->msg != NULL)
		check_span(&m.msg, c->msg, "msg", (size_t)_i);
	ck_assert_int_eq(syslog_parse_pri((const uint8_t *)c->in, len), c->pri);
}
END_TEST

START_TEST(test_bom)
{
	struct syslog_msg m;
	const char *in = "<13>1 - - - - - " BOM "x";

	syslog_parse((const uint8_t *)in, strlen(in), &m);
	ck_assert(m.bom);
	check_span(&m.msg, "x", "msg", 0);
}
END_TEST

START_TEST(test_names)
{
	int i;

	for (i = 0; i < SYSLOG_N_FACILITIES; i++)
		ck_assert_int_eq(syslog_facility_from_string(syslog_facility_name(i)), i);
	for (i = 0; i < SYSLOG_N_SEVERITIES; i++)
		ck_assert_int_eq(syslog_severity_from_string(syslog_severity_name(i)), i);
	ck_assert_str_eq(syslog_facility_name(4), "auth");
	ck_assert_str_eq(syslog_facility_name(10), "authpriv");
	ck_assert_str_eq(syslog_facility_name(15), "solaris-cron");
	ck_assert_str_eq(syslog_facility_name(23), "local7");
	ck_assert_ptr_null(syslog_facility_name(24));
	ck_assert_ptr_null(syslog_severity_name(-1));
	ck_assert_str_eq(syslog_severity_name(2), "crit");
	ck_assert_int_eq(syslog_severity_from_string("error"), 3);
	ck_assert_int_eq(syslog_severity_from_string("warn"), 4);
	ck_assert_int_eq(syslog_severity_from_string("panic"), 0);
	ck_assert_int_eq(syslog_severity_from_string("fatal"), -EINVAL);
	ck_assert_int_eq(syslog_facility_from_string("local8"), -EINVAL);
}
END_TEST

struct ecase {
	const char	*in;
	size_t		 len;
	const char	*c, *json;
};

static const struct ecase ecases[] = {
	{ "plain text", 0, "plain text", "plain text" },
	{ "a\nb\rc\td\\e", 0, "a\\nb\\rc\\td\\\\e", "a\\nb\\rc\\td\\\\e" },
	{ "q\"q", 0, "q\"q", "q\\\"q" },
	{ "\x1b[31mred", 0, "\\x1b[31mred", "\\u001b[31mred" },
	{ "nul\0x", 5, "nul\\x00x", "nul\\u0000x" },
	{ "\x7f\x08\x0c", 0, "\\x7f\\x08\\x0c", "\\u007f\\b\\f" },
	{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 0, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
	{ "\xc2\x9b" "2J", 0, "\\xc2\\x9b2J", "\\u009b2J" },
	{ "\xc2\xa0", 0, "\xc2\xa0", "\xc2\xa0" },
	{ "\xff\xfe", 0, "\\xff\\xfe", "\\ufffd\\ufffd" },
	{ "\xc0\xaf", 0, "\\xc0\\xaf", "\\ufffd\\ufffd" },		/* overlong '/' */
	{ "\xed\xa0\x80", 0, "\\xed\\xa0\\x80", "\\ufffd\\ufffd\\ufffd" },	/* surrogate */
	{ "\xf4\x90\x80\x80", 0, "\\xf4\\x90\\x80\\x80", "\\ufffd\\ufffd\\ufffd\\ufffd" },
	{ "\xe2\x82", 0, "\\xe2\\x82", "\\ufffd\\ufffd" },		/* cut short */
	{ "\xe2\x82x", 0, "\\xe2\\x82x", "\\ufffd\\ufffdx" },
	{ "\xef\xbb\xbf", 0, "\xef\xbb\xbf", "\xef\xbb\xbf" },
	{ "", 0, "", "" },
};

START_TEST(test_escape_table)
{
	const struct ecase *c = &ecases[_i];
	size_t len = c->len ? c->len : strlen(c->in);
	char out[256];
	size_t n;

	n = syslog_escape_c(out, (const uint8_t *)c->in, len);
	ck_assert_msg(n == strlen(c->c) && memcmp(out, c->c, n) == 0,
	    "case %d: C escape \"%.*s\", want \"%s\"", _i, (int)n, out, c->c);
	ck_assert(n <= 4 * len);
	n = syslog_escape_json(out, (const uint8_t *)c->in, len);
	ck_assert_msg(n == strlen(c->json) && memcmp(out, c->json, n) == 0,
	    "case %d: json escape \"%.*s\", want \"%s\"", _i, (int)n, out, c->json);
	ck_assert(n <= 6 * len);
}
END_TEST

/* 2024-11-25T10:00:00Z */
#define T0	1732528800

static struct syslog_clock clk;

static struct syslog_ctx
ctx_for(time_t t, long usec, const char *sender, const char *host, bool cred)
{
	struct timespec ts = { t, usec * 1000 };

	syslog_clock_update(&clk, &ts);
	return (struct syslog_ctx){
		.clock = &clk, .usec = usec, .sender = sender, .sender_len = strlen(sender),
		.host = host, .host_len = strlen(host), .has_cred = cred, .pid = 4242,
		.uid = 1000, .gid = 100, .size = 0,
	};
}

static void
set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
	clk.valid = false;
}

START_TEST(test_clock)
{
	struct timespec ts = { T0, 0 };

	set_tz("UTC");
	syslog_clock_update(&clk, &ts);
	ck_assert_str_eq(clk.rfc3164, "Nov 25 10:00:00");
	ck_assert_str_eq(clk.rfc3339, "2024-11-25T10:00:00");
	ck_assert_str_eq(clk.zone, "+00:00");
	ts.tv_sec = T0 + 86400 * 11 + 3723;	/* Dec  6 11:02:03 */
	syslog_clock_update(&clk, &ts);
	ck_assert_str_eq(clk.rfc3164, "Dec  6 11:02:03");
	set_tz("<-0530>5:30");
	syslog_clock_update(&clk, &ts);
	ck_assert_str_eq(clk.rfc3164, "Dec  6 05:32:03");
	ck_assert_str_eq(clk.zone, "-05:30");
	set_tz("<+01>-1");
	ts.tv_sec = T0;
	syslog_clock_update(&clk, &ts);
	ck_assert_str_eq(clk.rfc3339, "2024-11-25T11:00:00");
	ck_assert_str_eq(clk.zone, "+01:00");
}
END_TEST

/* Formats in with fmt ('r', 's', 'j') into a heap buffer of exactly the bound. */
static char *
format(char fmt, const char *in, size_t len, struct syslog_ctx *ctx, size_t *ret_n)
{
	char *out = malloc(syslog_line_max(len));
	struct syslog_msg m;

	ck_assert_ptr_nonnull(out);
	ctx->size = len;
	syslog_parse((const uint8_t *)in, len, &m);
	if (fmt == 'r')
		*ret_n = syslog_format_raw(out, (const uint8_t *)in, len, ctx);
	else if (fmt == 's')
		*ret_n = syslog_format_syslog(out, &m, ctx);
	else
		*ret_n = syslog_format_json(out, &m, ctx);
	ck_assert(*ret_n <= syslog_line_max(len));
	return out;
}

static void
format_one(char fmt, const char *in, struct syslog_ctx ctx, const char *want)
{
	size_t n;
	char *out = format(fmt, in, strlen(in), &ctx, &n);

	ck_assert_msg(n == strlen(want) && memcmp(out, want, n) == 0,
	    "format %c of \"%s\":\n got  \"%.*s\"\n want \"%s\"", fmt, in, (int)n, out, want);
	free(out);
}

START_TEST(test_format_lines)
{
	set_tz("UTC");
	format_one('s', "<155>Nov 25 09:37:01 gtag[12489]: glibc msg",
	    ctx_for(T0, 0, "(unbound)", "myhost", true),
	    "Nov 25 10:00:00 myhost gtag[12489]: glibc msg\n");
	format_one('s', "<13>Nov 25 09:36:55 vm t3164: hello udp",
	    ctx_for(T0, 0, "127.0.0.1:5000", "127.0.0.1", false),
	    "Nov 25 10:00:00 vm t3164: hello udp\n");
	format_one('s', "<12>py unix\n", ctx_for(T0, 0, "(unbound)", "myhost", false),
	    "Nov 25 10:00:00 myhost py unix\n");
	format_one('s', "<13>1 - - - 77 - [a b=\"c\"] msg", ctx_for(T0, 0, "x", "h", false),
	    "Nov 25 10:00:00 h -[77]: [a b=\"c\"] msg\n");
	format_one('s', "<13>evil: line1\nNov 25 10:00:00 h forged: x\x1b[2J",
	    ctx_for(T0, 0, "x", "h", false),
	    "Nov 25 10:00:00 h evil: line1\\nNov 25 10:00:00 h forged: x\\x1b[2J\n");
	format_one('r', "<13>hi\nthere\n\0", ctx_for(T0, 42, "127.0.0.1:5000", "", false),
	    "2024-11-25T10:00:00.000042+00:00 127.0.0.1:5000 <13>hi\\nthere\n");
	format_one('r', "", ctx_for(T0, 999999, "/tmp/a\nb", "", false),
	    "2024-11-25T10:00:00.999999+00:00 /tmp/a\\nb \n");
	format_one('j', "<34>Nov 25 09:36:55 root[11940]: hello \"pid\"",
	    ctx_for(T0, 5, "(unbound)", "myhost", true),
	    "{\"time\":\"2024-11-25T10:00:00.000005+00:00\",\"facility\":\"auth\","
	    "\"severity\":\"crit\",\"pri\":34,\"timestamp\":\"Nov 25 09:36:55\","
	    "\"host\":\"myhost\",\"app\":\"root\",\"procid\":\"11940\","
	    "\"message\":\"hello \\\"pid\\\"\",\"sender\":\"(unbound)\",\"size\":44,"
	    "\"pid\":4242,\"uid\":1000,\"gid\":100}\n");
	format_one('j', "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
	    "[exampleSDID@32473 iut=\"3\"] " BOM "An entry",
	    ctx_for(T0, 0, "127.0.0.1:9", "127.0.0.1", false),
	    "{\"time\":\"2024-11-25T10:00:00.000000+00:00\",\"facility\":\"local4\","
	    "\"severity\":\"notice\",\"pri\":165,\"timestamp\":\"2003-10-11T22:14:15.003Z\","
	    "\"host\":\"mymachine.example.com\",\"app\":\"evntslog\",\"msgid\":\"ID47\","
	    "\"sd\":\"[exampleSDID@32473 iut=\\\"3\\\"]\",\"message\":\"An entry\","
	    "\"sender\":\"127.0.0.1:9\",\"size\":109}\n");
	/* Issue 14: python logging.warning("1 disk failed in array md0") over UDP. */
	format_one('s', "<12>1 disk failed in array md0", ctx_for(T0, 0, "127.0.0.1:9",
	    "127.0.0.1", false), "Nov 25 10:00:00 127.0.0.1 1 disk failed in array md0\n");
	format_one('j', "<12>1 disk failed in array md0", ctx_for(T0, 0, "127.0.0.1:9",
	    "127.0.0.1", false),
	    "{\"time\":\"2024-11-25T10:00:00.000000+00:00\",\"facility\":\"user\","
	    "\"severity\":\"warning\",\"pri\":12,\"host\":\"127.0.0.1\","
	    "\"message\":\"1 disk failed in array md0\",\"sender\":\"127.0.0.1:9\","
	    "\"size\":30}\n");
	format_one('j', "<13>2 files copied", ctx_for(T0, 0, "127.0.0.1:9", "127.0.0.1", false),
	    "{\"time\":\"2024-11-25T10:00:00.000000+00:00\",\"facility\":\"user\","
	    "\"severity\":\"notice\",\"pri\":13,\"host\":\"127.0.0.1\","
	    "\"message\":\"2 files copied\",\"sender\":\"127.0.0.1:9\",\"size\":18}\n");
	format_one('j', "no pri", ctx_for(T0, 0, "[::1]:9", "::1", false),
	    "{\"time\":\"2024-11-25T10:00:00.000000+00:00\",\"facility\":\"user\","
	    "\"severity\":\"notice\",\"pri\":13,\"host\":\"::1\",\"message\":\"no pri\","
	    "\"sender\":\"[::1]:9\",\"size\":6}\n");
}
END_TEST

/*
 * compat = "rsyslog": the lines rsyslogd 8.2302 wrote with
 * RSYSLOG_TraditionalFileFormat for these datagrams (imudp: local false,
 * imuxsock: local true); receive time Nov 25 10:00:00.
 */
static const struct {
	bool		 local;
	const char	*in;
	size_t		 len;
	const char	*want;
} rscases[] = {
	{ false, "<140>error level\0", 17, "Nov 25 10:00:00 error level \n" },
	{ false, "<140>pyapp[77]: multi\nline\0", 27,
	  "Nov 25 10:00:00 127.0.0.1 pyapp[77]: multi#012line\n" },
	{ false, "<13>1 2026-12-01T23:41:31.000001Z relay app - - [meta sequenceId=\"1\"] with sd", 0,
	  "Dec  1 23:41:31 relay app with sd\n" },
	{ false, "<14>1 2026-12-01T23:41:31.123Z esx1 vpxa 2100123 - - Section", 0,
	  "Dec  1 23:41:31 esx1 vpxa[2100123] Section\n" },
	{ false, "<13>1 - - - - - -", 0, "Nov 25 10:00:00 - - \n" },
	{ false, "<166>Dec 01 2026 23:41:31: %ASA-6-302013: Built", 0,
	  "Dec  1 23:41:31 127.0.0.1 %ASA-6-302013: Built\n" },
	{ false, "<189>2026 Dec  1 23:41:31 nx1 %ETHPORT-5-IF_UP: up", 0,
	  "Dec  1 23:41:31 nx1 %ETHPORT-5-IF_UP: up\n" },
	{ false, "<13>Dec 15 23:41:31 h app: a\tb\x1b[0m \\n C:\\x\x7f\xff\r\n", 0,
	  "Dec 15 23:41:31 h app: a#011b#033[0m \\n C:\\x\x7f\xff#015\n" },
	{ false, "<13>Dec  1 23:41:31 host1 app:: double colon", 0,
	  "Dec  1 23:41:31 host1 app: : double colon\n" },
	{ false, "<140>[x] bracket first\0", 23, "Nov 25 10:00:00 127.0.0.1  [x] bracket first\n" },
	{ false, "<192>x bad pri", 0, "Nov 25 10:00:00 127.0.0.1  <192>x bad pri\n" },
	{ false, "<13>Dec  1 23:41:31 ::1 app: v6", 0, "Dec  1 23:41:31 127.0.0.1 : :1 app: v6\n" },
	{ false, "<13>Dec  1 23:41:31", 0, "Dec  1 23:41:31 127.0.0.1  \n" },
	{ false, "<13>", 0, "Nov 25 10:00:00 127.0.0.1  \n" },
	{ false, "two lf\n\n", 0, "Nov 25 10:00:00 two lf#012 \n" },
	/* The two issue 14 departures: octet counts go, "1 text" is RFC 3164. */
	{ false, "25 <34>Dec  1 23:37:45 oc: x", 0, "Dec  1 23:37:45 127.0.0.1 oc: x\n" },
	{ false, "<12>1 disk failed in array md0\0", 31,
	  "Nov 25 10:00:00 1 disk failed in array md0\n" },
	{ true, "<13>Dec  1 23:41:33 app: hello world", 0, "Nov 25 10:00:00 myhost app: hello world\n" },
	{ true, "<134>Dec  1 23:41:33 vm app: x", 0, "Nov 25 10:00:00 myhost vm app: x\n" },
	{ true, "<27>1 2026-12-01T23:41:33.626740+00:00 vm app - - - x", 0,
	  "Nov 25 10:00:00 myhost 1 2026-12-01T23:41:33.626740+00:00 vm app - - - x\n" },
	{ true, "plain text on unix", 0, "Nov 25 10:00:00 myhost ain text on unix\n" },
	{ true, "<13>Dec  1 23:41:31 app: n\0ul\0", 30, "Nov 25 10:00:00 myhost app: n#000ul\n" },
};

START_TEST(test_rsyslog_lines)
{
	size_t len = rscases[_i].len ? rscases[_i].len : strlen(rscases[_i].in), n;
	struct syslog_ctx ctx;
	char *out = malloc(syslog_line_max(len));

	set_tz("UTC");
	ctx = ctx_for(T0, 0, "x", rscases[_i].local ? "myhost" : "127.0.0.1", false);
	ck_assert_ptr_nonnull(out);
	n = syslog_format_rsyslog(out, (const uint8_t *)rscases[_i].in, len, rscases[_i].local,
	    &ctx);
	ck_assert(n <= syslog_line_max(len));
	ck_assert_msg(n == strlen(rscases[_i].want) && memcmp(out, rscases[_i].want, n) == 0,
	    "case %d:\n got  \"%.*s\"\n want \"%s\"", _i, (int)n, out, rscases[_i].want);
	free(out);
}
END_TEST

/* Hostile inputs: each must give one safe line per format, json valid. */
static const struct {
	const char	*in;
	size_t		 len;
} hostile[] = {
	{ "<13>a\nb\rc", 0 },
	{ "<13>Nov 25 10:00:00 h\x1b]0;pwned\x07 app: x", 0 },
	{ "<13>Nov 25 10:00:00 h app[\n]: x", 0 },
#define H4 "<13>1 - h\xff a\xc2\x9b p\n m\t [id k=\"\xff\\\"\x00\"] \x1b[2J\xe2\x82"
	{ H4, sizeof(H4) - 1 },
	{ "\0\0\0\0", 4 },
	{ "<13>\0\n\0", 7 },
	{ "\xff\xff\xff\xff<13>", 0 },
	{ "<13>1 - - - - - " BOM "\xed\xa0\x80\xf4\x90\x80\x80\xc0\xaf", 0 },
	{ "<13>\"\\\"\\u0000\"", 0 },
	{ "<13>\x7f\x7f\x7f\xc2\x80\xc2\x9f\xc2\xa0", 0 },
	{ "<0>Jan  1 00:00:00 -: -", 0 },
	{ "<13>app[:", 0 },
	{ "<13>[:", 0 },
	{ "<13>a[]:x", 0 },
	{ "<13>1 - - - - - [", 0 },
	{ "<13>1 - - - - - [\"]", 0 },
	{ "<13>1 - - - - - [a \"\\", 0 },
};

START_TEST(test_hostile_lines)
{
	const char *in = hostile[_i].in;
	size_t len = hostile[_i].len ? hostile[_i].len : strlen(in), n;
	struct syslog_ctx ctx;
	char *out;

	set_tz("UTC");
	ctx = ctx_for(T0, 1, "/tmp/\x1b[1m\n\xff", "h\x01st", true);
	out = format('r', in, len, &ctx, &n);
	ck_assert_msg(line_is_safe(out, n), "case %d raw: \"%.*s\"", _i, (int)n, out);
	free(out);
	out = format('s', in, len, &ctx, &n);
	ck_assert_msg(line_is_safe(out, n), "case %d syslog: \"%.*s\"", _i, (int)n, out);
	free(out);
	out = format('j', in, len, &ctx, &n);
	ck_assert_msg(json_line_is_valid(out, n), "case %d json: \"%.*s\"", _i, (int)n, out);
	free(out);
}
END_TEST

/* Every byte value in every position of a short message; and the worst-case bound. */
START_TEST(test_all_bytes_and_bound)
{
	uint8_t in[8];
	struct syslog_ctx ctx;
	struct syslog_msg m;
	static char out[syslog_line_max(65535)];
	static uint8_t big[65535];
	size_t n, i;
	int b;

	set_tz("UTC");
	ctx = ctx_for(T0, 1, "s", "h", false);
	for (b = 0; b < 256; b++) {
		for (i = 0; i < sizeof(in); i++) {
			memcpy(in, "<13>a: x", 8);
			in[i] = (uint8_t)b;
			syslog_parse(in, sizeof(in), &m);
			n = syslog_format_syslog(out, &m, &ctx);
			ck_assert_msg(line_is_safe(out, n), "byte %d at %zu", b, i);
			n = syslog_format_json(out, &m, &ctx);
			ck_assert_msg(json_line_is_valid(out, n), "byte %d at %zu", b, i);
			n = syslog_format_raw(out, in, sizeof(in), &ctx);
			ck_assert_msg(line_is_safe(out, n), "byte %d at %zu", b, i);
		}
	}
	/* The worst expansion: every byte invalid UTF-8, or a control. */
	memset(big, 0xff, sizeof(big));
	syslog_parse(big, sizeof(big), &m);
	n = syslog_format_json(out, &m, &ctx);
	ck_assert(n <= sizeof(out));
	ck_assert(json_line_is_valid(out, n));
	memset(big, 0x01, sizeof(big));
	syslog_parse(big, sizeof(big), &m);
	n = syslog_format_json(out, &m, &ctx);
	ck_assert(n <= sizeof(out) && n > 6 * 65000);
	n = syslog_format_raw(out, big, sizeof(big), &ctx);
	ck_assert(n <= sizeof(out) && line_is_safe(out, n));
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("syslog_fmt");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_parse_table, 0, (int)(sizeof(pcases) / sizeof(pcases[0])));
	tcase_add_test(tc, test_bom);
	tcase_add_test(tc, test_names);
	tcase_add_loop_test(tc, test_escape_table, 0, (int)(sizeof(ecases) / sizeof(ecases[0])));
	tcase_add_test(tc, test_clock);
	tcase_add_test(tc, test_format_lines);
	tcase_add_loop_test(tc, test_rsyslog_lines, 0, (int)(sizeof(rscases) / sizeof(rscases[0])));
	tcase_add_loop_test(tc, test_hostile_lines, 0,
	    (int)(sizeof(hostile) / sizeof(hostile[0])));
	tcase_add_test(tc, test_all_bytes_and_bound);
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
