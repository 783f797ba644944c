/*
 * log.c: diagnostics on stderr, one line each, written with one write(2)
 * so that lines from dgramd never break.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static int log_level = LOG_LVL_INFO;
static bool log_prefix_prio;
static bool log_debug_forced;

static const char *const level_names[] = {
	[LOG_LVL_ERROR] = "error",
	[LOG_LVL_WARNING] = "warning",
	[LOG_LVL_NOTICE] = "notice",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

/*
 * JOURNAL_STREAM=DEV:INODE names the stream systemd connected to the
 * journal; it may be inherited by a process whose stderr now goes
 * elsewhere, so the prefixes are used only when stderr is that stream.
 */
void
log_init(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	log_prefix_prio = e != NULL && sscanf(e, "%llu:%llu", &dev, &ino) == 2 &&
	    fstat(STDERR_FILENO, &st) == 0 && (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_set_level(int level)
{
	log_level = log_debug_forced ? LOG_LVL_DEBUG : level;
}

void
log_force_debug(void)
{
	log_debug_forced = true;
	log_level = LOG_LVL_DEBUG;
}

int
log_level_from_string(const char *s)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(level_names); i++)
		if (level_names[i] != NULL && strcmp(level_names[i], s) == 0)
			return (int)i;
	return -EINVAL;
}

const char *
log_level_to_string(int level)
{
	if (level < 0 || (size_t)level >= ARRAY_SIZE(level_names))
		return NULL;
	return level_names[level];
}

static void
log_write(int level, const char *fmt, va_list ap)
{
	char line[2048];
	int n = 0, m;

	if (log_prefix_prio)
		n = snprintf(line, sizeof(line), "<%d>", level);
	m = snprintf(line + n, sizeof(line) - (size_t)n, "dgramd: ");
	if (m > 0)
		n += m;
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

int
log_full(int level, int r, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	if (level > log_level)
		return r;
	if (r < 0)
		errno = -r;
	va_start(ap, fmt);
	log_write(level, fmt, ap);
	va_end(ap);
	errno = saved;
	return r;
}

void
log_always(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_write(LOG_LVL_INFO, fmt, ap);
	va_end(ap);
	errno = saved;
}

uint64_t
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool
log_ratelimit_ok(struct log_ratelimit *rl)
{
	uint64_t now = now_ms();

	if (now - rl->window_start_ms >= rl->interval_ms) {
		rl->window_start_ms = now;
		rl->in_window = 0;
	}
	if (rl->in_window < rl->burst) {
		rl->in_window++;
		return true;
	}
	rl->suppressed++;
	return false;
}
