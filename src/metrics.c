/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * metrics.c: the body of GET /metrics, in the Prometheus text format
 * (version 0.0.4), read from the shared region: the server-wide gauges
 * from its header, then one family per counter with a sample for every
 * live worker (a stats block whose st_pid is not 0), labelled
 * worker="N".  It neither knows sockets nor libevent: conn_http.c sends
 * what this returns and decides who may see it; the unit test parses it.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wschatd.h"
#include "metrics.h"
#include "shm.h"

static const char *const metrics_kinds[] = { "http", "ws_chat", "ws_echo",
    "line" };
static const char *const metrics_protos[] = { "websocket", "line" };
static const char *const metrics_classes[] = { "1xx", "2xx", "3xx", "4xx",
    "5xx" };
static const char *const metrics_closes[] = { "1002", "1007", "1009" };
static const char *const metrics_refusals[] = { "max_connections",
    "max_connections_per_ip", "out_of_memory" };

_Static_assert(sizeof(metrics_kinds) / sizeof(metrics_kinds[0]) ==
    SHM_ST_NCONNS, "a name for every connection kind");
_Static_assert(sizeof(metrics_protos) / sizeof(metrics_protos[0]) ==
    SHM_ST_NMSGS, "a name for every protocol");
_Static_assert(sizeof(metrics_classes) / sizeof(metrics_classes[0]) ==
    SHM_ST_NCLASSES, "a name for every status class");
_Static_assert(sizeof(metrics_closes) / sizeof(metrics_closes[0]) ==
    SHM_ST_NCLOSES, "a name for every close code");
_Static_assert(sizeof(metrics_refusals) / sizeof(metrics_refusals[0]) ==
    SHM_ST_NREFUSED, "a name for every refusal");

/* One family: a word (or an array of them) of struct shm_stats. */
struct metrics_family {
	const char		*name;
	const char		*type;
	const char		*help;
	size_t			 off;		/* in struct shm_stats */
	const char		*label;		/* besides worker, or NULL */
	const char *const	*values;	/* label's, one per word */
	unsigned		 n;		/* words */
};

#define M_ONE(f)	offsetof(struct shm_stats, f), NULL, NULL, 1
#define M_ARR(f, l, v)	offsetof(struct shm_stats, f), l, v, \
	    sizeof(v) / sizeof(v[0])

static const struct metrics_family metrics_families[] = {
	{ "wschatd_worker_start_time_seconds", "gauge",
	  "When the worker started, in seconds since the epoch.",
	  M_ONE(st_started) },
	{ "wschatd_connections", "gauge",
	  "Client connections open, by kind: http (not upgraded), ws_chat "
	  "(/ws), ws_echo (/echo), line (the line port).",
	  M_ARR(st_conns, "kind", metrics_kinds) },
	{ "wschatd_connections_accepted_total", "counter",
	  "Client connections accepted.",
	  M_ONE(st_accepted) },
	{ "wschatd_connections_refused_total", "counter",
	  "Client connections turned away at accept (503, or an error line "
	  "on the line port), by reason.",
	  M_ARR(st_refused, "reason", metrics_refusals) },
	{ "wschatd_messages_received_total", "counter",
	  "Messages from clients: complete WebSocket messages (/ws and "
	  "/echo), lines on the line port.",
	  M_ARR(st_msgs_in, "protocol", metrics_protos) },
	{ "wschatd_messages_sent_total", "counter",
	  "Messages queued to clients: chat deliveries, replies and echoes.",
	  M_ARR(st_msgs_out, "protocol", metrics_protos) },
	{ "wschatd_chat_messages_total", "counter",
	  "Chat messages this worker's clients sent to a room.",
	  M_ONE(st_chat) },
	{ "wschatd_received_bytes_total", "counter",
	  "Bytes read from client connections.",
	  M_ONE(st_bytes_in) },
	{ "wschatd_sent_bytes_total", "counter",
	  "Bytes written to client connections.",
	  M_ONE(st_bytes_out) },
	{ "wschatd_slow_consumers_dropped_total", "counter",
	  "Clients dropped for letting more than max_pending bytes pile up, "
	  "or the most when a worker's passed max_pending_total.",
	  M_ONE(st_slow_dropped) },
	{ "wschatd_idle_kicked_total", "counter",
	  "Chat clients closed after idle_timeout without activity.",
	  M_ONE(st_idle_kicked) },
	{ "wschatd_log_lines_dropped_total", "counter",
	  "Log lines about single clients not written, past "
	  "log_client_rate (counted each second).",
	  M_ONE(st_log_dropped) },
	{ "wschatd_rate_limited_total", "counter",
	  "Logins, renames, who, rooms, joins and leaves refused by "
	  "command_rate, and chat messages dropped by message_rate.",
	  M_ONE(st_rate_limited) },
	{ "wschatd_http_responses_total", "counter",
	  "HTTP responses, by status class (1xx: WebSocket upgrades).",
	  M_ARR(st_http, "code", metrics_classes) },
	{ "wschatd_websocket_protocol_errors_total", "counter",
	  "WebSocket connections failed by the server, by close code.",
	  M_ARR(st_ws_errors, "code", metrics_closes) },
	{ "wschatd_bus_published_total", "counter",
	  "Records this worker published on its bus ring.",
	  M_ONE(st_bus_published) },
	{ "wschatd_bus_read_total", "counter",
	  "Records this worker read from every bus ring.",
	  M_ONE(st_bus_read) },
	{ "wschatd_bus_lost_total", "counter",
	  "Bus records this worker lost by falling a lap behind.",
	  M_ONE(st_bus_lost) },
	{ "wschatd_bus_too_big_total", "counter",
	  "Events too large for a bus record, not published.",
	  M_ONE(st_bus_too_big) },
	{ "wschatd_bus_wakeups_sent_total", "counter",
	  "Wake-ups this worker sent to idle workers.",
	  M_ONE(st_wakeups_sent) },
	{ "wschatd_bus_lag_bytes", "gauge",
	  "Bus bytes published that this worker had not read at the end "
	  "of its last pass, summed over the rings.",
	  M_ONE(st_bus_lag) },
};

#undef M_ONE
#undef M_ARR
#define METRICS_NFAMILIES \
	(sizeof(metrics_families) / sizeof(metrics_families[0]))

/* A copy of one live worker's block, so every family sees one state. */
struct metrics_slot {
	unsigned	 id;
	uint64_t	 w[SHM_ST_WORDS];
};

static void
metrics_head(struct buf *b, const char *name, const char *type,
    const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type);
}

/*
 * The history process's (shm_hist): its state, what it kept, and the
 * highest id it committed, which says which messages are acknowledged
 * (wschatd.conf(5)).
 */
static void
metrics_history(struct buf *b, const struct shm_region *reg)
{
	struct shm_hist	*h = shm_region_hist(reg);
	static const struct {
		const char	*name, *type, *help;
		size_t		 off;
	} m[] = {
		{ "wschatd_history_state", "gauge",
		  "0: history off or not started, 1: keeping, 2: the store "
		  "refuses writes (full, read-only, damaged).",
		  offsetof(struct shm_hist, sh_state) },
		{ "wschatd_history_committed_id", "gauge",
		  "Every message with an id up to this one is kept in the "
		  "store, or recorded as lost.",
		  offsetof(struct shm_hist, sh_committed_id) },
		{ "wschatd_history_messages_total", "counter",
		  "Chat messages committed to the store.",
		  offsetof(struct shm_hist, sh_stored) },
		{ "wschatd_history_commits_total", "counter",
		  "Transactions committed.",
		  offsetof(struct shm_hist, sh_batches) },
		{ "wschatd_history_lost_total", "counter",
		  "Messages that could not be kept (recorded as a gap).",
		  offsetof(struct shm_hist, sh_lost) },
		{ "wschatd_history_errors_total", "counter",
		  "Failed writes to the store.",
		  offsetof(struct shm_hist, sh_errors) },
		{ "wschatd_history_trimmed_total", "counter",
		  "Messages deleted by retention.",
		  offsetof(struct shm_hist, sh_trimmed) },
		{ "wschatd_history_last_commit_seconds", "gauge",
		  "How long the last commit took.",
		  offsetof(struct shm_hist, sh_commit_ns_last) },
		{ "wschatd_history_restarts_total", "counter",
		  "History processes that died and were started again.",
		  offsetof(struct shm_hist, sh_restarts) },
	};
	size_t		 i;
	uint64_t	 v;

	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		metrics_head(b, m[i].name, m[i].type, m[i].help);
		/* Relaxed: each on its own. */
		v = atomic_load_explicit((_Atomic uint64_t *)((char *)h +
		    m[i].off), memory_order_relaxed);
		if (m[i].off == offsetof(struct shm_hist, sh_commit_ns_last))
			buf_printf(b, "%s %.6f\n", m[i].name, v / 1e9);
		else
			buf_printf(b, "%s %llu\n", m[i].name,
			    (unsigned long long)v);
	}
}

/*
 * Format every metric of the region.  Returns a NUL-terminated text that
 * the caller frees, its length in *lenp; NULL if out of memory.  Any
 * process that maps the region; it only reads it.
 */
char *
metrics_format(const struct shm_region *reg, size_t *lenp)
{
	struct buf			 b;
	uint8_t				*text;
	const struct metrics_family	*f;
	struct metrics_slot		*slots;
	struct shm_stats		*st;
	_Atomic uint64_t		*words;
	unsigned			 i, j, k, n = 0;
	size_t				 fi;

	/* The last block is the master's ring's: no worker counts there. */
	slots = calloc(reg->hdr->sh_nrings, sizeof(*slots));
	if (slots == NULL)
		return (NULL);
	buf_init(&b, 0);
	for (i = 0; i + 1 < reg->hdr->sh_nrings; i++) {
		st = shm_region_stats(reg, i);
		/* Acquire: pairs with shm_stats_attach(); the words below
		 * are this worker's, not a predecessor's. */
		if (atomic_load_explicit(&st->st_pid,
		    memory_order_acquire) == 0)
			continue;
		slots[n].id = i;
		words = &st->st_pid;
		/* Relaxed: each word on its own; no order between them. */
		for (k = 0; k < SHM_ST_WORDS; k++)
			slots[n].w[k] = atomic_load_explicit(&words[k],
			    memory_order_relaxed);
		n++;
	}

	metrics_head(&b, "wschatd_build_info", "gauge",
	    "Always 1; the version is a label.");
	buf_printf(&b, "wschatd_build_info{version=\"%s\"} 1\n",
	    WSCHATD_VERSION);
	metrics_head(&b, "wschatd_workers", "gauge",
	    "Workers running (those labelled worker below).");
	buf_printf(&b, "wschatd_workers %u\n", n);
	metrics_head(&b, "wschatd_users_online", "gauge",
	    "Names online, server-wide: WebSocket and line users.");
	/* Relaxed: a gauge. */
	buf_printf(&b, "wschatd_users_online %u\n",
	    (unsigned)atomic_load_explicit(&reg->hdr->sh_users,
	    memory_order_relaxed));

	/* Relaxed: counters only the master writes, read on their own. */
	metrics_head(&b, "wschatd_reloads_total", "counter",
	    "Configuration reloads done (SIGHUP with a good file).");
	buf_printf(&b, "wschatd_reloads_total %llu\n", (unsigned long long)
	    atomic_load_explicit(&reg->hdr->sh_reloads, memory_order_relaxed));
	metrics_head(&b, "wschatd_worker_respawns_total", "counter",
	    "Workers that died and were started again.");
	buf_printf(&b, "wschatd_worker_respawns_total %llu\n",
	    (unsigned long long)atomic_load_explicit(&reg->hdr->sh_respawns,
	    memory_order_relaxed));

	metrics_history(&b, reg);

	for (fi = 0; fi < METRICS_NFAMILIES; fi++) {
		f = &metrics_families[fi];
		metrics_head(&b, f->name, f->type, f->help);
		for (i = 0; i < n; i++)
			for (j = 0; j < f->n; j++) {
				buf_printf(&b, "%s{worker=\"%u\"", f->name,
				    slots[i].id);
				if (f->label != NULL)
					buf_printf(&b, ",%s=\"%s\"",
					    f->label, f->values[j]);
				buf_printf(&b, "} %llu\n",
				    (unsigned long long)
				    slots[i].w[f->off / 8 + j]);
			}
	}
	free(slots);
	/* Not empty: the build_info line at least, so NUL-terminated. */
	text = buf_finish(&b, lenp);
	return ((char *)text);
}
