/*
 * conf.h: the libconfig file turned into plain, validated structs.
 * Every error names FILE:LINE: setting.path: what is wrong.
 */
#ifndef DGRAMD_CONF_H
#define DGRAMD_CONF_H

#include <errno.h>
#include <libconfig.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr.h"

#define CONF_DEFAULT_FILE	"/etc/dgramd/dgramd.conf"
#define CONF_DEFAULT_BATCH	64
#define CONF_MAX_BATCH		1024
#define CONF_DEFAULT_MAX_SIZE	65535

struct handler_ops;

/* The text of one config error: "FILE:LINE: PATH: message". */
struct conf_err {
	char	msg[1024];
};

enum sock_type {
	SOCK_T_UDP4,
	SOCK_T_UDP6,
	SOCK_T_UNIX,
	_SOCK_T_MAX,
	_SOCK_T_INVALID = -EINVAL,
};

const char	*sock_type_to_string(enum sock_type t);

struct rate_limit_conf {
	bool		set;
	uint32_t	rate;		/* datagrams per second */
	uint32_t	burst;
	bool		per_source;
	uint32_t	sources;	/* capacity of the per-sender table */
};

/* One handler of a socket's chain: its ops and its private parsed config. */
struct handler_conf {
	const struct handler_ops	*ops;
	void				*conf;	/* ops->conf_size bytes, owned */
	int				 line;
};

/* One declared socket. Owned by struct conf. */
struct sock_conf {
	char			*name;
	int			 line;
	enum sock_type		 type;
	char			*address;	/* as written; NULL = all */
	int			 port;		/* -1 for unix sockets */
	char			*path;		/* unix: as written ("@x" = abstract) */
	union sockaddr_any	 addr;		/* the bind address */
	socklen_t		 addr_len;
	int			 mode;		/* -1 = unset (umask) */
	bool			 has_owner, has_group;
	uid_t			 owner;
	gid_t			 group;
	/* The socket options (sockopt.c's table says which value means unset). */
	int			 ttl;		/* 0 = unset */
	int			 broadcast;	/* -1 = unset, else 0/1 */
	int			 multicast_ttl;	/* -1 = unset */
	int			 multicast_loop;	/* -1 = unset */
	char			**mcast_groups;
	size_t			 n_mcast_groups;
	int			 ipv6_only;	/* -1 = unset */
	int			 reuseport;	/* 0/1 */
	int			 recv_buffer;	/* 0 = unset */
	int			 send_buffer;
	uint32_t		 max_size;
	struct cidr		*allow;		/* NULL = anyone */
	size_t			 n_allow;
	bool			 has_allow;
	uid_t			*allow_uids;
	size_t			 n_allow_uids;
	gid_t			*allow_gids;
	size_t			 n_allow_gids;
	struct rate_limit_conf	 rate_limit;
	struct handler_conf	*handlers;
	size_t			 n_handlers;
};

struct conf {
	char			*file;
	int			 log_level;
	unsigned		 batch;
	char			*user;		/* NULL = stay as started */
	char			*group;
	/* The control socket for dgramctl (NULL = none) and its file mode. */
	char			*control_socket;
	int			 control_mode;
	/* The /metrics HTTP listener (metrics_len 0 = none). */
	char			*metrics_text;
	union sockaddr_any	 metrics_addr;
	socklen_t		 metrics_len;
	struct sock_conf	*socks;
	size_t			 n_socks;
};

/*
 * Loads and validates file. Returns 0 with *ret set, or -EINVAL with err
 * filled (-ENOMEM on allocation failure). Opens nothing but the file.
 */
int	conf_load(const char *file, struct conf **ret, struct conf_err *err);
/* Same, from text in memory; name stands for the file in messages. */
int	conf_load_string(const char *text, const char *name, struct conf **ret,
	    struct conf_err *err);
/* Frees a config and everything it owns; accepts NULL; returns NULL. */
struct conf	*conf_free(struct conf *c);

/*
 * True when something reads a unix sender's credentials on socket c:
 * allow_uids/allow_gids, a per-sender rate limit (keyed by uid), or a
 * handler (json lines, forward's hash mode). Only then is SO_PASSCRED on,
 * which costs both sides of every datagram.
 */
bool	sock_conf_wants_cred(const struct sock_conf *c);

/* The socket named name, or NULL. */
const struct sock_conf	*conf_find_sock(const struct conf *c, const char *name);
/* True when a and b bind the same thing (type, address, port or path). */
bool	sock_conf_same_binding(const struct sock_conf *a, const struct sock_conf *b);

/* Calls cb for every key the parser accepts ("global", "socket", "echo", ...). */
void	conf_foreach_key(void (*cb)(const char *section, const char *key, void *ud), void *ud);

/*
 * Helpers for handler parsers. Each getter returns 1 when key is present
 * and valid, 0 when it is absent (ret untouched), -EINVAL with err set.
 */
/* Fills err with "FILE:LINE: s.path[.key]: message"; key may be NULL. */
void	conf_err_format(struct conf_err *err, const config_setting_t *s, const char *key,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/*
 * conf_err_set(err, s, fmt, ...) and conf_err_key(err, group, key, fmt, ...)
 * fill err and evaluate to -EINVAL. They are macros so that the constant is
 * visible at the call site: the static analyzer does not follow a variadic
 * function's return value, and "return conf_err_set(...)" must be seen as an
 * error return for the getters' "ret written only on success" to check out.
 */
#define conf_err_set(err, s, ...) \
	(conf_err_format((err), (s), NULL, __VA_ARGS__), -EINVAL)
#define conf_err_key(err, group, key, ...) \
	(conf_err_format((err), (group), (key), __VA_ARGS__), -EINVAL)
/* Rejects keys of group not in keys (NULL-terminated); "type" is always allowed. */
int	conf_check_keys(const config_setting_t *group, const char *const *keys,
	    struct conf_err *err);
int	conf_get_int(const config_setting_t *g, const char *key, long long min, long long max,
	    long long *ret, struct conf_err *err);
int	conf_get_bool(const config_setting_t *g, const char *key, bool *ret, struct conf_err *err);
/* The string stays owned by libconfig: copy it. */
int	conf_get_string(const config_setting_t *g, const char *key, const char **ret,
	    struct conf_err *err);
/* A string that must be one of names[0..n-1]; *ret is its index. */
int	conf_get_enum(const config_setting_t *g, const char *key, const char *const *names,
	    size_t n, int *ret, struct conf_err *err);
/* An octal mode string such as "0640". */
int	conf_get_mode(const config_setting_t *g, const char *key, int *ret, struct conf_err *err);
/* A list or array; *ret is the setting (borrowed). */
int	conf_get_list(const config_setting_t *g, const char *key, config_setting_t **ret,
	    struct conf_err *err);

#endif
