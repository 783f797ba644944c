/*
 * fuzz-syslog.c: libFuzzer harness for syslog_fmt. Any input must parse
 * without a memory error, and each of the three formats must give exactly
 * one safe line (no control byte, valid UTF-8) within syslog_line_max();
 * json lines must be valid JSON; the rsyslog-compatible line is one line
 * with no byte below 0x20 (it passes DEL, C1 and invalid UTF-8 on purpose). A violation aborts, so libFuzzer keeps it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "syslog_check.h"
#include "syslog_fmt.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char out[syslog_line_max(65536)];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct syslog_clock clk;
	struct timespec ts = { 1732528800, 123456000 };
	struct syslog_msg m;
	struct syslog_ctx ctx;
	size_t n, len = size;
	int64_t t;

	if (len > 65536)
		return 0;
	/* The first bytes also choose the receive time, within +-2^40 s. */
	if (len >= 8) {
		memcpy(&t, data, sizeof(t));
		ts.tv_sec = (time_t)(t % ((int64_t)1 << 40));
	}
	syslog_clock_update(&clk, &ts);
	ctx = (struct syslog_ctx){
		.clock = &clk, .usec = 123456, .sender = "/tmp/\x1b[0m\n\xff",
		.sender_len = 12, .host = "h\x7fst", .host_len = 5, .has_cred = len & 1,
		.pid = 1, .uid = 2, .gid = 3, .size = len,
	};

	syslog_parse(data, len, &m);
	if (m.pri < 0 || m.pri > 191 || m.msg.len > len || m.payload_len > len)
		abort();
	if (syslog_parse_pri(data, len) != m.pri)
		abort();

	n = syslog_format_raw(out, data, len, &ctx);
	if (n > syslog_line_max(len) || !line_is_safe(out, n))
		abort();
	n = syslog_format_syslog(out, &m, &ctx);
	if (n > syslog_line_max(len) || !line_is_safe(out, n))
		abort();
	n = syslog_format_json(out, &m, &ctx);
	if (n > syslog_line_max(len) || !json_line_is_valid(out, n))
		abort();
	/* compat = "rsyslog": one line, no byte below 0x20 but its '\n'. */
	n = syslog_format_rsyslog(out, data, len, (len & 2) != 0, &ctx);
	if (n > syslog_line_max(len) || n == 0 || out[n - 1] != '\n' ||
	    memchr(out, '\n', n - 1) != NULL)
		abort();
	for (size_t i = 0; i + 1 < n; i++)
		if ((uint8_t)out[i] < 0x20)
			abort();
	if (syslog_escape_c(out, data, len) > 4 * len)
		abort();
	if (syslog_escape_json(out, data, len) > 6 * len)
		abort();
	return 0;
}
