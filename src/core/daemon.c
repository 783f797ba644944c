/*
 * daemon.c: the daemon's life: start, serve, reload, stop.
 *
 * Reload builds a complete new set (config, sockets, routes) beside the
 * running one and only then swaps: sockets whose binding is unchanged
 * keep their fd (so no datagram is lost); new sockets are bound before
 * removed ones are closed; any failure leaves the running set untouched.
 */

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "activation.h"
#include "conf.h"
#include "control.h"
#include "daemon.h"
#include "fdstore.h"
#include "handler.h"
#include "listen.h"
#include "log.h"
#include "reactor.h"
#include "route.h"
#include "sock.h"
#include "stats.h"
#include "statsview.h"
#include "strbuf.h"
#include "util.h"

/* A socket and the chain it feeds. */
struct slot {
	struct dg_socket	*sock;
	struct route		*route;
};

struct daemon {
	char			*file;
	struct reactor		*reactor;
	struct conf		*conf;
	struct recv_area	*area;
	struct slot		*slots;
	size_t			 n_slots;
	/* Sockets passed by systemd that no config socket uses now. */
	struct activation_fd	*spare;
	size_t			 n_spare;
	struct reactor_watch	*status_timer;
	/* The sockets dgramd bound itself and keeps in systemd's fd store. */
	struct fdstore		*fdstore;
	int			 exit_code;
	/* Why the last reload failed, for STATUS=; empty after a good one. */
	char			 reload_error[320];
	/* The control socket and /metrics (NULL when the config asks for neither). */
	struct control		*control;
	time_t			 started;
	time_t			 reload_time;	/* 0: never reloaded */
	bool			 reload_ok;
};

static size_t
largest_max_size(const struct conf *c)
{
	size_t i, m = 1;

	for (i = 0; i < c->n_socks; i++)
		m = MAX(m, c->socks[i].max_size);
	return m;
}

static void
print_listening(const struct dg_socket *s)
{
	char addr[ADDR_STRLEN];

	log_always("listening %s %s %s", s->name, sock_type_to_string(s->type),
	    sock_address(s, addr, sizeof(addr)));
}

/* --- sockets passed by systemd ---------------------------------------------- */

/*
 * Lets go of a socket that is not part of a running set (a failed build,
 * or the end): a socket unit's stays open for systemd and a later reload,
 * and one in the fd store keeps its file for the next start.
 */
static struct dg_socket *
release_socket(struct daemon *d, struct dg_socket *s)
{
	if (s == NULL)
		return NULL;
	if (fdstore_holds(d->fdstore, s->fd))
		s->created_path = false;
	if (!s->adopted)
		return sock_close(s);
	listen_give_back(d->spare, d->n_spare, s->fd);
	return sock_forget(s);
}

/* --- building a set of sockets ---------------------------------------------- */

/* The running slot whose socket binds what sc declares, or NULL. */
static struct slot *
find_running(struct daemon *d, const struct sock_conf *sc)
{
	size_t i;

	for (i = 0; i < d->n_slots; i++) {
		const struct sock_conf *old = d->slots[i].route->conf;

		if (sock_conf_same_binding(old, sc) && d->slots[i].sock->adopted ==
		    false && !(sc->type != SOCK_T_UNIX && sc->port == 0 &&
		    strcmp(old->name, sc->name) != 0))
			return &d->slots[i];
		if (d->slots[i].sock->adopted && strcmp(old->name, sc->name) == 0)
			return &d->slots[i];
	}
	return NULL;
}

/*
 * open_new and build_set return 0, -errno when a socket, handler or
 * allocation failed (a system error), or SET_MISFIT when a socket passed
 * by systemd does not fit its config socket: a config error, which no
 * errno stands for.
 */
enum { SET_MISFIT = 1 };

/*
 * Opens (or adopts) the sockets of c that are not running yet. kept[i]
 * gets the running slot reused for c->socks[i], or NULL. On failure every
 * socket opened here is let go again.
 */
static int
open_new(struct daemon *d, const struct conf *c, struct slot **kept, struct dg_socket **opened)
{
	char err[LISTEN_ERR_MAX];
	size_t i;
	int r;

	for (i = 0; i < c->n_socks; i++) {
		const struct sock_conf *sc = &c->socks[i];

		kept[i] = find_running(d, sc);
		if (kept[i] != NULL)
			continue;
		r = listen_open(sc, d->spare, d->n_spare, &opened[i], err, sizeof(err));
		if (r < 0 || r == LISTEN_OPEN_MISFIT) {
			log_error("%s: %s: %s", c->file, sc->name, err);
			r = r < 0 ? r : SET_MISFIT;
			goto fail;
		}
		if (r == LISTEN_OPEN_STORE) {
			/* In the store already: not stored again. */
			(void)fdstore_note(d->fdstore, sc->name, opened[i]->fd);
			log_info("%s: taken back from systemd's fd store", sc->name);
		}
	}
	return 0;
fail:
	for (i = 0; i < c->n_socks; i++)
		opened[i] = release_socket(d, opened[i]);
	return r;
}

/* --- signals and hooks ------------------------------------------------------ */

static void
flush_all(void *userdata)
{
	struct daemon *d = userdata;
	size_t i;

	for (i = 0; i < d->n_slots; i++)
		route_flush(d->slots[i].route);
}

static void
reopen_all(struct daemon *d)
{
	size_t i;

	for (i = 0; i < d->n_slots; i++)
		route_reopen(d->slots[i].route);
}

/* Visits the counters of slot i: the socket's, then its route's (label "socket"). */
static void
visit_slot(const struct daemon *d, size_t i, struct stats_visitor *v)
{
	stats_push_label(v, "socket", d->slots[i].sock->name);
	sock_stats(d->slots[i].sock, v);
	route_stats(d->slots[i].route, v);
	stats_pop_label(v);
}

void
daemon_stats_visit(const struct daemon *d, stats_sample_fn fn, void *userdata)
{
	struct stats_visitor v;
	size_t i;

	stats_visitor_init(&v, fn, userdata);
	for (i = 0; i < d->n_slots; i++)
		visit_slot(d, i, &v);
}

/* SIGUSR2: one line per socket, "stats NAME key=value ...". */
static void
print_stats(struct daemon *d)
{
	struct strbuf sb = { 0 };
	struct stats_visitor v;
	size_t i;

	stats_visitor_init(&v, stats_line_sample, &sb);
	for (i = 0; i < d->n_slots; i++) {
		strbuf_reset(&sb);
		visit_slot(d, i, &v);
		log_always("stats %s%s", d->slots[i].sock->name, strbuf_str(&sb));
	}
	strbuf_free(&sb);
}

/* The STATUS= summary: sockets, datagrams, errors. */
static void
status_text(const struct daemon *d, char *buf, size_t size)
{
	struct stats_summary sum = { 0 };

	daemon_stats_visit(d, stats_summary_sample, &sum);
	snprintf(buf, size, "%s%s%zu sockets, %llu datagrams received, %llu dropped or failed",
	    d->reload_error, d->reload_error[0] ? "; " : "", d->n_slots,
	    (unsigned long long)sum.received, (unsigned long long)sum.lost);
}

static void
send_status(struct daemon *d)
{
	char buf[512];

	if (!activation_has_notify())
		return;
	status_text(d, buf, sizeof(buf));
	activation_notify("STATUS=%s", buf);
}

/* READY=1 with the status, after start and after every reload attempt. */
static void
notify_ready(struct daemon *d)
{
	char buf[512];

	if (!activation_has_notify())
		return;
	status_text(d, buf, sizeof(buf));
	activation_notify("READY=1\nSTATUS=%s", buf);
}

/*
 * Stores the sockets dgramd bound itself in systemd's fd store and removes
 * the ones no longer configured (after start and after each reload).
 */
static void
store_own_sockets(struct daemon *d)
{
	size_t i;

	fdstore_begin(d->fdstore);
	for (i = 0; i < d->n_slots; i++)
		if (!d->slots[i].sock->adopted)
			fdstore_add(d->fdstore, d->slots[i].sock->name, d->slots[i].sock->fd);
	fdstore_end(d->fdstore);
}

static void
on_status_timer(void *userdata)
{
	send_status(userdata);
}

static void
on_signal(int signo, void *userdata)
{
	struct daemon *d = userdata;

	switch (signo) {
	case SIGTERM:
	case SIGINT:
		log_info("%s received, stopping", strsignal(signo));
		reactor_stop(d->reactor);
		break;
	case SIGHUP:
		(void)daemon_reload(d);
		break;
	case SIGUSR1:
		log_info("reopening log files");
		reopen_all(d);
		break;
	case SIGUSR2:
		print_stats(d);
		break;
	default:
		break;
	}
}

/* --- start, reload, stop --------------------------------------------------- */

static int
load_conf(const char *file, struct conf **ret, char *why, size_t why_size)
{
	struct conf_err err = { { 0 } };
	int r;

	r = conf_load(file, ret, &err);
	if (r < 0) {
		log_error("%s", err.msg[0] ? err.msg : "cannot load the config");
		if (why != NULL)
			snprintf(why, why_size, "reload failed, old configuration kept: %.260s",
			    err.msg[0] ? err.msg : "cannot load the config");
	}
	return r;
}

/* -t: a unix socket whose directory does not exist (yet) cannot be bound. */
static void
warn_missing_dir(const char *file, const struct sock_conf *sc)
{
	char dir[sizeof(sc->addr.un.sun_path)];
	const char *slash;
	struct stat st;

	if (sc->type != SOCK_T_UNIX || sc->path[0] == '@')
		return;
	slash = strrchr(sc->path, '/');
	if (slash == NULL)
		return;
	snprintf(dir, sizeof(dir), "%.*s", slash == sc->path ? 1 : (int)(slash - sc->path),
	    sc->path);
	if (stat(dir, &st) < 0)
		log_warning("%s:%d: %s: directory %s of %s: %m; binding fails until it exists "
		    "(under systemd, RuntimeDirectory= creates it)", file, sc->line, sc->name,
		    dir, sc->path);
}

int
daemon_test_config(const char *file)
{
	struct conf_err err = { { 0 } };
	struct conf *c = NULL;
	size_t i, j;
	int r;

	if (load_conf(file, &c, NULL, 0) < 0)
		return EXIT_CONFIG;
	for (i = 0; i < c->n_socks; i++) {
		for (j = 0; j < c->socks[i].n_handlers; j++) {
			const struct handler_conf *hc = &c->socks[i].handlers[j];

			if (hc->ops->test == NULL)
				continue;
			r = hc->ops->test(hc->conf, file, &err);
			if (r < 0) {
				log_error("%s", err.msg);
				conf_free(c);
				return EXIT_CONFIG;
			}
		}
	}
	for (i = 0; i < c->n_socks; i++)
		warn_missing_dir(file, &c->socks[i]);
	log_info("%s: configuration OK (%zu socket%s)", file, c->n_socks,
	    c->n_socks == 1 ? "" : "s");
	conf_free(c);
	return 0;
}

/*
 * Builds routes for every socket of c (reusing kept slots' handler state)
 * into slots. On failure nothing running is changed.
 */
static int
build_routes(struct daemon *d, const struct conf *c, struct slot **kept,
    struct dg_socket **opened, struct slot *slots)
{
	size_t i;
	int r;

	for (i = 0; i < c->n_socks; i++) {
		slots[i].sock = kept[i] != NULL ? kept[i]->sock : opened[i];
		r = route_new(&c->socks[i], slots[i].sock, d->reactor,
		    kept[i] != NULL ? kept[i]->route : NULL, &slots[i].route);
		if (r < 0) {
			log_error_errno(r, "%s: %s: cannot start handlers: %m", c->file,
			    c->socks[i].name);
			while (i-- > 0)
				slots[i].route = route_free(slots[i].route);
			return r;
		}
	}
	return 0;
}

/* Points every socket at the (possibly new) area and route. */
static int
start_slots(struct daemon *d, struct slot *slots, size_t n)
{
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		r = sock_start(slots[i].sock, d->reactor, d->area, route_dispatch,
		    route_end_batch, slots[i].route);
		if (r < 0)
			return r;
	}
	return 0;
}

static int
setup_signals(struct daemon *d)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2 };
	size_t i;
	int r;

	(void)signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < ARRAY_SIZE(sigs); i++) {
		r = reactor_add_signal(d->reactor, sigs[i], on_signal, d, NULL);
		if (r < 0)
			return r;
	}
	return reactor_on_before_sleep(d->reactor, flush_all, d);
}

static int
setup_timers(struct daemon *d)
{
	int r;

	/* sd-event pings the watchdog itself when WatchdogSec= is set. */
	r = reactor_set_watchdog(d->reactor);
	if (r < 0)
		return r;
	if (activation_has_notify())
		return reactor_add_timer(d->reactor, 5000, on_status_timer, d, &d->status_timer);
	return 0;
}

/* Whether a socket unit passes a socket named name. */
static bool
unit_passes(const struct daemon *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->n_spare; i++)
		if (!d->spare[i].stored && strcmp(d->spare[i].name, name) == 0)
			return true;
	return false;
}

/*
 * Checks the names of the fds systemd passed against the config. One from
 * a socket unit that no config socket claims is a config error
 * (EXIT_CONFIG). One from dgramd's own fd store that no config socket can
 * take back (the config changed between two runs) is dropped; whether a
 * stored socket still fits its config socket is listen_open's to check.
 */
static int
check_passed_fds(struct daemon *d)
{
	size_t i;
	int code = 0;

	for (i = 0; i < d->n_spare; i++) {
		struct activation_fd *a = &d->spare[i];
		bool configured = conf_find_sock(d->conf, a->name) != NULL;

		if (!a->stored && !configured) {
			log_error("%s: systemd passed socket \"%s\" (fd %d), but no socket "
			    "of that name is configured", d->file, a->name, a->fd);
			code = EXIT_CONFIG;
		} else if (a->stored && !configured) {
			listen_drop_stored(a, "no socket of that name is configured");
		} else if (a->stored && unit_passes(d, a->name)) {
			listen_drop_stored(a, "a socket unit passes that name too");
		}
	}
	return code;
}

/*
 * With user and/or group set and started as root: takes the user's
 * supplementary groups (or just the group), the group, then the user, and
 * checks that root cannot be regained. Runs once the sockets are bound
 * and the handlers' files open, before READY=1. Returns 0 or -errno
 * (logged).
 */
static int
drop_privileges(const struct conf *c)
{
	struct passwd *pw;
	struct group *gr;
	uid_t uid = 0;
	gid_t gid = 0;

	if (c->user == NULL && c->group == NULL)
		return 0;
	if (geteuid() != 0) {
		log_notice("not started as root: user and group stay uid %u, gid %u",
		    (unsigned)geteuid(), (unsigned)getegid());
		return 0;
	}
	if (c->user != NULL) {
		pw = getpwnam(c->user);
		if (pw == NULL)
			return log_error_errno(-ENOENT, "user \"%s\": no such user", c->user);
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	if (c->group != NULL) {
		gr = getgrnam(c->group);
		if (gr == NULL)
			return log_error_errno(-ENOENT, "group \"%s\": no such group", c->group);
		gid = gr->gr_gid;
	}
	if ((c->user != NULL ? initgroups(c->user, gid) : setgroups(1, &gid)) < 0)
		return log_error_errno(-errno, "cannot set the supplementary groups: %m");
	if (setresgid(gid, gid, gid) < 0)
		return log_error_errno(-errno, "cannot change to gid %u: %m", (unsigned)gid);
	if (c->user == NULL) {
		log_notice("changed to group %s (gid %u); still uid 0", c->group, (unsigned)gid);
		return 0;
	}
	if (setresuid(uid, uid, uid) < 0)
		return log_error_errno(-errno, "cannot change to user %s (uid %u): %m", c->user,
		    (unsigned)uid);
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		return log_error_errno(-EPERM, "could regain root after changing to user %s; "
		    "refusing to run", c->user);
	log_notice("dropped privileges to user %s (uid %u), gid %u", c->user, (unsigned)uid,
	    (unsigned)gid);
	return 0;
}

/*
 * After a privilege drop: a unix socket file in a directory the user cannot
 * write cannot be removed on stop; say so now rather than at the end.
 */
static void
warn_unremovable(const struct daemon *d)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char *slash;
	size_t i;

	for (i = 0; i < d->n_slots; i++) {
		const struct dg_socket *s = d->slots[i].sock;

		if (!s->created_path || s->adopted || s->path == NULL)
			continue;
		slash = strrchr(s->path, '/');
		snprintf(dir, sizeof(dir), "%.*s", slash == NULL ? 1 :
		    slash == s->path ? 1 : (int)(slash - s->path), slash == NULL ? "." : s->path);
		if (access(dir, W_OK | X_OK) < 0)
			log_warning("%s: %s cannot be removed on stop: %s is not writable by "
			    "this user (keep unix sockets in a directory it owns, such as "
			    "systemd's RuntimeDirectory=)", s->name, s->path, dir);
	}
}

/* Puts the first n kept sockets back to their running options. */
static void
restore_kept(const struct conf *c, struct slot **kept, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (kept[i] != NULL)
			(void)sock_update_options(kept[i]->sock, kept[i]->route->conf,
			    &c->socks[i]);
}

/*
 * Gives the sockets a reload keeps their new options, before anything is
 * swapped; on failure the ones already changed are put back.
 */
static int
update_kept(const struct conf *c, struct slot **kept)
{
	size_t i;
	int r;

	for (i = 0; i < c->n_socks; i++) {
		if (kept[i] == NULL)
			continue;
		r = sock_update_options(kept[i]->sock, &c->socks[i], kept[i]->route->conf);
		if (r < 0) {
			log_error_errno(r, "%s: %s: cannot apply the new options: %m", c->file,
			    c->socks[i].name);
			restore_kept(c, kept, i + 1);
			return r;
		}
	}
	return 0;
}

/* A set of sockets built beside the running one, one entry per config socket. */
struct sock_set {
	struct slot		**kept;		/* the running slot reused, or NULL */
	struct dg_socket	**opened;	/* else the socket opened or adopted */
	struct slot		 *slots;	/* the new slots, routes built */
};

static void
sock_set_done(struct sock_set *set)
{
	free(set->kept);
	free(set->opened);
	free(set->slots);
	memset(set, 0, sizeof(*set));
}

/*
 * Builds the set c declares beside d's running one, for start and reload
 * alike: opens or adopts the sockets not running yet, takes the ones from
 * the fd store back as dgramd's own, gives the kept ones c's options and
 * builds every route. On failure nothing opened here stays open and the
 * kept sockets have their running options back.
 */
static int
build_set(struct daemon *d, const struct conf *c, struct sock_set *set)
{
	size_t i;
	int r;

	set->kept = calloc(c->n_socks, sizeof(struct slot *));
	set->opened = calloc(c->n_socks, sizeof(struct dg_socket *));
	set->slots = calloc(c->n_socks, sizeof(*set->slots));
	if (set->kept == NULL || set->opened == NULL || set->slots == NULL)
		return -ENOMEM;
	r = open_new(d, c, set->kept, set->opened);
	if (r != 0)
		return r;
	r = update_kept(c, set->kept);
	if (r == 0) {
		r = build_routes(d, c, set->kept, set->opened, set->slots);
		if (r < 0)
			restore_kept(c, set->kept, c->n_socks);
	}
	if (r < 0)
		for (i = 0; i < c->n_socks; i++)
			set->opened[i] = release_socket(d, set->opened[i]);
	return r;
}

int
daemon_start(const char *file, struct daemon **ret)
{
	struct sock_set set = { 0 };
	struct daemon *d;
	size_t i;
	int r, n, code = EXIT_OSERR;

	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return EXIT_OSERR;
	d->started = time(NULL);
	d->file = strdup(file);
	if (d->file == NULL)
		goto fail;
	if (load_conf(file, &d->conf, NULL, 0) < 0) {
		code = EXIT_CONFIG;
		goto fail;
	}
	log_set_level(d->conf->log_level);
	n = activation_listen_fds(&d->spare);
	if (n < 0) {
		log_error_errno(n, "cannot read the sockets passed by systemd: %m");
		goto fail;
	}
	d->n_spare = (size_t)n;
	if (fdstore_new(&d->fdstore) < 0)
		goto fail;
	code = check_passed_fds(d);
	if (code != 0)
		goto fail;
	code = EXIT_OSERR;
	r = reactor_new(&d->reactor);
	if (r < 0)
		goto fail;
	/* Block the signals before any handler may start a thread. */
	r = setup_signals(d);
	if (r < 0)
		goto fail;
	r = sock_area_new(d->conf->batch, largest_max_size(d->conf), &d->area);
	if (r < 0)
		goto fail;
	/* As on reload, the set is built beside d and installed once complete. */
	r = build_set(d, d->conf, &set);
	if (r != 0) {
		code = r == SET_MISFIT ? EXIT_CONFIG : EXIT_OSERR;
		goto fail;
	}
	d->slots = set.slots;
	d->n_slots = d->conf->n_socks;
	set.slots = NULL;
	sock_set_done(&set);
	r = start_slots(d, d->slots, d->n_slots);
	if (r < 0)
		goto fail;
	r = setup_timers(d);
	if (r < 0)
		goto fail;
	r = control_open(d->conf, d->reactor, d, &d->control);
	if (r < 0)
		goto fail;
	if (drop_privileges(d->conf) < 0)
		goto fail;
	if (d->conf->user != NULL || d->conf->group != NULL)
		warn_unremovable(d);
	for (i = 0; i < d->n_slots; i++)
		print_listening(d->slots[i].sock);
	if (getuid() == 0 && d->conf->user == NULL)
		log_warning("running as root; set \"user\" to drop privileges after binding");
	if (activation_has_notify()) {
		char st[160];

		status_text(d, st, sizeof(st));
		activation_notify("READY=1\nSTATUS=%s", st);
	}
	store_own_sockets(d);
	*ret = d;
	return 0;
fail:
	sock_set_done(&set);
	daemon_free(d);
	return code;
}

int
daemon_reload(struct daemon *d)
{
	struct recv_area *area = NULL;
	struct sock_set set = { 0 };
	struct conf *c = NULL;
	size_t i, j;
	int r = -ENOMEM;

	activation_notify_reloading();
	log_info("reloading %s", d->file);
	d->reload_time = time(NULL);
	d->reload_ok = false;
	if (load_conf(d->file, &c, d->reload_error, sizeof(d->reload_error)) < 0) {
		log_error("reload failed; the running configuration stays in force");
		notify_ready(d);
		return -EINVAL;
	}
	if (c->batch != sock_area_batch(d->area) ||
	    largest_max_size(c) != sock_area_max_size(d->area)) {
		r = sock_area_new(c->batch, largest_max_size(c), &area);
		if (r < 0)
			goto fail;
	}
	r = build_set(d, c, &set);
	if (r == SET_MISFIT)
		r = -EINVAL;	/* a config error, as when the file does not load */
	if (r < 0)
		goto fail;

	/* From here on nothing can fail: swap. The new sockets are bound already. */
	for (i = 0; i < c->n_socks; i++)
		if (set.opened[i] != NULL)
			print_listening(set.opened[i]);
	flush_all(d);
	for (i = 0; i < d->n_slots; i++) {
		bool reused = false;

		for (j = 0; j < c->n_socks && !reused; j++)
			reused = set.kept[j] != NULL && set.kept[j] == &d->slots[i];
		d->slots[i].route = route_free(d->slots[i].route);
		if (reused)
			continue;
		if (d->slots[i].sock->adopted) {
			listen_give_back(d->spare, d->n_spare, d->slots[i].sock->fd);
			d->slots[i].sock = sock_forget(d->slots[i].sock);
		} else {
			log_info("closed %s", d->slots[i].sock->name);
			d->slots[i].sock = sock_close(d->slots[i].sock);
		}
	}
	if (area != NULL) {
		sock_area_free(d->area);
		d->area = area;
		area = NULL;
	}
	for (i = 0; i < c->n_socks; i++) {
		if (set.kept[i] != NULL && strcmp(set.kept[i]->sock->name, c->socks[i].name) != 0) {
			char *name = strdup(c->socks[i].name);

			if (name != NULL) {
				free(set.kept[i]->sock->name);
				set.kept[i]->sock->name = name;
			}
		}
	}
	free(d->slots);
	d->slots = set.slots;
	d->n_slots = c->n_socks;
	set.slots = NULL;
	conf_free(d->conf);
	d->conf = c;
	c = NULL;
	log_set_level(d->conf->log_level);
	r = start_slots(d, d->slots, d->n_slots);
	if (r < 0)
		log_error_errno(r, "reload: cannot watch sockets: %m");
	/* SIGHUP also serves logrotate: reopen every log file. */
	reopen_all(d);
	d->reload_error[0] = '\0';
	d->reload_ok = true;
	control_reloaded(d->control, d->conf);
	log_info("reloaded %s (%zu socket%s)", d->file, d->n_slots, d->n_slots == 1 ? "" : "s");
	sock_set_done(&set);
	notify_ready(d);
	store_own_sockets(d);
	return 0;
fail:
	log_error("reload failed; the running configuration stays in force");
	snprintf(d->reload_error, sizeof(d->reload_error),
	    "reload failed, old configuration kept: %s",
	    r == -ENOMEM ? "out of memory" : "a socket or handler could not be set up (see the log)");
	notify_ready(d);
	sock_area_free(area);
	sock_set_done(&set);
	conf_free(c);
	return r;
}

int
daemon_run(struct daemon *d)
{
	int r;

	r = reactor_run(d->reactor);
	if (r < 0) {
		log_error_errno(r, "event loop failed: %m");
		return EXIT_OSERR;
	}
	return d->exit_code;
}

struct daemon *
daemon_free(struct daemon *d)
{
	size_t i;

	if (d == NULL)
		return NULL;
	if (d->n_slots > 0)
		activation_notify("STOPPING=1");
	d->control = control_free(d->control);
	for (i = 0; i < d->n_slots; i++) {
		route_flush(d->slots[i].route);
		d->slots[i].route = route_free(d->slots[i].route);
		d->slots[i].sock = release_socket(d, d->slots[i].sock);
	}
	free(d->slots);
	activation_fds_free(d->spare, d->n_spare, false);
	fdstore_free(d->fdstore);
	sock_area_free(d->area);
	reactor_free(d->reactor);
	conf_free(d->conf);
	free(d->file);
	free(d);
	return NULL;
}

/* --- what the control socket and /metrics show ------------------------------ */

static void
format_time(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (t == 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(buf, size, "never");
	else
		strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void
daemon_status_write(const struct daemon *d, struct strbuf *out)
{
	char started[32], reloaded[32];

	format_time(d->started, started, sizeof(started));
	format_time(d->reload_time, reloaded, sizeof(reloaded));
	strbuf_printf(out, "version %s\npid %ld\nuptime %llds (since %s)\nconfig %s\n"
	    "sockets %zu\n", DGRAMD_VERSION, (long)getpid(),
	    (long long)(time(NULL) - d->started), started, d->file, d->n_slots);
	if (d->reload_time == 0)
		strbuf_printf(out, "last reload never\n");
	else if (d->reload_ok)
		strbuf_printf(out, "last reload %s ok\n", reloaded);
	else
		strbuf_printf(out, "last reload %s failed: %s\n", reloaded, d->reload_error);
}

void
daemon_reload_result(const struct daemon *d, struct strbuf *out)
{
	if (d->reload_ok)
		strbuf_printf(out, "reloaded %s (%zu socket%s)\n", d->file, d->n_slots,
		    d->n_slots == 1 ? "" : "s");
	else {
		/* The error itself first (FILE:LINE: setting: message), as -t prints it. */
		static const char kept[] = "reload failed, old configuration kept: ";
		const char *why = d->reload_error[0] ? d->reload_error : "reload failed";

		if (strncmp(why, kept, sizeof(kept) - 1) == 0)
			why += sizeof(kept) - 1;
		strbuf_printf(out, "%s\nthe running configuration stays in force\n", why);
	}
}

void
daemon_reopen(struct daemon *d)
{
	log_info("reopening log files");
	reopen_all(d);
}

static void
walk(const void *owner, stats_sample_fn fn, void *userdata)
{
	daemon_stats_visit(owner, fn, userdata);
}

void
daemon_json_write(const struct daemon *d, struct strbuf *out)
{
	strbuf_printf(out, "{\"version\":");
	json_string(out, DGRAMD_VERSION);
	strbuf_printf(out, ",\"pid\":%ld,\"start_time\":%lld,\"uptime_seconds\":%lld,"
	    "\"config\":", (long)getpid(), (long long)d->started,
	    (long long)(time(NULL) - d->started));
	json_string(out, d->file);
	strbuf_printf(out, ",\"last_reload\":");
	if (d->reload_time == 0) {
		strbuf_printf(out, "null");
	} else {
		strbuf_printf(out, "{\"time\":%lld,\"ok\":%s,\"error\":",
		    (long long)d->reload_time, d->reload_ok ? "true" : "false");
		if (d->reload_ok)
			strbuf_printf(out, "null}");
		else {
			json_string(out, d->reload_error);
			strbuf_printf(out, "}");
		}
	}
	strbuf_printf(out, ",");
	statsview_json(walk, d, out);
	strbuf_printf(out, "}\n");
}

void
daemon_prometheus_write(const struct daemon *d, struct strbuf *out)
{
	strbuf_printf(out, "# HELP dgramd_build_info The running dgramd's version.\n"
	    "# TYPE dgramd_build_info gauge\ndgramd_build_info{version=\"%s\"} 1\n"
	    "# HELP dgramd_start_time_seconds When dgramd started, in seconds since the epoch.\n"
	    "# TYPE dgramd_start_time_seconds gauge\ndgramd_start_time_seconds %lld\n"
	    "# HELP dgramd_config_last_reload_successful 0 when the last reload was rejected.\n"
	    "# TYPE dgramd_config_last_reload_successful gauge\n"
	    "dgramd_config_last_reload_successful %d\n"
	    "# HELP dgramd_sockets The sockets dgramd serves.\n# TYPE dgramd_sockets gauge\n"
	    "dgramd_sockets %zu\n", DGRAMD_VERSION, (long long)d->started,
	    d->reload_time == 0 || d->reload_ok ? 1 : 0, d->n_slots);
	statsview_prometheus(walk, d, out);
}

/* The counters of one socket that the tables show. */
struct row {
	const char	*socket;
	const char	*target;
	uint64_t	 v[8];
};

enum { R_RECEIVED, R_BYTES, R_DROPPED, R_SENT, R_SEND_ERR, R_QUEUED, R_UP, R_TDROP };

static void
row_sample(void *userdata, const struct stat_sample *s)
{
	struct row *r = userdata;
	const char *sock = stats_label(s, "socket");
	const char *key = s->desc->key != NULL ? s->desc->key : "";
	const char *target = stats_label(s, "target");

	if (sock == NULL || strcmp(sock, r->socket) != 0)
		return;
	if (r->target != NULL) {
		if (target == NULL || strcmp(target, r->target) != 0)
			return;
		if (strcmp(key, "fwd.sent") == 0)
			r->v[R_SENT] += s->value;
		else if (strcmp(key, "fwd.errors") == 0)
			r->v[R_SEND_ERR] += s->value;
		else if (strcmp(key, "fwd.queued") == 0)
			r->v[R_QUEUED] += s->value;
		else if (strcmp(key, "fwd.dropped") == 0)
			r->v[R_TDROP] += s->value;
		else if (strcmp(s->desc->name, "dgramd_forward_target_up") == 0)
			r->v[R_UP] = s->value;
		return;
	}
	if (target != NULL || stats_label(s, "handler") != NULL)
		return;
	if (strcmp(key, "received") == 0)
		r->v[R_RECEIVED] = s->value;
	else if (strcmp(key, "bytes") == 0)
		r->v[R_BYTES] = s->value;
	else if (strcmp(key, "sent") == 0)
		r->v[R_SENT] = s->value;
	else if (strcmp(key, "send_errors") == 0)
		r->v[R_SEND_ERR] = s->value;
	else if (strcmp(key, "queued") == 0)
		r->v[R_QUEUED] = s->value;
	else if (s->desc->role == STAT_ROLE_LOST)
		r->v[R_DROPPED] += s->value;
}

void
daemon_sockets_write(const struct daemon *d, struct strbuf *out)
{
	char addr[ADDR_STRLEN];
	size_t i, k;

	strbuf_printf(out, "%-16s %-10s %-28s %-20s %12s %14s %10s %10s\n", "NAME", "TYPE",
	    "ADDRESS", "HANDLERS", "RECEIVED", "BYTES", "SENT", "DROPPED");
	for (i = 0; i < d->n_slots; i++) {
		const struct dg_socket *s = d->slots[i].sock;
		const struct sock_conf *sc = &d->conf->socks[i];
		struct row r = { .socket = s->name };
		struct strbuf h = { 0 };

		daemon_stats_visit(d, row_sample, &r);
		for (k = 0; k < sc->n_handlers; k++)
			strbuf_printf(&h, "%s%s", k ? "," : "", sc->handlers[k].ops->type);
		strbuf_printf(out, "%-16s %-10s %-28s %-20s %12llu %14llu %10llu %10llu\n", s->name,
		    sock_type_to_string(s->type), sock_address(s, addr, sizeof(addr)), strbuf_str(&h),
		    (unsigned long long)r.v[R_RECEIVED], (unsigned long long)r.v[R_BYTES],
		    (unsigned long long)r.v[R_SENT], (unsigned long long)r.v[R_DROPPED] +
		    (unsigned long long)r.v[R_SEND_ERR]);
		strbuf_free(&h);
	}
}

/* Collects the distinct (socket, target) pairs, in visit order. */
struct target_list {
	struct strbuf	 out;
	const struct daemon *d;
	char		*last;	/* "socket\ttarget" of the last row written */
};

static void
target_sample(void *userdata, const struct stat_sample *s)
{
	struct target_list *tl = userdata;
	const char *sock = stats_label(s, "socket");
	const char *target = stats_label(s, "target");
	struct row r = { 0 };
	char *pair;

	if (sock == NULL || target == NULL)
		return;
	if (asprintf(&pair, "%s\t%s", sock, target) < 0)
		return;
	if (tl->last != NULL && strcmp(tl->last, pair) == 0) {
		free(pair);
		return;
	}
	free(tl->last);
	tl->last = pair;
	r.socket = sock;
	r.target = target;
	r.v[R_UP] = 1;
	/* A second walk for this pair's counters (a handful of targets). */
	daemon_stats_visit(tl->d, row_sample, &r);
	strbuf_printf(&tl->out, "%-16s %-32s %-5s %10llu %10llu %8llu %10llu\n", sock, target,
	    r.v[R_UP] ? "up" : "down", (unsigned long long)r.v[R_SENT],
	    (unsigned long long)r.v[R_SEND_ERR], (unsigned long long)r.v[R_QUEUED],
	    (unsigned long long)r.v[R_TDROP]);
}

void
daemon_targets_write(const struct daemon *d, struct strbuf *out)
{
	struct target_list tl = { .d = d };

	strbuf_printf(out, "%-16s %-32s %-5s %10s %10s %8s %10s\n", "SOCKET", "TARGET", "STATE",
	    "SENT", "ERRORS", "QUEUED", "DROPPED");
	daemon_stats_visit(d, target_sample, &tl);
	strbuf_printf(out, "%s", strbuf_str(&tl.out));
	if (tl.out.oom)
		out->oom = true;
	strbuf_free(&tl.out);
	free(tl.last);
}

/* dgramctl sessions: rows gathered from every forward handler, then sorted. */
struct sess_row {
	const char	*socket;
	char		 client[ADDR_STRLEN];
	char		 target[96];
	struct handler_session s;
};

struct sess_list {
	const char	*socket;	/* of the handler being walked */
	struct sess_row	*rows;
	size_t		 n;
	size_t		 cap;
	size_t		 total;
	size_t		 limit;		/* keep the limit most recently active; 0: all */
	bool		 oom;
};

static int
row_cmp(const void *a, const void *b)
{
	const struct sess_row *x = a, *y = b;

	return x->s.idle_ms < y->s.idle_ms ? -1 : x->s.idle_ms > y->s.idle_ms;
}

/* The slot for a session idle idle_ms: a new one, or the least recent kept one. */
static struct sess_row *
row_slot(struct sess_list *l, uint64_t idle_ms)
{
	struct sess_row *p;
	size_t i, worst = 0;

	if (l->limit == 0 || l->n < l->limit) {
		if (l->n == l->cap) {
			size_t cap = l->cap ? l->cap * 2 : 128;

			p = reallocarray(l->rows, cap, sizeof(*p));
			if (p == NULL) {
				l->oom = true;
				return NULL;
			}
			l->rows = p;
			l->cap = cap;
		}
		return &l->rows[l->n++];
	}
	for (i = 1; i < l->n; i++)
		if (l->rows[i].s.idle_ms > l->rows[worst].s.idle_ms)
			worst = i;
	return l->rows[worst].s.idle_ms > idle_ms ? &l->rows[worst] : NULL;
}

static void
session_row(void *userdata, const struct handler_session *s)
{
	struct sess_list *l = userdata;
	struct sess_row *r;

	l->total++;
	r = row_slot(l, s->idle_ms);
	if (r == NULL)
		return;
	r->socket = l->socket;
	r->s = *s;
	addr_format(s->client, s->client_len, r->client, sizeof(r->client));
	if (s->legs > 1)
		snprintf(r->target, sizeof(r->target), "%s +%u", s->target, s->legs - 1);
	else
		snprintf(r->target, sizeof(r->target), "%s", s->target);
	r->s.target = NULL;
	r->s.client = NULL;
}

int
daemon_sessions_write(const struct daemon *d, const char *socket, bool all, struct strbuf *out)
{
	struct sess_list l = { .limit = all ? 0 : DAEMON_SESSIONS_SHOWN };
	bool found = socket == NULL;
	size_t i, k;

	for (i = 0; i < d->n_slots; i++) {
		const struct route *rt = d->slots[i].route;

		if (socket != NULL && strcmp(socket, d->slots[i].sock->name) != 0)
			continue;
		found = true;
		l.socket = d->slots[i].sock->name;
		for (k = 0; rt != NULL && k < rt->n_handlers; k++)
			if (rt->handlers[k]->ops->sessions != NULL)
				rt->handlers[k]->ops->sessions(rt->handlers[k], session_row, &l);
	}
	if (!found) {
		strbuf_printf(out, "error: no socket named \"%s\"\n", socket);
		return -ENOENT;
	}
	if (l.n > 1)
		qsort(l.rows, l.n, sizeof(*l.rows), row_cmp);
	strbuf_printf(out, "ok\n%-16s %-40s %-28s %9s %9s %10s %10s\n", "SOCKET", "CLIENT",
	    "TARGET", "AGE", "IDLE", "IN", "OUT");
	for (i = 0; i < l.n; i++) {
		const struct sess_row *r = &l.rows[i];

		strbuf_printf(out, "%-16s %-40s %-28s %8.1fs %8.1fs %10llu %10llu\n", r->socket,
		    r->client, r->target, (double)r->s.age_ms / 1000, (double)r->s.idle_ms / 1000,
		    (unsigned long long)r->s.to_targets, (unsigned long long)r->s.to_client);
	}
	if (l.total > l.n)
		strbuf_printf(out, "(%zu more sessions; the %zu most recently active are shown, "
		    "--all lists every one)\n", l.total - l.n, l.n);
	if (l.oom)
		out->oom = true;
	free(l.rows);
	return 0;
}
