/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * pidfile.c: the pidfile.  The master opens it and takes an exclusive
 * flock(2) before it detaches, keeps the lock for as long as it runs, and
 * unlinks the file while still holding it; so a held lock, not the pid
 * inside, says whether a wschatd runs, and a stale file is harmless.  One
 * pidfile a process: its descriptor is file-static here, and each forked
 * worker drops it with pidfile_close(); wschatd -t asks pidfile_check()
 * whether it could be taken.  Which path, and whether there is a pidfile
 * at all, is the caller's (the pidfile setting, and -f).
 */

#include <sys/file.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wschatd.h"
#include "pidfile.h"

static int	 pidfile_fd = -1;	/* open and locked; -1: none */
static char	*pidfile_path;		/* its path, to remove it */
static pid_t	 pidfile_owner;		/* who wrote it last */

static void	 pidfile_atexit(void);

/* The pid in a pidfile, or 0. */
static pid_t
pidfile_read(int fd)
{
	char	 buf[32];
	ssize_t	 n;
	long	 pid;

	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return (0);
	buf[n] = '\0';
	pid = strtol(buf, NULL, 10);
	return (pid > 0 && pid <= INT_MAX ? (pid_t)pid : 0);
}

/*
 * Who holds the lock of the pidfile at path: a running wschatd's pid, or
 * 0 if nobody does (path NULL, no file, a stale one).  Opens nothing that
 * stays open; any process (wschatd -t asks before binding).
 */
pid_t
pidfile_running(const char *path)
{
	pid_t	 pid = 0;
	int	 fd;

	if (path == NULL || (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (0);
	if (flock(fd, LOCK_SH | LOCK_NB) == -1 && errno == EWOULDBLOCK)
		pid = pidfile_read(fd);
	close(fd);
	return (pid);
}

/*
 * Could pidfile_open() take the pidfile at path, as far as this process's
 * rights go?  An existing file must open for writing; a missing one needs
 * a directory this process may create it in.  A file the running wschatd
 * holds is fine: wschatd -t checks before a reload too, and a reload keeps
 * the pidfile.  Returns 0, or -1 with *cause (caller frees) saying what
 * pidfile_open() would.  Creates, writes and locks nothing.  wschatd -t.
 */
int
pidfile_check(const char *path, char **cause)
{
	char	*dir, *slash;
	int	 fd, error;

	if (pidfile_running(path) != 0)
		return (0);
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) != -1) {
		close(fd);
		return (0);
	}
	error = errno;
	if (error == ENOENT) {
		/* No file (or no directory): could we create it? */
		dir = xstrdup(path);
		if ((slash = strrchr(dir, '/')) != NULL)
			slash[slash == dir ? 1 : 0] = '\0';
		/* By the effective ids, as open() goes. */
		if (faccessat(AT_FDCWD, slash != NULL ? dir : ".",
		    W_OK | X_OK, AT_EACCESS) == 0)
			error = 0;
		else
			error = errno;
		free(dir);
		if (error == 0)
			return (0);
	}
	xasprintf(cause, "pidfile %s: %s", path, strerror(error));
	return (-1);
}

/*
 * Take the pidfile at path: open (create) it and lock it for as long as
 * this process, and the daemon it becomes by fork(), lives.  A lock that
 * is held means another wschatd runs: refuse.  Our pid is written at
 * once, so the file is never seen empty by a script that reads it as soon
 * as the server listens; a daemon writes it again with pidfile_write()
 * once it has forked.  Returns 0, or -1 with *cause (caller frees).
 * Master only, before it detaches; once a process.
 */
int
pidfile_open(const char *path, char **cause)
{
	pid_t	 pid;

	if ((pidfile_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC,
	    0644)) == -1) {
		xasprintf(cause, "pidfile %s: %s", path, strerror(errno));
		return (-1);
	}
	if (flock(pidfile_fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK) {
			pid = pidfile_read(pidfile_fd);
			xasprintf(cause, "already running (pid %d, pidfile %s)",
			    (int)pid, path);
		} else
			xasprintf(cause, "pidfile %s: lock: %s", path,
			    strerror(errno));
		close(pidfile_fd);
		pidfile_fd = -1;
		return (-1);
	}
	pidfile_path = xstrdup(path);
	atexit(pidfile_atexit);
	if (pidfile_write() == -1) {
		xasprintf(cause, "pidfile %s: %s", path, strerror(errno));
		pidfile_remove();
		return (-1);
	}
	return (0);
}

/*
 * Write our pid into the pidfile taken by pidfile_open(), replacing what
 * was there.  Returns 0 (also when there is no pidfile), or -1 with errno.
 * Master only, once it has detached.
 */
int
pidfile_write(void)
{
	char	 buf[32];
	int	 n;

	if (pidfile_fd == -1)
		return (0);
	pidfile_owner = getpid();
	n = snprintf(buf, sizeof(buf), "%d\n", (int)pidfile_owner);
	if (ftruncate(pidfile_fd, 0) == -1 ||
	    pwrite(pidfile_fd, buf, (size_t)n, 0) != n)
		return (-1);
	return (0);
}

/*
 * Close our descriptor of the pidfile, leaving the file alone: a forked
 * worker has no business with it (the lock stays the master's, which
 * holds its own descriptor), and main() drops it on a failed start.  No
 * pidfile: nothing happens.  Any process.
 */
void
pidfile_close(void)
{
	if (pidfile_fd != -1)
		close(pidfile_fd);
	pidfile_fd = -1;
}

/*
 * A start that fails after the pidfile is taken (a port in use, a
 * setrlimit refused) leaves by fatal() and exit(): remove the file then
 * too, but only in the process that wrote it.  A worker has closed its
 * descriptor (pidfile_close()), and the parent of a daemon leaves by
 * _exit().
 */
static void
pidfile_atexit(void)
{
	if (getpid() == pidfile_owner)
		pidfile_remove();
}

/*
 * Remove the pidfile and release it: the master, stopping.  No pidfile:
 * nothing happens.  A failed unlink is logged, not returned.
 */
void
pidfile_remove(void)
{
	if (pidfile_fd == -1)
		return;
	/* Unlink while the lock is held: nobody takes a file we remove. */
	if (unlink(pidfile_path) == -1 && errno != ENOENT)
		log_warn("unlink %s", pidfile_path);
	pidfile_close();
	free(pidfile_path);
	pidfile_path = NULL;
}
