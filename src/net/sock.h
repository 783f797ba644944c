/*
 * sock.h: listening sockets (udp4, udp6, unix_dgram): open, bind or adopt,
 * options, batched receive into one shared area, and replies (through the
 * socket's txq). Outbound sockets for forwarding are in sock_out.h.
 */
#ifndef DGRAMD_SOCK_H
#define DGRAMD_SOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "addr.h"
#include "conf.h"

struct reactor;
struct reactor_watch;
struct dgram;
struct stats_visitor;
struct txq;

/* Per-socket counters; names as in the stats line. */
struct dg_stats {
	uint64_t	received;
	uint64_t	bytes;
	uint64_t	truncated;
	uint64_t	denied;
	uint64_t	limited;
	uint64_t	kernel_drops;
	uint64_t	sent;
	uint64_t	send_errors;
	uint64_t	dropped;
};

/*
 * The receive area shared by every socket: batch slots of slot_size bytes
 * plus names and control space, allocated once. Owned by the daemon.
 */
struct recv_area;

/* Allocates an area for batch datagrams of up to max_size bytes. 0 or -errno. */
int	sock_area_new(unsigned batch, size_t max_size, struct recv_area **ret);
struct recv_area *sock_area_free(struct recv_area *a);
unsigned	sock_area_batch(const struct recv_area *a);
size_t		sock_area_max_size(const struct recv_area *a);

/*
 * Called once per receive batch with its datagrams d[0..n), in arrival
 * order (truncated ones left out, n >= 1); d is lent for this call.
 */
typedef void (*sock_dispatch_fn)(void *userdata, const struct dgram *d, unsigned n);
/* Called after each receive batch (d->data of the batch stay valid until then). */
typedef void (*sock_batch_end_fn)(void *userdata);

/* A listening socket. Owned by the daemon. */
struct dg_socket {
	char			*name;
	enum sock_type		 type;
	int			 fd;
	bool			 adopted;	/* from systemd: never unlinked or shut down */
	bool			 created_path;	/* dgramd created the unix file: remove it */
	char			*path;		/* unix path to remove, or NULL */
	union sockaddr_any	 local;		/* what it is bound to (the real port) */
	socklen_t		 local_len;
	bool			 wildcard;	/* bound to all addresses: reply via pktinfo */
	bool			 passcred;
	uint32_t		 max_size;
	struct dg_stats		 stats;
	time_t			 drops_sec;	/* second kernel_drops was last read */
	unsigned		 again_skip;	/* full wakeups not to read again (on_readable) */
	struct reactor		*reactor;
	struct reactor_watch	*watch;
	struct recv_area	*area;
	sock_dispatch_fn	 dispatch;
	sock_batch_end_fn	 batch_end;
	void			*userdata;
	/* Replies: sent at the end of the batch, or waiting for room (bounded). */
	struct txq		*txq;
	struct reactor_watch	*retry_timer;	/* unix sockets: retry the backlog */
};

/*
 * Creates, configures and binds the socket c declares. Nothing is left on
 * disk on failure. Returns 0 or -errno; *ret_what names the step that
 * failed ("bind", "socket", ...).
 */
int	sock_open(const struct sock_conf *c, struct dg_socket **ret, const char **ret_what);
/*
 * Takes over fd (from systemd), which the caller found to fit c
 * (listen_fits), and applies c's options. Returns 0 or -errno.
 */
int	sock_adopt(const struct sock_conf *c, int fd, struct dg_socket **ret);
/* Applies c's options (ttl, broadcast, buffers...) to an open socket. */
int	sock_apply_options(struct dg_socket *s, const struct sock_conf *c);
/*
 * Reload: moves a kept socket from old's options to c's, putting back the
 * system default of what c no longer sets, leaving removed multicast
 * groups, and re-applying a unix socket file's mode and owner. 0 or -errno.
 */
int	sock_update_options(struct dg_socket *s, const struct sock_conf *c,
	    const struct sock_conf *old);
/* Starts receiving through area; dispatch/batch_end get userdata. */
int	sock_start(struct dg_socket *s, struct reactor *r, struct recv_area *area,
	    sock_dispatch_fn dispatch, sock_batch_end_fn batch_end, void *userdata);
/* Changes the area and callbacks of a started socket (reload). */
int	sock_rebind_area(struct dg_socket *s, struct recv_area *area);
/* Stops watching, closes, removes the unix file dgramd created; NULL-safe. */
struct dg_socket *sock_close(struct dg_socket *s);
/* Like sock_close, but keeps the fd open (it was handed over to the caller). */
struct dg_socket *sock_forget(struct dg_socket *s);
/* Formats the bound address as the listening line shows it. */
const char	*sock_address(const struct dg_socket *s, char *buf, size_t size);

/*
 * Queues d's bytes back to d's sender, from the address d arrived on; the
 * reply goes out at the end of the batch (or waits in the bounded backlog,
 * or is dropped and counted, if it would block). Returns 0, or
 * -EDESTADDRREQ for a sender without an address.
 */
int	sock_reply(struct dg_socket *s, const struct dgram *d);

/*
 * Where replies to a datagram go later (forward sessions): its sender and
 * the address it was sent to, copied out of the lent dgram.
 */
struct sock_origin {
	union sockaddr_any	peer;
	socklen_t		peer_len;
	int			family;		/* of the pktinfo; 0 = none */
	struct in_pktinfo	pi4;
	struct in6_pktinfo	pi6;
};

/* Copies d's reply address into o. 0, or -EDESTADDRREQ for an unbound sender. */
int	sock_origin_get(const struct dgram *d, struct sock_origin *o);
/*
 * Queues data to o's sender from the address it sent to, like sock_reply;
 * data and o stay valid until sock_flush (or the end of the batch).
 */
void	sock_reply_origin(struct dg_socket *s, const struct sock_origin *o, const void *data,
	    size_t len);
/* Sends the replies queued outside a receive batch. */
void	sock_flush(struct dg_socket *s);

/* Bytes of queued replies a socket holds at most (see sock.c). */
#define SOCK_REPLY_QUEUE_BYTES	((size_t)256 * 1024)

/* The replies waiting in s's queue. */
unsigned	sock_queued(const struct dg_socket *s);

/* Puts the socket's counters (received, bytes, ... queued) into v. */
void	sock_stats(const struct dg_socket *s, struct stats_visitor *v);

#endif
