/*
 * activation.c: the systemd protocols dgramd speaks, through libsystemd's
 * sd-daemon: sockets passed with LISTEN_FDS/LISTEN_FDNAMES
 * (sd_listen_fds_with_names), notifications on NOTIFY_SOCKET (sd_notify),
 * and the fd store (sd_pid_notify_with_fds). The only file that includes
 * <systemd/sd-daemon.h>. The watchdog pings come from the event loop
 * (sd_event_set_watchdog, reactor.c).
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "activation.h"
#include "util.h"

/* Frees a NULL-terminated array of strings and the strings. */
static void
free_names(char **names)
{
	size_t i;

	for (i = 0; names != NULL && names[i] != NULL; i++)
		free(names[i]);
	free(names);
}

int
activation_listen_fds(struct activation_fd **ret)
{
	const size_t plen = strlen(ACTIVATION_STORE_PREFIX);
	struct activation_fd *fds;
	char **names = NULL;
	int n, i;

	*ret = NULL;
	/* Ours only when LISTEN_PID is our pid; unsets LISTEN_*, sets FD_CLOEXEC. */
	n = sd_listen_fds_with_names(1, &names);
	if (n <= 0) {
		free_names(names);
		return n;
	}
	fds = calloc((size_t)n, sizeof(*fds));
	if (fds == NULL) {
		free_names(names);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		fds[i].fd = SD_LISTEN_FDS_START + i;
		/* The names are moved out of the array (systemd says "unknown"
		 * for an fd without FileDescriptorName=). */
		fds[i].name = names[i];
		names[i] = NULL;
		if (strncmp(fds[i].name, ACTIVATION_STORE_PREFIX, plen) == 0) {
			memmove(fds[i].name, fds[i].name + plen, strlen(fds[i].name + plen) + 1);
			fds[i].stored = true;
		}
	}
	free(names);
	*ret = fds;
	return n;
}

void
activation_fds_free(struct activation_fd *fds, size_t n, bool close_unused)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (close_unused && !fds[i].used)
			safe_close(fds[i].fd);
		free(fds[i].name);
	}
	free(fds);
}

void
activation_notify(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (!activation_has_notify())
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	(void)sd_notify(0, buf);
}

void
activation_notify_reloading(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	(void)sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
}

bool
activation_has_notify(void)
{
	return getenv("NOTIFY_SOCKET") != NULL;
}

int
activation_fdstore(int fd, const char *name)
{
	char buf[128];
	int r;

	if (!activation_has_notify())
		return 0;
	snprintf(buf, sizeof(buf), "FDSTORE=1\nFDPOLL=0\nFDNAME=" ACTIVATION_STORE_PREFIX "%s",
	    name);
	r = sd_pid_notify_with_fds(0, 0, buf, &fd, 1);
	return r < 0 ? r : 0;
}

void
activation_fdstore_remove(const char *name)
{
	(void)sd_notifyf(0, "FDSTOREREMOVE=1\nFDNAME=" ACTIVATION_STORE_PREFIX "%s", name);
}
