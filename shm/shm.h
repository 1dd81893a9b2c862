/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * shm.h: the shared-memory region of wschatd and what lives in it: the
 * broadcast bus (one single-producer ring per producer, read by every
 * worker), the per-worker idle flags for wake-ups, one block of counters
 * per producer (for /metrics) and the presence table of online names.  The master creates the region before forking; every
 * process maps it at the same place.  No dependency on src/, no logging:
 * functions return errors and callers log them.
 *
 * A ring, seen by its one producer and by one of its readers:
 *
 *        cursor (reader-local)            sr_head           sr_reserve
 *              |                              |                  |
 *   ...........v==============================v~~~~~~~~~~~~~~~~~~v.........
 *              [len|rec][len|rec][SKIP......][len|record being written]
 *   positions are free-running byte counts; slot = pos & (sr_size - 1)
 *
 * Publish: announce the bytes about to be overwritten (sr_reserve), write
 * the record, then release-store sr_head.  Read: acquire-load sr_head, copy
 * the record out, then check that sr_reserve has not come within a lap of
 * the copied bytes (seqlock rule); if it has, or the reader is already a
 * lap behind, the reader counts what it lost and skips to the head.  The
 * producer never waits; a reader never writes to the region.
 */

#ifndef WSCHATD_SHM_H
#define WSCHATD_SHM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SHM_OK		0
#define SHM_EMPTY	1	/* nothing new */
#define SHM_LOST	2	/* fell behind: records skipped, counted */
#define SHM_ERR		(-1)	/* errno says why */

#define SHM_MAGIC	0x77736368617464ULL	/* "wschatd" */
#define SHM_VERSION	7
#define SHM_HASH_KEY_LEN 16	/* bytes: SipHash's key */
#define SHM_NAME_MAX	32	/* bytes of UTF-8 in a name */
#define SHM_PEER_MAX	64	/* an owner's address, "[v6]:port" fits */
#define SHM_REC_ALIGN	8

struct shm_ring {
	/* Written only by the producer. */
	_Alignas(64) _Atomic uint64_t	 sr_head;	/* end of the last record */
	_Alignas(64) _Atomic uint64_t	 sr_reserve;	/* end of what may be overwritten */
	_Atomic uint64_t		 sr_records;	/* records published */
	_Alignas(64) uint64_t		 sr_size;	/* data bytes, power of two */
	uint64_t			 sr_data_off;	/* from the region start */
	uint32_t			 sr_id;
	uint32_t			 sr_pad;
};
_Static_assert(sizeof(struct shm_ring) == 192, "shm_ring layout");

/* One per worker: wake-up protocol with its eventfd. */
struct shm_wake {
	_Alignas(64) _Atomic uint32_t	 sw_idle;	/* 1: about to block */
	_Atomic uint32_t		 sw_pid;
	uint64_t			 sw_pad;
};
_Static_assert(sizeof(struct shm_wake) == 64, "shm_wake layout");

/*
 * One block of counters per ring (worker i has block i; the master's,
 * the last, is unused), so that whichever worker answers /metrics can
 * report them all.  A worker zeroes its block and sets st_started, then
 * st_pid, when it attaches; the master zeroes st_pid when it reaps it, so
 * a reader skips blocks whose st_pid is 0.  Every member is a whole
 * 64-bit word and the block fills whole cache lines: no two workers ever
 * write the same line.  Counters only grow (a respawned worker starts
 * again from 0); gauges (st_conns, st_bus_lag) are current values.
 */
#define SHM_ST_CONN_HTTP	0	/* st_conns: HTTP, not upgraded */
#define SHM_ST_CONN_WS_CHAT	1	/* WebSocket on /ws */
#define SHM_ST_CONN_WS_ECHO	2	/* WebSocket on /echo */
#define SHM_ST_CONN_LINE	3	/* the line-protocol port */
#define SHM_ST_NCONNS		4
#define SHM_ST_MSG_WS		0	/* st_msgs_in/out: WebSocket */
#define SHM_ST_MSG_LINE		1	/* line protocol */
#define SHM_ST_NMSGS		2
#define SHM_ST_NCLASSES		5	/* st_http: 1xx..5xx */
#define SHM_ST_NCLOSES		3	/* st_ws_errors: 1002, 1007, 1009 */
#define SHM_ST_REFUSED_MAXCONN	0	/* st_refused: max_connections */
#define SHM_ST_REFUSED_PERIP	1	/* max_connections_per_ip */
#define SHM_ST_REFUSED_NOMEM	2	/* out of memory */
#define SHM_ST_NREFUSED		3

struct shm_stats {
	_Alignas(64) _Atomic uint64_t	 st_pid;	/* 0: no live worker */
	_Atomic uint64_t		 st_started;	/* unix seconds */
	_Atomic uint64_t		 st_conns[SHM_ST_NCONNS]; /* open now */
	_Atomic uint64_t		 st_accepted;
	_Atomic uint64_t		 st_msgs_in[SHM_ST_NMSGS];
	_Atomic uint64_t		 st_msgs_out[SHM_ST_NMSGS]; /* queued */
	_Atomic uint64_t		 st_chat;	/* chat messages sent */
	_Atomic uint64_t		 st_bytes_in;	/* read from clients */
	_Atomic uint64_t		 st_bytes_out;	/* written to clients */
	_Atomic uint64_t		 st_slow_dropped;
	_Atomic uint64_t		 st_idle_kicked;
	_Atomic uint64_t		 st_rate_limited;
	_Atomic uint64_t		 st_http[SHM_ST_NCLASSES];
	_Atomic uint64_t		 st_ws_errors[SHM_ST_NCLOSES];
	_Atomic uint64_t		 st_bus_published;
	_Atomic uint64_t		 st_bus_read;
	_Atomic uint64_t		 st_bus_lost;	/* records */
	_Atomic uint64_t		 st_bus_too_big;
	_Atomic uint64_t		 st_wakeups_sent;
	_Atomic uint64_t		 st_refused[SHM_ST_NREFUSED]; /* at accept */
	_Atomic uint64_t		 st_log_dropped; /* past log_client_rate */
	_Atomic uint64_t		 st_bus_lag;	/* bytes left to read; last */
	uint64_t			 st_pad[4];	/* whole cache lines */
};
_Static_assert(sizeof(struct shm_stats) == 320, "shm_stats layout");
#define SHM_ST_WORDS	(offsetof(struct shm_stats, st_bus_lag) / 8 + 1)

/*
 * Add n to a counter of our own stats block.  Each block has one writer,
 * its worker, so a relaxed load and a relaxed store cannot lose an update
 * and compile to a plain add; atomic_fetch_add would put a locked
 * instruction on every message for nothing.  The atomics are there for
 * the readers in other processes (relaxed loads: each value is whole,
 * and no order between counters is promised).
 */
static inline void
shm_stat_add(_Atomic uint64_t *st, uint64_t n)
{
	atomic_store_explicit(st, atomic_load_explicit(st,
	    memory_order_relaxed) + n, memory_order_relaxed);
}

/* The same for a gauge going down; the writer never takes it below 0. */
static inline void
shm_stat_sub(_Atomic uint64_t *st, uint64_t n)
{
	atomic_store_explicit(st, atomic_load_explicit(st,
	    memory_order_relaxed) - n, memory_order_relaxed);
}

/* Presence slot states, in the low byte of ps_state; the rest is a
 * generation that changes with every occupant. */
#define SHM_PS_EMPTY	0	/* never used */
#define SHM_PS_BUSY	1	/* being written; name not readable yet */
#define SHM_PS_CLAIM	2	/* name written, claim not yet decided */
#define SHM_PS_LIVE	3	/* the name is taken */
#define SHM_PS_TOMB	4	/* was used, free again */
#define SHM_PS_RECASE	5	/* live; its owner respells it, or
					 * moves it to another room */

struct shm_pslot {
	_Atomic uint64_t	 ps_state;	/* gen << 8 | state */
	uint32_t		 ps_worker;	/* owner's worker index */
	uint32_t		 ps_kind;	/* caller's (wschatd: chat_fmt) */
	uint64_t		 ps_conn;	/* owner's connection id */
	uint8_t			 ps_len;
	char			 ps_name[SHM_NAME_MAX + 7];
	char			 ps_peer[SHM_PEER_MAX];	/* "ip:port", NUL-ended */
	/* The owner's room, for "who" in a room and "rooms" (hub.c). */
	uint8_t			 ps_roomlen;
	char			 ps_room[SHM_NAME_MAX + 7];
	/*
	 * The session of a version 2 login (hub.c): its number, kept
	 * through renames and takeovers, its secret, and while it is
	 * detached (held by SHM_PS_DETACHED) when it expires.  Written by
	 * the owner while the slot is BUSY or RECASE.
	 */
	uint64_t		 ps_sid;
	uint64_t		 ps_secret;
	/*
	 * The stamp of this occupant and spelling: a number from
	 * sh_next_id, written while the slot is BUSY or RECASE, so that
	 * it changes with the generation.  Never the same twice, on any
	 * slot: a presence event carries it, and whoever delivers the
	 * event can tell whether it still describes the name's holder.
	 */
	uint64_t		 ps_seq;
	_Atomic uint64_t	 ps_expires;	/* ms; detached sessions */
	uint64_t		 ps_begin;	/* the session began after this
					 * message id */
	uint64_t		 ps_pad[6];
};
_Static_assert(sizeof(struct shm_pslot) == 256, "shm_pslot layout");

/*
 * A detached session's name is held by this owner, not by a worker: the
 * master expires it, any worker may take it over (shm_presence_transfer).
 * Its conn is the session number.
 */
#define SHM_PS_DETACHED	0xff

/*
 * The history process's state (src/history.c), for workers (what the
 * store holds) and /metrics.  It alone writes it but sh_pos, which the
 * master zeroes for a new region.
 */
struct shm_hist {
	_Alignas(64) _Atomic uint64_t	 sh_pos;	/* ring bytes committed */
	_Atomic uint64_t		 sh_committed_id; /* every id up to it
							 * stored or a gap */
	_Atomic uint64_t		 sh_pid;
	_Atomic uint64_t		 sh_state;	/* SHM_HIST_* */
	_Atomic uint64_t		 sh_stored;	/* messages */
	_Atomic uint64_t		 sh_batches;	/* transactions */
	_Atomic uint64_t		 sh_lost;	/* records lapped */
	_Atomic uint64_t		 sh_errors;	/* failed writes */
	_Atomic uint64_t		 sh_trimmed;	/* by retention */
	_Atomic uint64_t		 sh_commit_ns_last;
	_Atomic uint64_t		 sh_restarts;	/* respawns */
	uint64_t			 sh_pad[5];
};
_Static_assert(sizeof(struct shm_hist) == 128, "shm_hist layout");

#define SHM_HIST_OFF		0	/* history off, or not started */
#define SHM_HIST_OK		1
#define SHM_HIST_FAILING	2	/* the store refuses writes */

struct shm_hdr {
	uint64_t			 sh_magic;
	uint32_t			 sh_version;
	uint32_t			 sh_nrings;
	uint32_t			 sh_nworkers;
	uint32_t			 sh_pslots;	/* power of two */
	uint64_t			 sh_ring_size;
	uint64_t			 sh_layout_size;
	uint64_t			 sh_rings_off;
	uint64_t			 sh_wake_off;
	uint64_t			 sh_stats_off;
	uint64_t			 sh_presence_off;
	/* The key of shm_hash(), drawn by shm_region_open(). */
	uint8_t				 sh_hashkey[SHM_HASH_KEY_LEN];
	uint64_t			 sh_ipc_off;	/* per-slot iptables */
	_Alignas(64) _Atomic uint64_t	 sh_next_id;	/* message ids */
	_Alignas(64) _Atomic uint32_t	 sh_maxprobe;	/* longest probe used */
	_Atomic uint32_t		 sh_users;	/* LIVE slots */
	/* Changes of the LIVE set: a worker's cached list of names is good
	 * while this stays the same. */
	_Atomic uint64_t		 sh_pgen;
	/* The master's, for metrics. */
	_Atomic uint64_t		 sh_reloads;	/* done */
	_Atomic uint64_t		 sh_respawns;	/* workers respawned */
	/*
	 * Publishing on the bus: one ring, one order.  A process-shared,
	 * robust mutex serialises the producers (shm_region_lock()), and
	 * a chat message's id is taken under it, so that ids increase in
	 * the order every reader sees.  The epoch says which sequence
	 * (the history store's), set by the master before any fork.
	 */
	_Alignas(64) pthread_mutex_t	 sh_pub_lock;
	_Atomic uint64_t		 sh_msg_id;	/* the last one taken */
	char				 sh_epoch[24];	/* NUL-ended */
	struct shm_hist			 sh_hist;
};
_Static_assert(sizeof(struct shm_hdr) == 512, "shm_hdr layout");

/*
 * Connections per client address, one table per worker slot
 * (shm_ipc.c).  A key is an address as 16 bytes (IPv4 as mapped IPv6,
 * IPv6 by its /64); a count of 0 is an empty entry.
 */
#define SHM_IPC_KEY	16
#define SHM_IPC_ENTRIES	16384			/* power of two */
#define SHM_IPC_MAX	(SHM_IPC_ENTRIES / 4 * 3)	/* addresses held */

struct shm_ipent {
	_Atomic uint64_t	 ie_key[2];
	_Atomic uint32_t	 ie_count;
	uint32_t		 ie_pad;
};
_Static_assert(sizeof(struct shm_ipent) == 24, "shm_ipent layout");

struct shm_iptable {
	uint32_t		 it_used;	/* entries in use; owner's */
	uint32_t		 it_pad[15];
	struct shm_ipent	 it_ent[SHM_IPC_ENTRIES];
};
_Static_assert(sizeof(struct shm_iptable) == 64 + 24 * SHM_IPC_ENTRIES,
    "shm_iptable layout");

struct shm_region {
	struct shm_hdr	*hdr;
	size_t		 len;
};

/* shm_region.c */
size_t		 shm_region_size(unsigned, uint64_t, unsigned);
int		 shm_region_open(struct shm_region *, unsigned, uint64_t,
		    unsigned);
int		 shm_region_attach(struct shm_region *, void *, size_t);
void		 shm_region_close(struct shm_region *);
struct shm_ring	*shm_region_ring(const struct shm_region *, unsigned);
struct shm_wake	*shm_region_wake(const struct shm_region *, unsigned);
struct shm_stats *shm_region_stats(const struct shm_region *, unsigned);
void		 shm_stats_attach(struct shm_stats *, uint32_t, uint64_t);
struct shm_pslot *shm_region_pslots(const struct shm_region *);
uint64_t	 shm_region_next_id(const struct shm_region *);
void		 shm_region_lock(const struct shm_region *);
void		 shm_region_unlock(const struct shm_region *);
uint64_t	 shm_region_msg_id(const struct shm_region *);
uint64_t	 shm_region_last_msg_id(const struct shm_region *);
void		 shm_region_set_msg_id(const struct shm_region *, uint64_t);
struct shm_hist	*shm_region_hist(const struct shm_region *);
struct shm_iptable *shm_region_iptable(const struct shm_region *, unsigned);

/* shm_ring.c */
struct shm_cursor {
	uint64_t	 sc_pos;	/* next byte to read */
	uint64_t	 sc_lost;	/* records lost, counted exactly */
	uint64_t	 sc_lost_bytes;	/* bytes skipped */
	uint32_t	 sc_seq;	/* sequence number expected next */
	int		 sc_resync;	/* 1: skipped, count at the next
					 * record; 2: new, no record yet */
};

size_t		 shm_ring_max_record(const struct shm_ring *);
int		 shm_ring_publish(const struct shm_region *, struct shm_ring *,
		    const void *, size_t);
void		 shm_ring_cursor_init(const struct shm_ring *,
		    struct shm_cursor *);
void		 shm_ring_cursor_at(const struct shm_ring *,
		    struct shm_cursor *, uint64_t);
int		 shm_ring_read(const struct shm_region *, struct shm_ring *,
		    struct shm_cursor *, void *, size_t, size_t *);
int		 shm_ring_pending(struct shm_ring *, const struct shm_cursor *);
uint64_t	 shm_ring_lag(struct shm_ring *, const struct shm_cursor *);

/* shm_hash.c */
uint64_t	 shm_hash_siphash(const uint8_t [SHM_HASH_KEY_LEN],
		    const void *, size_t);
uint64_t	 shm_hash(const struct shm_region *, const char *, size_t);
int		 shm_hash_equal(const char *, size_t, const char *, size_t);
int		 shm_hash_cmp(const char *, size_t, const char *, size_t);

/* shm_ipc.c */
int		 shm_ipc_add(const struct shm_region *, unsigned,
		    const uint8_t [SHM_IPC_KEY]);
void		 shm_ipc_del(const struct shm_region *, unsigned,
		    const uint8_t [SHM_IPC_KEY]);
uint64_t	 shm_ipc_count(const struct shm_region *,
		    const uint8_t [SHM_IPC_KEY], unsigned);
void		 shm_ipc_reap(const struct shm_region *, unsigned);

/* shm_presence.c */

#define SHM_TAKEN	3	/* presence: the name is someone else's */
#define SHM_FULL	4	/* presence: no free slot */

struct shm_presence_entry {
	char		 name[SHM_NAME_MAX + 1];
	char		 peer[SHM_PEER_MAX];
	char		 room[SHM_NAME_MAX + 1];	/* "" if none given */
	uint32_t	 worker;
	uint32_t	 kind;
	uint64_t	 conn;
	uint64_t	 seq;		/* the slot's ps_seq */
	uint64_t	 sid;		/* the slot's session; 0: none */
	uint64_t	 begin;		/* the session began after this id */
	uint64_t	 expires;	/* detached: when, in ms */
};

int		 shm_presence_claim(const struct shm_region *, const char *,
		    size_t, uint32_t, uint32_t, uint64_t, const char *,
		    const char *, uint32_t *);
int		 shm_presence_release(const struct shm_region *, uint32_t,
		    uint32_t, uint64_t);
int		 shm_presence_recase(const struct shm_region *, uint32_t,
		    uint32_t, uint64_t, const char *, size_t);
int		 shm_presence_move(const struct shm_region *, uint32_t,
		    uint32_t, uint64_t, const char *, size_t);
int		 shm_presence_lookup(const struct shm_region *, const char *,
		    size_t, struct shm_presence_entry *);
uint64_t	 shm_presence_gen(const struct shm_region *);
uint64_t	 shm_presence_seq(const struct shm_region *, uint32_t);
size_t		 shm_presence_list(const struct shm_region *,
		    struct shm_presence_entry *, size_t);
size_t		 shm_presence_reap(const struct shm_region *, uint32_t,
		    struct shm_presence_entry *, size_t);
int		 shm_presence_session(const struct shm_region *, uint32_t,
		    uint32_t, uint64_t, uint64_t, uint64_t, uint64_t);
int		 shm_presence_transfer(const struct shm_region *, uint32_t,
		    uint32_t, uint64_t, uint32_t, uint64_t, uint64_t);
int		 shm_presence_find_session(const struct shm_region *, uint32_t,
		    uint64_t, uint64_t, struct shm_presence_entry *,
		    uint32_t *);
size_t		 shm_presence_detach_all(const struct shm_region *,
		    uint32_t, uint64_t);
size_t		 shm_presence_expire(const struct shm_region *, uint64_t,
		    struct shm_presence_entry *, size_t);

#endif /* WSCHATD_SHM_H */
