/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * shm_ipc.c: connections per client address across all workers, for
 * max_connections_per_ip.
 *
 * Each worker slot has a table of its own in the region: the addresses
 * it holds connections from, and how many.  Only its worker writes it;
 * any worker reads all of them to add up an address's connections before
 * it accepts one more.  A dead worker's table is emptied by the master
 * (shm_ipc_reap()), so its connections stop counting with it; that is why
 * there is a table per slot and not one shared count, which nobody could
 * correct after a crash.
 *
 * Linear probing from a keyed hash (shm_hash.c: addresses are the
 * clients' to choose), deletion by backward shift, so there are no
 * tombstones and a lookup ends at the first empty entry.  A reader racing
 * the owner may count an entry being moved twice, or a count one behind:
 * the limit is exact while connections come one at a time, and may let
 * one more in per worker when several arrive at the same instant.
 */

#include <string.h>

#include "shm.h"

static uint32_t
shm_ipc_home(const struct shm_region *reg, const uint8_t key[SHM_IPC_KEY])
{
	return ((uint32_t)shm_hash_siphash(reg->hdr->sh_hashkey, key,
	    SHM_IPC_KEY) & (SHM_IPC_ENTRIES - 1));
}

static void
shm_ipc_words(const uint8_t key[SHM_IPC_KEY], uint64_t w[2])
{
	memcpy(w, key, SHM_IPC_KEY);
}

static int
shm_ipc_is(const struct shm_ipent *e, const uint64_t w[2])
{
	/* Relaxed: a torn key costs at most a miscount, never a fault. */
	return (atomic_load_explicit(&e->ie_key[0], memory_order_relaxed) ==
	    w[0] && atomic_load_explicit(&e->ie_key[1],
	    memory_order_relaxed) == w[1]);
}

/* Entry of key in t, or NULL; *free the first empty entry on the way. */
static struct shm_ipent *
shm_ipc_find(struct shm_iptable *t, uint32_t home, const uint64_t w[2],
    struct shm_ipent **free)
{
	struct shm_ipent	*e;
	uint32_t		 d;

	if (free != NULL)
		*free = NULL;
	for (d = 0; d < SHM_IPC_ENTRIES; d++) {
		e = &t->it_ent[(home + d) & (SHM_IPC_ENTRIES - 1)];
		/* Acquire: pairs with the release publishing the key. */
		if (atomic_load_explicit(&e->ie_count,
		    memory_order_acquire) == 0) {
			if (free != NULL)
				*free = e;
			return (NULL);
		}
		if (shm_ipc_is(e, w))
			return (e);
	}
	return (NULL);
}

/*
 * One more connection from key on slot's worker (its owner only).
 * Returns SHM_OK, or SHM_FULL when the table holds SHM_IPC_MAX addresses
 * already; the caller then counts that connection on its own.
 */
int
shm_ipc_add(const struct shm_region *reg, unsigned slot,
    const uint8_t key[SHM_IPC_KEY])
{
	struct shm_iptable	*t = shm_region_iptable(reg, slot);
	struct shm_ipent	*e, *free;
	uint64_t		 w[2];
	uint32_t		 n;

	shm_ipc_words(key, w);
	if ((e = shm_ipc_find(t, shm_ipc_home(reg, key), w, &free)) != NULL) {
		/* Relaxed load and store: one writer, readers in others. */
		n = atomic_load_explicit(&e->ie_count, memory_order_relaxed);
		atomic_store_explicit(&e->ie_count, n + 1,
		    memory_order_relaxed);
		return (SHM_OK);
	}
	if (free == NULL || t->it_used >= SHM_IPC_MAX)
		return (SHM_FULL);
	atomic_store_explicit(&free->ie_key[0], w[0], memory_order_relaxed);
	atomic_store_explicit(&free->ie_key[1], w[1], memory_order_relaxed);
	/* Release: the key is readable before the entry is in use. */
	atomic_store_explicit(&free->ie_count, 1, memory_order_release);
	t->it_used++;
	return (SHM_OK);
}

/*
 * One connection fewer from key on slot's worker (its owner only); it
 * must have been added.  The last one empties the entry, and entries
 * behind it move up so that no probe sequence has a hole.
 */
void
shm_ipc_del(const struct shm_region *reg, unsigned slot,
    const uint8_t key[SHM_IPC_KEY])
{
	struct shm_iptable	*t = shm_region_iptable(reg, slot);
	struct shm_ipent	*e, *hole, *next;
	uint64_t		 w[2], k0, k1;
	uint32_t		 n, i, j, home;
	uint8_t			 nk[SHM_IPC_KEY];

	shm_ipc_words(key, w);
	if ((e = shm_ipc_find(t, shm_ipc_home(reg, key), w, NULL)) == NULL)
		return;
	/* Relaxed: our own entry (one writer); readers need no order. */
	n = atomic_load_explicit(&e->ie_count, memory_order_relaxed);
	if (n > 1) {
		atomic_store_explicit(&e->ie_count, n - 1,
		    memory_order_relaxed);
		return;
	}
	/* Backward shift: fill the hole with an entry that may sit there. */
	i = (uint32_t)(e - t->it_ent);
	for (j = (i + 1) & (SHM_IPC_ENTRIES - 1);;
	    j = (j + 1) & (SHM_IPC_ENTRIES - 1)) {
		next = &t->it_ent[j];
		/* Relaxed: our own table; only we write it. */
		n = atomic_load_explicit(&next->ie_count, memory_order_relaxed);
		if (n == 0)
			break;
		k0 = atomic_load_explicit(&next->ie_key[0],
		    memory_order_relaxed);
		k1 = atomic_load_explicit(&next->ie_key[1],
		    memory_order_relaxed);
		memcpy(nk, &k0, 8);
		memcpy(nk + 8, &k1, 8);
		home = shm_ipc_home(reg, nk);
		/* It stays if its home lies cyclically in (i, j]. */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		/*
		 * The copy first: a reader may see it twice, never not.  The
		 * key stores are relaxed, ordered before the count by its
		 * release, which pairs with shm_ipc_find()'s acquire.
		 */
		hole = &t->it_ent[i];
		atomic_store_explicit(&hole->ie_key[0], k0,
		    memory_order_relaxed);
		atomic_store_explicit(&hole->ie_key[1], k1,
		    memory_order_relaxed);
		atomic_store_explicit(&hole->ie_count, n, memory_order_release);
		i = j;
	}
	/* Release: the copy above is in place before the original goes. */
	atomic_store_explicit(&t->it_ent[i].ie_count, 0, memory_order_release);
	t->it_used--;
}

/* key's connections on every worker but slot except's (any worker). */
uint64_t
shm_ipc_count(const struct shm_region *reg, const uint8_t key[SHM_IPC_KEY],
    unsigned except)
{
	struct shm_ipent	*e;
	uint64_t		 w[2], sum = 0;
	uint32_t		 home = shm_ipc_home(reg, key);
	unsigned		 s;

	shm_ipc_words(key, w);
	for (s = 0; s < reg->hdr->sh_nworkers; s++) {
		if (s == except)
			continue;
		e = shm_ipc_find(shm_region_iptable(reg, s), home, w, NULL);
		/* Relaxed: one count; find's acquire covered the key. */
		if (e != NULL)
			sum += atomic_load_explicit(&e->ie_count,
			    memory_order_relaxed);
	}
	return (sum);
}

/* Slot's worker is gone: its connections count no more (the master). */
void
shm_ipc_reap(const struct shm_region *reg, unsigned slot)
{
	struct shm_iptable	*t = shm_region_iptable(reg, slot);
	uint32_t		 i;

	/*
	 * All of it: it_used may be one behind, if the worker died between
	 * the two stores of shm_ipc_add().  Written only where needed.
	 * Relaxed: the owner is dead, and a reader racing this sees each
	 * count whole, old or 0.
	 */
	for (i = 0; i < SHM_IPC_ENTRIES; i++)
		if (atomic_load_explicit(&t->it_ent[i].ie_count,
		    memory_order_relaxed) != 0)
			atomic_store_explicit(&t->it_ent[i].ie_count, 0,
			    memory_order_relaxed);
	t->it_used = 0;
}
