/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * store.c: the history store in one SQLite file (the contracts are in
 * store.h).  Schema 1:
 *
 *   meta(key TEXT PRIMARY KEY, value TEXT)     schema, epoch, created,
 *                                              max_id (kept by trims)
 *   messages(id INTEGER PRIMARY KEY, room, ts, name, peer, content)
 *                                              index on (room, id)
 *   gaps(first, last)                          ids lost, every room
 *
 * Every statement is prepared once, at open.  A file is checked before
 * anything may write to it, on a read-only connection of its own: a file
 * that is not a database, fails PRAGMA quick_check or is some other
 * program's database is refused and left exactly as it was.  The
 * history process and the master use STORE_RDWR; workers STORE_RDONLY.
 * What to log, and when to retry, is the caller's.
 */

#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"

#define STORE_SCHEMA		"1"
/* ms a connection waits for another's lock before SQLITE_BUSY: the one
 * writer holds it for one batch, a few ms. */
#define STORE_BUSY_MS		1000
/* Rooms store_trim() looks at per call for the count limit. */
#define STORE_TRIM_ROOMS	16
/* Ids are SQLite's signed 64-bit integers. */
#define STORE_ID_MAX		((uint64_t)INT64_MAX)

enum {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_ADD,
	ST_GAP,
	ST_PAGE,
	ST_RANGE,
	ST_GAPQ,
	ST_MAXID,
	ST_TRIM_AGE,
	ST_TRIM_NEXTROOM,
	ST_TRIM_NTH,
	ST_TRIM_COUNT,
	ST_TRIM_GAPS,
	ST_TRIM_MARK,
	ST_N
};

/* The statements that write are prepared only when opened for writing. */
static const struct {
	const char	*sql;
	int		 writes;
} store_sql[ST_N] = {
	[ST_BEGIN] = { "BEGIN IMMEDIATE", 1 },
	[ST_COMMIT] = { "COMMIT", 1 },
	[ST_ROLLBACK] = { "ROLLBACK", 1 },
	[ST_ADD] = { "INSERT OR IGNORE INTO messages"
	    "(id, room, ts, name, peer, content) VALUES (?1,?2,?3,?4,?5,?6)",
	    1 },
	[ST_GAP] = { "INSERT INTO gaps(first, last) VALUES (?1, ?2)", 1 },
	/* limit + 1 rows: the last says that there are more. */
	[ST_PAGE] = { "SELECT id, ts, name, peer, content FROM messages "
	    "WHERE room = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3", 0 },
	[ST_RANGE] = { "SELECT id, ts, name, peer, content FROM messages "
	    "WHERE room = ?1 AND id > ?2 AND id <= ?3 ORDER BY id LIMIT ?4",
	    0 },
	/* [first, last] meets (after, upto]. */
	[ST_GAPQ] = { "SELECT 1 FROM gaps WHERE first <= ?2 AND last > ?1 "
	    "LIMIT 1", 0 },
	/* max(id) is the rowid's: one step.  gaps and meta are small. */
	[ST_MAXID] = { "SELECT max(coalesce((SELECT max(id) FROM messages), 0),"
	    " coalesce((SELECT max(last) FROM gaps), 0),"
	    " coalesce((SELECT CAST(value AS INTEGER) FROM meta"
	    " WHERE key = 'max_id'), 0))", 0 },
	/* Only the oldest ?2 messages by id are looked at: ts grows with
	 * the id (both are given at publish), and ts has no index. */
	[ST_TRIM_AGE] = { "DELETE FROM messages WHERE id IN (SELECT id FROM "
	    "(SELECT id, ts FROM messages ORDER BY id LIMIT ?2) "
	    "WHERE ts < ?1)", 1 },
	/* The next room after ?1: one step down the (room, id) index. */
	[ST_TRIM_NEXTROOM] = { "SELECT min(room) FROM messages "
	    "WHERE room > ?1", 1 },
	[ST_TRIM_NTH] = { "SELECT id FROM messages WHERE room = ?1 "
	    "ORDER BY id DESC LIMIT 1 OFFSET ?2", 1 },
	[ST_TRIM_COUNT] = { "DELETE FROM messages WHERE id IN (SELECT id "
	    "FROM messages WHERE room = ?1 AND id <= ?2 ORDER BY id "
	    "LIMIT ?3)", 1 },
	[ST_TRIM_GAPS] = { "DELETE FROM gaps WHERE last < "
	    "(SELECT min(id) FROM messages)", 1 },
	/* Ids are never reused, also once every message and gap is gone:
	 * a trim that deletes keeps the highest one in meta. */
	[ST_TRIM_MARK] = { "INSERT OR REPLACE INTO meta(key, value) "
	    "VALUES ('max_id', ?1)", 1 },
};

struct store {
	sqlite3		*db;
	int		 rdonly;
	int		 in_txn;
	char		 epoch[STORE_EPOCH_LEN + 1];
	sqlite3_stmt	*st[ST_N];
	char		*trim_room;	/* the last room trimmed by count */
};

/*
 * An SQLite result as STORE_E*, with "what: SQLite's message (the
 * system's)" in err.  A read-only file or directory shows up as
 * SQLITE_READONLY, or as SQLITE_CANTOPEN / SQLITE_IOERR with EACCES or
 * EROFS; a full disk as SQLITE_FULL, or SQLITE_IOERR with ENOSPC.
 */
static int
store_fail(sqlite3 *db, int rc, const char *what, char *err, size_t errlen)
{
	int		 serr = db != NULL ? sqlite3_system_errno(db) : 0;
	int		 code;
	const char	*msg;

	msg = db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
	switch (rc & 0xff) {
	case SQLITE_FULL:
		code = STORE_EFULL;
		break;
	case SQLITE_READONLY:
		code = STORE_ERDONLY;
		break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		code = STORE_ECORRUPT;
		break;
	case SQLITE_NOMEM:
		code = STORE_ENOMEM;
		break;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		code = STORE_EBUSY;
		break;
	case SQLITE_CANTOPEN:
	case SQLITE_IOERR:
	case SQLITE_PERM:
		if (serr == EACCES || serr == EROFS || serr == EPERM)
			code = STORE_ERDONLY;
		else if (serr == ENOSPC || serr == EDQUOT)
			code = STORE_EFULL;
		else
			code = STORE_EIO;
		break;
	default:
		code = STORE_EIO;
		break;
	}
	if (serr != 0)
		snprintf(err, errlen, "%s: %s (%s)", what, msg, strerror(serr));
	else
		snprintf(err, errlen, "%s: %s", what, msg);
	return (code);
}

static int
store_exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	int	 rc;

	if ((rc = sqlite3_exec(db, sql, NULL, NULL, NULL)) != SQLITE_OK)
		return (store_fail(db, rc, sql, err, errlen));
	return (STORE_OK);
}

/* One text value of meta into buf; 0 if there, 1 if not, or STORE_E*. */
static int
store_meta_get(sqlite3 *db, const char *key, char *buf, size_t len,
    char *err, size_t errlen)
{
	sqlite3_stmt	*s = NULL;
	const char	*v;
	int		 rc, ret;

	rc = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1",
	    -1, &s, NULL);
	if (rc != SQLITE_OK)
		return (store_fail(db, rc, "read meta", err, errlen));
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		v = (const char *)sqlite3_column_text(s, 0);
		snprintf(buf, len, "%s", v != NULL ? v : "");
		ret = 0;
	} else if (rc == SQLITE_DONE)
		ret = 1;
	else
		ret = store_fail(db, rc, "read meta", err, errlen);
	sqlite3_finalize(s);
	return (ret);
}

static int
store_epoch_ok(const char *e)
{
	size_t	 i;

	for (i = 0; i < STORE_EPOCH_LEN; i++)
		if (e[i] == '\0' || strchr("0123456789abcdef", e[i]) == NULL)
			return (0);
	return (e[i] == '\0');
}

/*
 * Is db a wschatd store?  quick: run PRAGMA quick_check too (it reads the
 * whole file: the writer's open only).  Returns STORE_OK with the epoch
 * in epoch, 1 if the database has no tables at all (new, or a zero-length
 * file), STORE_ECORRUPT with the reason, or another STORE_E*.  Reads only.
 */
static int
store_check(sqlite3 *db, int quick, char *epoch, char *err, size_t errlen)
{
	sqlite3_stmt	*s = NULL;
	char		 v[64];
	const char	*res;
	char		*p;
	int		 rc, n, ret;

	/* The first read of the file: "file is not a database" shows here. */
	rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1,
	    &s, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
		rc = SQLITE_OK;
	n = rc == SQLITE_OK ? sqlite3_column_int(s, 0) : 0;
	sqlite3_finalize(s);
	if (rc != SQLITE_OK)
		return (store_fail(db, rc, "read schema", err, errlen));
	if (quick) {
		rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &s,
		    NULL);
		if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
			res = (const char *)sqlite3_column_text(s, 0);
			if (res == NULL || strcmp(res, "ok") != 0) {
				snprintf(err, errlen, "quick_check: %s",
				    res != NULL ? res : "no result");
				/* One line, for the log. */
				for (p = err; *p != '\0'; p++)
					if (*p == '\n')
						*p = ' ';
				sqlite3_finalize(s);
				return (STORE_ECORRUPT);
			}
			rc = SQLITE_OK;
		}
		sqlite3_finalize(s);
		if (rc != SQLITE_OK)
			return (store_fail(db, rc, "quick_check", err,
			    errlen));
	}
	if (n == 0)
		return (1);
	ret = store_meta_get(db, "schema", v, sizeof(v), err, errlen);
	if (ret < 0 && (sqlite3_errcode(db) & 0xff) == SQLITE_ERROR) {
		/* "no such table: meta": someone else's database. */
		snprintf(err, errlen, "not a wschatd history store (no meta "
		    "table)");
		return (STORE_ECORRUPT);
	}
	if (ret < 0)
		return (ret);
	if (ret == 1) {
		snprintf(err, errlen, "not a wschatd history store (no "
		    "schema version)");
		return (STORE_ECORRUPT);
	}
	if (strcmp(v, STORE_SCHEMA) != 0) {
		snprintf(err, errlen, "schema version %.20s, this wschatd "
		    "knows " STORE_SCHEMA, v);
		return (STORE_ECORRUPT);
	}
	ret = store_meta_get(db, "epoch", v, sizeof(v), err, errlen);
	if (ret < 0)
		return (ret);
	if (ret == 1 || !store_epoch_ok(v)) {
		snprintf(err, errlen, "no valid epoch in the meta table");
		return (STORE_ECORRUPT);
	}
	memcpy(epoch, v, STORE_EPOCH_LEN + 1);
	return (STORE_OK);
}

/* A new epoch: 64 random bits, as hex. */
static int
store_epoch_new(char *epoch, char *err, size_t errlen)
{
	uint64_t	 r;
	ssize_t		 n;

	while ((n = getrandom(&r, sizeof(r), 0)) != (ssize_t)sizeof(r)) {
		if (n == -1 && errno == EINTR)
			continue;
		snprintf(err, errlen, "getrandom: %s", n == -1 ?
		    strerror(errno) : "short read");
		return (STORE_EIO);
	}
	snprintf(epoch, STORE_EPOCH_LEN + 1, "%016" PRIx64, r);
	return (STORE_OK);
}

/* Make schema 1 in an empty database, inside the caller's transaction. */
static int
store_create(sqlite3 *db, char *epoch, char *err, size_t errlen)
{
	sqlite3_stmt	*s = NULL;
	char		 created[32];
	int		 rc, ret;

	if ((ret = store_epoch_new(epoch, err, errlen)) != STORE_OK)
		return (ret);
	if ((ret = store_exec(db,
	    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
	    "CREATE TABLE messages(id INTEGER PRIMARY KEY, room TEXT NOT NULL,"
	    " ts INTEGER, name TEXT, peer TEXT, content TEXT);"
	    "CREATE INDEX messages_room ON messages(room, id);"
	    "CREATE TABLE gaps(first INTEGER, last INTEGER);",
	    err, errlen)) != STORE_OK)
		return (ret);
	snprintf(created, sizeof(created), "%lld", (long long)time(NULL));
	rc = sqlite3_prepare_v2(db, "INSERT INTO meta(key, value) VALUES "
	    "('schema', '" STORE_SCHEMA "'), ('epoch', ?1), ('created', ?2)",
	    -1, &s, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(s, 1, epoch, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, created, -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
		if (rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	ret = rc == SQLITE_OK ? STORE_OK :
	    store_fail(db, rc, "create schema", err, errlen);
	sqlite3_finalize(s);
	return (ret);
}

static int
store_connect(const char *path, int flags, sqlite3 **dbp, char *err,
    size_t errlen)
{
	sqlite3	*db = NULL;
	int	 rc, ret;

	*dbp = NULL;
	rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		if (db == NULL)
			return (store_fail(NULL, rc, "open", err, errlen));
		ret = store_fail(db, rc, "open", err, errlen);
		sqlite3_close(db);
		return (ret);
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, STORE_BUSY_MS);
	*dbp = db;
	return (STORE_OK);
}

/*
 * Check an existing file on a read-only connection, which never writes
 * to the database file (a writer's close may checkpoint a WAL into it).
 * Returns as store_check().
 */
static int
store_precheck(const char *path, char *epoch, char *err, size_t errlen)
{
	sqlite3	*db;
	int	 ret;

	if ((ret = store_connect(path, SQLITE_OPEN_READONLY, &db, err,
	    errlen)) != STORE_OK)
		return (ret);
	ret = store_check(db, 1, epoch, err, errlen);
	sqlite3_close(db);
	return (ret);
}

static int
store_prepare(struct store *sp, char *err, size_t errlen)
{
	int	 i, rc;

	for (i = 0; i < ST_N; i++) {
		if (sp->rdonly && store_sql[i].writes)
			continue;
		rc = sqlite3_prepare_v3(sp->db, store_sql[i].sql, -1,
		    SQLITE_PREPARE_PERSISTENT, &sp->st[i], NULL);
		if (rc != SQLITE_OK)
			return (store_fail(sp->db, rc, "prepare", err,
			    errlen));
	}
	return (STORE_OK);
}

/* The writer's open, after the file passed store_precheck() (or is new). */
static int
store_open_rdwr(struct store *sp, const char *path, int sync_full,
    char *err, size_t errlen)
{
	int	 ret;

	if ((ret = store_connect(path, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, &sp->db, err, errlen)) != STORE_OK)
		return (ret);
	/* SQLite opens a file it may not write read-only, silently. */
	if (sqlite3_db_readonly(sp->db, "main") == 1) {
		snprintf(err, errlen, "the file is read-only");
		return (STORE_ERDONLY);
	}
	/* WAL: readers (workers) never wait for the writer, and a commit is
	 * one append.  NORMAL syncs at checkpoints only: a power cut may
	 * lose the last commits, never the file. */
	if ((ret = store_exec(sp->db, "PRAGMA journal_mode=WAL", err,
	    errlen)) != STORE_OK)
		return (ret);
	if ((ret = store_exec(sp->db, sync_full ? "PRAGMA synchronous=FULL" :
	    "PRAGMA synchronous=NORMAL", err, errlen)) != STORE_OK)
		return (ret);
	if ((ret = store_exec(sp->db, "BEGIN IMMEDIATE", err, errlen)) !=
	    STORE_OK)
		return (ret);
	/* Checked again under the lock: another writer may have made it. */
	ret = store_check(sp->db, 0, sp->epoch, err, errlen);
	if (ret == 1)
		ret = store_create(sp->db, sp->epoch, err, errlen);
	if (ret != STORE_OK) {
		sqlite3_exec(sp->db, "ROLLBACK", NULL, NULL, NULL);
		return (ret);
	}
	if ((ret = store_exec(sp->db, "COMMIT", err, errlen)) != STORE_OK) {
		sqlite3_exec(sp->db, "ROLLBACK", NULL, NULL, NULL);
		return (ret);
	}
	return (STORE_OK);
}

/*
 * The writer needs the file and its directory (for the -wal and -shm
 * files) writable.  SQLite would open a read-only file read-only without
 * a word, or fail on the side files with a less clear error.  access()
 * sees read-only mounts, also for root.
 */
static int
store_writable(const char *path, char *err, size_t errlen)
{
	char		*dir, *slash;
	int		 ret = STORE_OK;

	if (access(path, W_OK) == -1 && errno != ENOENT) {
		snprintf(err, errlen, "cannot write the file: %s",
		    strerror(errno));
		return (errno == EACCES || errno == EROFS || errno == EPERM ?
		    STORE_ERDONLY : STORE_EIO);
	}
	if ((dir = strdup(path)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return (STORE_ENOMEM);
	}
	if ((slash = strrchr(dir, '/')) == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (access(dir, W_OK) == -1) {
		snprintf(err, errlen, "cannot write its directory %s: %s",
		    dir, strerror(errno));
		ret = errno == EACCES || errno == EROFS || errno == EPERM ?
		    STORE_ERDONLY : STORE_EIO;
	}
	free(dir);
	return (ret);
}

int
store_open(struct store **spp, const char *path, int mode, int sync_full,
    char *err, size_t errlen)
{
	struct store	*sp;
	struct stat	 sb;
	char		 epoch[STORE_EPOCH_LEN + 1];
	int		 ret;

	*spp = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if ((sp = calloc(1, sizeof(*sp))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return (STORE_ENOMEM);
	}
	sp->rdonly = mode == STORE_RDONLY;
	if (sp->rdonly) {
		if ((ret = store_connect(path, SQLITE_OPEN_READONLY, &sp->db,
		    err, errlen)) != STORE_OK)
			goto fail;
		ret = store_check(sp->db, 0, sp->epoch, err, errlen);
		if (ret == 1) {
			snprintf(err, errlen, "not a wschatd history store "
			    "(empty)");
			ret = STORE_ECORRUPT;
		}
		if (ret != STORE_OK)
			goto fail;
	} else {
		if ((ret = store_writable(path, err, errlen)) != STORE_OK)
			goto fail;
		if (stat(path, &sb) == 0 && sb.st_size > 0) {
			ret = store_precheck(path, epoch, err, errlen);
			if (ret < 0)
				goto fail;
		}
		if ((ret = store_open_rdwr(sp, path, sync_full, err,
		    errlen)) != STORE_OK)
			goto fail;
	}
	if ((ret = store_prepare(sp, err, errlen)) != STORE_OK)
		goto fail;
	*spp = sp;
	return (STORE_OK);
fail:
	store_close(sp);
	return (ret);
}

void
store_close(struct store *sp)
{
	int	 i;

	if (sp == NULL)
		return;
	if (sp->in_txn)
		store_rollback(sp);
	for (i = 0; i < ST_N; i++)
		sqlite3_finalize(sp->st[i]);
	/* The last connection's close checkpoints the WAL and removes it. */
	sqlite3_close(sp->db);
	free(sp->trim_room);
	free(sp);
}

const char *
store_epoch(const struct store *sp)
{
	return (sp->epoch);
}

/* Run a statement that returns no rows; reset it whatever happened. */
static int
store_step_done(struct store *sp, sqlite3_stmt *s, const char *what,
    char *err, size_t errlen)
{
	int	 rc, ret = STORE_OK;

	if (s == NULL) {
		snprintf(err, errlen, "%s: the store is read-only", what);
		return (STORE_ERDONLY);
	}
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = store_fail(sp->db, rc, what, err, errlen);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return (ret);
}

uint64_t
store_max_id(struct store *sp)
{
	sqlite3_stmt	*s = sp->st[ST_MAXID];
	uint64_t	 id = 0;

	if (sqlite3_step(s) == SQLITE_ROW)
		id = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return (id);
}

int
store_begin(struct store *sp, char *err, size_t errlen)
{
	int	 ret;

	if ((ret = store_step_done(sp, sp->st[ST_BEGIN], "begin", err,
	    errlen)) == STORE_OK)
		sp->in_txn = 1;
	return (ret);
}

static sqlite3_int64
store_id(uint64_t id)
{
	return ((sqlite3_int64)(id > STORE_ID_MAX ? STORE_ID_MAX : id));
}

int
store_add(struct store *sp, const struct store_msg *m, char *err,
    size_t errlen)
{
	sqlite3_stmt	*s = sp->st[ST_ADD];

	if (s == NULL)
		return (store_step_done(sp, s, "add", err, errlen));
	/* Static: the strings outlive the step, and the reset drops them. */
	sqlite3_bind_int64(s, 1, store_id(m->id));
	sqlite3_bind_text64(s, 2, m->room, m->room_len, SQLITE_STATIC,
	    SQLITE_UTF8);
	sqlite3_bind_int64(s, 3, store_id(m->ts));
	sqlite3_bind_text64(s, 4, m->from != NULL ? m->from : "",
	    m->from_len, SQLITE_STATIC, SQLITE_UTF8);
	sqlite3_bind_text64(s, 5, m->peer != NULL ? m->peer : "",
	    m->peer_len, SQLITE_STATIC, SQLITE_UTF8);
	sqlite3_bind_text64(s, 6, m->content != NULL ? m->content : "",
	    m->content_len, SQLITE_STATIC, SQLITE_UTF8);
	return (store_step_done(sp, s, "add", err, errlen));
}

int
store_gap(struct store *sp, uint64_t from, uint64_t to, char *err,
    size_t errlen)
{
	sqlite3_stmt	*s = sp->st[ST_GAP];

	if (s == NULL)
		return (store_step_done(sp, s, "gap", err, errlen));
	sqlite3_bind_int64(s, 1, store_id(from));
	sqlite3_bind_int64(s, 2, store_id(to));
	return (store_step_done(sp, s, "gap", err, errlen));
}

int
store_commit(struct store *sp, char *err, size_t errlen)
{
	int	 ret;

	ret = store_step_done(sp, sp->st[ST_COMMIT], "commit", err, errlen);
	/* A failed COMMIT may leave the transaction open (SQLITE_BUSY);
	 * the caller then rolls back. */
	if (ret == STORE_OK || sqlite3_get_autocommit(sp->db))
		sp->in_txn = 0;
	return (ret);
}

void
store_rollback(struct store *sp)
{
	char	 err[8];

	/* SQLite may have rolled back already (SQLITE_FULL, SQLITE_IOERR). */
	if (!sqlite3_get_autocommit(sp->db))
		(void)store_step_done(sp, sp->st[ST_ROLLBACK], "rollback",
		    err, sizeof(err));
	sp->in_txn = 0;
}

/* The next room after sp->trim_room, wrapping to the first; 1 if none. */
static int
store_trim_nextroom(struct store *sp, char **room, char *err, size_t errlen)
{
	sqlite3_stmt	*s = sp->st[ST_TRIM_NEXTROOM];
	const char	*r;
	int		 rc, pass;

	*room = NULL;
	for (pass = 0; pass < 2; pass++) {
		sqlite3_bind_text(s, 1, pass == 0 && sp->trim_room != NULL ?
		    sp->trim_room : "", -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
		if (rc != SQLITE_ROW) {
			sqlite3_reset(s);
			return (store_fail(sp->db, rc, "trim", err, errlen));
		}
		r = (const char *)sqlite3_column_text(s, 0);
		if (r != NULL && (*room = strdup(r)) == NULL) {
			sqlite3_reset(s);
			snprintf(err, errlen, "trim: out of memory");
			return (STORE_ENOMEM);
		}
		sqlite3_reset(s);
		if (*room != NULL)
			return (STORE_OK);
	}
	return (1);
}

/* Trim one room to its newest max_per_room; at most *left rows. */
static int
store_trim_room(struct store *sp, const char *room, uint64_t max_per_room,
    size_t *left, char *err, size_t errlen)
{
	sqlite3_stmt	*s = sp->st[ST_TRIM_NTH];
	sqlite3_int64	 last;
	int		 rc, ret;

	sqlite3_bind_text(s, 1, room, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, store_id(max_per_room));
	rc = sqlite3_step(s);
	last = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return (store_fail(sp->db, rc, "trim", err, errlen));
	if (rc == SQLITE_DONE)
		return (STORE_OK);	/* no more than max_per_room */
	s = sp->st[ST_TRIM_COUNT];
	sqlite3_bind_text(s, 1, room, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, last);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)*left);
	if ((ret = store_step_done(sp, s, "trim", err, errlen)) != STORE_OK)
		return (ret);
	*left -= (size_t)sqlite3_changes(sp->db);
	return (STORE_OK);
}

int
store_trim(struct store *sp, uint64_t max_per_room, uint64_t max_age_ms,
    uint64_t now_ms, size_t limit, size_t *deleted, char *err,
    size_t errlen)
{
	sqlite3_stmt	*s;
	char		*room = NULL;
	size_t		 left = limit;
	uint64_t	 max;
	unsigned	 i;
	int		 ret;

	*deleted = 0;
	if (limit == 0 || (max_per_room == 0 && max_age_ms == 0))
		return (STORE_OK);
	if ((ret = store_begin(sp, err, errlen)) != STORE_OK)
		return (ret);
	max = store_max_id(sp);
	if (max_age_ms != 0 && now_ms > max_age_ms) {
		s = sp->st[ST_TRIM_AGE];
		sqlite3_bind_int64(s, 1, store_id(now_ms - max_age_ms));
		sqlite3_bind_int64(s, 2, (sqlite3_int64)left);
		if ((ret = store_step_done(sp, s, "trim", err, errlen)) !=
		    STORE_OK)
			goto fail;
		left -= (size_t)sqlite3_changes(sp->db);
	}
	/* A few rooms per call, round robin: the count of a room costs up
	 * to max_per_room steps of the index. */
	for (i = 0; max_per_room != 0 && left > 0 && i < STORE_TRIM_ROOMS;
	    i++) {
		if ((ret = store_trim_nextroom(sp, &room, err, errlen)) == 1)
			break;
		if (ret != STORE_OK)
			goto fail;
		ret = store_trim_room(sp, room, max_per_room, &left, err,
		    errlen);
		free(sp->trim_room);
		sp->trim_room = room;
		room = NULL;
		if (ret != STORE_OK)
			goto fail;
	}
	if ((ret = store_step_done(sp, sp->st[ST_TRIM_GAPS], "trim", err,
	    errlen)) != STORE_OK)
		goto fail;
	/* Only a trim that deleted anything writes: an idle one leaves the
	 * file alone (and works on a full disk). */
	if (left < limit) {
		s = sp->st[ST_TRIM_MARK];
		sqlite3_bind_int64(s, 1, (sqlite3_int64)max);
		if ((ret = store_step_done(sp, s, "trim", err, errlen)) !=
		    STORE_OK)
			goto fail;
	}
	if ((ret = store_commit(sp, err, errlen)) != STORE_OK)
		goto fail;
	*deleted = limit - left;
	return (STORE_OK);
fail:
	store_rollback(sp);
	return (ret);
}

/*
 * The rows of s (id, ts, name, peer, content; at most limit of them,
 * each of room) into pg, reversed if desc so that they come oldest
 * first.  A row past limit sets pg->more.  Resets s.
 */
static int
store_fill(struct store *sp, sqlite3_stmt *s, const char *room,
    size_t room_len, size_t limit, int desc, struct store_page *pg,
    char *err, size_t errlen)
{
	struct store_msg	*m, tmp;
	size_t			 n = 0, cap = 0, used, slen, need, i, len[3];
	size_t			 off[3];
	char			*strs = NULL, *np;
	const char		*col[3];
	void			*nm;
	int			 rc, k, ret = STORE_OK;

	memset(pg, 0, sizeof(*pg));
	/* The room first, then each row's three strings, each NUL-ended:
	 * offsets while the buffer grows, pointers at the end. */
	slen = room_len + 1;
	used = 0;
	if ((strs = malloc(slen)) == NULL)
		goto nomem;
	memcpy(strs, room, room_len);
	strs[room_len] = '\0';
	used = slen;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == limit) {
			pg->more = 1;
			break;
		}
		if (n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			if ((nm = reallocarray(pg->msgs, cap,
			    sizeof(*pg->msgs))) == NULL)
				goto nomem;
			pg->msgs = nm;
		}
		need = 0;
		for (k = 0; k < 3; k++) {
			col[k] = (const char *)sqlite3_column_text(s, 2 + k);
			len[k] = (size_t)sqlite3_column_bytes(s, 2 + k);
			need += len[k] + 1;
		}
		if (used + need > slen) {
			while (used + need > slen)
				slen *= 2;
			if ((np = realloc(strs, slen)) == NULL)
				goto nomem;
			strs = np;
		}
		for (k = 0; k < 3; k++) {
			off[k] = used;
			if (len[k] > 0)
				memcpy(strs + used, col[k], len[k]);
			strs[used + len[k]] = '\0';
			used += len[k] + 1;
		}
		m = &pg->msgs[n++];
		memset(m, 0, sizeof(*m));
		m->id = (uint64_t)sqlite3_column_int64(s, 0);
		m->ts = (uint64_t)sqlite3_column_int64(s, 1);
		m->room_len = room_len;
		m->from = (const char *)(uintptr_t)off[0];
		m->from_len = len[0];
		m->peer = (const char *)(uintptr_t)off[1];
		m->peer_len = len[1];
		m->content = (const char *)(uintptr_t)off[2];
		m->content_len = len[2];
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		ret = store_fail(sp->db, rc, "read", err, errlen);
		goto fail;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	for (i = 0; i < n; i++) {
		m = &pg->msgs[i];
		m->room = strs;
		m->from = strs + (uintptr_t)m->from;
		m->peer = strs + (uintptr_t)m->peer;
		m->content = strs + (uintptr_t)m->content;
	}
	for (i = 0; desc && i < n / 2; i++) {
		tmp = pg->msgs[i];
		pg->msgs[i] = pg->msgs[n - 1 - i];
		pg->msgs[n - 1 - i] = tmp;
	}
	pg->n = n;
	pg->strings = strs;
	return (STORE_OK);
nomem:
	snprintf(err, errlen, "read: out of memory");
	ret = STORE_ENOMEM;
fail:
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	free(strs);
	free(pg->msgs);
	memset(pg, 0, sizeof(*pg));
	return (ret);
}

int
store_page(struct store *sp, const char *room, size_t room_len,
    uint64_t before, size_t limit, struct store_page *pg, char *err,
    size_t errlen)
{
	sqlite3_stmt	*s = sp->st[ST_PAGE];

	sqlite3_bind_text64(s, 1, room, room_len, SQLITE_STATIC, SQLITE_UTF8);
	sqlite3_bind_int64(s, 2, before == 0 ? INT64_MAX : store_id(before));
	/* One more than asked: whether older ones exist. */
	sqlite3_bind_int64(s, 3, (sqlite3_int64)(limit > INT32_MAX ?
	    INT32_MAX : limit) + 1);
	return (store_fill(sp, s, room, room_len, limit, 1, pg, err, errlen));
}

int
store_range(struct store *sp, const char *room, size_t room_len,
    uint64_t after, uint64_t upto, size_t limit, struct store_page *pg,
    char *err, size_t errlen)
{
	sqlite3_stmt	*s = sp->st[ST_RANGE];

	sqlite3_bind_text64(s, 1, room, room_len, SQLITE_STATIC, SQLITE_UTF8);
	sqlite3_bind_int64(s, 2, store_id(after));
	sqlite3_bind_int64(s, 3, upto == 0 ? INT64_MAX : store_id(upto));
	sqlite3_bind_int64(s, 4, (sqlite3_int64)(limit > INT32_MAX ?
	    INT32_MAX : limit) + 1);
	return (store_fill(sp, s, room, room_len, limit, 0, pg, err, errlen));
}

void
store_page_clear(struct store_page *pg)
{
	free(pg->msgs);
	free(pg->strings);
	memset(pg, 0, sizeof(*pg));
}

int
store_gap_between(struct store *sp, uint64_t after, uint64_t upto,
    char *err, size_t errlen)
{
	sqlite3_stmt	*s = sp->st[ST_GAPQ];
	int		 rc, ret;

	sqlite3_bind_int64(s, 1, store_id(after));
	sqlite3_bind_int64(s, 2, upto == 0 ? INT64_MAX : store_id(upto));
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		ret = 1;
	else if (rc == SQLITE_DONE)
		ret = 0;
	else
		ret = store_fail(sp->db, rc, "gap", err, errlen);
	sqlite3_reset(s);
	return (ret);
}

const char *
store_strerror(int code)
{
	switch (code) {
	case STORE_OK:
		return ("ok");
	case STORE_EFULL:
		return ("full");
	case STORE_ERDONLY:
		return ("read_only");
	case STORE_ECORRUPT:
		return ("corrupt");
	case STORE_ENOMEM:
		return ("no_memory");
	case STORE_EBUSY:
		return ("busy");
	default:
		return ("io");
	}
}
