/*
 * sockopt.c: the table of socket options and what applies it (sockopt.h).
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "sockopt.h"
#include "util.h"

#define FIELD(f)	offsetof(struct sock_conf, f)
#define IP(name, reset)	{ IPPROTO_IP, name, reset }
#define IP6(name, reset) { IPPROTO_IPV6, name, reset }
#define SOL(name, reset) { SOL_SOCKET, name, reset }
#define NONE		{ 0, 0, 0 }

const struct sockopt sockopt_table[] = {
	{ .key = "ttl", .off = FIELD(ttl), .min = 1, .max = 255, .unset = 0,
	  /* -1: the system default hop limit */
	  .at = { IP(IP_TTL, -1), IP6(IPV6_UNICAST_HOPS, -1), NONE },
	  .outbound = true },
	{ .key = "broadcast", .off = FIELD(broadcast), .is_bool = true, .unset = -1,
	  .at = { SOL(SO_BROADCAST, 0), NONE, NONE },
	  .outbound = true,
	  .wrong_type = "applies to udp4 sockets only (IPv6 has no broadcast)" },
	{ .key = "multicast_ttl", .off = FIELD(multicast_ttl), .min = 0, .max = 255, .unset = -1,
	  .at = { IP(IP_MULTICAST_TTL, 1), IP6(IPV6_MULTICAST_HOPS, -1), NONE },
	  .outbound = true },
	{ .key = "multicast_loop", .off = FIELD(multicast_loop), .is_bool = true, .unset = -1,
	  .at = { IP(IP_MULTICAST_LOOP, 1), IP6(IPV6_MULTICAST_LOOP, 1), NONE },
	  .outbound = true },
	/* On by default: a udp6 socket takes IPv4 only when told. */
	{ .key = "ipv6_only", .off = FIELD(ipv6_only), .is_bool = true, .unset = -1,
	  .at = { NONE, IP6(IPV6_V6ONLY, 1), NONE },
	  .binding = true, .bind_default = 1,
	  .wrong_type = "applies to udp6 sockets only" },
	{ .key = "reuseport", .off = FIELD(reuseport), .is_bool = true, .unset = 0,
	  .at = { SOL(SO_REUSEPORT, 0), SOL(SO_REUSEPORT, 0), NONE },
	  .binding = true, .bind_default = -1 },
	{ .key = "recv_buffer", .off = FIELD(recv_buffer), .min = 1024, .max = INT_MAX / 2,
	  .unset = 0,
	  .at = { SOL(SO_RCVBUF, 0), SOL(SO_RCVBUF, 0), SOL(SO_RCVBUF, 0) },
	  .force = SO_RCVBUFFORCE },
	{ .key = "send_buffer", .off = FIELD(send_buffer), .min = 1024, .max = INT_MAX / 2,
	  .unset = 0,
	  .at = { SOL(SO_SNDBUF, 0), SOL(SO_SNDBUF, 0), SOL(SO_SNDBUF, 0) },
	  .force = SO_SNDBUFFORCE, .outbound = true },
};

const size_t sockopt_count = ARRAY_SIZE(sockopt_table);
_Static_assert(ARRAY_SIZE(sockopt_table) <= SOCKOPT_MAX, "raise SOCKOPT_MAX");

int *
sockopt_field(const struct sockopt *o, struct sock_conf *c)
{
	return (int *)(void *)((char *)c + o->off);
}

int
sockopt_get(const struct sockopt *o, const struct sock_conf *c)
{
	int v;

	memcpy(&v, (const char *)c + o->off, sizeof(v));
	return v;
}

bool
sockopt_applies(const struct sockopt *o, enum sock_type t)
{
	return t >= 0 && t < _SOCK_T_MAX && o->at[t].name != 0;
}

int
sockopt_set_int(int fd, int level, int name, int value)
{
	if (setsockopt(fd, level, name, &value, sizeof(value)) < 0)
		return -errno;
	return 0;
}

/* The size a fresh socket of this type gets for opt (the system default). */
static int
default_buffer(enum sock_type t, int opt, int *ret)
{
	static const int family[_SOCK_T_MAX] = { AF_INET, AF_INET6, AF_UNIX };
	int fd, v = 0, r = 0;
	socklen_t len = sizeof(v);

	fd = socket(family[t], SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, opt, &v, &len) < 0)
		r = -errno;
	safe_close(fd);
	/* getsockopt reports twice what setsockopt takes. */
	*ret = v / 2;
	return r;
}

/*
 * Sets a buffer size; above the system maximum, forces it or, when name
 * is not NULL, warns that it is capped.
 */
static int
set_buffer(int fd, const struct sockopt *o, int opt, int size, const char *name)
{
	int got = 0, r;
	socklen_t len = sizeof(got);

	r = sockopt_set_int(fd, SOL_SOCKET, opt, size);
	if (r < 0)
		return r;
	/* The kernel doubles what it grants; less than asked means capped. */
	if (getsockopt(fd, SOL_SOCKET, opt, &got, &len) < 0)
		return -errno;
	if (got / 2 >= size || sockopt_set_int(fd, SOL_SOCKET, o->force, size) == 0 || name == NULL)
		return 0;
	log_warning("%s: %s %d is above the system maximum, using %d "
	    "(raise net.core.%s or run with CAP_NET_ADMIN)", name, o->key, size, got / 2,
	    opt == SO_RCVBUF ? "rmem_max" : "wmem_max");
	return 0;
}

static int
set_one(int fd, const struct sockopt *o, enum sock_type t, int v, const char *name)
{
	if (o->force != 0)
		return set_buffer(fd, o, o->at[t].name, v, name);
	return sockopt_set_int(fd, o->at[t].level, o->at[t].name, v);
}

int
sockopt_apply_binding(int fd, const struct sock_conf *c)
{
	size_t i;
	int v, r;

	for (i = 0; i < sockopt_count; i++) {
		const struct sockopt *o = &sockopt_table[i];

		if (!o->binding || !sockopt_applies(o, c->type))
			continue;
		v = sockopt_get(o, c);
		if (v == o->unset)
			v = o->bind_default;
		if (v < 0)
			continue;
		r = sockopt_set_int(fd, o->at[c->type].level, o->at[c->type].name, v != 0);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Sets c's options (outbound: those outbound sockets carry) on fd, a socket of type t. */
static int
apply_where(int fd, enum sock_type t, const struct sock_conf *c, const char *name,
    bool outbound)
{
	size_t i;
	int v, r;

	for (i = 0; i < sockopt_count; i++) {
		const struct sockopt *o = &sockopt_table[i];

		if (o->binding || !sockopt_applies(o, t) || (outbound && !o->outbound))
			continue;
		v = sockopt_get(o, c);
		if (v == o->unset)
			continue;
		r = set_one(fd, o, t, v, name);
		if (r < 0)
			return r;
	}
	return 0;
}

int
sockopt_apply(int fd, const struct sock_conf *c, const char *name)
{
	return apply_where(fd, c->type, c, name, false);
}

int
sockopt_apply_outbound(int fd, int family, const struct sock_conf *c)
{
	enum sock_type t = family == AF_INET ? SOCK_T_UDP4 :
	    family == AF_INET6 ? SOCK_T_UDP6 : SOCK_T_UNIX;

	return apply_where(fd, t, c, NULL, true);
}

int
sockopt_reset(int fd, const struct sock_conf *c, const struct sock_conf *old)
{
	size_t i;
	int v, r;

	for (i = 0; i < sockopt_count; i++) {
		const struct sockopt *o = &sockopt_table[i];

		if (o->binding || !sockopt_applies(o, c->type) ||
		    sockopt_get(o, old) == o->unset || sockopt_get(o, c) != o->unset)
			continue;
		v = o->at[c->type].reset;
		if (o->force != 0) {
			r = default_buffer(c->type, o->at[c->type].name, &v);
			if (r < 0)
				return r;
		}
		r = sockopt_set_int(fd, o->at[c->type].level, o->at[c->type].name, v);
		if (r < 0)
			return r;
	}
	return 0;
}

void
sockopt_warn_binding(const struct sock_conf *c, const struct sock_conf *old)
{
	size_t i;
	int a, b;

	for (i = 0; i < sockopt_count; i++) {
		const struct sockopt *o = &sockopt_table[i];

		if (!o->binding || !sockopt_applies(o, c->type))
			continue;
		a = sockopt_get(o, c);
		b = sockopt_get(o, old);
		a = a == o->unset ? o->bind_default : a;
		b = b == o->unset ? o->bind_default : b;
		if ((a > 0) != (b > 0))
			log_warning("%s: %s changed; it takes effect when the socket is bound "
			    "anew (restart, or change its address or port)", c->name, o->key);
	}
}
