/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * wschatd.h: what every file of the daemon may use: its name, version and
 * process limits, and the process helpers: log.c, now.c, bucket.c, buf.c
 * and xmalloc.c.  It depends on libc alone.  Each module has a header of
 * its own (cfg.h, http.h, ws.h, chat.h, conn.h, ...): include the ones
 * you call.
 */

#ifndef WSCHATD_H
#define WSCHATD_H

#include <sys/types.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define WSCHATD_NAME		"wschatd"
#ifndef WSCHATD_VERSION
#define WSCHATD_VERSION		"0.1.0"
#endif

#define WSCHATD_MAX_WORKERS	64
/*
 * Worker slots on the bus: during a reload the new workers run beside the
 * old ones, which drain, so there are twice as many slots as workers.
 */
#define WSCHATD_MAX_SLOTS	(2 * WSCHATD_MAX_WORKERS + 4)

/* log.c: one line per event, to syslog, stderr or a file. */

int		 log_level_parse(const char *);
void		 log_init(int);
int		 log_open(const char *, int);
int		 log_reopen(uid_t, gid_t);
void		 log_stderr_too(int);
void		 log_procinit(const char *);
void		 log_warn(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
void		 log_warnx(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
void		 log_client_rate(unsigned);
void		 log_client_flush(void);
unsigned long long log_client_dropped(void);
void		 log_client(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
void		 log_info(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
void		 log_debug(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
void		 fatal(const char *, ...)
		    __attribute__((__format__(printf, 1, 2), __noreturn__));
void		 fatalx(const char *, ...)
		    __attribute__((__format__(printf, 1, 2), __noreturn__));

/* now.c: the monotonic and the real clock. */

time_t		 now_mono(void);
uint64_t	 now_mono_ms(void);
uint64_t	 now_real_ms(void);

/* bucket.c: a token bucket (message_rate, log_client_rate). */
struct bucket {
	uint64_t	 tokens;	/* thousandths of a token */
	uint64_t	 last;		/* ms, monotonic: last refill */
};

void		 bucket_init(struct bucket *, unsigned, uint64_t);
int		 bucket_take(struct bucket *, uint64_t, unsigned, unsigned);

/* buf.c: a growable output buffer, with free room before its data. */
struct buf {
	uint8_t		*base;		/* headroom bytes, then the data */
	size_t		 headroom;
	size_t		 len;		/* bytes of data */
	size_t		 cap;		/* data capacity */
	int		 failed;	/* an allocation failed */
};

void		 buf_init(struct buf *, size_t);
int		 buf_want(struct buf *, size_t);
int		 buf_add(struct buf *, const void *, size_t);
void		 buf_printf(struct buf *, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));
uint8_t		*buf_finish(struct buf *, size_t *);
void		 buf_clear(struct buf *);

/* xmalloc.c: fatal-on-failure allocators for startup and config. */

void		*xmalloc(size_t);
void		*xcalloc(size_t, size_t);
char		*xstrdup(const char *);
int		 xasprintf(char **, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));

#endif /* WSCHATD_H */
