/*
 * reactor.h: the single-threaded event loop (sd-event underneath: level-
 * triggered epoll, signalfd, timerfd). The only module that knows sd-event.
 */
#ifndef DGRAMD_REACTOR_H
#define DGRAMD_REACTOR_H

#include <stdbool.h>
#include <stdint.h>

struct reactor;
struct reactor_watch;

#define REACTOR_IN	0x001u	/* same values as EPOLLIN/EPOLLOUT */
#define REACTOR_OUT	0x004u
#define REACTOR_ERR	0x008u

/* Called with the ready events of fd. */
typedef void (*reactor_fd_fn)(struct reactor_watch *w, int fd, uint32_t events, void *userdata);
/* Called for a signal, a timer expiry or before the reactor sleeps. */
typedef void (*reactor_fn)(void *userdata);
typedef void (*reactor_signal_fn)(int signo, void *userdata);

/* Creates a reactor; returns 0 or -errno. */
int	reactor_new(struct reactor **ret);
/*
 * Frees the reactor and every watcher still registered; accepts NULL. The
 * signals it watched stay blocked until the process exits.
 */
struct reactor *reactor_free(struct reactor *r);

/*
 * Watches fd for events; the watcher is owned by the reactor until
 * reactor_del_fd. A callback may delete any watcher, its own included.
 */
int	reactor_add_fd(struct reactor *r, int fd, uint32_t events, reactor_fd_fn cb,
	    void *userdata, struct reactor_watch **ret);
/* Changes the events watched; returns 0 or -errno. */
int	reactor_mod_fd(struct reactor *r, struct reactor_watch *w, uint32_t events);
/* Stops watching (the fd is not closed); accepts NULL; returns NULL. */
struct reactor_watch *reactor_del_fd(struct reactor *r, struct reactor_watch *w);

/*
 * Blocks signo and delivers it through the loop (signalfd); *ret (unless
 * ret is NULL) is the watcher, for reactor_del_signal. The signal stays
 * blocked for the life of the process, reactor_free and
 * reactor_del_signal included. One watcher per signal and reactor.
 */
int	reactor_add_signal(struct reactor *r, int signo, reactor_signal_fn cb, void *userdata,
	    struct reactor_watch **ret);
/* Stops delivering a signal (it stays blocked); accepts NULL; returns NULL. */
struct reactor_watch *reactor_del_signal(struct reactor *r, struct reactor_watch *w);

/*
 * Sends systemd's watchdog pings (WATCHDOG=1) from the loop when the
 * service has WatchdogSec=; returns 1 when they are on, 0 when there is no
 * watchdog, or -errno.
 */
int	reactor_set_watchdog(struct reactor *r);

/* A periodic timer every interval_ms (first expiry after one interval). */
int	reactor_add_timer(struct reactor *r, uint64_t interval_ms, reactor_fn cb,
	    void *userdata, struct reactor_watch **ret);
/* Removes a timer; accepts NULL; returns NULL. */
struct reactor_watch *reactor_del_timer(struct reactor *r, struct reactor_watch *w);

/* Adds a hook run every time before the loop sleeps (output flushes). */
int	reactor_on_before_sleep(struct reactor *r, reactor_fn cb, void *userdata);
/* Removes a before-sleep hook registered with the same cb and userdata. */
void	reactor_del_before_sleep(struct reactor *r, reactor_fn cb, void *userdata);

/*
 * For the callback of watcher w when it has more work at hand (a socket
 * that filled its receive batch): true when no other watcher, signal or
 * timer is known to be ready and the loop is not stopping; the
 * before-sleep hooks have then run, as at the start of a new turn, and
 * the callback may go on without one (and without its epoll_wait).
 * False: return, so that the others get their turn.
 */
bool	reactor_may_continue(struct reactor *r, const struct reactor_watch *w);

/*
 * Runs one turn: the before-sleep hooks, a wait of at most timeout_ms
 * (-1 = forever), then one ready watcher, signal or timer is dispatched.
 * Returns 1 when something was dispatched, 0 when nothing was, or -errno.
 */
int	reactor_run_once(struct reactor *r, int timeout_ms);
/* Runs turns until reactor_stop; returns 0 or -errno. */
int	reactor_run(struct reactor *r);
/* Ends reactor_run; the loop cannot be run again after it. */
void	reactor_stop(struct reactor *r);

#endif
