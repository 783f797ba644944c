/*
 * session.h: the forward handler's session table. Sessions are keyed by
 * the client's address (one table per handler, so per listening socket),
 * found in O(1) through a hash table, and kept on one list ordered by
 * their last datagram, oldest first: expiry looks at the head only, and
 * a datagram moves its session to the tail in O(1).
 *
 * The table allocates nothing per session: the caller embeds struct
 * session in its own and owns the memory.
 */
#ifndef DGRAMD_SESSION_H
#define DGRAMD_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sock.h"

struct session {
	struct session		*hnext;		/* hash chain */
	struct session		*older;		/* idle list */
	struct session		*newer;
	uint64_t		 last_ms;	/* the last datagram, either way */
	uint32_t		 hash;
	struct sock_origin	 origin;	/* the client, and where it sent to */
};

struct sess_table {
	struct session		**buckets;
	size_t			 mask;		/* buckets - 1 */
	size_t			 n;
	struct session		*oldest;
	struct session		*newest;
};

/* The hash of a client address (address and port, or the unix name). */
uint32_t	sess_hash(const struct sockaddr *sa, socklen_t len);
/* The session of sa, or NULL. */
struct session *sess_find(const struct sess_table *t, const struct sockaddr *sa,
		    socklen_t len, uint32_t hash);
/* Adds s (origin and hash set) as the newest; 0 or -ENOMEM. */
int	sess_insert(struct sess_table *t, struct session *s, uint64_t now_ms);
/* Takes s out of the table (the caller frees it). */
void	sess_remove(struct sess_table *t, struct session *s);
/* s saw a datagram at now_ms: it becomes the newest. */
void	sess_touch(struct sess_table *t, struct session *s, uint64_t now_ms);
/* Frees the buckets (the sessions must have been removed). */
void	sess_table_done(struct sess_table *t);

#endif
