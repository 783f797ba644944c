/*
 * control.h: the control socket (control_socket, a unix stream socket) that
 * dgramctl talks to, and the /metrics HTTP listener (metrics_listen). Both
 * are served inside the event loop through ctlsrv (bounded clients,
 * request size and idle time), so they never hold up datagrams.
 *
 * The control protocol is one request line, "COMMAND [ARG...]\n", and one
 * answer: a first line "ok" or "error: WHY", then the text, then the
 * server closes. Commands: status, stats [text|json|prometheus], reload,
 * reopen, sockets, targets, sessions [SOCKET] [all].
 */
#ifndef DGRAMD_CONTROL_H
#define DGRAMD_CONTROL_H

#include <stdbool.h>
#include <sys/types.h>

struct conf;
struct daemon;
struct reactor;
struct strbuf;
struct control;

/*
 * Binds the control socket and the metrics listener that c asks for
 * (before privileges are dropped; the socket file is given to the user
 * dgramd runs as). Returns 0 with *ret set (NULL when c asks for neither),
 * or -errno after printing why.
 */
int	control_open(const struct conf *c, struct reactor *r, struct daemon *d,
	    struct control **ret);
/* Closes both and removes the socket file; accepts NULL; returns NULL. */
struct control	*control_free(struct control *ctl);
/* Warns when a reloaded config asks for another control socket or listener. */
void	control_reloaded(const struct control *ctl, const struct conf *c);

/* The answer to one control request line (without its newline). */
void	control_answer(struct daemon *d, const char *line, bool may_change, struct strbuf *out);

#endif
