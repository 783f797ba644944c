/*
 * main.c: command line, exit codes; builds the daemon and runs it.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "conf.h"
#include "daemon.h"
#include "log.h"

#ifndef DGRAMD_VERSION
#define DGRAMD_VERSION "0.1.0"
#endif

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: dgramd [-c FILE] [-t] [-v] [-h] [-V]\n"
	    "  -c, --config FILE   config file (default " CONF_DEFAULT_FILE ")\n"
	    "  -t, --test          check the config (syntax, values, addresses) and exit\n"
	    "  -v, --verbose       debug diagnostics\n"
	    "  -h, --help          this help\n"
	    "  -V, --version       print the version\n");
}

/*
 * Forward sessions hold a socket per leg: take every descriptor the hard
 * limit allows (-t checks a full session table fits in it).
 */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test", no_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = CONF_DEFAULT_FILE;
	struct daemon *d = NULL;
	int c, test = 0, verbose = 0, code;

	while ((c = getopt_long(argc, argv, "c:tvhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			file = optarg;
			break;
		case 't':
			test = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("dgramd %s\n", DGRAMD_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "dgramd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	log_init();
	if (verbose)
		log_force_debug();
	if (test)
		return daemon_test_config(file);
	raise_nofile();
	code = daemon_start(file, &d);
	if (code != 0)
		return code;
	code = daemon_run(d);
	daemon_free(d);
	return code;
}
