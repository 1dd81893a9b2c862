/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * test_history.c: the history process (history.c) as the master will run
 * it: forked, against a real shared-memory region whose ring 0 this test
 * publishes on as the workers do, writing a real SQLite file that the
 * test then reads with store.c.  Kill -9 and respawn, a lapped ring, a
 * refused file, a full disk and a read-only directory that come back.
 * The full-disk and read-only cases mount a tmpfs or a read-only bind in
 * a private mount namespace (root only; skipped where impossible).
 */

#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "wschatd.h"
#include "bus.h"
#include "cfg.h"
#include "chat.h"
#include "history.h"
#include "shm.h"
#include "store.h"
#include "unit.h"
#include "unit_mount.h"

static char			 tdir[64];
static char			 tpath[128];
static char			 err[256];
static struct bus_shared	 bs;
static struct cfg		 cfg;
static struct buf		 out;
static struct shm_hist		*hist;
static pid_t			 child = -1;

static void	 master_setup(void);

static void
setup_ring(uint64_t ring_size)
{
	cr_assert_eq(shm_region_open(&bs.reg, 1, ring_size, 8), 0);
	bs.nworkers = 1;
	hist = shm_region_hist(&bs.reg);
}

static void
setup(void)
{
	snprintf(tdir, sizeof(tdir), "/tmp/test_history.XXXXXX");
	cr_assert_not_null(mkdtemp(tdir));
	snprintf(tpath, sizeof(tpath), "%s/history.db", tdir);
	cfg_init(&cfg);
	free(cfg.history_file);
	cfg.history_file = strdup(tpath);
	cfg.history_flush = 5;
	cfg.history_batch = 64;
	buf_init(&out, 0);
	setup_ring(1 << 20);
	master_setup();
}

static void
teardown(void)
{
	char	 cmd[128];

	/* A test that failed left its history process running. */
	if (child != -1) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		child = -1;
	}
	(void)umount2(tdir, MNT_DETACH);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tdir);
	if (system(cmd) != 0)
		cr_log_warn("could not remove %s", tdir);
	shm_region_close(&bs.reg);
	buf_clear(&out);
	cfg_clear(&cfg);
}

TestSuite(history, .init = setup, .fini = teardown, .timeout = 60);

/* One event on ring 0, as a worker publishes it; returns its id. */
static uint64_t
publish(enum chat_type type, const char *room, size_t textlen)
{
	static char	 text[4096];
	struct chat_env	 e;
	uint64_t	 id = 0;

	memset(&e, 0, sizeof(e));
	e.type = type;
	e.room = (struct chat_str){ room, strlen(room) };
	e.from = CHAT_STR("bob");
	e.peer = CHAT_STR("127.0.0.1:1234");
	/* As bus_publish(): the id taken under the lock, in ring order. */
	shm_region_lock(&bs.reg);
	if (type == CHAT_USER || type == CHAT_PRIVATE) {
		id = shm_region_msg_id(&bs.reg);
		if (textlen == 0)
			snprintf(text, sizeof(text), "m%llu",
			    (unsigned long long)id);
		else {
			memset(text, 'x', textlen);
			text[textlen] = '\0';
		}
		e.content = (struct chat_str){ text, strlen(text) };
	}
	if (type == CHAT_PRIVATE)
		e.to = CHAT_STR("carol");
	e.ts = now_real_ms();
	e.id = id;
	out.len = 0;
	cr_assert_eq(chat_env_encode(&e, &out), 0);
	cr_assert_eq(shm_ring_publish(&bs.reg, shm_region_ring(&bs.reg,
	    BUS_RING), out.base, out.len), SHM_OK);
	shm_region_unlock(&bs.reg);
	return (id);
}

/*
 * What the master does before it forks (master_hist.c): open the store,
 * give its epoch to the region, and go on from its highest id.
 */
static void
master_setup(void)
{
	struct store	*sp = NULL;
	int		 ret;

	ret = store_open(&sp, tpath, STORE_RDWR, 0, err, sizeof(err));
	cr_assert_eq(ret, STORE_OK, "%d %s", ret, err);
	snprintf(bs.reg.hdr->sh_epoch, sizeof(bs.reg.hdr->sh_epoch), "%s",
	    store_epoch(sp));
	shm_region_set_msg_id(&bs.reg, store_max_id(sp));
	atomic_store(&hist->sh_committed_id, store_max_id(sp));
	store_close(sp);
}

static pid_t
start(void)
{
	pid_t	 pid;

	cr_assert_neq(pid = fork(), -1);
	if (pid == 0) {
		/* As the master's children: gone with their parent. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		history_run(&cfg, &bs);
	}
	child = pid;
	return (pid);
}

static int
stop(pid_t pid, int sig)
{
	int	 status;

	if (sig != 0)
		kill(pid, sig);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	child = -1;
	if (WIFSIGNALED(status))
		return (-WTERMSIG(status));
	return (WEXITSTATUS(status));
}

/* Wait until the history process has dealt with id (10 s at most). */
static void
wait_committed(uint64_t id)
{
	int	 i;

	for (i = 0; i < 2000; i++) {
		if (atomic_load(&hist->sh_committed_id) >= id)
			return;
		usleep(5000);
	}
	cr_assert_fail("id %llu not committed (at %llu)",
	    (unsigned long long)id,
	    (unsigned long long)atomic_load(&hist->sh_committed_id));
}

static void
wait_state(uint64_t state)
{
	int	 i;

	for (i = 0; i < 1000; i++) {
		if (atomic_load(&hist->sh_state) == state)
			return;
		usleep(10000);
	}
	cr_assert_fail("history state %llu, not %llu",
	    (unsigned long long)atomic_load(&hist->sh_state),
	    (unsigned long long)state);
}

/*
 * The store holds, in room, exactly the ids [first, last] that are not
 * in skip (ids of other rooms or private messages), each once, in order.
 */
static size_t
check_room(struct store *sp, const char *room, uint64_t first, uint64_t last)
{
	struct store_page	 pg;
	size_t			 i;

	cr_assert_eq(store_range(sp, room, strlen(room), first - 1, last,
	    1000000, &pg, err, sizeof(err)), STORE_OK, "%s", err);
	for (i = 1; i < pg.n; i++)
		cr_assert_gt(pg.msgs[i].id, pg.msgs[i - 1].id);
	i = pg.n;
	store_page_clear(&pg);
	return (i);
}

static struct store *
open_ro(void)
{
	struct store	*sp = NULL;
	int		 ret;

	ret = store_open(&sp, tpath, STORE_RDONLY, 0, err, sizeof(err));
	cr_assert_eq(ret, STORE_OK, "%d %s", ret, err);
	return (sp);
}

Test(history, keeps_room_messages_not_private_ones_and_stops_cleanly)
{
	struct store		*sp;
	struct store_page	 pg;
	uint64_t		 first = 0, id = 0, last;
	int			 i, nuser = 0;
	pid_t			 pid;

	pid = start();
	for (i = 0; i < 1000; i++) {
		if (i % 10 == 3)
			id = publish(CHAT_PRIVATE, "lobby", 0);
		else if (i % 10 == 7)
			publish(CHAT_LOGIN, "lobby", 0);
		else {
			id = publish(CHAT_USER, i % 2 ? "lobby" : "den", 0);
			nuser++;
		}
		if (first == 0)
			first = id;
	}
	last = id;
	wait_committed(last);
	wait_state(SHM_HIST_OK);
	cr_assert_eq(stop(pid, SIGTERM), 0);
	cr_assert_eq(atomic_load(&hist->sh_stored), (uint64_t)nuser);
	cr_assert_gt(atomic_load(&hist->sh_batches), 0);
	cr_assert_eq(atomic_load(&hist->sh_lost), 0);

	sp = open_ro();
	cr_assert_str_eq(store_epoch(sp), bs.reg.hdr->sh_epoch);
	cr_assert_eq(check_room(sp, "lobby", first, last) +
	    check_room(sp, "den", first, last), (size_t)nuser);
	cr_assert_eq(store_page(sp, LIT("lobby"), 0, 1, &pg, err,
	    sizeof(err)), STORE_OK);
	cr_assert_eq(pg.n, 1);
	cr_assert_str_eq(pg.msgs[0].from, "bob");
	cr_assert_str_eq(pg.msgs[0].peer, "127.0.0.1:1234");
	cr_assert_eq(pg.msgs[0].content[0], 'm');
	store_page_clear(&pg);
	cr_assert_eq(store_gap_between(sp, 0, 0, err, sizeof(err)), 0);
	store_close(sp);
}

Test(history, sigterm_commits_what_was_published)
{
	struct store	*sp;
	uint64_t	 first, last = 0;
	int		 i;
	pid_t		 pid;

	/* A flush interval longer than the test: only the stop commits. */
	cfg.history_flush = 10000;
	pid = start();
	wait_state(SHM_HIST_OK);
	usleep(100000);		/* past its first, immediate drain */
	first = publish(CHAT_USER, "lobby", 0);
	for (i = 0; i < 99; i++)
		last = publish(CHAT_USER, "lobby", 0);
	cr_assert_eq(stop(pid, SIGTERM), 0);
	sp = open_ro();
	cr_assert_eq(check_room(sp, "lobby", first, last), 100);
	store_close(sp);
}

Test(history, kill_9_and_respawn_keeps_each_message_once)
{
	struct store	*sp;
	uint64_t	 first = 0, id = 0;
	int		 round, i;
	pid_t		 pid;

	for (round = 0; round < 10; round++) {
		pid = start();
		for (i = 0; i < 300; i++) {
			id = publish(CHAT_USER, "lobby", 0);
			if (first == 0)
				first = id;
			if (i % 50 == 0)
				usleep(2000);
		}
		/* Killed while it may be in the middle of a batch. */
		cr_assert_eq(stop(pid, SIGKILL), -SIGKILL);
	}
	pid = start();
	wait_committed(id);
	cr_assert_eq(stop(pid, SIGTERM), 0);
	sp = open_ro();
	cr_assert_eq(check_room(sp, "lobby", first, id), 3000);
	cr_assert_eq(store_gap_between(sp, 0, 0, err, sizeof(err)), 0);
	store_close(sp);
}

Test(history, a_lapped_ring_is_recorded_as_a_gap)
{
	struct store	*sp;
	uint64_t	 before, lost_first, lost_last = 0, after, last = 0;
	int		 i;
	pid_t		 pid;

	shm_region_close(&bs.reg);
	setup_ring(64 << 10);
	master_setup();
	pid = start();
	before = publish(CHAT_USER, "lobby", 0);
	wait_committed(before);
	/* Paused: the ring laps it several times. */
	kill(pid, SIGSTOP);
	lost_first = publish(CHAT_USER, "lobby", 200);
	for (i = 0; i < 2000; i++)
		lost_last = publish(CHAT_USER, "lobby", 200);
	/* A lapped reader skips to the head of the ring: what is published
	 * before it looks again is lost too.  Give it time to look. */
	kill(pid, SIGCONT);
	usleep(300000);
	after = publish(CHAT_USER, "lobby", 0);
	for (i = 0; i < 10; i++)
		last = publish(CHAT_USER, "lobby", 0);
	wait_committed(last);
	cr_assert_eq(stop(pid, SIGTERM), 0);
	cr_assert_gt(atomic_load(&hist->sh_lost), 0);

	sp = open_ro();
	cr_assert_eq(check_room(sp, "lobby", after, last), 11);
	cr_assert_eq(check_room(sp, "lobby", before, before), 1);
	/* The lost ids are a gap; nothing before them or after is. */
	cr_assert_eq(store_gap_between(sp, before, lost_first, err,
	    sizeof(err)), 1);
	cr_assert_eq(store_gap_between(sp, lost_last - 1, lost_last, err,
	    sizeof(err)), 1);
	cr_assert_eq(store_gap_between(sp, 0, before, err, sizeof(err)), 0);
	cr_assert_eq(store_gap_between(sp, after, 0, err, sizeof(err)), 0);
	store_close(sp);
}

Test(history, a_refused_store_exits_with_status_2_and_stays_as_it_was)
{
	static const char	 junk[] = "this is not an SQLite database, "
				    "but somebody's precious file\n";
	char			 buf[256];
	ssize_t			 n;
	int			 fd;

	/* Replaced after the master's check. */
	cr_assert_eq(unlink(tpath), 0);
	cr_assert_neq(fd = open(tpath, O_WRONLY | O_CREAT, 0644), -1);
	cr_assert_eq(write(fd, junk, sizeof(junk) - 1),
	    (ssize_t)sizeof(junk) - 1);
	close(fd);
	cr_assert_eq(stop(start(), 0), HISTORY_EXIT_REFUSED);
	cr_assert_neq(fd = open(tpath, O_RDONLY), -1);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	cr_assert_eq(n, (ssize_t)sizeof(junk) - 1);
	cr_assert_eq(memcmp(buf, junk, sizeof(junk) - 1), 0);
}

Test(history, a_store_of_another_epoch_is_refused)
{
	struct store	*sp = NULL;

	/* Replaced by another store after the master read the epoch. */
	cr_assert_eq(unlink(tpath), 0);
	cr_assert_eq(store_open(&sp, tpath, STORE_RDWR, 0, err, sizeof(err)),
	    STORE_OK);
	cr_assert_str_neq(store_epoch(sp), bs.reg.hdr->sh_epoch);
	store_close(sp);
	cr_assert_eq(stop(start(), 0), HISTORY_EXIT_REFUSED);
}

Test(history, a_full_disk_stops_history_not_chat_and_records_the_gap)
{
	struct store	*sp;
	char		 filler[160], block[4096];
	uint64_t	 first, id = 0, last = 0, lost0;
	int		 fd, i;
	pid_t		 pid;

	if (!unit_private_mount(tdir, "tmpfs", 0, "size=512k"))
		cr_skip_test("needs root and a private tmpfs mount");
	master_setup();		/* the store on the tmpfs */
	/* Room to free later. */
	snprintf(filler, sizeof(filler), "%s/filler", tdir);
	cr_assert_neq(fd = open(filler, O_WRONLY | O_CREAT, 0644), -1);
	memset(block, 'f', sizeof(block));
	for (i = 0; i < 64; i++)
		cr_assert_eq(write(fd, block, sizeof(block)),
		    (ssize_t)sizeof(block));
	close(fd);
	pid = start();
	first = publish(CHAT_USER, "lobby", 0);
	wait_committed(first);
	/* Big messages until the disk is full. */
	for (i = 0; i < 4000 && atomic_load(&hist->sh_state) !=
	    SHM_HIST_FAILING; i++) {
		id = publish(CHAT_USER, "lobby", 1000);
		if (i % 20 == 0)
			usleep(5000);
	}
	wait_state(SHM_HIST_FAILING);
	cr_assert_gt(atomic_load(&hist->sh_errors), 0);
	/* It goes on reading the bus, and keeps nothing meanwhile. */
	for (i = 0; i < 100; i++)
		id = publish(CHAT_USER, "lobby", 10);
	usleep(200000);
	lost0 = atomic_load(&hist->sh_lost);
	cr_assert_eq(unlink(filler), 0);
	wait_state(SHM_HIST_OK);
	for (i = 0; i < 10; i++)
		last = publish(CHAT_USER, "lobby", 0);
	wait_committed(last);
	cr_assert_eq(stop(pid, SIGTERM), 0);
	cr_assert_gt(atomic_load(&hist->sh_lost), lost0);

	sp = open_ro();
	cr_assert_eq(check_room(sp, "lobby", id + 1, last), 10);
	cr_assert_eq(store_gap_between(sp, id - 1, id, err, sizeof(err)), 1);
	cr_assert_eq(store_gap_between(sp, id, 0, err, sizeof(err)), 0);
	cr_assert_eq(check_room(sp, "lobby", first, first), 1);
	store_close(sp);
}

Test(history, a_read_only_file_at_start_fails_then_recovers)
{
	struct store	*sp;
	uint64_t	 id = 0, last = 0;
	int		 i;
	pid_t		 pid;

	if (!unit_private_mount(tdir, NULL, MS_RDONLY, NULL))
		cr_skip_test("needs root and a private read-only mount");
	pid = start();
	wait_state(SHM_HIST_FAILING);
	for (i = 0; i < 50; i++)
		id = publish(CHAT_USER, "lobby", 0);
	usleep(100000);
	cr_assert_eq(mount(NULL, tdir, NULL, MS_REMOUNT | MS_BIND, NULL), 0);
	wait_state(SHM_HIST_OK);
	for (i = 0; i < 10; i++)
		last = publish(CHAT_USER, "lobby", 0);
	wait_committed(last);
	cr_assert_eq(stop(pid, SIGTERM), 0);
	sp = open_ro();
	cr_assert_eq(check_room(sp, "lobby", id + 1, last), 10);
	cr_assert_eq(store_gap_between(sp, id - 1, id, err, sizeof(err)), 1);
	store_close(sp);
}
