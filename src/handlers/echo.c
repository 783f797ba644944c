/*
 * handlers/echo.c: the echo handler. Sends each datagram back to its sender,
 * byte for byte, from the address it arrived on. Like BSD inetd it never
 * answers source port 0 or another well-known datagram service, so two
 * reflectors cannot be set ping-ponging.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "handler.h"
#include "sock.h"
#include "stats.h"
#include "util.h"

#define PORT_WORDS	(65536 / 64)

struct echo_conf {
	uint64_t	ignore[PORT_WORDS];	/* bitmap of source ports never answered */
};

struct echo_state {
	uint64_t	no_peer;	/* unbound unix senders: nowhere to answer */
	uint64_t	ignored;	/* from an ignored source port */
};

static const uint16_t default_ignore[] = {
	0, 7, 13, 17, 19, 37, 53, 69, 111, 123, 137, 138, 161, 162, 389, 500, 514, 520,
	1900, 5353, 11211,
};

static const char *const echo_keys[] = { "ignore_ports", NULL };

static void
set_port(struct echo_conf *c, unsigned port)
{
	c->ignore[port / 64] |= (uint64_t)1 << (port % 64);
}

static int
echo_parse(const config_setting_t *s, void *conf, struct conf_err *err)
{
	struct echo_conf *c = conf;
	config_setting_t *l;
	long long v;
	size_t i;
	int n, r;

	r = conf_get_list(s, "ignore_ports", &l, err);
	if (r < 0)
		return r;
	if (r == 0) {
		for (i = 0; i < ARRAY_SIZE(default_ignore); i++)
			set_port(c, default_ignore[i]);
		return 0;
	}
	n = config_setting_length(l);
	for (i = 0; i < (size_t)n; i++) {
		const config_setting_t *e = config_setting_get_elem(l, (unsigned)i);

		if (config_setting_type(e) != CONFIG_TYPE_INT)
			return conf_err_set(err, e, "must be a port number 0..65535");
		v = config_setting_get_int(e);
		if (v < 0 || v > 65535)
			return conf_err_set(err, e, "must be 0..65535, got %lld", v);
		set_port(c, (unsigned)v);
	}
	return 0;
}

static int
echo_start(struct handler *h, struct handler *old)
{
	if (old != NULL && old->state != NULL) {
		h->state = old->state;
		old->state = NULL;
		return 0;
	}
	h->state = calloc(1, sizeof(struct echo_state));
	return h->state == NULL ? -ENOMEM : 0;
}

static bool
ignored(const struct echo_conf *c, const struct sockaddr *sa)
{
	unsigned port;

	if (sa->sa_family == AF_INET)
		port = ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
	else if (sa->sa_family == AF_INET6)
		port = ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
	else
		return false;
	return (c->ignore[port / 64] >> (port % 64)) & 1;
}

static int
echo_handle(struct handler *h, const struct dgram *d)
{
	struct echo_state *st = h->state;

	if (d->peer == NULL) {
		st->no_peer++;
		return 0;
	}
	if (ignored(h->conf, d->peer)) {
		st->ignored++;
		return 0;
	}
	return sock_reply(d->sock, d);
}

static const struct stat_desc no_peer_desc = {
	"dgramd_echo_no_peer_total", "Datagrams from unbound unix senders: nowhere to answer.",
	STAT_COUNTER, "echo.no_peer", STAT_ROLE_NONE, { NULL, NULL },
};
static const struct stat_desc ignored_desc = {
	"dgramd_echo_ignored_total", "Datagrams from an ignored source port, not answered.",
	STAT_COUNTER, "echo.ignored", STAT_ROLE_NONE, { NULL, NULL },
};

static void
echo_stats(const struct handler *h, struct stats_visitor *v)
{
	const struct echo_state *st = h->state;

	stats_put(v, &no_peer_desc, st->no_peer);
	stats_put(v, &ignored_desc, st->ignored);
}

static void
echo_stop(struct handler *h)
{
	h->state = mfree(h->state);
}

const struct handler_ops echo_handler_ops = {
	.type = "echo",
	.keys = echo_keys,
	.conf_size = sizeof(struct echo_conf),
	.parse = echo_parse,
	.start = echo_start,
	.handle = echo_handle,
	.stats = echo_stats,
	.stop = echo_stop,
};
