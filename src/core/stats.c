/*
 * stats.c: the visitor's label stack and the views of the counters that
 * the daemon itself shows (see stats.h).
 */
#include <string.h>

#include "stats.h"
#include "strbuf.h"

void
stats_visitor_init(struct stats_visitor *v, stats_sample_fn fn, void *userdata)
{
	memset(v, 0, sizeof(*v));
	v->fn = fn;
	v->userdata = userdata;
}

void
stats_push_label(struct stats_visitor *v, const char *name, const char *value)
{
	/* The nesting is fixed (socket, handler, instance): never deeper. */
	if (v->n_labels == STATS_LABELS_MAX)
		return;
	v->labels[v->n_labels].name = name;
	v->labels[v->n_labels].value = value;
	v->n_labels++;
}

void
stats_pop_label(struct stats_visitor *v)
{
	if (v->n_labels > 0)
		v->n_labels--;
}

static void
emit(struct stats_visitor *v, const struct stat_desc *d, const char *instance, uint64_t value)
{
	struct stat_sample s = {
		.desc = d,
		.labels = v->labels,
		.n_labels = v->n_labels,
		.instance = instance,
		.value = value,
	};

	v->fn(v->userdata, &s);
}

void
stats_put(struct stats_visitor *v, const struct stat_desc *d, uint64_t value)
{
	emit(v, d, NULL, value);
}

void
stats_put_instance(struct stats_visitor *v, const struct stat_desc *d, const char *label,
    const char *value, uint64_t n)
{
	stats_push_label(v, label, value);
	emit(v, d, value, n);
	stats_pop_label(v);
}

const char *
stats_label(const struct stat_sample *s, const char *name)
{
	size_t i;

	for (i = s->n_labels; i > 0; i--)
		if (strcmp(s->labels[i - 1].name, name) == 0)
			return s->labels[i - 1].value;
	return NULL;
}

void
stats_line_sample(void *userdata, const struct stat_sample *s)
{
	struct strbuf *sb = userdata;
	const char *key = s->desc->key, *dot;

	if (key == NULL)
		return;
	dot = s->instance != NULL ? strchr(key, '.') : NULL;
	if (dot != NULL)
		strbuf_printf(sb, " %.*s.%s%s=%llu", (int)(dot - key), key, s->instance, dot,
		    (unsigned long long)s->value);
	else
		strbuf_printf(sb, " %s=%llu", key, (unsigned long long)s->value);
}

void
stats_summary_sample(void *userdata, const struct stat_sample *s)
{
	struct stats_summary *sum = userdata;

	if (s->desc->role == STAT_ROLE_RECEIVED)
		sum->received += s->value;
	else if (s->desc->role == STAT_ROLE_LOST)
		sum->lost += s->value;
}
