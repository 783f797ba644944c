/*
 * dgramctl: talks to a running dgramd over its control socket.
 *
 *   dgramctl [-s PATH] status | stats [--json|--prometheus] | reload | reopen |
 *            sockets | targets | sessions [SOCKET] [--all] | top
 *
 * One request line per connection; the answer's first line is "ok" or
 * "error: WHY". Exit codes: 0 done, 1 the command failed, 64 usage,
 * 69 dgramd not reachable.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SOCKET	"/run/dgramd/control"
#define EXIT_FAILED	1
#define EXIT_USAGE	64
#define EXIT_UNAVAIL	69
/* The longest dgramd may take to answer (a reload re-reads the config). */
#define ANSWER_SECS	30

static const char *sock_path = DEFAULT_SOCKET;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: dgramctl [-s PATH] COMMAND\n"
	    "  -s, --socket PATH   dgramd's control socket (default " DEFAULT_SOCKET ")\n"
	    "  -h, --help          this text\n"
	    "  -V, --version       version\n"
	    "commands:\n"
	    "  status                      version, pid, uptime, config, last reload\n"
	    "  stats [--json|--prometheus] every counter\n"
	    "  reload                      re-read the config and wait for the outcome\n"
	    "  reopen                      reopen the log files\n"
	    "  sockets                     the listeners and their counters\n"
	    "  targets                     the forward targets\n"
	    "  sessions [SOCKET] [--all]   live forward sessions\n"
	    "  top                         live rates, refreshed every second (q quits)\n");
}

/* A growable answer buffer. */
struct buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

static int
buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (p == NULL)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

/*
 * Sends one request and reads the whole answer into b. Returns 0, or
 * EXIT_UNAVAIL after saying why dgramd could not be reached.
 */
static int
ask(const char *req, struct buf *b)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = ANSWER_SECS };
	char tmp[8192];
	size_t len = strlen(req);
	ssize_t n;
	int fd;

	b->len = 0;
	if (strlen(sock_path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "dgramctl: %s: path too long\n", sock_path);
		return EXIT_UNAVAIL;
	}
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "dgramctl: cannot reach dgramd at %s: %s\n", sock_path,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return EXIT_UNAVAIL;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len ||
	    send(fd, "\n", 1, MSG_NOSIGNAL) != 1) {
		fprintf(stderr, "dgramctl: %s: cannot send the request: %s\n", sock_path,
		    strerror(errno));
		close(fd);
		return EXIT_UNAVAIL;
	}
	while ((n = recv(fd, tmp, sizeof(tmp), 0)) > 0)
		if (buf_add(b, tmp, (size_t)n) < 0) {
			fprintf(stderr, "dgramctl: out of memory\n");
			close(fd);
			return EXIT_FAILED;
		}
	close(fd);
	if (n < 0 || b->len == 0) {
		fprintf(stderr, "dgramctl: %s: no answer from dgramd%s%s\n", sock_path,
		    n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
		return EXIT_UNAVAIL;
	}
	return 0;
}

/* Prints an answer: the text after "ok", or the error to stderr. */
static int
show(const struct buf *b)
{
	const char *nl = strchr(b->p, '\n');
	const char *rest = nl != NULL ? nl + 1 : "";

	if (strncmp(b->p, "ok\n", 3) == 0) {
		fputs(rest, stdout);
		return 0;
	}
	if (strncmp(b->p, "error: ", 7) == 0) {
		fprintf(stderr, "dgramctl: %.*s\n", (int)(nl != NULL ? nl - b->p - 7 :
		    (long)strlen(b->p) - 7), b->p + 7);
		fputs(rest, stderr);
		return EXIT_FAILED;
	}
	fprintf(stderr, "dgramctl: unexpected answer: %.200s\n", b->p);
	return EXIT_FAILED;
}

/* --- top ---------------------------------------------------------------------- */

#define TOP_MAX	256

/* The drop reasons top breaks a socket's drops into (stats line keys). */
static const char *const drop_keys[] = {
	"truncated", "denied", "limited", "kernel_drops", "send_errors", "dropped",
};
static const char *const drop_names[] = {
	"truncated", "denied", "limited", "kernel", "send errors", "send queue full",
};
#define N_DROPS	(sizeof(drop_keys) / sizeof(drop_keys[0]))

/* One row of top: a socket or a forward target, with its totals. */
struct top_row {
	char		name[160];
	bool		target;
	unsigned long long rx, bytes, tx, drops, sessions;
	unsigned long long prx, pbytes, ptx, pdrops;
	unsigned long long why[N_DROPS], pwhy[N_DROPS];
	bool		seen;
};

static struct termios saved_tty;
static bool tty_raw;

static void
restore_tty(void)
{
	if (tty_raw)
		(void)tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
	tty_raw = false;
}

static void
on_stop_signal(int sig)
{
	restore_tty();
	signal(sig, SIG_DFL);
	raise(sig);
}

static struct top_row *
top_find(struct top_row *rows, size_t *n, const char *name, bool target)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (rows[i].target == target && strcmp(rows[i].name, name) == 0)
			return &rows[i];
	if (*n == TOP_MAX)
		return NULL;
	memset(&rows[*n], 0, sizeof(rows[*n]));
	snprintf(rows[*n].name, sizeof(rows[*n].name), "%s", name);
	rows[*n].target = target;
	return &rows[(*n)++];
}

static int
drop_index(const char *key)
{
	size_t i;

	for (i = 0; i < N_DROPS; i++)
		if (strcmp(key, drop_keys[i]) == 0)
			return (int)i;
	return -1;
}

/* Reads "stats NAME key=value ..." lines into the rows' totals. */
static void
top_parse(char *text, struct top_row *rows, size_t *n)
{
	char *line, *save = NULL;

	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char sock[128], *tok, *tsave = NULL;
		struct top_row *r;

		if (sscanf(line, "stats %127s", sock) != 1)
			continue;
		r = top_find(rows, n, sock, false);
		if (r == NULL)
			continue;
		r->seen = true;
		r->rx = r->bytes = r->tx = r->drops = r->sessions = 0;
		tok = strtok_r(line + 6 + strlen(sock), " ", &tsave);
		for (; tok != NULL; tok = strtok_r(NULL, " ", &tsave)) {
			char *eq = strrchr(tok, '=');
			unsigned long long v;

			if (eq == NULL)
				continue;
			*eq = '\0';
			v = strtoull(eq + 1, NULL, 10);
			if (strcmp(tok, "received") == 0)
				r->rx = v;
			else if (strcmp(tok, "bytes") == 0)
				r->bytes = v;
			else if (strcmp(tok, "sent") == 0)
				r->tx = v;
			else if (strcmp(tok, "fwd.sessions") == 0)
				r->sessions += v;
			else if (drop_index(tok) >= 0) {
				r->drops += v;
				r->why[drop_index(tok)] = v;
			} else if (strncmp(tok, "fwd.", 4) == 0) {
				/* fwd.TARGET.sent / .dropped / .errors */
				char *dot = strrchr(tok, '.'), name[160];
				struct top_row *t;

				if (dot == NULL || dot == tok + 3)
					continue;
				snprintf(name, sizeof(name), "%s -> %.*s", sock, (int)(dot - tok - 4),
				    tok + 4);
				t = top_find(rows, n, name, true);
				if (t == NULL)
					continue;
				t->seen = true;
				if (strcmp(dot, ".sent") == 0)
					t->tx = v;
				else if (strcmp(dot, ".errors") == 0)
					t->why[drop_index("send_errors")] = v;
				else if (strcmp(dot, ".dropped") == 0)
					t->why[drop_index("dropped")] = v;
				t->drops = t->why[drop_index("send_errors")] + t->why[drop_index("dropped")];
			}
		}
	}
}

static double
rate(unsigned long long now, unsigned long long before, double secs)
{
	return now >= before && secs > 0 ? (double)(now - before) / secs : 0;
}

static int
top(void)
{
	struct top_row *rows = calloc(TOP_MAX, sizeof(*rows));
	struct buf b = { 0 };
	struct timespec t0, t1;
	size_t n = 0, i;
	bool first = true;
	int rc = 0;

	if (rows == NULL)
		return EXIT_FAILED;
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_tty) == 0) {
		struct termios raw = saved_tty;

		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0) {
			tty_raw = true;
			atexit(restore_tty);
			signal(SIGINT, on_stop_signal);
			signal(SIGTERM, on_stop_signal);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
		double secs;
		char c;

		rc = ask("stats", &b);
		if (rc != 0)
			break;
		if (strncmp(b.p, "ok\n", 3) != 0) {
			rc = show(&b);
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		t0 = t1;
		for (i = 0; i < n; i++) {
			rows[i].prx = rows[i].rx;
			rows[i].pbytes = rows[i].bytes;
			rows[i].ptx = rows[i].tx;
			rows[i].pdrops = rows[i].drops;
			memcpy(rows[i].pwhy, rows[i].why, sizeof(rows[i].why));
			rows[i].seen = false;
		}
		top_parse(b.p + 3, rows, &n);
		printf("\033[H\033[2Jdgramd top (%s) - every second, q quits\n\n", sock_path);
		printf("%-40s %12s %12s %12s %12s %9s\n", "SOCKET / TARGET", "RX dgram/s",
		    "RX bytes/s", "TX dgram/s", "DROPS/s", "SESSIONS");
		for (i = 0; i < n; i++) {
			const struct top_row *r = &rows[i];

			if (!r->seen)
				continue;
			if (first)
				printf("%-40.40s %12s %12s %12s %12s\n", r->name, "-", "-", "-",
				    "-");
			else if (r->target)
				printf("  %-38.38s %12s %12s %12.0f %12.0f\n", r->name, "", "",
				    rate(r->tx, r->ptx, secs), rate(r->drops, r->pdrops, secs));
			else {
				size_t k;
				bool any = false;

				printf("%-40.40s %12.0f %12.0f %12.0f %12.0f %9llu\n", r->name,
				    rate(r->rx, r->prx, secs), rate(r->bytes, r->pbytes, secs),
				    rate(r->tx, r->ptx, secs), rate(r->drops, r->pdrops, secs),
				    r->sessions);
				/* Drops by reason, on a line of their own when there are any. */
				for (k = 0; k < N_DROPS; k++) {
					double d = rate(r->why[k], r->pwhy[k], secs);

					if (d >= 0.5) {
						printf("%s%s %.0f", any ? ", " : "  drops/s: ",
						    drop_names[k], d);
						any = true;
					}
				}
				if (any)
					printf("\n");
			}
		}
		fflush(stdout);
		first = false;
		if (poll(&p, 1, 1000) > 0) {
			ssize_t k = read(STDIN_FILENO, &c, 1);

			if (k == 0 || (k == 1 && (c == 'q' || c == 'Q')))
				break;
		}
	}
	restore_tty();
	free(rows);
	free(b.p);
	return rc;
}

/* --- main --------------------------------------------------------------------- */

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	char req[1024];
	struct buf b = { 0 };
	const char *cmd;
	int c, rc, i;
	bool all = false;

	while ((c = getopt_long(argc, argv, "+s:hV", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("dgramctl %s\n", DGRAMD_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind++];
	if (strcmp(cmd, "top") == 0 && optind == argc)
		return top();
	if (strcmp(cmd, "stats") == 0) {
		if (optind == argc)
			snprintf(req, sizeof(req), "stats");
		else if (optind + 1 == argc && strcmp(argv[optind], "--json") == 0)
			snprintf(req, sizeof(req), "stats json");
		else if (optind + 1 == argc && strcmp(argv[optind], "--prometheus") == 0)
			snprintf(req, sizeof(req), "stats prometheus");
		else {
			usage(stderr);
			return EXIT_USAGE;
		}
	} else if (strcmp(cmd, "sessions") == 0) {
		const char *sock = NULL;

		for (i = optind; i < argc; i++) {
			if (strcmp(argv[i], "--all") == 0)
				all = true;
			else if (sock == NULL && argv[i][0] != '-')
				sock = argv[i];
			else {
				usage(stderr);
				return EXIT_USAGE;
			}
		}
		snprintf(req, sizeof(req), "sessions%s%s%s", sock ? " " : "", sock ? sock : "",
		    all ? " all" : "");
	} else if ((strcmp(cmd, "status") == 0 || strcmp(cmd, "reload") == 0 ||
	    strcmp(cmd, "reopen") == 0 || strcmp(cmd, "sockets") == 0 ||
	    strcmp(cmd, "targets") == 0) && optind == argc) {
		snprintf(req, sizeof(req), "%s", cmd);
	} else {
		usage(stderr);
		return EXIT_USAGE;
	}
	rc = ask(req, &b);
	if (rc == 0)
		rc = show(&b);
	free(b.p);
	return rc;
}
