/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * pidfile.h: the daemon's pidfile, held open and locked by the master for
 * as long as it runs; who holds someone else's; and whether one could be
 * taken.
 */

#ifndef WSCHATD_PIDFILE_H
#define WSCHATD_PIDFILE_H

#include <sys/types.h>

int		 pidfile_open(const char *, char **);
int		 pidfile_write(void);
void		 pidfile_close(void);
void		 pidfile_remove(void);
pid_t		 pidfile_running(const char *);
int		 pidfile_check(const char *, char **);

#endif /* WSCHATD_PIDFILE_H */
