/*
 * fuzz-conf.c: libFuzzer harness for the config loader. Any text must
 * give either a validated config or exactly one error naming the input
 * ("fuzz.conf..."), never a crash, a leak or a silent failure (leaks of
 * the distribution's libconfig itself are suppressed, see below). Inputs
 * with @include are skipped: they would read arbitrary files.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char	*__lsan_default_suppressions(void);
const char	*__lsan_default_options(void);

/*
 * libconfig before 1.7.3 leaks a string token discarded by the parser's
 * error recovery (hyperrealm/libconfig#142, fixed by #155); Debian 12
 * ships 1.5. Only allocations made inside libconfig are suppressed: dgramd
 * never allocates from a libconfig frame.
 */
const char *
__lsan_default_suppressions(void)
{
	return "leak:libconfig.so\n";
}

const char *
__lsan_default_options(void)
{
	return "print_suppressions=0";
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_err err = { { 0 } };
	struct conf *c = NULL;
	char *text;
	int r;

	if (size > 65536)
		return 0;
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (strstr(text, "@include") != NULL) {
		free(text);
		return 0;
	}
	log_set_level(LOG_LVL_ERROR);
	r = conf_load_string(text, "fuzz.conf", &c, &err);
	free(text);
	if (r == 0) {
		if (c == NULL || c->n_socks == 0)
			abort();
		c = conf_free(c);
		return 0;
	}
	if (c != NULL || (r != -EINVAL && r != -ENOMEM) ||
	    strncmp(err.msg, "fuzz.conf", 9) != 0) {
		fprintf(stderr, "fuzz-conf: r=%d msg=\"%s\"\n", r, err.msg);
		abort();
	}
	return 0;
}
