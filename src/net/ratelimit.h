/*
 * ratelimit.h: token buckets for rate_limit, one per socket or one per
 * sender in a fixed-capacity table. Pure: no I/O, no logging, no clock
 * (the caller passes the time), so it is tested and fuzzed directly.
 */
#ifndef DGRAMD_RATELIMIT_H
#define DGRAMD_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conf.h"

struct ucred;

/* Ways per set of the per-sender table (the unit of its LRU eviction). */
#define RATELIMIT_WAYS	8

/*
 * Who a datagram counts against: the sender's IP address (port ignored;
 * IPv4 and IPv4-mapped IPv6 give the same key) or a unix sender's uid.
 */
struct rl_key {
	uint8_t		b[16];
};

/* One limiter: a bucket, or a table of buckets; owned by its route. */
struct ratelimit;

/* The outcome of ratelimit_check. */
enum rl_verdict {
	RL_PASS,
	RL_DROP,	/* dropped; a drop episode was already running */
	RL_DROP_FIRST,	/* dropped, and this starts a drop episode */
};

/* What a drop episode amounted to (reported when it ends). */
struct rl_episode {
	uint64_t	dropped;	/* datagrams */
	uint64_t	senders;	/* distinct senders that lost some (per_source) */
	uint64_t	start_ns;	/* first and last drop */
	uint64_t	last_ns;
	struct rl_key	first;		/* the sender of the first drop */
};

/*
 * Allocates the limiter c describes (c->set must be true); the
 * per-sender table, sized for c->sources rounded up to a multiple of
 * RATELIMIT_WAYS, is allocated here and never grows. seed keys the hash
 * that places senders (pass a random value, so that spoofed sources cannot
 * aim at one set). Returns 0 or -ENOMEM.
 */
int	ratelimit_new(const struct rate_limit_conf *c, uint64_t seed, struct ratelimit **ret);
/* Frees; accepts NULL; returns NULL. */
struct ratelimit	*ratelimit_free(struct ratelimit *rl);
/* True when rl was built from settings equal to c (its state may be kept). */
bool	ratelimit_same_conf(const struct ratelimit *rl, const struct rate_limit_conf *c);
/*
 * Copies the buckets, the table, its hash key and the running drop
 * episode of src into dst, which must be built from the same settings
 * (ratelimit_same_conf). src stays usable.
 */
void	ratelimit_copy_state(struct ratelimit *dst, const struct ratelimit *src);
/* The number of senders the table holds at most (1 when not per_source). */
uint32_t	ratelimit_capacity(const struct ratelimit *rl);
/* The number of senders the table holds now. */
uint32_t	ratelimit_used(const struct ratelimit *rl);

/*
 * The key of a sender: the IP address of sa (AF_INET or AF_INET6), else
 * the uid of cred, else the key shared by senders without either.
 */
void	ratelimit_key(const struct sockaddr *sa, const struct ucred *cred, struct rl_key *ret);

/*
 * Takes one token from the bucket of k (the socket's bucket when not
 * per_source) at time now_ns (CLOCK_MONOTONIC, never going back). At most
 * burst + rate * t datagrams pass in any t seconds.
 */
enum rl_verdict	ratelimit_check(struct ratelimit *rl, const struct rl_key *k, uint64_t now_ns);

/*
 * When a drop episode is running and nothing was dropped for quiet_ns
 * before now_ns, ends it: fills *ret and returns true.
 */
bool	ratelimit_episode_end(struct ratelimit *rl, uint64_t now_ns, uint64_t quiet_ns,
	    struct rl_episode *ret);
/* True while a drop episode runs; *ret (may be NULL) gets it so far. */
bool	ratelimit_episode(const struct ratelimit *rl, struct rl_episode *ret);

/* Formats a key as an address ("1.2.3.4", "::1") or "uid N"; size >= 48. */
const char	*ratelimit_key_format(const struct rl_key *k, char *buf, size_t size);

#endif
