/*
 * bench.h: helpers shared by the benchmark tools (dgload, ceiling).
 *
 * Addresses are restricted on purpose: the tools only ever talk to
 * loopback (127.0.0.0/8, ::1) or to unix datagram sockets, so a typo in a
 * benchmark script cannot flood a real network.
 */
#ifndef BENCH_H
#define BENCH_H

#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stddef.h>

/* Sizes of the sequence number field carried in every payload. */
#define BENCH_SEQ_DIGITS	10
#define BENCH_SEQ_TAG		"seq="

struct bench_addr {
	union {
		struct sockaddr		sa;
		struct sockaddr_in	sin;
		struct sockaddr_in6	sin6;
		struct sockaddr_un	sun;
		struct sockaddr_storage	ss;
	} u;
	socklen_t	len;
	int		family;		/* AF_INET, AF_INET6 or AF_UNIX */
	int		unlink_path;	/* we created the path: remove it */
};

/*
 * Parse "127.x.y.z:PORT", "[::1]:PORT", "unix:PATH", "unix:@NAME", "/PATH"
 * or "./PATH" into a; anything outside loopback is refused. Returns 0 or
 * -EINVAL with a message on stderr naming prog.
 */
int	bench_addr_parse(const char *prog, const char *s, struct bench_addr *a);

/* Open a blocking datagram socket of a's family; returns the fd or -errno. */
int	bench_socket(const struct bench_addr *a);

/*
 * Bind a socket to a (removing a stale unix socket first) and fill in the
 * real port for port 0. Returns the fd or -errno.
 */
int	bench_listen(const char *prog, struct bench_addr *a);

/* Print "listening PORT" or "listening PATH" on stdout and flush it. */
void	bench_print_listening(const struct bench_addr *a);

/* Remove the unix socket file that bench_listen() created, if any. */
void	bench_addr_cleanup(const struct bench_addr *a);

/* Set SO_RCVBUF (or SO_RCVBUFFORCE when allowed) to bytes; 0 = leave. */
void	bench_set_rcvbuf(int fd, int bytes);

/* Set SO_RCVTIMEO and SO_SNDTIMEO so blocking calls wake up to check time. */
void	bench_set_timeouts(int fd, int ms);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t	bench_now_ns(void);

/* Write seq as BENCH_SEQ_DIGITS decimal digits at p (modulo 10^digits). */
void	bench_put_seq(char *p, uint64_t seq);

/* Find "seq=DDDDDDDDDD" in a payload; returns 0 and sets *seq, or -1. */
int	bench_get_seq(const char *p, size_t len, uint64_t *seq);

/* Parse a non-negative number with an optional k/M/G suffix (1000s). */
int	bench_parse_num(const char *s, double *ret);

#endif
