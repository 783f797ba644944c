/*
 * addr.h: parse and format socket addresses ("1.2.3.4:P", "[::1]:P",
 * "unix:PATH", "@name") and match CIDRs. Pure: no I/O, no logging.
 */
#ifndef DGRAMD_ADDR_H
#define DGRAMD_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

union sockaddr_any {
	struct sockaddr		sa;
	struct sockaddr_in	in;
	struct sockaddr_in6	in6;
	struct sockaddr_un	un;
	struct sockaddr_storage	ss;
};

/* Longest text addr_format writes, NUL included. */
#define ADDR_STRLEN	(sizeof(((struct sockaddr_un *)0)->sun_path) + 16)

/*
 * Parses a numeric IP address of family (AF_INET, AF_INET6 or AF_UNSPEC
 * for either) and sets port. Returns 0 or -EINVAL.
 */
int	addr_parse_ip(const char *s, int family, uint16_t port, union sockaddr_any *ret,
	    socklen_t *ret_len);

/*
 * Fills a unix address from a path; "@name" is the abstract namespace.
 * Returns 0, -EINVAL for an empty path or -ENAMETOOLONG.
 */
int	addr_unix(const char *path, union sockaddr_any *ret, socklen_t *ret_len);

/*
 * Splits "HOST:PORT" or "[V6]:PORT" into a newly allocated host (without
 * brackets) and a port. Returns 0, -EINVAL or -ENOMEM.
 */
int	addr_split_hostport(const char *s, char **ret_host, uint16_t *ret_port);

/*
 * Formats an address as "1.2.3.4:P", "[::1]:P", a path, "@name" or
 * "(unbound)" (len 0 or NULL); buf holds at least ADDR_STRLEN bytes.
 */
const char *addr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t size);

/* True when both are the same family, address and port (or path). */
bool	addr_equal(const struct sockaddr *a, socklen_t alen, const struct sockaddr *b,
	    socklen_t blen);

/* A CIDR: family AF_INET or AF_INET6, the network bytes and prefix length. */
struct cidr {
	int		family;
	uint8_t		prefix;
	uint8_t		net[16];
};

/* Parses "10.0.0.0/8", "::1", "fe80::/10" (no prefix = host). 0 or -EINVAL. */
int	cidr_parse(const char *s, struct cidr *ret);
/*
 * True when sa matches c. An IPv4-mapped IPv6 sender is matched as IPv4;
 * a sender of the other family never matches.
 */
bool	cidr_match(const struct cidr *c, const struct sockaddr *sa);

/* A hash of the sender's IP address (port ignored) or, for unix, of 0. */
uint32_t	addr_hash_ip(const struct sockaddr *sa, socklen_t len);

#endif
