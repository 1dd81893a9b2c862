/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * master_hist.c: the master's side of history.  Before any fork it opens
 * the store once (creating it, and its directory, for the unprivileged
 * user), refuses a damaged one with the reason, and learns the epoch and
 * the highest id kept, from which the bus continues; then it closes it:
 * no SQLite connection crosses a fork().  It forks the history process
 * (history.c) with the workers' privileges and respawns it when it dies,
 * waiting longer each time it dies young, as workers do.
 */

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wschatd.h"
#include "bus.h"
#include "cfg.h"
#include "history.h"
#include "store.h"

#define MASTER_HIST_YOUNG	10	/* seconds: died young */
#define MASTER_HIST_BACKOFF_MAX	32

static struct bus_shared	*mh_bus;
static pid_t			 mh_pid = -1;
static time_t			 mh_started;
static time_t			 mh_respawn_at;
static unsigned			 mh_backoff;
static int			 mh_refused;	/* do not start it again */

/* mkdir -p, the last level owned by the workers' user. */
static void
master_hist_mkdir(const char *file, uid_t uid, gid_t gid)
{
	char	*copy, *dir, *p;
	int	 end, made = 0;

	copy = xstrdup(file);
	dir = dirname(copy);
	for (p = dir + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		end = *p == '\0';
		*p = '\0';
		if (mkdir(dir, 0755) == 0)
			made = end;
		else if (errno != EEXIST)
			log_warn("history: mkdir %s", dir);	/* open says */
		if (end)
			break;
		*p = '/';
	}
	/*
	 * A directory we made, or one named for us, is the workers'; any
	 * other (maybe /var/lib itself) is left as it is: the store's files
	 * are theirs all the same.
	 */
	if ((made || strcmp(strrchr(dir, '/') != NULL ? strrchr(dir, '/') +
	    1 : dir, "wschatd") == 0) && geteuid() == 0 &&
	    (chown(dir, uid, gid) == -1 ||
	    chmod(dir, 0750) == -1))
		log_warn("history: chown %s", dir);
	free(copy);
}

/* The store's files to the workers' user, if the master made them. */
static void
master_hist_chown(const char *file, uid_t uid, gid_t gid)
{
	static const char	*sfx[] = { "", "-wal", "-shm" };
	char			 path[4096];
	size_t			 i;

	if (geteuid() != 0)
		return;
	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", file, sfx[i]);
		if (chown(path, uid, gid) == -1 && errno != ENOENT)
			log_warn("history: chown %s", path);
	}
}

/*
 * Before any fork: the store, its epoch, and where ids continue.
 * Returns 0, or -1 if the store cannot be written (not a damaged one,
 * which is fatal: it is never touched): the caller runs without history.  Ids
 * continue from the highest the store kept, and never below the clock
 * (milliseconds since 1970, times 1024): messages taken but not yet kept
 * when the daemon was killed had ids the store never saw, and those must
 * not come again after a restart.  1024 ids a millisecond is more than
 * the bus carries; 2^53 (what JavaScript numbers hold exactly) is
 * reached in the year 2248.
 */
int
master_hist_setup(const struct cfg *cfg, struct bus_shared *bus)
{
	struct shm_hist	*hs;
	struct store	*st;
	struct shm_hdr	*h = bus->reg.hdr;
	char		 err[512];
	uint64_t	 id = now_real_ms() << 10, max = 0;
	uid_t		 uid = cfg->uid != (uid_t)-1 ? cfg->uid : geteuid();
	gid_t		 gid = cfg->gid != (gid_t)-1 ? cfg->gid : getegid();
	int		 rv;

	mh_bus = bus;
	/* Without a store: an epoch of this run's own. */
	snprintf(h->sh_epoch, sizeof(h->sh_epoch), "%016llx",
	    (unsigned long long)((uint64_t)arc4random() << 32 |
	    arc4random()));
	shm_region_set_msg_id(&bus->reg, id);
	if (!cfg->history) {
		log_info("history off; epoch %s", h->sh_epoch);
		return (0);
	}
	master_hist_mkdir(cfg->history_file, uid, gid);
	rv = store_open(&st, cfg->history_file, STORE_RDWR,
	    strcmp(cfg->history_sync, "full") == 0, err, sizeof(err));
	if (rv == STORE_ECORRUPT)
		fatalx("history: %s: %s (move the file away to start a new "
		    "store, or set history off)", cfg->history_file, err);
	if (rv != STORE_OK) {
		/* Not writable, full: chat goes on, without history. */
		log_warnx("history: %s: %s; running without history until "
		    "a restart", cfg->history_file, err);
		hs = shm_region_hist(&bus->reg);
		atomic_store_explicit(&hs->sh_state, SHM_HIST_FAILING,
		    memory_order_relaxed);
		atomic_fetch_add_explicit(&hs->sh_errors, 1,
		    memory_order_relaxed);
		return (-1);
	}
	snprintf(h->sh_epoch, sizeof(h->sh_epoch), "%s", store_epoch(st));
	max = store_max_id(st);
	store_close(st);
	master_hist_chown(cfg->history_file, uid, gid);
	if (max > id)
		id = max;
	shm_region_set_msg_id(&bus->reg, id);
	atomic_store_explicit(&shm_region_hist(&bus->reg)->sh_committed_id,
	    max, memory_order_relaxed);
	log_info("history: %s, epoch %s, %llu the highest id kept",
	    cfg->history_file, h->sh_epoch, (unsigned long long)max);
	return (0);
}

/*
 * Start the history process, unless it is off, running or refused.  cfg
 * is the master's current one (a reload replaces it; the history keys
 * are restart-only); child runs first in the new process, to close what
 * is the master's alone and lower its privileges, as for a worker.
 */
void
master_hist_spawn(const struct cfg *cfg, void (*child)(void))
{
	pid_t			 pid;

	if (mh_bus == NULL || !cfg->history || mh_pid != -1 || mh_refused)
		return;
	switch ((pid = fork())) {
	case -1:
		log_warn("fork history process");
		mh_respawn_at = time(NULL) + 1;
		return;
	case 0:
		/* Told apart from the workers in ps(1), and by the tests. */
		prctl(PR_SET_NAME, "wschatd-history");
		child();	/* sockets, pidfile, privileges */
		history_run(cfg, mh_bus);
		/* NOTREACHED */
	default:
		mh_pid = pid;
		mh_started = time(NULL);
		mh_respawn_at = 0;
		log_info("history process started, pid %d", (int)pid);
	}
}

/*
 * Was pid the history process?  Then note how it ended and plan its
 * respawn; returns 1.  Returns 0 for any other pid.
 */
int
master_hist_reaped(int pid, int status)
{
	time_t	 now = time(NULL);

	if (mh_pid == -1 || pid != mh_pid)
		return (0);
	mh_pid = -1;
	atomic_store_explicit(&shm_region_hist(&mh_bus->reg)->sh_pid, 0,
	    memory_order_relaxed);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		log_info("history process (pid %d) stopped", pid);
		mh_refused = 1;		/* we are stopping */
		return (1);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) ==
	    HISTORY_EXIT_REFUSED) {
		log_warnx("history process (pid %d) refused the store; chat "
		    "goes on without history", pid);
		mh_refused = 1;
		return (1);
	}
	if (now - mh_started >= MASTER_HIST_YOUNG)
		mh_backoff = 0;
	else
		mh_backoff = mh_backoff == 0 ? 1 : mh_backoff * 2 >
		    MASTER_HIST_BACKOFF_MAX ? MASTER_HIST_BACKOFF_MAX :
		    mh_backoff * 2;
	mh_respawn_at = now + mh_backoff;
	atomic_fetch_add_explicit(&shm_region_hist(&mh_bus->reg)->sh_restarts,
	    1, memory_order_relaxed);
	if (WIFSIGNALED(status))
		log_warnx("history process (pid %d) killed by signal %d; "
		    "respawning in %us", pid, WTERMSIG(status), mh_backoff);
	else
		log_warnx("history process (pid %d) exited with status %d; "
		    "respawning in %us", pid, WEXITSTATUS(status),
		    mh_backoff);
	return (1);
}

/* Once a second: respawn it when its time has come. */
void
master_hist_tick(const struct cfg *cfg, time_t now, void (*child)(void))
{
	if (mh_pid == -1 && !mh_refused && now >= mh_respawn_at)
		master_hist_spawn(cfg, child);
}

void
master_hist_signal(int sig)
{
	if (sig == SIGTERM || sig == SIGKILL)
		mh_refused = 1;		/* stopping: no respawn */
	if (mh_pid != -1 && kill(mh_pid, sig) == -1)
		log_warn("history process: kill");
}

int
master_hist_running(void)
{
	return (mh_pid != -1);
}
