/*
 * control.c: the control socket (dgramctl) and the /metrics listener, both
 * served by ctlsrv inside the event loop. Requests are answered from the
 * daemon's state at once; nothing here blocks or waits.
 */
#include <errno.h>
#include <pwd.h>
#include <grp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "control.h"
#include "ctlsrv.h"
#include "daemon.h"
#include "log.h"
#include "statsview.h"
#include "strbuf.h"
#include "util.h"

struct control {
	struct daemon	*daemon;
	struct ctlsrv	*ctl;
	struct ctlsrv	*metrics;
	char		*path;		/* the socket file we created, removed at the end */
	int		 mode;
	uid_t		 owner;		/* of the socket file */
	gid_t		 group;
	char		*metrics_text;
};

/* --- the control protocol ---------------------------------------------------- */

/* One line ending in "\n" is a request; a NUL or other control byte is not. */
static ssize_t
ctl_complete(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (buf[i] == '\n')
			return (ssize_t)i + 1;
		if ((unsigned char)buf[i] < 0x20 && buf[i] != '\t' && buf[i] != '\r')
			return -1;
	}
	return 0;
}

static void
ctl_bad(void *userdata, const char *why, struct strbuf *out)
{
	(void)userdata;
	strbuf_printf(out, "error: %s\n", why);
}

/*
 * Whether peer may use the socket: root, dgramd's own uid, or whoever the
 * socket file's mode lets write to it (connecting needs that already; the
 * check also holds for peers that bypass file permissions otherwise).
 */
static bool
ctl_allowed(const struct control *ctl, const struct ctl_peer *p)
{
	if (p->uid == 0 || p->uid == geteuid())
		return true;
	if (p->uid == (uid_t)-1)
		return false;
	if (p->uid == ctl->owner)
		return (ctl->mode & 0200) != 0;
	if (p->gid == ctl->group)
		return (ctl->mode & 0020) != 0;
	return (ctl->mode & 0002) != 0;
}

static void
ctl_respond(void *userdata, const struct ctl_peer *peer, const char *req, size_t len,
    struct strbuf *out)
{
	struct control *ctl = userdata;
	char line[CTLSRV_MAX_REQUEST + 1];

	while (len > 0 && (req[len - 1] == '\n' || req[len - 1] == '\r'))
		len--;
	memcpy(line, req, len);
	line[len] = '\0';
	if (!ctl_allowed(ctl, peer)) {
		strbuf_printf(out, "error: permission denied for uid %u\n", (unsigned)peer->uid);
		return;
	}
	control_answer(ctl->daemon, line, true, out);
}

static const struct ctlsrv_ops ctl_ops = {
	.complete = ctl_complete,
	.respond = ctl_respond,
	.bad = ctl_bad,
};

static void
walk_daemon(const void *owner, stats_sample_fn fn, void *userdata)
{
	daemon_stats_visit(owner, fn, userdata);
}

static void
usage(struct strbuf *out)
{
	strbuf_printf(out, "error: unknown command; commands: status, stats [text|json|"
	    "prometheus], reload, reopen, sockets, targets, sessions [SOCKET] [all]\n");
}

void
control_answer(struct daemon *d, const char *line, bool may_change, struct strbuf *out)
{
	char cmd[32] = "", arg[256] = "", arg2[32] = "";
	int n;

	n = sscanf(line, "%31s %255s %31s", cmd, arg, arg2);
	if (n < 1) {
		usage(out);
		return;
	}
	if (strcmp(cmd, "status") == 0 && n == 1) {
		strbuf_printf(out, "ok\n");
		daemon_status_write(d, out);
	} else if (strcmp(cmd, "stats") == 0 && (n == 1 || strcmp(arg, "text") == 0)) {
		strbuf_printf(out, "ok\n");
		statsview_text(walk_daemon, d, out);
	} else if (strcmp(cmd, "stats") == 0 && strcmp(arg, "json") == 0) {
		strbuf_printf(out, "ok\n");
		daemon_json_write(d, out);
	} else if (strcmp(cmd, "stats") == 0 && strcmp(arg, "prometheus") == 0) {
		strbuf_printf(out, "ok\n");
		daemon_prometheus_write(d, out);
	} else if (strcmp(cmd, "reload") == 0 && n == 1 && may_change) {
		if (daemon_reload(d) == 0) {
			strbuf_printf(out, "ok\n");
			daemon_reload_result(d, out);
		} else {
			strbuf_printf(out, "error: ");
			daemon_reload_result(d, out);
		}
	} else if (strcmp(cmd, "reopen") == 0 && n == 1 && may_change) {
		daemon_reopen(d);
		strbuf_printf(out, "ok\nreopened the log files\n");
	} else if (strcmp(cmd, "sockets") == 0 && n == 1) {
		strbuf_printf(out, "ok\n");
		daemon_sockets_write(d, out);
	} else if (strcmp(cmd, "targets") == 0 && n == 1) {
		strbuf_printf(out, "ok\n");
		daemon_targets_write(d, out);
	} else if (strcmp(cmd, "sessions") == 0 && (n == 1 || (n == 2 && strcmp(arg, "all") == 0))) {
		(void)daemon_sessions_write(d, NULL, n == 2, out);
	} else if (strcmp(cmd, "sessions") == 0 && (n == 2 || strcmp(arg2, "all") == 0)) {
		(void)daemon_sessions_write(d, arg, n == 3, out);
	} else {
		usage(out);
	}
}

/* --- /metrics ------------------------------------------------------------------ */

/* A request is complete at its empty line ("\r\n\r\n" or "\n\n"). */
static ssize_t
http_complete(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i++) {
		if (buf[i] == '\0')
			return -1;
		if (buf[i] == '\n' && buf[i + 1] == '\n')
			return (ssize_t)i + 2;
		if (i + 3 < len && memcmp(buf + i, "\r\n\r\n", 4) == 0)
			return (ssize_t)i + 4;
	}
	return 0;
}

static void
http_answer(struct strbuf *out, const char *status, const char *type, const char *body,
    size_t body_len, bool head)
{
	strbuf_printf(out, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n", status, type, body_len);
	if (!head && body_len > 0)
		strbuf_printf(out, "%.*s", (int)body_len, body);
}

static void
http_error(struct strbuf *out, const char *status)
{
	char body[64];
	int n = snprintf(body, sizeof(body), "%s\n", status);

	http_answer(out, status, "text/plain; charset=utf-8", body, (size_t)n, false);
}

static void
http_bad(void *userdata, const char *why, struct strbuf *out)
{
	(void)userdata;
	if (strncmp(why, "busy", 4) == 0)
		http_error(out, "503 Service Unavailable");
	else if (strcmp(why, "request too large") == 0)
		http_error(out, "431 Request Header Fields Too Large");
	else
		http_error(out, "400 Bad Request");
}

static void
http_respond(void *userdata, const struct ctl_peer *peer, const char *req, size_t len,
    struct strbuf *out)
{
	struct control *ctl = userdata;
	struct strbuf body = { 0 };
	char method[16], target[256], version[16];
	char line[512];
	const char *eol = memchr(req, '\n', len);
	size_t ll = eol != NULL ? (size_t)(eol - req) : len;
	bool head;

	(void)peer;
	if (ll > 0 && req[ll - 1] == '\r')
		ll--;
	if (ll >= sizeof(line)) {
		http_error(out, "414 URI Too Long");
		return;
	}
	memcpy(line, req, ll);
	line[ll] = '\0';
	if (sscanf(line, "%15s %255s %15s", method, target, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7) != 0 || strlen(version) != 8) {
		http_error(out, "400 Bad Request");
		return;
	}
	head = strcmp(method, "HEAD") == 0;
	if (!head && strcmp(method, "GET") != 0) {
		http_error(out, "405 Method Not Allowed");
		return;
	}
	/* The path without a query string. */
	target[strcspn(target, "?")] = '\0';
	if (strcmp(target, "/metrics") != 0) {
		http_error(out, "404 Not Found");
		return;
	}
	daemon_prometheus_write(ctl->daemon, &body);
	if (body.oom) {
		http_error(out, "500 Internal Server Error");
	} else {
		http_answer(out, "200 OK", "text/plain; version=0.0.4; charset=utf-8",
		    strbuf_str(&body), body.len, head);
	}
	strbuf_free(&body);
}

static const struct ctlsrv_ops http_ops = {
	.complete = http_complete,
	.respond = http_respond,
	.bad = http_bad,
};

/* --- setting up ------------------------------------------------------------------ */

/* Binds the control socket: a stale socket file is replaced, anything else refused. */
static int
open_control(struct control *ctl, const struct conf *c, int *ret_fd)
{
	union sockaddr_any a;
	socklen_t len;
	struct stat st;
	int fd, r;

	r = addr_unix(c->control_socket, &a, &len);
	if (r < 0)
		return r;
	if (lstat(c->control_socket, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_error("control_socket %s: exists and is not a socket; left as it is",
			    c->control_socket);
			return -EEXIST;
		}
		/* A live control socket is another dgramd's: never steal it. */
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, &a.sa, len) == 0) {
			safe_close(fd);
			log_error("control_socket %s: in use by another process", c->control_socket);
			return -EADDRINUSE;
		}
		safe_close(fd);
		(void)unlink(c->control_socket);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, &a.sa, len) < 0) {
		r = -errno;
		log_error_errno(r, "control_socket %s: cannot bind: %m", c->control_socket);
		goto fail;
	}
	ctl->path = strdup(c->control_socket);
	if (ctl->path == NULL) {
		(void)unlink(c->control_socket);
		r = -ENOMEM;
		goto fail;
	}
	ctl->mode = c->control_mode;
	ctl->owner = geteuid();
	ctl->group = getegid();
	/* Given to the user dgramd drops to, so that user can use it too. */
	if (c->user != NULL) {
		const struct passwd *pw = getpwnam(c->user);

		if (pw != NULL) {
			ctl->owner = pw->pw_uid;
			ctl->group = pw->pw_gid;
		}
	}
	if (c->group != NULL) {
		const struct group *gr = getgrnam(c->group);

		if (gr != NULL)
			ctl->group = gr->gr_gid;
	}
	if ((ctl->owner != geteuid() || ctl->group != getegid()) &&
	    chown(c->control_socket, ctl->owner, ctl->group) < 0) {
		r = -errno;
		log_error_errno(r, "control_socket %s: cannot change its owner: %m",
		    c->control_socket);
		goto fail;
	}
	if (chmod(c->control_socket, (mode_t)c->control_mode) < 0 ||
	    listen(fd, CTLSRV_BACKLOG) < 0) {
		r = -errno;
		log_error_errno(r, "control_socket %s: %m", c->control_socket);
		goto fail;
	}
	*ret_fd = fd;
	return 0;
fail:
	safe_close(fd);
	return r;
}

static int
open_metrics(const struct conf *c, int *ret_fd, char *name, size_t name_size)
{
	union sockaddr_any a = c->metrics_addr;
	socklen_t len = sizeof(a);
	int fd, one = 1, r;

	fd = socket(a.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a.sa.sa_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, &c->metrics_addr.sa, c->metrics_len) < 0 ||
	    listen(fd, CTLSRV_BACKLOG) < 0 || getsockname(fd, &a.sa, &len) < 0) {
		r = -errno;
		log_error_errno(r, "metrics_listen %s: cannot listen: %m", c->metrics_text);
		safe_close(fd);
		return r;
	}
	addr_format(&a.sa, len, name, name_size);
	*ret_fd = fd;
	return 0;
}

int
control_open(const struct conf *c, struct reactor *r, struct daemon *d, struct control **ret)
{
	struct control *ctl;
	char name[ADDR_STRLEN];
	int fd = -1, rc;

	*ret = NULL;
	if (c->control_socket == NULL && c->metrics_len == 0)
		return 0;
	ctl = calloc(1, sizeof(*ctl));
	if (ctl == NULL)
		return -ENOMEM;
	ctl->daemon = d;
	if (c->control_socket != NULL) {
		rc = open_control(ctl, c, &fd);
		if (rc < 0)
			goto fail;
		rc = ctlsrv_new(r, fd, "control socket", &ctl_ops, ctl, &ctl->ctl);
		if (rc < 0)
			goto fail;
		log_always("control socket %s", ctl->path);
	}
	if (c->metrics_len > 0) {
		rc = open_metrics(c, &fd, name, sizeof(name));
		if (rc < 0)
			goto fail;
		ctl->metrics_text = strdup(c->metrics_text);
		if (ctl->metrics_text == NULL) {
			safe_close(fd);
			rc = -ENOMEM;
			goto fail;
		}
		rc = ctlsrv_new(r, fd, "metrics", &http_ops, ctl, &ctl->metrics);
		if (rc < 0)
			goto fail;
		log_always("metrics at http://%s/metrics", name);
	}
	*ret = ctl;
	return 0;
fail:
	control_free(ctl);
	return rc;
}

struct control *
control_free(struct control *ctl)
{
	if (ctl == NULL)
		return NULL;
	ctl->ctl = ctlsrv_free(ctl->ctl);
	ctl->metrics = ctlsrv_free(ctl->metrics);
	if (ctl->path != NULL && unlink(ctl->path) < 0 && errno != ENOENT)
		log_warning_errno(-errno, "control_socket %s: cannot remove it: %m", ctl->path);
	free(ctl->path);
	free(ctl->metrics_text);
	free(ctl);
	return NULL;
}

void
control_reloaded(const struct control *ctl, const struct conf *c)
{
	const char *path = ctl != NULL ? ctl->path : NULL;
	const char *metrics = ctl != NULL ? ctl->metrics_text : NULL;

	if ((path == NULL) != (c->control_socket == NULL) ||
	    (path != NULL && strcmp(path, c->control_socket) != 0))
		log_warning("control_socket changes take effect at the next start");
	if ((metrics == NULL) != (c->metrics_len == 0) ||
	    (metrics != NULL && strcmp(metrics, c->metrics_text) != 0))
		log_warning("metrics_listen changes take effect at the next start");
}
