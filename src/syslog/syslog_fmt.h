/*
 * syslog_fmt.h: RFC 3164 / RFC 5424 parsing and log line formatting for
 * the log handler. Pure: no I/O, no allocation, no printf; every function
 * works on caller-provided memory, so it can run once per datagram.
 *
 * Escaping (what a sender controls):
 * - raw and syslog lines use C-style escapes: \n \r \t \\ and \xHH for
 *   every other control byte (0x00-0x1f, 0x7f), for the bytes of a C1
 *   control (U+0080-U+009F, which some terminals obey) and for each byte
 *   that is not part of valid UTF-8. Valid UTF-8 passes through.
 * - json strings escape " \ and control characters (\n \r \t \b \f, else
 *   \u00XX; C1 controls as \u0080-\u009f), and replace each byte that is
 *   not part of valid UTF-8 (overlong forms, surrogates, beyond U+10FFFF,
 *   truncated sequences) with U+FFFD written as \ufffd. Every line is valid
 *   JSON and ASCII-safe for terminals.
 * Either way one datagram is exactly one line.
 */
#ifndef DGRAMD_SYSLOG_FMT_H
#define DGRAMD_SYSLOG_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#define SYSLOG_PRI_DEFAULT	13	/* user.notice: messages without a PRI */
#define SYSLOG_N_FACILITIES	24
#define SYSLOG_N_SEVERITIES	8

/* Bytes of a datagram, lent: points into the parsed buffer. */
struct syslog_span {
	const uint8_t	*p;
	size_t		 len;		/* 0: absent (or RFC 5424 nil "-") */
};

enum syslog_proto {
	SYSLOG_PROTO_RFC3164,		/* also: anything that is not RFC 5424 */
	SYSLOG_PROTO_RFC5424,
};

/* A parsed message; its spans point into the datagram. */
struct syslog_msg {
	enum syslog_proto	proto;
	bool			has_pri;	/* false: pri is the default 13 */
	bool			bom;		/* RFC 5424 MSG began with a UTF-8 BOM */
	int			pri;		/* 0..191 */
	int			facility;	/* pri / 8 */
	int			severity;	/* pri % 8 */
	int			version;	/* RFC 5424 VERSION, else 0 */
	struct syslog_span	timestamp;	/* as sent */
	struct syslog_span	host;
	struct syslog_span	app;		/* RFC 3164 TAG or RFC 5424 APP-NAME */
	struct syslog_span	procid;		/* TAG[PID] or PROCID */
	struct syslog_span	msgid;
	struct syslog_span	sd;		/* STRUCTURED-DATA as sent */
	struct syslog_span	msg;
	size_t			payload_len;	/* datagram length after stripping */
};

/*
 * Length of data once trailing newlines, carriage returns and NULs are
 * stripped (python's SysLogHandler ends with NUL, many tools with \n).
 */
size_t	syslog_strip_len(const uint8_t *data, size_t len);

/*
 * Parses a datagram, tolerantly: a missing or bad PRI means user.notice
 * and the text is all message; a missing or odd timestamp, host or tag
 * leaves that field absent and the text stays in the message. RFC 5424
 * only when VERSION is 1 and "-" or a valid RFC 3339 time stamp follows;
 * an RFC 6587 octet count ("LEN " with LEN the rest of the datagram, a
 * PRI next) is skipped. Never fails.
 */
void	syslog_parse(const uint8_t *data, size_t len, struct syslog_msg *ret);

/* Only the PRI (for filters when nothing else is needed). */
int	syslog_parse_pri(const uint8_t *data, size_t len);

/* "kern" .. "local7", or NULL when out of range. */
const char	*syslog_facility_name(int facility);
/* "emerg" .. "debug", or NULL when out of range. */
const char	*syslog_severity_name(int severity);
/* A facility number from its name, or -EINVAL. */
int	syslog_facility_from_string(const char *s);
/* A severity number from its name (aliases error, warn, panic), or -EINVAL. */
int	syslog_severity_from_string(const char *s);

/* C-style escape of p into out (at most 4 * n bytes); returns bytes written. */
size_t	syslog_escape_c(char *out, const uint8_t *p, size_t n);
/* JSON string-content escape (no quotes; at most 6 * n bytes); returns bytes written. */
size_t	syslog_escape_json(char *out, const uint8_t *p, size_t n);

/*
 * The local-time renderings of one second, recomputed only when the
 * second changes (so localtime_r runs at most once a second).
 */
struct syslog_clock {
	time_t	sec;
	bool	valid;
	char	rfc3164[16];	/* "Nov 25 10:00:00" */
	char	rfc3339[20];	/* "2024-11-25T10:00:00" */
	char	zone[7];	/* "+01:00" */
	long	usec;		/* of the last update; time holds it rendered */
	char	time[32];	/* "2024-11-25T10:00:00.123456+01:00", unterminated */
};

/* Makes c describe ts's second (local time). */
void	syslog_clock_update(struct syslog_clock *c, const struct timespec *ts);

/* Longest sender and fill-in host texts a syslog_ctx may carry. */
#define SYSLOG_SENDER_MAX	128
#define SYSLOG_HOST_MAX		255

/* What a line needs besides the datagram. Texts are unescaped. */
struct syslog_ctx {
	const struct syslog_clock	*clock;		/* updated for the receive time */
	long				 usec;		/* receive time, microseconds */
	const char			*sender;	/* "1.2.3.4:5", a path, "(unbound)" */
	size_t				 sender_len;	/* <= SYSLOG_SENDER_MAX */
	bool				 sender_plain;	/* needs no escape in any format */
	const char			*host;		/* host for messages that carry none */
	size_t				 host_len;	/* <= SYSLOG_HOST_MAX */
	bool				 has_cred;
	long				 pid;
	unsigned long			 uid, gid;
	size_t				 size;		/* the datagram's length */
};

/* The most bytes one line of a datagram of len bytes can take. */
#define SYSLOG_LINE_SLACK	4096
#define syslog_line_max(len)	(6 * (size_t)(len) + SYSLOG_LINE_SLACK)

/*
 * Each formatter writes one whole line, '\n' included, to out (room for
 * syslog_line_max(data length) bytes) and returns its length.
 *
 * raw:    "2024-11-25T10:00:00.123456+01:00 SENDER PAYLOAD"
 * syslog: "Nov 25 10:00:00 HOST TAG[PID]: [SD] MSG" (receive time; HOST
 *         from the message, else ctx->host)
 * json:   {"time":...,"facility":"user","severity":"notice","pri":13,...}
 */
size_t	syslog_format_raw(char *out, const uint8_t *data, size_t len,
	    const struct syslog_ctx *ctx);
size_t	syslog_format_syslog(char *out, const struct syslog_msg *m,
	    const struct syslog_ctx *ctx);
size_t	syslog_format_json(char *out, const struct syslog_msg *m,
	    const struct syslog_ctx *ctx);

/*
 * rsyslog compatibility (the log handler's compat = "rsyslog"): the line
 * rsyslogd writes with RSYSLOG_TraditionalFileFormat for this datagram,
 * received by imudp (local false) or by imuxsock with its defaults (local
 * true): "TIMESTAMP HOSTNAME TAG MSG" with rsyslog's header rules (see the
 * comments in syslog_fmt.c), each control byte (< 0x20) written as #ooo in
 * octal and every other byte as it is. The two departures, both issue 14
 * fixes: an RFC 6587 octet count is stripped, and a datagram is RFC 5424
 * only by syslog_parse()'s rule. ctx->host is the host for messages that
 * carry none (the sender's address; rsyslog's short local host name).
 */
size_t	syslog_format_rsyslog(char *out, const uint8_t *data, size_t len, bool local,
	    const struct syslog_ctx *ctx);

#endif
