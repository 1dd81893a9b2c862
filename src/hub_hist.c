/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * hub_hist.c: a worker's memory of recent messages, and the history
 * replies made from it and from the store.  Every worker sees every event
 * of the bus in one order (bus.c), so each keeps the recent chat messages
 * of every room, and the recent private messages, as it delivers them:
 * history on login or join, and the replay of a resume after a short
 * drop, are then exactly "what this worker delivered before now", with
 * no gap and no overlap against what it delivers next, and never touch
 * the disk.  Older pages come from the store (store.c), opened read-only
 * in this process after fork(): the history process keeps every message
 * up to sh_committed_id there.
 *
 * What memory holds of a room is complete above the room's floor: a
 * message older than the floor may be in the store, not here.  A new
 * worker's floor is where its cursor started (bus_attach() starts it at
 * the history process's committed position, so what the store lacks is
 * replayed into memory first); eviction (history_recent per room,
 * history_memory per worker) and a loss on the bus raise it.  Who asks
 * (hub.c) decides what to send; this file only finds messages.
 */

#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include "wschatd.h"
#include "bus.h"
#include "hub.h"
#include "hub_hist.h"
#include "hub_int.h"
#include "store.h"
#include "worker.h"

/* One message kept: its strings follow it. */
struct hub_hmsg {
	TAILQ_ENTRY(hub_hmsg)	 entry;		/* hist.all or hist.pms */
	struct hub_hroom	*room;		/* NULL: a private message */
	uint64_t		 id;
	uint64_t		 ts;
	uint64_t		 sid;		/* sender's session */
	uint64_t		 to_sid;
	uint8_t			 fromlen;
	uint8_t			 tolen;
	uint8_t			 peerlen;
	uint32_t		 contentlen;
	char			 data[];	/* from, to, peer, content */
};

/* A room's messages in memory, oldest first, in a ring of pointers. */
struct hub_hroom {
	struct hub_hroom	*next;		/* hash chain */
	struct hub_hmsg		**ring;
	unsigned		 cap;		/* allocated */
	unsigned		 first;
	unsigned		 n;
	uint64_t		 floor;		/* complete above it */
	size_t			 namelen;
	char			 name[SHM_NAME_MAX + 1];
};

TAILQ_HEAD(hub_hmsgs, hub_hmsg);

struct hub_hist {
	struct hub_hroom	**rooms;
	size_t			 nbuckets;
	struct hub_hmsgs	 all;		/* room messages, by id */
	struct hub_hmsgs	 pms;		/* private ones, by id */
	size_t			 npms;
	size_t			 bytes;		/* of all and pms */
	uint64_t		 floor;		/* a room not kept: above it */
	uint64_t		 pm_floor;
	uint64_t		 delivered;	/* the last chat id seen */
	struct store		*store;		/* read-only; NULL: not open */
	time_t			 store_retry;	/* after a failed open */
};

#define HUB_HIST_BUCKETS	1024

static size_t
hub_hist_hash(const char *p, size_t len)
{
	size_t	 h = 5381;

	while (len-- > 0)
		h = h * 33 + (unsigned char)*p++;
	return (h);
}

static struct hub_hroom **
hub_hist_bucket(struct hub_hist *h, const char *name, size_t len)
{
	return (&h->rooms[hub_hist_hash(name, len) & (h->nbuckets - 1)]);
}

static struct hub_hroom *
hub_hist_room(struct hub_hist *h, const char *name, size_t len, int create)
{
	struct hub_hroom	**b, *r;

	if (len > SHM_NAME_MAX)
		return (NULL);
	b = hub_hist_bucket(h, name, len);
	for (r = *b; r != NULL; r = r->next)
		if (r->namelen == len && memcmp(r->name, name, len) == 0)
			return (r);
	if (!create || (r = calloc(1, sizeof(*r))) == NULL)
		return (NULL);
	memcpy(r->name, name, len);
	r->namelen = len;
	r->floor = h->floor;
	r->next = *b;
	*b = r;
	return (r);
}

static void
hub_hist_room_free(struct hub_hist *h, struct hub_hroom *r)
{
	struct hub_hroom	**b = hub_hist_bucket(h, r->name, r->namelen);

	while (*b != r)
		b = &(*b)->next;
	*b = r->next;
	/* What it held is gone from memory: rooms not kept start above. */
	if (r->floor > h->floor)
		h->floor = r->floor;
	free(r->ring);
	free(r);
}

static size_t
hub_hist_size(const struct hub_hmsg *m)
{
	return (sizeof(*m) + m->fromlen + m->tolen + m->peerlen +
	    m->contentlen);
}

/* Forget a room's oldest message; the room goes when it is empty. */
static void
hub_hist_drop_oldest(struct hub_hist *h, struct hub_hroom *r)
{
	struct hub_hmsg	*m = r->ring[r->first];

	r->first = (r->first + 1) % r->cap;
	r->n--;
	r->floor = m->id;
	TAILQ_REMOVE(&h->all, m, entry);
	h->bytes -= hub_hist_size(m);
	free(m);
	if (r->n == 0)
		hub_hist_room_free(h, r);
}

static void
hub_hist_drop_pm(struct hub_hist *h)
{
	struct hub_hmsg	*m = TAILQ_FIRST(&h->pms);

	TAILQ_REMOVE(&h->pms, m, entry);
	h->npms--;
	h->pm_floor = m->id;
	h->bytes -= hub_hist_size(m);
	free(m);
}

void
hub_hist_init(struct worker *w, uint64_t floor)
{
	struct hub_hist	*h;

	h = xcalloc(1, sizeof(*h));
	h->nbuckets = HUB_HIST_BUCKETS;
	h->rooms = xcalloc(h->nbuckets, sizeof(*h->rooms));
	TAILQ_INIT(&h->all);
	TAILQ_INIT(&h->pms);
	h->floor = h->pm_floor = h->delivered = floor;
	w->hist = h;
}

void
hub_hist_clear(struct worker *w)
{
	struct hub_hist	*h = w->hist;
	struct hub_hmsg	*m;
	size_t		 i;
	struct hub_hroom *r;

	if (h == NULL)
		return;
	while ((m = TAILQ_FIRST(&h->all)) != NULL) {
		TAILQ_REMOVE(&h->all, m, entry);
		free(m);
	}
	while ((m = TAILQ_FIRST(&h->pms)) != NULL) {
		TAILQ_REMOVE(&h->pms, m, entry);
		free(m);
	}
	for (i = 0; i < h->nbuckets; i++)
		while ((r = h->rooms[i]) != NULL) {
			h->rooms[i] = r->next;
			free(r->ring);
			free(r);
		}
	free(h->rooms);
	if (h->store != NULL)
		store_close(h->store);
	free(h);
	w->hist = NULL;
}

static void
hub_hist_put(char *dst, struct chat_str s)
{
	if (s.len > 0)
		memcpy(dst, s.p, s.len);
}

/*
 * Remember a chat message (a room's) or a private one, from the bus.
 * Out of memory, it forgets instead: the floors say what is missing.
 * Worker process, for every such event, delivered or past.
 */
void
hub_hist_note(struct worker *w, const struct chat_env *e)
{
	struct hub_hist		*h = w->hist;
	const struct cfg	*cfg = w->cfg;
	struct hub_hroom	*r = NULL;
	struct hub_hmsg		*m, **ring;
	size_t			 need;
	unsigned		 cap, i;

	if (h == NULL || (e->type != CHAT_USER && e->type != CHAT_PRIVATE))
		return;
	if (e->id > h->delivered)
		h->delivered = e->id;
	if (e->from.len > 255 || e->to.len > 255 || e->peer.len > 255)
		return;
	if (e->type == CHAT_USER) {
		if (cfg->history_recent == 0 || e->room.p == NULL)
			return;
		if ((r = hub_hist_room(h, e->room.p, e->room.len, 1)) == NULL)
			return;
		if (e->id <= r->floor)
			return;		/* replayed after a loss: not whole */
	} else if (cfg->history_private == 0 || e->id <= h->pm_floor)
		return;
	need = sizeof(*m) + e->from.len + e->to.len + e->peer.len +
	    e->content.len;
	if ((m = malloc(need)) == NULL)
		goto forget;
	m->room = r;
	m->id = e->id;
	m->ts = e->ts;
	m->sid = e->sid;
	m->to_sid = e->to_sid;
	m->fromlen = (uint8_t)e->from.len;
	m->tolen = (uint8_t)e->to.len;
	m->peerlen = (uint8_t)e->peer.len;
	m->contentlen = (uint32_t)e->content.len;
	/* An absent string is NULL: memcpy must not see it, even for 0. */
	hub_hist_put(m->data, e->from);
	hub_hist_put(m->data + m->fromlen, e->to);
	hub_hist_put(m->data + m->fromlen + m->tolen, e->peer);
	hub_hist_put(m->data + m->fromlen + m->tolen + m->peerlen,
	    e->content);
	h->bytes += need;
	if (r == NULL) {
		TAILQ_INSERT_TAIL(&h->pms, m, entry);
		if (++h->npms > cfg->history_private)
			hub_hist_drop_pm(h);
	} else {
		if (r->n == r->cap) {
			if (r->cap >= cfg->history_recent) {
				/* Full: the oldest makes room (r stays, n>0). */
				hub_hist_drop_oldest(h, r);
			} else {
				cap = r->cap == 0 ? 8 : r->cap * 2;
				if (cap > cfg->history_recent)
					cap = cfg->history_recent;
				if ((ring = calloc(cap, sizeof(*ring))) ==
				    NULL) {
					h->bytes -= need;
					free(m);
					goto forget;
				}
				for (i = 0; i < r->n; i++)
					ring[i] = r->ring[(r->first + i) %
					    r->cap];
				free(r->ring);
				r->ring = ring;
				r->cap = cap;
				r->first = 0;
			}
		}
		r->ring[(r->first + r->n) % r->cap] = m;
		r->n++;
		TAILQ_INSERT_TAIL(&h->all, m, entry);
	}
	/* The oldest messages of all go first, whichever room they are in. */
	while (h->bytes > cfg->history_memory) {
		if ((m = TAILQ_FIRST(&h->all)) != NULL &&
		    (TAILQ_FIRST(&h->pms) == NULL ||
		    m->id < TAILQ_FIRST(&h->pms)->id))
			hub_hist_drop_oldest(h, m->room);
		else if (TAILQ_FIRST(&h->pms) != NULL)
			hub_hist_drop_pm(h);
		else
			break;
	}
	return;
forget:
	if (r != NULL && r->n == 0)
		hub_hist_room_free(h, r);
	hub_hist_lost(w, e->id);
}

/* The id of the last chat or private message this worker has seen. */
uint64_t
hub_hist_delivered(struct worker *w)
{
	return (w->hist != NULL ? w->hist->delivered :
	    shm_region_last_msg_id(w->reg));
}

/*
 * Messages up to id may be missing from memory (the bus lapped us, or
 * we ran out of memory): every floor goes up to it.  Worker process.
 */
void
hub_hist_lost(struct worker *w, uint64_t id)
{
	struct hub_hist		*h = w->hist;
	struct hub_hroom	*r, *next;
	size_t			 i;

	if (h == NULL)
		return;
	if (id > h->floor)
		h->floor = id;
	if (id > h->pm_floor)
		h->pm_floor = id;
	for (i = 0; i < h->nbuckets; i++)
		for (r = h->rooms[i]; r != NULL; r = next) {
			next = r->next;
			if (id > r->floor)
				r->floor = id;
		}
}

/* The store, opened on first use; NULL if history is off or it fails. */
static struct store *
hub_hist_store(struct worker *w)
{
	struct hub_hist	*h = w->hist;
	char		 err[256];
	time_t		 now = time(NULL);

	if (h->store != NULL || !w->cfg->history)
		return (h->store);
	if (now < h->store_retry)
		return (NULL);
	if (store_open(&h->store, w->cfg->history_file, STORE_RDONLY, 0, err,
	    sizeof(err)) != STORE_OK) {
		log_warnx("history: cannot read %s: %s", w->cfg->history_file,
		    err);
		h->store = NULL;
		h->store_retry = now + 5;
	}
	return (h->store);
}

/*
 * Room r's floor (NULL: a room memory does not hold): memory has every
 * message of it above, the store those below.  With history_recent 0
 * memory holds none, and everything is the store's.
 */
static uint64_t
hub_hist_floor(struct worker *w, const struct hub_hroom *r)
{
	if (w->cfg->history_recent == 0)
		return (shm_region_last_msg_id(w->reg));
	return (r != NULL ? r->floor : w->hist->floor);
}

/* A kept message as a chat message to send. */
static void
hub_hist_msg(const struct hub_hmsg *hm, struct chat_str room,
    struct chat_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->type = hm->room != NULL ? CHAT_USER : CHAT_PRIVATE;
	m->from.p = hm->data;
	m->from.len = hm->fromlen;
	if (hm->room == NULL) {
		m->to.p = hm->data + hm->fromlen;
		m->to.len = hm->tolen;
	} else
		m->room = room;
	m->peer.p = hm->data + hm->fromlen + hm->tolen;
	m->peer.len = hm->peerlen;
	m->content.p = m->peer.p + hm->peerlen;
	m->content.len = hm->contentlen;
	m->timestamp = hm->ts;
	m->id = hm->id;
}

static void
hub_hist_from_store(const struct store_msg *sm, struct chat_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->type = CHAT_USER;
	m->from.p = sm->from;
	m->from.len = sm->from_len;
	m->room.p = sm->room;
	m->room.len = sm->room_len;
	m->peer.p = sm->peer;
	m->peer.len = sm->peer_len;
	m->content.p = sm->content;
	m->content.len = sm->content_len;
	m->timestamp = sm->ts;
	m->id = sm->id;
}

static int
hub_hist_grow(struct hub_hist_page *pg, size_t n)
{
	struct chat_msg	*p;

	if (pg->n + n <= pg->cap)
		return (0);
	if ((p = reallocarray(pg->msgs, pg->n + n, sizeof(*p))) == NULL)
		return (-1);
	pg->msgs = p;
	pg->cap = pg->n + n;
	return (0);
}

/* Does the store hold every message of (after, upto]?  */
static int
hub_hist_store_whole(struct worker *w, struct store *st, uint64_t after,
    uint64_t upto)
{
	struct shm_hist	*sh = shm_region_hist(w->reg);
	char		 err[256];

	/* Acquire: what it committed before the id is readable. */
	if (atomic_load_explicit(&sh->sh_committed_id,
	    memory_order_acquire) < upto)
		return (0);
	return (store_gap_between(st, after, upto, err, sizeof(err)) == 0);
}

/*
 * The up to limit messages of room with ids below before (0: the latest),
 * oldest first, into pg: memory first, then the store below the room's
 * floor.  pg->more: older ones exist (or may: the store is not asked).
 * Returns 0, or -1 if out of memory (pg is cleared).  Worker process.
 */
int
hub_hist_page(struct worker *w, struct chat_str room, uint64_t before,
    size_t limit, struct hub_hist_page *pg)
{
	struct hub_hist		*h = w->hist;
	struct hub_hroom	*r;
	struct store		*st;
	size_t			 i, k, from;
	uint64_t		 floor, below;
	char			 err[256];

	memset(pg, 0, sizeof(*pg));
	if (h == NULL || limit == 0)
		return (0);
	r = hub_hist_room(h, room.p, room.len, 0);
	floor = hub_hist_floor(w, r);
	/* The newest limit of memory's below before. */
	k = r != NULL ? r->n : 0;
	if (before != 0)
		while (k > 0 && r->ring[(r->first + k - 1) % r->cap]->id >=
		    before)
			k--;
	from = k > limit ? k - limit : 0;
	if (hub_hist_grow(pg, limit) == -1)
		return (-1);
	if (k - from < limit && floor > 0 &&
	    (st = hub_hist_store(w)) != NULL) {
		/* What memory lacks, from the store: ids at most floor. */
		below = before != 0 && before <= floor ? before : floor + 1;
		if (store_page(st, room.p, room.len, below, limit - (k - from),
		    &pg->sp, err, sizeof(err)) != STORE_OK)
			log_warnx("history: page of %.*s: %s", (int)room.len,
			    room.p, err);
		for (i = 0; i < pg->sp.n; i++)
			hub_hist_from_store(&pg->sp.msgs[i],
			    &pg->msgs[pg->n++]);
		pg->more = pg->sp.more;
	} else if (k - from == limit && floor > 0 &&
	    (st = hub_hist_store(w)) != NULL) {
		/* Memory filled the page: does the store have older ones? */
		if (store_page(st, room.p, room.len, floor + 1, 1, &pg->sp, err,
		    sizeof(err)) == STORE_OK)
			pg->more = pg->sp.n > 0;
		store_page_clear(&pg->sp);
	}
	if (from > 0)
		pg->more = 1;
	for (i = from; i < k; i++)
		hub_hist_msg(r->ring[(r->first + i) % r->cap], room,
		    &pg->msgs[pg->n++]);
	return (0);
}

/*
 * What a resumed session missed: the messages of room after since, and
 * the private messages from or to session sid after it, merged in id
 * order, at most limit (pg->more: more were missed; pg->gap: some are no
 * longer kept).  Returns 0, or -1 if out of memory.  Worker process.
 */
int
hub_hist_since(struct worker *w, struct chat_str room, uint64_t sid,
    uint64_t since, size_t limit, struct hub_hist_page *pg)
{
	struct hub_hist		*h = w->hist;
	struct hub_hroom	*r;
	struct hub_hmsg		*pm;
	struct store		*st;
	struct chat_msg		*out;
	size_t			 i, k, nr, ns;
	uint64_t		 floor;
	char			 err[256];

	memset(pg, 0, sizeof(*pg));
	if (h == NULL)
		return (0);
	r = hub_hist_room(h, room.p, room.len, 0);
	floor = hub_hist_floor(w, r);
	if (since < h->pm_floor)
		pg->gap = 1;
	/* From the store: the room's messages in (since, floor]. */
	if (since < floor) {
		if ((st = hub_hist_store(w)) == NULL ||
		    !hub_hist_store_whole(w, st, since, floor))
			pg->gap = 1;
		if (st != NULL && store_range(st, room.p, room.len, since,
		    floor, limit, &pg->sp, err, sizeof(err)) != STORE_OK)
			log_warnx("history: resume in %.*s: %s",
			    (int)room.len, room.p, err);
	}
	ns = pg->sp.n;
	k = 0;
	nr = r != NULL ? r->n : 0;
	while (k < nr && r->ring[(r->first + k) % r->cap]->id <= since)
		k++;
	if (hub_hist_grow(pg, ns + (nr - k) + h->npms) == -1)
		return (-1);
	for (i = 0; i < ns; i++)
		hub_hist_from_store(&pg->sp.msgs[i], &pg->msgs[pg->n++]);
	/* Memory's room messages and private ones, merged by id. */
	pm = TAILQ_FIRST(&h->pms);
	for (;;) {
		while (pm != NULL && (pm->id <= since || (pm->sid != sid &&
		    pm->to_sid != sid)))
			pm = TAILQ_NEXT(pm, entry);
		if (k == nr && pm == NULL)
			break;
		out = &pg->msgs[pg->n++];
		if (k < nr && (pm == NULL ||
		    r->ring[(r->first + k) % r->cap]->id < pm->id))
			hub_hist_msg(r->ring[(r->first + k++) % r->cap], room,
			    out);
		else {
			hub_hist_msg(pm, room, out);
			pm = TAILQ_NEXT(pm, entry);
		}
	}
	if (pg->n > limit) {
		/* The newest limit: a client that missed more than that
		 * hears of a gap, and gets what is most recent. */
		memmove(pg->msgs, pg->msgs + (pg->n - limit),
		    limit * sizeof(*pg->msgs));
		pg->n = limit;
		pg->more = pg->gap = 1;
	}
	return (0);
}

/*
 * Keep only the newest messages of pg that surely fit in budget bytes
 * once encoded: a history reply, or a resume's replay, is queued whole,
 * and more than max_pending of it would cut the client off as a slow
 * consumer.  The guess is the worst case: every byte of text escaped
 * (\u00XX, 6 bytes), the names twice.  Returns 1 if it dropped any.
 */
int
hub_hist_fit(struct hub_hist_page *pg, size_t budget)
{
	const struct chat_msg	*m;
	size_t			 i = pg->n, sum = 0, one;

	while (i > 0) {
		m = &pg->msgs[i - 1];
		one = 6 * m->content.len + 2 * (m->from.len + m->to.len +
		    m->room.len + m->peer.len) + 160;
		if (sum + one > budget)
			break;
		sum += one;
		i--;
	}
	if (i == 0)
		return (0);
	memmove(pg->msgs, pg->msgs + i, (pg->n - i) * sizeof(*pg->msgs));
	pg->n -= i;
	return (1);
}

void
hub_hist_page_clear(struct hub_hist_page *pg)
{
	free(pg->msgs);
	store_page_clear(&pg->sp);
	memset(pg, 0, sizeof(*pg));
}

/*
 * Send c a history reply: the up to limit messages of room below before
 * (0: the latest).  Everything this worker delivered before now and
 * nothing after (hub_hist.c), so sent right when c enters a room nothing
 * falls between it and the live messages.
 */
void
hub_hist_send(struct conn *c, struct chat_str room, uint64_t before,
    size_t limit)
{
	struct hub_hist_page	 pg;
	struct chat_msg		 m;
	size_t			 i;

	if (hub_hist_page(c->w, room, before, limit, &pg) == -1) {
		hub_system(c, "server_error", "no history: out of memory");
		return;
	}
	/* A page asks for no more than a quarter of what may be queued. */
	if (hub_hist_fit(&pg, c->w->cfg->max_pending / 4))
		pg.more = 1;
	memset(&m, 0, sizeof(m));
	m.type = CHAT_HISTORY;
	m.room = room;
	m.epoch = hub_epoch(c->w);
	/* Version 1 has no epoch on a message (the reply carries it). */
	if (chat_fmt_v2(c->fmt))
		for (i = 0; i < pg.n; i++)
			pg.msgs[i].epoch = m.epoch;
	m.msgs = pg.msgs;
	m.nmsgs = pg.n;
	m.more = pg.more;
	hub_send(c, &m);
	hub_hist_page_clear(&pg);
}

/* {"type":"history"}: a page, in the room asked (c's if none). */
void
hub_hist_cmd(struct conn *c, const struct chat_cmd *cmd)
{
	struct chat_str	 room = cmd->room.p != NULL ? cmd->room :
			    hub_room_name(c);
	uint64_t	 limit = cmd->limit;

	if (cmd->room.p != NULL && !hub_room_ok(c, room))
		return;
	if (limit == 0)
		limit = c->fmt == CHAT_FMT_LINE ? 20 :
		    c->w->cfg->history_join;
	if (limit > c->w->cfg->history_page_max)
		limit = c->w->cfg->history_page_max;
	hub_hist_send(c, room, cmd->before, (size_t)limit);
}
