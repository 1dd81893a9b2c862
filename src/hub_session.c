/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * hub_session.c: version 2's sessions, for resume.  A session lives in
 * the presence slot of its name (shm_presence_session()): its number, and
 * a secret the client gets as part of its token after login.  A
 * connection lost without a goodbye (a close frame or logout) hands the
 * slot to nobody's connection for resume_timeout (SHM_PS_DETACHED); the
 * master ends it after that, with the logout.  A resume takes the slot
 * over, from there or from a worker that has not noticed the loss yet,
 * and replays what the session missed from memory and the store
 * (hub_hist.c).  Nobody sees a logout or login for it.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wschatd.h"
#include "conn.h"
#include "hub.h"
#include "hub_hist.h"
#include "hub_int.h"
#include "worker.h"

/*
 * A version 2 login: a session for resume (its number, and a secret
 * from the kernel's generator, in the name's presence slot), the token
 * to the client, then the lobby and its history.
 */
void
hub_session_begin(struct conn *c)
{
	struct chat_msg	 m;
	char		 token[64];

	c->chat.sid = shm_region_next_id(c->w->reg);
	c->chat.secret = ((uint64_t)arc4random() << 32) | arc4random();
	/* What this worker has delivered so far: the session missed none. */
	c->chat.begin = hub_hist_delivered(c->w);
	if (shm_presence_session(c->w->reg, c->chat.pslot, c->w->id, c->id,
	    c->chat.sid, c->chat.secret, c->chat.begin) != SHM_OK) {
		c->chat.sid = c->chat.secret = 0;
		return;
	}
	if (c->w->cfg->resume_timeout > 0) {
		snprintf(token, sizeof(token), "%x.%llx.%016llx",
		    (unsigned)c->chat.pslot, (unsigned long long)c->chat.sid,
		    (unsigned long long)c->chat.secret);
		memset(&m, 0, sizeof(m));
		m.type = CHAT_SYSTEM;
		m.code = CHAT_STR("logged_in");
		m.content = CHAT_STR("logged in; resume with this session "
		    "within resume_timeout seconds of a lost connection");
		m.session.p = token;
		m.session.len = strlen(token);
		m.resume_timeout = c->w->cfg->resume_timeout;
		m.timestamp = now_real_ms();
		hub_send(c, &m);
	}
	if (c->chat.room == NULL &&
	    hub_room_join(c, HUB_LOBBY, strlen(HUB_LOBBY)) == -1) {
		conn_hangup(c, WS_CLOSE_INTERNAL, "out of memory");
		return;
	}
	hub_hist_send(c, hub_room_name(c), 0, c->w->cfg->history_join);
}

/*
 * The connection was lost without a goodbye: keep the session for
 * resume_timeout, its name held by nobody's connection
 * (SHM_PS_DETACHED), and tell nobody.  The master ends it once it
 * expires, with the logout.
 */
void
hub_session_detach(struct conn *c)
{
	struct worker	*w = c->w;

	if (!c->chat.logged_in || c->chat.sid == 0 || c->chat.goodbye ||
	    w->cfg->resume_timeout == 0 || w->stopping)
		return;
	if (shm_presence_transfer(w->reg, c->chat.pslot, w->id, c->id,
	    SHM_PS_DETACHED, c->chat.sid, now_real_ms() +
	    (uint64_t)w->cfg->resume_timeout * 1000) != SHM_OK)
		return;
	hub_byid_del(w, c);
	c->chat.logged_in = 0;
	log_client("conn %llu %s: %s lost; session kept for %us",
	    (unsigned long long)c->id, c->peer, c->chat.name,
	    w->cfg->resume_timeout);
}

/* "SLOT.SID.SECRET", in hex, as hub_session_begin() wrote it. */
static int
hub_session_token(struct chat_str t, uint32_t *slot, uint64_t *sid,
    uint64_t *secret)
{
	char		 buf[64], *p, *end;
	unsigned long	 s;

	if (t.len == 0 || t.len >= sizeof(buf))
		return (-1);
	memcpy(buf, t.p, t.len);
	buf[t.len] = '\0';
	for (p = buf; *p != '\0'; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
		    *p == '.'))
			return (-1);
	s = strtoul(buf, &end, 16);
	if (end == buf || *end != '.' || s > UINT32_MAX)
		return (-1);
	p = end + 1;
	*sid = strtoull(p, &end, 16);
	if (end == p || *end != '.')
		return (-1);
	p = end + 1;
	*secret = strtoull(p, &end, 16);
	if (end == p || *end != '\0')
		return (-1);
	*slot = (uint32_t)s;
	return (0);
}

/*
 * {"type":"resume"}: take over a session whose connection was lost (or
 * whose worker has not noticed yet), without a logout or login for
 * anyone to see, then send what it missed since the largest id it saw,
 * oldest first.
 */
void
hub_session_resume(struct conn *c, const struct chat_cmd *cmd)
{
	struct worker			*w = c->w;
	struct shm_presence_entry	 pe;
	struct hub_hist_page		 pg;
	struct chat_msg			 m;
	struct chat_str			 room, epoch;
	uint32_t			 slot;
	uint64_t			 sid, secret;
	size_t				 i;

	if (!chat_fmt_v2(c->fmt) || c->chat.logged_in) {
		hub_system(c, "resume_failed", "resume is for version 2, "
		    "before login");
		return;
	}
	if (hub_session_token(cmd->session, &slot, &sid, &secret) == -1 ||
	    shm_presence_find_session(w->reg, slot, sid, secret, &pe,
	    &slot) != SHM_OK ||
	    (pe.worker == SHM_PS_DETACHED && pe.expires <= now_real_ms()) ||
	    shm_presence_transfer(w->reg, slot, pe.worker, pe.conn, w->id,
	    c->id, 0) != SHM_OK) {
		hub_system(c, "resume_failed", "no such session, or it "
		    "expired: log in again");
		return;
	}
	hub_set_name(c, pe.name, strlen(pe.name));
	c->chat.pslot = slot;
	c->chat.sid = sid;
	c->chat.secret = secret;
	c->chat.begin = pe.begin;
	c->chat.logged_in = 1;
	c->chat.rooms_used = 1;
	hub_byid_add(w, c);
	room = pe.room[0] != '\0' ? (struct chat_str){ pe.room,
	    strlen(pe.room) } : CHAT_STR(HUB_LOBBY);
	if (hub_room_join(c, room.p, room.len) == -1) {
		conn_hangup(c, WS_CLOSE_INTERNAL, "out of memory");
		return;
	}
	room = hub_room_name(c);
	log_client("conn %llu %s: resumed %s", (unsigned long long)c->id,
	    c->peer, c->chat.name);
	memset(&m, 0, sizeof(m));
	m.type = CHAT_RESUMED;
	m.user.p = c->chat.name;
	m.user.len = c->chat.namelen;
	m.room = room;
	m.timestamp = now_real_ms();
	hub_send(c, &m);
	/* Nothing before the session began was missed ("since" 0). */
	if (hub_hist_since(w, room, sid, cmd->since > pe.begin ? cmd->since :
	    pe.begin, w->cfg->resume_max, &pg) == -1) {
		hub_system(c, "history_gap", "cannot replay: out of memory");
		return;
	}
	/* Half of what may be queued; older ones: history requests. */
	if (hub_hist_fit(&pg, w->cfg->max_pending / 2))
		pg.gap = 1;
	if (pg.gap)
		hub_system(c, "history_gap", "some of the messages you missed "
		    "are no longer kept, or more than can be sent at once; "
		    "ask for older ones with history");
	epoch = hub_epoch(w);
	for (i = 0; i < pg.n; i++) {
		pg.msgs[i].epoch = epoch;
		if (pg.msgs[i].type == CHAT_PRIVATE && pg.msgs[i].from.len ==
		    c->chat.namelen && memcmp(pg.msgs[i].from.p,
		    c->chat.name, c->chat.namelen) == 0)
			pg.msgs[i].sender_copy = 1;
		hub_send(c, &pg.msgs[i]);
	}
	hub_hist_page_clear(&pg);
}

/*
 * Connections whose session was taken over elsewhere (a resume while
 * this worker had not yet noticed the old connection was lost): they
 * hold nothing now; end them without a logout.  Once a second.
 */
void
hub_session_sweep(struct worker *w)
{
	struct shm_pslot	*ps = shm_region_pslots(w->reg);
	struct conn		*c, *next;

	for (c = TAILQ_FIRST(&w->hub.members); c != NULL; c = next) {
		next = TAILQ_NEXT(c, chat.all_entry);
		if (!c->chat.logged_in || c->chat.sid == 0 ||
		    !hub_is_chat(c))
			continue;
		/* Racy reads; a takeover changes both for good. */
		if (ps[c->chat.pslot].ps_conn == c->id &&
		    ps[c->chat.pslot].ps_sid == c->chat.sid)
			continue;
		hub_byid_del(w, c);
		c->chat.logged_in = 0;
		hub_system(c, "session_taken", "your session was resumed on "
		    "another connection");
		conn_hangup(c, WS_CLOSE_NORMAL, "session taken");
	}
}
