/*
 * log.h: the one writer of diagnostics (stderr, one line each, "dgramd: "
 * prefix, "<N>" priority prefixes when stderr is the journal).
 */
#ifndef DGRAMD_LOG_H
#define DGRAMD_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

enum log_level {
	LOG_LVL_ERROR = 3,
	LOG_LVL_WARNING = 4,
	LOG_LVL_NOTICE = 5,
	LOG_LVL_INFO = 6,
	LOG_LVL_DEBUG = 7,
};

/* Reads JOURNAL_STREAM once, to decide whether lines get "<N>" prefixes. */
void	log_init(void);
/* Sets the most verbose level written (a LOG_LVL_*). */
void	log_set_level(int level);
/* -v: debug whatever the config says. */
void	log_force_debug(void);
/* Parses a level name ("debug" .. "error"); returns the level or -EINVAL. */
int	log_level_from_string(const char *s);
const char *log_level_to_string(int level);

/* Writes one line if level passes; keeps errno; returns r (for _errno use). */
int	log_full(int level, int r, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Always writes the line (listening and stats lines), at info priority. */
void	log_always(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define log_debug(...)		log_full(LOG_LVL_DEBUG, 0, __VA_ARGS__)
#define log_info(...)		log_full(LOG_LVL_INFO, 0, __VA_ARGS__)
#define log_notice(...)		log_full(LOG_LVL_NOTICE, 0, __VA_ARGS__)
#define log_warning(...)	log_full(LOG_LVL_WARNING, 0, __VA_ARGS__)
#define log_error(...)		log_full(LOG_LVL_ERROR, 0, __VA_ARGS__)
/* The _errno variants set errno = -r so "%m" works, and return r. */
#define log_debug_errno(r, ...)		log_full(LOG_LVL_DEBUG, (r), __VA_ARGS__)
#define log_info_errno(r, ...)		log_full(LOG_LVL_INFO, (r), __VA_ARGS__)
#define log_warning_errno(r, ...)	log_full(LOG_LVL_WARNING, (r), __VA_ARGS__)
#define log_error_errno(r, ...)		log_full(LOG_LVL_ERROR, (r), __VA_ARGS__)

/*
 * A rate limit for per-datagram diagnostics: at most burst lines per
 * interval; the lines suppressed are counted and reported with the next
 * line that passes.
 */
struct log_ratelimit {
	uint64_t	window_start_ms;
	unsigned	interval_ms;
	unsigned	burst;
	unsigned	in_window;
	uint64_t	suppressed;
};

#define LOG_RATELIMIT_INIT	{ 0, 5000, 5, 0, 0 }

/* Returns true when a line may be written now; counts it otherwise. */
bool	log_ratelimit_ok(struct log_ratelimit *rl);

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t	now_ms(void);

#endif
