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
 * SIGTERM or SIGINT stop the workers gracefully and then the master.
 */

#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wschatd.h"
#include "chat.h"

struct master_worker {
	pid_t		 pid;		/* 0: not running */
	time_t		 started;
	time_t		 respawn_at;	/* when to fork it again */
	int		 http_fd;
	int		 line_fd;
};

static struct master_worker	 master_workers[WSCHATD_MAX_WORKERS];
static unsigned			 master_nworkers;
static struct cfg		*master_cfg;
static struct bus_shared	 master_bus;
static struct shm_presence_entry *master_gone;	/* a dead worker's names */

static unsigned
master_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return (ntohs(((const struct sockaddr_in6 *)ss)->sin6_port));
	return (ntohs(((const struct sockaddr_in *)ss)->sin_port));
}

/*
 * One listening socket per worker, all on the same address.  With port 0
 * the first socket picks the port and the others join it.
 */
static void
master_listen(const char *what, struct cfg_addr *a, int *fds, unsigned n)
{
	struct sockaddr_storage	 ss = a->ss;
	socklen_t		 sslen = a->sslen;
	char			 text[80];
	unsigned		 i;
	int			 fd, one = 1;

	/*
	 * SO_REUSEPORT would let a second wschatd (same user, same port)
	 * join our group and silently split the clients.  A plain socket
	 * cannot bind where a listener exists: try one first.
	 */
	if (master_port(&ss) != 0) {
		if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC,
		    0)) == -1)
			fatal("%s: socket", what);
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one));
		if (ss.ss_family == AF_INET6)
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			    sizeof(one));
		if (bind(fd, (struct sockaddr *)&ss, sslen) == -1)
			fatal("%s: bind %s", what, a->text);
		close(fd);
	}
	for (i = 0; i < n; i++) {
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd == -1)
			fatal("%s: socket", what);
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one)) == -1 ||
		    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
		    sizeof(one)) == -1)
			fatal("%s: setsockopt", what);
		if (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
		    IPV6_V6ONLY, &one, sizeof(one)) == -1)
			fatal("%s: setsockopt IPV6_V6ONLY", what);
		if (bind(fd, (struct sockaddr *)&ss, sslen) == -1)
			fatal("%s: bind %s", what, a->text);
		if (listen(fd, (int)master_cfg->backlog) == -1)
			fatal("%s: listen %s", what, a->text);
		if (i == 0 && getsockname(fd, (struct sockaddr *)&ss,
		    &sslen) == -1)
			fatal("%s: getsockname", what);
		fds[i] = fd;
	}
	cfg_addr_format((struct sockaddr *)&ss, text, sizeof(text));
	log_info("%s listening on %s (%u sockets)", what, text, n);
}

/* Connections are descriptors: allow as many as the hard limit does. */
static void
master_raise_nofile(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit RLIMIT_NOFILE");
	}
	log_info("file descriptor limit %llu",
	    (unsigned long long)rl.rlim_cur);
}

static void
master_spawn(unsigned i)
{
	struct master_worker	*mw = &master_workers[i];
	pid_t			 pid;
	unsigned		 j;

	switch ((pid = fork())) {
	case -1:
		log_warn("fork worker %u", i);
		mw->respawn_at = time(NULL) + 1;
		return;
	case 0:
		/* If the master dies without stopping us, stop anyway. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() == 1)
			_exit(0);
		/* Other workers' sockets are theirs alone. */
		for (j = 0; j < master_nworkers; j++) {
			if (j == i)
				continue;
			close(master_workers[j].http_fd);
			if (master_workers[j].line_fd != -1)
				close(master_workers[j].line_fd);
		}
		worker_run(master_cfg, i, mw->http_fd, mw->line_fd,
		    &master_bus);
		/* NOTREACHED */
	default:
		mw->pid = pid;
		mw->started = time(NULL);
		mw->respawn_at = 0;
		log_info("worker %u started, pid %d", i, (int)pid);
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
 * The shared region and one eventfd per worker, before any fork: every
 * worker, and every respawned one, inherits both.
 */
static void
master_bus_open(void)
{
	unsigned	 i, pslots;

	/* Twice the users, so that probe sequences stay short. */
	pslots = (unsigned)master_pow2((uint64_t)master_cfg->max_users * 2);
	if (shm_region_open(&master_bus.reg, master_nworkers,
	    master_cfg->bus_ring_size, pslots) == -1)
		fatal("shm_region_open");
	master_bus.nworkers = master_nworkers;
	master_gone = xcalloc(pslots, sizeof(*master_gone));
	for (i = 0; i < master_nworkers; i++)
		if ((master_bus.efd[i] = eventfd(0, EFD_NONBLOCK |
		    EFD_CLOEXEC)) == -1)
			fatal("eventfd");
	log_info("bus: %u rings of %llu bytes, %u presence slots, %zu bytes "
	    "shared", master_nworkers + 1,
	    (unsigned long long)master_cfg->bus_ring_size, pslots,
	    master_bus.reg.len);
}

static void
master_bus_close(void)
{
	unsigned	 i;

	for (i = 0; i < master_bus.nworkers; i++)
		close(master_bus.efd[i]);
	shm_region_close(&master_bus.reg);
	free(master_gone);
	master_gone = NULL;
}

/*
 * A worker died: free its names and tell everyone they left, on the
 * master's own ring, then wake every worker that sleeps.  Before the
 * respawn, so the new worker's claims are never mistaken for the old's.
 */
static void
master_bus_reap(unsigned worker)
{
	struct shm_ring			*ring;
	struct chat_env			 e;
	msgpack_sbuffer			 sb;
	size_t				 n, i;
	uint64_t			 one = 1;
	struct timespec			 ts;

	/* One call frees every slot of the worker; master_gone has room for
	 * all of them. */
	n = shm_presence_reap(&master_bus.reg, worker, master_gone,
	    master_bus.reg.hdr->sh_pslots);
	/* Relaxed: /metrics skips the slot from now on; no order needed. */
	atomic_store_explicit(&shm_region_stats(&master_bus.reg,
	    worker)->st_pid, 0, memory_order_relaxed);
	ring = shm_region_ring(&master_bus.reg, master_nworkers);
	msgpack_sbuffer_init(&sb);
	for (i = 0; i < n; i++) {
		memset(&e, 0, sizeof(e));
		e.type = CHAT_LOGOUT;
		e.from.p = e.content.p = master_gone[i].name;
		e.from.len = e.content.len = strlen(master_gone[i].name);
		e.peer.p = master_gone[i].peer;
		e.peer.len = strlen(master_gone[i].peer);
		clock_gettime(CLOCK_REALTIME, &ts);
		e.ts = (uint64_t)ts.tv_sec * 1000 +
		    (uint64_t)ts.tv_nsec / 1000000;
		e.id = shm_region_next_id(&master_bus.reg);
		e.worker = master_nworkers;	/* the master */
		e.kind = master_gone[i].kind;
		msgpack_sbuffer_clear(&sb);
		if (chat_env_encode(&e, &sb) == -1 ||
		    shm_ring_publish(&master_bus.reg, ring, sb.data,
		    sb.size) == SHM_ERR)
			log_warnx("worker %u: cannot announce the logout of %s",
			    worker, master_gone[i].name);
	}
	msgpack_sbuffer_destroy(&sb);
	if (n > 0)
		log_info("worker %u: %zu users logged out", worker, n);
	/* Seq_cst fence, then exchange: the Dekker pairing of bus.c. */
	atomic_thread_fence(memory_order_seq_cst);
	for (i = 0; i < master_nworkers; i++)
		if (atomic_exchange_explicit(&shm_region_wake(&master_bus.reg,
		    (unsigned)i)->sw_idle, 0, memory_order_seq_cst) == 1 &&
		    write(master_bus.efd[i], &one, sizeof(one)) == -1)
			log_warn("%s: write eventfd", __func__);
}

/* Reap every exited worker; returns how many are still running. */
static unsigned
master_reap(int stopping)
{
	struct master_worker	*mw;
	pid_t			 pid;
	int			 status;
	unsigned		 i, running = 0;
	time_t			 now = time(NULL);

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < master_nworkers; i++)
			if (master_workers[i].pid == pid)
				break;
		if (i == master_nworkers)
			continue;
		mw = &master_workers[i];
		mw->pid = 0;
		master_bus_reap(i);
		if (WIFSIGNALED(status))
			log_warnx("worker %u (pid %d) killed by signal %d%s",
			    i, (int)pid, WTERMSIG(status),
			    stopping ? "" : "; respawning");
		else if (WEXITSTATUS(status) != 0 || !stopping)
			log_warnx("worker %u (pid %d) exited with %d%s", i,
			    (int)pid, WEXITSTATUS(status),
			    stopping ? "" : "; respawning");
		else
			log_info("worker %u (pid %d) stopped", i, (int)pid);
		/* One that dies young waits a second: no fork storm. */
		if (!stopping)
			mw->respawn_at = now - mw->started < 1 ? now + 1 : now;
	}
	for (i = 0; i < master_nworkers; i++)
		if (master_workers[i].pid != 0)
			running++;
	return (running);
}

static void
master_signal_workers(int sig)
{
	unsigned	 i;

	for (i = 0; i < master_nworkers; i++)
		if (master_workers[i].pid != 0)
			kill(master_workers[i].pid, sig);
}

int
master_run(struct cfg *cfg, int foreground)
{
	int			 http_fds[WSCHATD_MAX_WORKERS];
	int			 line_fds[WSCHATD_MAX_WORKERS];
	sigset_t		 set;
	siginfo_t		 si;
	struct timespec		 tick = { 1, 0 };
	unsigned		 i, running;
	int			 sig, stopping = 0;
	time_t			 deadline = 0, now;

	master_cfg = cfg;
	master_nworkers = cfg->workers;
	log_procinit("master");
	master_raise_nofile();

	for (i = 0; i < master_nworkers; i++)
		http_fds[i] = line_fds[i] = -1;
	if (!cfg->listen.off)
		master_listen("http", &cfg->listen, http_fds, master_nworkers);
	if (!cfg->line_listen.off)
		master_listen("line", &cfg->line_listen, line_fds,
		    master_nworkers);
	for (i = 0; i < master_nworkers; i++) {
		master_workers[i].http_fd = http_fds[i];
		master_workers[i].line_fd = line_fds[i];
	}
	master_bus_open();

	/* Workers inherit this: they unblock once libevent catches them. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);

	log_info("%s %s starting %u workers", WSCHATD_NAME, WSCHATD_VERSION,
	    master_nworkers);
	for (i = 0; i < master_nworkers; i++)
		master_spawn(i);

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
				deadline = now + cfg->shutdown_timeout + 2;
				master_signal_workers(SIGTERM);
			}
			break;
		case SIGHUP:
			log_info("SIGHUP: reload is not supported yet; "
			    "restart to apply a new configuration");
			break;
		default:
			break;
		}
		running = master_reap(stopping);
		if (stopping) {
			if (running == 0)
				break;
			if (now >= deadline) {
				log_warnx("%u workers still running; killing",
				    running);
				master_signal_workers(SIGKILL);
				deadline = now + 5;
			}
			continue;
		}
		for (i = 0; i < master_nworkers; i++)
			if (master_workers[i].pid == 0 &&
			    master_workers[i].respawn_at <= now)
				master_spawn(i);
	}
	for (i = 0; i < master_nworkers; i++) {
		close(master_workers[i].http_fd);
		if (master_workers[i].line_fd != -1)
			close(master_workers[i].line_fd);
	}
	master_bus_close();
	log_info("stopped");
	return (0);
}
