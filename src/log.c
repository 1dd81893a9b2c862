/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * log.c: one-line log messages, tagged with the process that wrote them
 * ("master", "worker 3"), to one destination: stderr, syslog or a file
 * opened for appending.  Lines below the configured level are dropped
 * before they are formatted.  A file is reopened by log_reopen() (SIGUSR1,
 * for logrotate); each process reopens its own descriptor.  Every line is
 * one write(2) to an O_APPEND descriptor, so the lines of different
 * processes never mix.  Never call from a signal handler.
 *
 * Lines about one client (log_client(): a bad request, a protocol error, a
 * client dropped) are what a hostile client can make as many of as it
 * likes.  Each process logs at most log_client_rate of them a second (a
 * token bucket that holds a second's worth); the rest are counted, and the
 * count is logged once a second by log_client_flush().
 */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "wschatd.h"

#define LOG_DEST_STDERR	0
#define LOG_DEST_SYSLOG	1
#define LOG_DEST_FILE	2

static int	 log_dest = LOG_DEST_STDERR;
static int	 log_fd = STDERR_FILENO;
static char	*log_path;		/* LOG_DEST_FILE */
static int	 log_level = LOG_INFO;
static int	 log_tee;		/* warnings to stderr too */
static char	 log_proc[32] = "master";

static unsigned	 log_crate;		/* log_client() a second; 0: any */
static struct bucket	 log_cbucket;		/* log_crate lines a second */
static unsigned long long log_cdropped;	/* since the last report */
static unsigned long long log_cdropped_all; /* since the start */
static uint64_t	 log_cdropped_since;	/* ms: first of those */

static const struct {
	const char	*name;
	int		 level;
} log_levels[] = {
	{ "error",	LOG_ERR },
	{ "warning",	LOG_WARNING },
	{ "info",	LOG_INFO },
	{ "debug",	LOG_DEBUG },
};

int
log_level_parse(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
		if (strcmp(name, log_levels[i].name) == 0)
			return (log_levels[i].level);
	return (-1);
}

/* Before the configuration is read: stderr, info, or debug with -d. */
void
log_init(int verbose)
{
	log_dest = LOG_DEST_STDERR;
	log_fd = STDERR_FILENO;
	log_level = verbose ? LOG_DEBUG : LOG_INFO;
}

static int
log_file_open(const char *path)
{
	return (open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
}

/*
 * Send the log to dest: "stderr", "syslog" or an absolute file path, at
 * level (a log_level_parse() value).  Returns 0, or -1 with errno if the
 * file cannot be opened; the old destination stays then.  Master only, at
 * start and reload; workers inherit the result.
 */
int
log_open(const char *dest, int level)
{
	int	 fd;

	if (strcmp(dest, "stderr") == 0) {
		if (log_dest == LOG_DEST_FILE)
			close(log_fd);
		log_dest = LOG_DEST_STDERR;
		log_fd = STDERR_FILENO;
	} else if (strcmp(dest, "syslog") == 0) {
		if (log_dest == LOG_DEST_FILE)
			close(log_fd);
		if (log_dest != LOG_DEST_SYSLOG)
			openlog(WSCHATD_NAME, LOG_PID | LOG_NDELAY, LOG_DAEMON);
		log_dest = LOG_DEST_SYSLOG;
		log_fd = -1;
	} else {
		if ((fd = log_file_open(dest)) == -1)
			return (-1);
		if (log_dest == LOG_DEST_FILE)
			close(log_fd);
		else if (log_dest == LOG_DEST_SYSLOG)
			closelog();
		free(log_path);
		log_path = xstrdup(dest);
		log_dest = LOG_DEST_FILE;
		log_fd = fd;
	}
	if (log_dest != LOG_DEST_FILE) {
		free(log_path);
		log_path = NULL;
	}
	log_level = level;
	return (0);
}

/*
 * Reopen the log file (logrotate moved it away).  With uid/gid not -1 the
 * file is handed to them, so that workers without privileges can reopen it
 * in turn.  Returns 0 (also when there is no file to reopen), or -1 with
 * errno; the old descriptor stays then.
 */
int
log_reopen(uid_t uid, gid_t gid)
{
	int	 fd;

	if (log_dest != LOG_DEST_FILE)
		return (0);
	if ((fd = log_file_open(log_path)) == -1)
		return (-1);
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    fchown(fd, uid, gid) == -1) {
		close(fd);
		return (-1);
	}
	close(log_fd);
	log_fd = fd;
	return (0);
}

/*
 * While starting, before detaching, warnings and errors go to stderr as
 * well as to the log: whoever started us sees why it failed.
 */
void
log_stderr_too(int on)
{
	log_tee = on;
}

void
log_procinit(const char *name)
{
	snprintf(log_proc, sizeof(log_proc), "%s", name);
}

static void
log_vwrite(int pri, const char *fmt, va_list ap, const char *err)
{
	char		 msg[1024], line[1280];
	struct timespec	 ts;
	struct tm	 tm;
	char		 tbuf[32];
	int		 n;

	if (pri > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_tee && log_dest != LOG_DEST_STDERR && pri <= LOG_WARNING)
		dprintf(STDERR_FILENO, "%s: %s%s%s\n", WSCHATD_NAME, msg,
		    err != NULL ? ": " : "", err != NULL ? err : "");
	if (log_dest == LOG_DEST_SYSLOG) {
		if (err != NULL)
			syslog(pri, "%s: %s: %s", log_proc, msg, err);
		else
			syslog(pri, "%s: %s", log_proc, msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%d %H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%03ld wschatd[%d]: %s: %s%s%s\n",
	    tbuf, ts.tv_nsec / 1000000, (int)getpid(), log_proc, msg,
	    err != NULL ? ": " : "", err != NULL ? err : "");
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* One write per line, so lines of different processes do not mix. */
	(void)write(log_fd, line, (size_t)n);
}

/* At most rate log_client() lines a second from this process; 0: any. */
void
log_client_rate(unsigned rate)
{
	log_crate = rate;
	bucket_init(&log_cbucket, rate, now_mono_ms());
}

/* Say how many log_client() lines were not logged, if any were not. */
void
log_client_flush(void)
{
	unsigned long long	 n = log_cdropped;
	uint64_t		 ms;

	if (n == 0)
		return;
	ms = now_mono_ms() - log_cdropped_since;
	log_cdropped = 0;
	log_info("%llu line%s about clients not logged in the last %llu.%03us "
	    "(log_client_rate %u)", n, n == 1 ? "" : "s",
	    (unsigned long long)(ms / 1000), (unsigned)(ms % 1000), log_crate);
}

/* log_client() lines not logged since the process started. */
unsigned long long
log_client_dropped(void)
{
	return (log_cdropped_all);
}

/* An info line about one client, under log_client_rate. */
void
log_client(const char *fmt, ...)
{
	va_list		 ap;
	uint64_t	 now;

	if (LOG_INFO > log_level)
		return;
	if (log_crate != 0) {
		now = now_mono_ms();
		/* A burst of one second's worth. */
		if (!bucket_take(&log_cbucket, now, log_crate, log_crate)) {
			if (log_cdropped++ == 0)
				log_cdropped_since = now;
			log_cdropped_all++;
			return;
		}
	}
	va_start(ap, fmt);
	log_vwrite(LOG_INFO, fmt, ap, NULL);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_INFO, fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_DEBUG, fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, fmt, ap, strerror(saved));
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
