/*
 * fuzz-addr.c: libFuzzer harness for the address and CIDR parsers and the
 * rate-limit keys. Checks the invariants the allow lists rely on: a parsed
 * CIDR has a prefix within its family; an address that parses as an IP is
 * a host CIDR that matches itself (and its IPv4-mapped form for IPv4); a
 * /0 rule matches every sender of its family; formatting never overflows.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "ratelimit.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int cond, const char *what, const char *input)
{
	if (!cond) {
		fprintf(stderr, "fuzz-addr: %s: \"%s\"\n", what, input);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[300], buf[ADDR_STRLEN], kb[64];
	union sockaddr_any a, m;
	struct cidr c, any;
	struct rl_key k, km;
	socklen_t len;
	char *host = NULL;
	uint16_t port;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	if (cidr_parse(s, &c) == 0)
		check((c.family == AF_INET && c.prefix <= 32) ||
		    (c.family == AF_INET6 && c.prefix <= 128), "prefix range", s);

	if (addr_parse_ip(s, AF_UNSPEC, 7, &a, &len) == 0) {
		check(cidr_parse(s, &c) == 0, "an IP is a host CIDR", s);
		check(cidr_match(&c, &a.sa), "a host CIDR matches itself", s);
		(void)cidr_parse(a.sa.sa_family == AF_INET ? "0.0.0.0/0" : "::/0", &any);
		ratelimit_key(&a.sa, NULL, &k);
		(void)ratelimit_key_format(&k, kb, sizeof(kb));
		if (a.sa.sa_family == AF_INET) {
			check(cidr_match(&any, &a.sa), "0.0.0.0/0 matches IPv4", s);
			memset(&m, 0, sizeof(m));
			m.in6.sin6_family = AF_INET6;
			m.in6.sin6_addr.s6_addr[10] = 0xff;
			m.in6.sin6_addr.s6_addr[11] = 0xff;
			memcpy(&m.in6.sin6_addr.s6_addr[12], &a.in.sin_addr, 4);
			check(cidr_match(&c, &m.sa), "a mapped sender matches its IPv4 rule", s);
			ratelimit_key(&m.sa, NULL, &km);
			check(memcmp(&k, &km, sizeof(k)) == 0, "mapped and v4 share a key", s);
		} else if (!IN6_IS_ADDR_V4MAPPED(&a.in6.sin6_addr)) {
			check(cidr_match(&any, &a.sa), "::/0 matches IPv6", s);
		}
		(void)addr_format(&a.sa, len, buf, sizeof(buf));
	}
	if (addr_split_hostport(s, &host, &port) == 0) {
		check(strlen(host) < size, "host shorter than input", s);
		free(host);
	}
	if (addr_unix(s, &a, &len) == 0) {
		check(len <= sizeof(a.un), "unix length", s);
		(void)addr_format(&a.sa, len, buf, sizeof(buf));
	}
	return 0;
}
