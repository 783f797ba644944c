/*
 * syslog_check.h: checkers for the log handler's output lines, shared by
 * tests/unit/test-syslog_fmt.c and tests/fuzz/fuzz-syslog.c.
 *
 * line_is_safe(): exactly one line ('\n' last and nowhere else), no other
 * control byte (C0, DEL, or C1 as UTF-8), and valid UTF-8 throughout.
 * json_line_is_valid(): the same, and the line minus its '\n' is one JSON
 * object (RFC 8259) whose strings hold valid escapes only.
 */
#ifndef DGRAMD_SYSLOG_CHECK_H
#define DGRAMD_SYSLOG_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline size_t
chk_utf8_len(const uint8_t *p, size_t n)
{
	uint8_t c = p[0], lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 2;
	else if (c >= 0xe0 && c <= 0xef)
		need = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < need || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < need; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return need;
}

static inline bool
line_is_safe(const char *s, size_t n)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0, l;

	if (n == 0 || p[n - 1] != '\n')
		return false;
	n--;
	while (i < n) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return false;
		l = chk_utf8_len(p + i, n - i);
		if (l == 0 || (l == 2 && p[i] == 0xc2 && p[i + 1] <= 0x9f))
			return false;
		i += l;
	}
	return true;
}

struct chk_json {
	const uint8_t	*p;
	size_t		 n, i;
	int		 depth;
};

static bool chk_json_value(struct chk_json *j);

static inline void
chk_json_ws(struct chk_json *j)
{
	while (j->i < j->n && (j->p[j->i] == ' ' || j->p[j->i] == '\t'))
		j->i++;
}

static inline bool
chk_json_lit(struct chk_json *j, const char *lit)
{
	size_t k;

	for (k = 0; lit[k]; k++)
		if (j->i + k >= j->n || j->p[j->i + k] != (uint8_t)lit[k])
			return false;
	j->i += k;
	return true;
}

static inline bool
chk_hex(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static inline bool
chk_json_string(struct chk_json *j)
{
	size_t l, k;

	if (j->i >= j->n || j->p[j->i] != '"')
		return false;
	j->i++;
	while (j->i < j->n) {
		uint8_t c = j->p[j->i];

		if (c == '"') {
			j->i++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			if (j->i + 1 >= j->n)
				return false;
			c = j->p[j->i + 1];
			if (c == 'u') {
				for (k = 2; k < 6; k++)
					if (j->i + k >= j->n || !chk_hex(j->p[j->i + k]))
						return false;
				j->i += 6;
				continue;
			}
			if (c != '"' && c != '\\' && c != '/' && c != 'b' && c != 'f' &&
			    c != 'n' && c != 'r' && c != 't')
				return false;
			j->i += 2;
			continue;
		}
		l = chk_utf8_len(j->p + j->i, j->n - j->i);
		if (l == 0)
			return false;
		j->i += l;
	}
	return false;
}

static inline bool
chk_json_number(struct chk_json *j)
{
	size_t start = j->i;

	if (j->i < j->n && j->p[j->i] == '-')
		j->i++;
	while (j->i < j->n && ((j->p[j->i] >= '0' && j->p[j->i] <= '9') || j->p[j->i] == '.' ||
	    j->p[j->i] == 'e' || j->p[j->i] == 'E' || j->p[j->i] == '+' || j->p[j->i] == '-'))
		j->i++;
	return j->i > start;
}

static inline bool
chk_json_object(struct chk_json *j)
{
	if (++j->depth > 32)
		return false;
	j->i++;
	chk_json_ws(j);
	if (j->i < j->n && j->p[j->i] == '}') {
		j->i++;
		j->depth--;
		return true;
	}
	for (;;) {
		chk_json_ws(j);
		if (!chk_json_string(j))
			return false;
		chk_json_ws(j);
		if (j->i >= j->n || j->p[j->i] != ':')
			return false;
		j->i++;
		if (!chk_json_value(j))
			return false;
		chk_json_ws(j);
		if (j->i < j->n && j->p[j->i] == ',') {
			j->i++;
			continue;
		}
		if (j->i < j->n && j->p[j->i] == '}') {
			j->i++;
			j->depth--;
			return true;
		}
		return false;
	}
}

static bool
chk_json_value(struct chk_json *j)
{
	chk_json_ws(j);
	if (j->i >= j->n)
		return false;
	switch (j->p[j->i]) {
	case '"':
		return chk_json_string(j);
	case '{':
		return chk_json_object(j);
	case 't':
		return chk_json_lit(j, "true");
	case 'f':
		return chk_json_lit(j, "false");
	case 'n':
		return chk_json_lit(j, "null");
	default:
		return chk_json_number(j);
	}
}

static inline bool
json_line_is_valid(const char *s, size_t n)
{
	struct chk_json j = { (const uint8_t *)s, n ? n - 1 : 0, 0, 0 };

	if (!line_is_safe(s, n) || n < 3 || s[0] != '{')
		return false;
	if (!chk_json_object(&j))
		return false;
	return j.i == j.n;
}

#endif
