/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * bus.h: one process's end of the broadcast bus between workers: publish
 * an event on the one ring (which gives chat messages their ids), wake
 * the workers that sleep, and read the ring as an iterator (bus_next()),
 * whose caller decides what each event means.  Workers and the master
 * (which announces a dead worker's logouts) use the same calls.
 */

#ifndef WSCHATD_BUS_H
#define WSCHATD_BUS_H

#include <stddef.h>
#include <stdint.h>

#include "wschatd.h"
#include "chat.h"
#include "shm.h"

/*
 * The ring every process publishes on.  The region has one per slot, of
 * which the bus uses the first: one order for every reader was worth
 * more than producers that never wait (the mutex is held for a memcpy;
 * see scripts/bench/results/ for what it costs).  The history process
 * reads it too.
 */
#define BUS_RING	0

/* What the master sets up before it forks, and every worker inherits. */
struct bus_shared {
	struct shm_region	 reg;
	unsigned		 nworkers;	/* slots; the master's ring is last */
	int			 efd[WSCHATD_MAX_SLOTS];	/* eventfds */
};

/* What bus_next() hands out: a count of lost records, or an event. */
struct bus_item {
	uint64_t		 lost;		/* >0: lost before the next event */
	int			 past;		/* from before we attached */
	struct chat_env		 env;		/* with lost == 0: the event */
};

/* One process's end: bus.c's part of struct worker. */
struct bus {
	struct bus_shared	*sh;
	unsigned		 id;		/* our ring */
	struct shm_ring		*ring;		/* ours, as producer */
	struct shm_stats	*st;		/* our counters; NULL: none */
	struct buf		 out;		/* one record, encoded */
	int			 published;	/* since the last bus_wake() */
	/* Reading (workers only). */
	struct shm_cursor	 cursor;
	uint64_t		 live_from;	/* ring position at attach */
	uint8_t			*rec;		/* one record, read */
	size_t			 recsz;
	size_t			 reclen;
	struct chat_dec		*dec;
	struct chat_env		 held_env;	/* decoded from rec, */
	int			 held;		/* not handed out yet */
	int			 held_past;
	/* The pass under way (bus_pass_begin() to bus_pass_end()). */
	int			 pdone;		/* nothing more this pass */
	unsigned		 pn;		/* records taken */
	uint64_t		 pbytes;	/* queued per client, at most */
	uint64_t		 pbudget;
	uint64_t		 plag;
	int			 pmore;
};

void		 bus_init(struct bus *, struct bus_shared *, unsigned,
		    struct shm_stats *);
int		 bus_attach(struct bus *, uint64_t);
void		 bus_clear(struct bus *);
int		 bus_publish(struct bus *, struct chat_env *);
size_t		 bus_max_record(const struct bus *);
size_t		 bus_encoded_len(const struct bus *);
void		 bus_wake(struct bus *);
void		 bus_pass_begin(struct bus *, uint64_t);
int		 bus_next(struct bus *, struct bus_item *);
void		 bus_sent(struct bus *, size_t);
int		 bus_pass_end(struct bus *);
int		 bus_idle(struct bus *);
void		 bus_busy(struct bus *);
void		 bus_wake_read(int);

#endif /* WSCHATD_BUS_H */
