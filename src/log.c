/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * log.c: one-line log messages to stderr (foreground) or syslog, tagged
 * with the process that wrote them ("master", "worker 3").  Debug lines
 * only with -d.  Safe to call from any process after
 * log_init(); never from a signal handler.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "wschatd.h"

static int	 log_stderr = 1;
static int	 log_verbose;
static char	 log_proc[32] = "master";

void
log_init(int to_stderr, int verbose)
{
	log_stderr = to_stderr;
	log_verbose = verbose;
	if (!to_stderr)
		openlog(WSCHATD_NAME, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_procinit(const char *name)
{
	snprintf(log_proc, sizeof(log_proc), "%s", name);
}

void
log_setverbose(int v)
{
	log_verbose = v;
}

int
log_getverbose(void)
{
	return (log_verbose);
}

static void
log_vwrite(int pri, const char *fmt, va_list ap, const char *err)
{
	char		 msg[1024];
	struct timespec	 ts;
	struct tm	 tm;
	char		 tbuf[32];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (!log_stderr) {
		if (err != NULL)
			syslog(pri, "%s: %s: %s", log_proc, msg, err);
		else
			syslog(pri, "%s: %s", log_proc, msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%d %H:%M:%S", &tm);
	/* One write per line, so lines of different processes do not mix. */
	if (err != NULL)
		dprintf(STDERR_FILENO, "%s.%03ld wschatd[%d]: %s: %s: %s\n",
		    tbuf, ts.tv_nsec / 1000000, (int)getpid(), log_proc, msg,
		    err);
	else
		dprintf(STDERR_FILENO, "%s.%03ld wschatd[%d]: %s: %s\n",
		    tbuf, ts.tv_nsec / 1000000, (int)getpid(), log_proc, msg);
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

	if (log_verbose < 1)
		return;
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
