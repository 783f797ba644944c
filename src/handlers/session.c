/*
 * session.c: the forward handler's session table (see session.h). The
 * buckets double when the table holds more sessions than buckets; they
 * never shrink, and the count is bounded by the handler's max_sessions,
 * so memory stays flat under churn.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "session.h"
#include "util.h"

#define SESS_MIN_BUCKETS	64

static uint32_t
fnv(uint32_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	return h;
}

uint32_t
sess_hash(const struct sockaddr *sa, socklen_t len)
{
	const union sockaddr_any *a = (const union sockaddr_any *)(const void *)sa;
	uint32_t h = 2166136261u;

	if (sa->sa_family == AF_INET) {
		h = fnv(h, &a->in.sin_addr, sizeof(a->in.sin_addr));
		return fnv(h, &a->in.sin_port, sizeof(a->in.sin_port));
	}
	if (sa->sa_family == AF_INET6) {
		h = fnv(h, &a->in6.sin6_addr, sizeof(a->in6.sin6_addr));
		return fnv(h, &a->in6.sin6_port, sizeof(a->in6.sin6_port));
	}
	return fnv(h, sa, len);
}

struct session *
sess_find(const struct sess_table *t, const struct sockaddr *sa, socklen_t len, uint32_t hash)
{
	struct session *s;

	if (t->buckets == NULL)
		return NULL;
	for (s = t->buckets[hash & t->mask]; s != NULL; s = s->hnext)
		if (s->hash == hash && addr_equal(&s->origin.peer.sa, s->origin.peer_len, sa, len))
			return s;
	return NULL;
}

static int
grow(struct sess_table *t)
{
	size_t n = t->buckets == NULL ? SESS_MIN_BUCKETS : (t->mask + 1) * 2, i;
	struct session **b, *s, *next;

	b = calloc(n, sizeof(struct session *));
	if (b == NULL)
		return -ENOMEM;
	for (i = 0; t->buckets != NULL && i <= t->mask; i++)
		for (s = t->buckets[i]; s != NULL; s = next) {
			next = s->hnext;
			s->hnext = b[s->hash & (n - 1)];
			b[s->hash & (n - 1)] = s;
		}
	free(t->buckets);
	t->buckets = b;
	t->mask = n - 1;
	return 0;
}

static void
link_newest(struct sess_table *t, struct session *s)
{
	s->newer = NULL;
	s->older = t->newest;
	if (t->newest != NULL)
		t->newest->newer = s;
	else
		t->oldest = s;
	t->newest = s;
}

static void
unlink_idle(struct sess_table *t, struct session *s)
{
	if (s->older != NULL)
		s->older->newer = s->newer;
	else
		t->oldest = s->newer;
	if (s->newer != NULL)
		s->newer->older = s->older;
	else
		t->newest = s->older;
	s->older = s->newer = NULL;
}

int
sess_insert(struct sess_table *t, struct session *s, uint64_t now_ms)
{
	struct session **b;
	int r;

	if (t->buckets == NULL || t->n >= t->mask + 1) {
		r = grow(t);
		/* A table that cannot grow still works, with longer chains. */
		if (r < 0 && t->buckets == NULL)
			return r;
	}
	b = &t->buckets[s->hash & t->mask];
	s->hnext = *b;
	*b = s;
	s->last_ms = now_ms;
	link_newest(t, s);
	t->n++;
	return 0;
}

void
sess_remove(struct sess_table *t, struct session *s)
{
	struct session **p;

	for (p = &t->buckets[s->hash & t->mask]; *p != NULL; p = &(*p)->hnext)
		if (*p == s) {
			*p = s->hnext;
			break;
		}
	s->hnext = NULL;
	unlink_idle(t, s);
	t->n--;
}

void
sess_touch(struct sess_table *t, struct session *s, uint64_t now_ms)
{
	s->last_ms = now_ms;
	if (t->newest == s)
		return;
	unlink_idle(t, s);
	link_newest(t, s);
}

void
sess_table_done(struct sess_table *t)
{
	t->buckets = mfree(t->buckets);
	t->mask = 0;
	t->n = 0;
	t->oldest = t->newest = NULL;
}
