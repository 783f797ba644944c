/*
 * activation.c: sd-daemon glue.
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

int
activation_listen_fds(struct activation_fd **ret)
{
	struct activation_fd *fds;
	char **names = NULL;
	int n, i;

	*ret = NULL;
	n = sd_listen_fds_with_names(1, &names);
	if (n <= 0) {
		free(names);
		return n;
	}
	fds = calloc((size_t)n, sizeof(*fds));
	if (fds == NULL) {
		for (i = 0; names != NULL && i < n; i++)
			free(names[i]);
		free(names);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		fds[i].fd = SD_LISTEN_FDS_START + i;
		/* Without LISTEN_FDNAMES systemd says "unknown". */
		fds[i].name = names != NULL ? names[i] : strdup("unknown");
		if (fds[i].name == NULL)
			goto nomem;
		if (strncmp(fds[i].name, ACTIVATION_STORE_PREFIX,
		    strlen(ACTIVATION_STORE_PREFIX)) == 0) {
			size_t len = strlen(ACTIVATION_STORE_PREFIX);

			memmove(fds[i].name, fds[i].name + len, strlen(fds[i].name + len) + 1);
			fds[i].stored = true;
		}
	}
	free(names);
	*ret = fds;
	return n;
nomem:
	for (i = 0; i < n; i++) {
		if (names != NULL)
			free(names[i]);
		else
			free(fds[i].name);
	}
	free(names);
	free(fds);
	return -ENOMEM;
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

	if (getenv("NOTIFY_SOCKET") == NULL)
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
	activation_notify("RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
}

uint64_t
activation_watchdog_usec(void)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	return usec;
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
	activation_notify("FDSTOREREMOVE=1\nFDNAME=" ACTIVATION_STORE_PREFIX "%s", name);
}
