/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * master.h: the master process, as main() sees it: set up the shared
 * region and the listening sockets, then fork, watch and reload workers.
 */

#ifndef WSCHATD_MASTER_H
#define WSCHATD_MASTER_H

struct cfg;

void		 master_setup(struct cfg *);
int		 master_run(struct cfg *, int);

/* wschatd.c */
int		 wschatd_config_read(struct cfg *, char **);

#endif /* WSCHATD_MASTER_H */
