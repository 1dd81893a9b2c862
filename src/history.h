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

/*
 * Exit status of a history process that must not be started again: the
 * store file is refused (not a wschatd store, fails quick_check, or has
 * another epoch than the daemon's).  0: stopped by a signal, everything
 * read committed.  Anything else (1: could not set up; a signal): try
 * again later.
 */
#define HISTORY_EXIT_REFUSED	2

/*
 * Run the history process until SIGTERM (or SIGINT, SIGQUIT): open the
 * store at cfg->history_file, then every cfg->history_flush ms commit
 * what the bus brought, from the position in shm_hist on.  Never
 * returns.  The signals the master blocked are unblocked once libevent
 * catches them.  In the forked child only, privileges dropped.
 */
void		 history_run(const struct cfg *, struct bus_shared *)
		    __attribute__((__noreturn__));

/* master_hist.c: the master's side. */
int		 master_hist_setup(const struct cfg *, struct bus_shared *);
void		 master_hist_spawn(const struct cfg *, void (*)(void));
int		 master_hist_reaped(int, int);
void		 master_hist_tick(const struct cfg *, time_t, void (*)(void));
void		 master_hist_signal(int);
int		 master_hist_running(void);

#endif /* WSCHATD_HISTORY_H */
