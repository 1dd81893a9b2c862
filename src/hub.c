/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * hub.c: the chat, on every worker, for every protocol.  It turns what a
 * client sends (login, user, to, rename, who, join, leave, logout, or raw
 * text; a line of the line port is the same commands) into replies and
 * bus events, and every bus event, from any worker, into frames for the
 * local clients it concerns.  Each event is encoded once per worker and
 * format (JSON, MessagePack, line) and the same frame goes to every local
 * recipient (copied if small, by reference if large: conn_send()).  Names
 * are judged by chat_name_check() (chat_name.c), the same for every
 * protocol, and claimed in the shared presence table, so they are unique
 * across workers regardless of ASCII case; rooms are per-worker lists of
 * local members, for fan-out, and each name's room is in its presence slot
 * too, for the server-wide "who" of a room and "rooms".  Joining and
 * leaving a room are bus events for the members of the room.  conn.c owns
 * the connections; bus.c moves the events.
 *
 * A chat message's path, one function per file.  The socket's bytes
 * reach conn_read_cb() in conn.c, which hands them to the connection's
 * protocol: conn_ws_read() in conn_ws.c feeds them to ws_reader_feed() in
 * ws.c until a message is whole (conn_line_read() in conn_line.c feeds
 * chat_line_reader_feed() in chat_line.c until a line is), then passes it
 * to hub_input() here, which has it parsed by chat_cmd_parse() in chat.c
 * (chat_cmd_parse_line() in chat_line.c for a line) and publishes the
 * event with bus_publish() in bus.c, which encodes it with
 * chat_env_encode() and writes it to this worker's ring with
 * shm_ring_publish() in shm/shm_ring.c.  Every worker's loop,
 * worker_deliver() in worker.c, takes the events of every ring from
 * bus_next() (shm_ring_read()) and gives each to hub_deliver() here,
 * which encodes it once per format (chat_msg_encode()) and queues the
 * frame on each recipient with conn_send() in conn.c; conn_flush_pending()
 * writes each connection's frames with one writev(2) per loop iteration.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wschatd.h"
#include "bus.h"
#include "conn.h"
#include "hub.h"
#include "hub_hist.h"
#include "hub_int.h"
#include "worker.h"

/* A room on this worker: the local members, for fan-out. */
struct hub_room {
	struct hub_room		*next;		/* hash chain */
	struct conn_list	 members;
	unsigned		 nmembers;
	size_t			 namelen;
	char			 name[SHM_NAME_MAX + 1];
};

static int
hub_is_lobby(const char *name, size_t len)
{
	return (len == sizeof(HUB_LOBBY) - 1 &&
	    memcmp(name, HUB_LOBBY, len) == 0);
}

/* In the chat, and not on its way out. */
int
hub_is_chat(const struct conn *c)
{
	return (c->chat.open && !c->dead);
}

/* ---------------------------------------------------------------- */
/* Rooms and the connection index                                   */

/* Room names are the clients': a keyed hash, like the presence table's. */
static struct hub_room **
hub_room_bucket(struct worker *w, const char *name, size_t len)
{
	return (&w->hub.rooms[shm_hash(w->reg, name, len) &
	    (w->hub.nroombuckets - 1)]);
}

static struct hub_room *
hub_room_get(struct worker *w, const char *name, size_t len, int create)
{
	struct hub_room	**b, *r;

	b = hub_room_bucket(w, name, len);
	for (r = *b; r != NULL; r = r->next)
		if (r->namelen == len && memcmp(r->name, name, len) == 0)
			return (r);
	if (!create || (r = calloc(1, sizeof(*r))) == NULL)
		return (NULL);
	if (!hub_is_lobby(name, len))
		w->hub.nrooms++;
	TAILQ_INIT(&r->members);
	memcpy(r->name, name, len);
	r->namelen = len;
	r->next = *b;
	*b = r;
	return (r);
}

static void
hub_room_drop(struct worker *w, struct hub_room *r)
{
	struct hub_room	**b;

	b = hub_room_bucket(w, r->name, r->namelen);
	while (*b != r)
		b = &(*b)->next;
	*b = r->next;
	w->hub.nrooms--;
	free(r);
}

static void
hub_room_leave(struct conn *c)
{
	struct hub_room	*r = c->chat.room;

	if (r == NULL)
		return;
	TAILQ_REMOVE(&r->members, c, chat.room_entry);
	r->nmembers--;
	c->chat.room = NULL;
	/* Rooms exist while someone is in them; the lobby always does. */
	if (r->nmembers == 0 && !hub_is_lobby(r->name, r->namelen))
		hub_room_drop(c->w, r);
}

int
hub_room_join(struct conn *c, const char *name, size_t len)
{
	struct hub_room	*r;

	if (c->chat.room != NULL && c->chat.room->namelen == len &&
	    memcmp(c->chat.room->name, name, len) == 0)
		return (0);
	if ((r = hub_room_get(c->w, name, len, 1)) == NULL)
		return (-1);
	hub_room_leave(c);
	TAILQ_INSERT_TAIL(&r->members, c, chat.room_entry);
	r->nmembers++;
	c->chat.room = r;
	return (0);
}

void
hub_byid_add(struct worker *w, struct conn *c)
{
	struct conn	**b;

	b = &w->hub.byid[c->id & (w->hub.nidbuckets - 1)];
	c->chat.id_next = *b;
	*b = c;
}

void
hub_byid_del(struct worker *w, struct conn *c)
{
	struct conn	**b;

	for (b = &w->hub.byid[c->id & (w->hub.nidbuckets - 1)]; *b != NULL;
	    b = &(*b)->chat.id_next)
		if (*b == c) {
			*b = c->chat.id_next;
			return;
		}
}

static struct conn *
hub_byid_find(struct worker *w, uint64_t id)
{
	struct conn	*c;

	for (c = w->hub.byid[id & (w->hub.nidbuckets - 1)]; c != NULL;
	    c = c->chat.id_next)
		if (c->id == id)
			return (c);
	return (NULL);
}

/* ---------------------------------------------------------------- */
/* Presence in order: the names announced online here                 */

/*
 * What this worker last told its version 2 and line clients
 * (hub_fmt_ordered()) about a name: that it is online, by the login (or
 * rename) with this stamp.  A login of the name with another stamp means
 * its holder changed while the clients heard nothing: the old holder's
 * logout was overtaken by the login and dropped (hub_presence_news()),
 * or is still to come and will be.  Either way, those clients get that
 * logout first (hub_deliver_ordered()), so that they see a name's events
 * in the order they happened.  An entry goes with the name's logout, or
 * in the sweep once the name has been free for a second (a logout may be
 * on its way a moment after the name is freed, and the next holder may
 * come as fast): there are about as many as names online, and never more
 * than the presence table has slots.  Names are one name in any ASCII
 * case, as there.
 */
struct hub_seen {
	struct hub_seen	*next;
	uint64_t	 stamp;
	size_t		 len;
	int		 free;		/* found free by the last sweep */
	char		 name[SHM_NAME_MAX + 1];
	char		 peer[SHM_PEER_MAX];	/* its holder's, for a line */
};

static struct hub_seen **
hub_seen_link(struct worker *w, struct chat_str name)
{
	struct hub_seen	**p;

	p = &w->hub.seen[shm_hash(w->reg, name.p, name.len) &
	    (w->hub.nseenbuckets - 1)];
	while (*p != NULL && !shm_hash_equal((*p)->name, (*p)->len, name.p,
	    name.len))
		p = &(*p)->next;
	return (p);
}

static void
hub_seen_unlink(struct worker *w, struct hub_seen **p)
{
	struct hub_seen	*s = *p;

	*p = s->next;
	free(s);
	w->hub.nseen--;
}

static void
hub_seen_forget(struct worker *w, struct chat_str name)
{
	struct hub_seen	**p = hub_seen_link(w, name);

	if (*p != NULL)
		hub_seen_unlink(w, p);
}

/*
 * name is announced online, for peer, by the event with this stamp.
 * Returns 1 with the name as it was spelt, and its holder's address, in
 * gone if it was last announced for another holder (or spelling), else
 * 0.  Without memory for an entry the name is
 * not remembered: its clients may miss a logout then, never get a wrong
 * one.
 */
static int
hub_seen_note(struct worker *w, struct chat_str name, struct chat_str peer,
    uint64_t stamp, struct hub_seen *gone)
{
	struct hub_seen	**p, *s;
	int		 changed = 0;

	if (name.len > SHM_NAME_MAX)
		return (0);
	p = hub_seen_link(w, name);
	if ((s = *p) == NULL) {
		if (w->hub.nseen >= w->hub.plistsz ||
		    (s = calloc(1, sizeof(*s))) == NULL)
			return (0);
		*p = s;
		w->hub.nseen++;
	} else if (s->stamp != stamp) {
		*gone = *s;
		changed = 1;
	}
	s->stamp = stamp;
	memcpy(s->name, name.p, name.len);
	s->name[name.len] = '\0';
	s->len = name.len;
	if (peer.len >= sizeof(s->peer))
		peer.len = 0;		/* no address is better than half */
	if (peer.len > 0)
		memcpy(s->peer, peer.p, peer.len);
	s->peer[peer.len] = '\0';
	s->free = 0;
	return (changed);
}

/* Once a second: forget the names found free by this sweep and the last. */
static void
hub_seen_sweep(struct worker *w)
{
	struct shm_presence_entry	 pe;
	struct hub_seen			**p, *s;
	size_t				 i;

	for (i = 0; i < w->hub.nseenbuckets && w->hub.nseen > 0; i++)
		for (p = &w->hub.seen[i]; (s = *p) != NULL;) {
			if (shm_presence_lookup(w->reg, s->name, s->len,
			    &pe) == SHM_OK)
				s->free = 0;
			else if (s->free) {
				hub_seen_unlink(w, p);
				continue;
			} else
				s->free = 1;
			p = &s->next;
		}
}

static void
hub_seen_clear(struct worker *w)
{
	size_t	 i;

	for (i = 0; i < w->hub.nseenbuckets; i++)
		while (w->hub.seen[i] != NULL)
			hub_seen_unlink(w, &w->hub.seen[i]);
	free(w->hub.seen);
	w->hub.seen = NULL;
}

void
hub_init(struct worker *w)
{
	TAILQ_INIT(&w->hub.members);
	w->hub.nroombuckets = 1024;
	w->hub.rooms = xcalloc(w->hub.nroombuckets, sizeof(*w->hub.rooms));
	w->hub.nidbuckets = 65536;
	w->hub.byid = xcalloc(w->hub.nidbuckets, sizeof(*w->hub.byid));
	/* As many as the table has slots: a list is never cut short. */
	w->hub.plistsz = w->reg->hdr->sh_pslots;
	w->hub.plist = xcalloc(w->hub.plistsz, sizeof(*w->hub.plist));
	w->hub.ulist = xcalloc(w->hub.plistsz, sizeof(*w->hub.ulist));
	w->hub.picked = xcalloc(w->hub.plistsz, sizeof(*w->hub.picked));
	w->hub.wlist = xcalloc(w->hub.plistsz, sizeof(*w->hub.wlist));
	/* Every name in a room of its own, and the lobby. */
	w->hub.rcount = xcalloc(w->hub.plistsz + 1, sizeof(*w->hub.rcount));
	w->hub.nseenbuckets = w->hub.plistsz;
	w->hub.seen = xcalloc(w->hub.nseenbuckets, sizeof(*w->hub.seen));
	if (hub_room_get(w, HUB_LOBBY, strlen(HUB_LOBBY), 1) == NULL)
		fatalx("%s: out of memory", __func__);
}

void
hub_clear(struct worker *w)
{
	struct hub_room	*r, *next;
	size_t		 i;

	for (i = 0; i < w->hub.nroombuckets; i++)
		for (r = w->hub.rooms[i]; r != NULL; r = next) {
			next = r->next;
			free(r);
		}
	free(w->hub.rooms);
	free(w->hub.byid);
	free(w->hub.plist);
	free(w->hub.ulist);
	free(w->hub.picked);
	free(w->hub.wlist);
	free(w->hub.rcount);
	hub_seen_clear(w);
	w->hub.rooms = NULL;
	w->hub.byid = NULL;
}

/* ---------------------------------------------------------------- */
/* Output                                                           */

/*
 * The online names, server-wide, in w->hub.plist and w->hub.ulist
 * (w->hub.nplist of them).  Walking the presence table costs a look at
 * every slot, so the list is kept until the table's generation says a
 * name came or went: a storm of connects or chat messages walks it once.
 */
static size_t
hub_presence(struct worker *w)
{
	uint64_t	 gen;
	size_t		 i;

	gen = shm_presence_gen(w->reg);
	if (w->hub.plist_ok && gen == w->hub.plist_gen)
		return (w->hub.nplist);
	w->hub.nplist = shm_presence_list(w->reg, w->hub.plist, w->hub.plistsz);
	for (i = 0; i < w->hub.nplist; i++) {
		w->hub.ulist[i].p = w->hub.plist[i].name;
		w->hub.ulist[i].len = strlen(w->hub.plist[i].name);
	}
	w->hub.plist_gen = gen;
	w->hub.plist_ok = 1;
	return (w->hub.nplist);
}

static void
hub_user_list(struct worker *w, struct chat_msg *m)
{
	m->nusers = hub_presence(w);
	m->user_list = w->hub.ulist;
	m->has_user_list = 1;
}

/*
 * One event's frames, encoded on first use for each format: every local
 * recipient of that format then shares the same bytes.  A user list is
 * read only if some local client gets the event, and once.  Version 2
 * clients get m2, made from m on first use (hub_msg_v2()).
 */
struct hub_frames {
	struct worker		*w;
	struct chat_msg		*m;
	const struct chat_env	*env;		/* presence: the event */
	int			 want_users;
	int			 failed;	/* encoding failed: say so once */
	int			 v2;		/* m2: 0 not made, 1 made, -1 none */
	int			 ordered_only;	/* for hub_fmt_ordered() clients */
	int			 news;		/* hub_presence_news() of env */
	struct chat_msg		 m2;
	struct ws_out		*o[CHAT_FMT_COUNT];	/* by format */
	size_t			 largest;	/* bytes queued per client, at most */
};

static struct chat_msg	*hub_msg_v2(struct hub_frames *);

/* The history store's epoch, which version 2's messages carry. */
struct chat_str
hub_epoch(struct worker *w)
{
	const char	*e = w->reg->hdr->sh_epoch;

	return ((struct chat_str){ e, strlen(e) });
}

/*
 * Formats whose clients keep the list of who is online from the events
 * alone, with no user_list to put it right: version 2, and line users,
 * who read "X: online" and "X: offline".  They get a name's presence
 * events in the order they happened (hub_presence_news(),
 * hub_deliver_ordered()).
 */
static int
hub_fmt_ordered(enum chat_fmt fmt)
{
	return (chat_fmt_v2(fmt) || fmt == CHAT_FMT_LINE);
}

/* The frame of this event for c's format; NULL if it has none. */
static struct ws_out *
hub_frame(struct hub_frames *f, const struct conn *c)
{
	struct ws_out	**o = &f->o[c->fmt];
	struct chat_msg	*m = f->m;
	uint8_t		*buf;
	size_t		 len;

	if (f->ordered_only && !hub_fmt_ordered(c->fmt))
		return (NULL);
	if (*o != NULL || f->failed)
		return (*o);
	/* The line format has no user lists. */
	if (c->fmt == CHAT_FMT_LINE) {
		/* Its presence lines are news, in order, as version 2's. */
		if (f->env != NULL && (m = hub_msg_v2(f)) == NULL)
			return (NULL);
		/* Some events have no line form: nothing to send. */
		if ((buf = chat_msg_line(m, &len)) == NULL)
			return (NULL);
		*o = ws_out_raw(buf, len);
	} else {
		if (chat_fmt_v2(c->fmt)) {
			/* No lists; an event overtaken by a later one of its
			 * name is nothing for version 2. */
			if ((m = hub_msg_v2(f)) == NULL)
				return (NULL);
		} else if (f->want_users && !f->m->has_user_list)
			hub_user_list(f->w, f->m);
		if ((buf = chat_msg_encode(c->fmt, m, &len)) != NULL)
			*o = ws_out_wrap(chat_fmt_msgpack(c->fmt) ?
			    WS_OP_BINARY : WS_OP_TEXT, buf, len);
	}
	if (*o == NULL) {
		f->failed = 1;
		log_warnx("cannot encode a %s message",
		    chat_type_name(f->m->type));
		return (NULL);
	}
	if ((*o)->wo_len > f->largest)
		f->largest = (*o)->wo_len;
	return (*o);
}

static void
hub_frames_clear(struct hub_frames *f)
{
	size_t	 i;

	for (i = 0; i < sizeof(f->o) / sizeof(f->o[0]); i++)
		ws_out_unref(f->o[i]);
}

/*
 * Is the presence event e still news?  Events about one name come from
 * different rings (a logout from the master's, after a worker died; a
 * login from the worker of whoever took the name next), and a worker may
 * read them in another order than they happened.  Without user lists,
 * a client that got "login X" then an older "logout X" would show X
 * offline while X is online.  So each is checked against the presence
 * table as it is delivered: a login (or the new side of a rename) is
 * news while its name is held with the stamp the event carries in its
 * id (the claim's or respelling's, shm_presence_seq()): a later holder
 * or spelling has another stamp, and its own event follows or went
 * before.  A logout (or the old side of a rename) is news while the name
 * is free: if somebody holds it again, their login is the newer news.
 * Returns HUB_NEW_OK and HUB_OLD_OK bits.  However the events of a name
 * are interleaved, the last one delivered leaves its state right, and
 * no login is delivered after a newer one of the same name.
 */
#define HUB_NEW_OK	1	/* login, rename: the new name as announced */
#define HUB_OLD_OK	2	/* logout, rename: the old name is free */

static int
hub_presence_news(struct worker *w, const struct chat_env *e)
{
	struct shm_presence_entry	 pe;
	struct chat_str			 newn = e->from, old = e->from;
	int				 ok = 0;

	if (e->type == CHAT_RENAME)
		newn = e->to;
	if (e->type != CHAT_LOGOUT &&
	    shm_presence_lookup(w->reg, newn.p, newn.len, &pe) == SHM_OK &&
	    pe.seq == e->id)
		ok |= HUB_NEW_OK;
	if (e->type == CHAT_LOGIN)
		return (ok);
	/* A respelling (alice to Alice): one name, one answer. */
	if (e->type == CHAT_RENAME &&
	    shm_hash_equal(old.p, old.len, newn.p, newn.len))
		return (ok ? HUB_NEW_OK | HUB_OLD_OK : 0);
	if (shm_presence_lookup(w->reg, old.p, old.len, &pe) != SHM_OK)
		ok |= HUB_OLD_OK;
	return (ok);
}

/*
 * The event as version 2 sends it: presence with the room and the number
 * of names online instead of the list, a rename with "user" (the new
 * name); NULL if a presence event is no news (hub_presence_news()), or
 * a rename of which only one side is: then it is sent as that side, the
 * login of the new name or the logout of the old one.  Made once per
 * event and worker.
 */
static struct chat_msg *
hub_msg_v2(struct hub_frames *f)
{
	struct chat_msg		*m = &f->m2;
	const struct chat_env	*e = f->env;
	int			 ok;

	if (f->v2 != 0)
		return (f->v2 == 1 ? m : NULL);
	*m = *f->m;
	f->v2 = 1;
	switch (m->type) {
	case CHAT_HANDSHAKE:
	case CHAT_LOGIN:
	case CHAT_LOGOUT:
	case CHAT_RENAME:
		m->has_user_list = 0;
		m->user_list = NULL;
		m->nusers = 0;
		/* Relaxed: a gauge, as the login limit reads it. */
		m->online = atomic_load_explicit(&f->w->reg->hdr->sh_users,
		    memory_order_relaxed);
		m->has_online = 1;
		break;
	case CHAT_USER:
	case CHAT_PRIVATE:
		m->epoch = hub_epoch(f->w);
		return (m);
	default:
		return (m);
	}
	if (e == NULL)
		return (m);
	m->room = e->room.p != NULL ? e->room : CHAT_STR(HUB_LOBBY);
	ok = f->news = hub_presence_news(f->w, e);
	if (e->type == CHAT_RENAME && ok == (HUB_NEW_OK | HUB_OLD_OK))
		m->user = m->content;
	else if (e->type == CHAT_RENAME && ok == HUB_NEW_OK) {
		m->type = CHAT_LOGIN;
		m->from = m->user = m->content = e->to;
	} else if (e->type == CHAT_RENAME && ok == HUB_OLD_OK) {
		m->type = CHAT_LOGOUT;
		m->from = m->user = m->content = e->from;
	} else if (ok == 0) {
		f->v2 = -1;
		return (NULL);
	}
	return (m);
}

/*
 * The event to c.  Per recipient this is a lookup of the frame already
 * made for its format; only the first recipient of a format calls
 * hub_frame().  (callgrind: with hub_frame() called for every recipient,
 * since it grew too big to be inlined, a delivery cost 12 instructions
 * more.)  A frame for hub_fmt_ordered() clients only is never cached for
 * another format, so the lookup needs no check of its own.
 */
static inline void
hub_send_to(struct hub_frames *f, struct conn *c)
{
	struct ws_out	*o;

	if (!hub_is_chat(c))
		return;
	if ((o = f->o[c->fmt]) == NULL && (o = hub_frame(f, c)) == NULL)
		return;
	conn_send(c, o);
}

void
hub_send(struct conn *c, struct chat_msg *m)
{
	struct hub_frames	 f = { .w = c->w, .m = m };

	hub_send_to(&f, c);
	hub_frames_clear(&f);
}

/* How many bytes of s fit in max without cutting a UTF-8 character. */
static int
hub_cut(struct chat_str s, size_t max)
{
	size_t	 n = s.len > max ? max : s.len;

	if (n < s.len)
		while (n > 0 && ((uint8_t)s.p[n] & 0xc0) == 0x80)
			n--;
	return ((int)n);
}

/*
 * A system message to c alone, in its format: with a code, an error (on
 * the line port "error: ..."); without, a notice ("system: ...").  Queued
 * like any output, so it counts against max_pending.
 */
void
hub_system(struct conn *c, const char *code, const char *fmt, ...)
{
	struct chat_msg	 m;
	char		 text[256];
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	memset(&m, 0, sizeof(m));
	m.type = CHAT_SYSTEM;
	m.content.p = text;
	m.content.len = strlen(text);
	if (code != NULL) {
		m.code.p = code;
		m.code.len = strlen(code);
	}
	m.timestamp = now_real_ms();
	hub_send(c, &m);
}

/* ---------------------------------------------------------------- */
/* Connections                                                      */

void
hub_set_name(struct conn *c, const char *name, size_t len)
{
	memcpy(c->chat.name, name, len);
	c->chat.name[len] = '\0';
	c->chat.namelen = (uint8_t)len;
}

/* The room c is in, the lobby if none. */
struct chat_str
hub_room_name(const struct conn *c)
{
	if (c->chat.room == NULL)
		return (CHAT_STR(HUB_LOBBY));
	return ((struct chat_str){ c->chat.room->name,
	    c->chat.room->namelen });
}

/* A close frame or logout: the session ends with the connection. */
void
hub_goodbye(struct conn *c)
{
	c->chat.goodbye = 1;
}

static void	 hub_login(struct conn *, struct chat_str);
static void	 hub_private(struct conn *, const struct chat_cmd *);
static void	 hub_chat(struct conn *, struct chat_str);
static int	 hub_rate_ok(struct conn *);
static int	 hub_message_rate_ok(struct conn *);
static void	 hub_publish(struct conn *, struct chat_env *);
static void	 hub_env_init(struct conn *, struct chat_env *,
		    enum chat_type);

/*
 * c holds its name in presence slot now: index it for private messages
 * and tell its room it is online.
 */
static void
hub_online(struct conn *c, uint32_t slot)
{
	struct chat_env	 e;

	c->chat.pslot = slot;
	c->chat.logged_in = 1;
	hub_byid_add(c->w, c);
	hub_env_init(c, &e, CHAT_LOGIN);
	e.content = e.from;
	/* The claim's stamp: hub_presence_news() knows it by that. */
	e.id = shm_presence_seq(c->w->reg, slot);
	hub_publish(c, &e);
}

/*
 * A line user is online from the start, named after its address (with a
 * suffix in the rare case a WebSocket user took that name).
 */
static void
hub_open_line(struct conn *c)
{
	char		 name[SHM_NAME_MAX + 1];
	uint32_t	 slot;
	int		 i, rv = SHM_TAKEN;

	for (i = 1; i <= 9 && rv == SHM_TAKEN; i++) {
		snprintf(name, sizeof(name), i == 1 ? "%.32s" : "%.29s-%d",
		    c->peer, i);
		rv = shm_presence_claim(c->w->reg, name, strlen(name),
		    c->w->id, CHAT_FMT_LINE, c->id, c->peer, HUB_LOBBY, &slot);
	}
	if (rv != SHM_OK) {
		hub_system(c, "server_full", "no name free for you");
		conn_hangup(c, 0, "no free name");
		return;
	}
	hub_set_name(c, name, strlen(name));
	hub_online(c, slot);
}

/* Is e in room (room.p NULL: in any)? */
static int
hub_in_room(const struct shm_presence_entry *e, struct chat_str room)
{
	const char	*r = e->room[0] != '\0' ? e->room : HUB_LOBBY;

	return (room.p == NULL || (strlen(r) == room.len &&
	    memcmp(r, room.p, room.len) == 0));
}

/*
 * "who" for a line user: one "[ip:port]name: online" line per user, of
 * the server or (room.p set) of that room.
 */
static void
hub_who_line(struct conn *c, struct chat_str room)
{
	struct worker	*w = c->w;
	uint8_t		*buf;
	size_t		 n, i, len = 0, cap;
	struct ws_out	*o;

	n = hub_presence(w);
	cap = n * (SHM_PEER_MAX + SHM_NAME_MAX + 12) + 1;
	if ((buf = malloc(WS_HEADROOM + cap)) == NULL) {
		hub_system(c, "server_error", "out of memory");
		return;
	}
	for (i = 0; i < n; i++)
		if (hub_in_room(&w->hub.plist[i], room))
			len += (size_t)snprintf((char *)buf + WS_HEADROOM +
			    len, cap - len, "[%s]%s: online\n",
			    w->hub.plist[i].peer, w->hub.plist[i].name);
	if (len == 0) {
		/* Only a room can be empty: the asker is online. */
		free(buf);
		if (room.p != NULL)
			hub_system(c, NULL, "nobody is in %.*s",
			    (int)room.len, room.p);
		return;
	}
	if ((o = ws_out_raw(buf, len)) != NULL) {
		conn_send(c, o);
		ws_out_unref(o);
	}
}

/*
 * A new chat connection (c->fmt says its format): in the lobby, named
 * after its address; a line user is online at once, a WebSocket user gets
 * the handshake message.
 */
void
hub_open(struct conn *c)
{
	struct chat_msg	 m;
	size_t		 len = strlen(c->peer);

	TAILQ_INSERT_TAIL(&c->w->hub.members, c, chat.all_entry);
	c->chat.open = 1;
	c->chat.last_active = now_mono();
	bucket_init(&c->chat.mr, c->w->cfg->message_burst, now_mono_ms());
	if (len > SHM_NAME_MAX)
		len = SHM_NAME_MAX;
	hub_set_name(c, c->peer, len);
	/*
	 * Version 2 enters the lobby at login (or resume), with its history
	 * (hub_session_begin()): what it hears live starts where that ends.
	 */
	if (!chat_fmt_v2(c->fmt) &&
	    hub_room_join(c, HUB_LOBBY, strlen(HUB_LOBBY)) == -1) {
		conn_hangup(c, WS_CLOSE_INTERNAL, "out of memory");
		return;
	}
	if (c->fmt == CHAT_FMT_LINE) {
		hub_open_line(c);
		return;
	}
	memset(&m, 0, sizeof(m));
	m.type = CHAT_HANDSHAKE;
	m.ip.p = c->peer;
	m.ip.len = strlen(c->peer);
	/* Version 2 gets a count (hub_msg_v2()), not a walk of the table. */
	if (!chat_fmt_v2(c->fmt))
		hub_user_list(c->w, &m);
	hub_send(c, &m);
}

static void
hub_env_init(struct conn *c, struct chat_env *e, enum chat_type type)
{
	memset(e, 0, sizeof(*e));
	e->type = type;
	e->from.p = c->chat.name;
	e->from.len = c->chat.namelen;
	e->peer.p = c->peer;
	e->peer.len = strlen(c->peer);
	e->ts = now_real_ms();
	e->id = shm_region_next_id(c->w->reg);
	e->worker = c->w->id;
	e->conn = c->id;
	e->kind = c->fmt;
	e->sid = c->chat.sid;
	if (c->chat.room != NULL) {
		e->room.p = c->chat.room->name;
		e->room.len = c->chat.room->namelen;
	} else if (c->chat.logged_in)
		/*
		 * Version 2 between its login and the login's return: it
		 * enters the lobby then, and hears this message live.
		 */
		e->room = CHAT_STR(HUB_LOBBY);
}

static void
hub_publish(struct conn *c, struct chat_env *e)
{
	struct bus	*b = &c->w->bus;
	size_t		 over;

	if (bus_publish(b, e) == 0)
		return;
	if (errno != EMSGSIZE) {
		hub_system(c, "server_error", "cannot send: out of memory");
		return;
	}
	/* What the rest of the envelope leaves for the text. */
	over = bus_encoded_len(b) - e->content.len;
	hub_system(c, "too_large", "message too large for the bus (%zu "
	    "bytes at most)", bus_max_record(b) > over ?
	    bus_max_record(b) - over : 0);
}

/* Give back this connection's name and tell everyone it left. */
static void
hub_logout(struct conn *c)
{
	struct chat_env	 e;

	if (!c->chat.logged_in)
		return;
	hub_byid_del(c->w, c);
	c->chat.logged_in = 0;
	/* Not ours any more (a resume took it over): nothing to announce. */
	if (shm_presence_release(c->w->reg, c->chat.pslot, c->w->id,
	    c->id) != SHM_OK)
		return;
	hub_env_init(c, &e, CHAT_LOGOUT);
	e.content = e.from;
	if (bus_publish(&c->w->bus, &e) == -1)
		log_warnx("conn %llu %s: cannot publish logout",
		    (unsigned long long)c->id, c->peer);
}

/*
 * The connection is going away: leave everything.  Called when we decide
 * to end it (conn_flush(), conn_ws_close_with()) and again from
 * conn_free(); the second time finds nothing to leave.
 */
void
hub_close(struct conn *c)
{
	hub_session_detach(c);
	hub_logout(c);
	hub_room_leave(c);
	if (c->chat.open) {
		TAILQ_REMOVE(&c->w->hub.members, c, chat.all_entry);
		c->chat.open = 0;
	}
}

/*
 * name is taken: say so, and by whom if only its ASCII case differs (a
 * lookup a moment after the claim; the holder may have left since).
 */
static void
hub_taken(struct conn *c, struct chat_str name)
{
	struct shm_presence_entry	 e;

	if (shm_presence_lookup(c->w->reg, name.p, name.len, &e) == SHM_OK &&
	    (strlen(e.name) != name.len ||
	    memcmp(e.name, name.p, name.len) != 0))
		hub_system(c, "name_taken", "the name %.*s is taken: %s is "
		    "online, and names that differ only in case are one name",
		    (int)name.len, name.p, e.name);
	else
		hub_system(c, "name_taken", "the name %.*s is taken",
		    (int)name.len, name.p);
}


/*
 * One limit for the text of a chat or private message, whatever the
 * protocol it came in: max_text_length bytes.  Without it a WebSocket
 * user could send line users a line of up to max_message_size that the
 * line port would never accept from them.  A longer text is refused,
 * with a reason, and the sender stays connected.
 */
static int
hub_text_ok(struct conn *c, struct chat_str text)
{
	size_t	 max = c->w->cfg->max_text_length;

	if (text.len <= max)
		return (1);
	hub_system(c, "text_too_long", "text of %zu bytes is longer than "
	    "%zu; not sent", text.len, max);
	return (0);
}
/* Tell everyone c, named old until now, has its new name. */
static void
hub_renamed(struct conn *c, const char *old)
{
	struct chat_env	 e;

	hub_env_init(c, &e, CHAT_RENAME);
	e.from.p = old;
	e.from.len = strlen(old);
	e.to.p = c->chat.name;
	e.to.len = c->chat.namelen;
	/* The new name's stamp, as for a login. */
	e.id = shm_presence_seq(c->w->reg, c->chat.pslot);
	hub_publish(c, &e);
}

static void
hub_login(struct conn *c, struct chat_str name)
{
	struct chat_name_fault	 f;
	char			 old[SHM_NAME_MAX + 1], why[128];
	uint32_t		 slot, oldslot = c->chat.pslot;
	int			 rv, was = c->chat.logged_in;

	/* The rules of every protocol, and the reason for the refusal. */
	if (chat_name_check(CHAT_NAME_USER, name.p, name.len, &f) !=
	    CHAT_NAME_OK) {
		chat_name_why(&f, why, sizeof(why));
		hub_system(c, "bad_name", "%s", why);
		return;
	}
	/* Relaxed: a gauge; it may overshoot by one claim per worker. */
	if (!was && atomic_load_explicit(&c->w->reg->hdr->sh_users,
	    memory_order_relaxed) >= c->w->cfg->max_users) {
		hub_system(c, "server_full", "%u users are online, the most "
		    "this server takes", c->w->cfg->max_users);
		return;
	}
	if (was && name.len == c->chat.namelen &&
	    memcmp(name.p, c->chat.name, name.len) == 0) {
		hub_system(c, NULL, "you are %s already", c->chat.name);
		return;
	}
	memcpy(old, c->chat.name, c->chat.namelen);
	old[c->chat.namelen] = '\0';
	/*
	 * Our own name in another case (alice to Alice) is ours already: a
	 * claim would find it taken, by us.  Respell it where it is.
	 */
	if (was && shm_hash_equal(name.p, name.len, c->chat.name,
	    c->chat.namelen)) {
		if (shm_presence_recase(c->w->reg, c->chat.pslot, c->w->id,
		    c->id, name.p, name.len) != SHM_OK) {
			hub_system(c, "server_error", "cannot rename: %s",
			    strerror(errno));
			return;
		}
		hub_set_name(c, name.p, name.len);
		hub_renamed(c, old);
		return;
	}
	/* In the room it is in: lists of the room have it at once. */
	rv = shm_presence_claim(c->w->reg, name.p, name.len, c->w->id,
	    c->fmt, c->id, c->peer, c->chat.room != NULL ?
	    c->chat.room->name : HUB_LOBBY, &slot);
	if (rv == SHM_TAKEN) {
		hub_taken(c, name);
		return;
	}
	if (rv != SHM_OK) {
		hub_system(c, "server_full", "too many users online");
		return;
	}
	hub_set_name(c, name.p, name.len);
	if (was) {
		c->chat.pslot = slot;
		/* The new name is ours before the old one goes: no gap. */
		shm_presence_release(c->w->reg, oldslot, c->w->id,
		    c->id);
		hub_renamed(c, old);
		/* The session goes with the name. */
		if (c->chat.sid != 0)
			shm_presence_session(c->w->reg, slot, c->w->id, c->id,
			    c->chat.sid, c->chat.secret, c->chat.begin);
	} else {
		hub_online(c, slot);
		/* Once its login is back from the bus (hub_deliver()). */
		c->chat.await_session = chat_fmt_v2(c->fmt);
	}
}

static void
hub_private(struct conn *c, const struct chat_cmd *cmd)
{
	struct shm_presence_entry	 to;
	struct chat_env			 e;

	if (!c->chat.logged_in) {
		hub_system(c, "not_logged_in", "log in to send private "
		    "messages");
		return;
	}
	if (cmd->to.p == NULL || !cmd->has_content) {
		hub_system(c, "bad_message", "\"to\" needs \"to\" and "
		    "\"content\"");
		return;
	}
	if (cmd->to.len == 0 || cmd->to.len > SHM_NAME_MAX ||
	    shm_presence_lookup(c->w->reg, cmd->to.p, cmd->to.len,
	    &to) != SHM_OK) {
		hub_system(c, "no_such_user", "%.*s is not online",
		    hub_cut(cmd->to, 64), cmd->to.p);
		return;
	}
	if (!hub_text_ok(c, cmd->content))
		return;
	hub_env_init(c, &e, CHAT_PRIVATE);
	/* The name as its owner writes it, whatever case was asked for. */
	e.to.p = to.name;
	e.to.len = strlen(to.name);
	e.content = cmd->content;
	e.to_worker = to.worker;
	e.to_conn = to.conn;
	e.to_sid = to.sid;
	hub_publish(c, &e);
}

static void
hub_chat(struct conn *c, struct chat_str content)
{
	struct chat_env	 e;

	if (!hub_text_ok(c, content))
		return;
	/* Version 2 is in no room before it logs in: nobody would hear. */
	if (c->chat.room == NULL && !c->chat.logged_in) {
		hub_system(c, "not_logged_in", "log in (or join a room) to "
		    "chat");
		return;
	}
	hub_env_init(c, &e, CHAT_USER);
	e.content = content;
	shm_stat_add(&c->w->st->st_chat, 1);
	hub_publish(c, &e);
}

/* A room name a client sent: 1 if good, or answered with bad_room. */
int
hub_room_ok(struct conn *c, struct chat_str room)
{
	struct chat_name_fault	 f;
	char			 why[128];

	if (chat_name_check(CHAT_NAME_ROOM, room.p, room.len, &f) ==
	    CHAT_NAME_OK)
		return (1);
	chat_name_why(&f, why, sizeof(why));
	hub_system(c, "bad_room", "%s", why);
	return (0);
}

static int
hub_picked_cmp(const void *a, const void *b)
{
	const struct shm_presence_entry *x =
	    *(const struct shm_presence_entry *const *)a;
	const struct shm_presence_entry *y =
	    *(const struct shm_presence_entry *const *)b;

	return (shm_hash_cmp(x->name, strlen(x->name), y->name,
	    strlen(y->name)));
}

/*
 * who: the names of the server, or of one room (cmd->room), from the
 * presence table, which knows every worker's names and their rooms.  A
 * plain who is answered as it always was, the cached list in table
 * order; with a room, "after" or "limit", the names are in name order
 * (ASCII case folded), those after "after", at most "limit" of them up
 * to max_who_page, with "more" if the list was cut.
 */
static void
hub_who(struct conn *c, const struct chat_cmd *cmd)
{
	struct worker			*w = c->w;
	const struct shm_presence_entry	*e;
	struct chat_msg			 m;
	size_t				 n, i, k = 0, max;

	if (cmd->room.p != NULL && !hub_room_ok(c, cmd->room))
		return;
	if (c->fmt == CHAT_FMT_LINE) {
		hub_who_line(c, cmd->room);
		return;
	}
	memset(&m, 0, sizeof(m));
	m.type = CHAT_WHO;
	if (cmd->room.p == NULL && cmd->after.p == NULL && cmd->limit == 0) {
		hub_user_list(w, &m);
		hub_send(c, &m);
		return;
	}
	n = hub_presence(w);
	for (i = 0; i < n; i++) {
		e = &w->hub.plist[i];
		if (hub_in_room(e, cmd->room) && (cmd->after.p == NULL ||
		    shm_hash_cmp(e->name, strlen(e->name), cmd->after.p,
		    cmd->after.len) > 0))
			w->hub.picked[k++] = e;
	}
	qsort(w->hub.picked, k, sizeof(*w->hub.picked), hub_picked_cmp);
	max = k;
	if (cmd->limit != 0)
		max = cmd->limit < w->cfg->max_who_page ? cmd->limit :
		    w->cfg->max_who_page;
	if (k > max) {
		k = max;
		m.more = 1;
	}
	for (i = 0; i < k; i++) {
		w->hub.wlist[i].p = w->hub.picked[i]->name;
		w->hub.wlist[i].len = strlen(w->hub.picked[i]->name);
	}
	m.room = cmd->room;
	m.user_list = w->hub.wlist;
	m.nusers = k;
	m.has_user_list = 1;
	hub_send(c, &m);
}

static int
hub_str_cmp(const void *a, const void *b)
{
	const struct chat_str	*x = a, *y = b;
	int			 d;

	if ((d = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len)) != 0)
		return (d);
	return ((x->len > y->len) - (x->len < y->len));
}

/*
 * rooms: every room with a name in it, and how many, from the presence
 * table (every worker): the lobby first, which always exists, then by
 * name.  At most workers * max_rooms + 1 rooms: each name is in a room of
 * its worker.
 */
static void
hub_rooms(struct conn *c)
{
	struct worker		*w = c->w;
	struct chat_room_count	*rc = w->hub.rcount;
	struct chat_str		*r = w->hub.wlist;
	struct chat_msg		 m;
	size_t			 n, i, nr = 1;

	n = hub_presence(w);
	for (i = 0; i < n; i++) {
		r[i].p = w->hub.plist[i].room[0] != '\0' ?
		    w->hub.plist[i].room : HUB_LOBBY;
		r[i].len = strlen(r[i].p);
	}
	qsort(r, n, sizeof(*r), hub_str_cmp);
	rc[0].room = CHAT_STR(HUB_LOBBY);
	rc[0].members = 0;
	for (i = 0; i < n; i++) {
		if (hub_is_lobby(r[i].p, r[i].len)) {
			rc[0].members++;
			continue;
		}
		if (nr == 1 || hub_str_cmp(&rc[nr - 1].room, &r[i]) != 0) {
			rc[nr].room = r[i];
			rc[nr++].members = 0;
		}
		rc[nr - 1].members++;
	}
	memset(&m, 0, sizeof(m));
	m.type = CHAT_ROOMS;
	m.rooms = rc;
	m.nrooms = nr;
	hub_send(c, &m);
}

/*
 * c, logged in, moved from the room old to the one it is in: the
 * presence table says so at once, and the two rooms hear it as a leave
 * and a join.
 */
static void
hub_moved(struct conn *c, const char *old)
{
	struct chat_env	 e;

	if (shm_presence_move(c->w->reg, c->chat.pslot, c->w->id, c->id,
	    c->chat.room->name, c->chat.room->namelen) != SHM_OK)
		log_warnx("conn %llu %s: cannot record the room of %s",
		    (unsigned long long)c->id, c->peer, c->chat.name);
	hub_env_init(c, &e, CHAT_LEAVE);
	e.room.p = old;
	e.room.len = strlen(old);
	hub_publish(c, &e);
	hub_env_init(c, &e, CHAT_JOIN);
	hub_publish(c, &e);
}

static void
hub_join(struct conn *c, struct chat_str room)
{
	struct hub_room		*r = c->chat.room;
	struct chat_msg		 m;
	char			 old[SHM_NAME_MAX + 1];
	unsigned		 others;
	int			 moved;

	if (!hub_room_ok(c, room))
		return;
	moved = r == NULL || r->namelen != room.len ||
	    memcmp(r->name, room.p, room.len) != 0;
	/* A room new on this worker: max_rooms, less the one c empties. */
	others = c->w->hub.nrooms;
	if (r != NULL && r->nmembers == 1 && !hub_is_lobby(r->name,
	    r->namelen))
		others--;
	if (moved && !hub_is_lobby(room.p, room.len) &&
	    hub_room_get(c->w, room.p, room.len, 0) == NULL &&
	    others >= c->w->cfg->max_rooms) {
		hub_system(c, "server_full", "cannot join: at most %u rooms "
		    "at once", c->w->cfg->max_rooms);
		return;
	}
	snprintf(old, sizeof(old), "%s", r != NULL ? r->name : HUB_LOBBY);
	if (hub_room_join(c, room.p, room.len) == -1) {
		hub_system(c, "server_error", "cannot join: out of memory");
		return;
	}
	/* Names only: an anonymous connection is in no list either. */
	if (moved && c->chat.logged_in)
		hub_moved(c, old);
	memset(&m, 0, sizeof(m));
	m.type = CHAT_SYSTEM;
	m.content = CHAT_STR("joined");
	m.room.p = c->chat.room->name;
	m.room.len = c->chat.room->namelen;
	m.timestamp = now_real_ms();
	hub_send(c, &m);
	/* Now, before anything else of the room reaches c (see hub_hist.c). */
	if (moved && chat_fmt_v2(c->fmt))
		hub_hist_send(c, hub_room_name(c), 0,
		    c->w->cfg->history_join);
}

/*
 * Commands whose answers go to everyone or carry the whole user list
 * (login, rename, who, rooms), or to a whole room and change the
 * presence table (join, leave) cost the server O(users): command_rate a
 * minute per connection at most.  Returns 1 if this one may go ahead.
 */
static int
hub_rate_ok(struct conn *c)
{
	time_t	 now = now_mono();

	if (now - c->chat.rl_start >= 60) {
		c->chat.rl_start = now;
		c->chat.rl_count = 0;
	}
	if (c->chat.rl_count >= c->w->cfg->command_rate) {
		shm_stat_add(&c->w->st->st_rate_limited, 1);
		hub_system(c, "rate_limited", "at most %u logins, renames, who, "
		    "rooms, joins, leaves, history and resume requests a "
		    "minute",
		    c->w->cfg->command_rate);
		return (0);
	}
	c->chat.rl_count++;
	return (1);
}

/*
 * Every chat message (commands included) takes a token from a bucket of
 * message_burst tokens that refills at message_rate a second.  With none
 * left the message is dropped, the first of a run with a rate_limited
 * notice; a client that goes on until message_burst messages in a row
 * were dropped is not slipping over the limit but flooding, and is
 * closed (1008 on a WebSocket; after the error line on the line port).
 * Returns 1 if this message may go ahead.
 */
static int
hub_message_rate_ok(struct conn *c)
{
	const struct cfg	*cfg = c->w->cfg;

	if (cfg->message_rate == 0)
		return (1);
	if (bucket_take(&c->chat.mr, now_mono_ms(), cfg->message_rate,
	    cfg->message_burst)) {
		c->chat.mr_dropped = 0;
		return (1);
	}
	shm_stat_add(&c->w->st->st_rate_limited, 1);
	if (++c->chat.mr_dropped == 1)
		hub_system(c, "rate_limited", "rate limited: more than %u "
		    "messages a second; dropped", cfg->message_rate);
	if (c->chat.mr_dropped >= cfg->message_burst) {
		log_client("conn %llu %s: rate limited: %u messages dropped in "
		    "a row; closing", (unsigned long long)c->id, c->peer,
		    c->chat.mr_dropped);
		/* A WebSocket gets the reason in its close frame. */
		if (c->fmt == CHAT_FMT_LINE)
			hub_system(c, "rate_limited", "rate limited; closing");
		conn_hangup(c, WS_CLOSE_POLICY, "rate limited");
	}
	return (0);
}

/* One command, from a client in any format, past the rate limit. */
static void
hub_command(struct conn *c, const struct chat_cmd *cmd)
{
	struct chat_msg	 m;

	switch (cmd->type) {
	case CHAT_LOGIN:
	case CHAT_RENAME:
	case CHAT_WHO:
	case CHAT_ROOMS:
	case CHAT_JOIN:
	case CHAT_LEAVE:
	case CHAT_HISTORY:
	case CHAT_RESUME:
		if (!hub_rate_ok(c))
			return;
		break;
	default:
		break;
	}
	/* From now on it hears the lobby's joins and leaves too. */
	if (cmd->type == CHAT_JOIN || cmd->type == CHAT_LEAVE ||
	    cmd->type == CHAT_ROOMS || (cmd->type == CHAT_WHO &&
	    cmd->room.p != NULL))
		c->chat.rooms_used = 1;
	switch (cmd->type) {
	case CHAT_LOGIN:
	case CHAT_RENAME:
		if (!cmd->has_content) {
			hub_system(c, "bad_name", "\"%s\" needs \"content\"",
			    chat_type_name(cmd->type));
			return;
		}
		hub_login(c, cmd->content);
		break;
	case CHAT_USER:
		if (!cmd->has_content) {
			hub_system(c, "bad_message", "\"user\" needs "
			    "\"content\"");
			return;
		}
		hub_chat(c, cmd->content);
		break;
	case CHAT_TO:
	case CHAT_PRIVATE:
		hub_private(c, cmd);
		break;
	case CHAT_WHO:
		hub_who(c, cmd);
		break;
	case CHAT_ROOMS:
		hub_rooms(c);
		break;
	case CHAT_JOIN:
		if (cmd->room.p == NULL) {
			hub_system(c, "bad_room", "\"join\" needs \"room\"");
			return;
		}
		hub_join(c, cmd->room);
		break;
	case CHAT_LEAVE:
		hub_join(c, CHAT_STR(HUB_LOBBY));
		break;
	case CHAT_HISTORY:
		hub_hist_cmd(c, cmd);
		break;
	case CHAT_RESUME:
		hub_session_resume(c, cmd);
		break;
	case CHAT_HELP:
		/* The line port's: its codec writes the list. */
		memset(&m, 0, sizeof(m));
		m.type = CHAT_HELP;
		hub_send(c, &m);
		break;
	case CHAT_QUIT:
		/* The line port's logout: a line says goodbye, as a close
		 * frame's reason does on a WebSocket. */
		hub_system(c, NULL, "goodbye");
		/* FALLTHROUGH */
	case CHAT_LOGOUT:
		hub_goodbye(c);
		hub_logout(c);
		conn_hangup(c, WS_CLOSE_NORMAL, "logged out");
		break;
	case CHAT_NONE:
		break;		/* empty chat: nothing to send */
	case CHAT_BAD:
		hub_system(c, "bad_message", "%s", cmd->error);
		break;
	default:
		hub_system(c, "unknown_type", "unknown message type \"%.*s\"",
		    hub_cut(cmd->type_text, 32), cmd->type_text.p);
		break;
	}
}

/*
 * The one way in for what a chat client sends: a message in c's format
 * (binary: a WebSocket binary frame), or a line without its end.  p is
 * the caller's, and only borrowed.  Every message counts against
 * message_rate.  A WebSocket message, up to max_message_size of JSON, is
 * parsed only once the limit lets it through; a line is short and is
 * parsed first, because the parse says whether it counts at all: an
 * empty line (line users press Enter to see what is new) is nothing, and
 * a line that is not text (NUL, not UTF-8) is answered but is no sign of
 * life for idle_timeout.
 */
void
hub_input(struct conn *c, int binary, const char *p, size_t len)
{
	struct chat_cmd	 cmd;

	if (c->fmt == CHAT_FMT_LINE) {
		chat_cmd_parse_line(p, len, &cmd);
		if (cmd.type == CHAT_NONE)
			return;
		if (!cmd.not_text)
			c->chat.last_active = now_mono();
		if (hub_message_rate_ok(c))
			hub_command(c, &cmd);
		return;
	}
	c->chat.last_active = now_mono();
	if (!hub_message_rate_ok(c))
		return;
	chat_cmd_parse(c->fmt, binary, p, len, &cmd);
	hub_command(c, &cmd);
	chat_cmd_clear(&cmd);
}

/* ---------------------------------------------------------------- */
/* Events from the bus                                              */

/*
 * An event to the members of room.  A join or leave (membership) goes to
 * the lobby's members only if they have used rooms: the lobby of a client
 * that never did is what it always was (the seed pages know no such
 * events).
 */
static void
hub_deliver_room(struct worker *w, struct hub_frames *f,
    struct chat_str room, int membership)
{
	struct hub_room	*r;
	struct conn	*c, *next;
	int		 lobby = hub_is_lobby(room.p, room.len);

	if (room.p == NULL ||
	    (r = hub_room_get(w, room.p, room.len, 0)) == NULL)
		return;
	for (c = TAILQ_FIRST(&r->members); c != NULL; c = next) {
		next = TAILQ_NEXT(c, chat.room_entry);
		if (!membership || !lobby || c->chat.rooms_used)
			hub_send_to(f, c);
	}
}

static void
hub_deliver_all(struct worker *w, struct hub_frames *f)
{
	struct conn	*c, *next;

	for (c = TAILQ_FIRST(&w->hub.members); c != NULL; c = next) {
		next = TAILQ_NEXT(c, chat.all_entry);
		hub_send_to(f, c);
	}
}

/*
 * A presence event, before it goes to everyone: keep the names announced
 * online to the clients of hub_fmt_ordered() formats (struct hub_seen),
 * and if the event announces a name that was last announced for another
 * holder, send those clients that holder's logout first.
 */
static void
hub_deliver_ordered(struct worker *w, struct hub_frames *f)
{
	const struct chat_env	*e = f->env;
	struct chat_msg		*m2;
	struct hub_frames	 g = { .w = w, .v2 = 1, .ordered_only = 1 };
	struct hub_seen		 gone;

	if ((m2 = hub_msg_v2(f)) == NULL)
		return;			/* no news: nothing changes */
	if (f->news & HUB_OLD_OK)
		hub_seen_forget(w, e->from);
	if (!(f->news & HUB_NEW_OK) || !hub_seen_note(w, e->type ==
	    CHAT_RENAME ? e->to : e->from, e->peer, e->id, &gone))
		return;
	/* The logout of the name's previous holder: as m2 for the rest. */
	g.m = &g.m2;
	g.m2 = *m2;
	g.m2.type = CHAT_LOGOUT;
	g.m2.from.p = gone.name;
	g.m2.from.len = gone.len;
	g.m2.user = g.m2.content = g.m2.from;
	g.m2.peer.p = gone.peer;
	g.m2.peer.len = strlen(gone.peer);
	hub_deliver_all(w, &g);
	f->largest += g.largest;
	hub_frames_clear(&g);
}

/*
 * A private message's copy for its sender, c.  A WebSocket user gets the
 * addressee's frame; a line user's line says "you -> NAME", not "NAME
 * says to you", so it is encoded apart, for c alone (f caches one frame
 * per format: that of the addressee).
 */
static void
hub_send_copy(struct hub_frames *f, struct conn *c)
{
	struct chat_msg		 m;
	struct hub_frames	 own = { .w = f->w, .m = &m };

	if (c->fmt != CHAT_FMT_LINE) {
		hub_send_to(f, c);
		return;
	}
	m = *f->m;
	m.sender_copy = 1;
	hub_send_to(&own, c);
	if (own.largest > f->largest)
		f->largest = own.largest;
	hub_frames_clear(&own);
}

/*
 * One bus event, from any worker or the master, to the local clients.
 * Returns the size of the largest frame it queued for one client, which
 * the bus counts against its budget for the pass.  Worker process.
 */
size_t
hub_deliver(struct worker *w, const struct chat_env *e)
{
	struct chat_msg		 m;
	struct hub_frames	 f = { .w = w, .m = &m };
	struct conn		*c;

	memset(&m, 0, sizeof(m));
	m.type = e->type;
	m.from = e->from;
	m.peer = e->peer;
	switch (e->type) {
	case CHAT_USER:
		hub_hist_note(w, e);
		m.content = e->content;
		m.timestamp = e->ts;
		m.id = e->id;
		m.room = e->room;
		hub_deliver_room(w, &f, e->room, 0);
		break;
	case CHAT_PRIVATE:
		hub_hist_note(w, e);
		m.to = e->to;
		m.content = e->content;
		m.timestamp = e->ts;
		m.id = e->id;
		if (e->to_worker == w->id &&
		    (c = hub_byid_find(w, e->to_conn)) != NULL)
			hub_send_to(&f, c);
		/* And back to the sender, unless it wrote to itself. */
		if (e->worker == w->id && !(e->to_worker == e->worker &&
		    e->to_conn == e->conn) &&
		    (c = hub_byid_find(w, e->conn)) != NULL)
			hub_send_copy(&f, c);
		break;
	case CHAT_LOGIN:
		/* To everyone, as logouts and renames: a room's members see
		 * who comes online wherever, and "room" says where. */
		m.user = e->from;
		m.content = e->from;
		m.room = e->room.p != NULL ? e->room : CHAT_STR(HUB_LOBBY);
		f.want_users = 1;
		f.env = e;
		hub_deliver_ordered(w, &f);
		hub_deliver_all(w, &f);
		/*
		 * A version 2 login's own event: the session, then the lobby
		 * and its history, here and not at the claim, so that its
		 * client hears its login first, and then history up to this
		 * point of the bus and live messages from it on.
		 */
		if (e->worker == w->id &&
		    (c = hub_byid_find(w, e->conn)) != NULL &&
		    c->chat.await_session) {
			c->chat.await_session = 0;
			hub_session_begin(c);
		}
		break;
	case CHAT_JOIN:
	case CHAT_LEAVE:
		m.room = e->room;
		m.timestamp = e->ts;
		hub_deliver_room(w, &f, e->room, 1);
		break;
	case CHAT_LOGOUT:
		m.user = e->from;
		m.content = e->from;
		f.want_users = 1;
		f.env = e;
		hub_deliver_ordered(w, &f);
		hub_deliver_all(w, &f);
		break;
	case CHAT_RENAME:
		m.content = e->to;
		f.want_users = 1;
		f.env = e;
		hub_deliver_ordered(w, &f);
		hub_deliver_all(w, &f);
		break;
	case CHAT_SYSTEM:
		m.content = e->content;
		m.timestamp = e->ts;
		hub_deliver_all(w, &f);
		break;
	default:
		log_warnx("bus: event of unknown type %d", e->type);
		break;
	}
	hub_frames_clear(&f);
	return (f.largest);
}

/*
 * The bus lost n records for this worker (it fell a lap behind): tell its
 * chat clients that they missed messages rather than hide it.
 */
void
hub_lost(struct worker *w, uint64_t n)
{
	struct chat_msg		 m;
	struct hub_frames	 f = { .w = w, .m = &m };
	char			 text[96];

	snprintf(text, sizeof(text), "this server fell behind: %llu "
	    "messages were lost", (unsigned long long)n);
	memset(&m, 0, sizeof(m));
	m.type = CHAT_SYSTEM;
	m.content.p = text;
	m.content.len = strlen(text);
	m.code = CHAT_STR("lost_messages");
	m.timestamp = now_real_ms();
	hub_deliver_all(w, &f);
	hub_frames_clear(&f);
	/* Memory lacks them too: older pages come from the store. */
	hub_hist_lost(w, shm_region_last_msg_id(w->reg));
}

/*
 * Once a second: forget names gone long enough (hub_seen_sweep()), and
 * kick who has not chatted for its idle limit, on the line port
 * idle_timeout and on /ws ws_idle_timeout.  They differ because a
 * WebSocket client proves it is alive with pongs, so someone reading a
 * busy room without typing is no dead connection; a line client has no
 * such proof, and the nc chat room the line port comes from kicked quiet
 * users.  Worker process.
 */
void
hub_sweep(struct worker *w)
{
	struct conn	*c, *next;
	time_t		 now = now_mono();
	unsigned	 limit, line = w->cfg->idle_timeout,
			 ws = w->cfg->ws_idle_timeout;

	hub_seen_sweep(w);
	hub_session_sweep(w);
	if (line == 0 && ws == 0)
		return;
	for (c = TAILQ_FIRST(&w->hub.members); c != NULL; c = next) {
		next = TAILQ_NEXT(c, chat.all_entry);
		limit = c->fmt == CHAT_FMT_LINE ? line : ws;
		if (limit == 0 || !hub_is_chat(c) ||
		    now - c->chat.last_active < (time_t)limit)
			continue;
		hub_system(c, "idle_timeout", "no activity for %u seconds",
		    limit);
		shm_stat_add(&w->st->st_idle_kicked, 1);
		log_client("conn %llu %s: idle for %us", (unsigned long long)
		    c->id, c->peer, limit);
		conn_hangup(c, WS_CLOSE_NORMAL, "idle timeout");
	}
}
