/*
 * fdstore.c: the sockets dgramd keeps in systemd's fd store.
 *
 * systemd closes its copy only when told (FDSTOREREMOVE) or when the unit
 * stops for good, and it ignores a second copy of a socket it already
 * holds, so storing again is harmless; removing is by name. Sockets are
 * told apart by their inode, since an fd number may be reused.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "activation.h"
#include "fdstore.h"
#include "log.h"
#include "util.h"

struct fdstore_entry {
	char	*name;
	dev_t	 dev;
	ino_t	 ino;
	bool	 seen;
};

struct fdstore {
	struct fdstore_entry	*e;
	size_t			 n;
	size_t			 cap;
};

int
fdstore_new(struct fdstore **ret)
{
	*ret = NULL;
	if (!activation_has_notify())
		return 0;
	*ret = calloc(1, sizeof(**ret));
	return *ret == NULL ? -ENOMEM : 0;
}

struct fdstore *
fdstore_free(struct fdstore *s)
{
	size_t i;

	if (s == NULL)
		return NULL;
	for (i = 0; i < s->n; i++)
		free(s->e[i].name);
	free(s->e);
	free(s);
	return NULL;
}

static int
fd_id(int fd, dev_t *dev, ino_t *ino)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return 0;
}

static struct fdstore_entry *
find_name(struct fdstore *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->e[i].name, name) == 0)
			return &s->e[i];
	return NULL;
}

static struct fdstore_entry *
find_id(const struct fdstore *s, dev_t dev, ino_t ino)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->e[i].dev == dev && s->e[i].ino == ino)
			return &s->e[i];
	return NULL;
}

/* Tells systemd to drop e and forgets it. */
static void
drop(struct fdstore *s, struct fdstore_entry *e)
{
	log_debug("%s: removed from systemd's fd store", e->name);
	activation_fdstore_remove(e->name);
	free(e->name);
	*e = s->e[--s->n];
}

static int
append(struct fdstore *s, const char *name, dev_t dev, ino_t ino)
{
	struct fdstore_entry *e;

	if (s->n == s->cap) {
		size_t cap = MAX(s->cap * 2, 8);

		e = reallocarray(s->e, cap, sizeof(*e));
		if (e == NULL)
			return -ENOMEM;
		s->e = e;
		s->cap = cap;
	}
	e = &s->e[s->n];
	e->name = strdup(name);
	if (e->name == NULL)
		return -ENOMEM;
	e->dev = dev;
	e->ino = ino;
	e->seen = true;
	s->n++;
	return 0;
}

int
fdstore_note(struct fdstore *s, const char *name, int fd)
{
	dev_t dev = 0;
	ino_t ino = 0;
	int r;

	if (s == NULL)
		return 0;
	r = fd_id(fd, &dev, &ino);
	if (r < 0)
		return r;
	return append(s, name, dev, ino);
}

void
fdstore_begin(struct fdstore *s)
{
	size_t i;

	for (i = 0; s != NULL && i < s->n; i++)
		s->e[i].seen = false;
}

void
fdstore_add(struct fdstore *s, const char *name, int fd)
{
	struct fdstore_entry *e;
	dev_t dev = 0;
	ino_t ino = 0;
	int r;

	if (s == NULL)
		return;
	r = fd_id(fd, &dev, &ino);
	if (r < 0)
		goto fail;
	e = find_name(s, name);
	if (e != NULL && e->dev == dev && e->ino == ino) {
		e->seen = true;
		return;
	}
	/* Another socket under this name (rebound), or this one under another
	 * name (renamed): drop the old entry first, since systemd would keep
	 * the old one and ignore the new. */
	if (e != NULL)
		drop(s, e);
	e = find_id(s, dev, ino);
	if (e != NULL)
		drop(s, e);
	r = activation_fdstore(fd, name);
	if (r < 0)
		goto fail;
	r = append(s, name, dev, ino);
	if (r < 0)
		goto fail;
	log_debug("%s: handed to systemd's fd store", name);
	return;
fail:
	log_warning_errno(r, "%s: cannot hand the socket to systemd's fd store: %m", name);
}

void
fdstore_end(struct fdstore *s)
{
	size_t i = 0;

	while (s != NULL && i < s->n) {
		if (s->e[i].seen)
			i++;
		else
			drop(s, &s->e[i]);
	}
}

bool
fdstore_holds(const struct fdstore *s, int fd)
{
	dev_t dev = 0;
	ino_t ino = 0;

	if (s == NULL || fd < 0 || fd_id(fd, &dev, &ino) < 0)
		return false;
	return find_id(s, dev, ino) != NULL;
}
