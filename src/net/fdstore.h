/*
 * fdstore.h: what dgramd keeps in systemd's fd store. The sockets dgramd
 * bound itself are stored (named "store/NAME", see activation.h) after
 * READY=1 and after each reload; sockets gone from the config are removed.
 * At the next start systemd passes them back and the daemon takes them
 * over again, so a restart never closes a port.
 */
#ifndef DGRAMD_FDSTORE_H
#define DGRAMD_FDSTORE_H

#include <stdbool.h>

struct sock_conf;
struct fdstore;

/* A tracker; *ret is NULL (and every call a no-op) without NOTIFY_SOCKET. */
int	fdstore_new(struct fdstore **ret);
struct fdstore	*fdstore_free(struct fdstore *s);
/* Records that fd is already stored under name (taken back at start). */
int	fdstore_note(struct fdstore *s, const char *name, int fd);
/*
 * A sync: begin, then add every socket that should be stored, then end:
 * new ones are stored, the ones not added again are removed from the store.
 */
void	fdstore_begin(struct fdstore *s);
void	fdstore_add(struct fdstore *s, const char *name, int fd);
void	fdstore_end(struct fdstore *s);
/* True when fd (this very socket) is in the store. */
bool	fdstore_holds(const struct fdstore *s, int fd);

#endif
