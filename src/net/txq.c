/*
 * txq.c: the one send path (see txq.h).
 *
 * The batch: msgs[0..n) point at the caller's bytes and names; their
 * control messages are copied into per-slot space with room left for a
 * UDP_SEGMENT message, so that a GSO message is its first slot's header
 * with a longer iovec and control. A run of equal-size datagrams to one
 * peer with the same control (the last one may be shorter), at most
 * GSO_SEGS of them and GSO_BYTES in all, becomes one message. A GSO
 * message the kernel refuses (no GSO on the route, beyond the MTU,
 * SO_NO_CHECK) is sent again as plain datagrams, and GSO stays off for
 * this txq when the refusal says it is unsupported.
 *
 * The backlog: one byte ring of whole entries (header, name, control,
 * bytes), allocated the first time something would block; an entry that
 * would cross the end starts again at 0 behind a WRAP mark. Entries are
 * sent in order; with per_peer, an entry whose peer would block is passed
 * over (up to BLOCKED_MAX peers per pass) and marked DEAD once sent.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "txq.h"
#include "util.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT	103
#endif
/* Segments (the kernel's UDP_MAX_SEGMENTS is 64 or more) and bytes per GSO message. */
#define GSO_SEGS	64
#define GSO_BYTES	65507
#define SLOT_CTRL	(TXQ_CTRL_MAX + CMSG_SPACE(sizeof(uint16_t)))
/* Peers a per_peer pass may pass over before it stops. */
#define BLOCKED_MAX	8
#define SEND_FLAGS	(MSG_DONTWAIT | MSG_NOSIGNAL)

enum { ENT_LIVE = 1, ENT_DEAD, ENT_WRAP };

/* A backlog entry; followed by the name, the control (8-aligned) and the bytes. */
struct ent {
	uint32_t	size;		/* whole entry, 8-aligned */
	uint16_t	state;
	uint16_t	namelen;	/* 0: the txq's peer */
	uint32_t	len;
	uint32_t	ctrllen;
};

#define ALIGN8(n)	TXQ_ALIGN8(n)
_Static_assert(sizeof(struct ent) == 16, "TXQ_ENTRY_BYTES counts a 16-byte header");

union slot_ctrl {
	struct cmsghdr	align;
	uint8_t		b[SLOT_CTRL];
};
_Static_assert(sizeof(union slot_ctrl) % 8 == 0, "alloc_batch keeps 8-byte alignment");

struct txq {
	int			 fd;
	struct txq_conf		 c;
	const struct txq_ops	*ops;
	void			*userdata;
	union sockaddr_any	 peer;
	socklen_t		 peer_len;
	void			*peer_name;	/* &peer, or NULL without one */
	bool			 no_gso;	/* refused once: plain sends from now on */
	bool			 mixed;		/* the batch has names or control of its own */
	bool			 waiting;	/* want_write is on */
	/* The batch, and its GSO messages: gfirst[k] is message k's first slot. */
	unsigned		 n;
	unsigned		 cap;
	unsigned		 limit;		/* cap once the slots are set up, 0 before */
	struct mmsghdr		*msgs;
	struct iovec		*iov;
	union slot_ctrl		*ctrl;
	struct mmsghdr		*gmsgs;
	unsigned		*gfirst;
	/* Drain bookkeeping: each batched entry and where the walk goes on after it. */
	struct ent		**dent;
	size_t			*doff;
	size_t			*dleft;
	/* The backlog ring. */
	uint8_t			*ring;
	size_t			 size;
	size_t			 head;		/* oldest entry */
	size_t			 tail;		/* where the next one goes */
	size_t			 used;		/* bytes from head to tail, wrap gap included */
	uint32_t		 count;		/* live entries */
	struct txq_counters	 cnt;
};

static void
free_batch(struct txq *q)
{
	/* One block: msgs is its start. */
	q->msgs = mfree(q->msgs);
	q->gmsgs = NULL;
	q->iov = NULL;
	q->ctrl = NULL;
	q->dent = NULL;
	q->doff = NULL;
	q->dleft = NULL;
	q->gfirst = NULL;
}

/*
 * The batch arrays, in one block of plain malloc: every slot is written
 * before it is read, so an idle txq dirties no page of it but the first.
 */
static int
alloc_batch(struct txq *q, unsigned cap)
{
	size_t per = 2 * sizeof(struct mmsghdr) + sizeof(struct iovec) + sizeof(union slot_ctrl) +
	    sizeof(struct ent *) + 2 * sizeof(size_t) + sizeof(unsigned);
	uint8_t *b;

	free_batch(q);
	q->cap = 0;
	b = malloc((size_t)cap * per + sizeof(unsigned));
	if (b == NULL)
		return -ENOMEM;
	/* Widest alignment first; every size here is a multiple of 8 but the last. */
	q->msgs = (struct mmsghdr *)(void *)b;
	q->gmsgs = q->msgs + cap;
	q->iov = (struct iovec *)(void *)(q->gmsgs + cap);
	q->ctrl = (union slot_ctrl *)(void *)(q->iov + cap);
	q->dent = (struct ent **)(void *)(q->ctrl + cap);
	q->doff = (size_t *)(void *)(q->dent + cap);
	q->dleft = q->doff + cap;
	q->gfirst = (unsigned *)(void *)(q->dleft + cap);
	q->cap = cap;
	q->limit = 0;
	return 0;
}

int
txq_new(int fd, const struct txq_conf *c, const struct txq_ops *ops, void *userdata,
    struct txq **ret)
{
	struct txq *q;

	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return -ENOMEM;
	q->fd = fd;
	q->c = *c;
	q->c.backlog_bytes &= ~(size_t)7;
	q->ops = ops;
	q->userdata = userdata;
	if (alloc_batch(q, MAX(c->batch, 1u)) < 0) {
		free(q);
		return -ENOMEM;
	}
	*ret = q;
	return 0;
}

struct txq *
txq_free(struct txq *q)
{
	if (q == NULL)
		return NULL;
	free_batch(q);
	free(q->ring);
	free(q);
	return NULL;
}

void
txq_set_fd(struct txq *q, int fd)
{
	q->fd = fd;
}

int
txq_set_batch(struct txq *q, unsigned batch)
{
	batch = MAX(batch, 1u);
	if (batch == q->cap)
		return 0;
	txq_flush(q);
	return alloc_batch(q, batch);
}

void
txq_set_peer(struct txq *q, const struct sockaddr *sa, socklen_t len)
{
	if (len > sizeof(q->peer))
		len = 0;
	if (len > 0)
		memcpy(&q->peer, sa, len);
	q->peer_len = len;
	q->peer_name = len > 0 ? &q->peer : NULL;
}

unsigned
txq_queued(const struct txq *q)
{
	return q->count;
}

bool
txq_has_backlog(const struct txq *q)
{
	return q->ring != NULL;
}

const struct txq_counters *
txq_counters(const struct txq *q)
{
	return &q->cnt;
}

/* --- accounting ---------------------------------------------------------- */

static void
count_sent(struct txq *q, unsigned n)
{
	q->cnt.sent += n;
	if (q->ops->sent != NULL)
		q->ops->sent(q->userdata, n);
}

static void
count_failed(struct txq *q, int err, unsigned n)
{
	q->cnt.errors += n;
	if (q->ops->failed != NULL)
		q->ops->failed(q->userdata, err, n);
}

static void
count_dropped(struct txq *q, unsigned n)
{
	q->cnt.dropped += n;
	if (q->ops->dropped != NULL)
		q->ops->dropped(q->userdata, n);
}

/* Asks for writability while something waits, and stops asking when nothing does. */
static void
update_watch(struct txq *q)
{
	bool want = q->count > 0;

	if (want == q->waiting)
		return;
	q->waiting = want;
	q->ops->want_write(q->userdata, want);
}

static bool
would_block(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS;
}

/* --- the backlog --------------------------------------------------------- */

static struct ent *
ent_at(const struct txq *q, size_t off)
{
	return (struct ent *)(void *)(q->ring + off);
}

static size_t
ent_ctrl_off(const struct ent *e)
{
	return sizeof(*e) + ALIGN8(e->namelen);
}

static uint8_t *
ent_data(struct ent *e)
{
	return (uint8_t *)e + ent_ctrl_off(e) + ALIGN8(e->ctrllen);
}

/* Where an entry of size bytes fits, or -1; may mark a wrap at the tail. */
static ssize_t
place(struct txq *q, size_t size)
{
	if (size > q->size - q->used)
		return -1;
	if (q->tail + size <= q->size)
		return (ssize_t)q->tail;
	/* Not at the end: wrap to the start if the gap there is big enough. */
	if (q->used > 0 && q->head < q->tail && size <= q->head) {
		if (q->size - q->tail >= sizeof(struct ent))
			ent_at(q, q->tail)->state = ENT_WRAP;
		q->used += q->size - q->tail;
		q->tail = 0;
		return 0;
	}
	return -1;
}

/* Copies one datagram into the backlog; false when it does not fit. */
static bool
push(struct txq *q, const void *data, size_t len, const struct sockaddr *name,
    socklen_t namelen, const void *ctrl, size_t ctrllen)
{
	size_t size = sizeof(struct ent) + ALIGN8(namelen) + ALIGN8(ctrllen) + ALIGN8(len);
	struct ent *e;
	ssize_t off;

	if ((q->c.backlog_max > 0 && q->count >= q->c.backlog_max) ||
	    size > q->c.backlog_bytes || len > UINT32_MAX)
		return false;
	if (q->ring == NULL) {
		q->ring = malloc(q->c.backlog_bytes);
		if (q->ring == NULL)
			return false;
		q->size = q->c.backlog_bytes;
	}
	if (q->used == 0)
		q->head = q->tail = 0;
	off = place(q, size);
	if (off < 0)
		return false;
	e = ent_at(q, (size_t)off);
	e->size = (uint32_t)size;
	e->state = ENT_LIVE;
	e->namelen = (uint16_t)namelen;
	e->len = (uint32_t)len;
	e->ctrllen = (uint32_t)ctrllen;
	if (namelen > 0)
		memcpy((uint8_t *)e + sizeof(*e), name, namelen);
	if (ctrllen > 0)
		memcpy((uint8_t *)e + ent_ctrl_off(e), ctrl, ctrllen);
	if (len > 0)
		memcpy(ent_data(e), data, len);
	q->tail = (size_t)off + size;
	q->used += size;
	q->count++;
	return true;
}

/* Moves batch slots [first, n) to the backlog; counts what does not fit. */
static void
push_rest(struct txq *q, unsigned first)
{
	unsigned i, lost = 0;

	for (i = first; i < q->n; i++) {
		const struct msghdr *mh = &q->msgs[i].msg_hdr;
		bool own = mh->msg_name == &q->peer;

		if (!push(q, q->iov[i].iov_base, q->iov[i].iov_len, own ? NULL : mh->msg_name,
		    own ? 0 : mh->msg_namelen, mh->msg_control, mh->msg_controllen))
			lost++;
	}
	q->n = 0;
	q->mixed = false;
	if (lost > 0)
		count_dropped(q, lost);
}

/* Frees the room of the dead entries at the head. */
static void
trim(struct txq *q)
{
	while (q->used > 0) {
		struct ent *e;

		if (q->size - q->head < sizeof(struct ent) ||
		    ent_at(q, q->head)->state == ENT_WRAP) {
			q->used -= q->size - q->head;
			q->head = 0;
			continue;
		}
		e = ent_at(q, q->head);
		if (e->state != ENT_DEAD)
			break;
		q->used -= e->size;
		q->head += e->size;
	}
	if (q->used == 0)
		q->head = q->tail = 0;
}

static bool
same_peer(const struct ent *a, const struct ent *b)
{
	return a->namelen == b->namelen &&
	    memcmp((const uint8_t *)a + sizeof(*a), (const uint8_t *)b + sizeof(*b), a->namelen) == 0;
}

static bool
is_blocked(const struct ent *e, struct ent *const *blocked, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (same_peer(e, blocked[i]))
			return true;
	return false;
}

/* Points batch slot i at backlog entry e. */
static void
slot_from_ent(struct txq *q, unsigned i, struct ent *e)
{
	struct msghdr *mh = &q->msgs[i].msg_hdr;

	q->iov[i].iov_base = ent_data(e);
	q->iov[i].iov_len = e->len;
	mh->msg_iov = &q->iov[i];
	mh->msg_iovlen = 1;
	mh->msg_flags = 0;
	mh->msg_name = NULL;
	mh->msg_namelen = 0;
	if (e->namelen > 0) {
		mh->msg_name = (uint8_t *)e + sizeof(*e);
		mh->msg_namelen = e->namelen;
	} else if (q->peer_len > 0) {
		mh->msg_name = &q->peer;
		mh->msg_namelen = q->peer_len;
	}
	mh->msg_control = NULL;
	mh->msg_controllen = 0;
	if (e->ctrllen > 0) {
		mh->msg_control = (uint8_t *)e + ent_ctrl_off(e);
		mh->msg_controllen = e->ctrllen;
	}
}

/*
 * Gathers up to cap live, unblocked entries from the walk position
 * (*off, *left) into the batch; returns how many.
 */
static unsigned
gather(struct txq *q, size_t *off, size_t *left, struct ent *const *blocked, unsigned n_blocked)
{
	unsigned n = 0;

	while (*left > 0 && n < q->cap) {
		struct ent *e;

		if (q->size - *off < sizeof(struct ent) || ent_at(q, *off)->state == ENT_WRAP) {
			*left -= q->size - *off;
			*off = 0;
			continue;
		}
		e = ent_at(q, *off);
		*off += e->size;
		*left -= e->size;
		if (e->state != ENT_LIVE || is_blocked(e, blocked, n_blocked))
			continue;
		slot_from_ent(q, n, e);
		q->dent[n] = e;
		q->doff[n] = *off;
		q->dleft[n] = *left;
		n++;
	}
	return n;
}

static void
ent_done(struct txq *q, struct ent *e)
{
	e->state = ENT_DEAD;
	q->count--;
}

void
txq_drain(struct txq *q)
{
	struct ent *blocked[BLOCKED_MAX];
	unsigned n_blocked = 0, n, i;
	size_t off = q->head, left = q->used;
	int r;

	/* The batch is empty here: what is added behind a backlog goes to it. */
	while (q->count > 0 && left > 0) {
		n = gather(q, &off, &left, blocked, n_blocked);
		if (n == 0)
			break;
		r = q->ops->prepare != NULL ? q->ops->prepare(q->userdata) : 0;
		if (r < 0) {
			for (i = 0; i < n; i++)
				ent_done(q, q->dent[i]);
			count_failed(q, r, n);
			continue;
		}
		r = sendmmsg(q->fd, q->msgs, n, SEND_FLAGS);
		if (r > 0) {
			for (i = 0; i < (unsigned)r; i++)
				ent_done(q, q->dent[i]);
			q->cnt.msgs += (unsigned)r;
			count_sent(q, (unsigned)r);
			/* The walk goes on after the last one sent. */
			off = q->doff[r - 1];
			left = q->dleft[r - 1];
			continue;
		}
		r = -errno;
		off = q->doff[0];
		left = q->dleft[0];
		if (r == -EINTR) {
			off = (size_t)((uint8_t *)q->dent[0] - q->ring);
			left += q->dent[0]->size;
			continue;
		}
		if (would_block(-r)) {
			/* A unix peer is full: pass over its entries; UDP: our buffer is full. */
			if (!q->c.per_peer || n_blocked == BLOCKED_MAX)
				break;
			blocked[n_blocked++] = q->dent[0];
			continue;
		}
		ent_done(q, q->dent[0]);
		count_failed(q, r, 1);
	}
	trim(q);
	update_watch(q);
}

unsigned
txq_discard(struct txq *q)
{
	unsigned n = q->count;

	q->count = 0;
	q->used = q->head = q->tail = 0;
	q->cnt.dropped += n;
	update_watch(q);
	return n;
}

/* --- the batch ----------------------------------------------------------- */

/* Copies slot i's control (out of line: txq_add stays a leaf without it). */
static void __attribute__((noinline))
set_ctrl(struct txq *q, unsigned i, const void *ctrl, size_t ctrllen)
{
	struct msghdr *mh = &q->msgs[i].msg_hdr;

	memcpy(q->ctrl[i].b, ctrl, ctrllen);
	mh->msg_control = q->ctrl[i].b;
	mh->msg_controllen = ctrllen;
}

/* Puts one datagram in the next batch slot (there is room, no backlog). */
static inline void
add_slot(struct txq *q, const void *data, size_t len, const struct sockaddr *name,
    socklen_t namelen, const void *ctrl, size_t ctrllen)
{
	unsigned i = q->n++;
	struct msghdr *mh = &q->msgs[i].msg_hdr;

	q->iov[i].iov_base = (void *)(uintptr_t)data;
	q->iov[i].iov_len = len;
	mh->msg_control = NULL;
	mh->msg_controllen = 0;
	if (name == NULL) {
		mh->msg_name = q->peer_name;
		mh->msg_namelen = q->peer_len;
		if (ctrllen == 0)
			return;
	} else {
		mh->msg_name = (void *)(uintptr_t)name;
		mh->msg_namelen = namelen;
	}
	/* Slots differ in more than their size: build_gso must compare them. */
	q->mixed = true;
	if (ctrllen > 0 && ctrllen <= TXQ_CTRL_MAX)
		set_ctrl(q, i, ctrl, ctrllen);
}

/* txq_add with a full batch, behind a backlog, or the first time. */
static void __attribute__((noinline))
add_slow(struct txq *q, const void *data, size_t len, const struct sockaddr *name,
    socklen_t namelen, const void *ctrl, size_t ctrllen)
{
	unsigned i;

	/* First use: slot i's message points at iovec i from now on. */
	if (q->limit == 0) {
		for (i = 0; i < q->cap; i++) {
			q->msgs[i].msg_hdr.msg_iov = &q->iov[i];
			q->msgs[i].msg_hdr.msg_iovlen = 1;
			q->msgs[i].msg_hdr.msg_flags = 0;
		}
		q->limit = q->cap;
	}
	if (q->n == q->cap)
		txq_flush(q);
	if (q->count == 0) {
		add_slot(q, data, len, name, namelen, ctrl, ctrllen);
		return;
	}
	/* Behind a backlog, keep the order: wait there. */
	if (name == NULL)
		namelen = 0;
	if (ctrllen > TXQ_CTRL_MAX)
		ctrllen = 0;
	if (!push(q, data, len, name, namelen, ctrl, ctrllen))
		count_dropped(q, 1);
}

void
txq_add(struct txq *q, const void *data, size_t len, const struct sockaddr *name,
    socklen_t namelen, const void *ctrl, size_t ctrllen)
{
	if (__builtin_expect(q->n == q->limit || q->count > 0, 0))
		add_slow(q, data, len, name, namelen, ctrl, ctrllen);
	else
		add_slot(q, data, len, name, namelen, ctrl, ctrllen);
}

/*
 * Sends slots [first, end) one datagram per message; returns the slot
 * reached when the socket would block (end: all were sent or failed).
 */
static unsigned
send_plain(struct txq *q, unsigned first, unsigned end)
{
	unsigned i = first;
	int r;

	while (i < end) {
		r = q->ops->prepare != NULL ? q->ops->prepare(q->userdata) : 0;
		if (r < 0) {
			count_failed(q, r, end - i);
			return end;
		}
		r = sendmmsg(q->fd, q->msgs + i, end - i, SEND_FLAGS);
		if (r > 0) {
			q->cnt.msgs += (unsigned)r;
			count_sent(q, (unsigned)r);
			i += (unsigned)r;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (would_block(errno))
			return i;
		/* This one failed (its peer vanished, say): count it, send the rest. */
		count_failed(q, -errno, 1);
		i++;
	}
	return end;
}

/* Equal bytes; the usual sizes (a sockaddr_in, its pktinfo) compare inline. */
static inline bool
same_bytes(const void *a, const void *b, size_t n)
{
	if (n == sizeof(struct sockaddr_in))
		return memcmp(a, b, sizeof(struct sockaddr_in)) == 0;
	if (n == CMSG_SPACE(sizeof(struct in_pktinfo)))
		return memcmp(a, b, CMSG_SPACE(sizeof(struct in_pktinfo))) == 0;
	return memcmp(a, b, n) == 0;
}

/* True when slots a and b go to the same peer with the same control. */
static inline bool
same_flow(const struct msghdr *a, const struct msghdr *b)
{
	return a->msg_namelen == b->msg_namelen && a->msg_controllen == b->msg_controllen &&
	    (a->msg_name == b->msg_name || same_bytes(a->msg_name, b->msg_name, a->msg_namelen)) &&
	    (a->msg_controllen == 0 ||
	    same_bytes(a->msg_control, b->msg_control, a->msg_controllen));
}

/*
 * Groups the batch into GSO messages (gmsgs, gfirst); returns how many,
 * or 0 when no run has two datagrams.
 */
static unsigned
build_gso(struct txq *q)
{
	unsigned i = 0, j, k = 0;
	size_t size, total;
	bool any = false;

	while (i < q->n) {
		const struct msghdr *first = &q->msgs[i].msg_hdr;

		size = q->iov[i].iov_len;
		j = i + 1;
		/* Empty datagrams are never segmented. */
		if (size > 0) {
			/* The run ends at GSO_SEGS segments or GSO_BYTES, whichever is first. */
			unsigned end = i + MIN((unsigned)GSO_SEGS, (unsigned)(GSO_BYTES / size));

			end = MIN(end, q->n);
			if (!q->mixed) {
				while (j < end && q->iov[j].iov_len == size)
					j++;
			} else {
				while (j < end && q->iov[j].iov_len == size &&
				    same_flow(first, &q->msgs[j].msg_hdr))
					j++;
			}
			total = (size_t)(j - i) * size;
			/* The last segment may be shorter. */
			if (j < q->n && j - i < GSO_SEGS && q->iov[j].iov_len > 0 &&
			    q->iov[j].iov_len < size && total + q->iov[j].iov_len <= GSO_BYTES &&
			    (!q->mixed || same_flow(first, &q->msgs[j].msg_hdr)))
				j++;
		}
		q->gfirst[k] = i;
		q->gmsgs[k].msg_hdr = *first;
		if (j - i > 1) {
			struct msghdr *mh = &q->gmsgs[k].msg_hdr;
			struct cmsghdr *cm;
			uint16_t seg = (uint16_t)size;

			/* The first slot's control space has room for the segment size. */
			cm = (struct cmsghdr *)(void *)(q->ctrl[i].b + first->msg_controllen);
			cm->cmsg_level = SOL_UDP;
			cm->cmsg_type = UDP_SEGMENT;
			cm->cmsg_len = CMSG_LEN(sizeof(seg));
			memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
			mh->msg_iovlen = j - i;
			mh->msg_control = q->ctrl[i].b;
			mh->msg_controllen = first->msg_controllen + CMSG_SPACE(sizeof(seg));
			any = true;
		}
		k++;
		i = j;
	}
	q->gfirst[k] = q->n;
	return any ? k : 0;
}

/* Sends the batch as the m GSO messages build_gso made; returns as send_plain. */
static unsigned
send_gso(struct txq *q, unsigned m)
{
	unsigned k = 0, i, cnt, done;
	int r;

	while (k < m) {
		r = sendmmsg(q->fd, q->gmsgs + k, m - k, SEND_FLAGS);
		if (r > 0) {
			q->cnt.msgs += (unsigned)r;
			for (i = 0; i < (unsigned)r; i++)
				count_sent(q, q->gfirst[k + i + 1] - q->gfirst[k + i]);
			k += (unsigned)r;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (would_block(errno))
			return q->gfirst[k];
		cnt = q->gfirst[k + 1] - q->gfirst[k];
		if (cnt == 1) {
			count_failed(q, -errno, 1);
			k++;
			continue;
		}
		/* GSO refused (no support on the route, beyond the MTU): plain from now on. */
		if (errno == EIO || errno == EINVAL || errno == EMSGSIZE || errno == ENOPROTOOPT ||
		    errno == EOPNOTSUPP)
			q->no_gso = true;
		done = send_plain(q, q->gfirst[k], q->gfirst[k + 1]);
		if (done < q->gfirst[k + 1])
			return done;
		k++;
	}
	return q->n;
}

void
txq_flush(struct txq *q)
{
	unsigned m = 0, done;

	if (q->n == 0)
		return;
	if (q->count > 0) {
		push_rest(q, 0);
		txq_drain(q);
		return;
	}
	if (q->c.gso && !q->no_gso && q->n > 1)
		m = build_gso(q);
	done = m > 0 ? send_gso(q, m) : send_plain(q, 0, q->n);
	/* The peer or our send buffer is full: the rest waits, never the loop. */
	push_rest(q, done);
	update_watch(q);
}
