/*
 * statsview.c: stats lines, JSON and Prometheus text from the counters.
 * Nothing here allocates per datagram: views are built on request.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "statsview.h"
#include "strbuf.h"
#include "util.h"

/* --- stats lines ------------------------------------------------------------ */

struct text_state {
	struct strbuf	*out;
	struct strbuf	 line;
	const char	*socket;	/* the socket of the line being built */
};

static void
text_end_line(struct text_state *t)
{
	if (t->socket != NULL)
		strbuf_printf(t->out, "stats %s%s\n", t->socket, strbuf_str(&t->line));
	strbuf_reset(&t->line);
	t->socket = NULL;
}

static void
text_sample(void *userdata, const struct stat_sample *s)
{
	struct text_state *t = userdata;
	const char *sock = stats_label(s, "socket");

	if (sock == NULL)
		return;
	if (t->socket == NULL || strcmp(t->socket, sock) != 0) {
		text_end_line(t);
		t->socket = sock;
	}
	stats_line_sample(&t->line, s);
}

void
statsview_text(stats_walk_fn walk, const void *owner, struct strbuf *out)
{
	struct text_state t = { .out = out };

	/*
	 * Labels are lent for the call only, but a socket's name outlives the
	 * walk and its samples come together: comparing by value is enough.
	 */
	walk(owner, text_sample, &t);
	text_end_line(&t);
	strbuf_free(&t.line);
}

/* --- JSON ------------------------------------------------------------------- */

void
json_string(struct strbuf *out, const char *s)
{
	const unsigned char *p;

	strbuf_printf(out, "\"");
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			strbuf_printf(out, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			strbuf_printf(out, "\\u%04x", *p);
		else
			strbuf_printf(out, "%c", *p);
	}
	strbuf_printf(out, "\"");
}

/*
 * The counter's own name in JSON: the last part of its stats line key, or
 * of its family's name for a metric that has no key ("..._target_up": "up").
 */
static const char *
json_key(const struct stat_desc *d)
{
	const char *sep = d->key != NULL ? strrchr(d->key, '.') : strrchr(d->name, '_');

	if (sep != NULL)
		return sep + 1;
	return d->key != NULL ? d->key : d->name;
}

enum json_level { J_NONE, J_SOCKET, J_HANDLER, J_INSTANCE };

struct json_state {
	struct strbuf	*out;
	enum json_level	 open;		/* the innermost object open */
	bool		 counters_open;	/* its "counters" object is open */
	bool		 first;		/* no member yet in the open "counters" */
	bool		 any_socket;
	bool		 any_handler;
	bool		 any_instance;
	char		*socket;	/* copies: labels are lent per sample */
	char		*handler;
	char		*instance;
	const char	*instance_label;
};

static void
json_close_counters(struct json_state *j)
{
	if (j->counters_open)
		strbuf_printf(j->out, "}");
	j->counters_open = false;
}

/* Closes objects down to (not including) level. */
static void
json_close_to(struct json_state *j, enum json_level level)
{
	while (j->open > level) {
		json_close_counters(j);
		switch (j->open) {
		case J_INSTANCE:
			strbuf_printf(j->out, "}");
			free(j->instance);
			j->instance = NULL;
			break;
		case J_HANDLER:
			if (j->any_instance)
				strbuf_printf(j->out, "]");
			strbuf_printf(j->out, "}");
			free(j->handler);
			j->handler = NULL;
			break;
		case J_SOCKET:
			if (j->any_handler)
				strbuf_printf(j->out, "]");
			strbuf_printf(j->out, "}");
			free(j->socket);
			j->socket = NULL;
			break;
		case J_NONE:
			break;
		}
		j->open--;
		/* Back in a parent object: its counters are done (members follow). */
		j->counters_open = false;
	}
}

static void
json_open_counters(struct json_state *j)
{
	if (!j->counters_open) {
		strbuf_printf(j->out, ",\"counters\":{");
		j->counters_open = true;
		j->first = true;
	}
}

static bool
same(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static void
json_sample(void *userdata, const struct stat_sample *s)
{
	struct json_state *j = userdata;
	const char *sock = stats_label(s, "socket");
	const char *handler = stats_label(s, "handler");
	const char *ilabel = NULL;

	if (sock == NULL)
		return;
	if (s->instance != NULL && s->n_labels > 0)
		ilabel = s->labels[s->n_labels - 1].name;
	if (j->open >= J_SOCKET && !same(j->socket, sock))
		json_close_to(j, J_NONE);
	if (j->open == J_NONE) {
		strbuf_printf(j->out, "%s{\"name\":", j->any_socket ? "," : "");
		json_string(j->out, sock);
		j->socket = strdup(sock);
		j->open = J_SOCKET;
		j->any_socket = true;
		j->any_handler = false;
	}
	if (handler == NULL) {
		json_close_to(j, J_SOCKET);
	} else {
		if (j->open >= J_HANDLER && !same(j->handler, handler))
			json_close_to(j, J_SOCKET);
		if (j->open == J_SOCKET) {
			json_close_counters(j);
			strbuf_printf(j->out, "%s{\"type\":", j->any_handler ? "," : ",\"handlers\":[");
			json_string(j->out, handler);
			j->handler = strdup(handler);
			j->open = J_HANDLER;
			j->any_handler = true;
			j->any_instance = false;
		}
		if (s->instance == NULL) {
			json_close_to(j, J_HANDLER);
		} else {
			if (j->open == J_INSTANCE && !same(j->instance, s->instance))
				json_close_to(j, J_HANDLER);
			if (j->open == J_HANDLER) {
				json_close_counters(j);
				j->instance_label = same(ilabel, "target") ? "targets" : "instances";
				strbuf_printf(j->out, "%s{", j->any_instance ? "," :
				    same(ilabel, "target") ? ",\"targets\":[" : ",\"instances\":[");
				json_string(j->out, ilabel != NULL ? ilabel : "instance");
				strbuf_printf(j->out, ":");
				json_string(j->out, s->instance);
				j->instance = strdup(s->instance);
				j->open = J_INSTANCE;
				j->any_instance = true;
			}
		}
	}
	json_open_counters(j);
	strbuf_printf(j->out, "%s", j->first ? "" : ",");
	json_string(j->out, json_key(s->desc));
	strbuf_printf(j->out, ":%llu", (unsigned long long)s->value);
	j->first = false;
}

void
statsview_json(stats_walk_fn walk, const void *owner, struct strbuf *out)
{
	struct json_state j = { .out = out };

	strbuf_printf(out, "\"sockets\":[");
	walk(owner, json_sample, &j);
	json_close_to(&j, J_NONE);
	strbuf_printf(out, "]");
}

/* --- Prometheus ------------------------------------------------------------- */

struct prom_sample {
	const struct stat_desc	*desc;
	size_t			 seq;		/* visit order, for a stable sort */
	char			*labels;	/* rendered: name="value",... */
	uint64_t		 value;
};

struct prom_state {
	struct prom_sample	*v;
	size_t			 n;
	size_t			 cap;
	bool			 oom;
};

/* A label value as the exposition format wants it: \\, \" and \n escaped. */
static void
prom_label_value(struct strbuf *sb, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			strbuf_printf(sb, "\\%c", *s);
		else if (*s == '\n')
			strbuf_printf(sb, "\\n");
		else
			strbuf_printf(sb, "%c", *s);
	}
}

static void
prom_collect(void *userdata, const struct stat_sample *s)
{
	struct prom_state *p = userdata;
	struct strbuf sb = { 0 };
	size_t i;

	if (p->oom)
		return;
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 64;
		struct prom_sample *v = realloc(p->v, cap * sizeof(*v));

		if (v == NULL) {
			p->oom = true;
			return;
		}
		p->v = v;
		p->cap = cap;
	}
	for (i = 0; i < s->n_labels; i++) {
		strbuf_printf(&sb, "%s%s=\"", i ? "," : "", s->labels[i].name);
		prom_label_value(&sb, s->labels[i].value);
		strbuf_printf(&sb, "\"");
	}
	if (s->desc->fixed.name != NULL) {
		strbuf_printf(&sb, "%s%s=\"", s->n_labels ? "," : "", s->desc->fixed.name);
		prom_label_value(&sb, s->desc->fixed.value);
		strbuf_printf(&sb, "\"");
	}
	if (sb.oom) {
		strbuf_free(&sb);
		p->oom = true;
		return;
	}
	p->v[p->n].desc = s->desc;
	p->v[p->n].seq = p->n;
	p->v[p->n].labels = sb.buf;	/* NULL when there is none */
	p->v[p->n].value = s->value;
	p->n++;
}

static int
prom_cmp(const void *a, const void *b)
{
	const struct prom_sample *x = a, *y = b;
	int c = strcmp(x->desc->name, y->desc->name);

	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void
statsview_prometheus(stats_walk_fn walk, const void *owner, struct strbuf *out)
{
	struct prom_state p = { 0 };
	const char *family = NULL;
	size_t i;

	walk(owner, prom_collect, &p);
	if (p.n > 0)
		qsort(p.v, p.n, sizeof(*p.v), prom_cmp);
	for (i = 0; i < p.n; i++) {
		const struct stat_desc *d = p.v[i].desc;

		if (family == NULL || strcmp(family, d->name) != 0) {
			family = d->name;
			strbuf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", d->name, d->help, d->name,
			    d->type == STAT_COUNTER ? "counter" : "gauge");
		}
		if (p.v[i].labels != NULL)
			strbuf_printf(out, "%s{%s} %llu\n", d->name, p.v[i].labels,
			    (unsigned long long)p.v[i].value);
		else
			strbuf_printf(out, "%s %llu\n", d->name, (unsigned long long)p.v[i].value);
	}
	for (i = 0; i < p.n; i++)
		free(p.v[i].labels);
	free(p.v);
	if (p.oom)
		out->oom = true;
}
