/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * unit_mount.h: a read-only or full file system for the tests of the
 * history store (test_store.c, test_history.c).  Root ignores file
 * modes, so those need a mount: one in a mount namespace of the test's
 * own process (criterion runs each test in one; a child forked after
 * inherits it), gone when the process ends.
 */

#ifndef WSCHATD_UNIT_MOUNT_H
#define WSCHATD_UNIT_MOUNT_H

#include <sys/mount.h>

#include <sched.h>
#include <stddef.h>
#include <unistd.h>

/*
 * Mount a file system of type (with opts) on dir, or with type NULL
 * remount dir onto itself with flags (MS_RDONLY: a read-only bind).
 * Returns 1, or 0 if it cannot be done (not root, no namespaces): the
 * caller skips.
 */
static inline int
unit_private_mount(const char *dir, const char *type, unsigned long flags,
    const char *opts)
{
	if (geteuid() != 0 || unshare(CLONE_NEWNS) == -1)
		return (0);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1)
		return (0);
	if (type != NULL)
		return (mount("none", dir, type, flags, opts) == 0);
	if (mount(dir, dir, NULL, MS_BIND, NULL) == -1)
		return (0);
	return (mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND | flags,
	    NULL) == 0);
}

#endif /* WSCHATD_UNIT_MOUNT_H */
