/*
 * test-dockeys.c: man/dgramd.conf.5 documents exactly the keys the config
 * parser accepts, section by section. An undocumented key, or a
 * documented key the parser rejects, fails the build.
 *
 * In the page, each key is a ".TP" entry whose next line is ".B key" or
 * ".BR key ..."; ".SH GLOBAL SETTINGS", ".SH SOCKET SETTINGS" (which also
 * holds the rate_limit sub-keys), ".SH HANDLERS" and ".SS TYPE" per
 * handler type set the section.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

#define MAX_KEYS	256

struct key {
	char	section[32];
	char	name[64];
};

struct keyset {
	struct key	k[MAX_KEYS];
	size_t		n;
};

static void
add(struct keyset *ks, const char *section, const char *name)
{
	ck_assert_uint_lt(ks->n, MAX_KEYS);
	snprintf(ks->k[ks->n].section, sizeof(ks->k[0].section), "%s", section);
	snprintf(ks->k[ks->n].name, sizeof(ks->k[0].name), "%s", name);
	ks->n++;
}

static bool
has(const struct keyset *ks, const char *section, const char *name)
{
	size_t i;

	for (i = 0; i < ks->n; i++)
		if (strcmp(ks->k[i].section, section) == 0 && strcmp(ks->k[i].name, name) == 0)
			return true;
	return false;
}

static void
collect(const char *section, const char *key, void *ud)
{
	/* The rate_limit group is documented inside the socket settings. */
	add(ud, strcmp(section, "rate_limit") == 0 ? "socket" : section, key);
}

static void
read_page(struct keyset *ks)
{
	char line[512], section[32] = "", name[64];
	bool after_tp = false;
	FILE *f;

	f = fopen("man/dgramd.conf.5", "r");
	ck_assert_msg(f != NULL, "man/dgramd.conf.5 not found (run from the top of the tree)");
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, ".SH GLOBAL", 10) == 0)
			snprintf(section, sizeof(section), "global");
		else if (strncmp(line, ".SH SOCKET", 10) == 0)
			snprintf(section, sizeof(section), "socket");
		else if (strncmp(line, ".SH HANDLERS", 12) == 0)
			snprintf(section, sizeof(section), "handlers");
		else if (strncmp(line, ".SS ", 4) == 0 && strcmp(section, "") != 0 &&
		    sscanf(line + 4, "%31s", section) == 1)
			;
		else if (strncmp(line, ".SH ", 4) == 0)
			section[0] = '\0';
		if (after_tp && section[0] != '\0' &&
		    (strncmp(line, ".B ", 3) == 0 || strncmp(line, ".BR ", 4) == 0) &&
		    sscanf(line + (line[2] == 'R' ? 4 : 3), "%63s", name) == 1)
			add(ks, section, name);
		after_tp = strncmp(line, ".TP", 3) == 0;
	}
	fclose(f);
}

START_TEST(test_every_key_documented)
{
	static struct keyset parser, page;
	size_t i;

	conf_foreach_key(collect, &parser);
	read_page(&page);
	ck_assert_uint_gt(parser.n, 30);
	for (i = 0; i < parser.n; i++) {
		const struct key *k = &parser.k[i];
		bool ok = has(&page, k->section, k->name) ||
		    (strcmp(k->name, "type") == 0 && has(&page, "handlers", "type"));

		ck_assert_msg(ok, "key %s.%s is accepted but not documented in dgramd.conf.5",
		    k->section, k->name);
	}
	for (i = 0; i < page.n; i++) {
		const struct key *k = &page.k[i];
		bool ok = has(&parser, k->section, k->name) ||
		    (strcmp(k->section, "handlers") == 0 && strcmp(k->name, "type") == 0);

		ck_assert_msg(ok, "dgramd.conf.5 documents %s.%s, which the parser rejects",
		    k->section, k->name);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("dockeys");
	TCase *tc = tcase_create("dockeys");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_every_key_documented);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
