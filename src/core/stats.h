/*
 * stats.h: counters as data. Every counter dgramd keeps is a sample of a
 * family (struct stat_desc: name, help, type, the key of the stats line),
 * with labels (socket, handler, and an instance such as a forward target)
 * and a value. The modules that own counters put their samples into a
 * visitor; the views are visitors too: the SIGUSR2 stats line, the
 * STATUS= summary, and whatever reads them next (JSON, Prometheus).
 */
#ifndef DGRAMD_STATS_H
#define DGRAMD_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strbuf;

enum stat_type {
	STAT_COUNTER,	/* only grows (from the socket's creation, across reloads) */
	STAT_GAUGE,	/* a level: queue lengths, table fill */
};

/* What a sample means to the STATUS= summary. */
enum stat_role {
	STAT_ROLE_NONE,
	STAT_ROLE_RECEIVED,	/* datagrams received */
	STAT_ROLE_LOST,		/* datagrams dropped or failed */
};

/* A family of samples. */
struct stat_desc {
	const char	*name;	/* e.g. "dgramd_socket_received_total" */
	const char	*help;	/* one line */
	enum stat_type	 type;
	/*
	 * The stats line key, e.g. "received" or "fwd.sent"; a sample of an
	 * instance carries its value after the first part: "fwd.TARGET.sent".
	 */
	const char	*key;	/* NULL: a metric only, not on the stats line */
	enum stat_role	 role;
	/* A label every sample of this desc carries (reason="truncated"), or none. */
	struct stat_fixed_label {
		const char	*name;
		const char	*value;
	} fixed;
};

struct stat_label {
	const char	*name;	/* "socket", "handler", "file", "target", "index" */
	const char	*value;
};

#define STATS_LABELS_MAX	4

/* One sample, lent to the visitor's function for the call. */
struct stat_sample {
	const struct stat_desc	*desc;
	const struct stat_label	*labels;	/* outermost first; the instance last */
	size_t			 n_labels;
	const char		*instance;	/* the instance label's value, or NULL */
	uint64_t		 value;
};

typedef void (*stats_sample_fn)(void *userdata, const struct stat_sample *s);

/* Walks counters: the label stack says whose they are. */
struct stats_visitor {
	stats_sample_fn		 fn;
	void			*userdata;
	struct stat_label	 labels[STATS_LABELS_MAX];
	size_t			 n_labels;
};

void	stats_visitor_init(struct stats_visitor *v, stats_sample_fn fn, void *userdata);
/* Labels the samples put until the matching pop (value is lent until then). */
void	stats_push_label(struct stats_visitor *v, const char *name, const char *value);
void	stats_pop_label(struct stats_visitor *v);
/* One sample of d. */
void	stats_put(struct stats_visitor *v, const struct stat_desc *d, uint64_t value);
/* One sample of d for an instance: label name=value, also shown in the line key. */
void	stats_put_instance(struct stats_visitor *v, const struct stat_desc *d,
	    const char *label, const char *value, uint64_t n);
/* The value of the label named name, or NULL. */
const char *stats_label(const struct stat_sample *s, const char *name);

/* --- views --------------------------------------------------------------- */

/* The stats line: appends " key=value" to the struct strbuf userdata. */
void	stats_line_sample(void *sb, const struct stat_sample *s);

/* The STATUS= summary: sums of the received and the lost datagrams. */
struct stats_summary {
	uint64_t	received;
	uint64_t	lost;
};
/* Adds s to the struct stats_summary userdata. */
void	stats_summary_sample(void *summary, const struct stat_sample *s);

#endif
