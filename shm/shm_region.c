/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * shm_region.c: create and check the shared region.  The master maps it
 * anonymous and MAP_SHARED before forking, so every worker inherits the
 * same mapping at the same address; nothing in it is a pointer anyway,
 * only offsets from the region's start.  Layout: the header, one ring
 * header per producer (workers, then the master), the wake flags, one
 * stats block per producer, the presence slots, then the rings' data
 * areas, each page-aligned.
 */

#include <sys/mman.h>
#include <sys/random.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "shm.h"

#define SHM_ALIGN(x, a)	(((x) + (a) - 1) & ~((uint64_t)(a) - 1))
/* The presence state word keeps the worker index in 8 bits. */
#define SHM_WORKERS_MAX	255

struct shm_layout {
	uint64_t	 rings_off;
	uint64_t	 wake_off;
	uint64_t	 stats_off;
	uint64_t	 presence_off;
	uint64_t	 ipc_off;
	uint64_t	 data_off;
	uint64_t	 size;
};

static void
shm_region_layout(unsigned nworkers, uint64_t ring_size, unsigned pslots,
    struct shm_layout *l)
{
	unsigned	 nrings = nworkers + 1;

	l->rings_off = SHM_ALIGN(sizeof(struct shm_hdr), 64);
	l->wake_off = SHM_ALIGN(l->rings_off +
	    (uint64_t)nrings * sizeof(struct shm_ring), 64);
	l->stats_off = SHM_ALIGN(l->wake_off +
	    (uint64_t)nworkers * sizeof(struct shm_wake), 64);
	l->presence_off = SHM_ALIGN(l->stats_off +
	    (uint64_t)nrings * sizeof(struct shm_stats), 64);
	l->ipc_off = SHM_ALIGN(l->presence_off +
	    (uint64_t)pslots * sizeof(struct shm_pslot), 64);
	l->data_off = SHM_ALIGN(l->ipc_off +
	    (uint64_t)nworkers * sizeof(struct shm_iptable), 4096);
	l->size = l->data_off + (uint64_t)nrings * ring_size;
}

static int
shm_pow2(uint64_t x)
{
	return (x != 0 && (x & (x - 1)) == 0);
}

/* Sizes shm_region_open() accepts, and that its layout does not wrap. */
static int
shm_region_valid(unsigned nworkers, uint64_t ring_size, unsigned pslots)
{
	struct shm_layout	 l;

	if (nworkers == 0 || nworkers > SHM_WORKERS_MAX ||
	    !shm_pow2(ring_size) || ring_size < 4096 || !shm_pow2(pslots))
		return (0);
	shm_region_layout(nworkers, ring_size, pslots, &l);
	if (ring_size > (UINT64_MAX - l.data_off) / (nworkers + 1) ||
	    l.size > SIZE_MAX)
		return (0);
	return (1);
}

/* Bytes the region needs for this many workers, ring bytes and slots. */
/*
 * The producers' mutex: shared between processes, and robust, so that a
 * producer killed while holding it does not stop the bus: the next one
 * gets EOWNERDEAD, and the ring is consistent anyway (shm_ring_publish()
 * tolerates a record left half-written).
 */
static int
shm_region_lock_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t	 a;
	int			 rv;

	if (pthread_mutexattr_init(&a) != 0)
		return (-1);
	rv = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) != 0 ||
	    pthread_mutex_init(m, &a) != 0 ? -1 : 0;
	pthread_mutexattr_destroy(&a);
	return (rv);
}

size_t
shm_region_size(unsigned nworkers, uint64_t ring_size, unsigned pslots)
{
	struct shm_layout	 l;

	shm_region_layout(nworkers, ring_size, pslots, &l);
	return ((size_t)l.size);
}

/*
 * Create a region for nworkers workers (1..255, plus the master's ring),
 * each ring ring_size bytes (a power of two, at least 4 KiB) and pslots
 * presence slots (a power of two).  Master, before fork().  Returns 0, or
 * -1 with errno (EINVAL for bad sizes, ENOTSUP if 64-bit atomics are not
 * lock-free and so not safe across processes).
 */
int
shm_region_open(struct shm_region *reg, unsigned nworkers, uint64_t ring_size,
    unsigned pslots)
{
	struct shm_layout	 l;
	struct shm_hdr		*h;
	struct shm_ring		*r;
	void			*p;
	ssize_t			 n;
	unsigned		 i;

	memset(reg, 0, sizeof(*reg));
	if (!shm_region_valid(nworkers, ring_size, pslots)) {
		errno = EINVAL;
		return (-1);
	}
	shm_region_layout(nworkers, ring_size, pslots, &l);
	p = mmap(NULL, (size_t)l.size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return (-1);
	/* Anonymous shared memory starts zeroed: every slot EMPTY. */
	h = p;
	/* Blocks only until the kernel's pool is ready, early at boot. */
	while ((n = getrandom(h->sh_hashkey, sizeof(h->sh_hashkey), 0)) !=
	    (ssize_t)sizeof(h->sh_hashkey)) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n != -1)
			errno = EIO;	/* 16 bytes are never cut short */
		munmap(p, (size_t)l.size);
		return (-1);
	}
	h->sh_magic = SHM_MAGIC;
	h->sh_version = SHM_VERSION;
	h->sh_nrings = nworkers + 1;
	h->sh_nworkers = nworkers;
	h->sh_pslots = pslots;
	h->sh_ring_size = ring_size;
	h->sh_layout_size = l.size;
	h->sh_rings_off = l.rings_off;
	h->sh_wake_off = l.wake_off;
	h->sh_stats_off = l.stats_off;
	h->sh_presence_off = l.presence_off;
	h->sh_ipc_off = l.ipc_off;
	for (i = 0; i < nworkers + 1; i++) {
		r = (struct shm_ring *)((uint8_t *)p + l.rings_off) + i;
		r->sr_size = ring_size;
		r->sr_data_off = l.data_off + (uint64_t)i * ring_size;
		r->sr_id = i;
	}
	/* Relaxed: nothing else runs yet; fork() orders it for children. */
	atomic_store_explicit(&h->sh_next_id, 1, memory_order_relaxed);
	if (shm_region_lock_init(&h->sh_pub_lock) != 0) {
		munmap(p, (size_t)l.size);
		errno = ENOTSUP;
		return (-1);
	}
	if (shm_region_attach(reg, p, (size_t)l.size) == -1) {
		munmap(p, (size_t)l.size);
		return (-1);
	}
	return (0);
}

/*
 * Check a mapped region before use: magic, version, layout size, and that
 * the atomics are lock-free (only those are safe between processes).
 */
int
shm_region_attach(struct shm_region *reg, void *p, size_t len)
{
	struct shm_hdr		*h = p;
	struct shm_layout	 l;
	_Atomic uint64_t	 a64;
	_Atomic uint32_t	 a32;

	if (!atomic_is_lock_free(&a64) || !atomic_is_lock_free(&a32)) {
		errno = ENOTSUP;
		return (-1);
	}
	if (len < sizeof(*h) || h->sh_magic != SHM_MAGIC ||
	    h->sh_version != SHM_VERSION ||
	    h->sh_nrings != h->sh_nworkers + 1 ||
	    !shm_region_valid(h->sh_nworkers, h->sh_ring_size, h->sh_pslots)) {
		errno = EINVAL;
		return (-1);
	}
	shm_region_layout(h->sh_nworkers, h->sh_ring_size, h->sh_pslots, &l);
	if (l.size != h->sh_layout_size || l.size != len ||
	    l.rings_off != h->sh_rings_off || l.wake_off != h->sh_wake_off ||
	    l.stats_off != h->sh_stats_off ||
	    l.presence_off != h->sh_presence_off || l.ipc_off != h->sh_ipc_off) {
		errno = EINVAL;
		return (-1);
	}
	reg->hdr = h;
	reg->len = len;
	return (0);
}

void
shm_region_close(struct shm_region *reg)
{
	if (reg->hdr != NULL)
		munmap(reg->hdr, reg->len);
	reg->hdr = NULL;
	reg->len = 0;
}

/* Ring i: workers 0..n-1, then the master's at index n. */
struct shm_ring *
shm_region_ring(const struct shm_region *reg, unsigned i)
{
	return ((struct shm_ring *)((uint8_t *)reg->hdr +
	    reg->hdr->sh_rings_off) + i);
}

struct shm_wake *
shm_region_wake(const struct shm_region *reg, unsigned i)
{
	return ((struct shm_wake *)((uint8_t *)reg->hdr +
	    reg->hdr->sh_wake_off) + i);
}

/* Stats block i, for i < sh_nrings: worker i's, the last the master's. */
struct shm_stats *
shm_region_stats(const struct shm_region *reg, unsigned i)
{
	return ((struct shm_stats *)((uint8_t *)reg->hdr +
	    reg->hdr->sh_stats_off) + i);
}

/* Slot's table of connections per address (shm_ipc.c). */
struct shm_iptable *
shm_region_iptable(const struct shm_region *reg, unsigned slot)
{
	return ((struct shm_iptable *)((uint8_t *)reg->hdr +
	    reg->hdr->sh_ipc_off) + slot);
}

/*
 * A worker takes over its stats block: every counter back to 0 (what a
 * predecessor counted is gone; Prometheus sees a counter reset), then its
 * start time and pid, the pid last.  The block's owner, at attach.
 */
void
shm_stats_attach(struct shm_stats *st, uint32_t pid, uint64_t started)
{
	_Atomic uint64_t	*w = &st->st_pid;
	size_t			 i;

	/* Word by word: readers in other processes may be loading them. */
	for (i = 0; i < SHM_ST_WORDS; i++)
		atomic_store_explicit(&w[i], 0, memory_order_relaxed);
	atomic_store_explicit(&st->st_started, started, memory_order_relaxed);
	/* Release: pairs with the reader's acquire of st_pid, which then
	 * sees the zeroed counters, not the predecessor's. */
	atomic_store_explicit(&st->st_pid, pid, memory_order_release);
}

struct shm_pslot *
shm_region_pslots(const struct shm_region *reg)
{
	return ((struct shm_pslot *)((uint8_t *)reg->hdr +
	    reg->hdr->sh_presence_off));
}

/* A message id, unique across the server and increasing. */
uint64_t
shm_region_next_id(const struct shm_region *reg)
{
	/* Relaxed: only uniqueness is wanted, which the RMW gives. */
	return (atomic_fetch_add_explicit(&reg->hdr->sh_next_id, 1,
	    memory_order_relaxed));
}

/*
 * Take the producers' mutex (see shm_hdr).  Held for one record's copy
 * into the ring: never across a system call but the futex.  Any process.
 */
void
shm_region_lock(const struct shm_region *reg)
{
	if (pthread_mutex_lock(&reg->hdr->sh_pub_lock) == EOWNERDEAD)
		pthread_mutex_consistent(&reg->hdr->sh_pub_lock);
}

void
shm_region_unlock(const struct shm_region *reg)
{
	pthread_mutex_unlock(&reg->hdr->sh_pub_lock);
}

/* The next chat message id: with shm_region_lock() held. */
uint64_t
shm_region_msg_id(const struct shm_region *reg)
{
	uint64_t	 id;

	/* Relaxed: the mutex orders the writers; readers want a value. */
	id = atomic_load_explicit(&reg->hdr->sh_msg_id,
	    memory_order_relaxed) + 1;
	atomic_store_explicit(&reg->hdr->sh_msg_id, id, memory_order_relaxed);
	return (id);
}

/* The last message id taken. */
uint64_t
shm_region_last_msg_id(const struct shm_region *reg)
{
	return (atomic_load_explicit(&reg->hdr->sh_msg_id,
	    memory_order_relaxed));
}

/* Where ids continue from: the master, before any fork. */
void
shm_region_set_msg_id(const struct shm_region *reg, uint64_t id)
{
	atomic_store_explicit(&reg->hdr->sh_msg_id, id, memory_order_relaxed);
}

struct shm_hist *
shm_region_hist(const struct shm_region *reg)
{
	return (&reg->hdr->sh_hist);
}
