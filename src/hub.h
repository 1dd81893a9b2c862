/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * hub.h: the chat, as a worker runs it.  What a chat connection sends, in
 * any format, comes in through hub_input(); events from the bus, from
 * any worker, go out through hub_deliver().  hub.c keeps its state in
 * struct hub (the worker's rooms, its logged-in connections, the online
 * list) and struct hub_member (one connection's name, room and limits);
 * it reaches a connection only through conn.h's conn_send() and
 * conn_hangup().
 */

#ifndef WSCHATD_HUB_H
#define WSCHATD_HUB_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "wschatd.h"
#include "chat.h"
#include "shm.h"

struct conn;
struct worker;
struct hub_room;
struct hub_seen;

/* hub.c's part of struct conn. */
struct hub_member {
	TAILQ_ENTRY(conn)	 all_entry;	/* on hub.members */
	TAILQ_ENTRY(conn)	 room_entry;
	struct hub_room		*room;
	struct conn		*id_next;	/* byid hash chain */
	time_t			 last_active;	/* last chat activity */
	time_t			 rl_start;	/* command_rate window */
	unsigned		 rl_count;
	struct bucket		 mr;		/* message_rate */
	unsigned		 mr_dropped;	/* messages dropped in a row */
	uint32_t		 pslot;		/* presence slot when logged in */
	uint64_t		 sid;		/* version 2's session; 0: none */
	uint64_t		 secret;
	uint64_t		 begin;		/* session began after this id */
	unsigned		 open:1,	/* in hub.members */
				 logged_in:1,
				 await_session:1, /* v2: its login on its
						  * way round the bus */
				 goodbye:1,	/* a close frame or logout: the
						 * session ends with the
						 * connection */
				 rooms_used:1;	/* has used rooms: sees
						 * the lobby's join/leave */
	uint8_t			 namelen;
	char			 name[SHM_NAME_MAX + 1];
};

TAILQ_HEAD(hub_conns, conn);

/* hub.c's part of struct worker. */
struct hub {
	struct hub_conns	 members;	/* every open chat connection */
	struct hub_room		**rooms;
	size_t			 nroombuckets;
	unsigned		 nrooms;	/* local rooms but the lobby */
	struct conn		**byid;		/* logged-in conns by id */
	size_t			 nidbuckets;
	struct chat_str		*ulist;		/* user_list scratch */
	struct shm_presence_entry *plist;
	size_t			 plistsz;
	size_t			 nplist;	/* names in plist and ulist */
	uint64_t		 plist_gen;	/* presence generation of plist */
	int			 plist_ok;	/* plist holds that generation */
	/* Replies to who in a room or in pages, and to rooms: scratch. */
	const struct shm_presence_entry **picked;
	struct chat_str		*wlist;
	struct chat_room_count	*rcount;
	struct hub_seen		**seen;		/* names announced online (v2) */
	size_t			 nseenbuckets;
	size_t			 nseen;
};

void		 hub_init(struct worker *);
void		 hub_clear(struct worker *);
void		 hub_open(struct conn *);
void		 hub_close(struct conn *);
void		 hub_goodbye(struct conn *);
void		 hub_input(struct conn *, int, const char *, size_t);
size_t		 hub_deliver(struct worker *, const struct chat_env *);
void		 hub_lost(struct worker *, uint64_t);
void		 hub_sweep(struct worker *);
void		 hub_system(struct conn *, const char *, const char *, ...)
		    __attribute__((__format__(__printf__, 3, 4)));

#endif /* WSCHATD_HUB_H */
