/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * hub_hist.h: a worker's memory of recent messages, and pages of history
 * from it and from the store (hub_hist.c).  hub.c decides what to send.
 */

#ifndef WSCHATD_HUB_HIST_H
#define WSCHATD_HUB_HIST_H

#include <stddef.h>
#include <stdint.h>

#include "chat.h"
#include "store.h"

struct worker;

/* Messages found: chat_msgs pointing into memory and into sp. */
struct hub_hist_page {
	struct chat_msg		*msgs;		/* oldest first */
	size_t			 n;
	size_t			 cap;
	int			 more;		/* older ones (or more) exist */
	int			 gap;		/* some are no longer kept */
	struct store_page	 sp;
};

void		 hub_hist_init(struct worker *, uint64_t);
void		 hub_hist_clear(struct worker *);
void		 hub_hist_note(struct worker *, const struct chat_env *);
void		 hub_hist_lost(struct worker *, uint64_t);
uint64_t	 hub_hist_delivered(struct worker *);
int		 hub_hist_page(struct worker *, struct chat_str, uint64_t,
		    size_t, struct hub_hist_page *);
int		 hub_hist_since(struct worker *, struct chat_str, uint64_t,
		    uint64_t, size_t, struct hub_hist_page *);
int		 hub_hist_fit(struct hub_hist_page *, size_t);
void		 hub_hist_page_clear(struct hub_hist_page *);

#endif /* WSCHATD_HUB_HIST_H */
