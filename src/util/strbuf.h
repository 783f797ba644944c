/*
 * strbuf.h: a growable text buffer for stats lines and messages (not for
 * the datagram path, which uses fixed buffers sized at set-up).
 */
#ifndef DGRAMD_STRBUF_H
#define DGRAMD_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char	*buf;
	size_t	 len;
	size_t	 cap;
	bool	 oom;	/* an append failed; the text is cut short */
};

/* Appends formatted text; on allocation failure sets oom and keeps what fits. */
void	strbuf_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text so far, NUL-terminated ("" when empty). */
const char *strbuf_str(const struct strbuf *sb);
void	strbuf_reset(struct strbuf *sb);
void	strbuf_free(struct strbuf *sb);

#endif
