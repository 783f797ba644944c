/*
 * txq.h: the one send path. A txq sends datagrams on one socket: what is
 * added during a receive batch (bytes lent by the caller) goes out with
 * one sendmmsg when the batch is flushed, runs of equal-size datagrams to
 * one peer as single UDP GSO messages (UDP_SEGMENT); what would block is
 * copied into a bounded backlog, sent oldest first when the socket is
 * writable again, and what does not fit there is dropped and counted.
 *
 * Users: echo replies (sock.c), forward targets (handlers/forward.c).
 * The txq never watches its fd: it asks its owner to (ops->want_write),
 * and the owner calls txq_drain() when the socket is writable.
 */
#ifndef DGRAMD_TXQ_H
#define DGRAMD_TXQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct txq;

struct txq_conf {
	unsigned	batch;		/* datagrams per flush (sendmmsg), >= 1 */
	size_t		backlog_bytes;	/* backlog bound in bytes; 0: no backlog */
	uint32_t	backlog_max;	/* backlog bound in datagrams; 0: bytes only */
	bool		gso;		/* UDP: group equal-size runs (UDP_SEGMENT) */
	/*
	 * Unconnected unix sockets: a peer that would block holds back only
	 * its own datagrams; the others are sent around it (each peer keeps
	 * its order). Otherwise a would-block stops the whole backlog.
	 */
	bool		per_peer;
};

/* Counters since txq_new; "msgs" are the messages handed to the kernel. */
struct txq_counters {
	uint64_t	sent;
	uint64_t	errors;
	uint64_t	dropped;
	uint64_t	msgs;
};

/* The owner's side; every callback gets the userdata of txq_new. */
struct txq_ops {
	/* Optional: before a send (connect a unix target); < 0 fails what is being sent. */
	int	(*prepare)(void *userdata);
	/* Start (on) or stop watching the socket for writability; then txq_drain(). */
	void	(*want_write)(void *userdata, bool on);
	/* Optional: n datagrams went out. */
	void	(*sent)(void *userdata, unsigned n);
	/* Optional: n datagrams failed with err (-errno); the next ones are still sent. */
	void	(*failed)(void *userdata, int err, unsigned n);
	/* Optional: n datagrams would block and did not fit in the backlog. */
	void	(*dropped)(void *userdata, unsigned n);
};

/* Creates a txq sending on fd (not owned; -1: set later). 0 or -errno. */
int	txq_new(int fd, const struct txq_conf *c, const struct txq_ops *ops, void *userdata,
	    struct txq **ret);
/* Frees it and its backlog (nothing is sent or counted); accepts NULL; returns NULL. */
struct txq *txq_free(struct txq *q);
/* Changes the fd (a new socket for the same destination). */
void	txq_set_fd(struct txq *q, int fd);
/* Changes the batch size (flushes first). 0 or -ENOMEM. */
int	txq_set_batch(struct txq *q, unsigned batch);
/*
 * Sets where datagrams added without a name go (a copy is kept); len 0:
 * no name, for a connected socket. Backlogged ones follow the change.
 */
void	txq_set_peer(struct txq *q, const struct sockaddr *sa, socklen_t len);

/*
 * Adds one datagram: data (and name, if any) stay valid until the next
 * txq_flush; ctrl (at most TXQ_CTRL_MAX bytes of control messages) is
 * copied. name NULL: the peer of txq_set_peer. Behind a backlog the
 * datagram is copied there, to keep the order; a full batch is flushed.
 */
void	txq_add(struct txq *q, const void *data, size_t len, const struct sockaddr *name,
	    socklen_t namelen, const void *ctrl, size_t ctrllen);
/* Sends what was added; what would block goes to the backlog. */
void	txq_flush(struct txq *q);
/* The socket is writable: sends the backlog, oldest first, until it would block. */
void	txq_drain(struct txq *q);
/* Empties the backlog without sending; returns how many datagrams it held. */
unsigned txq_discard(struct txq *q);

/* Datagrams waiting in the backlog. */
unsigned	txq_queued(const struct txq *q);
/* True once the backlog was ever needed (its memory is allocated). */
bool		txq_has_backlog(const struct txq *q);
const struct txq_counters *txq_counters(const struct txq *q);

/* Control bytes txq_add copies at most (room for one in6_pktinfo). */
#define TXQ_CTRL_MAX	64

/* Backlog bytes one datagram of len bytes with a name of namelen bytes takes. */
#define TXQ_ALIGN8(n)	(((size_t)(n) + 7) & ~(size_t)7)
#define TXQ_ENTRY_BYTES(len, namelen)	(16 + TXQ_ALIGN8(namelen) + TXQ_ALIGN8(len))

#endif
