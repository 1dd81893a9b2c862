/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * history.h: the history process (history.c), forked and watched by the
 * master (master_hist.c): it reads the bus and keeps its chat messages in
 * the store, in batches.
 */

#ifndef WSCHATD_HISTORY_H
#define WSCHATD_HISTORY_H

struct cfg;
struct bus_shared;

/* Exit status of a history process that must not be started again. */
#define HISTORY_EXIT_REFUSED	2

void		 history_run(const struct cfg *, struct bus_shared *)
		    __attribute__((__noreturn__));

/* master_hist.c: the master's side. */
void		 master_hist_setup(const struct cfg *, struct bus_shared *);
void		 master_hist_spawn(void);
int		 master_hist_reaped(int, int);
void		 master_hist_tick(time_t);
void		 master_hist_signal(int);
int		 master_hist_running(void);

#endif /* WSCHATD_HISTORY_H */
