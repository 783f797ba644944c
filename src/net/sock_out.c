/*
 * sock_out.c: outbound sockets for the forward handler. They are never
 * the listener itself: a target's answer (or anything else) arriving on
 * one is read and discarded here, bounded per wakeup, so it can neither
 * re-enter a handler chain nor fill memory.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "reactor.h"
#include "sock_out.h"
#include "sockopt.h"
#include "util.h"

/* Datagrams discarded per wakeup, so a chatty target cannot starve the loop. */
#define DISCARD_BATCH	32

/* Owned by one forward target. */
struct sock_out {
	int			 fd;
	int			 family;
	bool			 connected;
	bool			 want_write;
	struct reactor		*reactor;
	struct reactor_watch	*watch;
	sock_out_fn		 on_writable;
	void			*userdata;
};

int
sock_out_socket(int family, const struct sock_conf *sc)
{
	int fd, r;

	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = family == AF_INET6 ? sockopt_set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1) : 0;
	if (r == 0)
		r = sockopt_apply_outbound(fd, family, sc);
	if (r < 0) {
		safe_close(fd);
		return r;
	}
	return fd;
}

/* Nothing is meant to arrive on a one-way socket: its receive buffer stays minimal. */
static void
one_way(int fd, int family)
{
	if (family != AF_UNIX)
		(void)sockopt_set_int(fd, SOL_SOCKET, SO_RCVBUF, 1);
}

static void
on_event(struct reactor_watch *w, int fd, uint32_t events, void *userdata)
{
	struct sock_out *o = userdata;
	socklen_t len = sizeof(int);
	unsigned i;
	uint8_t b;
	int err;

	(void)w;
	if (events & REACTOR_ERR)
		(void)getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (events & REACTOR_IN)
		for (i = 0; i < DISCARD_BATCH; i++)
			if (recv(fd, &b, sizeof(b), MSG_DONTWAIT | MSG_TRUNC) < 0 &&
			    errno != EINTR)
				break;
	if ((events & REACTOR_OUT) && o->want_write && o->on_writable != NULL)
		o->on_writable(o->userdata);
}

int
sock_out_new(struct reactor *r, int family, const struct sock_conf *sc,
    sock_out_fn on_writable, void *userdata, struct sock_out **ret)
{
	struct sock_out *o;
	int rc;

	o = calloc(1, sizeof(*o));
	if (o == NULL)
		return -ENOMEM;
	o->family = family;
	o->reactor = r;
	o->on_writable = on_writable;
	o->userdata = userdata;
	o->fd = sock_out_socket(family, sc);
	if (o->fd < 0) {
		rc = o->fd;
		goto fail;
	}
	one_way(o->fd, family);
	rc = reactor_add_fd(r, o->fd, REACTOR_IN, on_event, o, &o->watch);
	if (rc < 0)
		goto fail;
	*ret = o;
	return 0;
fail:
	sock_out_free(o);
	return rc;
}

struct sock_out *
sock_out_free(struct sock_out *o)
{
	if (o == NULL)
		return NULL;
	o->watch = reactor_del_fd(o->reactor, o->watch);
	o->fd = safe_close(o->fd);
	free(o);
	return NULL;
}

int
sock_out_family(const struct sock_out *o)
{
	return o->family;
}

int
sock_out_fd(const struct sock_out *o)
{
	return o->fd;
}

int
sock_out_apply(struct sock_out *o, const struct sock_conf *sc)
{
	int r;

	r = sockopt_apply_outbound(o->fd, o->family, sc);
	if (r == 0)
		one_way(o->fd, o->family);
	return r;
}

int
sock_out_connect(struct sock_out *o, const struct sockaddr *sa, socklen_t len)
{
	if (connect(o->fd, sa, len) < 0)
		return -errno;
	o->connected = true;
	return 0;
}

void
sock_out_disconnect(struct sock_out *o)
{
	struct sockaddr sa = { .sa_family = AF_UNSPEC };

	if (!o->connected)
		return;
	(void)connect(o->fd, &sa, sizeof(sa));
	o->connected = false;
}

bool
sock_out_connected(const struct sock_out *o)
{
	return o->connected;
}

int
sock_out_want_write(struct sock_out *o, bool on)
{
	int r;

	if (o->want_write == on)
		return 0;
	r = reactor_mod_fd(o->reactor, o->watch, REACTOR_IN | (on ? REACTOR_OUT : 0));
	if (r < 0)
		return r;
	o->want_write = on;
	return 0;
}
