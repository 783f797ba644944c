/*
 * ratelimit.c: token buckets, and the bounded per-sender table.
 *
 * A bucket holds up to burst tokens, counted in billionths so that the
 * refill (elapsed ns * rate) is exact integer arithmetic; a datagram
 * takes one whole token. So at most burst + rate * t datagrams pass in
 * any t seconds, and a sender idle for burst/rate seconds is full again.
 *
 * The per-sender table is set-associative: RATELIMIT_WAYS entries per
 * set, the set chosen by a keyed hash of the sender. A new sender takes
 * a free way of its set or evicts the way least recently seen (an exact
 * LRU within the set, an approximate one over the table). Everything is
 * allocated by ratelimit_new: a flood from any number of (spoofed)
 * senders only recycles entries, and an evicted sender comes back with a
 * full bucket, so the table errs on the side of letting traffic through,
 * never of blocking a sender it forgot.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ratelimit.h"
#include "util.h"

#define TOKEN	1000000000ull	/* one datagram, in billionths */

/* Marks in byte 1 of a key whose byte 0 is 0xff (a multicast prefix, never a sender). */
#define KEY_UID		0x00
#define KEY_NOBODY	0x01

struct rl_bucket {
	uint64_t	tokens;		/* billionths of a datagram */
	uint64_t	last_ns;	/* last refill = last seen */
};

struct rl_entry {
	struct rl_key		key;
	struct rl_bucket	bucket;
	uint32_t		episode;	/* the last drop episode it lost datagrams in */
	bool			used;
};

struct ratelimit {
	struct rate_limit_conf	 conf;
	uint64_t		 full;		/* burst * TOKEN */
	uint64_t		 fill_ns;	/* time to fill an empty bucket */
	uint64_t		 seed;
	struct rl_bucket	 one;		/* when not per_source */
	struct rl_entry		*table;		/* n_sets * ways entries */
	uint32_t		 n_sets;
	uint32_t		 ways;
	uint32_t		 used;
	uint32_t		 episode_no;
	bool			 dropping;
	struct rl_episode	 ep;
};

int
ratelimit_new(const struct rate_limit_conf *c, uint64_t seed, struct ratelimit **ret)
{
	struct ratelimit *rl;

	rl = calloc(1, sizeof(*rl));
	if (rl == NULL)
		return -ENOMEM;
	rl->conf = *c;
	if (rl->conf.rate == 0)
		rl->conf.rate = 1;
	if (rl->conf.burst == 0)
		rl->conf.burst = rl->conf.rate;
	rl->full = (uint64_t)rl->conf.burst * TOKEN;
	rl->fill_ns = (rl->full + rl->conf.rate - 1) / rl->conf.rate;
	rl->seed = seed;
	rl->one.tokens = rl->full;
	if (c->per_source) {
		uint32_t n = c->sources > 0 ? c->sources : 1;

		rl->ways = MIN(n, RATELIMIT_WAYS);
		rl->n_sets = (n + rl->ways - 1) / rl->ways;
		rl->table = calloc((size_t)rl->n_sets * rl->ways, sizeof(*rl->table));
		if (rl->table == NULL) {
			ratelimit_free(rl);
			return -ENOMEM;
		}
	}
	*ret = rl;
	return 0;
}

struct ratelimit *
ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return NULL;
	free(rl->table);
	free(rl);
	return NULL;
}

bool
ratelimit_same_conf(const struct ratelimit *rl, const struct rate_limit_conf *c)
{
	return c->set && rl->conf.rate == c->rate && rl->conf.burst == c->burst &&
	    rl->conf.per_source == c->per_source &&
	    (!c->per_source || rl->conf.sources == c->sources);
}

void
ratelimit_copy_state(struct ratelimit *dst, const struct ratelimit *src)
{
	struct rl_entry *table = dst->table;

	if (dst->n_sets != src->n_sets || dst->ways != src->ways)
		return;
	*dst = *src;
	dst->table = table;
	if (table != NULL)
		memcpy(table, src->table, (size_t)src->n_sets * src->ways * sizeof(*table));
}

uint32_t
ratelimit_capacity(const struct ratelimit *rl)
{
	return rl->table != NULL ? rl->n_sets * rl->ways : 1;
}

uint32_t
ratelimit_used(const struct ratelimit *rl)
{
	return rl->table != NULL ? rl->used : 1;
}

void
ratelimit_key(const struct sockaddr *sa, const struct ucred *cred, struct rl_key *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (sa != NULL && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

		/* The IPv4-mapped form, so that v4 and mapped senders share a key. */
		ret->b[10] = 0xff;
		ret->b[11] = 0xff;
		memcpy(ret->b + 12, &in->sin_addr, 4);
	} else if (sa != NULL && sa->sa_family == AF_INET6) {
		memcpy(ret->b, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
	} else if (cred != NULL) {
		uint32_t uid = (uint32_t)cred->uid;

		ret->b[0] = 0xff;
		ret->b[1] = KEY_UID;
		memcpy(ret->b + 12, &uid, 4);
	} else {
		ret->b[0] = 0xff;
		ret->b[1] = KEY_NOBODY;
	}
}

const char *
ratelimit_key_format(const struct rl_key *k, char *buf, size_t size)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	char a[INET6_ADDRSTRLEN];
	uint32_t uid;

	if (k->b[0] == 0xff && k->b[1] == KEY_UID) {
		memcpy(&uid, k->b + 12, 4);
		snprintf(buf, size, "uid %u", uid);
	} else if (k->b[0] == 0xff && k->b[1] == KEY_NOBODY) {
		snprintf(buf, size, "senders without credentials");
	} else if (memcmp(k->b, mapped, sizeof(mapped)) == 0) {
		snprintf(buf, size, "%s", inet_ntop(AF_INET, k->b + 12, a, sizeof(a)));
	} else {
		snprintf(buf, size, "%s", inet_ntop(AF_INET6, k->b, a, sizeof(a)));
	}
	return buf;
}

/* Refills b up to now_ns and takes one token; false when there is none. */
static bool
take(const struct ratelimit *rl, struct rl_bucket *b, uint64_t now_ns)
{
	if (now_ns > b->last_ns) {
		uint64_t el = now_ns - b->last_ns;

		/* el < fill_ns keeps el * rate below full + rate: no overflow. */
		if (el >= rl->fill_ns)
			b->tokens = rl->full;
		else
			b->tokens = MIN(b->tokens + el * rl->conf.rate, rl->full);
		b->last_ns = now_ns;
	}
	if (b->tokens < TOKEN)
		return false;
	b->tokens -= TOKEN;
	return true;
}

static uint32_t
set_of(const struct ratelimit *rl, const struct rl_key *k)
{
	uint64_t a, b, h;

	memcpy(&a, k->b, 8);
	memcpy(&b, k->b + 8, 8);
	h = (a ^ rl->seed) * 0x9e3779b97f4a7c15ull;
	h ^= h >> 29;
	h = (h ^ b ^ (rl->seed >> 17 | rl->seed << 47)) * 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	return (uint32_t)(((h & 0xffffffffull) * rl->n_sets) >> 32);
}

/* The entry of k, taking a free way or evicting the least recently seen one. */
static struct rl_entry *
lookup(struct ratelimit *rl, const struct rl_key *k, uint64_t now_ns)
{
	struct rl_entry *set = rl->table + (size_t)set_of(rl, k) * rl->ways;
	struct rl_entry *victim = &set[0];	/* a set has 1..RATELIMIT_WAYS ways */
	uint32_t i;

	for (i = 0; i < rl->ways; i++) {
		struct rl_entry *e = &set[i];

		if (!e->used) {
			if (victim->used)
				victim = e;
			continue;
		}
		if (memcmp(&e->key, k, sizeof(*k)) == 0)
			return e;
		if (victim->used && e->bucket.last_ns < victim->bucket.last_ns)
			victim = e;
	}
	if (!victim->used)
		rl->used++;
	victim->used = true;
	victim->key = *k;
	victim->episode = 0;
	victim->bucket.tokens = rl->full;
	victim->bucket.last_ns = now_ns;
	return victim;
}

enum rl_verdict
ratelimit_check(struct ratelimit *rl, const struct rl_key *k, uint64_t now_ns)
{
	enum rl_verdict v = RL_DROP;
	struct rl_entry *e = NULL;
	bool ok;

	if (rl->table != NULL) {
		e = lookup(rl, k, now_ns);
		ok = take(rl, &e->bucket, now_ns);
	} else {
		ok = take(rl, &rl->one, now_ns);
	}
	if (ok)
		return RL_PASS;
	if (!rl->dropping) {
		rl->dropping = true;
		rl->episode_no++;
		if (rl->episode_no == 0)
			rl->episode_no = 1;
		memset(&rl->ep, 0, sizeof(rl->ep));
		rl->ep.start_ns = now_ns;
		rl->ep.first = *k;
		v = RL_DROP_FIRST;
	}
	rl->ep.dropped++;
	rl->ep.last_ns = now_ns;
	if (e != NULL && e->episode != rl->episode_no) {
		e->episode = rl->episode_no;
		rl->ep.senders++;
	}
	return v;
}

bool
ratelimit_episode_end(struct ratelimit *rl, uint64_t now_ns, uint64_t quiet_ns,
    struct rl_episode *ret)
{
	if (!rl->dropping || now_ns < rl->ep.last_ns || now_ns - rl->ep.last_ns < quiet_ns)
		return false;
	rl->dropping = false;
	*ret = rl->ep;
	return true;
}

bool
ratelimit_episode(const struct ratelimit *rl, struct rl_episode *ret)
{
	if (rl->dropping && ret != NULL)
		*ret = rl->ep;
	return rl->dropping;
}
