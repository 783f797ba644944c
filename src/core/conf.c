/*
 * conf.c: libconfig -> struct conf. Defaults, then each key through a
 * table next to its checks, then cross-checks; every error names
 * FILE:LINE: setting.path and what is wrong. Nothing here binds or
 * creates anything.
 */

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "handler.h"
#include "log.h"
#include "util.h"

static const char *const sock_type_names[_SOCK_T_MAX] = {
	[SOCK_T_UDP4] = "udp4",
	[SOCK_T_UDP6] = "udp6",
	[SOCK_T_UNIX] = "unix_dgram",
};

const char *
sock_type_to_string(enum sock_type t)
{
	if (t < 0 || t >= _SOCK_T_MAX)
		return NULL;
	return sock_type_names[t];
}

/* --- error helpers ------------------------------------------------------- */

static const config_setting_t *
root_of(const config_setting_t *s)
{
	while (s->parent != NULL)
		s = s->parent;
	return s;
}

static void
path_of(const config_setting_t *s, char *buf, size_t size)
{
	char tmp[512];
	const char *name;

	if (s == NULL || s->parent == NULL) {
		buf[0] = '\0';
		return;
	}
	path_of(s->parent, tmp, sizeof(tmp));
	name = config_setting_name(s);
	if (name != NULL)
		snprintf(buf, size, "%s%s%s", tmp, tmp[0] ? "." : "", name);
	else
		snprintf(buf, size, "%s%s[%d]", tmp, tmp[0] ? "." : "",
		    config_setting_index(s));
}

void
conf_err_format(struct conf_err *err, const config_setting_t *s, const char *key,
    const char *fmt, ...)
{
	char path[600], msg[700];
	const char *file;
	va_list ap;
	int line;

	file = config_setting_source_file(s);
	if (file == NULL)
		file = config_setting_get_hook(root_of(s));
	if (file == NULL)
		file = "(config)";
	line = (int)config_setting_source_line(s);
	path_of(s, path, sizeof(path));
	if (key != NULL) {
		size_t n = strlen(path);

		snprintf(path + n, sizeof(path) - n, "%s%s", n ? "." : "", key);
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(err->msg, sizeof(err->msg), "%s:%d: %s: %s", file, line, path, msg);
	else
		snprintf(err->msg, sizeof(err->msg), "%s: %s: %s", file, path, msg);
}

/* Describes what a setting holds, for "got ..." in messages. */
static const char *
describe(const config_setting_t *s, char *buf, size_t size)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		snprintf(buf, size, "%d", config_setting_get_int(s));
		break;
	case CONFIG_TYPE_INT64:
		snprintf(buf, size, "%lld", config_setting_get_int64(s));
		break;
	case CONFIG_TYPE_FLOAT:
		snprintf(buf, size, "%g", config_setting_get_float(s));
		break;
	case CONFIG_TYPE_BOOL:
		snprintf(buf, size, "%s", config_setting_get_bool(s) ? "true" : "false");
		break;
	case CONFIG_TYPE_STRING:
		snprintf(buf, size, "\"%.60s\"", config_setting_get_string(s));
		break;
	case CONFIG_TYPE_GROUP:
		snprintf(buf, size, "a group");
		break;
	case CONFIG_TYPE_ARRAY:
		snprintf(buf, size, "an array");
		break;
	case CONFIG_TYPE_LIST:
		snprintf(buf, size, "a list");
		break;
	default:
		snprintf(buf, size, "nothing");
		break;
	}
	return buf;
}

/* --- typed getters --------------------------------------------------------- */

int
conf_check_keys(const config_setting_t *group, const char *const *keys, struct conf_err *err)
{
	int i, n = config_setting_length(group);
	size_t k;

	for (i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(s);
		bool ok = name != NULL && strcmp(name, "type") == 0;

		for (k = 0; !ok && keys != NULL && keys[k] != NULL; k++)
			ok = strcmp(keys[k], name) == 0;
		if (!ok)
			return conf_err_set(err, s, "unknown setting");
	}
	return 0;
}

static int
int_of(const config_setting_t *s, long long *ret)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		*ret = config_setting_get_int(s);
		return 0;
	case CONFIG_TYPE_INT64:
		*ret = config_setting_get_int64(s);
		return 0;
	default:
		return -EINVAL;
	}
}

/* Checks one integer setting s (or a list element) against min..max. */
static int
check_int(const config_setting_t *s, long long min, long long max, long long *ret,
    struct conf_err *err)
{
	char got[80];
	long long v;

	if (int_of(s, &v) < 0)
		return conf_err_set(err, s, "must be an integer, got %s",
		    describe(s, got, sizeof(got)));
	if (v < min || v > max)
		return conf_err_set(err, s, "must be %lld..%lld, got %lld", min, max, v);
	*ret = v;
	return 0;
}

int
conf_get_int(const config_setting_t *g, const char *key, long long min, long long max,
    long long *ret, struct conf_err *err)
{
	const config_setting_t *s = config_setting_get_member(g, key);
	int r;

	if (s == NULL)
		return 0;
	r = check_int(s, min, max, ret, err);
	return r < 0 ? r : 1;
}

int
conf_get_bool(const config_setting_t *g, const char *key, bool *ret, struct conf_err *err)
{
	const config_setting_t *s = config_setting_get_member(g, key);
	char got[80];

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return conf_err_set(err, s, "must be true or false, got %s",
		    describe(s, got, sizeof(got)));
	*ret = config_setting_get_bool(s);
	return 1;
}

int
conf_get_string(const config_setting_t *g, const char *key, const char **ret,
    struct conf_err *err)
{
	const config_setting_t *s = config_setting_get_member(g, key);
	char got[80];

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return conf_err_set(err, s, "must be a string, got %s",
		    describe(s, got, sizeof(got)));
	*ret = config_setting_get_string(s);
	return 1;
}

int
conf_get_enum(const config_setting_t *g, const char *key, const char *const *names,
    size_t n, int *ret, struct conf_err *err)
{
	char allowed[256] = "";
	const char *v;
	size_t i, len;
	int r;

	r = conf_get_string(g, key, &v, err);
	if (r <= 0)
		return r;
	for (i = 0; i < n; i++) {
		if (names[i] != NULL && strcmp(names[i], v) == 0) {
			*ret = (int)i;
			return 1;
		}
	}
	for (i = 0; i < n; i++) {
		if (names[i] == NULL)
			continue;
		len = strlen(allowed);
		snprintf(allowed + len, sizeof(allowed) - len, "%s%s", len ? " | " : "", names[i]);
	}
	return conf_err_set(err, config_setting_get_member(g, key), "must be %s, got \"%.60s\"",
	    allowed, v);
}

int
conf_get_mode(const config_setting_t *g, const char *key, int *ret, struct conf_err *err)
{
	const char *v, *p;
	long m;
	int r;

	r = conf_get_string(g, key, &v, err);
	if (r <= 0)
		return r;
	for (p = v; *p >= '0' && *p <= '7'; p++)
		;
	if (*v == '\0' || *p != '\0' || strlen(v) > 4)
		return conf_err_set(err, config_setting_get_member(g, key),
		    "must be an octal mode such as \"0660\", got \"%.60s\"", v);
	m = strtol(v, NULL, 8);
	*ret = (int)m;
	return 1;
}

int
conf_get_list(const config_setting_t *g, const char *key, config_setting_t **ret,
    struct conf_err *err)
{
	config_setting_t *s = config_setting_get_member(g, key);
	char got[80];

	if (s == NULL)
		return 0;
	if (!config_setting_is_aggregate(s) || config_setting_type(s) == CONFIG_TYPE_GROUP)
		return conf_err_set(err, s, "must be a list, ( ... ) or [ ... ], got %s",
		    describe(s, got, sizeof(got)));
	*ret = s;
	return 1;
}

/* --- socket keys ----------------------------------------------------------- */

typedef int (*key_fn)(const config_setting_t *g, const config_setting_t *s,
    struct sock_conf *sc, struct conf_err *err);

struct sock_key {
	const char	*name;
	key_fn		 parse;
	size_t		 off;		/* for the generic int/bool parsers */
	long long	 min, max;
};

static int
key_int(const config_setting_t *g, const config_setting_t *s, struct sock_conf *sc,
    struct conf_err *err, const struct sock_key *k)
{
	long long v;
	int r;

	(void)g;
	r = check_int(s, k->min, k->max, &v, err);
	if (r < 0)
		return r;
	*(int *)(void *)((char *)sc + k->off) = (int)v;
	return 0;
}

static int
key_bool(const config_setting_t *g, const config_setting_t *s, struct sock_conf *sc,
    struct conf_err *err, const struct sock_key *k)
{
	char got[80];

	(void)g;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return conf_err_set(err, s, "must be true or false, got %s",
		    describe(s, got, sizeof(got)));
	*(int *)(void *)((char *)sc + k->off) = config_setting_get_bool(s);
	return 0;
}

static int
string_of(const config_setting_t *s, const char **ret, struct conf_err *err)
{
	char got[80];

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return conf_err_set(err, s, "must be a string, got %s",
		    describe(s, got, sizeof(got)));
	*ret = config_setting_get_string(s);
	return 0;
}

static int
dup_string(const config_setting_t *s, char **ret, struct conf_err *err)
{
	const char *v = NULL;
	int r;

	r = string_of(s, &v, err);
	if (r < 0)
		return r;
	*ret = strdup(v);
	return *ret == NULL ? -ENOMEM : 0;
}

static int
key_name(const config_setting_t *g, const config_setting_t *s, struct sock_conf *sc,
    struct conf_err *err)
{
	const char *v = NULL, *p;
	int r;

	(void)g;
	r = string_of(s, &v, err);
	if (r < 0)
		return r;
	if (*v == '\0' || strlen(v) > 64)
		return conf_err_set(err, s, "must be 1..64 characters, got \"%.70s\"", v);
	/* It appears in log lines and matches FileDescriptorName=: keep it plain. */
	for (p = v; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return conf_err_set(err, s,
			    "may hold only letters, digits, '-', '_' and '.', got \"%.60s\"", v);
	sc->name = strdup(v);
	return sc->name == NULL ? -ENOMEM : 0;
}

static int
key_address(const config_setting_t *g, const config_setting_t *s, struct sock_conf *sc,
    struct conf_err *err)
{
	(void)g;
	return dup_string(s, &sc->address, err);
}

static int
key_path(const config_setting_t *g, const config_setting_t *s, struct sock_conf *sc,
    struct conf_err *err)
{
	(void)g;
	return dup_string(s, &sc->path, err);
}

static int
key_mode(const config_setting_t *g, const config_setting_t *s, struct sock_conf *sc,
    struct conf_err *err)
{
	(void)s;
	return conf_get_mode(g, "mode", &sc->mode, err) < 0 ? -EINVAL : 0;
}

static int
key_owner(const config_setting_t *g, const config_setting_t *s, struct sock_conf *sc,
    struct conf_err *err)
{
	struct passwd *pw;
	long long v;
	const char *name = NULL;

	(void)g;
	if (int_of(s, &v) == 0) {
		if (v < 0 || v >= UINT32_MAX)
			return conf_err_set(err, s, "must be a user name or uid, got %lld", v);
		sc->owner = (uid_t)v;
	} else {
		if (string_of(s, &name, err) < 0)
			return -EINVAL;
		pw = getpwnam(name);
		if (pw == NULL)
			return conf_err_set(err, s, "no such user \"%.60s\"", name);
		sc->owner = pw->pw_uid;
	}
	sc->has_owner = true;
	return 0;
}

static int
key_group(const config_setting_t *g, const config_setting_t *s, struct sock_conf *sc,
    struct conf_err *err)
{
	struct group *gr;
	long long v;
	const char *name = NULL;

	(void)g;
	if (int_of(s, &v) == 0) {
		if (v < 0 || v >= UINT32_MAX)
			return conf_err_set(err, s, "must be a group name or gid, got %lld", v);
		sc->group = (gid_t)v;
	} else {
		if (string_of(s, &name, err) < 0)
			return -EINVAL;
		gr = getgrnam(name);
		if (gr == NULL)
			return conf_err_set(err, s, "no such group \"%.60s\"", name);
		sc->group = gr->gr_gid;
	}
	sc->has_group = true;
	return 0;
}

/* The list s as n elements (a list or an array); -EINVAL with err set. */
static int
list_of(const config_setting_t *s, int *ret_n, struct conf_err *err)
{
	char got[80];

	if (!config_setting_is_aggregate(s) || config_setting_type(s) == CONFIG_TYPE_GROUP)
		return conf_err_set(err, s, "must be a list, ( ... ) or [ ... ], got %s",
		    describe(s, got, sizeof(got)));
	*ret_n = config_setting_length(s);
	return 0;
}

static int
key_mcast_groups(const config_setting_t *g, const config_setting_t *s, struct sock_conf *sc,
    struct conf_err *err)
{
	union sockaddr_any a;
	socklen_t alen;
	const char *v = NULL;
	int i, n;

	(void)g;
	if (list_of(s, &n, err) < 0)
		return -EINVAL;
	sc->mcast_groups = calloc((size_t)n + 1, sizeof(char *));
	if (sc->mcast_groups == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);

		if (string_of(e, &v, err) < 0)
			return -EINVAL;
		if (addr_parse_ip(v, AF_UNSPEC, 0, &a, &alen) < 0 ||
		    (a.sa.sa_family == AF_INET &&
		    (ntohl(a.in.sin_addr.s_addr) >> 28) != 0xe) ||
		    (a.sa.sa_family == AF_INET6 && !IN6_IS_ADDR_MULTICAST(&a.in6.sin6_addr)))
			return conf_err_set(err, e, "must be a multicast group address, got \"%.60s\"",
			    v);
		sc->mcast_groups[i] = strdup(v);
		if (sc->mcast_groups[i] == NULL)
			return -ENOMEM;
		sc->n_mcast_groups++;
	}
	return 0;
}

/* allow: sender CIDRs; an empty list lets no one in. */
static int
key_allow(const config_setting_t *g, const config_setting_t *s, struct sock_conf *sc,
    struct conf_err *err)
{
	const char *v = NULL;
	int i, n;

	(void)g;
	if (list_of(s, &n, err) < 0)
		return -EINVAL;
	sc->allow = calloc((size_t)n + 1, sizeof(*sc->allow));
	if (sc->allow == NULL)
		return -ENOMEM;
	sc->has_allow = true;
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);

		if (string_of(e, &v, err) < 0)
			return -EINVAL;
		if (cidr_parse(v, &sc->allow[i]) < 0)
			return conf_err_set(err, e, "must be an address or CIDR such as "
			    "\"10.0.0.0/8\" or \"::1\", got \"%.60s\"", v);
		sc->n_allow++;
	}
	return 0;
}

/* An id list element: a number or a name looked up with by_name. */
static int
id_of(const config_setting_t *e, bool user, uint32_t *ret, struct conf_err *err)
{
	const char *name = NULL;
	struct passwd *pw;
	struct group *gr;
	char got[80];
	long long v;

	if (int_of(e, &v) == 0) {
		if (v < 0 || v >= UINT32_MAX)
			return conf_err_set(err, e, "must be a %s name or %s 0..%u, got %lld",
			    user ? "user" : "group", user ? "uid" : "gid", UINT32_MAX - 1, v);
		*ret = (uint32_t)v;
		return 0;
	}
	if (config_setting_type(e) != CONFIG_TYPE_STRING)
		return conf_err_set(err, e, "must be a %s name or %s, got %s",
		    user ? "user" : "group", user ? "uid" : "gid", describe(e, got, sizeof(got)));
	name = config_setting_get_string(e);
	if (user) {
		pw = getpwnam(name);
		if (pw == NULL)
			return conf_err_set(err, e, "no such user \"%.60s\"", name);
		*ret = pw->pw_uid;
	} else {
		gr = getgrnam(name);
		if (gr == NULL)
			return conf_err_set(err, e, "no such group \"%.60s\"", name);
		*ret = gr->gr_gid;
	}
	return 0;
}

/* allow_uids / allow_gids: a non-NULL array (even empty) means the list is set. */
static int
id_list(const config_setting_t *s, bool user, uint32_t **ret, size_t *ret_n,
    struct conf_err *err)
{
	uint32_t *ids;
	int i, n;

	if (list_of(s, &n, err) < 0)
		return -EINVAL;
	ids = calloc((size_t)n + 1, sizeof(*ids));
	if (ids == NULL)
		return -ENOMEM;
	*ret = ids;
	for (i = 0; i < n; i++) {
		if (id_of(config_setting_get_elem(s, (unsigned)i), user, &ids[i], err) < 0)
			return -EINVAL;
		(*ret_n)++;
	}
	return 0;
}

static int
key_allow_uids(const config_setting_t *g, const config_setting_t *s, struct sock_conf *sc,
    struct conf_err *err)
{
	_Static_assert(sizeof(uid_t) == sizeof(uint32_t), "uid_t is 32 bits");
	(void)g;
	return id_list(s, true, (uint32_t **)&sc->allow_uids, &sc->n_allow_uids, err);
}

static int
key_allow_gids(const config_setting_t *g, const config_setting_t *s, struct sock_conf *sc,
    struct conf_err *err)
{
	_Static_assert(sizeof(gid_t) == sizeof(uint32_t), "gid_t is 32 bits");
	(void)g;
	return id_list(s, false, (uint32_t **)&sc->allow_gids, &sc->n_allow_gids, err);
}

static const char *const rate_limit_keys[] = { "rate", "burst", "per_source", "sources", NULL };

/* rate_limit = { rate = N; burst = M; per_source = BOOL; sources = K; } */
static int
key_rate_limit(const config_setting_t *g, const config_setting_t *s, struct sock_conf *sc,
    struct conf_err *err)
{
	const char *const *keys = rate_limit_keys;
	struct rate_limit_conf *rl = &sc->rate_limit;
	char got[80];
	long long v;
	int r;

	(void)g;
	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return conf_err_set(err, s, "must be a group { rate = N; ... }, got %s",
		    describe(s, got, sizeof(got)));
	if (config_setting_get_member(s, "type") != NULL)
		return conf_err_set(err, config_setting_get_member(s, "type"), "unknown setting");
	r = conf_check_keys(s, keys, err);
	if (r < 0)
		return r;
	r = conf_get_int(s, "rate", 1, 1000000000, &v, err);
	if (r < 0)
		return r;
	if (r == 0)
		return conf_err_key(err, s, "rate", "missing (datagrams per second, >= 1)");
	rl->rate = (uint32_t)v;
	rl->burst = rl->rate;
	r = conf_get_int(s, "burst", 1, 1000000000, &v, err);
	if (r < 0)
		return r;
	if (r > 0)
		rl->burst = (uint32_t)v;
	r = conf_get_bool(s, "per_source", &rl->per_source, err);
	if (r < 0)
		return r;
	rl->sources = 4096;
	r = conf_get_int(s, "sources", 1, 1048576, &v, err);
	if (r < 0)
		return r;
	if (r > 0 && !rl->per_source)
		return conf_err_set(err, config_setting_get_member(s, "sources"),
		    "applies only with per_source = true");
	if (r > 0)
		rl->sources = (uint32_t)v;
	rl->set = true;
	return 0;
}

static int key_handlers(const config_setting_t *g, const config_setting_t *s,
    struct sock_conf *sc, struct conf_err *err);

#define INT_KEY(n, field, lo, hi)	{ n, NULL, offsetof(struct sock_conf, field), lo, hi }
#define BOOL_KEY(n, field)		{ n, NULL, offsetof(struct sock_conf, field), -1, -1 }
#define FN_KEY(n, fn)			{ n, fn, 0, 0, 0 }

/*
 * Every socket key. Keys with a NULL parser are ints (min..max) or, with
 * min = max = -1, booleans stored as int. "name" and "type" come first.
 */
static const struct sock_key sock_keys[] = {
	FN_KEY("name", key_name),
	{ "type", NULL, 0, 0, 0 },		/* parsed first, by parse_type() */
	FN_KEY("address", key_address),
	INT_KEY("port", port, 0, 65535),
	FN_KEY("path", key_path),
	FN_KEY("mode", key_mode),
	FN_KEY("owner", key_owner),
	FN_KEY("group", key_group),
	INT_KEY("ttl", ttl, 1, 255),
	BOOL_KEY("broadcast", broadcast),
	INT_KEY("multicast_ttl", multicast_ttl, 0, 255),
	BOOL_KEY("multicast_loop", multicast_loop),
	FN_KEY("multicast_groups", key_mcast_groups),
	BOOL_KEY("ipv6_only", ipv6_only),
	{ "reuseport", NULL, 0, -1, -1 },	/* bool stored in a bool: see parse_sock */
	INT_KEY("recv_buffer", recv_buffer, 1024, INT_MAX / 2),
	INT_KEY("send_buffer", send_buffer, 1024, INT_MAX / 2),
	{ "max_size", NULL, 0, 1, 65535 },	/* uint32_t: see parse_sock */
	FN_KEY("allow", key_allow),
	FN_KEY("allow_uids", key_allow_uids),
	FN_KEY("allow_gids", key_allow_gids),
	FN_KEY("rate_limit", key_rate_limit),
	FN_KEY("handlers", key_handlers),
};

static const char *const global_keys[] = {
	"log_level", "batch", "user", "group", "control_socket", "control_mode",
	"metrics_listen", "sockets", NULL,
};

/* --- handlers -------------------------------------------------------------- */

static int
parse_handler(config_setting_t *hs, struct handler_conf *hc, struct conf_err *err)
{
	const struct handler_ops *ops;
	const char *type;
	char got[80];
	int r;

	if (config_setting_type(hs) != CONFIG_TYPE_GROUP)
		return conf_err_set(err, hs, "must be a group { type = ...; }, got %s",
		    describe(hs, got, sizeof(got)));
	hc->line = (int)config_setting_source_line(hs);
	r = conf_get_string(hs, "type", &type, err);
	if (r < 0)
		return r;
	if (r == 0)
		return conf_err_key(err, hs, "type", "missing (echo | log | forward)");
	ops = handler_lookup(type);
	if (ops == NULL)
		return conf_err_set(err, config_setting_get_member(hs, "type"),
		    "unknown handler type \"%.60s\"", type);
	r = conf_check_keys(hs, ops->keys, err);
	if (r < 0)
		return r;
	hc->ops = ops;
	hc->conf = calloc(1, ops->conf_size ? ops->conf_size : 1);
	if (hc->conf == NULL)
		return -ENOMEM;
	if (ops->parse != NULL)
		return ops->parse(hs, hc->conf, err);
	return 0;
}

static int
key_handlers(const config_setting_t *g, const config_setting_t *s, struct sock_conf *sc,
    struct conf_err *err)
{
	int i, n, r;

	(void)g;
	if (list_of(s, &n, err) < 0)
		return -EINVAL;
	if (n == 0)
		return conf_err_set(err, s, "must hold at least one handler");
	sc->handlers = calloc((size_t)n, sizeof(*sc->handlers));
	if (sc->handlers == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		r = parse_handler(config_setting_get_elem(s, (unsigned)i), &sc->handlers[i], err);
		sc->n_handlers++;
		if (r < 0)
			return r;
	}
	return 0;
}

/* --- sockets --------------------------------------------------------------- */

static int
parse_type(const config_setting_t *g, struct sock_conf *sc, struct conf_err *err)
{
	int t, r;

	r = conf_get_enum(g, "type", sock_type_names, _SOCK_T_MAX, &t, err);
	if (r < 0)
		return r;
	if (r == 0)
		return conf_err_key(err, g, "type", "missing (udp4 | udp6 | unix_dgram)");
	sc->type = (enum sock_type)t;
	return 0;
}

/* Cross-checks of one socket, once every key is parsed. */
static int
check_sock(const config_setting_t *g, struct sock_conf *sc, struct conf_err *err)
{
	static const char *const udp_only[] = {
		"address", "port", "ttl", "broadcast", "multicast_ttl", "multicast_loop",
		"multicast_groups", "ipv6_only", "allow", "reuseport",
	};
	static const char *const unix_only[] = {
		"path", "mode", "owner", "group", "allow_uids", "allow_gids",
	};
	const char *tname = sock_type_names[sc->type];
	size_t i;
	int r;

	if (sc->name == NULL)
		return conf_err_key(err, g, "name", "missing (every socket needs a unique name)");
	if (sc->handlers == NULL)
		return conf_err_key(err, g, "handlers", "missing (at least one handler)");
	if (sc->type == SOCK_T_UNIX) {
		for (i = 0; i < ARRAY_SIZE(udp_only); i++)
			if (config_setting_get_member(g, udp_only[i]) != NULL)
				return conf_err_set(err, config_setting_get_member(g, udp_only[i]),
				    "not allowed on a unix_dgram socket");
		if (sc->path == NULL)
			return conf_err_key(err, g, "path", "missing (required for unix_dgram)");
		r = addr_unix(sc->path, &sc->addr, &sc->addr_len);
		if (r == -ENAMETOOLONG)
			return conf_err_set(err, config_setting_get_member(g, "path"),
			    "too long for a unix socket (at most %zu bytes), got \"%.60s...\"",
			    sizeof(sc->addr.un.sun_path) - 1, sc->path);
		if (r < 0)
			return conf_err_set(err, config_setting_get_member(g, "path"),
			    "must be a path or @name, got \"%.60s\"", sc->path);
		if (sc->path[0] == '@' && (sc->mode >= 0 || sc->has_owner || sc->has_group))
			return conf_err_set(err, g,
			    "mode, owner and group do not apply to an abstract (@) socket");
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(unix_only); i++)
		if (config_setting_get_member(g, unix_only[i]) != NULL)
			return conf_err_set(err, config_setting_get_member(g, unix_only[i]),
			    "not allowed on a %s socket", tname);
	if (sc->port < 0)
		return conf_err_key(err, g, "port", "missing (required for %s; 0 = ephemeral)",
		    tname);
	if (sc->ipv6_only >= 0 && sc->type != SOCK_T_UDP6)
		return conf_err_set(err, config_setting_get_member(g, "ipv6_only"),
		    "applies to udp6 sockets only");
	if (sc->broadcast >= 0 && sc->type != SOCK_T_UDP4)
		return conf_err_set(err, config_setting_get_member(g, "broadcast"),
		    "applies to udp4 sockets only (IPv6 has no broadcast)");
	r = addr_parse_ip(sc->address != NULL ? sc->address :
	    (sc->type == SOCK_T_UDP4 ? "0.0.0.0" : "::"),
	    sc->type == SOCK_T_UDP4 ? AF_INET : AF_INET6, (uint16_t)sc->port,
	    &sc->addr, &sc->addr_len);
	if (r < 0)
		return conf_err_set(err, config_setting_get_member(g, "address"),
		    "must be a numeric %s address, got \"%.60s\"",
		    sc->type == SOCK_T_UDP4 ? "IPv4" : "IPv6", sc->address);
	for (i = 0; i < sc->n_mcast_groups; i++) {
		union sockaddr_any a;
		socklen_t alen;

		if (addr_parse_ip(sc->mcast_groups[i], sc->type == SOCK_T_UDP4 ? AF_INET : AF_INET6,
		    0, &a, &alen) < 0)
			return conf_err_set(err, config_setting_get_elem(
			    config_setting_get_member(g, "multicast_groups"), (unsigned)i),
			    "is not an %s group", sc->type == SOCK_T_UDP4 ? "IPv4" : "IPv6");
	}
	return 0;
}

static void
sock_defaults(struct sock_conf *sc, const config_setting_t *g)
{
	sc->line = (int)config_setting_source_line(g);
	sc->port = -1;
	sc->mode = -1;
	sc->broadcast = -1;
	sc->multicast_ttl = -1;
	sc->multicast_loop = -1;
	sc->ipv6_only = -1;
	sc->max_size = CONF_DEFAULT_MAX_SIZE;
}

static int
parse_sock(config_setting_t *g, struct sock_conf *sc, struct conf_err *err)
{
	const char *names[ARRAY_SIZE(sock_keys) + 1] = { NULL };
	const struct sock_key *k;
	config_setting_t *s;
	char got[80];
	long long v;
	bool b;
	size_t i;
	int r;

	sock_defaults(sc, g);
	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return conf_err_set(err, g, "must be a group { name = ...; type = ...; }, got %s",
		    describe(g, got, sizeof(got)));
	for (i = 0; i < ARRAY_SIZE(sock_keys); i++)
		names[i] = sock_keys[i].name;
	r = conf_check_keys(g, names, err);
	if (r < 0)
		return r;
	r = parse_type(g, sc, err);
	if (r < 0)
		return r;
	for (i = 0; i < ARRAY_SIZE(sock_keys); i++) {
		k = &sock_keys[i];
		s = config_setting_get_member(g, k->name);
		if (s == NULL || strcmp(k->name, "type") == 0)
			continue;
		if (strcmp(k->name, "reuseport") == 0) {
			r = conf_get_bool(g, k->name, &b, err);
			if (r > 0)
				sc->reuseport = b;
		} else if (strcmp(k->name, "max_size") == 0) {
			r = check_int(s, k->min, k->max, &v, err);
			if (r == 0)
				sc->max_size = (uint32_t)v;
		} else if (k->parse != NULL) {
			r = k->parse(g, s, sc, err);
		} else if (k->min == -1 && k->max == -1) {
			r = key_bool(g, s, sc, err, k);
		} else {
			r = key_int(g, s, sc, err, k);
		}
		if (r < 0)
			return r;
	}
	return check_sock(g, sc, err);
}

static void
sock_conf_fini(struct sock_conf *sc)
{
	size_t i;

	free(sc->name);
	free(sc->address);
	free(sc->path);
	for (i = 0; i < sc->n_mcast_groups; i++)
		free(sc->mcast_groups[i]);
	free(sc->mcast_groups);
	free(sc->allow);
	free(sc->allow_uids);
	free(sc->allow_gids);
	for (i = 0; i < sc->n_handlers; i++) {
		struct handler_conf *hc = &sc->handlers[i];

		if (hc->ops != NULL && hc->ops->conf_free != NULL && hc->conf != NULL)
			hc->ops->conf_free(hc->conf);
		free(hc->conf);
	}
	free(sc->handlers);
}

struct conf *
conf_free(struct conf *c)
{
	size_t i;

	if (c == NULL)
		return NULL;
	for (i = 0; i < c->n_socks; i++)
		sock_conf_fini(&c->socks[i]);
	free(c->socks);
	free(c->file);
	free(c->user);
	free(c->group);
	free(c->control_socket);
	free(c->metrics_text);
	free(c);
	return NULL;
}

bool
sock_conf_wants_cred(const struct sock_conf *c)
{
	size_t i;

	if (c->type != SOCK_T_UNIX)
		return false;
	if (c->allow_uids != NULL || c->allow_gids != NULL ||
	    (c->rate_limit.set && c->rate_limit.per_source))
		return true;
	for (i = 0; i < c->n_handlers; i++)
		if (c->handlers[i].ops->wants_cred != NULL &&
		    c->handlers[i].ops->wants_cred(c->handlers[i].conf))
			return true;
	return false;
}

static bool
udp_wildcard(const struct sock_conf *c)
{
	if (c->type == SOCK_T_UDP4)
		return c->addr.in.sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&c->addr.in6.sin6_addr);
}

/* A udp6 socket that also receives IPv4 (ipv6_only = false on ::). */
static bool
udp6_dual(const struct sock_conf *c)
{
	return c->type == SOCK_T_UDP6 && c->ipv6_only == 0 && udp_wildcard(c);
}

/*
 * Whether binding both a and b fails with EADDRINUSE: the same path, or
 * one port where the addresses overlap (equal, one of them all addresses
 * of the family, or a dual-stack :: against any IPv4 address). Port 0
 * never clashes: each gets its own port.
 */
static bool
binds_overlap(const struct sock_conf *a, const struct sock_conf *b)
{
	if (a->type == SOCK_T_UNIX || b->type == SOCK_T_UNIX)
		return a->type == b->type && strcmp(a->path, b->path) == 0;
	if (a->port == 0 || a->port != b->port)
		return false;
	if (a->type == b->type)
		return udp_wildcard(a) || udp_wildcard(b) || sock_conf_same_binding(a, b);
	/* One udp4, one udp6: only a dual-stack udp6 socket takes IPv4 too. */
	return udp6_dual(a->type == SOCK_T_UDP6 ? a : b);
}

/* Checks across sockets: unique names, no two sockets on one binding. */
static int
check_all(struct conf *c, config_setting_t *list, struct conf_err *err)
{
	size_t i, j, k;
	int r;

	for (i = 0; i < c->n_socks; i++) {
		config_setting_t *g = config_setting_get_elem(list, (unsigned)i);

		for (j = 0; j < i; j++) {
			if (c->socks[i].name != NULL && c->socks[j].name != NULL &&
			    strcmp(c->socks[i].name, c->socks[j].name) == 0)
				return conf_err_set(err, config_setting_get_member(g, "name"),
				    "duplicate socket name \"%s\" (first at line %d)",
				    c->socks[i].name, c->socks[j].line);
			if (binds_overlap(&c->socks[i], &c->socks[j]) &&
			    !(c->socks[i].reuseport && c->socks[j].reuseport))
				return conf_err_set(err, g,
				    "binds the same address as socket \"%s\" (line %d)",
				    c->socks[j].name, c->socks[j].line);
		}
		for (k = 0; k < c->socks[i].n_handlers; k++) {
			const struct handler_conf *hc = &c->socks[i].handlers[k];
			config_setting_t *hs = config_setting_get_elem(
			    config_setting_get_member(g, "handlers"), (unsigned)k);

			if (hc->ops->validate == NULL)
				continue;
			r = hc->ops->validate(hc->conf, &c->socks[i], c, hs, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* control_socket, control_mode, metrics_listen. */
static int
parse_control(config_setting_t *root, struct conf *c, struct conf_err *err)
{
	union sockaddr_any a;
	socklen_t len;
	const char *v;
	char *host = NULL;
	uint16_t port;
	int r;

	r = conf_get_string(root, "control_socket", &v, err);
	if (r < 0)
		return r;
	if (r > 0 && *v != '\0') {
		if (*v == '@')
			return conf_err_set(err, config_setting_get_member(root, "control_socket"),
			    "must be a path (the file's mode guards it), got \"%.60s\"", v);
		if (addr_unix(v, &a, &len) < 0)
			return conf_err_set(err, config_setting_get_member(root, "control_socket"),
			    "path too long (at most %zu bytes)", sizeof(a.un.sun_path) - 1);
		c->control_socket = strdup(v);
		if (c->control_socket == NULL)
			return -ENOMEM;
	}
	r = conf_get_mode(root, "control_mode", &c->control_mode, err);
	if (r < 0)
		return r;
	r = conf_get_string(root, "metrics_listen", &v, err);
	if (r < 0)
		return r;
	if (r > 0) {
		if (addr_split_hostport(v, &host, &port) < 0 ||
		    addr_parse_ip(host, AF_UNSPEC, port, &c->metrics_addr, &c->metrics_len) < 0) {
			free(host);
			return conf_err_set(err, config_setting_get_member(root, "metrics_listen"),
			    "must be a numeric ADDRESS:PORT such as \"127.0.0.1:9477\" or "
			    "\"[::1]:9477\", got \"%.60s\"", v);
		}
		free(host);
		c->metrics_text = strdup(v);
		if (c->metrics_text == NULL)
			return -ENOMEM;
	}
	return 0;
}

static int
parse_globals(config_setting_t *root, struct conf *c, struct conf_err *err)
{
	static const char *const levels[] = {
		[LOG_LVL_ERROR] = "error", [LOG_LVL_WARNING] = "warning",
		[LOG_LVL_NOTICE] = "notice", [LOG_LVL_INFO] = "info",
		[LOG_LVL_DEBUG] = "debug",
	};
	const char *v;
	long long n;
	int r;

	r = conf_check_keys(root, global_keys, err);
	if (r < 0)
		return r;
	if (config_setting_get_member(root, "type") != NULL)
		return conf_err_set(err, config_setting_get_member(root, "type"),
		    "unknown setting");
	r = conf_get_enum(root, "log_level", levels, ARRAY_SIZE(levels), &c->log_level, err);
	if (r < 0)
		return r;
	r = conf_get_int(root, "batch", 1, CONF_MAX_BATCH, &n, err);
	if (r < 0)
		return r;
	if (r > 0)
		c->batch = (unsigned)n;
	r = conf_get_string(root, "user", &v, err);
	if (r < 0)
		return r;
	if (r > 0) {
		if (getpwnam(v) == NULL)
			return conf_err_set(err, config_setting_get_member(root, "user"),
			    "no such user \"%.60s\"", v);
		c->user = strdup(v);
		if (c->user == NULL)
			return -ENOMEM;
	}
	r = conf_get_string(root, "group", &v, err);
	if (r < 0)
		return r;
	if (r > 0) {
		if (getgrnam(v) == NULL)
			return conf_err_set(err, config_setting_get_member(root, "group"),
			    "no such group \"%.60s\"", v);
		c->group = strdup(v);
		if (c->group == NULL)
			return -ENOMEM;
	}
	return parse_control(root, c, err);
}

static int
build(config_t *cfg, const char *name, struct conf **ret, struct conf_err *err)
{
	config_setting_t *root = config_root_setting(cfg), *list;
	struct conf *c;
	int i, n, r;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->log_level = LOG_LVL_INFO;
	c->batch = CONF_DEFAULT_BATCH;
	c->control_mode = 0600;
	c->file = strdup(name);
	if (c->file == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	r = parse_globals(root, c, err);
	if (r < 0)
		goto fail;
	r = conf_get_list(root, "sockets", &list, err);
	if (r < 0)
		goto fail;
	if (r == 0) {
		r = conf_err_key(err, root, "sockets", "missing (declare at least one socket)");
		goto fail;
	}
	n = config_setting_length(list);
	if (n == 0) {
		r = conf_err_set(err, list, "must declare at least one socket");
		goto fail;
	}
	c->socks = calloc((size_t)n, sizeof(*c->socks));
	if (c->socks == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < n; i++) {
		r = parse_sock(config_setting_get_elem(list, (unsigned)i), &c->socks[i], err);
		c->n_socks++;
		if (r < 0)
			goto fail;
	}
	r = check_all(c, list, err);
	if (r < 0)
		goto fail;
	*ret = c;
	return 0;
fail:
	if (r == -ENOMEM)
		snprintf(err->msg, sizeof(err->msg), "%s: out of memory", name);
	conf_free(c);
	return r;
}

static int
load(config_t *cfg, const char *name, int rd, struct conf **ret, struct conf_err *err)
{
	int r;

	if (rd != CONFIG_TRUE) {
		const char *text = config_error_text(cfg);
		struct stat st;

		if (config_error_type(cfg) == CONFIG_ERR_FILE_IO)
			/* libconfig keeps no errno: find out why from the file itself. */
			snprintf(err->msg, sizeof(err->msg), "%s: cannot read: %s", name,
			    stat(name, &st) < 0 ? strerror(errno) :
			    S_ISDIR(st.st_mode) ? "it is a directory" :
			    access(name, R_OK) < 0 ? strerror(errno) : "not a readable file");
		else
			snprintf(err->msg, sizeof(err->msg), "%s:%d: syntax error%s%s",
			    config_error_file(cfg) ? config_error_file(cfg) : name,
			    config_error_line(cfg),
			    text != NULL && strcmp(text, "syntax error") != 0 ? ": " : "",
			    text != NULL && strcmp(text, "syntax error") != 0 ? text : "");
		return -EINVAL;
	}
	config_setting_set_hook(config_root_setting(cfg), (void *)(uintptr_t)name);
	r = build(cfg, name, ret, err);
	return r;
}

int
conf_load(const char *file, struct conf **ret, struct conf_err *err)
{
	config_t cfg;
	int r;

	config_init(&cfg);
	errno = 0;
	r = load(&cfg, file, config_read_file(&cfg, file), ret, err);
	config_destroy(&cfg);
	return r;
}

int
conf_load_string(const char *text, const char *name, struct conf **ret, struct conf_err *err)
{
	config_t cfg;
	int r;

	config_init(&cfg);
	r = load(&cfg, name, config_read_string(&cfg, text), ret, err);
	config_destroy(&cfg);
	return r;
}

const struct sock_conf *
conf_find_sock(const struct conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->n_socks; i++)
		if (strcmp(c->socks[i].name, name) == 0)
			return &c->socks[i];
	return NULL;
}

bool
sock_conf_same_binding(const struct sock_conf *a, const struct sock_conf *b)
{
	if (a->type != b->type)
		return false;
	if (a->type == SOCK_T_UNIX)
		return strcmp(a->path, b->path) == 0;
	return a->addr_len == b->addr_len && addr_equal(&a->addr.sa, a->addr_len,
	    &b->addr.sa, b->addr_len);
}

struct key_walk {
	void	(*cb)(const char *section, const char *key, void *ud);
	void	*ud;
};

static void
walk_handler(const struct handler_ops *ops, void *ud)
{
	struct key_walk *kw = ud;
	size_t i;

	kw->cb(ops->type, "type", kw->ud);
	for (i = 0; ops->keys != NULL && ops->keys[i] != NULL; i++)
		kw->cb(ops->type, ops->keys[i], kw->ud);
}

void
conf_foreach_key(void (*cb)(const char *section, const char *key, void *ud), void *ud)
{
	struct key_walk kw = { cb, ud };
	size_t i;

	for (i = 0; global_keys[i] != NULL; i++)
		cb("global", global_keys[i], ud);
	for (i = 0; i < ARRAY_SIZE(sock_keys); i++)
		cb("socket", sock_keys[i].name, ud);
	for (i = 0; rate_limit_keys[i] != NULL; i++)
		cb("rate_limit", rate_limit_keys[i], ud);
	handler_foreach(walk_handler, &kw);
}
