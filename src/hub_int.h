/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * hub_int.h: what the hub's files share among themselves (hub.c, the
 * chat; hub_hist.c, history; hub_session.c, sessions).  Not for anyone
 * else: the rest of the daemon uses hub.h.
 */

#ifndef WSCHATD_HUB_INT_H
#define WSCHATD_HUB_INT_H

#include <stddef.h>
#include <stdint.h>

#include "chat.h"

struct conn;
struct worker;

#define HUB_LOBBY	"lobby"

/* hub.c */
int		 hub_is_chat(const struct conn *);
int		 hub_room_join(struct conn *, const char *, size_t);
int		 hub_room_ok(struct conn *, struct chat_str);
struct chat_str	 hub_room_name(const struct conn *);
void		 hub_byid_add(struct worker *, struct conn *);
void		 hub_byid_del(struct worker *, struct conn *);
struct chat_str	 hub_epoch(struct worker *);
void		 hub_send(struct conn *, struct chat_msg *);
void		 hub_set_name(struct conn *, const char *, size_t);

/* hub_hist.c: history replies */
void		 hub_hist_send(struct conn *, struct chat_str, uint64_t, size_t);
void		 hub_hist_cmd(struct conn *, const struct chat_cmd *);

/* hub_session.c */
void		 hub_session_begin(struct conn *);
void		 hub_session_detach(struct conn *);
void		 hub_session_resume(struct conn *, const struct chat_cmd *);
void		 hub_session_sweep(struct worker *);

#endif /* WSCHATD_HUB_INT_H */
