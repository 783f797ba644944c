/*
 * util.h: small helpers shared by every module.
 */
#ifndef DGRAMD_UTIL_H
#define DGRAMD_UTIL_H

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#define MIN(a, b)	((a) < (b) ? (a) : (b))
#define MAX(a, b)	((a) > (b) ? (a) : (b))

/* Closes fd if it is valid, keeps errno, and returns -1 for "fd = safe_close(fd)". */
static inline int
safe_close(int fd)
{
	int saved = errno;

	if (fd >= 0)
		(void)close(fd);
	errno = saved;
	return -1;
}

/* Frees p and returns NULL, for "p = mfree(p)". */
static inline void *
mfree(void *p)
{
	free(p);
	return NULL;
}

#endif
