/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * worker.h: one worker process.  worker.c owns the event loop, the
 * listeners and the signals; the rest of struct worker is parts that
 * other modules own, one each (conn.h, bus.h, hub.h): a module reads and
 * writes its own part, and only the core fields of the others.
 */

#ifndef WSCHATD_WORKER_H
#define WSCHATD_WORKER_H

#include "bus.h"
#include "cfg.h"
#include "conn.h"
#include "hub.h"
#include "shm.h"

struct event_base;
struct hub_hist;
struct event;
struct evconnlistener;

struct worker {
	/* The core, for every module. */
	struct event_base	*base;
	struct cfg		*cfg;
	unsigned		 id;		/* our slot on the bus */
	struct shm_region	*reg;		/* the shared region */
	struct shm_stats	*st;		/* our counters, in the region */
	/* worker.c */
	struct evconnlistener	*http;
	struct evconnlistener	*line;
	struct event		*ev_term;
	struct event		*ev_int;
	struct event		*ev_quit;	/* SIGQUIT: as SIGTERM */
	struct event		*ev_retire;	/* SIGUSR2: retire */
	struct event		*ev_reopen;	/* SIGUSR1: reopen the log */
	struct event		*ev_stop;	/* shutdown deadline */
	struct event		*ev_drain;	/* drain_timeout */
	struct event		*ev_retry;	/* re-enable accepts after EMFILE */
	struct event		*ev_sweep;	/* once a second */
	struct event		*ev_wake;	/* our eventfd */
	int			 stopping;
	int			 retiring;	/* replaced by a reload */
	/* The modules' parts. */
	struct conn_set		 conns;		/* conn.c */
	struct conn_ip_set	 ips;		/* conn_ip.c */
	struct conn_http_site	 site;		/* conn_http.c */
	struct bus		 bus;		/* bus.c */
	struct hub		 hub;		/* hub.c */
	struct hub_hist		*hist;		/* hub_hist.c */
};

void		 worker_run(struct cfg *, unsigned, int, int,
		    struct bus_shared *) __attribute__((__noreturn__));

#endif /* WSCHATD_WORKER_H */
