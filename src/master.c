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

static void
master_addr_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char	 host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const void *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(s4->sin_port));
	}
}

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
	master_addr_text(&ss, text, sizeof(text));
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
		worker_run(master_cfg, i, mw->http_fd, mw->line_fd);
		/* NOTREACHED */
	default:
		mw->pid = pid;
		mw->started = time(NULL);
		mw->respawn_at = 0;
		log_info("worker %u started, pid %d", i, (int)pid);
	}
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
	log_info("stopped");
	return (0);
}
