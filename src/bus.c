/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * bus.c: a worker's end of the broadcast bus.  It publishes this worker's
 * events on its own ring, drains every ring (its own included: local
 * delivery takes the same path, so every worker sees one order per
 * sender) and hands each record to hub.c, and runs the wake-up protocol:
 *
 *   consumer, before blocking:  sw_idle = 1; fence; look at every head;
 *                               anything new?  sw_idle = 0, drain again.
 *   producer, once per loop:    (heads stored) fence; for each worker:
 *                               exchange(sw_idle, 0) == 1?  write eventfd.
 *
 * Both fences are sequentially consistent, so either the consumer sees
 * the new head or the producer sees the flag (Dekker): no record waits
 * for the next unrelated event.  A worker is woken at most once per
 * producer loop iteration, and only when it said it was idle: eventfd
 * writes cost tens of microseconds across cores here.
 */

#include <sys/eventfd.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"

/* Drain our eventfd, so that the next write wakes us again. */
void
bus_wake_read(int fd)
{
	uint64_t	 n;

	if (read(fd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_warn("%s: read eventfd", __func__);
}

/*
 * Start reading every ring at its head (a respawned worker does not replay
 * what its predecessor saw).  worker.c watches our eventfd.  Returns 0, or
 * -1 if out of memory.
 */
int
bus_attach(struct worker *w)
{
	struct shm_region	*reg = &w->bus->reg;
	unsigned		 i;

	w->ring = shm_region_ring(reg, w->id);
	w->st = shm_region_stats(reg, w->id);
	shm_stats_attach(w->st, (uint32_t)getpid(), (uint64_t)time(NULL));
	for (i = 0; i < reg->hdr->sh_nrings; i++)
		shm_ring_cursor_init(shm_region_ring(reg, i), &w->cursors[i]);
	w->recsz = shm_ring_max_record(w->ring);
	if ((w->rec = malloc(w->recsz)) == NULL)
		return (-1);
	msgpack_sbuffer_init(&w->sbuf);
	/* Relaxed: nobody reads our flag until we block for the first time. */
	atomic_store_explicit(&shm_region_wake(reg, w->id)->sw_idle, 0,
	    memory_order_relaxed);
	/* Relaxed: informational, for whoever inspects the region. */
	atomic_store_explicit(&shm_region_wake(reg, w->id)->sw_pid,
	    (uint32_t)getpid(), memory_order_relaxed);
	return (0);
}

void
bus_detach(struct worker *w)
{
	free(w->rec);
	w->rec = NULL;
	msgpack_sbuffer_destroy(&w->sbuf);
}

/*
 * Publish an event from this worker.  Returns 0, or -1 with errno
 * EMSGSIZE if it is larger than a ring record may be.
 */
int
bus_publish(struct worker *w, const struct chat_env *e)
{
	msgpack_sbuffer_clear(&w->sbuf);
	if (chat_env_encode(e, &w->sbuf) == -1) {
		errno = ENOMEM;
		return (-1);
	}
	if (shm_ring_publish(&w->bus->reg, w->ring, w->sbuf.data,
	    w->sbuf.size) == SHM_ERR) {
		shm_stat_add(&w->st->st_bus_too_big, 1);
		return (-1);
	}
	shm_stat_add(&w->st->st_bus_published, 1);
	w->published = 1;
	return (0);
}

/* Records taken from one ring before the sockets get a turn. */
#define BUS_BATCH	256

/*
 * Hand new records to the hub, at most BUS_BATCH per ring, and fewer when
 * the frames they make are large: no client may be handed more than a
 * quarter of max_pending in one pass, because nothing is written to
 * sockets during a pass, and a client that keeps up must never look like
 * a slow one.  Each pass starts one ring further, so that a busy ring
 * cannot starve the ones after it.  Returns 1 if records are left over,
 * 0 if every ring is drained.
 */
int
bus_drain(struct worker *w)
{
	struct shm_region	*reg = &w->bus->reg;
	struct shm_ring		*r;
	struct chat_env		 e;
	msgpack_unpacked	 up;
	unsigned		 i, k, n, nrings = reg->hdr->sh_nrings;
	uint64_t		 lost, lag = 0, bytes = 0;
	uint64_t		 budget = w->cfg->max_pending / 4;
	size_t			 len, sent;
	int			 rv, more = 0;

	msgpack_unpacked_init(&up);
	w->drain_first = (w->drain_first + 1) % nrings;
	for (k = 0; k < nrings; k++) {
		i = (w->drain_first + k) % nrings;
		r = shm_region_ring(reg, i);
		for (n = 0; shm_ring_pending(r, &w->cursors[i]); n++) {
			if (n == BUS_BATCH || bytes >= budget) {
				more = 1;
				break;
			}
			lost = w->cursors[i].sc_lost;
			rv = shm_ring_read(reg, r, &w->cursors[i], w->rec,
			    w->recsz, &len);
			if (rv == SHM_EMPTY)
				break;
			if (rv == SHM_LOST) {
				log_warnx("bus: fell behind on ring %u; "
				    "skipped %llu bytes", i, (unsigned long long)
				    (w->cursors[i].sc_lost_bytes));
				continue;
			}
			if (w->cursors[i].sc_lost != lost) {
				shm_stat_add(&w->st->st_bus_lost,
				    w->cursors[i].sc_lost - lost);
				log_warnx("bus: lost %llu records of ring %u",
				    (unsigned long long)(w->cursors[i].sc_lost -
				    lost), i);
				hub_lost(w, w->cursors[i].sc_lost - lost);
			}
			shm_stat_add(&w->st->st_bus_read, 1);
			if (chat_env_decode((const char *)w->rec, len, &e,
			    &up) == -1) {
				log_warnx("bus: undecodable record on ring %u",
				    i);
				continue;
			}
			sent = hub_deliver(w, &e);
			bytes += sent > len ? sent : len;
		}
		lag += shm_ring_lag(r, &w->cursors[i]);
	}
	/*
	 * The lag gauge: what this pass left unread, i.e. the backlog.  Set
	 * on every pass, not from the 1 s sweep: it costs one load of a head
	 * bus_idle() loads anyway, it is never a second stale, and a sample
	 * taken between passes would count records that are merely on their
	 * way.  Our cursors are ours alone, so nobody else could work it out.
	 * Relaxed: a value on its own; readers need no order with it.
	 */
	atomic_store_explicit(&w->st->st_bus_lag, lag, memory_order_relaxed);
	msgpack_unpacked_destroy(&up);
	return (more);
}

/* After a loop iteration that published: wake the workers that sleep. */
void
bus_wake_flush(struct worker *w)
{
	struct shm_region	*reg = &w->bus->reg;
	uint64_t		 one = 1;
	unsigned		 i;

	if (!w->published)
		return;
	w->published = 0;
	/* Seq_cst fence: our head stores before the flag loads (Dekker). */
	atomic_thread_fence(memory_order_seq_cst);
	for (i = 0; i < w->bus->nworkers; i++) {
		if (i == w->id)
			continue;
		/* Seq_cst exchange: exactly one producer wakes a sleeper. */
		if (atomic_exchange_explicit(&shm_region_wake(reg, i)->sw_idle,
		    0, memory_order_seq_cst) != 1)
			continue;
		if (write(w->bus->efd[i], &one, sizeof(one)) == -1 &&
		    errno != EAGAIN)
			log_warn("%s: write eventfd", __func__);
		shm_stat_add(&w->st->st_wakeups_sent, 1);
	}
}

/*
 * About to block: say so, then look once more.  Returns 1 if the loop may
 * block, 0 if records arrived meanwhile (the flag is cleared again).
 */
int
bus_idle(struct worker *w)
{
	struct shm_region	*reg = &w->bus->reg;
	struct shm_wake		*me = shm_region_wake(reg, w->id);
	unsigned		 i;

	/* Seq_cst store and fence: the flag before the head loads (Dekker). */
	atomic_store_explicit(&me->sw_idle, 1, memory_order_seq_cst);
	atomic_thread_fence(memory_order_seq_cst);
	for (i = 0; i < reg->hdr->sh_nrings; i++)
		if (shm_ring_pending(shm_region_ring(reg, i),
		    &w->cursors[i])) {
			atomic_store_explicit(&me->sw_idle, 0,
			    memory_order_relaxed);	/* only a hint to others */
			return (0);
		}
	return (1);
}

/* Back from blocking: producers need not wake us. */
void
bus_busy(struct worker *w)
{
	/* Relaxed: a stale 1 costs one spare eventfd write, nothing else. */
	atomic_store_explicit(&shm_region_wake(&w->bus->reg, w->id)->sw_idle,
	    0, memory_order_relaxed);
}
