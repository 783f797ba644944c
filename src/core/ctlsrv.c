/*
 * ctlsrv.c: the bounded one-request stream server behind the control
 * socket and /metrics (see ctlsrv.h). Everything is non-blocking and
 * bounded: CTLSRV_MAX_CLIENTS clients, CTLSRV_MAX_REQUEST bytes a request,
 * CTLSRV_IDLE_MS without progress. Client state is allocated on accept and
 * freed on close, so an idle daemon holds none.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctlsrv.h"
#include "log.h"
#include "reactor.h"
#include "strbuf.h"
#include "util.h"

/* How often idle clients are looked for, while there are any. */
#define SWEEP_MS	250

struct client {
	struct ctlsrv		*srv;
	int			 fd;
	struct reactor_watch	*watch;
	struct ctl_peer		 peer;
	uint64_t		 last_ms;	/* last progress either way */
	size_t			 len;		/* request bytes read */
	struct strbuf		 out;		/* the answer, once built */
	size_t			 off;		/* answer bytes written */
	bool			 answering;
	char			 req[CTLSRV_MAX_REQUEST];
};

struct ctlsrv {
	struct reactor		*reactor;
	char			*what;
	int			 fd;
	struct reactor_watch	*watch;
	struct reactor_watch	*sweep;
	const struct ctlsrv_ops	*ops;
	void			*userdata;
	struct client		*clients[CTLSRV_MAX_CLIENTS];
	unsigned		 n_clients;
	struct ctlsrv_stats	 stats;
};

static void
client_close(struct client *c)
{
	struct ctlsrv *s = c->srv;
	unsigned i;

	for (i = 0; i < CTLSRV_MAX_CLIENTS; i++)
		if (s->clients[i] == c)
			s->clients[i] = NULL;
	s->n_clients--;
	reactor_del_fd(s->reactor, c->watch);
	safe_close(c->fd);
	strbuf_free(&c->out);
	free(c);
	if (s->n_clients == 0)
		s->sweep = reactor_del_timer(s->reactor, s->sweep);
}

/* Writes what the client can take; closes it when the answer is out. */
static void
client_write(struct client *c)
{
	ssize_t n;

	while (c->off < c->out.len) {
		n = send(c->fd, c->out.buf + c->off, c->out.len - c->off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			(void)reactor_mod_fd(c->srv->reactor, c->watch, REACTOR_OUT);
			return;
		}
		if (n <= 0)
			break;
		c->off += (size_t)n;
		c->last_ms = now_ms();
	}
	client_close(c);
}

static void
client_answer(struct client *c, const char *why)
{
	struct ctlsrv *s = c->srv;

	c->answering = true;
	if (why != NULL) {
		s->stats.bad++;
		s->ops->bad(s->userdata, why, &c->out);
	} else {
		s->stats.served++;
		s->ops->respond(s->userdata, &c->peer, c->req, c->len, &c->out);
	}
	if (c->out.oom) {
		strbuf_reset(&c->out);
		s->ops->bad(s->userdata, "out of memory", &c->out);
	}
	client_write(c);
}

static void
client_read(struct client *c)
{
	struct ctlsrv *s = c->srv;
	ssize_t n, k;

	for (;;) {
		if (c->len == sizeof(c->req)) {
			client_answer(c, "request too large");
			return;
		}
		n = recv(c->fd, c->req + c->len, sizeof(c->req) - c->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			/* Closed (or failed) before a whole request: nothing to answer. */
			client_close(c);
			return;
		}
		c->len += (size_t)n;
		c->last_ms = now_ms();
		k = s->ops->complete(c->req, c->len);
		if (k < 0) {
			client_answer(c, "malformed request");
			return;
		}
		if (k > 0) {
			c->len = (size_t)k;
			client_answer(c, NULL);
			return;
		}
	}
}

static void
on_client(struct reactor_watch *w, int fd, uint32_t events, void *userdata)
{
	struct client *c = userdata;

	(void)w;
	(void)fd;
	if (c->answering) {
		if (events & (REACTOR_OUT | REACTOR_ERR))
			client_write(c);
		return;
	}
	client_read(c);
}

static void
on_sweep(void *userdata)
{
	struct ctlsrv *s = userdata;
	uint64_t now = now_ms();
	unsigned i;

	for (i = 0; i < CTLSRV_MAX_CLIENTS; i++) {
		struct client *c = s->clients[i];

		if (c != NULL && now - c->last_ms >= CTLSRV_IDLE_MS) {
			s->stats.timeouts++;
			client_close(c);
		}
	}
}

static void
peer_of(int fd, struct ctl_peer *p)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	p->pid = 0;
	p->uid = (uid_t)-1;
	p->gid = (gid_t)-1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0 && len == sizeof(cr)) {
		p->pid = cr.pid;
		p->uid = cr.uid;
		p->gid = cr.gid;
	}
}

/* One more than the server takes: one line saying so, best effort, and close. */
static void
turn_away(struct ctlsrv *s, int fd)
{
	struct strbuf sb = { 0 };

	s->stats.busy++;
	s->ops->bad(s->userdata, "busy: too many clients", &sb);
	(void)send(fd, sb.buf != NULL ? sb.buf : "", sb.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	strbuf_free(&sb);
	safe_close(fd);
}

static void
on_listen(struct reactor_watch *w, int lfd, uint32_t events, void *userdata)
{
	struct ctlsrv *s = userdata;
	struct client *c;
	unsigned i, n;
	int fd;

	(void)w;
	(void)events;
	/* A bounded number of accepts per wakeup; the loop comes back for more. */
	for (n = 0; n < 2 * CTLSRV_MAX_CLIENTS; n++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warning_errno(-errno, "%s: accept failed: %m", s->what);
			return;
		}
		s->stats.accepted++;
		if (s->n_clients == CTLSRV_MAX_CLIENTS) {
			turn_away(s, fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (c == NULL) {
			safe_close(fd);
			continue;
		}
		c->srv = s;
		c->fd = fd;
		c->last_ms = now_ms();
		peer_of(fd, &c->peer);
		if (reactor_add_fd(s->reactor, fd, REACTOR_IN, on_client, c, &c->watch) < 0) {
			safe_close(fd);
			free(c);
			continue;
		}
		for (i = 0; i < CTLSRV_MAX_CLIENTS; i++) {
			if (s->clients[i] == NULL) {
				s->clients[i] = c;
				break;
			}
		}
		s->n_clients++;
		if (s->sweep == NULL)
			(void)reactor_add_timer(s->reactor, SWEEP_MS, on_sweep, s, &s->sweep);
	}
}

int
ctlsrv_new(struct reactor *r, int fd, const char *what, const struct ctlsrv_ops *ops,
    void *userdata, struct ctlsrv **ret)
{
	struct ctlsrv *s;
	int rc;

	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		safe_close(fd);
		return -ENOMEM;
	}
	s->reactor = r;
	s->fd = fd;
	s->ops = ops;
	s->userdata = userdata;
	s->what = strdup(what);
	if (s->what == NULL) {
		ctlsrv_free(s);
		return -ENOMEM;
	}
	rc = reactor_add_fd(r, fd, REACTOR_IN, on_listen, s, &s->watch);
	if (rc < 0) {
		ctlsrv_free(s);
		return rc;
	}
	*ret = s;
	return 0;
}

struct ctlsrv *
ctlsrv_free(struct ctlsrv *s)
{
	unsigned i;

	if (s == NULL)
		return NULL;
	for (i = 0; i < CTLSRV_MAX_CLIENTS; i++)
		if (s->clients[i] != NULL)
			client_close(s->clients[i]);
	s->sweep = reactor_del_timer(s->reactor, s->sweep);
	reactor_del_fd(s->reactor, s->watch);
	safe_close(s->fd);
	free(s->what);
	free(s);
	return NULL;
}

const struct ctlsrv_stats *
ctlsrv_stats(const struct ctlsrv *s)
{
	return &s->stats;
}
