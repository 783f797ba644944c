/*
 * statsview.h: the views of the counters (stats.h) that the control socket
 * and /metrics serve: the stats lines, one JSON document, and the
 * Prometheus text exposition format 0.0.4. Each takes a walk function that
 * puts every sample (daemon_stats_visit) and appends to a strbuf.
 */
#ifndef DGRAMD_STATSVIEW_H
#define DGRAMD_STATSVIEW_H

#include "stats.h"

struct strbuf;

/* Puts every sample into fn (as daemon_stats_visit does for the daemon). */
typedef void (*stats_walk_fn)(const void *owner, stats_sample_fn fn, void *userdata);

/* "stats NAME key=value ..." lines, one per socket, as SIGUSR2 writes them. */
void	statsview_text(stats_walk_fn walk, const void *owner, struct strbuf *out);
/*
 * {"sockets":[{"name":..,"counters":{..},"handlers":[{"type":..,"counters":{..},
 * "targets":[{"target":..,"counters":{..}}]}]}]} (instances other than
 * forward targets are listed under "instances").
 */
void	statsview_json(stats_walk_fn walk, const void *owner, struct strbuf *out);
/* Families with # HELP and # TYPE, samples grouped by family. */
void	statsview_prometheus(stats_walk_fn walk, const void *owner, struct strbuf *out);

/* Appends s as a JSON string (quotes included). */
void	json_string(struct strbuf *out, const char *s);

#endif
