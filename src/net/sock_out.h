/*
 * sock_out.h: outbound sockets for forwarding. Each is non-blocking,
 * unbound (the kernel picks an ephemeral port), carries the receiving
 * socket's ttl, broadcast, multicast and send_buffer options, and discards
 * anything sent back to it, so replies from targets never reach a handler.
 * Datagrams go out through a txq (txq.h) on sock_out_fd().
 */
#ifndef DGRAMD_SOCK_OUT_H
#define DGRAMD_SOCK_OUT_H

#include <stdbool.h>
#include <sys/socket.h>

#include "conf.h"

struct reactor;
struct sock_out;

/* Called when the socket became writable (only while sock_out_want_write is on). */
typedef void (*sock_out_fn)(void *userdata);

/*
 * Opens an outbound socket of family (AF_INET, AF_INET6, AF_UNIX) with
 * sc's options, watched by r. Returns 0 or -errno.
 */
int	sock_out_new(struct reactor *r, int family, const struct sock_conf *sc,
	    sock_out_fn on_writable, void *userdata, struct sock_out **ret);
/*
 * A bare non-blocking datagram socket of family with the options outbound
 * sockets carry (sc's ttl, broadcast, multicast and send_buffer; udp6 is
 * IPv6-only), not watched and with a normal receive buffer: a forward
 * session's leg, which reads the replies. Returns the fd or -errno.
 */
int	sock_out_socket(int family, const struct sock_conf *sc);
/* Stops watching and closes; accepts NULL; returns NULL. */
struct sock_out	*sock_out_free(struct sock_out *o);
int	sock_out_family(const struct sock_out *o);
/* The socket, for the target's send path (txq.h). */
int	sock_out_fd(const struct sock_out *o);
/* Applies sc's options again (reload). 0 or -errno. */
int	sock_out_apply(struct sock_out *o, const struct sock_conf *sc);

/*
 * Connects to sa (unix targets: writability then follows the receiver's
 * queue, not only our buffer). 0 or -errno (-ENOENT, -ECONNREFUSED...).
 */
int	sock_out_connect(struct sock_out *o, const struct sockaddr *sa, socklen_t len);
/* Forgets the peer (it went away); the next send must connect again. */
void	sock_out_disconnect(struct sock_out *o);
bool	sock_out_connected(const struct sock_out *o);

/* Turns the writable callback on or off. 0 or -errno. */
int	sock_out_want_write(struct sock_out *o, bool on);

#endif
