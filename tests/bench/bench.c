/*
 * bench.c: address parsing, socket set-up and small helpers shared by the
 * benchmark tools. Only loopback and unix addresses get through.
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static int
parse_port(const char *prog, const char *s, const char *full, in_port_t *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < 0 || v > 65535) {
		fprintf(stderr, "%s: bad port in '%s'\n", prog, full);
		return -EINVAL;
	}
	*ret = htons((in_port_t)v);
	return 0;
}

static int
parse_unix(const char *prog, const char *path, struct bench_addr *a)
{
	size_t n;

	n = strlen(path);
	if (n == 0 || n >= sizeof(a->u.sun.sun_path)) {
		fprintf(stderr, "%s: unix path '%s' empty or too long\n", prog,
		    path);
		return -EINVAL;
	}
	a->family = AF_UNIX;
	a->u.sun.sun_family = AF_UNIX;
	memcpy(a->u.sun.sun_path, path, n);
	if (path[0] == '@') {
		/* Abstract namespace: no terminating NUL, length counts. */
		a->u.sun.sun_path[0] = '\0';
		a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else
		a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
		    n + 1);
	return 0;
}

static int
parse_v6(const char *prog, const char *s, struct bench_addr *a)
{
	char host[INET6_ADDRSTRLEN];
	const char *close;
	size_t n;

	close = strchr(s, ']');
	if (close == NULL || close[1] != ':') {
		fprintf(stderr, "%s: expected [::1]:PORT, got '%s'\n", prog, s);
		return -EINVAL;
	}
	n = (size_t)(close - (s + 1));
	if (n >= sizeof(host)) {
		fprintf(stderr, "%s: bad IPv6 address '%s'\n", prog, s);
		return -EINVAL;
	}
	memcpy(host, s + 1, n);
	host[n] = '\0';
	a->family = AF_INET6;
	a->u.sin6.sin6_family = AF_INET6;
	a->len = sizeof(a->u.sin6);
	if (inet_pton(AF_INET6, host, &a->u.sin6.sin6_addr) != 1) {
		fprintf(stderr, "%s: bad IPv6 address '%s'\n", prog, s);
		return -EINVAL;
	}
	if (!IN6_IS_ADDR_LOOPBACK(&a->u.sin6.sin6_addr)) {
		fprintf(stderr, "%s: refusing '%s': only ::1 is allowed\n",
		    prog, s);
		return -EINVAL;
	}
	return parse_port(prog, close + 2, s, &a->u.sin6.sin6_port);
}

static int
parse_v4(const char *prog, const char *s, struct bench_addr *a)
{
	char host[INET_ADDRSTRLEN];
	const char *colon;
	size_t n;

	colon = strrchr(s, ':');
	if (colon == NULL) {
		fprintf(stderr, "%s: expected 127.0.0.1:PORT, got '%s'\n",
		    prog, s);
		return -EINVAL;
	}
	n = (size_t)(colon - s);
	if (n >= sizeof(host)) {
		fprintf(stderr, "%s: bad IPv4 address '%s'\n", prog, s);
		return -EINVAL;
	}
	memcpy(host, s, n);
	host[n] = '\0';
	a->family = AF_INET;
	a->u.sin.sin_family = AF_INET;
	a->len = sizeof(a->u.sin);
	if (inet_pton(AF_INET, host, &a->u.sin.sin_addr) != 1) {
		fprintf(stderr, "%s: bad IPv4 address '%s'\n", prog, s);
		return -EINVAL;
	}
	if ((ntohl(a->u.sin.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "%s: refusing '%s': only 127.0.0.0/8 is "
		    "allowed\n", prog, s);
		return -EINVAL;
	}
	return parse_port(prog, colon + 1, s, &a->u.sin.sin_port);
}

int
bench_addr_parse(const char *prog, const char *s, struct bench_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (strncmp(s, "unix:", 5) == 0)
		return parse_unix(prog, s + 5, a);
	if (s[0] == '/' || s[0] == '.' || s[0] == '@')
		return parse_unix(prog, s, a);
	if (s[0] == '[')
		return parse_v6(prog, s, a);
	return parse_v4(prog, s, a);
}

int
bench_socket(const struct bench_addr *a)
{
	int fd;

	fd = socket(a->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	return fd;
}

static int
remove_stale(const char *prog, const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		fprintf(stderr, "%s: %s exists and is not a socket\n", prog,
		    path);
		return -EEXIST;
	}
	if (unlink(path) < 0)
		return -errno;
	return 0;
}

int
bench_listen(const char *prog, struct bench_addr *a)
{
	int fd, r;

	fd = bench_socket(a);
	if (fd < 0) {
		fprintf(stderr, "%s: socket: %s\n", prog, strerror(-fd));
		return fd;
	}
	if (a->family == AF_UNIX && a->u.sun.sun_path[0] != '\0') {
		r = remove_stale(prog, a->u.sun.sun_path);
		if (r < 0)
			goto fail;
	}
	if (a->family == AF_INET6) {
		r = 1;
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &r, sizeof(r));
	}
	if (bind(fd, &a->u.sa, a->len) < 0) {
		r = -errno;
		fprintf(stderr, "%s: bind: %s\n", prog, strerror(errno));
		goto fail;
	}
	if (a->family == AF_UNIX)
		a->unlink_path = a->u.sun.sun_path[0] != '\0';
	else if (getsockname(fd, &a->u.sa, &a->len) < 0) {
		r = -errno;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return r;
}

void
bench_print_listening(const struct bench_addr *a)
{
	if (a->family == AF_INET)
		printf("listening %u\n", ntohs(a->u.sin.sin_port));
	else if (a->family == AF_INET6)
		printf("listening %u\n", ntohs(a->u.sin6.sin6_port));
	else if (a->u.sun.sun_path[0] == '\0')
		printf("listening @%.*s\n", (int)(a->len -
		    offsetof(struct sockaddr_un, sun_path) - 1),
		    a->u.sun.sun_path + 1);
	else
		printf("listening %s\n", a->u.sun.sun_path);
	fflush(stdout);
}

void
bench_addr_cleanup(const struct bench_addr *a)
{
	if (a->family == AF_UNIX && a->unlink_path)
		(void)unlink(a->u.sun.sun_path);
}

void
bench_set_rcvbuf(int fd, int bytes)
{
	if (bytes <= 0)
		return;
	/* FORCE works as root and ignores rmem_max; fall back quietly. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes,
	    sizeof(bytes)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes,
		    sizeof(bytes));
}

void
bench_set_timeouts(int fd, int ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

uint64_t
bench_now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
bench_put_seq(char *p, uint64_t seq)
{
	int i;

	for (i = BENCH_SEQ_DIGITS - 1; i >= 0; i--) {
		p[i] = (char)('0' + seq % 10);
		seq /= 10;
	}
}

int
bench_get_seq(const char *p, size_t len, uint64_t *seq)
{
	const char *q;
	uint64_t v;
	int i;

	q = memmem(p, len, BENCH_SEQ_TAG, sizeof(BENCH_SEQ_TAG) - 1);
	if (q == NULL)
		return -1;
	q += sizeof(BENCH_SEQ_TAG) - 1;
	if ((size_t)(q - p) + BENCH_SEQ_DIGITS > len)
		return -1;
	v = 0;
	for (i = 0; i < BENCH_SEQ_DIGITS; i++) {
		if (q[i] < '0' || q[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(q[i] - '0');
	}
	*seq = v;
	return 0;
}

int
bench_parse_num(const char *s, double *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno != 0 || v < 0)
		return -EINVAL;
	switch (*end) {
	case 'k':
		v *= 1e3;
		end++;
		break;
	case 'M':
		v *= 1e6;
		end++;
		break;
	case 'G':
		v *= 1e9;
		end++;
		break;
	}
	if (*end != '\0')
		return -EINVAL;
	*ret = v;
	return 0;
}
