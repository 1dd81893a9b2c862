/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * store.h: the history store, one SQLite file (WAL mode).  The history
 * process is its one writer: it appends the bus's chat messages in
 * batches, one transaction each, records the ranges of ids it could not
 * keep (gaps), and trims each room by count and by age.  Workers open it
 * read-only after fork(), for pages older than what they keep in memory.
 * The master opens it once before any fork to learn the epoch and the
 * highest id, and closes it again: no connection crosses a fork().
 * No libevent, no logging: errors come back as STORE_E* with a reason in
 * the caller's buffer.
 */

#ifndef WSCHATD_STORE_H
#define WSCHATD_STORE_H

#include <stddef.h>
#include <stdint.h>

struct store;

#define STORE_OK	0
#define STORE_EIO	(-1)	/* I/O error, or anything else */
#define STORE_EFULL	(-2)	/* disk or quota full (SQLITE_FULL) */
#define STORE_ERDONLY	(-3)	/* the file or directory is read-only */
#define STORE_ECORRUPT	(-4)	/* not a database, or a damaged one */
#define STORE_ENOMEM	(-5)
#define STORE_EBUSY	(-6)	/* locked by another writer */

#define STORE_EPOCH_LEN	16	/* hex digits of an epoch */

/* Open for writing (the history process), or read-only (workers). */
#define STORE_RDWR	0
#define STORE_RDONLY	1

/* One chat message.  The strings need not be NUL-ended. */
struct store_msg {
	uint64_t	 id;		/* from the bus; increasing */
	uint64_t	 ts;		/* ms since the Unix epoch */
	const char	*room;
	size_t		 room_len;
	const char	*from;
	size_t		 from_len;
	const char	*peer;		/* sender's ip:port (line format) */
	size_t		 peer_len;
	const char	*content;
	size_t		 content_len;
};

/* A page of messages: store_page() fills it, store_page_clear() frees. */
struct store_page {
	struct store_msg	*msgs;		/* oldest first */
	size_t			 n;
	int			 more;		/* older ones exist */
	char			*strings;	/* what msgs point into */
};

/*
 * Open the file at path.  STORE_RDWR creates it (and its schema, with a
 * new random epoch) if it does not exist, sets WAL mode and
 * synchronous=NORMAL (sync_full: FULL), and refuses a file that fails
 * PRAGMA quick_check or is not a wschatd store (STORE_ECORRUPT): it
 * never truncates or rewrites one.  STORE_RDONLY opens an existing file
 * only.  Returns STORE_OK with *sp set, or STORE_E* with the reason in
 * err (errlen bytes, NUL-ended).  Any process; never across fork().
 */
int		 store_open(struct store **, const char *, int, int, char *,
		    size_t);
void		 store_close(struct store *);
/* The file's epoch: STORE_EPOCH_LEN hex digits, NUL-ended. */
const char	*store_epoch(const struct store *);
/* The highest id kept or recorded in a gap, 0 if none. */
uint64_t	 store_max_id(struct store *);

/*
 * Writing (STORE_RDWR): store_begin(), any number of store_add() and
 * store_gap(), then store_commit() (or store_rollback() after an error).
 * Each returns STORE_OK or STORE_E* with the reason in err.  store_add()
 * of an id already kept is not an error and keeps the first (a respawned
 * history process may read a record twice).
 */
int		 store_begin(struct store *, char *, size_t);
int		 store_add(struct store *, const struct store_msg *, char *,
		    size_t);
/* Ids in [from, to] were lost before they could be kept (every room). */
int		 store_gap(struct store *, uint64_t, uint64_t, char *, size_t);
int		 store_commit(struct store *, char *, size_t);
void		 store_rollback(struct store *);
/*
 * Delete, in every room, what is beyond max_per_room messages (0: no
 * limit) or older than max_age_ms before now_ms (0: no limit), and gaps
 * older than every message kept.  At most limit rows per call, so that a
 * large trim never holds the write lock for long; *deleted says how many.
 * Its own transaction.
 */
int		 store_trim(struct store *, uint64_t, uint64_t, uint64_t,
		    size_t, size_t *, char *, size_t);

/*
 * Reading (either mode): the up to limit messages of room with ids below
 * before (0: the latest), oldest first, into *pg; pg->more says whether
 * older ones exist.
 */
int		 store_page(struct store *, const char *, size_t, uint64_t,
		    size_t, struct store_page *, char *, size_t);
void		 store_page_clear(struct store_page *);
/*
 * The messages of room with after < id <= upto (upto 0: no bound), oldest
 * first, at most limit; pg->more says that more than limit match.
 */
int		 store_range(struct store *, const char *, size_t, uint64_t,
		    uint64_t, size_t, struct store_page *, char *, size_t);
/* Does any recorded gap meet the ids (after, upto]?  1, 0, or STORE_E*. */
int		 store_gap_between(struct store *, uint64_t, uint64_t, char *,
		    size_t);
/* A short name for an error code, for logs and metrics labels. */
const char	*store_strerror(int);

#endif /* WSCHATD_STORE_H */
