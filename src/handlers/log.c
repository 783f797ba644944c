/*
 * handlers/log.c: the log handler. Writes one line per datagram to a file (or
 * stdout) in raw, syslog or json format, with severity/facility filters.
 *
 * Lines are formatted (syslog_fmt.c) into a per-handler buffer that always
 * holds whole lines, and written with one write() per reactor turn (the
 * flush op, before the reactor sleeps) or when the buffer passes
 * LOG_BUF_FLUSH. So handle() allocates nothing and makes no system call.
 * Every handler has its own O_APPEND descriptor: handlers sharing a file
 * never break or interleave lines, since each write() carries whole lines.
 *
 * Write errors (disk full) keep the buffer for a later retry and drop new
 * lines once it is full, counted and logged at a limited rate; a short
 * write keeps its unwritten tail, so a line is never duplicated.
 * Rotation: the reopen op (SIGUSR1/SIGHUP), and a check at most once a
 * second (driven by receive times) of the path's inode against the open
 * file's, which notices a rename or unlink behind our back.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "handler.h"
#include "log.h"
#include "stats.h"
#include "syslog_fmt.h"
#include "util.h"

/* Write once the buffer holds this much; it has room for one more line. */
#define LOG_BUF_FLUSH	((size_t)256 * 1024)

enum log_format {
	LOG_FMT_RAW,
	LOG_FMT_SYSLOG,
	LOG_FMT_JSON,
	_LOG_FMT_MAX,
	_LOG_FMT_INVALID = -EINVAL,
};

static const char *const format_names[_LOG_FMT_MAX] = {
	[LOG_FMT_RAW] = "raw",
	[LOG_FMT_SYSLOG] = "syslog",
	[LOG_FMT_JSON] = "json",
};

/* compat: whose file format a syslog-format file follows. */
enum log_compat {
	LOG_COMPAT_NONE,
	LOG_COMPAT_RSYSLOG,
	_LOG_COMPAT_MAX,
};

static const char *const compat_names[_LOG_COMPAT_MAX] = {
	[LOG_COMPAT_NONE] = "none",
	[LOG_COMPAT_RSYSLOG] = "rsyslog",
};

static const char *const log_keys[] = {
	"file", "format", "compat", "min_severity", "facilities", "file_mode", NULL,
};

#define ALL_FACILITIES	((1u << SYSLOG_N_FACILITIES) - 1)

struct log_conf {
	char		*file;		/* "-" = stdout */
	int		 format;	/* enum log_format */
	int		 compat;	/* enum log_compat */
	int		 min_severity;	/* keep severity <= this */
	uint32_t	 facilities;	/* bit per facility kept */
	bool		 filter;	/* any filter narrower than all */
	int		 file_mode;
};

/* Owned by the handler; handed over on reload when the path is unchanged. */
struct log_state {
	int			 fd;		/* -1: none (open failed) */
	bool			 is_stdout;
	dev_t			 dev;		/* of the open file, for rotation checks */
	ino_t			 ino;
	char			*buf;
	size_t			 len, cap;
	uint64_t		 pending;	/* whole lines in buf */
	bool			 failing;	/* the last write failed */
	time_t			 check_sec;	/* second of the last rotation check */
	bool			 check_due;
	struct syslog_clock	 clock;
	char			 host[SYSLOG_HOST_MAX + 1];	/* gethostname(), once */
	size_t			 host_len;
	size_t			 host_short_len;	/* up to the first '.' */
	/* The last sender, formatted once for a run of datagrams from it. */
	union sockaddr_any	 peer;
	socklen_t		 peer_len;
	bool			 peer_valid;
	char			 sender[SYSLOG_SENDER_MAX];
	size_t			 sender_len;
	bool			 sender_plain;	/* no byte of it needs an escape */
	char			 sender_ip[INET6_ADDRSTRLEN];
	size_t			 sender_ip_len;
	uint64_t		 written, write_errors, dropped, filtered;
	struct log_ratelimit	 rl;
};

/* --- config ---------------------------------------------------------------- */

/*
 * Checks, without creating anything, that path can be written: an
 * existing file must be writable and not a directory; a new one needs an
 * existing, writable parent directory. Returns 0 or -errno with *why.
 */
static int
check_path(const char *path, const char **why, char *dir, size_t dir_size)
{
	struct stat st;
	char *slash;

	if (stat(path, &st) == 0) {
		*why = "is a directory";
		if (S_ISDIR(st.st_mode))
			return -EISDIR;
		*why = "cannot be written";
		return access(path, W_OK) < 0 ? -errno : 0;
	}
	*why = "cannot be accessed";
	if (errno != ENOENT)
		return -errno;
	if (strlen(path) >= dir_size)
		return -ENAMETOOLONG;
	memcpy(dir, path, strlen(path) + 1);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		memcpy(dir, ".", 2);
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	*why = "directory does not exist";
	if (stat(dir, &st) < 0)
		return -errno;
	*why = "is not in a directory";
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	*why = "directory is not writable";
	return access(dir, W_OK | X_OK) < 0 ? -errno : 0;
}

static int
parse_facilities(const config_setting_t *s, struct log_conf *c, struct conf_err *err)
{
	config_setting_t *l;
	const char *name;
	int i, n, f, r;

	r = conf_get_list(s, "facilities", &l, err);
	if (r <= 0)
		return r;
	n = config_setting_length(l);
	if (n == 0)
		return conf_err_key(err, s, "facilities", "must name at least one facility");
	c->facilities = 0;
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(l, (unsigned)i);

		name = config_setting_get_string(e);
		if (name == NULL)
			return conf_err_set(err, e, "must be a facility name (kern, user, ..., local7)");
		f = syslog_facility_from_string(name);
		if (f < 0)
			return conf_err_set(err, e, "must be kern | user | mail | daemon | auth | "
			    "syslog | lpr | news | uucp | cron | authpriv | ftp | ntp | security | "
			    "console | solaris-cron | local0..local7, got \"%.60s\"", name);
		c->facilities |= 1u << f;
	}
	return 0;
}

static int
log_parse(const config_setting_t *s, void *conf, struct conf_err *err)
{
	struct log_conf *c = conf;
	const char *v, *why;
	char dir[PATH_MAX];
	int r;

	c->format = LOG_FMT_SYSLOG;
	c->min_severity = SYSLOG_N_SEVERITIES - 1;
	c->facilities = ALL_FACILITIES;
	c->file_mode = 0640;

	r = conf_get_string(s, "file", &v, err);
	if (r < 0)
		return r;
	if (r == 0)
		return conf_err_key(err, s, "file", "missing (a path, or \"-\" for stdout)");
	if (*v == '\0')
		return conf_err_key(err, s, "file", "must be a path or \"-\", got \"\"");
	c->file = strdup(v);
	if (c->file == NULL)
		return -ENOMEM;
	if (conf_get_enum(s, "format", format_names, _LOG_FMT_MAX, &c->format, err) < 0)
		return -EINVAL;
	if (conf_get_enum(s, "compat", compat_names, _LOG_COMPAT_MAX, &c->compat, err) < 0)
		return -EINVAL;
	if (c->compat == LOG_COMPAT_RSYSLOG && c->format != LOG_FMT_SYSLOG)
		return conf_err_key(err, s, "compat", "\"rsyslog\" applies to format = \"syslog\" "
		    "only, got format = \"%s\"", format_names[c->format]);
	r = conf_get_string(s, "min_severity", &v, err);
	if (r < 0)
		return r;
	if (r > 0) {
		c->min_severity = syslog_severity_from_string(v);
		if (c->min_severity < 0)
			return conf_err_key(err, s, "min_severity", "must be emerg | alert | crit | "
			    "err | warning | notice | info | debug, got \"%.60s\"", v);
	}
	if (parse_facilities(s, c, err) < 0)
		return -EINVAL;
	if (conf_get_mode(s, "file_mode", &c->file_mode, err) < 0)
		return -EINVAL;
	c->filter = c->min_severity < SYSLOG_N_SEVERITIES - 1 || c->facilities != ALL_FACILITIES;

	if (strcmp(c->file, "-") == 0)
		return 0;
	r = check_path(c->file, &why, dir, sizeof(dir));
	if (r == -ENAMETOOLONG)
		return conf_err_key(err, s, "file", "path too long");
	if (r < 0) {
		errno = -r;
		return conf_err_key(err, s, "file", "%s: %m (got \"%.200s\")", why, c->file);
	}
	return 0;
}

static void
log_conf_free(void *conf)
{
	struct log_conf *c = conf;

	c->file = mfree(c->file);
}

/* --- files ----------------------------------------------------------------- */

/* Opens path for appending; a file it creates gets mode exactly. */
static int
open_file(const char *path, int mode, int *ret_fd, struct stat *ret_st)
{
	const int flags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	int fd;

	fd = open(path, flags | O_CREAT | O_EXCL, mode);
	if (fd >= 0)
		(void)fchmod(fd, (mode_t)mode);		/* not narrowed by the umask */
	else if (errno == EEXIST)
		fd = open(path, flags);
	if (fd < 0)
		return -errno;
	if (fstat(fd, ret_st) < 0) {
		int r = -errno;

		safe_close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

/* Replaces the open file with a fresh open of the path; keeps the old on failure. */
static int
reopen_file(struct handler *h)
{
	const struct log_conf *c = h->conf;
	struct log_state *st = h->state;
	struct stat sb = { 0 };
	int fd = -1, r;

	if (st->is_stdout)
		return 0;
	r = open_file(c->file, c->file_mode, &fd, &sb);
	if (r < 0) {
		if (log_ratelimit_ok(&st->rl))
			log_warning_errno(r, "log %s: cannot reopen: %m; %s", c->file,
			    st->fd >= 0 ? "writing to the old file" : "lines are dropped");
		return r;
	}
	safe_close(st->fd);
	st->fd = fd;
	st->dev = sb.st_dev;
	st->ino = sb.st_ino;
	return 0;
}

/* Counts '\n' in p[0..n). */
static uint64_t
count_lines(const char *p, size_t n)
{
	const char *e = p + n;
	uint64_t k = 0;

	while (p < e && (p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
		k++;
		p++;
	}
	return k;
}

/* Writes the buffer; keeps what could not be written for the next try. */
static void
flush_buf(struct handler *h)
{
	const struct log_conf *c = h->conf;
	struct log_state *st = h->state;
	ssize_t n;
	uint64_t k;

	while (st->len > 0 && st->fd >= 0) {
		n = write(st->fd, st->buf, st->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			int r = n < 0 ? -errno : -EIO;

			st->write_errors++;
			if (!st->failing || log_ratelimit_ok(&st->rl))
				log_warning_errno(r, "log %s: write failed: %m; keeping %zu bytes "
				    "to retry, dropping new lines when full", c->file, st->len);
			st->failing = true;
			return;
		}
		if ((size_t)n == st->len) {
			st->written += st->pending;
			st->pending = 0;
			st->len = 0;
		} else {
			/* Short write: keep the tail, so nothing is written twice. */
			k = count_lines(st->buf, (size_t)n);
			st->written += k;
			st->pending -= k;
			memmove(st->buf, st->buf + n, st->len - (size_t)n);
			st->len -= (size_t)n;
		}
		if (st->failing) {
			st->failing = false;
			log_notice("log %s: writing again (%llu write errors, %llu lines dropped "
			    "so far)", c->file, (unsigned long long)st->write_errors,
			    (unsigned long long)st->dropped);
		}
	}
}

/* Reopens when the path no longer names the open file (renamed, removed). */
static void
check_rotated(struct handler *h)
{
	const struct log_conf *c = h->conf;
	struct log_state *st = h->state;
	struct stat sb = { 0 };

	if (st->is_stdout)
		return;
	if (st->fd >= 0 && stat(c->file, &sb) == 0 && sb.st_dev == st->dev &&
	    sb.st_ino == st->ino)
		return;
	(void)reopen_file(h);
}

/* --- life cycle ------------------------------------------------------------ */

static size_t
buf_cap(const struct handler *h)
{
	return LOG_BUF_FLUSH + syslog_line_max(h->sock_conf->max_size);
}

static void
free_state(struct log_state *st)
{
	if (st == NULL)
		return;
	if (!st->is_stdout)
		safe_close(st->fd);
	free(st->buf);
	free(st);
}

static int
log_start(struct handler *h, struct handler *old)
{
	const struct log_conf *c = h->conf;
	struct log_state *st;
	struct stat sb = { 0 };
	size_t cap = buf_cap(h);
	char *nb;
	int r;

	if (old != NULL && old->state != NULL &&
	    strcmp(((const struct log_conf *)old->conf)->file, c->file) == 0) {
		st = old->state;
		if (st->cap < cap) {
			nb = realloc(st->buf, cap);
			if (nb == NULL)
				return -ENOMEM;
			st->buf = nb;
			st->cap = cap;
		}
		old->state = NULL;
		h->state = st;
		/* A reload (SIGHUP) also picks up a file rotated meanwhile. */
		check_rotated(h);
		return 0;
	}
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return -ENOMEM;
	st->fd = -1;
	st->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT;
	st->cap = cap;
	st->buf = malloc(cap);
	if (st->buf == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	/* Load the time zone now, not on the first datagram. */
	tzset();
	if (gethostname(st->host, sizeof(st->host)) < 0)
		strcpy(st->host, "localhost");
	st->host[sizeof(st->host) - 1] = '\0';
	st->host_len = strlen(st->host);
	st->host_short_len = strcspn(st->host, ".");
	if (strcmp(c->file, "-") == 0) {
		st->is_stdout = true;
		st->fd = STDOUT_FILENO;
	} else {
		r = open_file(c->file, c->file_mode, &st->fd, &sb);
		if (r < 0) {
			log_error_errno(r, "log %s: cannot open: %m", c->file);
			goto fail;
		}
		st->dev = sb.st_dev;
		st->ino = sb.st_ino;
	}
	h->state = st;
	return 0;
fail:
	free_state(st);
	return r;
}

static void
log_stop(struct handler *h)
{
	if (h->state == NULL)
		return;
	flush_buf(h);
	free_state(h->state);
	h->state = NULL;
}

static void
log_flush(struct handler *h)
{
	struct log_state *st = h->state;

	if (st == NULL)		/* handed over to a reloaded handler */
		return;
	if (st->check_due) {
		st->check_due = false;
		check_rotated(h);
	}
	flush_buf(h);
}

static void
log_reopen(struct handler *h)
{
	struct log_state *st = h->state;

	if (st == NULL)
		return;
	/* What was received before the signal belongs to the old file. */
	flush_buf(h);
	if (reopen_file(h) == 0)
		st->check_sec = 0;
}

static const struct stat_desc log_descs[] = {
	{ "dgramd_log_lines_written_total", "Lines written.", STAT_COUNTER, "log.written",
	  STAT_ROLE_NONE, { NULL, NULL } },
	{ "dgramd_log_write_errors_total", "Writes that failed.", STAT_COUNTER,
	  "log.write_errors", STAT_ROLE_NONE, { NULL, NULL } },
	{ "dgramd_log_dropped_lines_total", "Lines dropped while the output buffer was full.",
	  STAT_COUNTER, "log.dropped", STAT_ROLE_NONE, { NULL, NULL } },
	{ "dgramd_log_filtered_lines_total", "Lines the handler's filters rejected.",
	  STAT_COUNTER, "log.filtered", STAT_ROLE_NONE, { NULL, NULL } },
};

static void
log_stats(const struct handler *h, struct stats_visitor *v)
{
	const struct log_state *st = h->state;
	const struct sock_conf *sc = h->sock_conf;
	uint64_t values[ARRAY_SIZE(log_descs)];
	char index[16];
	size_t i, n = 0;

	if (st == NULL)
		return;
	values[0] = st->written;
	values[1] = st->write_errors;
	values[2] = st->dropped;
	values[3] = st->filtered;
	for (i = 0; i < sc->n_handlers; i++)
		if (sc->handlers[i].ops == h->ops)
			n++;
	/* One log handler: "log.written="; several: "log.INDEX.written=". */
	snprintf(index, sizeof(index), "%u", h->index);
	stats_push_label(v, "file", ((const struct log_conf *)h->conf)->file);
	for (i = 0; i < ARRAY_SIZE(log_descs); i++)
		if (n > 1)
			stats_put_instance(v, &log_descs[i], "index", index, values[i]);
		else
			stats_put(v, &log_descs[i], values[i]);
	stats_pop_label(v);
}

/* --- per datagram ---------------------------------------------------------- */

static char *
put_u16(char *o, unsigned v)
{
	char tmp[5];
	int i = 5;

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	memcpy(o, tmp + i, (size_t)(5 - i));
	return o + (5 - i);
}

static char *
put(char *o, const void *p, size_t n)
{
	memcpy(o, p, n);
	return o + n;
}

/* Formats the sender (and its IP, the host of UDP messages that carry none). */
static void
set_sender(struct log_state *st, const struct dgram *d)
{
	const struct sockaddr_un *un;
	char *o = st->sender;
	size_t n, i;

	if (st->peer_valid && d->peer != NULL && d->peer_len == st->peer_len &&
	    memcmp(d->peer, &st->peer, d->peer_len) == 0)
		return;
	st->peer_valid = false;
	st->sender_ip_len = 0;
	if (d->peer == NULL || d->peer_len > sizeof(st->peer)) {
		memcpy(st->sender, "(unbound)", 9);
		st->sender_len = 9;
		st->sender_plain = true;
		return;
	}
	switch (d->peer->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *in = (const void *)d->peer;
		const uint8_t *a = (const uint8_t *)&in->sin_addr;

		for (i = 0; i < 4; i++) {
			o = put_u16(o, a[i]);
			*o++ = i < 3 ? '.' : ':';
		}
		st->sender_ip_len = (size_t)(o - st->sender) - 1;
		memcpy(st->sender_ip, st->sender, st->sender_ip_len);
		o = put_u16(o, ntohs(in->sin_port));
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const void *)d->peer;

		if (inet_ntop(AF_INET6, &in6->sin6_addr, st->sender_ip,
		    sizeof(st->sender_ip)) == NULL)
			strcpy(st->sender_ip, "::");
		st->sender_ip_len = strlen(st->sender_ip);
		*o++ = '[';
		memcpy(o, st->sender_ip, st->sender_ip_len);
		o += st->sender_ip_len;
		o = put(o, "]:", 2);
		o = put_u16(o, ntohs(in6->sin6_port));
		break;
	}
	case AF_UNIX:
		un = (const void *)d->peer;
		n = d->peer_len > offsetof(struct sockaddr_un, sun_path) ?
		    d->peer_len - offsetof(struct sockaddr_un, sun_path) : 0;
		if (n == 0) {
			o = put(o, "(unbound)", 9);
		} else if (un->sun_path[0] == '\0') {
			*o++ = '@';
			n = MIN(n - 1, sizeof(st->sender) - 1);
			o = put(o, un->sun_path + 1, n);
		} else {
			n = MIN(strnlen(un->sun_path, n), sizeof(st->sender));
			o = put(o, un->sun_path, n);
		}
		break;
	default:
		o = put(o, "(unknown)", 9);
		break;
	}
	st->sender_len = (size_t)(o - st->sender);
	/* Checked once per sender, so lines copy it as is. */
	st->sender_plain = true;
	for (i = 0; i < st->sender_len; i++)
		if ((uint8_t)st->sender[i] < 0x20 || (uint8_t)st->sender[i] >= 0x7f ||
		    st->sender[i] == '\\' || st->sender[i] == '"')
			st->sender_plain = false;
	memcpy(&st->peer, d->peer, d->peer_len);
	st->peer_len = d->peer_len;
	st->peer_valid = true;
}

static bool
filtered_out(const struct log_conf *c, int pri)
{
	return pri % 8 > c->min_severity || !(c->facilities & (1u << (pri / 8)));
}

static int
log_handle(struct handler *h, const struct dgram *d)
{
	static const struct timespec zero_ts;
	const struct log_conf *c = h->conf;
	struct log_state *st = h->state;
	const struct timespec *ts = d->rtime != NULL ? d->rtime : &zero_ts;
	struct syslog_ctx ctx;
	struct syslog_msg m;
	size_t need, n;
	char *out;
	int pri;

	if (st == NULL)
		return -EBADF;
	if (c->format != LOG_FMT_RAW) {
		syslog_parse(d->data, d->len, &m);
		pri = m.pri;
	} else {
		pri = c->filter ? syslog_parse_pri(d->data, d->len) : SYSLOG_PRI_DEFAULT;
	}
	if (c->filter && filtered_out(c, pri)) {
		st->filtered++;
		return 0;
	}
	if (ts->tv_sec != st->check_sec) {
		st->check_sec = ts->tv_sec;
		st->check_due = !st->is_stdout;
	}
	need = syslog_line_max(d->len);
	if (st->cap - st->len < need && !st->failing)
		flush_buf(h);
	if (st->cap - st->len < need) {
		st->dropped++;
		return 0;
	}

	set_sender(st, d);
	syslog_clock_update(&st->clock, ts);
	ctx = (struct syslog_ctx){
		.clock = &st->clock,
		.usec = ts->tv_nsec / 1000,
		.sender = st->sender,
		.sender_len = st->sender_len,
		.sender_plain = st->sender_plain,
		.size = d->len,
	};
	if (h->sock_conf->type == SOCK_T_UNIX) {
		ctx.host = st->host;
		ctx.host_len = st->host_len;
	} else {
		ctx.host = st->sender_ip;
		ctx.host_len = st->sender_ip_len;
	}
	if (d->cred != NULL) {
		ctx.has_cred = true;
		ctx.pid = d->cred->pid;
		ctx.uid = d->cred->uid;
		ctx.gid = d->cred->gid;
	}
	out = st->buf + st->len;
	switch (c->format) {
	case LOG_FMT_RAW:
		n = syslog_format_raw(out, d->data, d->len, &ctx);
		break;
	case LOG_FMT_JSON:
		n = syslog_format_json(out, &m, &ctx);
		break;
	default:
		if (c->compat != LOG_COMPAT_RSYSLOG) {
			n = syslog_format_syslog(out, &m, &ctx);
			break;
		}
		/* rsyslog names the local host without its domain. */
		if (h->sock_conf->type == SOCK_T_UNIX)
			ctx.host_len = st->host_short_len;
		n = syslog_format_rsyslog(out, d->data, d->len, h->sock_conf->type == SOCK_T_UNIX,
		    &ctx);
		break;
	}
	st->len += n;
	st->pending++;
	if (st->len >= LOG_BUF_FLUSH && !st->failing)
		flush_buf(h);
	return 0;
}

/* json lines carry the sender's pid, uid and gid. */
static bool
log_wants_cred(const void *conf)
{
	return ((const struct log_conf *)conf)->format == LOG_FMT_JSON;
}

const struct handler_ops log_handler_ops = {
	.type = "log",
	.keys = log_keys,
	.conf_size = sizeof(struct log_conf),
	.parse = log_parse,
	.conf_free = log_conf_free,
	.start = log_start,
	.wants_cred = log_wants_cred,
	.handle = log_handle,
	.flush = log_flush,
	.reopen = log_reopen,
	.stats = log_stats,
	.stop = log_stop,
};
