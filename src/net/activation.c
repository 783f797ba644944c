/*
 * activation.c: the systemd protocols dgramd speaks: sockets passed with
 * LISTEN_FDS/LISTEN_FDNAMES, notifications on NOTIFY_SOCKET (with fds for
 * the fd store), the watchdog interval. These are small, stable, documented
 * interfaces (sd_listen_fds(3), sd_notify(3)), implemented here directly
 * rather than through libsystemd, whose shared library and its own
 * dependencies (libgcrypt, liblzma, libzstd, liblz4) would more than
 * double the daemon's idle memory.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "activation.h"
#include "util.h"

/* The first fd systemd passes (SD_LISTEN_FDS_START). */
#define LISTEN_FDS_START	3

/* Parses a decimal unsigned number that must fill s; 0 or -EINVAL. */
static int
parse_ull(const char *s, unsigned long long *ret)
{
	unsigned long long v;
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	*ret = v;
	return 0;
}

/* True when the variable name holds our pid (LISTEN_PID, WATCHDOG_PID). */
static bool
for_us(const char *var)
{
	unsigned long long pid;

	return parse_ull(getenv(var), &pid) == 0 && pid == (unsigned long long)getpid();
}

/* Splits LISTEN_FDNAMES into n names ("unknown" where missing). */
static int
split_names(const char *s, int n, char ***ret)
{
	char **names;
	const char *p = s;
	int i;

	names = calloc((size_t)n, sizeof(*names));
	if (names == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const char *end = p != NULL ? strchr(p, ':') : NULL;

		if (p == NULL)
			names[i] = strdup("unknown");
		else
			names[i] = end != NULL ? strndup(p, (size_t)(end - p)) : strdup(p);
		if (names[i] == NULL) {
			while (i-- > 0)
				free(names[i]);
			free(names);
			return -ENOMEM;
		}
		p = end != NULL ? end + 1 : NULL;
	}
	*ret = names;
	return 0;
}

/*
 * What sd_listen_fds_with_names(1, ...) does: the fds are ours only when
 * LISTEN_PID is our pid; they get FD_CLOEXEC and the variables are unset
 * so that nothing we start sees them.
 */
static int
listen_fds_with_names(char ***ret_names)
{
	unsigned long long n = 0;
	int i, r = 0, fl;

	*ret_names = NULL;
	if (!for_us("LISTEN_PID"))
		goto done;
	if (parse_ull(getenv("LISTEN_FDS"), &n) < 0 || n > (unsigned long long)(INT_MAX -
	    LISTEN_FDS_START)) {
		r = -EINVAL;
		goto done;
	}
	for (i = 0; i < (int)n; i++) {
		fl = fcntl(LISTEN_FDS_START + i, F_GETFD);
		if (fl < 0 || fcntl(LISTEN_FDS_START + i, F_SETFD, fl | FD_CLOEXEC) < 0) {
			r = -errno;
			goto done;
		}
	}
	if (n > 0)
		r = split_names(getenv("LISTEN_FDNAMES"), (int)n, ret_names);
	if (r == 0)
		r = (int)n;
done:
	(void)unsetenv("LISTEN_PID");
	(void)unsetenv("LISTEN_FDS");
	(void)unsetenv("LISTEN_FDNAMES");
	return r;
}

/*
 * Sends one notification, with fds when n_fds > 0, to NOTIFY_SOCKET (a
 * path or @abstract). Never blocks: a full socket loses the message.
 */
static int
notify_send(const char *msg, const int *fds, size_t n_fds)
{
	union {
		struct cmsghdr	hdr;
		uint8_t		buf[CMSG_SPACE(sizeof(int) * 8)];
	} ctrl;
	const char *e = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct iovec iov = { (void *)(uintptr_t)msg, strlen(msg) };
	struct msghdr mh = { 0 };
	size_t len;
	int fd, r = 0;

	if (e == NULL)
		return 0;
	len = strlen(e);
	if ((e[0] != '/' && e[0] != '@') || len < 2 || len >= sizeof(sa.sun_path) ||
	    n_fds > 8)
		return -EINVAL;
	memcpy(sa.sun_path, e, len);
	if (e[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	mh.msg_name = &sa;
	mh.msg_namelen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
	    (e[0] == '/'));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (n_fds > 0) {
		struct cmsghdr *cm;

		memset(&ctrl, 0, sizeof(ctrl));
		mh.msg_control = ctrl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * n_fds);
	}
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0)
		r = -errno;
	safe_close(fd);
	return r;
}

int
activation_listen_fds(struct activation_fd **ret)
{
	struct activation_fd *fds;
	char **names = NULL;
	int n, i;

	*ret = NULL;
	n = listen_fds_with_names(&names);
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
		fds[i].fd = LISTEN_FDS_START + i;
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
	(void)notify_send(buf, NULL, 0);
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
	unsigned long long usec;

	/* WATCHDOG_PID, when set, names the process that must ping. */
	if (getenv("WATCHDOG_PID") != NULL && !for_us("WATCHDOG_PID"))
		return 0;
	if (parse_ull(getenv("WATCHDOG_USEC"), &usec) < 0 || usec == 0)
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
	r = notify_send(buf, &fd, 1);
	return r < 0 ? r : 0;
}

void
activation_fdstore_remove(const char *name)
{
	activation_notify("FDSTOREREMOVE=1\nFDNAME=" ACTIVATION_STORE_PREFIX "%s", name);
}
