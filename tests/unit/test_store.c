/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * test_store.c: the history store (store.c) against real SQLite files in
 * a temporary directory: create and reopen, the epoch, batches, pages,
 * ranges, gaps, trims, readers, and the files it must refuse and leave
 * as they were.  A read-only or full file system needs a mount: those
 * tests make one in a private mount namespace (root only; criterion runs
 * each test in a process of its own) and are skipped where they cannot.
 */

#include <sys/mount.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "store.h"
#include "unit.h"
#include "unit_mount.h"

static char	 tdir[64];
static char	 tpath[128];
static char	 err[256];

static void
tdir_setup(void)
{
	snprintf(tdir, sizeof(tdir), "/tmp/test_store.XXXXXX");
	cr_assert_not_null(mkdtemp(tdir));
	snprintf(tpath, sizeof(tpath), "%s/history.db", tdir);
}

static void
tdir_teardown(void)
{
	char	 cmd[128];

	/* The private mount of some tests: gone with the process anyway. */
	(void)umount2(tdir, MNT_DETACH);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tdir);
	if (system(cmd) != 0)
		cr_log_warn("could not remove %s", tdir);
	unit_leak_check();
}

TestSuite(store, .init = tdir_setup, .fini = tdir_teardown);

static struct store *
open_rw(const char *path)
{
	struct store	*sp = NULL;
	int		 ret;

	ret = store_open(&sp, path, STORE_RDWR, 0, err, sizeof(err));
	cr_assert_eq(ret, STORE_OK, "store_open: %d %s", ret, err);
	return (sp);
}

static struct store_msg
msg(uint64_t id, const char *room, uint64_t ts, const char *text)
{
	struct store_msg	 m;

	memset(&m, 0, sizeof(m));
	m.id = id;
	m.ts = ts;
	m.room = room;
	m.room_len = strlen(room);
	m.from = "alice";
	m.from_len = 5;
	m.peer = "127.0.0.1:4242";
	m.peer_len = strlen(m.peer);
	m.content = text;
	m.content_len = strlen(text);
	return (m);
}

/* Messages first..last into room, one transaction. */
static void
add_range(struct store *sp, const char *room, uint64_t first, uint64_t last,
    uint64_t ts)
{
	struct store_msg	 m;
	char			 text[32];
	uint64_t		 id;

	cr_assert_eq(store_begin(sp, err, sizeof(err)), STORE_OK, "%s", err);
	for (id = first; id <= last; id++) {
		snprintf(text, sizeof(text), "m%llu", (unsigned long long)id);
		m = msg(id, room, ts, text);
		cr_assert_eq(store_add(sp, &m, err, sizeof(err)), STORE_OK,
		    "%s", err);
	}
	cr_assert_eq(store_commit(sp, err, sizeof(err)), STORE_OK, "%s", err);
}

static size_t
file_read(const char *path, char *buf, size_t len)
{
	int	 fd;
	ssize_t	 n;

	cr_assert_neq(fd = open(path, O_RDONLY), -1);
	n = read(fd, buf, len);
	close(fd);
	cr_assert_geq(n, 0);
	return ((size_t)n);
}

static void
file_write(const char *path, const char *buf, size_t len)
{
	int	 fd;

	cr_assert_neq(fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644), -1);
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

Test(store, creates_a_new_file_with_an_epoch_kept_across_reopens)
{
	struct store	*sp;
	char		 e1[STORE_EPOCH_LEN + 1], path2[160];
	size_t		 i;

	sp = open_rw(tpath);
	cr_assert_eq(strlen(store_epoch(sp)), STORE_EPOCH_LEN);
	for (i = 0; i < STORE_EPOCH_LEN; i++)
		cr_assert_not_null(strchr("0123456789abcdef",
		    store_epoch(sp)[i]));
	strcpy(e1, store_epoch(sp));
	cr_assert_eq(store_max_id(sp), 0);
	store_close(sp);

	sp = open_rw(tpath);
	cr_assert_str_eq(store_epoch(sp), e1);
	store_close(sp);

	/* Another file, another epoch. */
	snprintf(path2, sizeof(path2), "%s/other.db", tdir);
	sp = open_rw(path2);
	cr_assert_str_neq(store_epoch(sp), e1);
	store_close(sp);
}

Test(store, takes_a_zero_length_file_as_new)
{
	struct store	*sp;

	file_write(tpath, "", 0);
	sp = open_rw(tpath);
	cr_assert_eq(strlen(store_epoch(sp)), STORE_EPOCH_LEN);
	store_close(sp);
}

Test(store, pages_come_oldest_first_with_more)
{
	struct store		*sp;
	struct store_page	 pg;

	sp = open_rw(tpath);
	add_range(sp, "lobby", 1, 10, 1000);
	add_range(sp, "other", 11, 12, 1000);
	add_range(sp, "lobby", 13, 15, 1000);
	cr_assert_eq(store_max_id(sp), 15);

	/* The latest 5 of lobby: 8, 9, 10, 13, 14, 15 minus the oldest. */
	cr_assert_eq(store_page(sp, LIT("lobby"), 0, 5, &pg, err,
	    sizeof(err)), STORE_OK, "%s", err);
	cr_assert_eq(pg.n, 5);
	cr_assert_eq(pg.more, 1);
	cr_assert_eq(pg.msgs[0].id, 9);
	cr_assert_eq(pg.msgs[1].id, 10);
	cr_assert_eq(pg.msgs[2].id, 13);
	cr_assert_eq(pg.msgs[4].id, 15);
	cr_assert_eq(pg.msgs[4].ts, 1000);
	cr_assert_eq(pg.msgs[4].room_len, 5);
	cr_assert_eq(memcmp(pg.msgs[4].room, "lobby", 5), 0);
	cr_assert_eq(pg.msgs[4].from_len, 5);
	cr_assert_eq(memcmp(pg.msgs[4].from, "alice", 5), 0);
	cr_assert_str_eq(pg.msgs[4].peer, "127.0.0.1:4242");
	cr_assert_str_eq(pg.msgs[4].content, "m15");
	store_page_clear(&pg);

	/* The page before 9: 1..8, the last 8 exactly: no more. */
	cr_assert_eq(store_page(sp, LIT("lobby"), 9, 8, &pg, err,
	    sizeof(err)), STORE_OK, "%s", err);
	cr_assert_eq(pg.n, 8);
	cr_assert_eq(pg.more, 0);
	cr_assert_eq(pg.msgs[0].id, 1);
	cr_assert_eq(pg.msgs[7].id, 8);
	store_page_clear(&pg);

	/* An unknown room: an empty page. */
	cr_assert_eq(store_page(sp, LIT("nowhere"), 0, 50, &pg, err,
	    sizeof(err)), STORE_OK, "%s", err);
	cr_assert_eq(pg.n, 0);
	cr_assert_eq(pg.more, 0);
	store_page_clear(&pg);
	store_close(sp);
}

Test(store, ranges_are_after_to_upto_with_more_past_the_limit)
{
	struct store		*sp;
	struct store_page	 pg;

	sp = open_rw(tpath);
	add_range(sp, "lobby", 1, 20, 1000);
	cr_assert_eq(store_range(sp, LIT("lobby"), 5, 9, 100, &pg, err,
	    sizeof(err)), STORE_OK, "%s", err);
	cr_assert_eq(pg.n, 4);
	cr_assert_eq(pg.msgs[0].id, 6);
	cr_assert_eq(pg.msgs[3].id, 9);
	cr_assert_eq(pg.more, 0);
	store_page_clear(&pg);

	cr_assert_eq(store_range(sp, LIT("lobby"), 5, 0, 3, &pg, err,
	    sizeof(err)), STORE_OK, "%s", err);
	cr_assert_eq(pg.n, 3);
	cr_assert_eq(pg.msgs[0].id, 6);
	cr_assert_eq(pg.msgs[2].id, 8);
	cr_assert_eq(pg.more, 1);
	store_page_clear(&pg);
	store_close(sp);
}

Test(store, a_duplicate_id_keeps_the_first)
{
	struct store		*sp;
	struct store_page	 pg;
	struct store_msg	 m;

	sp = open_rw(tpath);
	add_range(sp, "lobby", 1, 3, 1000);
	cr_assert_eq(store_begin(sp, err, sizeof(err)), STORE_OK);
	m = msg(2, "lobby", 2000, "again");
	cr_assert_eq(store_add(sp, &m, err, sizeof(err)), STORE_OK, "%s", err);
	m = msg(4, "lobby", 2000, "m4");
	cr_assert_eq(store_add(sp, &m, err, sizeof(err)), STORE_OK, "%s", err);
	cr_assert_eq(store_commit(sp, err, sizeof(err)), STORE_OK);
	cr_assert_eq(store_page(sp, LIT("lobby"), 0, 10, &pg, err,
	    sizeof(err)), STORE_OK);
	cr_assert_eq(pg.n, 4);
	cr_assert_str_eq(pg.msgs[1].content, "m2");
	cr_assert_eq(pg.msgs[1].ts, 1000);
	store_page_clear(&pg);
	store_close(sp);
}

Test(store, a_rollback_keeps_nothing_of_the_batch)
{
	struct store		*sp;
	struct store_msg	 m;

	sp = open_rw(tpath);
	add_range(sp, "lobby", 1, 3, 1000);
	cr_assert_eq(store_begin(sp, err, sizeof(err)), STORE_OK);
	m = msg(4, "lobby", 2000, "m4");
	cr_assert_eq(store_add(sp, &m, err, sizeof(err)), STORE_OK);
	store_rollback(sp);
	cr_assert_eq(store_max_id(sp), 3);
	store_close(sp);
}

Test(store, gaps_are_recorded_and_found)
{
	struct store	*sp;

	sp = open_rw(tpath);
	add_range(sp, "lobby", 1, 10, 1000);
	cr_assert_eq(store_begin(sp, err, sizeof(err)), STORE_OK);
	cr_assert_eq(store_gap(sp, 11, 20, err, sizeof(err)), STORE_OK,
	    "%s", err);
	cr_assert_eq(store_commit(sp, err, sizeof(err)), STORE_OK);
	add_range(sp, "lobby", 21, 25, 1000);

	cr_assert_eq(store_gap_between(sp, 0, 10, err, sizeof(err)), 0);
	cr_assert_eq(store_gap_between(sp, 5, 11, err, sizeof(err)), 1);
	cr_assert_eq(store_gap_between(sp, 15, 16, err, sizeof(err)), 1);
	cr_assert_eq(store_gap_between(sp, 19, 0, err, sizeof(err)), 1);
	/* (20, ...]: the gap ended at 20, nothing missing after it. */
	cr_assert_eq(store_gap_between(sp, 20, 0, err, sizeof(err)), 0);
	cr_assert_eq(store_gap_between(sp, 10, 10, err, sizeof(err)), 0);
	cr_assert_eq(store_max_id(sp), 25);
	store_close(sp);

	/* A gap past every message counts for the highest id. */
	sp = open_rw(tpath);
	cr_assert_eq(store_begin(sp, err, sizeof(err)), STORE_OK);
	cr_assert_eq(store_gap(sp, 26, 40, err, sizeof(err)), STORE_OK);
	cr_assert_eq(store_commit(sp, err, sizeof(err)), STORE_OK);
	cr_assert_eq(store_max_id(sp), 40);
	store_close(sp);
}

Test(store, trims_each_room_by_count_in_steps)
{
	struct store		*sp;
	struct store_page	 pg;
	size_t			 deleted, total = 0;
	int			 calls = 0;

	sp = open_rw(tpath);
	add_range(sp, "lobby", 1, 100, 1000);
	add_range(sp, "small", 101, 105, 1000);
	add_range(sp, "other", 106, 150, 1000);
	do {
		cr_assert_eq(store_trim(sp, 10, 0, 5000, 7, &deleted, err,
		    sizeof(err)), STORE_OK, "%s", err);
		cr_assert_leq(deleted, 7);
		total += deleted;
	} while (deleted > 0 && ++calls < 100);
	cr_assert_eq(total, 90 + 35);

	cr_assert_eq(store_page(sp, LIT("lobby"), 0, 100, &pg, err,
	    sizeof(err)), STORE_OK);
	cr_assert_eq(pg.n, 10);
	cr_assert_eq(pg.msgs[0].id, 91);
	cr_assert_eq(pg.more, 0);
	store_page_clear(&pg);
	cr_assert_eq(store_page(sp, LIT("small"), 0, 100, &pg, err,
	    sizeof(err)), STORE_OK);
	cr_assert_eq(pg.n, 5);
	store_page_clear(&pg);
	cr_assert_eq(store_page(sp, LIT("other"), 0, 100, &pg, err,
	    sizeof(err)), STORE_OK);
	cr_assert_eq(pg.n, 10);
	cr_assert_eq(pg.msgs[0].id, 141);
	store_page_clear(&pg);
	store_close(sp);
}

Test(store, trims_by_age_and_forgets_old_gaps_but_not_the_highest_id)
{
	struct store		*sp;
	struct store_page	 pg;
	size_t			 deleted;

	sp = open_rw(tpath);
	add_range(sp, "lobby", 1, 5, 1000);
	cr_assert_eq(store_begin(sp, err, sizeof(err)), STORE_OK);
	cr_assert_eq(store_gap(sp, 6, 7, err, sizeof(err)), STORE_OK);
	cr_assert_eq(store_commit(sp, err, sizeof(err)), STORE_OK);
	add_range(sp, "lobby", 8, 10, 50000);

	/* Older than 10 s at 60 s: 1..5 (ts 1 s) go, 8..10 (50 s) stay. */
	cr_assert_eq(store_trim(sp, 0, 10000, 60000, 100, &deleted, err,
	    sizeof(err)), STORE_OK, "%s", err);
	cr_assert_eq(deleted, 5);
	cr_assert_eq(store_page(sp, LIT("lobby"), 0, 100, &pg, err,
	    sizeof(err)), STORE_OK);
	cr_assert_eq(pg.n, 3);
	cr_assert_eq(pg.msgs[0].id, 8);
	store_page_clear(&pg);
	/* The gap 6..7 is older than every message kept now. */
	cr_assert_eq(store_trim(sp, 0, 10000, 60000, 100, &deleted, err,
	    sizeof(err)), STORE_OK);
	cr_assert_eq(store_gap_between(sp, 0, 0, err, sizeof(err)), 0);

	/* Everything expires: the ids still never go back. */
	cr_assert_eq(store_trim(sp, 0, 1000, 1000000, 100, &deleted, err,
	    sizeof(err)), STORE_OK);
	cr_assert_eq(deleted, 3);
	cr_assert_eq(store_max_id(sp), 10);
	store_close(sp);
	sp = open_rw(tpath);
	cr_assert_eq(store_max_id(sp), 10);
	store_close(sp);
}

Test(store, a_reader_sees_what_the_writer_committed)
{
	struct store		*w, *r = NULL;
	struct store_page	 pg;
	struct store_msg	 m;
	int			 ret;

	w = open_rw(tpath);
	add_range(w, "lobby", 1, 5, 1000);
	ret = store_open(&r, tpath, STORE_RDONLY, 0, err, sizeof(err));
	cr_assert_eq(ret, STORE_OK, "%s", err);
	cr_assert_str_eq(store_epoch(r), store_epoch(w));
	cr_assert_eq(store_max_id(r), 5);

	/* Uncommitted: not seen. */
	cr_assert_eq(store_begin(w, err, sizeof(err)), STORE_OK);
	m = msg(6, "lobby", 1000, "m6");
	cr_assert_eq(store_add(w, &m, err, sizeof(err)), STORE_OK);
	cr_assert_eq(store_page(r, LIT("lobby"), 0, 10, &pg, err,
	    sizeof(err)), STORE_OK, "%s", err);
	cr_assert_eq(pg.n, 5);
	store_page_clear(&pg);
	cr_assert_eq(store_commit(w, err, sizeof(err)), STORE_OK);
	cr_assert_eq(store_page(r, LIT("lobby"), 0, 10, &pg, err,
	    sizeof(err)), STORE_OK, "%s", err);
	cr_assert_eq(pg.n, 6);
	store_page_clear(&pg);

	/* A reader cannot write. */
	ret = store_begin(r, err, sizeof(err));
	cr_assert_eq(ret, STORE_ERDONLY, "%d %s", ret, err);
	ret = store_add(r, &m, err, sizeof(err));
	cr_assert_eq(ret, STORE_ERDONLY, "%d %s", ret, err);
	store_close(r);
	store_close(w);
}

Test(store, read_only_open_of_a_missing_file_fails)
{
	struct store	*sp = NULL;
	int		 ret;

	ret = store_open(&sp, tpath, STORE_RDONLY, 0, err, sizeof(err));
	cr_assert_neq(ret, STORE_OK);
	cr_assert_null(sp);
	cr_assert_neq(access(tpath, F_OK), 0, "a reader created the file");
}

/*
 * Open must refuse the file at tpath and leave it byte for byte; readers
 * too if reader (they check the header and the schema, not every page).
 */
static void
refused_and_untouched(const char *why, int reader)
{
	struct store	*sp = NULL;
	static char	 before[1 << 16], after[1 << 16];
	size_t		 n1, n2;
	int		 ret;

	n1 = file_read(tpath, before, sizeof(before));
	ret = store_open(&sp, tpath, STORE_RDWR, 0, err, sizeof(err));
	cr_assert_eq(ret, STORE_ECORRUPT, "%s: %d %s", why, ret, err);
	cr_assert_null(sp);
	cr_assert_neq(err[0], '\0');
	cr_log_info("%s: %s", why, err);
	n2 = file_read(tpath, after, sizeof(after));
	cr_assert_eq(n1, n2, "%s: size changed", why);
	cr_assert_eq(memcmp(before, after, n1), 0, "%s: file changed", why);
	if (!reader)
		return;
	ret = store_open(&sp, tpath, STORE_RDONLY, 0, err, sizeof(err));
	cr_assert_eq(ret, STORE_ECORRUPT, "%s: reader: %d %s", why, ret, err);
}

Test(store, refuses_garbage_and_leaves_it_as_it_was)
{
	char	 junk[8192];
	size_t	 i;

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7 + 3);
	file_write(tpath, junk, sizeof(junk));
	refused_and_untouched("garbage", 1);
	cr_assert(strstr(err, "not a database") != NULL, "%s", err);
}

Test(store, refuses_a_truncated_database)
{
	struct store	*sp;
	struct stat	 sb;

	sp = open_rw(tpath);
	add_range(sp, "lobby", 1, 3000, 1000);
	store_close(sp);
	cr_assert_eq(stat(tpath, &sb), 0);
	cr_assert_gt(sb.st_size, 3 * 4096);
	/* Cut it to 3 pages: the root pages stay, the rest is gone. */
	cr_assert_eq(truncate(tpath, 3 * 4096), 0);
	refused_and_untouched("truncated", 0);
}

Test(store, refuses_someone_elses_database)
{
	char	 cmd[256];

	snprintf(cmd, sizeof(cmd), "sqlite3 '%s' 'CREATE TABLE t(x);'", tpath);
	if (system(cmd) != 0)
		cr_skip_test("no sqlite3 command");
	refused_and_untouched("foreign", 1);
	cr_assert(strstr(err, "not a wschatd history store") != NULL, "%s",
	    err);
}

Test(store, refuses_a_damaged_page)
{
	struct store	*sp;
	char		 junk[4096];
	int		 fd;

	sp = open_rw(tpath);
	add_range(sp, "lobby", 1, 3000, 1000);
	store_close(sp);
	/* Overwrite page 4 (an index or table page) with garbage. */
	memset(junk, 0x5a, sizeof(junk));
	cr_assert_neq(fd = open(tpath, O_WRONLY), -1);
	cr_assert_eq(pwrite(fd, junk, sizeof(junk), 3 * 4096),
	    (ssize_t)sizeof(junk));
	close(fd);
	refused_and_untouched("damaged", 0);
}

Test(store, a_read_only_file_is_erdonly)
{
	struct store	*sp = NULL;
	int		 ret;

	sp = open_rw(tpath);
	add_range(sp, "lobby", 1, 5, 1000);
	store_close(sp);
	sp = NULL;
	if (geteuid() != 0) {
		/* File modes hold for everyone but root. */
		cr_assert_eq(chmod(tpath, 0444), 0);
	} else if (!unit_private_mount(tdir, NULL, MS_RDONLY, NULL))
		cr_skip_test("root, and no private read-only mount possible: "
		    "root ignores file modes");
	ret = store_open(&sp, tpath, STORE_RDWR, 0, err, sizeof(err));
	cr_assert_eq(ret, STORE_ERDONLY, "%d %s", ret, err);
	cr_assert_null(sp);
	cr_log_info("read-only: %s", err);
}

Test(store, a_read_only_directory_is_erdonly_for_a_new_file)
{
	struct store	*sp = NULL;
	int		 ret;

	if (geteuid() != 0)
		cr_assert_eq(chmod(tdir, 0555), 0);
	else if (!unit_private_mount(tdir, NULL, MS_RDONLY, NULL))
		cr_skip_test("root, and no private read-only mount possible");
	ret = store_open(&sp, tpath, STORE_RDWR, 0, err, sizeof(err));
	if (geteuid() != 0)
		chmod(tdir, 0755);
	cr_assert_eq(ret, STORE_ERDONLY, "%d %s", ret, err);
	cr_assert_null(sp);
}

Test(store, a_full_disk_is_efull_and_the_store_goes_on_after_rollback)
{
	struct store		*sp;
	struct store_msg	 m;
	struct store_page	 pg;
	char			 text[1024];
	uint64_t		 id, kept;
	int			 ret = STORE_OK;

	if (!unit_private_mount(tdir, "tmpfs", 0, "size=256k"))
		cr_skip_test("needs root and a private tmpfs mount");
	sp = open_rw(tpath);
	add_range(sp, "lobby", 1, 10, 1000);
	kept = store_max_id(sp);
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	for (id = 11; id < 100000 && ret == STORE_OK; id += 100) {
		uint64_t	 j;

		ret = store_begin(sp, err, sizeof(err));
		for (j = id; j < id + 100 && ret == STORE_OK; j++) {
			m = msg(j, "lobby", 1000, text);
			ret = store_add(sp, &m, err, sizeof(err));
		}
		if (ret == STORE_OK)
			ret = store_commit(sp, err, sizeof(err));
		if (ret == STORE_OK)
			kept = j - 1;
		else
			store_rollback(sp);
	}
	cr_assert_eq(ret, STORE_EFULL, "%d %s", ret, err);
	cr_log_info("full: %s", err);
	/* What was committed is still there. */
	cr_assert_eq(store_page(sp, LIT("lobby"), 0, 1, &pg, err,
	    sizeof(err)), STORE_OK, "%s", err);
	cr_assert_eq(pg.n, 1);
	cr_assert_eq(pg.msgs[0].id, kept);
	store_page_clear(&pg);
	store_close(sp);
}

Test(store, names_its_errors)
{
	cr_assert_str_eq(store_strerror(STORE_OK), "ok");
	cr_assert_str_eq(store_strerror(STORE_EFULL), "full");
	cr_assert_str_eq(store_strerror(STORE_ERDONLY), "read_only");
	cr_assert_str_eq(store_strerror(STORE_ECORRUPT), "corrupt");
	cr_assert_str_eq(store_strerror(STORE_EIO), "io");
}
