/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * shm_presence.c: the set of online names, shared by every worker, with
 * claims that are atomic across processes and need no lock.
 *
 * An open-addressing table: a name's probe sequence starts at its hash.
 * A slot's state word holds its state, its owner's worker index and a
 * generation that changes with every occupant, so a compare-and-swap on it
 * can never act on a later occupant.  To claim a name:
 *
 *   1. take the first free (EMPTY or TOMB) slot of the sequence: CAS to
 *      BUSY; write the name; publish it as CLAIM;
 *   2. raise sh_maxprobe to cover the slot (scans stop there);
 *   3. scan the sequence for the same name in another slot: a LIVE one
 *      wins; between two CLAIMs the one earlier in the sequence wins, and
 *      it turns the later one into a TOMB with a CAS;
 *   4. CAS our CLAIM to LIVE.  If someone turned it into a TOMB, we lost.
 *
 * Every step is sequentially consistent, so of two claimers of one name at
 * least one sees the other's CLAIM in step 3 (Dekker's argument), and the
 * CASes in steps 3 and 4 decide between them: exactly one name goes LIVE.
 * A dead worker's slots, BUSY ones included, are freed by the master with
 * shm_presence_reap().
 *
 * A name is one name whatever its ASCII case: claims and lookups hash and
 * compare with shm_hash() and shm_hash_equal(), which fold ASCII letters,
 * so "Alice" is taken while "alice" is online and a lookup of "ALICE"
 * finds her.  A slot keeps the name as its owner wrote it.  The owner may
 * change only the case of its name in place (shm_presence_recase()): the
 * slot goes from LIVE to RECASE and back, with a new generation, so that
 * readers wait for the new spelling as they wait for a BUSY slot, and a
 * claimer never sees the name free.  A slot also keeps its owner's room,
 * for the server-wide "who" of a room and the list of rooms; the owner
 * moves it to another room the same way (shm_presence_move()), so a copy
 * of a slot has the name and the room of one moment.
 *
 * Each occupant and spelling has a stamp, ps_seq, drawn from the region's
 * message ids (so never the same twice, on any slot) while the slot is
 * BUSY or RECASE: a reader's copy of it is checked by the generation like
 * the name.  Presence events carry it, so that a worker delivering a
 * login or rename can tell whether the name is still held by the holder
 * the event announces (shm_presence_lookup() gives the holder's stamp).
 * A move to another room keeps it: the name and its holder are the same.
 */

#include <errno.h>
#include <sched.h>
#include <string.h>

#include "shm.h"

#define PS_STATE(w)	((uint32_t)((w) & 0xff))
#define PS_WORKER(w)	((uint32_t)(((w) >> 8) & 0xff))
#define PS_GEN(w)	((w) >> 16)
#define PS_WORD(g, wk, st) \
	((uint64_t)(g) << 16 | (uint64_t)((wk) & 0xff) << 8 | (st))

/* A BUSY (or RECASE) slot becomes readable within a memcpy; its owner's
 * death ends it through the master.  Spin this many times at most,
 * yielding. */
#define PS_SPIN_MAX	1000000

/* Being written: a reader waits, and copies the slot after. */
#define PS_WRITING(w) \
	(PS_STATE(w) == SHM_PS_BUSY || PS_STATE(w) == SHM_PS_RECASE)

static void	 shm_presence_changed(const struct shm_region *);

/* A LIVE name is free again (its slot a TOMB now): count and say so. */
static void
shm_presence_gone(const struct shm_region *reg)
{
	/* Relaxed: a gauge. */
	atomic_fetch_sub_explicit(&reg->hdr->sh_users, 1,
	    memory_order_relaxed);
	shm_presence_changed(reg);
}

/* A room name as the slot keeps it: NUL-padded, cut to SHM_NAME_MAX. */
static void
shm_presence_set_room(struct shm_pslot *s, const char *room, size_t len)
{
	if (len > SHM_NAME_MAX)
		len = SHM_NAME_MAX;
	memset(s->ps_room, 0, sizeof(s->ps_room));
	if (len > 0)
		memcpy(s->ps_room, room, len);
	s->ps_roomlen = (uint8_t)len;
}

/* The fields of a slot whose writer is done or dead, into e. */
static void
shm_presence_copy(const struct shm_pslot *s, struct shm_presence_entry *e,
    size_t *len)
{
	size_t	 rlen;

	*len = s->ps_len > SHM_NAME_MAX ? SHM_NAME_MAX : s->ps_len;
	memcpy(e->name, s->ps_name, *len);
	e->name[*len] = '\0';
	memcpy(e->peer, s->ps_peer, SHM_PEER_MAX);
	e->peer[SHM_PEER_MAX - 1] = '\0';
	rlen = s->ps_roomlen > SHM_NAME_MAX ? SHM_NAME_MAX : s->ps_roomlen;
	memcpy(e->room, s->ps_room, rlen);
	e->room[rlen] = '\0';
	e->worker = s->ps_worker;
	e->kind = s->ps_kind;
	e->conn = s->ps_conn;
	e->seq = s->ps_seq;
	e->sid = s->ps_sid;
	e->begin = s->ps_begin;
	e->expires = atomic_load_explicit(&s->ps_expires,
	    memory_order_relaxed);
}

/*
 * Copy slot s's occupant into e if it has a readable one (CLAIM or LIVE)
 * that did not change while being copied.  Returns the state word seen;
 * waits out a BUSY slot.
 */
static uint64_t
shm_presence_read(struct shm_pslot *s, struct shm_presence_entry *e,
    size_t *len)
{
	uint64_t	 w, w2;
	unsigned	 spins = 0;

	for (;;) {
		/* Acquire: pairs with the release publishing CLAIM. */
		w = atomic_load_explicit(&s->ps_state, memory_order_acquire);
		if (PS_WRITING(w) && ++spins < PS_SPIN_MAX) {
			sched_yield();
			continue;
		}
		if (PS_STATE(w) != SHM_PS_CLAIM && PS_STATE(w) != SHM_PS_LIVE)
			return (w);
		shm_presence_copy(s, e, len);
		/* Acquire fence: the copy before the re-check (seqlock rule). */
		atomic_thread_fence(memory_order_acquire);
		w2 = atomic_load_explicit(&s->ps_state, memory_order_relaxed);
		/* Same generation, written: the same occupant, a valid copy. */
		if (PS_GEN(w2) == PS_GEN(w) && !PS_WRITING(w2))
			return (w2);
	}
}

static void
shm_presence_max(_Atomic uint32_t *a, uint32_t v)
{
	uint32_t	 cur;

	/* Seq_cst: step 2 must precede our scan in the single total order. */
	cur = atomic_load(a);
	while (cur < v && !atomic_compare_exchange_weak(a, &cur, v))
		;
}

/*
 * Claim name for (worker, conn), whose address peer (or NULL) is shown by
 * the line protocol's "who", in room (NUL-ended; NULL: none).  The name
 * is taken if anyone holds it in any ASCII case.  Returns SHM_OK with
 * *slot set (give it back to shm_presence_release()), SHM_TAKEN,
 * SHM_FULL, or SHM_ERR with errno EINVAL if worker does not fit the state
 * word (above 255).  Any worker, any time; the caller checked that name
 * is 1..SHM_NAME_MAX bytes.
 */
int
shm_presence_claim(const struct shm_region *reg, const char *name,
    size_t len, uint32_t worker, uint32_t kind, uint64_t conn,
    const char *peer, const char *room, uint32_t *slot)
{
	struct shm_hdr		*h = reg->hdr;
	struct shm_pslot	*ps = shm_region_pslots(reg), *s, *me = NULL;
	uint32_t		 mask = h->sh_pslots - 1, d, mine = 0, mp;
	uint64_t		 hash = shm_hash(reg, name, len), w, mw;
	struct shm_presence_entry other;
	size_t			 olen;

	/* The state word holds 8 bits of it; more would alias another. */
	if (worker > 0xff) {
		errno = EINVAL;
		return (SHM_ERR);
	}
	/* 1. The first free slot of the sequence. */
	for (d = 0; d < h->sh_pslots && me == NULL; d++) {
		s = &ps[(hash + d) & mask];
		w = atomic_load(&s->ps_state);
		while (PS_STATE(w) == SHM_PS_EMPTY ||
		    PS_STATE(w) == SHM_PS_TOMB) {
			/* Seq_cst CAS: ownership of the slot; failure reloads w. */
			if (atomic_compare_exchange_strong(&s->ps_state, &w,
			    PS_WORD(PS_GEN(w) + 1, worker, SHM_PS_BUSY))) {
				me = s;
				mine = d;
				break;
			}
		}
	}
	if (me == NULL)
		return (SHM_FULL);
	mw = atomic_load_explicit(&me->ps_state, memory_order_relaxed);
	me->ps_worker = worker;
	me->ps_kind = kind;
	me->ps_conn = conn;
	me->ps_seq = shm_region_next_id(reg);
	me->ps_sid = me->ps_secret = me->ps_begin = 0;
	atomic_store_explicit(&me->ps_expires, 0, memory_order_relaxed);
	me->ps_len = (uint8_t)len;
	memcpy(me->ps_name, name, len);
	/* strncpy: NUL-padded, and the last byte stays NUL. */
	strncpy(me->ps_peer, peer != NULL ? peer : "", SHM_PEER_MAX - 1);
	me->ps_peer[SHM_PEER_MAX - 1] = '\0';
	shm_presence_set_room(me, room, room != NULL ? strlen(room) : 0);
	mw = PS_WORD(PS_GEN(mw), worker, SHM_PS_CLAIM);
	/* Seq_cst store (release included): the name is readable first. */
	atomic_store(&me->ps_state, mw);

	/* 2. Scans must reach us. */
	shm_presence_max(&h->sh_maxprobe, mine);

	/* 3. Anyone else with this name? */
	mp = atomic_load(&h->sh_maxprobe);
	for (d = 0; d <= mp && d < h->sh_pslots; d++) {
		if (d == mine)
			continue;
		s = &ps[(hash + d) & mask];
again:
		w = shm_presence_read(s, &other, &olen);
		if ((PS_STATE(w) != SHM_PS_CLAIM &&
		    PS_STATE(w) != SHM_PS_LIVE) ||
		    !shm_hash_equal(other.name, olen, name, len))
			continue;
		if (PS_STATE(w) == SHM_PS_LIVE || d < mine)
			goto lost;
		/* A later CLAIM of our name: it loses.  Seq_cst CAS. */
		if (!atomic_compare_exchange_strong(&s->ps_state, &w,
		    PS_WORD(PS_GEN(w), PS_WORKER(w), SHM_PS_TOMB)))
			goto again;	/* it went LIVE, or away: look again */
	}

	/* 4. Ours, unless an earlier claimer turned us into a TOMB. */
	if (!atomic_compare_exchange_strong(&me->ps_state, &mw,
	    PS_WORD(PS_GEN(mw), worker, SHM_PS_LIVE)))
		return (SHM_TAKEN);
	/* Relaxed: a gauge. */
	atomic_fetch_add_explicit(&h->sh_users, 1, memory_order_relaxed);
	shm_presence_changed(reg);
	*slot = (uint32_t)(me - ps);
	return (SHM_OK);
lost:
	/* Seq_cst CAS; if it fails, the winner already made it a TOMB. */
	atomic_compare_exchange_strong(&me->ps_state, &mw,
	    PS_WORD(PS_GEN(mw), worker, SHM_PS_TOMB));
	return (SHM_TAKEN);
}

/*
 * Give back the name in slot, if (worker, conn) still holds it.  Returns
 * SHM_OK, or SHM_ERR if the slot is not theirs (already released or
 * reaped).  The owning worker.
 */
int
shm_presence_release(const struct shm_region *reg, uint32_t slot,
    uint32_t worker, uint64_t conn)
{
	struct shm_pslot	*s;
	uint64_t		 w;

	if (slot >= reg->hdr->sh_pslots)
		return (SHM_ERR);
	s = &shm_region_pslots(reg)[slot];
	w = atomic_load(&s->ps_state);
	if (PS_STATE(w) != SHM_PS_LIVE || PS_WORKER(w) != worker ||
	    s->ps_conn != conn)
		return (SHM_ERR);
	/* Seq_cst CAS: only the owner or the reaper ends a LIVE slot. */
	if (!atomic_compare_exchange_strong(&s->ps_state, &w,
	    PS_WORD(PS_GEN(w), worker, SHM_PS_TOMB)))
		return (SHM_ERR);
	shm_presence_gone(reg);
	return (SHM_OK);
}

/*
 * Rewrite what the owner may change in its LIVE slot: the spelling of its
 * name (name, len; NULL: keep it) and its room (room, rlen; NULL: keep
 * it).  Returns SHM_OK, or SHM_ERR with errno EINVAL if name is not the
 * same name in another ASCII case, or EPERM if the slot is not (worker,
 * conn)'s (released or reaped).  The owning worker.
 */
static int
shm_presence_rewrite(const struct shm_region *reg, uint32_t slot,
    uint32_t worker, uint64_t conn, const char *name, size_t len,
    const char *room, size_t rlen)
{
	struct shm_pslot	*s;
	uint64_t		 w, mw;
	size_t			 olen;

	if (slot >= reg->hdr->sh_pslots) {
		errno = EPERM;
		return (SHM_ERR);
	}
	s = &shm_region_pslots(reg)[slot];
	w = atomic_load(&s->ps_state);
	if (PS_STATE(w) != SHM_PS_LIVE || PS_WORKER(w) != worker ||
	    s->ps_conn != conn) {
		errno = EPERM;
		return (SHM_ERR);
	}
	/* Only the owner writes a LIVE slot's name: no copy needed. */
	olen = s->ps_len > SHM_NAME_MAX ? SHM_NAME_MAX : s->ps_len;
	if (name != NULL && !shm_hash_equal(s->ps_name, olen, name, len)) {
		errno = EINVAL;
		return (SHM_ERR);
	}
	/*
	 * Seq_cst CAS to RECASE with a new generation: a reader that copied
	 * the old slot and sees another generation after copies again,
	 * once we are done (seqlock rule, as for BUSY).  Only the reaper
	 * may end the slot meanwhile, and it counts RECASE as LIVE.
	 */
	mw = PS_WORD(PS_GEN(w) + 1, worker, SHM_PS_RECASE);
	if (!atomic_compare_exchange_strong(&s->ps_state, &w, mw)) {
		errno = EPERM;
		return (SHM_ERR);
	}
	if (name != NULL) {
		memcpy(s->ps_name, name, len);
		s->ps_seq = shm_region_next_id(reg);
	}
	if (room != NULL)
		shm_presence_set_room(s, room, rlen);
	/* Seq_cst store (release included): the new fields first. */
	atomic_store(&s->ps_state, PS_WORD(PS_GEN(mw), worker, SHM_PS_LIVE));
	shm_presence_changed(reg);
	return (SHM_OK);
}

/*
 * Change the spelling of the name in slot, which (worker, conn) holds, to
 * name: the same name in another ASCII case (shm_hash_equal()).  The name
 * stays taken throughout; lookups and lists see the old spelling or the
 * new one.  Returns SHM_OK, or SHM_ERR with errno EINVAL if name is not
 * the same name, or EPERM if the slot is not theirs (released or
 * reaped).  The owning worker.
 */
int
shm_presence_recase(const struct shm_region *reg, uint32_t slot,
    uint32_t worker, uint64_t conn, const char *name, size_t len)
{
	return (shm_presence_rewrite(reg, slot, worker, conn, name, len,
	    NULL, 0));
}

/*
 * Move the name in slot, which (worker, conn) holds, to the room of len
 * bytes at room (cut to SHM_NAME_MAX).  Lists see it in the old room or
 * the new one, never in neither.  Returns SHM_OK, or SHM_ERR with errno
 * EPERM if the slot is not theirs.  The owning worker.
 */
int
shm_presence_move(const struct shm_region *reg, uint32_t slot,
    uint32_t worker, uint64_t conn, const char *room, size_t len)
{
	return (shm_presence_rewrite(reg, slot, worker, conn, NULL, 0,
	    room, len));
}

/*
 * Who has name, in any ASCII case?  Returns SHM_OK and fills *e (e->name
 * as its owner wrote it), or SHM_EMPTY.  Any process.
 */
int
shm_presence_lookup(const struct shm_region *reg, const char *name,
    size_t len, struct shm_presence_entry *e)
{
	struct shm_hdr		*h = reg->hdr;
	struct shm_pslot	*ps = shm_region_pslots(reg);
	uint64_t		 hash = shm_hash(reg, name, len), w;
	uint32_t		 d, mp, mask = h->sh_pslots - 1;
	size_t			 elen;

	mp = atomic_load(&h->sh_maxprobe);
	for (d = 0; d <= mp && d < h->sh_pslots; d++) {
		w = shm_presence_read(&ps[(hash + d) & mask], e, &elen);
		if (PS_STATE(w) == SHM_PS_LIVE &&
		    shm_hash_equal(e->name, elen, name, len))
			return (SHM_OK);
	}
	return (SHM_EMPTY);
}

/*
 * After a slot went LIVE or stopped being LIVE.  Release: whoever sees
 * the new generation sees the slot's new state too (shm_presence_gen).
 */
static void
shm_presence_changed(const struct shm_region *reg)
{
	atomic_fetch_add_explicit(&reg->hdr->sh_pgen, 1, memory_order_release);
}

/*
 * The generation of the set of names: it changes whenever a name goes
 * online or offline.  A list made by shm_presence_list() after reading
 * generation g is still right while shm_presence_gen() returns g.  Any
 * process.
 */
uint64_t
shm_presence_gen(const struct shm_region *reg)
{
	/* Acquire: pairs with the release in shm_presence_changed(). */
	return (atomic_load_explicit(&reg->hdr->sh_pgen,
	    memory_order_acquire));
}

/* Copy up to max online names into out, in table order; returns count. */
/*
 * The stamp of the occupant of slot, which the caller holds (it claimed
 * or respelled the name there, and wrote the stamp itself).  The owning
 * worker.
 */
uint64_t
shm_presence_seq(const struct shm_region *reg, uint32_t slot)
{
	if (slot >= reg->hdr->sh_pslots)
		return (0);
	return (shm_region_pslots(reg)[slot].ps_seq);
}

size_t
shm_presence_list(const struct shm_region *reg,
    struct shm_presence_entry *out, size_t max)
{
	struct shm_pslot	*ps = shm_region_pslots(reg);
	uint32_t		 i;
	uint64_t		 w;
	size_t			 n = 0, len;

	for (i = 0; i < reg->hdr->sh_pslots && n < max; i++) {
		/* Relaxed first look: most slots are not LIVE (a RECASE
		 * one is, and is read once its owner is done). */
		w = atomic_load_explicit(&ps[i].ps_state, memory_order_relaxed);
		if (PS_STATE(w) != SHM_PS_LIVE && PS_STATE(w) != SHM_PS_RECASE)
			continue;
		w = shm_presence_read(&ps[i], &out[n], &len);
		if (PS_STATE(w) == SHM_PS_LIVE)
			n++;
	}
	return (n);
}

/*
 * Free every slot of a dead worker, whatever its state, and copy up to max
 * of the names it had LIVE into out (for their logouts).  Returns the
 * number of LIVE names freed.  The master, after reaping the worker.
 */
size_t
shm_presence_reap(const struct shm_region *reg, uint32_t worker,
    struct shm_presence_entry *out, size_t max)
{
	struct shm_pslot	*ps = shm_region_pslots(reg), *s;
	uint32_t		 i;
	uint64_t		 w;
	size_t			 n = 0, live = 0, len;

	for (i = 0; i < reg->hdr->sh_pslots; i++) {
		s = &ps[i];
		w = atomic_load(&s->ps_state);
		if (PS_WORKER(w) != worker || PS_STATE(w) == SHM_PS_EMPTY ||
		    PS_STATE(w) == SHM_PS_TOMB)
			continue;
		/*
		 * Copy the fields first: while the slot is the dead worker's
		 * nobody writes them, but once our CAS makes it a TOMB any
		 * claimer may take it and write its own name over them.
		 */
		if (n < max)
			shm_presence_copy(s, &out[n], &len);
		/* The worker is dead: nobody else writes its slots but CASes
		 * that kill CLAIMs, which a failed CAS here tolerates (and
		 * then the copy is dropped).  Seq_cst CAS, release included:
		 * the copy is done before a claimer can see the slot free. */
		if (!atomic_compare_exchange_strong(&s->ps_state, &w,
		    PS_WORD(PS_GEN(w), worker, SHM_PS_TOMB)))
			continue;
		/* A name whose owner died rewriting its case was online. */
		if (PS_STATE(w) != SHM_PS_LIVE && PS_STATE(w) != SHM_PS_RECASE)
			continue;
		live++;
		shm_presence_gone(reg);
		if (n < max) {
			out[n].worker = worker;
			n++;
		}
	}
	return (live);
}

/*
 * Sessions (version 2's resume, hub.c).  A session lives in the slot of
 * its name: its number and secret are written by the owner while the
 * slot is RECASE, like a new spelling.  A connection lost without a
 * goodbye hands the slot to SHM_PS_DETACHED with an expiry; a resuming
 * connection takes it from there (or from a worker that has not noticed
 * the loss yet) with shm_presence_transfer(); the master ends expired
 * ones with shm_presence_expire().  Every step is one CAS on the state
 * word, so two takers, or a taker and the expiry, never both win.
 */

/*
 * Take the LIVE slot that (worker, conn) holds into RECASE, a new
 * generation, for to (its owner when done): readers copy it again once
 * it is LIVE again.  Returns the slot, with *mw its state word, or NULL
 * with errno EPERM if it is not (worker, conn)'s.  ps_conn changes only
 * under RECASE, which changes the generation: if it changed after the
 * load, the CAS fails.
 */
static struct shm_pslot *
shm_presence_hold(const struct shm_region *reg, uint32_t slot,
    uint32_t worker, uint64_t conn, uint32_t to, uint64_t *mw)
{
	struct shm_pslot	*s;
	uint64_t		 w;

	if (slot >= reg->hdr->sh_pslots || to > 0xff)
		goto fail;
	s = &shm_region_pslots(reg)[slot];
	w = atomic_load(&s->ps_state);
	if (PS_STATE(w) != SHM_PS_LIVE || PS_WORKER(w) != worker ||
	    s->ps_conn != conn)
		goto fail;
	/* Seq_cst CAS. */
	*mw = PS_WORD(PS_GEN(w) + 1, to, SHM_PS_RECASE);
	if (!atomic_compare_exchange_strong(&s->ps_state, &w, *mw))
		goto fail;
	return (s);
fail:
	errno = EPERM;
	return (NULL);
}

/*
 * Give the LIVE slot that (worker, conn) holds the session sid with
 * secret, which began after message id begin.  Returns SHM_OK, or SHM_ERR
 * with errno EPERM if the slot is not theirs.  The owning worker.
 */
int
shm_presence_session(const struct shm_region *reg, uint32_t slot,
    uint32_t worker, uint64_t conn, uint64_t sid, uint64_t secret,
    uint64_t begin)
{
	struct shm_pslot	*s;
	uint64_t		 mw;

	if ((s = shm_presence_hold(reg, slot, worker, conn, worker,
	    &mw)) == NULL)
		return (SHM_ERR);
	s->ps_sid = sid;
	s->ps_secret = secret;
	s->ps_begin = begin;
	/* Seq_cst store (release included): the new fields first. */
	atomic_store(&s->ps_state, PS_WORD(PS_GEN(mw), worker, SHM_PS_LIVE));
	return (SHM_OK);
}

/*
 * Hand the LIVE slot that (from, fconn) holds to (to, tconn), name,
 * room and session unchanged; expires is the detached session's expiry
 * (ms; 0 when to is a worker).  Returns SHM_OK, or SHM_ERR with errno
 * EPERM if (from, fconn) no longer holds it (another taker, or the
 * expiry, was first).  Any process.
 */
int
shm_presence_transfer(const struct shm_region *reg, uint32_t slot,
    uint32_t from, uint64_t fconn, uint32_t to, uint64_t tconn,
    uint64_t expires)
{
	struct shm_pslot	*s;
	uint64_t		 mw;

	if ((s = shm_presence_hold(reg, slot, from, fconn, to, &mw)) == NULL)
		return (SHM_ERR);
	s->ps_worker = to;
	s->ps_conn = tconn;
	atomic_store_explicit(&s->ps_expires, expires, memory_order_relaxed);
	atomic_store(&s->ps_state, PS_WORD(PS_GEN(mw), to, SHM_PS_LIVE));
	shm_presence_changed(reg);
	return (SHM_OK);
}

/* Compare two secrets in a time that does not depend on where they
 * differ. */
static int
shm_presence_secret_equal(uint64_t a, uint64_t b)
{
	volatile uint64_t	 d = a ^ b;

	return (d == 0);
}

/*
 * Which LIVE slot holds session sid with secret?  Looks at slot hint
 * first (where the session began; a rename moves it), then at every
 * slot.  Returns SHM_OK with *e and *slot, or SHM_EMPTY.  Any process.
 */
int
shm_presence_find_session(const struct shm_region *reg, uint32_t hint,
    uint64_t sid, uint64_t secret, struct shm_presence_entry *e,
    uint32_t *slot)
{
	struct shm_pslot	*ps = shm_region_pslots(reg);
	uint32_t		 i, n = reg->hdr->sh_pslots;
	uint64_t		 w;
	size_t			 len;

	if (sid == 0)
		return (SHM_EMPTY);
	for (i = 0; i <= n; i++) {
		uint32_t k = i == 0 ? hint : i - 1;

		if (k >= n || (i > 0 && k == hint) ||
		    ps[k].ps_sid != sid)	/* a racy hint; read() checks */
			continue;
		w = shm_presence_read(&ps[k], e, &len);
		if (PS_STATE(w) != SHM_PS_LIVE || e->sid != sid ||
		    !shm_presence_secret_equal(ps[k].ps_secret, secret))
			continue;
		e->worker = PS_WORKER(w);
		*slot = k;
		return (SHM_OK);
	}
	return (SHM_EMPTY);
}

/*
 * A dead worker's sessions: hand every LIVE slot of worker that has a
 * session to SHM_PS_DETACHED, expiring at expires (ms), so that
 * shm_presence_reap() leaves them.  Returns how many.  The master.
 */
size_t
shm_presence_detach_all(const struct shm_region *reg, uint32_t worker,
    uint64_t expires)
{
	struct shm_pslot	*ps = shm_region_pslots(reg);
	uint32_t		 i;
	uint64_t		 w;
	size_t			 n = 0;

	for (i = 0; i < reg->hdr->sh_pslots; i++) {
		w = atomic_load(&ps[i].ps_state);
		if (PS_WORKER(w) != worker || PS_STATE(w) != SHM_PS_LIVE ||
		    ps[i].ps_sid == 0)
			continue;
		if (shm_presence_transfer(reg, i, worker, ps[i].ps_conn,
		    SHM_PS_DETACHED, ps[i].ps_sid, expires) == SHM_OK)
			n++;
	}
	return (n);
}

/*
 * End every detached session whose expiry is at or before now (ms):
 * free its name and copy up to max of them into out, for their logouts.
 * Returns how many were copied; call again while it returns max.  The
 * master.
 */
size_t
shm_presence_expire(const struct shm_region *reg, uint64_t now,
    struct shm_presence_entry *out, size_t max)
{
	struct shm_pslot	*ps = shm_region_pslots(reg), *s;
	uint32_t		 i;
	uint64_t		 w;
	size_t			 n = 0, len;

	for (i = 0; i < reg->hdr->sh_pslots && n < max; i++) {
		s = &ps[i];
		w = atomic_load(&s->ps_state);
		if (PS_WORKER(w) != SHM_PS_DETACHED ||
		    PS_STATE(w) != SHM_PS_LIVE ||
		    atomic_load_explicit(&s->ps_expires,
		    memory_order_relaxed) > now)
			continue;
		/* Nobody writes a detached slot but through a CAS on its
		 * state word: a copy taken before ours succeeds is whole. */
		shm_presence_copy(s, &out[n], &len);
		if (!atomic_compare_exchange_strong(&s->ps_state, &w,
		    PS_WORD(PS_GEN(w), SHM_PS_DETACHED, SHM_PS_TOMB)))
			continue;	/* resumed meanwhile */
		shm_presence_gone(reg);
		out[n++].worker = SHM_PS_DETACHED;
	}
	return (n);
}
