/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * bus.c: one process's end of the broadcast bus.  Every process
 * publishes on the one ring, under the producers' mutex, which also gives
 * each chat message its id: so every reader sees one order of all events,
 * and ids increase in it (a client that saw id N saw everything before
 * it, which is what resume relies on).  A worker reads the ring through
 * bus_next(), an iterator whose caller (worker.c) hands each event to the
 * hub; local delivery takes the same path.  And it runs the wake-up
 * protocol, for the workers and for the master alike:
 *
 *   consumer, before blocking:  sw_idle = 1; fence; look at the head;
 *                               anything new?  sw_idle = 0, drain again.
 *   producer, once per loop:    (head stored) fence; for each worker:
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
#include <unistd.h>

#include "bus.h"

/* Records taken in a pass before the sockets get a turn. */
#define BUS_BATCH	256

/* Drain our eventfd, so that the next write wakes us again. */
void
bus_wake_read(int fd)
{
	uint64_t	 n;

	if (read(fd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_warn("%s: read eventfd", __func__);
}

/*
 * Set up b to publish on ring id of sh, counting in st (NULL: no
 * counters; the master).  Enough to publish and wake; a worker then
 * calls bus_attach() to read.
 */
void
bus_init(struct bus *b, struct bus_shared *sh, unsigned id,
    struct shm_stats *st)
{
	memset(b, 0, sizeof(*b));
	b->sh = sh;
	b->id = id;
	b->ring = shm_region_ring(&sh->reg, BUS_RING);
	b->st = st;
	buf_init(&b->out, 0);
}

/*
 * Start reading the ring at from, a record boundary (the history
 * process's committed position), or at its head if from is 0 or lapped
 * already: what lies before the head as it is now comes out of
 * bus_next() marked past, to be remembered but not delivered (a
 * respawned worker does not replay what its predecessor delivered).
 * worker.c watches our eventfd.  Returns 0, or -1 if out of memory.
 * Worker process.
 */
int
bus_attach(struct bus *b, uint64_t from)
{
	struct shm_region	*reg = &b->sh->reg;
	struct shm_cursor	*c = &b->cursor;

	shm_ring_cursor_init(b->ring, c);
	b->live_from = c->sc_pos;
	if (from != 0 && c->sc_pos - from < b->ring->sr_size)
		shm_ring_cursor_at(b->ring, c, from);
	b->recsz = shm_ring_max_record(b->ring);
	if ((b->rec = malloc(b->recsz)) == NULL ||
	    (b->dec = chat_dec_new()) == NULL)
		return (-1);
	/* Relaxed: nobody reads our flag until we block for the first time. */
	atomic_store_explicit(&shm_region_wake(reg, b->id)->sw_idle, 0,
	    memory_order_relaxed);
	return (0);
}

void
bus_clear(struct bus *b)
{
	free(b->rec);
	b->rec = NULL;
	chat_dec_free(b->dec);
	b->dec = NULL;
	buf_clear(&b->out);
}

/*
 * Publish an event on the ring; a chat or private message gets its id
 * here, in e->id.  Returns 0, or -1 with errno EMSGSIZE if its record is
 * larger than a ring record may be (bus_encoded_len() says how large it
 * was), or ENOMEM if it could not be encoded.  Any process; bus_wake()
 * then wakes the readers.
 */
int
bus_publish(struct bus *b, struct chat_env *e)
{
	struct shm_region	*reg = &b->sh->reg;
	int			 rv;

	b->out.len = 0;
	/*
	 * The id is taken, and so the record encoded, under the mutex:
	 * ids must increase in ring order.  Encoding costs about as much as
	 * the copy; a measured alternative (a patch of the id into a record
	 * encoded before) saved nothing worth a second encoder.
	 */
	shm_region_lock(reg);
	if (e->type == CHAT_USER || e->type == CHAT_PRIVATE)
		e->id = shm_region_msg_id(reg);
	if (chat_env_encode(e, &b->out) == -1 || b->out.failed) {
		shm_region_unlock(reg);
		b->out.failed = 0;
		errno = ENOMEM;
		return (-1);
	}
	rv = shm_ring_publish(reg, b->ring, b->out.base, b->out.len);
	shm_region_unlock(reg);
	if (rv == SHM_ERR) {
		if (b->st != NULL)
			shm_stat_add(&b->st->st_bus_too_big, 1);
		errno = EMSGSIZE;
		return (-1);
	}
	if (b->st != NULL)
		shm_stat_add(&b->st->st_bus_published, 1);
	b->published = 1;
	return (0);
}

/* The largest record the ring takes, envelope included. */
size_t
bus_max_record(const struct bus *b)
{
	return (shm_ring_max_record(b->ring));
}

/* The size of the last record bus_publish() encoded. */
size_t
bus_encoded_len(const struct bus *b)
{
	return (b->out.len);
}

/*
 * After publishing: wake the workers that sleep.  Once per loop iteration
 * is enough, however many events it published.
 */
void
bus_wake(struct bus *b)
{
	struct shm_region	*reg = &b->sh->reg;
	uint64_t		 one = 1;
	unsigned		 i;

	if (!b->published)
		return;
	b->published = 0;
	/* Seq_cst fence: our head stores before the flag loads (Dekker). */
	atomic_thread_fence(memory_order_seq_cst);
	for (i = 0; i < b->sh->nworkers; i++) {
		if (i == b->id)
			continue;
		/* Seq_cst exchange: exactly one producer wakes a sleeper. */
		if (atomic_exchange_explicit(&shm_region_wake(reg, i)->sw_idle,
		    0, memory_order_seq_cst) != 1)
			continue;
		if (write(b->sh->efd[i], &one, sizeof(one)) == -1 &&
		    errno != EAGAIN)
			log_warn("%s: write eventfd", __func__);
		if (b->st != NULL)
			shm_stat_add(&b->st->st_wakeups_sent, 1);
	}
}

/*
 * A pass over the ring: bus_pass_begin(), then bus_next() until it
 * returns 0, with bus_sent() after each event the caller delivered, then
 * bus_pass_end().  A pass takes at most BUS_BATCH records, and fewer
 * when the frames they make are large: no client may be handed more than
 * budget bytes in one pass (worker.c gives a quarter of max_pending),
 * because nothing is written to sockets during a pass, and a client that
 * keeps up must never look like a slow one.
 */
void
bus_pass_begin(struct bus *b, uint64_t budget)
{
	b->pdone = 0;
	b->pn = 0;
	b->pbytes = b->plag = 0;
	b->pbudget = budget;
	b->pmore = 0;
}

/*
 * The next thing the pass brings: returns 1 with *it an event, or a count
 * of records lost just before the next event (this worker fell a lap
 * behind: its clients should hear of it); 0 when the pass is over.  The
 * event's strings point into our record buffer: valid until the next
 * call.  Worker process.
 */
int
bus_next(struct bus *b, struct bus_item *it)
{
	struct shm_region	*reg = &b->sh->reg;
	struct shm_ring		*r = b->ring;
	struct shm_cursor	*c = &b->cursor;
	uint64_t		 lost, pos;
	int			 rv;

	it->lost = 0;
	if (b->held) {			/* after its loss was handed out */
		b->held = 0;
		it->env = b->held_env;
		it->past = b->held_past;
		return (1);
	}
	while (!b->pdone) {
		if (!shm_ring_pending(r, c))
			goto done;
		if (b->pn == BUS_BATCH || b->pbytes >= b->pbudget) {
			b->pmore = 1;
			goto done;
		}
		b->pn++;
		lost = c->sc_lost;
		pos = c->sc_pos;
		rv = shm_ring_read(reg, r, c, b->rec, b->recsz, &b->reclen);
		if (rv == SHM_EMPTY)
			goto done;
		if (rv == SHM_LOST) {
			log_warnx("bus: fell behind; skipped %llu bytes",
			    (unsigned long long)c->sc_lost_bytes);
			continue;
		}
		it->past = (int64_t)(b->live_from - pos) > 0;
		if (c->sc_lost != lost) {
			it->lost = c->sc_lost - lost;
			shm_stat_add(&b->st->st_bus_lost, it->lost);
			log_warnx("bus: lost %llu records",
			    (unsigned long long)it->lost);
		}
		shm_stat_add(&b->st->st_bus_read, 1);
		if (chat_env_decode(b->dec, (const char *)b->rec, b->reclen,
		    &it->env) == -1) {
			log_warnx("bus: undecodable record");
			if (it->lost > 0)
				return (1);
			continue;
		}
		if (it->lost > 0) {
			/* The loss first; this event at the next call. */
			b->held_env = it->env;
			b->held_past = it->past;
			b->held = 1;
		}
		return (1);
	}
	return (0);
done:
	b->plag += shm_ring_lag(r, c);
	b->pdone = 1;
	return (0);
}

/* The event just handed out made frames of up to n bytes per client. */
void
bus_sent(struct bus *b, size_t n)
{
	b->pbytes += n > b->reclen ? n : b->reclen;
}

/*
 * End the pass.  Returns 1 if records are left over (the budget or the
 * batch ran out), 0 if the ring is drained.
 */
int
bus_pass_end(struct bus *b)
{
	/*
	 * The lag gauge: what this pass left unread, i.e. the backlog.  Set
	 * on every pass, not from the 1 s sweep: it costs one load of a head
	 * bus_idle() loads anyway, it is never a second stale, and a sample
	 * taken between passes would count records that are merely on their
	 * way.  Our cursor is ours alone, so nobody else could work it out.
	 * Relaxed: a value on its own; readers need no order with it.
	 */
	atomic_store_explicit(&b->st->st_bus_lag, b->plag,
	    memory_order_relaxed);
	return (b->pmore);
}

/*
 * About to block: say so, then look once more.  Returns 1 if the loop may
 * block, 0 if records arrived meanwhile (the flag is cleared again).
 */
int
bus_idle(struct bus *b)
{
	struct shm_region	*reg = &b->sh->reg;
	struct shm_wake		*me = shm_region_wake(reg, b->id);

	/* Seq_cst store and fence: the flag before the head loads (Dekker). */
	atomic_store_explicit(&me->sw_idle, 1, memory_order_seq_cst);
	atomic_thread_fence(memory_order_seq_cst);
	if (shm_ring_pending(b->ring, &b->cursor)) {
		atomic_store_explicit(&me->sw_idle, 0,
		    memory_order_relaxed);	/* only a hint to others */
		return (0);
	}
	return (1);
}

/* Back from blocking: producers need not wake us. */
void
bus_busy(struct bus *b)
{
	/* Relaxed: a stale 1 costs one spare eventfd write, nothing else. */
	atomic_store_explicit(&shm_region_wake(&b->sh->reg, b->id)->sw_idle,
	    0, memory_order_relaxed);
}
