/*
 * syslog_fmt.c: RFC 3164 / RFC 5424 parsing and line formatting. Pure and
 * per-datagram cheap: no allocation, no printf, no system call (localtime_r
 * runs once a second through struct syslog_clock).
 *
 * The parser follows what real senders put on the wire rather than the
 * letter of the RFCs (compare journald's syslog_parse_identifier() and
 * rsyslog's legacy parser): glibc syslog(3) and logger on a local socket
 * send "<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG" with no host; python's
 * SysLogHandler sends "<PRI>MSG\0"; logger --rfc5424 sends the full header.
 */
#include <errno.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "syslog_fmt.h"

static const char *const facility_names[SYSLOG_N_FACILITIES] = {
	"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
	"authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
};

static const char *const severity_names[SYSLOG_N_SEVERITIES] = {
	"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

static const char *const months[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static const char hexdigits[] = "0123456789abcdef";

/*
 * How each ASCII byte is written. C-style: 0 = as is, 'x' = \xHH, else a
 * backslash and that letter. JSON: 0 = as is, 'u' = \u00XX, else a
 * backslash and that letter.
 */
static const char esc_c[128] = {
	['\0'] = 'x', [0x01 ... 0x08] = 'x', ['\t'] = 't', ['\n'] = 'n', [0x0b] = 'x',
	[0x0c] = 'x', ['\r'] = 'r', [0x0e ... 0x1f] = 'x', ['\\'] = '\\', [0x7f] = 'x',
};

static const char esc_json[128] = {
	['\0'] = 'u', [0x01 ... 0x07] = 'u', ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n',
	[0x0b] = 'u', ['\f'] = 'f', ['\r'] = 'r', [0x0e ... 0x1f] = 'u', ['"'] = '"',
	['\\'] = '\\', [0x7f] = 'u',
};

const char *
syslog_facility_name(int facility)
{
	if (facility < 0 || facility >= SYSLOG_N_FACILITIES)
		return NULL;
	return facility_names[facility];
}

const char *
syslog_severity_name(int severity)
{
	if (severity < 0 || severity >= SYSLOG_N_SEVERITIES)
		return NULL;
	return severity_names[severity];
}

int
syslog_facility_from_string(const char *s)
{
	int i;

	for (i = 0; i < SYSLOG_N_FACILITIES; i++)
		if (strcmp(facility_names[i], s) == 0)
			return i;
	return -EINVAL;
}

int
syslog_severity_from_string(const char *s)
{
	static const struct {
		const char	*name;
		int		 sev;
	} aliases[] = { { "panic", 0 }, { "error", 3 }, { "warn", 4 } };
	size_t i;

	for (i = 0; i < SYSLOG_N_SEVERITIES; i++)
		if (strcmp(severity_names[i], s) == 0)
			return (int)i;
	for (i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcmp(aliases[i].name, s) == 0)
			return aliases[i].sev;
	return -EINVAL;
}

/* --- parsing --------------------------------------------------------------- */

size_t
syslog_strip_len(const uint8_t *data, size_t len)
{
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r' ||
	    data[len - 1] == '\0'))
		len--;
	return len;
}

static bool
is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* Parses "<N>" (N 0..191, 1-3 digits) at p; returns its length or 0. */
static size_t
parse_pri(const uint8_t *p, size_t n, int *ret)
{
	size_t i;
	int v = 0;

	if (n < 3 || p[0] != '<')
		return 0;
	for (i = 1; i < n && i <= 3 && is_digit(p[i]); i++)
		v = v * 10 + (p[i] - '0');
	if (i == 1 || i >= n || p[i] != '>' || v > 191)
		return 0;
	*ret = v;
	return i + 1;
}

/*
 * RFC 6587 octet counting, "LEN SP MSG", as logger --octet-count sends it
 * even in a datagram: the length of the prefix when LEN (no leading zero)
 * is exactly the number of bytes after it and they start with '<' (a
 * PRI), else 0: the datagram is taken as it is, so "6 apples" stays.
 */
static size_t
octet_count_len(const uint8_t *p, size_t n)
{
	size_t i, v = 0;

	for (i = 0; i < n && i < 6 && is_digit(p[i]); i++)
		v = v * 10 + (size_t)(p[i] - '0');
	if (i == 0 || p[0] == '0' || i + 1 >= n || p[i] != ' ' || v != n - i - 1 ||
	    p[i + 1] != '<')
		return 0;
	return i + 1;
}

int
syslog_parse_pri(const uint8_t *data, size_t len)
{
	size_t l = octet_count_len(data, len);
	int pri = SYSLOG_PRI_DEFAULT;

	(void)parse_pri(data + l, len - l, &pri);
	return pri;
}

/* Length of the token at p (up to a space or the end). */
static size_t
token_len(const uint8_t *p, size_t n)
{
	const uint8_t *sp = memchr(p, ' ', n);

	return sp != NULL ? (size_t)(sp - p) : n;
}

static bool
digits(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!is_digit(p[i]))
			return false;
	return true;
}

/* "hh:mm:ss" */
static bool
is_clock(const uint8_t *p, size_t n)
{
	return n >= 8 && digits(p, 2) && p[2] == ':' && digits(p + 3, 2) && p[5] == ':' &&
	    digits(p + 6, 2);
}

#define MON(a, b, c)	((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16)

/* "Jan".."Dec" at p (3 bytes): one switch, not twelve comparisons. */
static bool
is_month(const uint8_t *p)
{
	switch (MON(p[0], p[1], p[2])) {
	case MON('J', 'a', 'n'): case MON('F', 'e', 'b'): case MON('M', 'a', 'r'):
	case MON('A', 'p', 'r'): case MON('M', 'a', 'y'): case MON('J', 'u', 'n'):
	case MON('J', 'u', 'l'): case MON('A', 'u', 'g'): case MON('S', 'e', 'p'):
	case MON('O', 'c', 't'): case MON('N', 'o', 'v'): case MON('D', 'e', 'c'):
		return true;
	default:
		return false;
	}
}

static int num2(const uint8_t *p);

/*
 * An RFC 3164 timestamp "Mmm dd hh:mm:ss" (day space-padded or not, time
 * in range), tolerating what network equipment sends: fractional seconds,
 * a year before the time ("Mmm dd yyyy hh:mm:ss", Cisco ASA) or before the
 * month ("yyyy Mmm dd hh:mm:ss", Cisco NX-OS) and a colon after the time
 * ("hh:mm:ss:", Cisco). Returns its length or 0.
 */
static size_t
ts_3164(const uint8_t *p, size_t n)
{
	size_t i, y = 0;

	if (n >= 19 && digits(p, 4) && p[4] == ' ')
		y = 5;
	p += y;
	n -= y;
	if (n < 14 || !is_month(p) || p[3] != ' ')
		return 0;
	i = 4;
	if (p[i] == ' ')
		i++;
	if (i < n && is_digit(p[i]))
		i++;
	if (i < n && is_digit(p[i]))
		i++;
	if (i == 4 || i >= n || p[i] != ' ' || !is_digit(p[i - 1]))
		return 0;
	i++;
	if (n - i >= 5 && digits(p + i, 4) && p[i + 4] == ' ')
		i += 5;
	if (!is_clock(p + i, n - i) || num2(p + i) > 23 || num2(p + i + 3) > 59 ||
	    num2(p + i + 6) > 60)
		return 0;
	i += 8;
	if (i + 1 < n && p[i] == '.' && is_digit(p[i + 1]))
		for (i++; i < n && is_digit(p[i]); i++)
			;
	if (i < n && p[i] == ':' && (i + 1 == n || p[i + 1] == ' '))
		i++;
	return y + i;
}

/* The two digits at p as a number (they are digits). */
static int
num2(const uint8_t *p)
{
	return (p[0] - '0') * 10 + (p[1] - '0');
}

/*
 * An RFC 3339 timestamp "yyyy-mm-ddThh:mm:ss[.frac](Z|+hh:mm)", fields in
 * range (a leap second allowed); its length or 0.
 */
static size_t
ts_3339(const uint8_t *p, size_t n)
{
	size_t i;

	if (n < 20 || !digits(p, 4) || p[4] != '-' || !digits(p + 5, 2) || p[7] != '-' ||
	    !digits(p + 8, 2) || (p[10] != 'T' && p[10] != 't') || !is_clock(p + 11, n - 11))
		return 0;
	if (num2(p + 5) < 1 || num2(p + 5) > 12 || num2(p + 8) < 1 || num2(p + 8) > 31 ||
	    num2(p + 11) > 23 || num2(p + 14) > 59 || num2(p + 17) > 60)
		return 0;
	i = 19;
	if (i + 1 < n && p[i] == '.' && is_digit(p[i + 1]))
		for (i++; i < n && is_digit(p[i]); i++)
			;
	if (i < n && (p[i] == 'Z' || p[i] == 'z'))
		return i + 1;
	if (n - i >= 6 && (p[i] == '+' || p[i] == '-') && digits(p + i + 1, 2) &&
	    p[i + 3] == ':' && digits(p + i + 4, 2))
		return i + 6;
	return 0;
}

static bool
host_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '.' ||
	    c == '-' || c == '_' || c == ':';
}

/*
 * A host name token followed by a space: host characters only, and not
 * ending with ':' (that is a tag, as in glibc's "tag: msg" with no host).
 */
static size_t
host_3164(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && p[i] != ' '; i++)
		if (!host_char(p[i]))
			return 0;
	if (i == 0 || i == n || p[i - 1] == ':')
		return 0;
	return i;
}

static struct syslog_span
span(const uint8_t *p, size_t n)
{
	return (struct syslog_span){ p, n };
}

/*
 * "TAG:" or "TAG[PID]:" as the first word (journald's rule: the word must
 * end with ':'). Returns the length consumed, the one space after the
 * colon included, or 0 when there is no tag.
 */
static size_t
tag_3164(const uint8_t *p, size_t n, struct syslog_msg *m)
{
	size_t w = token_len(p, n), t;
	const uint8_t *lb;

	if (w < 2 || p[w - 1] != ':')
		return 0;
	t = w - 1;
	lb = memchr(p, '[', t);
	if (lb != NULL && p[t - 1] == ']') {
		size_t a = (size_t)(lb - p);

		if (a == 0)
			return 0;
		m->app = span(p, a);
		m->procid = span(lb + 1, t - a - 2);
	} else {
		m->app = span(p, t);
	}
	return w < n ? w + 1 : w;
}

static void
parse_3164(const uint8_t *p, size_t n, struct syslog_msg *m)
{
	size_t l;

	m->proto = SYSLOG_PROTO_RFC3164;
	l = ts_3164(p, n);
	if (l == 0)
		l = ts_3339(p, n);
	if (l > 0 && (l == n || p[l] == ' ')) {
		m->timestamp = span(p, l);
		p += l;
		n -= l;
		if (n > 0) {
			p++;
			n--;
		}
		/* Only a message with a timestamp may carry a host. */
		l = host_3164(p, n);
		if (l > 0) {
			m->host = span(p, l);
			p += l + 1;
			n -= l + 1;
		}
	}
	l = tag_3164(p, n, m);
	p += l;
	n -= l;
	m->msg = span(p, n);
}

/* One RFC 5424 header field; "-" is nil. Advances past it and its space. */
static struct syslog_span
field_5424(const uint8_t **p, size_t *n)
{
	size_t l = token_len(*p, *n);
	struct syslog_span s = span(*p, l);

	if (l == 1 && (*p)[0] == '-')
		s = span(*p, 0);
	*p += l;
	*n -= l;
	if (*n > 0) {
		(*p)++;
		(*n)--;
	}
	return s;
}

/*
 * The length of STRUCTURED-DATA elements "[id k="v" ...]..." at p, where a
 * quoted value may contain \" \\ \]. Returns 0 when malformed.
 */
static size_t
sd_len(const uint8_t *p, size_t n)
{
	size_t i = 0;
	bool quoted;

	while (i < n && p[i] == '[') {
		quoted = false;
		for (i++; i < n; i++) {
			if (quoted && p[i] == '\\' && i + 1 < n)
				i++;
			else if (p[i] == '"')
				quoted = !quoted;
			else if (!quoted && p[i] == ']')
				break;
		}
		if (i == n)
			return 0;
		i++;
	}
	return i;
}

static void
parse_5424(const uint8_t *p, size_t n, struct syslog_msg *m)
{
	size_t l;

	m->proto = SYSLOG_PROTO_RFC5424;
	m->timestamp = field_5424(&p, &n);
	m->host = field_5424(&p, &n);
	m->app = field_5424(&p, &n);
	m->procid = field_5424(&p, &n);
	m->msgid = field_5424(&p, &n);
	if (n > 0 && p[0] == '-' && (n == 1 || p[1] == ' ')) {
		p++;
		n--;
	} else if (n > 0 && p[0] == '[' && (l = sd_len(p, n)) > 0 && (l == n || p[l] == ' ')) {
		m->sd = span(p, l);
		p += l;
		n -= l;
	}
	/* Malformed SD: keep it all as the message rather than lose it. */
	if (n > 0 && p[0] == ' ') {
		p++;
		n--;
	}
	if (n >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf) {
		m->bom = true;
		p += 3;
		n -= 3;
	}
	m->msg = span(p, n);
}

/*
 * "1 " then "-" or an RFC 3339 time stamp, each followed by a space or the
 * end, starts an RFC 5424 header (rsyslog's rule): "<12>1 disk failed"
 * and "<13>2 files copied" are RFC 3164 messages that begin with a digit.
 */
static bool
is_5424(const uint8_t *p, size_t n)
{
	size_t l;

	if (n < 3 || p[0] != '1' || p[1] != ' ')
		return false;
	l = p[2] == '-' ? 1 : ts_3339(p + 2, n - 2);
	return l > 0 && (l == n - 2 || p[2 + l] == ' ');
}

void
syslog_parse(const uint8_t *data, size_t len, struct syslog_msg *ret)
{
	struct syslog_msg *m = ret;
	size_t l = octet_count_len(data, len);
	const uint8_t *p = data + l;
	size_t n = syslog_strip_len(p, len - l);
	int pri = SYSLOG_PRI_DEFAULT;

	/* Filled in place: no copy of the whole struct per datagram. */
	*m = (struct syslog_msg){ 0 };
	m->payload_len = n;
	l = parse_pri(p, n, &pri);
	m->has_pri = l > 0;
	m->pri = pri;
	m->facility = pri / 8;
	m->severity = pri % 8;
	p += l;
	n -= l;
	if (is_5424(p, n) && m->has_pri) {
		m->version = 1;
		parse_5424(p + 2, n - 2, m);
	} else {
		parse_3164(p, n, m);
	}
}

/* --- escaping -------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence of 2-4 bytes at p, or 0. */
static size_t
utf8_len(const uint8_t *p, size_t n)
{
	uint8_t c = p[0], lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (c >= 0xc2 && c <= 0xdf)
		need = 2;
	else if (c >= 0xe0 && c <= 0xef)
		need = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;		/* overlong */
	else if (c == 0xed)
		hi = 0x9f;		/* surrogates */
	else if (c == 0xf0)
		lo = 0x90;		/* overlong */
	else if (c == 0xf4)
		hi = 0x8f;		/* beyond U+10FFFF */
	if (n < need || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < need; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return need;
}

/*
 * Eight bytes at a time (the common case: printable ASCII goes out as is).
 * The classic bit tricks (Anderson's "Bit Twiddling Hacks": haszero,
 * hasless) tell whether any byte of a word is below 0x20, equal to a given
 * byte, or has its high bit set; such a word is then done byte by byte.
 */
#define ONES	0x0101010101010101ull
#define HIGHS	0x8080808080808080ull

static inline uint64_t
has_byte(uint64_t w, uint8_t c)
{
	uint64_t x = w ^ (ONES * c);

	return (x - ONES) & ~x;
}

/* True when no byte of w needs a C-style escape (< 0x20, '\\', 0x7f, >= 0x80). */
static inline bool
word_plain_c(uint64_t w)
{
	return ((((w - ONES * 0x20) & ~w) | has_byte(w, '\\') | has_byte(w, 0x7f) | w) &
	    HIGHS) == 0;
}

/* True when no byte of w needs a JSON escape (< 0x20, '"', '\\', 0x7f, >= 0x80). */
static inline bool
word_plain_json(uint64_t w)
{
	return ((((w - ONES * 0x20) & ~w) | has_byte(w, '"') | has_byte(w, '\\') |
	    has_byte(w, 0x7f) | w) & HIGHS) == 0;
}

#ifdef __SSE2__
/* True when none of the 16 bytes at p needs an escape (a signed "< 0x20" also catches >= 0x80). */
static inline bool
block_plain(const uint8_t *p, bool json)
{
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p), bad;

	bad = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
	    _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\')),
	    _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f))));
	if (json)
		bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
	return _mm_movemask_epi8(bad) == 0;
}
#endif

/* True when none of the 8 bytes at p needs an escape. */
static inline bool
word_plain(const uint8_t *p, bool json)
{
	uint64_t w;

	memcpy(&w, p, 8);
	return json ? word_plain_json(w) : word_plain_c(w);
}

/*
 * Copies the longest prefix of p[0..n) found plain a block at a time
 * (the tail as the last block, overlapping what was copied) and returns
 * its length; the caller goes on byte by byte from there. Output offsets
 * equal input offsets within the prefix.
 */
static inline __attribute__((always_inline)) size_t
copy_plain(char *o, const uint8_t *p, size_t n, bool json)
{
	size_t i = 0;

#ifdef __SSE2__
	while (n - i >= 16 && block_plain(p + i, json)) {
		memcpy(o + i, p + i, 16);
		i += 16;
	}
	if (i >= 16 && i < n && n - i < 16 && block_plain(p + n - 16, json)) {
		memcpy(o + n - 16, p + n - 16, 16);
		return n;
	}
#endif
	while (n - i >= 8 && word_plain(p + i, json)) {
		memcpy(o + i, p + i, 8);
		i += 8;
	}
	if (i >= 8 && i < n && n - i < 8 && word_plain(p + n - 8, json)) {
		memcpy(o + n - 8, p + n - 8, 8);
		return n;
	}
	return i;
}

static char *
put_hex(char *o, uint8_t c)
{
	o[0] = '\\';
	o[1] = 'x';
	o[2] = hexdigits[c >> 4];
	o[3] = hexdigits[c & 15];
	return o + 4;
}

size_t
syslog_escape_c(char *out, const uint8_t *p, size_t n)
{
	char *o = out;
	size_t i = 0, run, l, k;

	if (n == 0)
		return 0;
	while (i < n) {
		if (n - i >= 8) {
			k = copy_plain(o, p + i, n - i, false);
			o += k;
			i += k;
		}
		for (run = i; run < n && p[run] < 0x80 && esc_c[p[run]] == 0; run++)
			*o++ = (char)p[run];
		i = run;
		if (i == n)
			break;
		if (p[i] < 0x80) {
			if (esc_c[p[i]] == 'x') {
				o = put_hex(o, p[i]);
			} else {
				*o++ = '\\';
				*o++ = esc_c[p[i]];
			}
			i++;
			continue;
		}
		l = utf8_len(p + i, n - i);
		if (l == 0) {
			o = put_hex(o, p[i++]);
		} else if (p[i] == 0xc2 && p[i + 1] <= 0x9f) {
			/* C1 control: CSI (U+009B) and friends reach terminals. */
			o = put_hex(o, p[i]);
			o = put_hex(o, p[i + 1]);
			i += 2;
		} else {
			memcpy(o, p + i, l);
			o += l;
			i += l;
		}
	}
	return (size_t)(o - out);
}

static char *
put_u00(char *o, uint8_t c)
{
	o[0] = '\\';
	o[1] = 'u';
	o[2] = '0';
	o[3] = '0';
	o[4] = hexdigits[c >> 4];
	o[5] = hexdigits[c & 15];
	return o + 6;
}

size_t
syslog_escape_json(char *out, const uint8_t *p, size_t n)
{
	char *o = out;
	size_t i = 0, run, l, k;

	if (n == 0)
		return 0;
	while (i < n) {
		if (n - i >= 8) {
			k = copy_plain(o, p + i, n - i, true);
			o += k;
			i += k;
		}
		for (run = i; run < n && p[run] < 0x80 && esc_json[p[run]] == 0; run++)
			*o++ = (char)p[run];
		i = run;
		if (i == n)
			break;
		if (p[i] < 0x80) {
			if (esc_json[p[i]] == 'u') {
				o = put_u00(o, p[i]);
			} else {
				*o++ = '\\';
				*o++ = esc_json[p[i]];
			}
			i++;
			continue;
		}
		l = utf8_len(p + i, n - i);
		if (l == 0) {
			static const char repl[6] = { '\\', 'u', 'f', 'f', 'f', 'd' };

			memcpy(o, repl, sizeof(repl));
			o += sizeof(repl);
			i++;
		} else if (p[i] == 0xc2 && p[i + 1] <= 0x9f) {
			o = put_u00(o, p[i + 1]);
			i += 2;
		} else {
			memcpy(o, p + i, l);
			o += l;
			i += l;
		}
	}
	return (size_t)(o - out);
}

/* --- time ------------------------------------------------------------------ */

/* Renders "2024-11-25T10:00:00.123456+01:00" (32 bytes) for usec within c's second. */
static void
render_time(char *o, const struct syslog_clock *c, long usec)
{
	static const char pairs[200] =
	    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	    "8081828384858687888990919293949596979899";
	unsigned us = (unsigned)usec % 1000000u;

	/* Fixed-size copies and three digit pairs: no loop, no call. */
	memcpy(o, c->rfc3339, 19);
	o[19] = '.';
	memcpy(o + 20, pairs + 2 * (size_t)(us / 10000), 2);
	memcpy(o + 22, pairs + 2 * (size_t)(us / 100 % 100), 2);
	memcpy(o + 24, pairs + 2 * (size_t)(us % 100), 2);
	memcpy(o + 26, c->zone, 6);
}

static char *
put2(char *o, int v)
{
	o[0] = (char)('0' + (v / 10) % 10);
	o[1] = (char)('0' + v % 10);
	return o + 2;
}

void
syslog_clock_update(struct syslog_clock *c, const struct timespec *ts)
{
	struct tm tm;
	long off;
	int y;
	char *o;

	if (c->valid && c->sec == ts->tv_sec) {
		if (c->usec != ts->tv_nsec / 1000) {
			c->usec = ts->tv_nsec / 1000;
			render_time(c->time, c, c->usec);
		}
		return;
	}
	if (localtime_r(&ts->tv_sec, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	memcpy(c->rfc3164, months[(unsigned)tm.tm_mon % 12], 3);
	c->rfc3164[3] = ' ';
	c->rfc3164[4] = tm.tm_mday < 10 ? ' ' : (char)('0' + tm.tm_mday / 10);
	c->rfc3164[5] = (char)('0' + tm.tm_mday % 10);
	c->rfc3164[6] = ' ';
	o = put2(c->rfc3164 + 7, tm.tm_hour);
	*o++ = ':';
	o = put2(o, tm.tm_min);
	*o++ = ':';
	o = put2(o, tm.tm_sec);
	*o = '\0';

	y = tm.tm_year + 1900;
	if (y < 0)
		y = 0;
	o = put2(c->rfc3339, (y / 100) % 100);
	o = put2(o, y % 100);
	*o++ = '-';
	o = put2(o, tm.tm_mon + 1);
	*o++ = '-';
	o = put2(o, tm.tm_mday);
	*o++ = 'T';
	memcpy(o, c->rfc3164 + 7, 8);
	o[8] = '\0';

	off = tm.tm_gmtoff / 60;
	c->zone[0] = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	o = put2(c->zone + 1, (int)(off / 60) % 100);
	*o++ = ':';
	o = put2(o, (int)(off % 60));
	*o = '\0';
	c->sec = ts->tv_sec;
	c->valid = true;
	c->usec = ts->tv_nsec / 1000;
	render_time(c->time, c, c->usec);
}

/* --- line formatting ------------------------------------------------------- */

static char *
put(char *o, const char *s, size_t n)
{
	memcpy(o, s, n);
	return o + n;
}

#define PUT_LIT(o, lit)	put((o), (lit), sizeof(lit) - 1)

static char *
put_uint(char *o, unsigned long long v)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return put(o, tmp + i, sizeof(tmp) - i);
}

/* The receive time; a batch's datagrams share one, rendered once by the clock. */
static char *
put_time(char *o, const struct syslog_ctx *ctx)
{
	if (ctx->usec == ctx->clock->usec)
		memcpy(o, ctx->clock->time, 32);
	else
		render_time(o, ctx->clock, ctx->usec);
	return o + 32;
}

static char *
put_c(char *o, const void *p, size_t n)
{
	return o + syslog_escape_c(o, p, n);
}

size_t
syslog_format_raw(char *out, const uint8_t *data, size_t len, const struct syslog_ctx *ctx)
{
	char *o = out;

	o = put_time(o, ctx);
	*o++ = ' ';
	if (ctx->sender_plain)
		o = put(o, ctx->sender, ctx->sender_len);
	else
		o = put_c(o, ctx->sender, ctx->sender_len);
	*o++ = ' ';
	o = put_c(o, data, syslog_strip_len(data, len));
	*o++ = '\n';
	return (size_t)(o - out);
}

/*
 * True when "[HOST ]APP[PID]: MSG" of an RFC 3164 message is in the
 * datagram exactly as the syslog line writes it (the usual case), so it
 * can be escaped as one span from its first field, *ret. Escaping is per
 * character and the separators are ASCII, so this gives the same bytes as
 * escaping each field. Every byte read lies before msg.p, in the datagram.
 */
static bool
as_sent_3164(const struct syslog_msg *m, const uint8_t **ret)
{
	const uint8_t *e;

	if (m->proto != SYSLOG_PROTO_RFC3164 || m->app.len == 0 || m->sd.len > 0)
		return false;
	e = m->app.p + m->app.len;
	if (m->procid.len > 0) {
		/* tag_3164: "APP[PID]:", so ']' and ':' follow PID. */
		if (m->procid.p != e + 1 || e[0] != '[')
			return false;
		e = m->procid.p + m->procid.len;
		if (e[0] != ']')
			return false;
		e++;
	}
	if (m->msg.p != e + 2 || e[0] != ':' || e[1] != ' ')
		return false;
	if (m->host.len > 0 &&
	    (m->host.p + m->host.len + 1 != m->app.p || m->app.p[-1] != ' '))
		return false;
	*ret = m->host.len > 0 ? m->host.p : m->app.p;
	return true;
}

size_t
syslog_format_syslog(char *out, const struct syslog_msg *m, const struct syslog_ctx *ctx)
{
	const uint8_t *start;
	char *o = out;

	o = put(o, ctx->clock->rfc3164, 15);
	*o++ = ' ';
	if (as_sent_3164(m, &start)) {
		if (m->host.len == 0 && ctx->host_len > 0) {
			o = put_c(o, ctx->host, ctx->host_len);
			*o++ = ' ';
		}
		o = put_c(o, start, (size_t)(m->msg.p + m->msg.len - start));
		*o++ = '\n';
		return (size_t)(o - out);
	}
	if (m->host.len > 0) {
		o = put_c(o, m->host.p, m->host.len);
		*o++ = ' ';
	} else if (ctx->host_len > 0) {
		o = put_c(o, ctx->host, ctx->host_len);
		*o++ = ' ';
	}
	if (m->app.len > 0 || m->procid.len > 0) {
		if (m->app.len > 0)
			o = put_c(o, m->app.p, m->app.len);
		else
			*o++ = '-';
		if (m->procid.len > 0) {
			*o++ = '[';
			o = put_c(o, m->procid.p, m->procid.len);
			*o++ = ']';
		}
		o = PUT_LIT(o, ": ");
	}
	if (m->sd.len > 0) {
		o = put_c(o, m->sd.p, m->sd.len);
		if (m->msg.len > 0)
			*o++ = ' ';
	}
	o = put_c(o, m->msg.p, m->msg.len);
	*o++ = '\n';
	return (size_t)(o - out);
}

/* Bytes a JSON string holds as they are. */
static const uint8_t json_plain[256] = {
	[0x20 ... 0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7e] = 1,	/* not '"', '\\' */
};

/*
 * A JSON string's content. Short fields (host, tag, pid, timestamp,
 * message) are checked with two overlapping loads, the first and the last
 * block of the field, and copied the same way: no loop, no call, for the
 * common case; anything else goes through the escape.
 */
static char *
put_jstr(char *o, const uint8_t *p, size_t n)
{
	uint32_t a, b;
	unsigned plain = 1;
	size_t i;

#ifdef __SSE2__
	if (n >= 16 && n <= 32) {
		if (!block_plain(p, true) || !block_plain(p + n - 16, true))
			return o + syslog_escape_json(o, p, n);
		memcpy(o, p, 16);
		memcpy(o + n - 16, p + n - 16, 16);
		return o + n;
	}
#endif
	if (n >= 8 && n < 16) {
		if (!word_plain(p, true) || !word_plain(p + n - 8, true))
			return o + syslog_escape_json(o, p, n);
		memcpy(o, p, 8);
		memcpy(o + n - 8, p + n - 8, 8);
		return o + n;
	}
	if (n >= 4 && n < 8) {
		memcpy(&a, p, 4);
		memcpy(&b, p + n - 4, 4);
		if (!word_plain_json((uint64_t)a | (uint64_t)b << 32))
			return o + syslog_escape_json(o, p, n);
		memcpy(o, &a, 4);
		memcpy(o + n - 4, &b, 4);
		return o + n;
	}
	if (n >= 4)
		return o + syslog_escape_json(o, p, n);
	for (i = 0; i < n; i++) {
		o[i] = (char)p[i];
		plain &= json_plain[p[i]];
	}
	return plain ? o + n : o + syslog_escape_json(o, p, n);
}

/* ,"key":"escaped value" */
static char *
put_jfield(char *o, const char *key, size_t klen, const void *p, size_t n)
{
	*o++ = ',';
	*o++ = '"';
	o = put(o, key, klen);
	o = PUT_LIT(o, "\":\"");
	o = put_jstr(o, p, n);
	*o++ = '"';
	return o;
}

#define PUT_JFIELD(o, key, span) \
	((span).len > 0 ? put_jfield((o), (key), sizeof(key) - 1, (span).p, (span).len) : (o))

size_t
syslog_format_json(char *out, const struct syslog_msg *m, const struct syslog_ctx *ctx)
{
	const char *fac = syslog_facility_name(m->facility);
	const char *sev = syslog_severity_name(m->severity);
	char *o = out;

	o = PUT_LIT(o, "{\"time\":\"");
	o = put_time(o, ctx);
	o = PUT_LIT(o, "\",\"facility\":\"");
	while (*fac != '\0')		/* a few bytes: no strlen, no memcpy call */
		*o++ = *fac++;
	o = PUT_LIT(o, "\",\"severity\":\"");
	while (*sev != '\0')
		*o++ = *sev++;
	o = PUT_LIT(o, "\",\"pri\":");
	o = put_uint(o, (unsigned)m->pri);
	o = PUT_JFIELD(o, "timestamp", m->timestamp);
	if (m->host.len > 0)
		o = PUT_JFIELD(o, "host", m->host);
	else if (ctx->host_len > 0)
		o = put_jfield(o, "host", 4, ctx->host, ctx->host_len);
	o = PUT_JFIELD(o, "app", m->app);
	o = PUT_JFIELD(o, "procid", m->procid);
	o = PUT_JFIELD(o, "msgid", m->msgid);
	o = PUT_JFIELD(o, "sd", m->sd);
	o = put_jfield(o, "message", 7, m->msg.p, m->msg.len);
	if (ctx->sender_plain) {
		o = PUT_LIT(o, ",\"sender\":\"");
		o = put(o, ctx->sender, ctx->sender_len);
		*o++ = '"';
	} else {
		o = put_jfield(o, "sender", 6, ctx->sender, ctx->sender_len);
	}
	o = PUT_LIT(o, ",\"size\":");
	o = put_uint(o, ctx->size);
	if (ctx->has_cred) {
		o = PUT_LIT(o, ",\"pid\":");
		o = put_uint(o, (unsigned long long)ctx->pid);
		o = PUT_LIT(o, ",\"uid\":");
		o = put_uint(o, ctx->uid);
		o = PUT_LIT(o, ",\"gid\":");
		o = put_uint(o, ctx->gid);
	}
	o = PUT_LIT(o, "}\n");
	return (size_t)(o - out);
}

/* --- rsyslog compatibility ------------------------------------------------- */

/*
 * What rsyslogd (8.2302, default settings) makes of a datagram, learnt by
 * running it on tests/corpus/syslog-datagrams.txt:
 * - on reception one trailing NUL, then one trailing LF, is dropped and
 *   every byte below 0x20 becomes "#ooo" (tab included); nothing else is
 *   escaped (not DEL, not C1, not invalid UTF-8, not the backslash);
 * - imudp: "<PRI>" (digits up to 191) or no PRI at all; a '<' that does
 *   not start a valid PRI leaves the whole text as the message, with no
 *   tag. "1 " with a time stamp is RFC 5424: TAG is APP-NAME[PROCID] with
 *   no colon, nil fields are written as "-", STRUCTURED-DATA is not
 *   written. Otherwise: an RFC 3339 or RFC 3164 time stamp (case-blind
 *   month, day padded or not, a year before the time, a fraction, a colon
 *   after the time, a year before the month), then, time stamp or not, a
 *   host name (letters, digits, ".", "_", "-", ending with a letter or
 *   digit) when a space follows, then TAG: everything up to a ':'
 *   (included) or a space, none when the text starts with '[';
 * - TIMESTAMP is the one the message carries, written "Mmm dd hh:mm:ss"
 *   from its own fields (no time zone conversion), else the receive time;
 * - imuxsock ("special parser"): the PRI is skipped as "<" digits ">"
 *   whatever the bytes are, a valid time stamp is skipped (16 bytes) and
 *   replaced by the receive time, TAG is everything up to a space, and the
 *   host is the local one;
 * - the line is "TIMESTAMP HOSTNAME TAG" then MSG with a space put in
 *   front when MSG does not start with one.
 */
struct rs_time {
	bool	valid;
	int	mon, day, hh, mm, ss;
};

struct rs_view {
	struct rs_time		ts;
	struct syslog_span	host;		/* absent: ctx->host */
	struct syslog_span	tag;		/* as sent, or RFC 5424 APP-NAME */
	struct syslog_span	pid;		/* RFC 5424 PROCID, written "[PID]" */
	struct syslog_span	msg;
};

/* A decimal number at *p (any number of digits); -1 when there is none. */
static int
rs_int(const uint8_t **p, const uint8_t *e)
{
	int v = -1;

	for (; *p < e && is_digit(**p); (*p)++)
		v = v < 0 ? **p - '0' : v < 100000 ? v * 10 + (**p - '0') : v;
	return v;
}

static bool
rs_alnum(uint8_t c)
{
	return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* A month name in any case; its index or -1. */
static int
rs_month(const uint8_t *p, size_t n)
{
	int i;

	if (n < 3)
		return -1;
	for (i = 0; i < 12; i++)
		if ((p[0] | 0x20) == (months[i][0] | 0x20) && (p[1] | 0x20) == months[i][1] &&
		    (p[2] | 0x20) == months[i][2] && rs_alnum(p[0]))
			return i;
	return -1;
}

/* rsyslog's RFC 3164 time stamp, with the space after it; length or 0. */
static size_t
rs_ts_3164(const uint8_t *p, size_t n, struct rs_time *t)
{
	const uint8_t *q = p, *e = p + n;
	int mon, day, h, mi, s;

	if (n > 5 && digits(p, 4) && p[4] == ' ')	/* "yyyy Mmm dd hh:mm:ss" */
		q += 5;
	mon = rs_month(q, (size_t)(e - q));
	q += 3;
	if (mon < 0 || q >= e || *q++ != ' ')
		return 0;
	if (q < e && *q == ' ')
		q++;
	day = rs_int(&q, e);
	if (day < 1 || day > 31 || q >= e || *q++ != ' ')
		return 0;
	h = rs_int(&q, e);
	if (h >= 0 && q < e && *q == ' ') {	/* "Mmm dd yyyy hh:mm:ss" */
		q++;
		h = rs_int(&q, e);
	}
	if (h < 0 || h > 23 || q >= e || *q++ != ':')
		return 0;
	mi = rs_int(&q, e);
	if (mi < 0 || mi > 59 || q >= e || *q++ != ':')
		return 0;
	s = rs_int(&q, e);
	if (s < 0 || s > 60)
		return 0;
	if (q + 1 < e && *q == '.' && is_digit(q[1]))
		for (q++; q < e && is_digit(*q); q++)
			;
	if (q < e && *q == ':')			/* Cisco: "hh:mm:ss: " */
		q++;
	if (q < e && *q++ != ' ')
		return 0;
	*t = (struct rs_time){ true, mon, day, h, mi, s };
	return (size_t)(q - p);
}

/* An RFC 3339 time stamp with the space after it; length or 0. */
static size_t
rs_ts_3339(const uint8_t *p, size_t n, struct rs_time *t)
{
	size_t l = ts_3339(p, n);

	if (l == 0 || (l < n && p[l] != ' '))
		return 0;
	*t = (struct rs_time){ true, num2(p + 5) - 1, num2(p + 8), num2(p + 11), num2(p + 14),
	    num2(p + 17) };
	return l < n ? l + 1 : l;
}

/* The next RFC 5424 header field and the space after it. */
static struct syslog_span
rs_field(const uint8_t **p, size_t *n)
{
	size_t l = token_len(*p, *n);
	struct syslog_span s = span(*p, l);

	l += l < *n;
	*p += l;
	*n -= l;
	return s;
}

static void
rs_parse_5424(const uint8_t *p, size_t n, struct rs_view *v)
{
	struct syslog_span procid;
	size_t l;

	if (p[0] == '-') {
		l = n > 1 ? 2 : 1;
	} else {
		l = rs_ts_3339(p, n, &v->ts);
		if (l == 0) {
			v->msg = span(p, n);
			return;
		}
	}
	p += l;
	n -= l;
	v->host = rs_field(&p, &n);
	v->tag = rs_field(&p, &n);
	procid = rs_field(&p, &n);
	if (procid.len > 0 && !(procid.len == 1 && procid.p[0] == '-'))
		v->pid = procid;
	(void)rs_field(&p, &n);			/* MSGID */
	if (n > 0 && p[0] == '-') {
		p++;
		n--;
	} else if (n > 0 && p[0] == '[' && (l = sd_len(p, n)) > 0) {
		p += l;
		n -= l;
	}
	if (n > 0 && p[0] == ' ') {
		p++;
		n--;
	}
	v->msg = span(p, n);
}

/* imudp with rsyslog's parser chain (pmrfc5424, pmrfc3164). */
static void
rs_parse_net(const uint8_t *p, size_t n, struct rs_view *v)
{
	size_t i, l;
	int pri = 0;

	if (n > 0 && p[0] == '<') {
		for (i = 1; i < n && is_digit(p[i]) && pri <= 191; i++)
			pri = pri * 10 + (p[i] - '0');
		if (i == 1 || i >= n || p[i] != '>' || pri > 191) {
			v->msg = span(p, n);
			return;
		}
		p += i + 1;
		n -= i + 1;
	}
	if (is_5424(p, n)) {
		rs_parse_5424(p + 2, n - 2, v);
		return;
	}
	l = rs_ts_3339(p, n, &v->ts);
	if (l == 0)
		l = rs_ts_3164(p, n, &v->ts);
	p += l;
	n -= l;
	for (i = 0; i < n && (rs_alnum(p[i]) || p[i] == '.' || p[i] == '_' || p[i] == '-'); i++)
		;
	if (i > 0 && (i == n || (p[i] == ' ' && rs_alnum(p[i - 1])))) {
		v->host = span(p, i);
		i += i < n;
		p += i;
		n -= i;
	}
	/* A TAG does not start with '[' ("[x] text" has none). */
	for (i = 0; i < n && p[0] != '[' && p[i] != ':' && p[i] != ' '; i++)
		;
	i += i < n && p[i] == ':';
	v->tag = span(p, i);
	v->msg = span(p + i, n - i);
}

/* imuxsock's special parser. */
static void
rs_parse_local(const uint8_t *p, size_t n, struct rs_view *v)
{
	struct rs_time t;
	const uint8_t *e;
	size_t i = 1, l, rem;

	while (i < n && is_digit(p[i]))
		i++;
	i = i < n ? i + 1 : n;			/* the '>' */
	p += i;
	n -= i;
	e = p + n;
	l = rs_ts_3339(p, n, &t);
	if (l == 0)
		l = rs_ts_3164(p, n, &t);
	/* The time stamp is overwritten with 16 bytes of receive time. */
	if (l > 0)
		p += n < 16 ? n : 16;
	rem = n - l;
	for (i = 0; rem > 0 && p + i < e && p[i] != ' '; i++)
		rem--;
	v->tag = span(p, i);
	v->msg = span(e - rem, rem);
}

/* Bytes below 0x20 as "#ooo", the rest as they are. */
static char *
put_rs(char *o, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] >= 0x20) {
			*o++ = (char)p[i];
			continue;
		}
		*o++ = '#';
		*o++ = (char)('0' + (p[i] >> 6));
		*o++ = (char)('0' + ((p[i] >> 3) & 7));
		*o++ = (char)('0' + (p[i] & 7));
	}
	return o;
}

size_t
syslog_format_rsyslog(char *out, const uint8_t *data, size_t len, bool local,
    const struct syslog_ctx *ctx)
{
	struct rs_view v = { 0 };
	size_t l = octet_count_len(data, len);
	const uint8_t *p = data + l;
	size_t n = len - l;
	char *o = out;

	if (n > 0 && p[n - 1] == '\0')
		n--;
	if (n > 0 && p[n - 1] == '\n')
		n--;
	if (local)
		rs_parse_local(p, n, &v);
	else
		rs_parse_net(p, n, &v);
	if (v.ts.valid) {
		o = put(o, months[v.ts.mon], 3);
		*o++ = ' ';
		*o++ = v.ts.day < 10 ? ' ' : (char)('0' + v.ts.day / 10);
		*o++ = (char)('0' + v.ts.day % 10);
		*o++ = ' ';
		o = put2(o, v.ts.hh);
		*o++ = ':';
		o = put2(o, v.ts.mm);
		*o++ = ':';
		o = put2(o, v.ts.ss);
	} else {
		o = put(o, ctx->clock->rfc3164, 15);
	}
	*o++ = ' ';
	if (v.host.len > 0)
		o = put_rs(o, v.host.p, v.host.len);
	else
		o = put_rs(o, (const uint8_t *)ctx->host, ctx->host_len);
	*o++ = ' ';
	o = put_rs(o, v.tag.p, v.tag.len);
	if (v.pid.len > 0) {
		*o++ = '[';
		o = put_rs(o, v.pid.p, v.pid.len);
		*o++ = ']';
	}
	if (v.msg.len == 0 || v.msg.p[0] != ' ')
		*o++ = ' ';
	o = put_rs(o, v.msg.p, v.msg.len);
	*o++ = '\n';
	return (size_t)(o - out);
}
