/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * master.c: the master process.  It creates the listening sockets, one
 * SO_REUSEPORT socket per worker and port, so that each worker has its own
 * accept queue and a respawned worker inherits the queue of the one it
 * replaces; forks the workers; and supervises them from a plain
 * sigtimedwait() loop (no event loop: nothing here is on the data path,
 * and a libevent base would be awkward to share across fork()).  A worker
 * that dies is respawned, at most once a second if it keeps dying young;
 * SIGHUP reads the configuration again (cfg_read(), with the file and the
 * overrides of the command line that main() handed to master_setup()) and
 * starts a new generation of workers while the old one drains; SIGTERM or
 * SIGINT stop the workers gracefully and then the master.  The pidfile is
 * main()'s (pidfile.c): a new worker only drops its descriptor.
 */

#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wschatd.h"
#include "bus.h"
#include "cfg.h"
#include "chat.h"
#include "history.h"
#include "master.h"
#include "pidfile.h"
#include "worker.h"

/*
 * Workers live in slots: a slot is a ring on the bus, an eventfd and an
 * index in the presence table.  The current generation has cfg->workers
 * workers, each with its own listening sockets; after a reload the
 * previous generation keeps its slots while it drains, so there are twice
 * as many slots as workers at start.
 */
#define SLOT_FREE	0
#define SLOT_RUNNING	1	/* of the current generation */
#define SLOT_RETIRING	2	/* of an older one: draining */

struct master_slot {
	pid_t		 pid;
	int		 state;
	unsigned	 gen;
	unsigned	 index;		/* worker number in its generation */
	time_t		 started;
};

/* A worker of the current generation. */
struct master_worker {
	int		 slot;		/* -1: not running */
	int		 replaces;	/* slot to retire once we run; -1 */
	time_t		 respawn_at;	/* when to fork it again */
	unsigned	 backoff;	/* seconds, doubling while it dies young */
	int		 http_fd;
	int		 line_fd;
};

static struct master_slot	 master_slots[WSCHATD_MAX_SLOTS];
static unsigned			 master_nslots;
static struct master_worker	 master_workers[WSCHATD_MAX_WORKERS];
static unsigned			 master_nworkers;
static unsigned			 master_gen;
static struct cfg		*master_cfg;
static struct cfg		*master_cfg_main;	/* main()'s, not ours */
/* The command line, main()'s, to read the configuration again. */
static const char		*master_conffile;	/* NULL: default */
static const struct cfg_override *master_ov;
static size_t			 master_nov;
static struct bus_shared	 master_bus;
static struct bus		 master_end;	/* our ring, the last one */
static struct shm_presence_entry *master_gone;	/* a dead worker's names */
static struct cfg_addr		 master_bound[2];	/* http, line: as bound */

/* Worker slots beyond twice the workers at start. */
#define MASTER_SPARE_SLOTS	4

/* A worker that lived this long was not dying young. */
#define MASTER_YOUNG		10
#define MASTER_BACKOFF_MAX	32

/*
 * Make n listening sockets on a, numbers from..n-1 of fds.  With port 0
 * the first socket picks the port, and bound (the address really bound,
 * which later sockets of the group and reloads join) remembers it.
 * Returns 0, or -1 with *cause; sockets made so far are closed then.
 */
static int
master_listen(const char *what, const struct cfg_addr *a,
    struct cfg_addr *bound, int *fds, unsigned from, unsigned n,
    char **cause)
{
	struct sockaddr_storage	 ss = bound->ss;
	socklen_t		 sslen = bound->sslen;
	char			 text[80];
	unsigned		 i = from;
	int			 fd, one = 1;

	/*
	 * SO_REUSEPORT would let a second wschatd (same user, same port)
	 * join our group and silently split the clients.  A plain socket
	 * cannot bind where a listener exists: try one first.
	 */
	if (from == 0 && cfg_addr_port(a) != 0) {
		if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC,
		    0)) == -1)
			goto fail;
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one));
		if (ss.ss_family == AF_INET6)
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			    sizeof(one));
		if (bind(fd, (struct sockaddr *)&ss, sslen) == -1) {
			close(fd);
			goto fail;
		}
		close(fd);
	}
	for (i = from; i < n; i++) {
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd == -1)
			goto fail;
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one)) == -1 ||
		    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
		    sizeof(one)) == -1 ||
		    (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
		    IPV6_V6ONLY, &one, sizeof(one)) == -1) ||
		    bind(fd, (struct sockaddr *)&ss, sslen) == -1 ||
		    listen(fd, (int)master_cfg->backlog) == -1 ||
		    (i == 0 && getsockname(fd, (struct sockaddr *)&ss,
		    &sslen) == -1)) {
			close(fd);
			goto fail;
		}
		fds[i] = fd;
	}
	if (from == 0) {
		*bound = *a;
		bound->ss = ss;
		bound->sslen = sslen;
		cfg_addr_format((struct sockaddr *)&ss, text, sizeof(text));
		log_info("%s listening on %s (%u sockets)", what, text, n);
	}
	return (0);
fail:
	xasprintf(cause, "%s: %s: %s", what, a->text, strerror(errno));
	while (i-- > from) {
		close(fds[i]);
		fds[i] = -1;
	}
	return (-1);
}

/*
 * Every worker is a process with its own descriptor table: each needs
 * max_connections descriptors plus a few of its own (listeners, eventfd,
 * epoll, log, files being sent).  Raise the soft limit to that, and the
 * hard one too if root may; with max_connections 0, to the hard limit.
 */
#define MASTER_SPARE_FDS	64

static void
master_raise_nofile(const struct cfg *cfg)
{
	struct rlimit	 rl;
	rlim_t		 need;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("getrlimit RLIMIT_NOFILE");
	need = cfg->max_connections == 0 ? rl.rlim_max :
	    (rlim_t)cfg->max_connections + MASTER_SPARE_FDS;
	if (need > rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max = need;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			fatal("max_connections %u needs %llu descriptors per "
			    "worker, above the hard limit; raise it (ulimit "
			    "-Hn, LimitNOFILE=) or lower max_connections",
			    cfg->max_connections, (unsigned long long)need);
	} else if (rl.rlim_cur < need) {
		rl.rlim_cur = need;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			fatal("setrlimit RLIMIT_NOFILE %llu",
			    (unsigned long long)need);
	}
	log_info("file descriptor limit %llu per process",
	    (unsigned long long)rl.rlim_cur);
}

/*
 * In a new child (a worker, or the history process): close the sockets
 * that are not its own (keep's; none for the history process: held
 * open, a reload could never close an old port) and the pidfile, and
 * lower its privileges.
 */
static void
master_child_init(const struct master_worker *keep)
{
	const struct cfg	*cfg = master_cfg;
	unsigned		 k;

	for (k = 0; k < master_nworkers; k++) {
		if (&master_workers[k] == keep)
			continue;
		if (master_workers[k].http_fd != -1)
			close(master_workers[k].http_fd);
		if (master_workers[k].line_fd != -1)
			close(master_workers[k].line_fd);
	}
	pidfile_close();
	if (cfg->gid != (gid_t)-1 && cfg->gid != getegid() &&
	    (setgroups(1, &cfg->gid) == -1 ||
	    setresgid(cfg->gid, cfg->gid, cfg->gid) == -1))
		fatal("cannot switch to group %u", (unsigned)cfg->gid);
	if (cfg->uid != (uid_t)-1 && cfg->uid != geteuid() &&
	    setresuid(cfg->uid, cfg->uid, cfg->uid) == -1)
		fatal("cannot switch to user %u", (unsigned)cfg->uid);
	/*
	 * If the master dies without stopping us, stop anyway.  After the
	 * switch: a change of credentials clears the setting.
	 */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		_exit(0);
}

/* The history process's master_child_init(). */
static void
master_hist_child(void)
{
	master_child_init(NULL);
}

/* A new worker process: lower its privileges, then become the worker. */
static void __attribute__((__noreturn__))
master_child(unsigned slot, struct master_worker *mw)
{
	master_child_init(mw);
	worker_run(master_cfg, slot, mw->http_fd, mw->line_fd, &master_bus);
	/* NOTREACHED */
}

static int
master_free_slot(void)
{
	unsigned	 s;

	for (s = 0; s < master_nslots; s++)
		if (master_slots[s].state == SLOT_FREE)
			return ((int)s);
	return (-1);
}

static void
master_retire(int s)
{
	struct master_slot	*ms = &master_slots[s];

	if (ms->state != SLOT_RUNNING)
		return;
	ms->state = SLOT_RETIRING;
	if (kill(ms->pid, SIGUSR2) == -1)
		log_warn("worker %d: kill SIGUSR2", s);
	else
		log_info("worker %d (pid %d, generation %u) retiring", s,
		    (int)ms->pid, ms->gen);
}

/* Start worker k of the current generation, if a slot is free. */
static void
master_spawn(unsigned k)
{
	struct master_worker	*mw = &master_workers[k];
	struct master_slot	*ms;
	pid_t			 pid;
	int			 s;

	if ((s = master_free_slot()) == -1)
		return;		/* an old worker still drains: later */
	ms = &master_slots[s];
	switch ((pid = fork())) {
	case -1:
		log_warn("fork worker %d", s);
		mw->respawn_at = time(NULL) + 1;
		return;
	case 0:
		master_child((unsigned)s, mw);
		/* NOTREACHED */
	default:
		ms->pid = pid;
		ms->state = SLOT_RUNNING;
		ms->gen = master_gen;
		ms->index = k;
		ms->started = time(NULL);
		mw->slot = s;
		mw->respawn_at = 0;
		log_info("worker %d started, pid %d", s, (int)pid);
		if (mw->replaces != -1) {
			master_retire(mw->replaces);
			mw->replaces = -1;
		}
	}
}

/* Smallest power of two >= x. */
static uint64_t
master_pow2(uint64_t x)
{
	uint64_t	 p = 1;

	while (p < x)
		p <<= 1;
	return (p);
}

/*
 * The shared region and one eventfd per slot, before any fork: every
 * worker, and every respawned one, inherits both.
 */
static void
master_bus_open(void)
{
	unsigned	 i, pslots;

	/* Twice the users, so that probe sequences stay short. */
	pslots = (unsigned)master_pow2((uint64_t)master_cfg->max_users * 2);
	if (shm_region_open(&master_bus.reg, master_nslots,
	    master_cfg->bus_ring_size, pslots) == -1)
		fatal("shm_region_open");
	master_bus.nworkers = master_nslots;
	master_gone = xcalloc(pslots, sizeof(*master_gone));
	for (i = 0; i < master_nslots; i++)
		if ((master_bus.efd[i] = eventfd(0, EFD_NONBLOCK |
		    EFD_CLOEXEC)) == -1)
			fatal("eventfd");
	bus_init(&master_end, &master_bus, master_nslots, NULL);
	log_info("bus: %u rings of %llu bytes (%u worker slots), %u presence "
	    "slots, %zu bytes shared", master_nslots + 1,
	    (unsigned long long)master_cfg->bus_ring_size, master_nslots,
	    pslots, master_bus.reg.len);
}

static void
master_bus_close(void)
{
	unsigned	 i;

	for (i = 0; i < master_bus.nworkers; i++)
		close(master_bus.efd[i]);
	bus_clear(&master_end);
	shm_region_close(&master_bus.reg);
	free(master_gone);
	master_gone = NULL;
}

/*
 * Tell everyone the n names in master_gone left, on the bus, then wake
 * every worker that sleeps.
 */
static void
master_announce(size_t n, const char *why)
{
	struct chat_env			 e;
	size_t				 i;

	for (i = 0; i < n; i++) {
		memset(&e, 0, sizeof(e));
		e.type = CHAT_LOGOUT;
		e.from.p = e.content.p = master_gone[i].name;
		e.from.len = e.content.len = strlen(master_gone[i].name);
		e.peer.p = master_gone[i].peer;
		e.peer.len = strlen(master_gone[i].peer);
		/* The room it was in, which version 2's logout says. */
		if (master_gone[i].room[0] != '\0') {
			e.room.p = master_gone[i].room;
			e.room.len = strlen(master_gone[i].room);
		}
		e.ts = now_real_ms();
		e.id = shm_region_next_id(&master_bus.reg);
		e.worker = master_nslots;	/* the master */
		e.kind = master_gone[i].kind;
		if (bus_publish(&master_end, &e) == -1)
			log_warn("%s: cannot announce the logout of %s", why,
			    master_gone[i].name);
	}
	bus_wake(&master_end);
}

/*
 * A worker died: free its names and its per-address connection counts,
 * tell everyone its users left, then wake every worker that sleeps.
 * Before the slot is used again, so the new worker's claims are never
 * mistaken for the old one's.  Its version 2 sessions were lost without
 * a goodbye: they stay resumable for resume_timeout (master_expire()).
 */
static void
master_bus_reap(unsigned worker)
{
	size_t		 n, kept = 0;

	if (master_cfg->resume_timeout > 0)
		kept = shm_presence_detach_all(&master_bus.reg, worker,
		    now_real_ms() + (uint64_t)master_cfg->resume_timeout *
		    1000);
	/* One call frees every slot of the worker; master_gone has room for
	 * all of them. */
	n = shm_presence_reap(&master_bus.reg, worker, master_gone,
	    master_bus.reg.hdr->sh_pslots);
	/* Its connections count no more against max_connections_per_ip. */
	shm_ipc_reap(&master_bus.reg, worker);
	/* Relaxed: /metrics skips the slot from now on; no order needed. */
	atomic_store_explicit(&shm_region_stats(&master_bus.reg,
	    worker)->st_pid, 0, memory_order_relaxed);
	master_announce(n, "reap");
	if (n > 0 || kept > 0)
		log_info("worker %u: %zu users logged out, %zu sessions kept "
		    "for resume", worker, n, kept);
}

/*
 * Once a second: end the sessions whose connection was lost longer than
 * resume_timeout ago, with their logouts.
 */
static void
master_expire(void)
{
	size_t		 n, max = master_bus.reg.hdr->sh_pslots;

	do {
		n = shm_presence_expire(&master_bus.reg, now_real_ms(),
		    master_gone, max);
		master_announce(n, "expire");
		if (n > 0)
			log_info("%zu lost sessions expired", n);
	} while (n == max);
}

/* "signal 9 (KILL)", "status 1": how a worker ended, for the log. */
static void
master_status(int status, char *buf, size_t len)
{
	const char	*abbrev;

	if (WIFSIGNALED(status)) {
		abbrev = sigabbrev_np(WTERMSIG(status));
		snprintf(buf, len, "killed by signal %d (SIG%s)%s",
		    WTERMSIG(status), abbrev ? abbrev : "?",
		    WCOREDUMP(status) ? ", core dumped" : "");
	} else
		snprintf(buf, len, "exited with status %d",
		    WEXITSTATUS(status));
}

/* Reap every exited worker; returns how many are still running. */
static unsigned
master_reap(int stopping)
{
	struct master_slot	*ms;
	struct master_worker	*mw;
	char			 how[64];
	pid_t			 pid;
	int			 status, crashed;
	unsigned		 s, k, running = 0;
	time_t			 now = time(NULL);

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (s = 0; s < master_nslots; s++)
			if (master_slots[s].pid == pid)
				break;
		if (s == master_nslots) {
			master_hist_reaped(pid, status);
			continue;
		}
		ms = &master_slots[s];
		master_bus_reap(s);
		master_status(status, how, sizeof(how));
		crashed = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
		if (ms->state == SLOT_RUNNING && ms->gen == master_gen &&
		    !stopping) {
			/* One that keeps dying young waits longer each time. */
			mw = &master_workers[ms->index];
			mw->slot = -1;
			if (now - ms->started >= MASTER_YOUNG)
				mw->backoff = 0;
			else
				mw->backoff = mw->backoff == 0 ? 1 :
				    mw->backoff * 2 > MASTER_BACKOFF_MAX ?
				    MASTER_BACKOFF_MAX : mw->backoff * 2;
			mw->respawn_at = now + mw->backoff;
			atomic_fetch_add(&master_bus.reg.hdr->sh_respawns, 1);
			log_warnx("worker %u (pid %d) %s; respawning in %us", s,
			    (int)pid, how, mw->backoff);
		} else if (crashed)
			log_warnx("worker %u (pid %d) %s", s, (int)pid, how);
		else
			log_info("worker %u (pid %d) %s", s, (int)pid,
			    ms->state == SLOT_RETIRING ? "drained and exited" :
			    "stopped");
		memset(ms, 0, sizeof(*ms));
		ms->state = SLOT_FREE;
		/* A successor waiting for a slot has nobody to retire now. */
		for (k = 0; k < master_nworkers; k++)
			if (master_workers[k].replaces == (int)s)
				master_workers[k].replaces = -1;
	}
	for (s = 0; s < master_nslots; s++)
		if (master_slots[s].state != SLOT_FREE)
			running++;
	return (running);
}

static void
master_signal_workers(int sig, int state)
{
	unsigned	 s;

	for (s = 0; s < master_nslots; s++)
		if (master_slots[s].state != SLOT_FREE &&
		    (state == SLOT_FREE || master_slots[s].state == state))
			kill(master_slots[s].pid, sig);
}

/* The same address, however written ("8080" and "*:8080" are). */
static int
master_addr_same(const struct cfg_addr *a, const struct cfg_addr *b)
{
	if (a->off || b->off)
		return (a->off == b->off);
	return (a->sslen == b->sslen && memcmp(&a->ss, &b->ss, a->sslen) == 0);
}

/*
 * The listening sockets of a new generation of n workers, for one port.
 * Same address: keep the sockets (the new worker k shares socket k with
 * the old worker k until that one retires, so no connection waiting in
 * its queue is lost) and make more if n grew; another address: bind anew.
 * *bound is the address the sockets are bound to (the port chosen, if
 * the setting says 0), which more sockets join; it changes with a new
 * address.  Returns 0, or -1 with *cause and nothing changed.
 */
static int
master_relisten(const char *what, const struct cfg_addr *old,
    const struct cfg_addr *a, int bound_i, struct cfg_addr *bound, int *fds,
    unsigned n, char **cause)
{
	unsigned	 k, keep;
	int		*cur;
	struct cfg_addr	 nb;

	for (k = 0; k < n; k++)
		fds[k] = -1;
	if (a->off)
		return (0);
	if (master_addr_same(old, a)) {
		keep = n < master_nworkers ? n : master_nworkers;
		for (k = 0; k < keep; k++) {
			cur = bound_i == 0 ? &master_workers[k].http_fd :
			    &master_workers[k].line_fd;
			fds[k] = *cur;
			/* A new backlog applies to kept sockets too. */
			(void)listen(fds[k], (int)master_cfg->backlog);
		}
		return (master_listen(what, a, bound, fds, keep, n, cause));
	}
	/* The address really bound (port 0 picks one) becomes *bound. */
	nb = *a;
	if (master_listen(what, a, &nb, fds, 0, n, cause) == -1)
		return (-1);
	*bound = nb;
	return (0);
}

static void
master_restart_only(int changed, const char *name)
{
	if (changed)
		log_warnx("reload: %s changed; that takes effect at the next "
		    "restart", name);
}

/* Settings that the shared region or the master's identity fix. */
static void
master_keep_restart_only(struct cfg *ncfg)
{
	const struct cfg	*o = master_cfg;

	master_restart_only(ncfg->bus_ring_size != o->bus_ring_size,
	    "bus_ring_size");
	ncfg->bus_ring_size = o->bus_ring_size;
	master_restart_only(ncfg->max_users != o->max_users, "max_users");
	ncfg->max_users = o->max_users;
	master_restart_only((ncfg->pidfile == NULL) != (o->pidfile == NULL) ||
	    (o->pidfile != NULL && strcmp(ncfg->pidfile, o->pidfile) != 0),
	    "pidfile");
	free(ncfg->pidfile);
	ncfg->pidfile = o->pidfile != NULL ? xstrdup(o->pidfile) : NULL;
	master_restart_only(ncfg->uid != o->uid || ncfg->gid != o->gid,
	    "user or group");
	ncfg->uid = o->uid;
	ncfg->gid = o->gid;
	/* The store is opened, and the history process forked, once. */
	master_restart_only(ncfg->history != o->history ||
	    strcmp(ncfg->history_file, o->history_file) != 0 ||
	    strcmp(ncfg->history_sync, o->history_sync) != 0,
	    "history, history_file or history_sync");
	ncfg->history = o->history;
	free(ncfg->history_file);
	ncfg->history_file = xstrdup(o->history_file);
	free(ncfg->history_sync);
	ncfg->history_sync = xstrdup(o->history_sync);
}

/*
 * SIGHUP: read the configuration again; if it is good, start a new
 * generation of workers with it and let the current one drain.  A bad
 * file changes nothing.  Connections stay with the worker they are on.
 */
static void
master_reload(void)
{
	struct cfg		*ncfg, *ocfg = master_cfg;
	char			*cause = NULL, *p;
	int			 http[WSCHATD_MAX_WORKERS];
	int			 line[WSCHATD_MAX_WORKERS];
	struct cfg_addr		 bound[2];
	const char		*dest;
	unsigned		 k, n, s, busy = 0;
	int			 retired = 0;

	ncfg = xcalloc(1, sizeof(*ncfg));
	if (cfg_read(ncfg, master_conffile, master_ov, master_nov,
	    &cause) == -1)
		goto refuse;
	cfg_foreground(ncfg, ocfg->foreground);
	ncfg->debug = ocfg->debug;
	master_keep_restart_only(ncfg);
	n = ncfg->workers;
	/* An older generation still draining gives way to this one. */
	for (s = 0; s < master_nslots; s++) {
		if (master_slots[s].state == SLOT_RETIRING) {
			kill(master_slots[s].pid, SIGTERM);
			retired++;
		} else if (master_slots[s].state == SLOT_RUNNING)
			busy++;
	}
	if (retired > 0)
		log_warnx("reload: %d workers of an older generation were "
		    "still draining; stopping them", retired);
	if (n > master_nslots - busy) {
		xasprintf(&cause, "workers %u: this instance has %u worker "
		    "slots, %u of them busy; restart to grow that far", n,
		    master_nslots, busy);
		goto refuse;
	}
	bound[0] = master_bound[0];
	bound[1] = master_bound[1];
	if (master_relisten("http", &ocfg->listen, &ncfg->listen, 0, &bound[0],
	    http, n, &cause) == -1)
		goto refuse;
	if (master_relisten("line", &ocfg->line_listen, &ncfg->line_listen, 1,
	    &bound[1], line, n, &cause) == -1) {
		for (k = 0; k < n; k++)
			if (http[k] != -1 && (k >= master_nworkers ||
			    http[k] != master_workers[k].http_fd))
				close(http[k]);
		goto refuse;
	}
	dest = ncfg->log ? ncfg->log : ncfg->foreground ? "stderr" : "syslog";
	if (log_open(dest, log_level_parse(ncfg->debug ? "debug" :
	    ncfg->log_level)) == -1)
		log_warn("reload: log %s; logging on as before", dest);
	master_bound[0] = bound[0];
	master_bound[1] = bound[1];

	/* The old sockets that no new worker took: the old workers keep
	 * their own copies while they drain. */
	for (k = 0; k < master_nworkers; k++) {
		if (master_workers[k].http_fd != -1 &&
		    (k >= n || http[k] != master_workers[k].http_fd))
			close(master_workers[k].http_fd);
		if (master_workers[k].line_fd != -1 &&
		    (k >= n || line[k] != master_workers[k].line_fd))
			close(master_workers[k].line_fd);
	}
	master_gen++;
	atomic_fetch_add(&master_bus.reg.hdr->sh_reloads, 1);
	for (k = 0; k < n; k++) {
		master_workers[k].replaces = k < master_nworkers ?
		    master_workers[k].slot : -1;
		master_workers[k].slot = -1;
		master_workers[k].respawn_at = 0;
		master_workers[k].backoff = 0;
		master_workers[k].http_fd = http[k];
		master_workers[k].line_fd = line[k];
	}
	/* Workers beyond the new count have no successor: they go now. */
	for (k = n; k < master_nworkers; k++)
		if (master_workers[k].slot != -1)
			master_retire(master_workers[k].slot);
	master_nworkers = n;
	master_cfg = ncfg;
	log_info("reload: configuration %s read; generation %u, %u workers",
	    ncfg->conffile ? ncfg->conffile : "(built-in)", master_gen, n);
	cfg_clear(ocfg);
	if (ocfg != master_cfg_main)
		free(ocfg);
	return;
refuse:
	for (p = cause; (p = strchr(p, '\n')) != NULL; p++)
		*p = ';';	/* one log line: every error of the file */
	log_warnx("reload refused, the running configuration stays: %s",
	    cause);
	free(cause);
	cfg_clear(ncfg);
	free(ncfg);
}

/* SIGUSR1: reopen the log file, ours and the workers'. */
static void
master_reopen(void)
{
	if (log_reopen(master_cfg->uid, master_cfg->gid) == -1)
		log_warn("SIGUSR1: cannot reopen the log file");
	else
		log_info("SIGUSR1: log reopened");
	master_signal_workers(SIGUSR1, SLOT_FREE);
	master_hist_signal(SIGUSR1);
}

/*
 * Before daemonizing, while errors still reach the terminal: descriptor
 * limit, listening sockets, the shared region.  Exits on failure.  cfg is
 * what cfg_read(cfg, file, ov, nov) made, and on SIGHUP the master reads
 * again the same way.  cfg, file and ov (and the strings they point at)
 * are borrowed from main() and must live until master_run() returns.
 * Master only, once.
 */
void
master_setup(struct cfg *cfg, const char *file, const struct cfg_override *ov,
    size_t nov)
{
	static const struct cfg_addr	 off = { .off = 1 };
	char				*cause = NULL;
	int				 http[WSCHATD_MAX_WORKERS];
	int				 line[WSCHATD_MAX_WORKERS];
	unsigned			 k;

	master_cfg = master_cfg_main = cfg;
	master_conffile = file;
	master_ov = ov;
	master_nov = nov;
	master_nworkers = cfg->workers;
	/* Room for a reload to add a few workers, too. */
	master_nslots = 2 * cfg->workers + MASTER_SPARE_SLOTS;
	if (master_nslots > WSCHATD_MAX_SLOTS)
		master_nslots = WSCHATD_MAX_SLOTS;
	log_procinit("master");
	master_raise_nofile(cfg);

	for (k = 0; k < master_nworkers; k++) {
		master_workers[k].slot = master_workers[k].replaces = -1;
		master_workers[k].http_fd = master_workers[k].line_fd = -1;
	}
	/* As a reload from no listeners at all: every socket is new. */
	if (master_relisten("http", &off, &cfg->listen, 0, &master_bound[0],
	    http, master_nworkers, &cause) == -1 ||
	    master_relisten("line", &off, &cfg->line_listen, 1,
	    &master_bound[1], line, master_nworkers, &cause) == -1)
		fatalx("%s", cause);
	for (k = 0; k < master_nworkers; k++) {
		master_workers[k].http_fd = http[k];
		master_workers[k].line_fd = line[k];
	}
	master_bus_open();
	if (master_hist_setup(cfg, &master_bus) == -1)
		cfg->history = 0;	/* said why; /metrics says so */
}

/* The signals the master handles, in sigtimedwait(2), blocked. */
static void
master_sigset(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGQUIT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
}

/*
 * Block them from before the pidfile is taken and the sockets bound:
 * a SIGTERM that comes while the bus is being set up (an init script's
 * stop right after its start) waits for master_run(), which stops
 * cleanly and removes the pidfile, instead of killing the process with
 * the pidfile left behind.  unblock undoes it (the daemonising parent,
 * which only waits).
 */
void
master_block_signals(int unblock)
{
	sigset_t	 set;

	master_sigset(&set);
	sigprocmask(unblock ? SIG_UNBLOCK : SIG_BLOCK, &set, NULL);
}

/*
 * Run the master: fork the workers and supervise them until a stop
 * signal.  ready, if not -1, is the pipe to tell the waiting parent
 * (wschatd_daemonize) that we run.  Returns the exit status.
 */
int
master_run(struct cfg *cfg, int ready)
{
	sigset_t		 set;
	siginfo_t		 si;
	struct timespec		 tick = { 1, 0 };
	unsigned		 k, running;
	int			 sig, stopping = 0, hist_told = 0;
	time_t			 deadline = 0, now;

	/*
	 * Workers inherit this, and the signal mask main() set
	 * (master_block_signals): they unblock once libevent catches them.
	 */
	signal(SIGPIPE, SIG_IGN);
	master_sigset(&set);

	log_info("%s %s starting %u workers%s%s", WSCHATD_NAME,
	    WSCHATD_VERSION, master_nworkers, cfg->conffile ? "; configuration "
	    : "", cfg->conffile ? cfg->conffile : "");
	for (k = 0; k < master_nworkers; k++)
		master_spawn(k);
	master_hist_spawn(master_cfg, master_hist_child);
	if (ready != -1) {
		if (write(ready, "", 1) == -1)
			log_warn("cannot tell the parent we run");
		close(ready);
	}

	for (;;) {
		sig = sigtimedwait(&set, &si, &tick);
		if (sig == -1 && errno != EAGAIN && errno != EINTR)
			fatal("sigtimedwait");
		now = time(NULL);
		switch (sig) {
		case SIGTERM:
		case SIGINT:
		case SIGQUIT:
			if (!stopping) {
				log_info("%s: stopping workers", strsignal(sig));
				stopping = 1;
				deadline = now + master_cfg->shutdown_timeout +
				    2;
				master_signal_workers(SIGTERM, SLOT_FREE);
			}
			break;
		case SIGHUP:
			if (stopping)
				break;
			log_info("SIGHUP: reloading");
			master_reload();
			break;
		case SIGUSR1:
			master_reopen();
			break;
		default:
			break;
		}
		running = master_reap(stopping);
		if (stopping) {
			/* The history process last: it keeps what the
			 * workers published to the end. */
			if (running == 0 && !master_hist_running())
				break;
			if (running == 0 && !hist_told) {
				master_hist_signal(SIGTERM);
				hist_told = 1;
			}
			if (now >= deadline) {
				log_warnx("%u workers still running; killing",
				    running);
				master_signal_workers(SIGKILL, SLOT_FREE);
				master_hist_signal(SIGKILL);
				deadline = now + 5;
			}
			continue;
		}
		master_expire();
		master_hist_tick(master_cfg, now, master_hist_child);
		for (k = 0; k < master_nworkers; k++)
			if (master_workers[k].slot == -1 &&
			    master_workers[k].respawn_at <= now)
				master_spawn(k);
	}
	for (k = 0; k < master_nworkers; k++) {
		if (master_workers[k].http_fd != -1)
			close(master_workers[k].http_fd);
		if (master_workers[k].line_fd != -1)
			close(master_workers[k].line_fd);
	}
	master_bus_close();
	log_info("stopped");
	if (master_cfg != cfg) {
		/* A reload replaced it: main() frees only its own. */
		cfg_clear(master_cfg);
		free(master_cfg);
	}
	return (0);
}
