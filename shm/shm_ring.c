/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * shm_ring.c: a bounded ring of variable-size records with one producer
 * and any number of readers, each with its own cursor in its own memory.
 * Publishing is wait-free; reading never writes to the region, so a reader
 * that dies leaves nothing behind.  A producer that dies mid-record leaves
 * its reservation in place: its successor never moves sr_reserve back, so
 * a reader a lap behind still sees that those bytes were overwritten, and
 * nobody reads past sr_head.  The diagram and the protocol are in shm.h.
 *
 * A record is an 8-byte header (length, then the producer's sequence
 * number) and the payload, padded to 8 bytes.  A record that would not fit
 * before the end of the data area is preceded by a SKIP header that sends
 * readers back to the start.  Sequence numbers let a reader that lost
 * records count exactly how many.
 */

#include <errno.h>
#include <string.h>

#include "shm.h"

#define SHM_RING_SKIP	0xffffffffU
#define SHM_RING_HDR	8
#define SHM_CUR_FRESH	2	/* sc_resync: no record read yet */

static uint8_t *
shm_ring_data(const struct shm_region *reg, const struct shm_ring *r)
{
	return ((uint8_t *)reg->hdr + r->sr_data_off);
}

static uint64_t
shm_ring_span(size_t len)
{
	return (SHM_RING_HDR + ((len + SHM_REC_ALIGN - 1) &
	    ~(uint64_t)(SHM_REC_ALIGN - 1)));
}

/* The largest payload a ring takes: a quarter of it, so laps stay long. */
size_t
shm_ring_max_record(const struct shm_ring *r)
{
	return ((size_t)(r->sr_size / 4) - SHM_RING_HDR);
}

static void
shm_ring_put_hdr(uint8_t *p, uint32_t len, uint32_t seq)
{
	memcpy(p, &len, 4);
	memcpy(p + 4, &seq, 4);
}

/*
 * Publish len bytes at msg as one record.  Only the ring's producer calls
 * this (one process per ring).  Returns SHM_OK, or SHM_ERR with errno
 * EMSGSIZE if the record is larger than shm_ring_max_record().  Never
 * waits for readers.
 */
int
shm_ring_publish(const struct shm_region *reg, struct shm_ring *r,
    const void *msg, size_t len)
{
	uint8_t		*data = shm_ring_data(reg, r);
	uint64_t	 h, off, room, span, total, res, nrec;
	uint64_t	 mask = r->sr_size - 1;
	uint32_t	 seq;

	if (len > shm_ring_max_record(r)) {
		errno = EMSGSIZE;
		return (SHM_ERR);
	}
	/* Relaxed: this process is the only writer of sr_head and sr_records. */
	h = atomic_load_explicit(&r->sr_head, memory_order_relaxed);
	nrec = atomic_load_explicit(&r->sr_records, memory_order_relaxed);
	seq = (uint32_t)nrec;
	off = h & mask;
	room = r->sr_size - off;	/* a multiple of 8, never 0 */
	span = shm_ring_span(len);
	total = span > room ? room + span : span;

	/* A producer killed mid-record left sr_reserve past sr_head and may
	 * have overwritten the bytes up to it: never move it back, or a
	 * reader a lap behind trusts them.  Relaxed load: ours alone. */
	res = atomic_load_explicit(&r->sr_reserve, memory_order_relaxed);
	if ((int64_t)(h + total - res) > 0)
		res = h + total;
	/* Relaxed store + release fence: readers that see any byte written
	 * below also see the reservation. */
	atomic_store_explicit(&r->sr_reserve, res, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	if (span > room) {
		shm_ring_put_hdr(data + off, SHM_RING_SKIP, seq);
		off = 0;
	}
	shm_ring_put_hdr(data + off, (uint32_t)len, seq);
	memcpy(data + off + SHM_RING_HDR, msg, len);
	/* Relaxed: a statistic and the next sequence number, ours alone. */
	atomic_store_explicit(&r->sr_records, nrec + 1, memory_order_relaxed);
	/* Release: the record is complete before readers can see the new
	 * head; pairs with the acquire in shm_ring_read(). */
	atomic_store_explicit(&r->sr_head, h + total, memory_order_release);
	return (SHM_OK);
}

/* A new reader (or a respawned worker) starts at the current head. */
/*
 * A cursor at pos, a record boundary this ring had (one a cursor of it
 * reached, kept by a process that died): reads what followed it, or
 * finds it lost if the ring has lapped it since.  Any process.
 */
void
shm_ring_cursor_at(const struct shm_ring *r, struct shm_cursor *c,
    uint64_t pos)
{
	shm_ring_cursor_init(r, c);
	if ((int64_t)(c->sc_pos - pos) > 0)
		c->sc_pos = pos;
}

void
shm_ring_cursor_init(const struct shm_ring *r, struct shm_cursor *c)
{
	struct shm_ring	*rw = (struct shm_ring *)r;

	memset(c, 0, sizeof(*c));
	/* Acquire: pairs with publish; everything before the head is done. */
	c->sc_pos = atomic_load_explicit(&rw->sr_head, memory_order_acquire);
	/* Relaxed: a guess, used only if we are lapped before the first
	 * record.  The producer counts a record before it moves the head, and
	 * may publish more between our two loads, so the guess can be ahead
	 * of the record at sc_pos; the first record read gives the exact
	 * number (SHM_CUR_FRESH). */
	c->sc_seq = (uint32_t)atomic_load_explicit(&rw->sr_records,
	    memory_order_relaxed);
	c->sc_resync = SHM_CUR_FRESH;
}

/* Jump to the head after losing records; the next read counts them. */
static int
shm_ring_lost(struct shm_cursor *c, uint64_t head)
{
	c->sc_lost_bytes += head - c->sc_pos;
	c->sc_pos = head;
	c->sc_resync = 1;
	return (SHM_LOST);
}

/*
 * Copy the next record for cursor c into out (outsz bytes, at least
 * shm_ring_max_record()).  Returns SHM_OK with *len set, SHM_EMPTY, or
 * SHM_LOST when the reader fell a lap behind or the record was overwritten
 * while being copied: the cursor has moved to the head and the loss is
 * counted in c.  Any process; writes nothing shared.
 */
int
shm_ring_read(const struct shm_region *reg, struct shm_ring *r,
    struct shm_cursor *c, void *out, size_t outsz, size_t *len)
{
	const uint8_t	*data = shm_ring_data(reg, r);
	uint64_t	 head, off, mask = r->sr_size - 1, span;
	uint32_t	 rlen, seq;

	/* Acquire: pairs with the release store in publish. */
	head = atomic_load_explicit(&r->sr_head, memory_order_acquire);
	for (;;) {
		if (head == c->sc_pos)
			return (SHM_EMPTY);
		if (head - c->sc_pos > r->sr_size)
			return (shm_ring_lost(c, head));	/* a lap behind */
		off = c->sc_pos & mask;
		memcpy(&rlen, data + off, 4);
		memcpy(&seq, data + off + 4, 4);
		if (rlen == SHM_RING_SKIP)
			span = r->sr_size - off;
		else {
			span = shm_ring_span(rlen);
			/* A torn header is caught by the reserve check below;
			 * do not copy garbage lengths meanwhile. */
			if (rlen > outsz || span > head - c->sc_pos ||
			    off + span > r->sr_size)
				span = 0;
			else
				memcpy(out, data + off + SHM_RING_HDR, rlen);
		}
		/* Acquire fence: the copy is ordered before the re-read; pairs
		 * with the producer's release fence. */
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&r->sr_reserve, memory_order_relaxed) -
		    c->sc_pos > r->sr_size)
			return (shm_ring_lost(c, head));	/* overwritten */
		if (span == 0)
			return (shm_ring_lost(c, head));	/* cannot happen */
		c->sc_pos += span;
		if (rlen == SHM_RING_SKIP)
			continue;
		if (c->sc_resync == SHM_CUR_FRESH)
			;	/* the record at the head we started from */
		else if (c->sc_resync || seq != c->sc_seq)
			/* Count what was skipped, from the sequence numbers. */
			c->sc_lost += (uint32_t)(seq - c->sc_seq);
		c->sc_resync = 0;
		c->sc_seq = seq + 1;
		*len = rlen;
		return (SHM_OK);
	}
}

/* Is there anything for c?  Cheap enough to call every loop iteration. */
int
shm_ring_pending(struct shm_ring *r, const struct shm_cursor *c)
{
	/* Relaxed: a hint; shm_ring_read() does the ordered load. */
	return (atomic_load_explicit(&r->sr_head, memory_order_relaxed) !=
	    c->sc_pos);
}

/*
 * Bytes published on r that this cursor has not read yet: how far its
 * reader is behind (more than sr_size once it has been lapped).  The
 * reader, any time.
 */
uint64_t
shm_ring_lag(struct shm_ring *r, const struct shm_cursor *c)
{
	/* Relaxed: a gauge, stale by a record or two at worst. */
	return (atomic_load_explicit(&r->sr_head, memory_order_relaxed) -
	    c->sc_pos);
}
