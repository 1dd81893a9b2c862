/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * master.h: the master process, as main() sees it: set up the shared
 * region and the listening sockets, then fork, watch and reload workers.
 */

#ifndef WSCHATD_MASTER_H
#define WSCHATD_MASTER_H

#include <stddef.h>

struct cfg;
struct cfg_override;

void		 master_setup(struct cfg *, const char *,
		    const struct cfg_override *, size_t);
int		 master_run(struct cfg *, int);
void		 master_block_signals(int);

#endif /* WSCHATD_MASTER_H */
