/*
 * handler.h: the handler interface. A handler is one file under
 * src/handlers/ that exports one struct handler_ops, listed in
 * handler.c's registry.
 *
 * Handlers never see the event loop or sd-daemon: they reply through
 * sock_reply() (sock.h), and everything else the core does for them
 * (outbound sockets and their writability, name resolution, timers,
 * the socket's counters) goes through the services table they are
 * given (struct handler_services, handler_open_out() and friends).
 */
#ifndef DGRAMD_HANDLER_H
#define DGRAMD_HANDLER_H

#include <libconfig.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "addr.h"
#include "conf.h"

struct dg_socket;
struct handler;
struct handler_timer;
struct resolve;
struct sock_out;
struct stats_visitor;

/* A callback with its userdata: writability, a timer. */
typedef void (*handler_fn)(void *userdata);
/* A set of fds read with one wakeup: the userdata of every ready fd (n of them). */
struct handler_fdset;
typedef void (*handler_ready_fn)(void *userdata, void *const *ready, unsigned n);
/* A lookup ended: err 0 with the address (port set), or an EAI_* code (a NULL). */
typedef void (*handler_resolved_fn)(void *userdata, int err, const union sockaddr_any *a,
    socklen_t len);

/* The socket counters a handler adds to (what it sent for the socket). */
enum handler_counter {
	HANDLER_SENT,
	HANDLER_SEND_ERRORS,
	HANDLER_DROPPED,
};

/*
 * What the core does for handlers (src/core/services.c fills it); core
 * is the implementation's own state. Handlers call it through the
 * handler_* wrappers below.
 */
struct handler_services {
	void	*core;
	/* An outbound socket of family with sc's options (sock_out.h). */
	int	(*open_out)(void *core, int family, const struct sock_conf *sc,
		    handler_fn on_writable, void *userdata, struct sock_out **ret);
	struct sock_out *(*close_out)(struct sock_out *o);
	/*
	 * A bare socket of family with sc's outbound options, for a session
	 * leg that reads replies (watch it with an fd set). fd or -errno.
	 */
	int	(*open_leg)(void *core, int family, const struct sock_conf *sc);
	/* Calls on_writable whenever the socket can take more (on), or stops. */
	int	(*want_write)(struct sock_out *o, bool on);
	/* Resolves host now and every interval_ms (retry_ms after a failure). */
	int	(*resolve)(void *core, const char *host, uint16_t port, uint64_t interval_ms,
		    uint64_t retry_ms, handler_resolved_fn cb, void *userdata,
		    struct resolve **ret);
	struct resolve *(*resolve_free)(struct resolve *rs);
	/* A periodic timer. */
	int	(*timer_add)(void *core, uint64_t interval_ms, handler_fn fn, void *userdata,
		    struct handler_timer **ret);
	struct handler_timer *(*timer_del)(void *core, struct handler_timer *t);
	/*
	 * A set of readable-watched fds (a forward handler's session legs):
	 * one wakeup hands fn every ready fd's userdata at once.
	 */
	int	(*fdset_new)(void *core, handler_ready_fn fn, void *userdata,
		    struct handler_fdset **ret);
	int	(*fdset_add)(struct handler_fdset *set, int fd, void *fd_userdata);
	void	(*fdset_del)(struct handler_fdset *set, int fd);
	struct handler_fdset *(*fdset_free)(struct handler_fdset *set);
	/* Adds n to one of the socket's counters. */
	void	(*count)(struct dg_socket *s, enum handler_counter c, uint64_t n);
};

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
	const struct handler_services	*svc;	/* the core's services, not owned */
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
	/*
	 * Optional: handles d[0..n) as n handle() calls in order would, none
	 * failing, and returns true; or returns false having done nothing,
	 * and gets them one by one. The socket's route offers whole batches
	 * when this is its only handler and nothing filters.
	 */
	bool	(*handle_batch)(struct handler *h, const struct dgram *d, unsigned n);
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

/*
 * Creates and starts an instance with the services svc (which must
 * outlive it); old as for ops->start. 0 or -errno.
 */
int	handler_new(const struct handler_conf *hc, const struct sock_conf *sc,
	    struct dg_socket *sock, const struct handler_services *svc, unsigned index,
	    struct handler *old, struct handler **ret);
/* Stops and frees; accepts NULL; returns NULL. */
struct handler	*handler_free(struct handler *h);

/* The services, for h: see struct handler_services. */
int	handler_open_out(const struct handler *h, int family, handler_fn on_writable,
	    void *userdata, struct sock_out **ret);
struct sock_out *handler_close_out(const struct handler *h, struct sock_out *o);
int	handler_open_leg(const struct handler *h, int family);
int	handler_want_write(const struct handler *h, struct sock_out *o, bool on);
int	handler_resolve(const struct handler *h, const char *host, uint16_t port,
	    uint64_t interval_ms, uint64_t retry_ms, handler_resolved_fn cb, void *userdata,
	    struct resolve **ret);
struct resolve *handler_resolve_free(const struct handler *h, struct resolve *rs);
int	handler_timer_add(const struct handler *h, uint64_t interval_ms, handler_fn fn,
	    void *userdata, struct handler_timer **ret);
struct handler_timer *handler_timer_del(const struct handler *h, struct handler_timer *t);
int	handler_fdset_new(const struct handler *h, handler_ready_fn fn, void *userdata,
	    struct handler_fdset **ret);
int	handler_fdset_add(const struct handler *h, struct handler_fdset *set, int fd,
	    void *fd_userdata);
void	handler_fdset_del(const struct handler *h, struct handler_fdset *set, int fd);
struct handler_fdset *handler_fdset_free(const struct handler *h, struct handler_fdset *set);
void	handler_count(const struct handler *h, enum handler_counter c, uint64_t n);

extern const struct handler_ops echo_handler_ops;
extern const struct handler_ops log_handler_ops;
extern const struct handler_ops forward_handler_ops;

#endif
