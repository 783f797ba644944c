/*
 * addr.c: socket address parsing, formatting and CIDR matching.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "util.h"

int
addr_parse_ip(const char *s, int family, uint16_t port, union sockaddr_any *ret,
    socklen_t *ret_len)
{
	union sockaddr_any a;

	memset(&a, 0, sizeof(a));
	if (family != AF_INET6 && inet_pton(AF_INET, s, &a.in.sin_addr) == 1) {
		a.in.sin_family = AF_INET;
		a.in.sin_port = htons(port);
		*ret = a;
		*ret_len = sizeof(a.in);
		return 0;
	}
	if (family != AF_INET && inet_pton(AF_INET6, s, &a.in6.sin6_addr) == 1) {
		a.in6.sin6_family = AF_INET6;
		a.in6.sin6_port = htons(port);
		*ret = a;
		*ret_len = sizeof(a.in6);
		return 0;
	}
	return -EINVAL;
}

int
addr_unix(const char *path, union sockaddr_any *ret, socklen_t *ret_len)
{
	union sockaddr_any a;
	size_t n = strlen(path);

	if (n == 0 || (path[0] == '@' && n == 1))
		return -EINVAL;
	/* A path needs its NUL; an abstract name uses every byte. */
	if (n >= sizeof(a.un.sun_path) + (path[0] == '@'))
		return -ENAMETOOLONG;
	memset(&a, 0, sizeof(a));
	a.un.sun_family = AF_UNIX;
	memcpy(a.un.sun_path, path, n);
	if (path[0] == '@')
		a.un.sun_path[0] = '\0';
	else
		n++;
	*ret = a;
	*ret_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	return 0;
}

int
addr_split_hostport(const char *s, char **ret_host, uint16_t *ret_port)
{
	const char *colon, *host, *end;
	char *endp, *h;
	unsigned long port;
	size_t hlen;

	if (s[0] == '[') {
		end = strchr(s, ']');
		if (end == NULL || end[1] != ':')
			return -EINVAL;
		host = s + 1;
		hlen = (size_t)(end - host);
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || memchr(s, ':', (size_t)(colon - s)) != NULL)
			return -EINVAL;
		host = s;
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || colon[1] < '0' || colon[1] > '9')
		return -EINVAL;
	errno = 0;
	port = strtoul(colon + 1, &endp, 10);
	if (errno != 0 || *endp != '\0' || port > 65535)
		return -EINVAL;
	h = strndup(host, hlen);
	if (h == NULL)
		return -ENOMEM;
	*ret_host = h;
	*ret_port = (uint16_t)port;
	return 0;
}

const char *
addr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t size)
{
	const struct sockaddr_un *un;
	char ip[INET6_ADDRSTRLEN];
	size_t n;

	if (sa == NULL || len == 0) {
		snprintf(buf, size, "(unbound)");
		return buf;
	}
	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(buf, size, "%s:%u", ip, ntohs(in->sin_port));
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, size, "[%s]:%u", ip, ntohs(in6->sin6_port));
		break;
	}
	case AF_UNIX:
		un = (const struct sockaddr_un *)(const void *)sa;
		if (len <= offsetof(struct sockaddr_un, sun_path)) {
			snprintf(buf, size, "(unbound)");
			break;
		}
		n = len - offsetof(struct sockaddr_un, sun_path);
		if (un->sun_path[0] == '\0') {
			snprintf(buf, size, "@%.*s", (int)(n - 1), un->sun_path + 1);
		} else {
			n = strnlen(un->sun_path, n);
			snprintf(buf, size, "%.*s", (int)n, un->sun_path);
		}
		break;
	default:
		snprintf(buf, size, "(family %d)", sa->sa_family);
		break;
	}
	return buf;
}

bool
addr_equal(const struct sockaddr *a, socklen_t alen, const struct sockaddr *b, socklen_t blen)
{
	const struct sockaddr_in *a4, *b4;
	const struct sockaddr_in6 *a6, *b6;

	if (a->sa_family != b->sa_family)
		return false;
	switch (a->sa_family) {
	case AF_INET:
		a4 = (const struct sockaddr_in *)(const void *)a;
		b4 = (const struct sockaddr_in *)(const void *)b;
		return a4->sin_port == b4->sin_port &&
		    a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	case AF_INET6:
		a6 = (const struct sockaddr_in6 *)(const void *)a;
		b6 = (const struct sockaddr_in6 *)(const void *)b;
		return a6->sin6_port == b6->sin6_port &&
		    memcmp(&a6->sin6_addr, &b6->sin6_addr, 16) == 0;
	case AF_UNIX:
		return alen == blen && memcmp(a, b, alen) == 0;
	default:
		return false;
	}
}

int
cidr_parse(const char *s, struct cidr *ret)
{
	static const uint8_t v4mapped[12] = { [10] = 0xff, [11] = 0xff };
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	struct cidr c;
	unsigned long p;
	unsigned max;
	size_t i, len;

	len = strlen(s);
	if (len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len + 1);
	memset(&c, 0, sizeof(c));
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, c.net) == 1) {
		c.family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, c.net) == 1) {
		c.family = AF_INET6;
		max = 128;
	} else {
		return -EINVAL;
	}
	p = max;
	if (slash != NULL) {
		if (*slash < '0' || *slash > '9')
			return -EINVAL;
		errno = 0;
		p = strtoul(slash, &end, 10);
		if (errno != 0 || *end != '\0' || p > max)
			return -EINVAL;
	}
	c.prefix = (uint8_t)p;
	/* Clear the host bits so that matching compares whole bytes. */
	for (i = 0; i < max / 8; i++) {
		if (i * 8 >= p)
			c.net[i] = 0;
		else if (i * 8 + 8 > p)
			c.net[i] &= (uint8_t)(0xff << (8 - (p - i * 8)));
	}
	/*
	 * cidr_match matches an IPv4-mapped sender as IPv4, so a rule within
	 * ::ffff:0:0/96 is kept as the IPv4 rule it stands for; otherwise it
	 * could never match anyone.
	 */
	if (c.family == AF_INET6 && p >= 96 && memcmp(c.net, v4mapped, sizeof(v4mapped)) == 0) {
		c.family = AF_INET;
		c.prefix = (uint8_t)(p - 96);
		memmove(c.net, c.net + 12, 4);
		memset(c.net + 4, 0, 12);
	}
	*ret = c;
	return 0;
}

static bool
prefix_match(const uint8_t *net, const uint8_t *addr, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;

	if (memcmp(net, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return (addr[full] & (uint8_t)(0xff << (8 - rest))) == net[full];
}

bool
cidr_match(const struct cidr *c, const struct sockaddr *sa)
{
	const uint8_t *a;
	int family;

	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET) {
		family = AF_INET;
		a = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *in6 =
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(in6)) {
			family = AF_INET;
			a = in6->s6_addr + 12;
		} else {
			family = AF_INET6;
			a = in6->s6_addr;
		}
	} else {
		return false;
	}
	if (family != c->family)
		return false;
	return prefix_match(c->net, a, c->prefix);
}

uint32_t
addr_hash_ip(const struct sockaddr *sa, socklen_t len)
{
	const uint8_t *p = NULL;
	uint32_t h = 2166136261u;
	size_t n = 0, i;

	(void)len;
	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		p = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
		n = 4;
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *in6 =
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		p = in6->s6_addr;
		n = 16;
		if (IN6_IS_ADDR_V4MAPPED(in6)) {
			p += 12;
			n = 4;
		}
	}
	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}
