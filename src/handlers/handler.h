/*
 * handler.h: the handler interface. A handler is one file (h_*.c) that
 * exports one struct handler_ops, listed in handler.c's registry.
 *
 * Handlers never see the reactor, epoll or sd-daemon; they reply through
 * sock_reply() and send through sock_out (sock.h).
 */
#ifndef DGRAMD_HANDLER_H
#define DGRAMD_HANDLER_H

#include <libconfig.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "conf.h"

struct dg_socket;
struct reactor;
struct stats_visitor;

/*
 * One received datagram, lent to handle(). Its bytes stay valid until the
 * handler's end_batch() (or the next handle() call if it has none), so a
 * handler that keeps them longer must copy them.
 */
struct dgram {
	const uint8_t		*data;
	size_t			 len;
	const struct sockaddr	*peer;		/* NULL: unbound unix sender */
	socklen_t		 peer_len;
	const struct ucred	*cred;		/* unix senders' credentials, or NULL */
	const struct timespec	*rtime;		/* receive time, CLOCK_REALTIME */
	struct dg_socket	*sock;		/* the socket it arrived on */
	const void		*local;		/* private to sock.c: reply source */
};

/* One handler instance; owned by its socket's route. */
struct handler {
	const struct handler_ops	*ops;
	const void			*conf;	/* ops->conf_size bytes, owned by the conf */
	void				*state;	/* owned by start()/stop() */
	struct dg_socket		*sock;	/* the socket it serves, not owned */
	const struct sock_conf		*sock_conf;	/* that socket's config */
	struct reactor			*reactor;	/* opaque, for sock_out_new() */
	unsigned			 index;	/* position in the chain */
	uint64_t			 handled;
	uint64_t			 errors;
};

/* One live session, lent to a handler_session_fn (dgramctl sessions). */
struct handler_session {
	const struct sockaddr	*client;
	socklen_t		 client_len;
	const char		*target;	/* the first leg's target, as written */
	unsigned		 legs;
	uint64_t		 age_ms;
	uint64_t		 idle_ms;
	uint64_t		 to_targets;	/* datagrams from the client */
	uint64_t		 to_client;	/* replies relayed to it */
};

typedef void (*handler_session_fn)(void *userdata, const struct handler_session *s);

struct handler_ops {
	const char		*type;		/* the config "type" string */
	const char *const	*keys;		/* keys besides "type", NULL-terminated */
	size_t			 conf_size;	/* private parsed config, zeroed */
	/* Parses the handler's own block; checks values, opens nothing. */
	int	(*parse)(const config_setting_t *s, void *conf, struct conf_err *err);
	/* Optional: frees what parse allocated inside conf. */
	void	(*conf_free)(void *conf);
	/* Optional: checks against the whole config (e.g. forward loops). */
	int	(*validate)(const void *conf, const struct sock_conf *sc,
		    const struct conf *all, const config_setting_t *s, struct conf_err *err);
	/* Optional: -t checks that may touch the system (dirs, DNS); warns or fails. */
	int	(*test)(const void *conf, const char *file, struct conf_err *err);
	/*
	 * Optional: sets up state. On reload, old is the running handler of
	 * the same type at the same place, whose state may be taken over
	 * (set old->state to NULL then); NULL at first start.
	 */
	int	(*start)(struct handler *h, struct handler *old);
	/*
	 * Optional: true when handle() reads a unix sender's credentials
	 * (d->cred); only then does the socket ask the kernel for them.
	 */
	bool	(*wants_cred)(const void *conf);
	/* Handles one datagram; returns 0 or -errno (counted, never fatal). */
	int	(*handle)(struct handler *h, const struct dgram *d);
	/* Optional: the end of one receive batch (send what handle() queued). */
	void	(*end_batch)(struct handler *h);
	/* Optional: before the reactor sleeps (write buffered output). */
	void	(*flush)(struct handler *h);
	/* Optional: reopen files (SIGUSR1, SIGHUP). */
	void	(*reopen)(struct handler *h);
	/* Optional: puts the handler's counters into v (stats.h: stats_put...). */
	void	(*stats)(const struct handler *h, struct stats_visitor *v);
	/* Optional: calls fn for each live session, the most recently active first. */
	void	(*sessions)(const struct handler *h, handler_session_fn fn, void *userdata);
	/* Optional: frees state; tolerates a partial start. */
	void	(*stop)(struct handler *h);
};

/* The handler type named type, or NULL. */
const struct handler_ops	*handler_lookup(const char *type);
/* Calls cb for every registered type. */
void	handler_foreach(void (*cb)(const struct handler_ops *ops, void *ud), void *ud);

/* Creates and starts an instance; old as for ops->start. 0 or -errno. */
int	handler_new(const struct handler_conf *hc, const struct sock_conf *sc,
	    struct dg_socket *sock, struct reactor *r, unsigned index, struct handler *old,
	    struct handler **ret);
/* Stops and frees; accepts NULL; returns NULL. */
struct handler	*handler_free(struct handler *h);

extern const struct handler_ops echo_handler_ops;
extern const struct handler_ops log_handler_ops;
extern const struct handler_ops forward_handler_ops;

#endif
