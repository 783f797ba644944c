/*
 * daemon.h: struct daemon owns the reactor, the config, the sockets and
 * their routes; start, reload (build, diff, swap) and stop.
 */
#ifndef DGRAMD_DAEMON_H
#define DGRAMD_DAEMON_H

#include <stdbool.h>

#include "stats.h"

/* Exit codes (sysexits.h). */
#define EXIT_USAGE	64
#define EXIT_OSERR	71
#define EXIT_CONFIG	78

struct daemon;

/* Checks the config file as -t does; prints what is wrong. Returns an exit code. */
int	daemon_test_config(const char *file);
/*
 * Loads the config, binds or adopts every socket, prints the listening
 * lines and notifies systemd. Returns 0 with *ret set, or an exit code
 * (EXIT_CONFIG, EXIT_OSERR) after printing why; nothing is left bound.
 */
int	daemon_start(const char *file, struct daemon **ret);
/* Runs until SIGTERM/SIGINT; returns an exit code. */
int	daemon_run(struct daemon *d);
/* Flushes, closes, removes the unix files dgramd created; NULL-safe. */
struct daemon	*daemon_free(struct daemon *d);
/*
 * Visits every counter: each socket's (label "socket"), its rate limit
 * table's and its handlers' (label "handler", and "target" or "index"
 * for an instance). The SIGUSR2 lines and STATUS= are views of this.
 */
void	daemon_stats_visit(const struct daemon *d, stats_sample_fn fn, void *userdata);
/* Reloads the config now (what SIGHUP does); 0 or -errno (nothing changed). */
int	daemon_reload(struct daemon *d);
/* Reopens every log file (what SIGUSR1 does). */
void	daemon_reopen(struct daemon *d);

struct strbuf;
/* For the control socket and /metrics: text, appended to out. */
void	daemon_status_write(const struct daemon *d, struct strbuf *out);
/* "reloaded FILE (N sockets)" after a good reload, else why it failed. */
void	daemon_reload_result(const struct daemon *d, struct strbuf *out);
void	daemon_json_write(const struct daemon *d, struct strbuf *out);
void	daemon_prometheus_write(const struct daemon *d, struct strbuf *out);
void	daemon_sockets_write(const struct daemon *d, struct strbuf *out);
void	daemon_targets_write(const struct daemon *d, struct strbuf *out);
/* Sessions shown unless all is asked for. */
#define DAEMON_SESSIONS_SHOWN	100
/*
 * The live forward sessions of socket (NULL: every socket), the most
 * recently active first, DAEMON_SESSIONS_SHOWN of them unless all; writes
 * "ok" and the table, or "error: ..." and returns -ENOENT.
 */
int	daemon_sessions_write(const struct daemon *d, const char *socket, bool all,
	    struct strbuf *out);

#endif
