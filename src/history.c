/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * history.c: the history process, the store's one writer.  Every
 * history_flush ms it drains the bus ring every chat message goes
 * through, and writes the rooms' messages (CHAT_USER; never private
 * ones) in one transaction per drain, cut at history_batch messages.
 * After each commit it publishes in shared memory (struct shm_hist) the
 * ring position up to which everything is dealt with, and the highest
 * id, so that a respawned history process starts right there: it may read
 * a record twice (store_add() keeps the first), never skip one unnoticed.
 *
 * Ids that cannot be kept are recorded as a gap, so that a resume can say
 * history_gap: those the bus lost because this process fell a lap behind
 * (or was dead that long), and those that came while the store failed
 * (full disk, read-only file, I/O error).  While the store fails the
 * process goes on reading the bus, so that it does not fall behind, logs
 * one line per change of state, and tries again every second.  It trims
 * the store a little every few seconds.  What it does not do: decide
 * which ids a message gets (the publishers do, in ring order), serve
 * history to clients (the workers read the store), or supervise itself
 * (the master respawns it).
 */

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "wschatd.h"
#include "bus.h"
#include "cfg.h"
#include "chat.h"
#include "history.h"
#include "shm.h"
#include "store.h"

/* Batches one drain may write before the loop gets a turn (signals). */
#define HISTORY_DRAIN_BATCHES	8
/* A failing store is tried again this often. */
#define HISTORY_RETRY_MS	1000
/* It works again: once messages are kept, or this long without failing. */
#define HISTORY_RECOVERED_MS	10000
/* Trims: every few seconds, a few hundred rows each, in a hurry (every
 * HISTORY_TRIM_AGAIN_MS) while there is more to delete. */
#define HISTORY_TRIM_MS		5000
#define HISTORY_TRIM_AGAIN_MS	50
#define HISTORY_TRIM_STEP	500

struct history {
	const struct cfg	*cfg;
	struct shm_region	*reg;
	struct shm_ring		*ring;
	struct shm_hist		*sh;
	struct shm_cursor	 cur;
	uint8_t			*rec;		/* one record, read */
	size_t			 recsz;
	struct chat_dec		*dec;
	struct store		*store;		/* NULL: could not open it */
	struct event_base	*base;
	struct event		*ev_flush;
	struct event		*ev_trim;
	struct event		*ev_sig[4];
	/* Progress: every id up to seen_id was read (and is kept, lost,
	 * private or pending); the ring up to cur.sc_pos likewise. */
	uint64_t		 seen_id;
	int			 lapped;	/* a gap up to the next id */
	/* The transaction under way. */
	int			 in_txn;
	size_t			 txn_msgs;
	uint64_t		 txn_first;	/* first id added, 0: none */
	int			 txn_gap;	/* the pending gap is in it */
	/* Ids to record as lost, [gap_first, gap_last]; 0: none. */
	uint64_t		 gap_first;
	uint64_t		 gap_last;
	/* The store fails: what, and when to try again. */
	int			 failing;	/* its STORE_E*, 0: works */
	int			 recovering;	/* what it failed with, until
						 * messages are kept again */
	uint64_t		 recovered_at;	/* now_mono_ms() */
	int			 kept_since;	/* messages committed since */
	uint64_t		 retry_at;	/* now_mono_ms() */
	int			 trim_failing;
	int			 undecodable;	/* logged once */
	int			 sync_full;	/* history_sync full */
};

static void	 history_epoch_check(struct history *);

static void
history_reason(char *err, size_t errlen, int code)
{
	if (err[0] == '\0')
		snprintf(err, errlen, "%s", store_strerror(code));
}

/* Ids lo..hi could not be kept: add them to the pending gap. */
static void
history_gap_add(struct history *h, uint64_t lo, uint64_t hi)
{
	if (lo == 0 || hi < lo)
		return;
	if (h->gap_first == 0 || lo < h->gap_first)
		h->gap_first = lo;
	if (hi > h->gap_last)
		h->gap_last = hi;
}

/*
 * Lapped, and nothing more to read: the gap runs to the last id taken.
 * Under the producers' mutex no id is taken but not yet on the ring, so
 * with nothing pending every id up to the last was lost or seen; without
 * this a gap would wait for the next message to be recorded, and the
 * committed id with it.
 */
static void
history_lapped_quiet(struct history *h)
{
	uint64_t	 last;
	int		 pending;

	shm_region_lock(h->reg);
	pending = shm_ring_pending(h->ring, &h->cur);
	last = shm_region_last_msg_id(h->reg);
	shm_region_unlock(h->reg);
	if (pending || last <= h->seen_id)
		return;
	history_gap_add(h, h->seen_id + 1, last);
	h->seen_id = last;
	h->lapped = 0;
}

/*
 * Everything read so far is dealt with: say so in shared memory.  The
 * position last, release: a respawned reader that sees it sees the id.
 */
static void
history_publish(struct history *h)
{
	atomic_store_explicit(&h->sh->sh_committed_id, h->seen_id,
	    memory_order_relaxed);
	atomic_store_explicit(&h->sh->sh_pos, h->cur.sc_pos,
	    memory_order_release);
}

/* The store failed with code (reason in err): log a change of state. */
static void
history_fail(struct history *h, int code, const char *err)
{
	/* Relaxed: counters and a state for /metrics, no order with data. */
	atomic_fetch_add_explicit(&h->sh->sh_errors, 1, memory_order_relaxed);
	h->retry_at = now_mono_ms() + HISTORY_RETRY_MS;
	if (h->failing == code)
		return;
	/* A relapse before any drain succeeded (a full disk takes a small
	 * gap, then not the next batch) is the same state: no new line. */
	if (h->failing == 0 && h->recovering == 0)
		log_warnx("%s: %s; chat goes on, new messages are "
		    "not kept until the store works again",
		    h->cfg->history_file, err);
	else if (h->failing != 0 || h->recovering != code)
		log_warnx("%s: still failing, now: %s",
		    h->cfg->history_file, err);
	h->failing = code;
	atomic_store_explicit(&h->sh->sh_state, SHM_HIST_FAILING,
	    memory_order_relaxed);
}

/* The transaction under way failed: nothing of it was kept. */
static void
history_abort(struct history *h, int code, const char *err)
{
	if (h->store != NULL && h->in_txn)
		store_rollback(h->store);
	/* Its messages, and what came between them (private messages, or
	 * ids of the pending gap), are lost. */
	if (h->txn_first != 0)
		history_gap_add(h, h->txn_first, h->seen_id);
	h->in_txn = 0;
	h->txn_msgs = 0;
	h->txn_first = 0;
	h->txn_gap = 0;
	history_fail(h, code, err);
}

/* Open a transaction, with the pending gap first.  STORE_OK or STORE_E*. */
static int
history_begin(struct history *h)
{
	char	 err[256] = "";
	int	 ret;

	if ((ret = store_begin(h->store, err, sizeof(err))) != STORE_OK) {
		history_reason(err, sizeof(err), ret);
		history_fail(h, ret, err);
		return (ret);
	}
	h->in_txn = 1;
	if (h->gap_first != 0) {
		ret = store_gap(h->store, h->gap_first, h->gap_last, err,
		    sizeof(err));
		if (ret != STORE_OK) {
			history_reason(err, sizeof(err), ret);
			history_abort(h, ret, err);
			return (ret);
		}
		h->txn_gap = 1;
	}
	return (STORE_OK);
}

/* Commit the transaction under way and publish the progress. */
static int
history_commit(struct history *h)
{
	struct timespec	 t0, t1;
	char		 err[256] = "";
	int		 ret;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = store_commit(h->store, err, sizeof(err));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (ret != STORE_OK) {
		history_reason(err, sizeof(err), ret);
		history_abort(h, ret, err);
		return (ret);
	}
	atomic_store_explicit(&h->sh->sh_commit_ns_last,
	    (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000 +
	    (uint64_t)t1.tv_nsec - (uint64_t)t0.tv_nsec, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sh->sh_batches, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sh->sh_stored, h->txn_msgs,
	    memory_order_relaxed);
	if (h->txn_gap) {
		atomic_fetch_add_explicit(&h->sh->sh_lost,
		    h->gap_last - h->gap_first + 1, memory_order_relaxed);
		h->gap_first = h->gap_last = 0;
	}
	if (h->txn_msgs > 0)
		h->kept_since = 1;
	h->in_txn = 0;
	h->txn_msgs = 0;
	h->txn_first = 0;
	h->txn_gap = 0;
	history_publish(h);
	return (STORE_OK);
}

/* One chat message into the transaction, opened if need be. */
static void
history_add(struct history *h, const struct chat_env *e)
{
	struct store_msg	 m;
	char			 err[256] = "";
	int			 ret;

	if (h->failing || (!h->in_txn && history_begin(h) != STORE_OK)) {
		history_gap_add(h, e->id, e->id);
		return;
	}
	memset(&m, 0, sizeof(m));
	m.id = e->id;
	m.ts = e->ts;
	m.room = e->room.p != NULL ? e->room.p : "";
	m.room_len = e->room.len;
	m.from = e->from.p;
	m.from_len = e->from.len;
	m.peer = e->peer.p;
	m.peer_len = e->peer.len;
	m.content = e->content.p;
	m.content_len = e->content.len;
	if ((ret = store_add(h->store, &m, err, sizeof(err))) != STORE_OK) {
		history_reason(err, sizeof(err), ret);
		if (h->txn_first == 0)
			h->txn_first = e->id;
		history_abort(h, ret, err);
		return;
	}
	if (h->txn_first == 0)
		h->txn_first = e->id;
	if (++h->txn_msgs >= h->cfg->history_batch)
		(void)history_commit(h);
}

/*
 * Read the ring: up to HISTORY_DRAIN_BATCHES batches' worth of records.
 * Returns 1 if records are left for the next turn.
 */
static int
history_drain(struct history *h)
{
	struct chat_env	 e;
	size_t		 len, n = 0;
	size_t		 max = (size_t)h->cfg->history_batch *
			    HISTORY_DRAIN_BATCHES;
	int		 rv, more = 0;

	for (;;) {
		if (n == max) {
			more = 1;
			break;
		}
		rv = shm_ring_read(h->reg, h->ring, &h->cur, h->rec, h->recsz,
		    &len);
		if (rv == SHM_EMPTY) {
			if (h->lapped)
				history_lapped_quiet(h);
			break;
		}
		if (rv == SHM_LOST) {
			/* The gap runs up to the next id read. */
			if (!h->lapped)
				log_warnx("fell a lap behind on the "
				    "bus; the messages skipped are recorded "
				    "as a gap");
			h->lapped = 1;
			continue;
		}
		n++;
		if (chat_env_decode(h->dec, (const char *)h->rec, len,
		    &e) == -1) {
			if (!h->undecodable++)
				log_warnx("undecodable record on the "
				    "bus");
			continue;
		}
		/* Only chat and private messages have message ids (a
		 * presence event's id is another counter's); below seen_id:
		 * read before, by a predecessor. */
		if (e.type != CHAT_USER && e.type != CHAT_PRIVATE)
			continue;
		if (h->lapped) {
			history_gap_add(h, h->seen_id + 1, e.id - 1);
			h->lapped = 0;
		}
		if (e.id <= h->seen_id)
			continue;
		h->seen_id = e.id;
		if (e.type == CHAT_USER)
			history_add(h, &e);
	}
	/* A gap is written at once, with or without messages. */
	if (!h->in_txn && !h->failing && h->gap_first != 0)
		(void)history_begin(h);
	if (h->in_txn)
		(void)history_commit(h);
	else if (!h->failing && !h->lapped)
		history_publish(h);	/* nothing to write, all dealt with */
	return (more);
}

/*
 * The store failed: try again.  A full disk or a lock may pass with the
 * same connection; anything else (a file made read-only, an I/O error)
 * gets a new one.  A file found damaged now is not used, and the process
 * goes on failing: the master's open refuses it at the next start.
 */
static void
history_retry(struct history *h)
{
	char	 err[256] = "";
	int	 ret;

	if (h->store != NULL && h->failing != STORE_EFULL &&
	    h->failing != STORE_EBUSY) {
		store_close(h->store);
		h->store = NULL;
	}
	if (h->store == NULL) {
		ret = store_open(&h->store, h->cfg->history_file, STORE_RDWR,
		    h->sync_full, err, sizeof(err));
		if (ret != STORE_OK) {
			history_reason(err, sizeof(err), ret);
			history_fail(h, ret, err);
			return;
		}
		history_epoch_check(h);
	}
	/* Still h->failing: another failure logs only if it differs. */
	if (h->gap_first != 0 && (history_begin(h) != STORE_OK ||
	    history_commit(h) != STORE_OK))
		return;
	/* Logged once messages are kept again: a full disk may well take a
	 * gap's row, and not the next batch. */
	h->recovering = h->failing;
	h->recovered_at = now_mono_ms();
	h->kept_since = 0;
	h->failing = 0;
	atomic_store_explicit(&h->sh->sh_state, SHM_HIST_OK,
	    memory_order_relaxed);
	history_publish(h);
}

static void
history_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct history	*h = arg;
	int		 more;

	(void)fd;
	(void)what;
	if (h->failing && now_mono_ms() >= h->retry_at)
		history_retry(h);
	more = history_drain(h);
	if (h->recovering && !h->failing && (h->kept_since ||
	    now_mono_ms() - h->recovered_at >= HISTORY_RECOVERED_MS)) {
		log_warnx("%s works again", h->cfg->history_file);
		h->recovering = 0;
	}
	if (more)
		event_active(h->ev_flush, EV_TIMEOUT, 0);
}

static void
history_trim_cb(evutil_socket_t fd, short what, void *arg)
{
	struct history	*h = arg;
	struct timeval	 tv;
	char		 err[256] = "";
	size_t		 deleted = 0;
	uint64_t	 ms = HISTORY_TRIM_MS;
	int		 ret;

	(void)fd;
	(void)what;
	if (!h->failing && h->store != NULL) {
		ret = store_trim(h->store, h->cfg->history_max_messages,
		    (uint64_t)h->cfg->history_max_age * 1000, now_real_ms(),
		    HISTORY_TRIM_STEP, &deleted, err, sizeof(err));
		if (ret != STORE_OK) {
			atomic_fetch_add_explicit(&h->sh->sh_errors, 1,
			    memory_order_relaxed);
			if (!h->trim_failing)
				log_warnx("%s: trim: %s",
				    h->cfg->history_file, err);
			h->trim_failing = 1;
		} else {
			if (h->trim_failing)
				log_info("trims work again");
			h->trim_failing = 0;
			atomic_fetch_add_explicit(&h->sh->sh_trimmed,
			    deleted, memory_order_relaxed);
			if (deleted == HISTORY_TRIM_STEP)
				ms = HISTORY_TRIM_AGAIN_MS;
		}
	}
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	event_add(h->ev_trim, &tv);
}

static void
history_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct history	*h = arg;

	(void)what;
	if (sig == SIGUSR1) {
		if (log_reopen((uid_t)-1, (gid_t)-1) == -1)
			log_warn("SIGUSR1: cannot reopen the log file");
		return;
	}
	log_info("%s: stopping", strsignal((int)sig));
	event_base_loopbreak(h->base);
}

/*
 * The clients were given the epoch the master read from the store before
 * any fork (sh_epoch).  A file with another one was replaced since: its
 * ids are not ours, and writing ours into it would mix two sequences.
 * Refused like a damaged file: the master keeps chat going without
 * history.
 */
static void
history_epoch_check(struct history *h)
{
	const char	*want = h->reg->hdr->sh_epoch;

	if (strcmp(want, store_epoch(h->store)) == 0)
		return;
	log_warnx("%s: epoch %s, not the daemon's %s (the file was replaced "
	    "while it ran); refusing it", h->cfg->history_file,
	    store_epoch(h->store), want);
	store_close(h->store);
	exit(HISTORY_EXIT_REFUSED);
}

/* Open the store at start: a refused file ends the process. */
static void
history_open(struct history *h)
{
	char	 err[256] = "";
	int	 ret;

	ret = store_open(&h->store, h->cfg->history_file, STORE_RDWR,
	    h->sync_full, err, sizeof(err));
	if (ret == STORE_ECORRUPT) {
		log_warnx("%s: %s; refusing it (move it away to "
		    "start a new one)", h->cfg->history_file, err);
		exit(HISTORY_EXIT_REFUSED);
	}
	if (ret != STORE_OK) {
		history_reason(err, sizeof(err), ret);
		history_fail(h, ret, err);
		return;
	}
	history_epoch_check(h);
	atomic_store_explicit(&h->sh->sh_state, SHM_HIST_OK,
	    memory_order_release);
}

void
history_run(const struct cfg *cfg, struct bus_shared *bus)
{
	static const int	 sigs[4] = { SIGTERM, SIGINT, SIGQUIT, SIGUSR1 };
	struct history		 h;
	struct timeval		 flush, trim = { 1, 0 };
	sigset_t		 none;
	uint64_t		 pos, max;
	unsigned		 i;

	log_procinit("history");
	memset(&h, 0, sizeof(h));
	h.cfg = cfg;
	h.sync_full = strcmp(cfg->history_sync, "full") == 0;
	h.reg = &bus->reg;
	h.ring = shm_region_ring(h.reg, BUS_RING);
	h.sh = shm_region_hist(h.reg);
	atomic_store_explicit(&h.sh->sh_pid, (uint64_t)getpid(),
	    memory_order_relaxed);
	h.recsz = shm_ring_max_record(h.ring);
	if ((h.rec = malloc(h.recsz)) == NULL ||
	    (h.dec = chat_dec_new()) == NULL) {
		log_warnx("out of memory");
		exit(1);
	}

	/*
	 * Where the last history process left off; 0 at the first start,
	 * which is where the ring began: what was published before this
	 * process came is kept too, or recorded as lost if the ring has
	 * lapped it.  Acquire: pairs with history_publish().
	 */
	pos = atomic_load_explicit(&h.sh->sh_pos, memory_order_acquire);
	shm_ring_cursor_at(h.ring, &h.cur, pos);
	h.seen_id = atomic_load_explicit(&h.sh->sh_committed_id,
	    memory_order_relaxed);
	history_open(&h);
	/* A predecessor may have committed past what it published. */
	if (h.store != NULL && (max = store_max_id(h.store)) > h.seen_id)
		h.seen_id = max;

	if ((h.base = event_base_new()) == NULL) {
		log_warnx("event_base_new failed");
		exit(1);
	}
	h.ev_flush = event_new(h.base, -1, EV_PERSIST, history_flush_cb, &h);
	h.ev_trim = evtimer_new(h.base, history_trim_cb, &h);
	flush.tv_sec = cfg->history_flush / 1000;
	flush.tv_usec = (suseconds_t)(cfg->history_flush % 1000) * 1000;
	if (h.ev_flush == NULL || h.ev_trim == NULL ||
	    event_add(h.ev_flush, &flush) == -1 ||
	    event_add(h.ev_trim, &trim) == -1) {
		log_warnx("cannot set up events");
		exit(1);
	}
	for (i = 0; i < 4; i++)
		if ((h.ev_sig[i] = evsignal_new(h.base, sigs[i],
		    history_signal_cb, &h)) == NULL ||
		    evsignal_add(h.ev_sig[i], NULL) == -1) {
			log_warnx("cannot set up signals");
			exit(1);
		}
	/* A hang-up of the master's terminal is the master's business. */
	signal(SIGHUP, SIG_IGN);
	/* Signals were blocked by the master; libevent now catches them. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	log_info("started, pid %d, %s, epoch %s, from id %llu", (int)getpid(),
	    cfg->history_file, h.store != NULL ? store_epoch(h.store) : "?",
	    (unsigned long long)h.seen_id);

	/* Catch up at once; then every history_flush ms. */
	event_active(h.ev_flush, EV_TIMEOUT, 0);
	if (event_base_dispatch(h.base) == -1)
		log_warnx("event_base_dispatch failed");

	/* Stopping: what has been published so far is kept, if it can be. */
	if (h.failing && now_mono_ms() >= h.retry_at)
		history_retry(&h);
	while (history_drain(&h))
		;
	store_close(h.store);
	if (!h.failing)
		atomic_store_explicit(&h.sh->sh_state, SHM_HIST_OFF,
		    memory_order_relaxed);
	for (i = 0; i < 4; i++)
		event_free(h.ev_sig[i]);
	event_free(h.ev_flush);
	event_free(h.ev_trim);
	event_base_free(h.base);
	chat_dec_free(h.dec);
	free(h.rec);
	log_info("stopped");
	exit(0);
}
