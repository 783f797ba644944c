/*
 * fuzz-handlers.c: libFuzzer harness for the datagram path of every
 * registered handler type. At start it loads a config with one socket per
 * handler set-up (echo, log raw/syslog/json, forward to a unix and a udp
 * sink), with allow lists, rate limits and a small max_size on some, and
 * opens them for real (loopback and a temp directory only). Each input
 * is one datagram: its first byte picks the socket and the sender, the
 * rest is the payload, sent through the kernel and received by the real
 * recvmmsg path, then routed, flushed and drained. ASan/UBSan catch memory
 * errors; LeakSanitizer catches leaks; the harness aborts when the
 * socket's counters do not account for the datagram exactly once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "conf.h"
#include "handler.h"
#include "log.h"
#include "reactor.h"
#include "route.h"
#include "sock.h"

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SOCKS	16

/* The harness's fixed set-up (test code: globals are fine here). */
static struct {
	char			 dir[64];
	char			 logfile[128];
	struct conf		*conf;
	struct reactor		*reactor;
	struct recv_area	*area;
	struct dg_socket	*socks[MAX_SOCKS];
	struct route		*routes[MAX_SOCKS];
	size_t			 n;
	int			 unix_bound;	/* a unix client with a path (gets echoes) */
	int			 unix_unbound;
	int			 udp4, udp4b;	/* udp clients on 127.0.0.1 and 127.0.0.2 */
	int			 sink_unix, sink_udp;	/* forward targets */
	struct sockaddr_in	 sink_udp_addr;
} fz;

static const char conf_fmt[] =
	"log_level = \"error\";\n"
	"sockets = (\n"
	"  { name = \"echo-unix\"; type = \"unix_dgram\"; path = \"%1$s/echo.sock\";\n"
	"    rate_limit = { rate = 1000000; burst = 1000000; per_source = true; sources = 8; };\n"
	"    handlers = ( { type = \"echo\"; } ); },\n"
	"  { name = \"echo-udp\"; type = \"udp4\"; address = \"127.0.0.1\"; port = 0;\n"
	"    allow = [ \"127.0.0.1\" ]; max_size = 65535;\n"
	"    handlers = ( { type = \"echo\"; ignore_ports = [ 0 ]; } ); },\n"
	"  { name = \"limited\"; type = \"unix_dgram\"; path = \"%1$s/limited.sock\"; max_size = 512;\n"
	"    allow_uids = [ %2$u ];\n"
	"    rate_limit = { rate = 3; burst = 2; };\n"
	"    handlers = ( { type = \"echo\"; } ); },\n"
	"  { name = \"log-raw\"; type = \"unix_dgram\"; path = \"%1$s/raw.sock\";\n"
	"    handlers = ( { type = \"log\"; file = \"%3$s\"; format = \"raw\"; } ); },\n"
	"  { name = \"log-syslog\"; type = \"udp4\"; address = \"127.0.0.1\"; port = 0;\n"
	"    handlers = ( { type = \"log\"; file = \"%3$s\"; format = \"syslog\"; } ); },\n"
	"  { name = \"log-json\"; type = \"unix_dgram\"; path = \"%1$s/json.sock\";\n"
	"    handlers = ( { type = \"log\"; file = \"%3$s\"; format = \"json\";\n"
	"                   min_severity = \"debug\"; } ); },\n"
	"  { name = \"forward\"; type = \"unix_dgram\"; path = \"%1$s/fwd.sock\";\n"
	"    handlers = ( { type = \"forward\"; to = [ \"unix:%1$s/sink.sock\", \"127.0.0.1:%4$u\" ]; },\n"
	"                 { type = \"log\"; file = \"%3$s\"; format = \"json\"; } ); }\n"
	");\n";

static void
die(const char *what)
{
	fprintf(stderr, "fuzz-handlers: %s: %s\n", what, strerror(errno));
	abort();
}

static int
udp_socket(const char *ip, struct sockaddr_in *ret)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	(void)inet_pton(AF_INET, ip, &a.sin_addr);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		die("bind udp");
	if (ret != NULL)
		*ret = a;
	return fd;
}

static int
unix_socket(const char *name)
{
	union sockaddr_any a;
	socklen_t len;
	char path[128];
	int fd;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	if (name == NULL)
		return fd;
	snprintf(path, sizeof(path), "%s/%s", fz.dir, name);
	if (addr_unix(path, &a, &len) < 0 || bind(fd, &a.sa, len) < 0)
		die("bind unix");
	return fd;
}

static void
drain(int fd)
{
	static uint8_t buf[65536];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		;
}

static void
teardown(void)
{
	char path[128];
	size_t i;

	for (i = 0; i < fz.n; i++) {
		fz.routes[i] = route_free(fz.routes[i]);
		fz.socks[i] = sock_close(fz.socks[i]);
	}
	fz.area = sock_area_free(fz.area);
	fz.reactor = reactor_free(fz.reactor);
	fz.conf = conf_free(fz.conf);
	close(fz.unix_bound);
	close(fz.unix_unbound);
	close(fz.udp4);
	close(fz.udp4b);
	close(fz.sink_unix);
	close(fz.sink_udp);
	snprintf(path, sizeof(path), "%s/client.sock", fz.dir);
	(void)unlink(path);
	snprintf(path, sizeof(path), "%s/sink.sock", fz.dir);
	(void)unlink(path);
	(void)unlink(fz.logfile);
	(void)rmdir(fz.dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct conf_err err = { { 0 } };
	const char *what = NULL;
	char *text = NULL;
	size_t i;

	(void)argc;
	(void)argv;
	log_init();
	snprintf(fz.dir, sizeof(fz.dir), "/tmp/dgramd-fuzz-XXXXXX");
	if (mkdtemp(fz.dir) == NULL)
		die("mkdtemp");
	snprintf(fz.logfile, sizeof(fz.logfile), "%s/out.log", fz.dir);
	fz.sink_unix = unix_socket("sink.sock");
	fz.sink_udp = udp_socket("127.0.0.1", &fz.sink_udp_addr);
	fz.unix_bound = unix_socket("client.sock");
	fz.unix_unbound = unix_socket(NULL);
	fz.udp4 = udp_socket("127.0.0.1", NULL);
	fz.udp4b = udp_socket("127.0.0.2", NULL);
	if (asprintf(&text, conf_fmt, fz.dir, (unsigned)getuid(), fz.logfile,
	    (unsigned)ntohs(fz.sink_udp_addr.sin_port)) < 0)
		die("asprintf");
	if (conf_load_string(text, "fuzz.conf", &fz.conf, &err) < 0) {
		fprintf(stderr, "fuzz-handlers: %s\n", err.msg);
		abort();
	}
	free(text);
	log_set_level(LOG_LVL_ERROR);
	if (reactor_new(&fz.reactor) < 0 || sock_area_new(8, 65535, &fz.area) < 0)
		die("reactor");
	for (i = 0; i < fz.conf->n_socks && i < MAX_SOCKS; i++) {
		const struct sock_conf *sc = &fz.conf->socks[i];

		if (sock_open(sc, &fz.socks[i], &what) < 0)
			die(what);
		fz.n++;
		if (route_new(sc, fz.socks[i], fz.reactor, NULL, &fz.routes[i]) < 0)
			die("route_new");
		if (sock_start(fz.socks[i], fz.reactor, fz.area, route_dispatch,
		    route_end_batch, fz.routes[i]) < 0)
			die("sock_start");
	}
	atexit(teardown);
	return 0;
}

/* Every datagram the socket took in is counted once: passed on, or why not. */
static uint64_t
accounted(const struct dg_socket *s)
{
	return s->stats.truncated + s->stats.denied + s->stats.limited;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned runs;
	struct dg_socket *s;
	struct route *rt;
	uint64_t before, acc, handled;
	size_t i, turns;
	int fd;
	uint8_t sel;

	if (size == 0)
		return 0;
	sel = data[0];
	data++;
	size--;
	s = fz.socks[sel % fz.n];
	rt = fz.routes[sel % fz.n];
	if (s->type == SOCK_T_UNIX)
		fd = (sel & 0x80) ? fz.unix_unbound : fz.unix_bound;
	else
		fd = (sel & 0x80) ? fz.udp4b : fz.udp4;
	if (s->type != SOCK_T_UNIX && size > 65507)
		size = 65507;
	before = s->stats.received;
	acc = accounted(s);
	handled = rt->handlers[0]->handled;
	if (sendto(fd, data, size, 0, &s->local.sa, s->local_len) < 0)
		return 0;	/* EMSGSIZE and the like: nothing was sent */
	for (turns = 0; s->stats.received == before && turns < 100; turns++)
		(void)reactor_run_once(fz.reactor, turns < 5 ? 0 : 10);
	if (s->stats.received != before + 1) {
		fprintf(stderr, "fuzz-handlers: datagram of %zu bytes not received\n", size);
		abort();
	}
	/* Passed on to the chain, or stopped and counted: exactly one of them. */
	if ((rt->handlers[0]->handled - handled) + (accounted(s) - acc) != 1) {
		fprintf(stderr, "fuzz-handlers: %s: datagram not accounted for once\n", s->name);
		abort();
	}
	for (i = 0; i < fz.n; i++)
		route_flush(fz.routes[i]);
	(void)reactor_run_once(fz.reactor, 0);
	drain(fz.unix_bound);
	drain(fz.udp4);
	drain(fz.udp4b);
	drain(fz.sink_unix);
	drain(fz.sink_udp);
	/* Keep the shared log file small. */
	if (++runs % 4096 == 0)
		(void)truncate(fz.logfile, 0);
	return 0;
}
