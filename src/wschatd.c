/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * wschatd.c: main.  Reads the command line: -c and the settings it
 * overrides (-w -l -L -o, which win over the file), for cfg_read() now
 * and for the master to read again on SIGHUP; tests the configuration
 * (-t, -d); takes the pidfile (pidfile.c), which -f does only if one is
 * configured; lets the master bind its sockets while errors still reach
 * the terminal; detaches unless -f; and hands over to the master
 * (master.c), which forks the workers.
 */

#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wschatd.h"
#include "cfg.h"
#include "master.h"
#include "pidfile.h"

/* -w -l -L -o options on one command line. */
#define WSCHATD_MAX_OVERRIDES	256

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: " WSCHATD_NAME " [-dfhtv] [-c file] [-w workers] "
	    "[-l addr:port]\n"
	    "               [-L addr:port|off] [-o key=value]\n"
	    "  -c file        configuration file (default "
	    WSCHATD_CONFFILE ", if it exists)\n"
	    "  -d             debug logging; with -t, print every setting\n"
	    "  -f             stay in the foreground; log to stderr, and no "
	    "pidfile,\n"
	    "                 unless log or pidfile is set\n"
	    "  -t             test the configuration and exit\n"
	    "  -w N           number of workers (default: number of CPUs)\n"
	    "  -l ADDR:PORT   HTTP/WebSocket listen address\n"
	    "  -L ADDR:PORT   line-protocol listen address, or off\n"
	    "  -o KEY=VALUE   set a configuration key (repeatable)\n"
	    "  -v             print the version and exit\n"
	    "  -h             this help\n");
}

static void
wschatd_dump_line(const char *line, void *arg)
{
	printf("%s\n", line);
}

/*
 * -t: can the listeners bind?  A port in use is an error, unless the
 * wschatd named by the pidfile holds it (checking before a reload).
 */
static int
wschatd_test_listen(const struct cfg *cfg)
{
	const struct cfg_addr	*a[2] = { &cfg->listen, &cfg->line_listen };
	const char		*what[2] = { "listen", "line_listen" };
	pid_t			 running;
	int			 i, fd, one = 1, bad = 0, error;

	for (i = 0; i < 2; i++) {
		if (a[i]->off || cfg_addr_port(a[i]) == 0)
			continue;
		if ((fd = socket(a[i]->ss.ss_family, SOCK_STREAM |
		    SOCK_CLOEXEC, 0)) == -1)
			continue;
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one));
		if (bind(fd, (const struct sockaddr *)&a[i]->ss,
		    a[i]->sslen) == -1) {
			/* Asking the pidfile sets errno of its own. */
			error = errno;
			if (error == EADDRINUSE && (running =
			    pidfile_running(cfg->pidfile)) != 0)
				fprintf(stderr, "%s: %s %s: in use by the "
				    "running wschatd (pid %d)\n", WSCHATD_NAME,
				    what[i], a[i]->text, (int)running);
			else {
				fprintf(stderr, "%s: %s %s: %s\n",
				    WSCHATD_NAME, what[i], a[i]->text,
				    strerror(error));
				bad = 1;
			}
		}
		close(fd);
	}
	return (bad ? -1 : 0);
}

/*
 * -t: could the pidfile be taken?  Only the one this run would take: with
 * -f, none unless configured (cfg_foreground).
 */
static int
wschatd_test_pidfile(const struct cfg *cfg)
{
	char	*cause = NULL;

	if (cfg->pidfile == NULL || pidfile_check(cfg->pidfile, &cause) == 0)
		return (0);
	fprintf(stderr, "%s: %s\n", WSCHATD_NAME, cause);
	free(cause);
	return (-1);
}

/*
 * Detach: fork, and let the parent exit only once the child says it runs
 * (a byte on a pipe), with 0; or 1 if the child died first -- so that an
 * init script learns whether the start worked.  The child gets a new
 * session, / as its directory, /dev/null as stdin/stdout/stderr.
 */
static int
wschatd_daemonize(void)
{
	int	 fds[2], fd, status;
	char	 c;
	pid_t	 pid;
	ssize_t	 n;

	if (pipe2(fds, O_CLOEXEC) == -1)
		fatal("pipe");
	switch ((pid = fork())) {
	case -1:
		fatal("fork");
	case 0:
		break;
	default:
		close(fds[1]);
		master_block_signals(1);	/* Ctrl-C still ends the wait */
		while ((n = read(fds[0], &c, 1)) == -1 && errno == EINTR)
			;
		if (n == 1)
			_exit(0);
		/* It died before it ran. */
		waitpid(pid, &status, 0);
		fprintf(stderr, "%s: the daemon exited before it was ready; "
		    "see its log\n", WSCHATD_NAME);
		_exit(1);
	}
	close(fds[0]);
	if (setsid() == -1)
		fatal("setsid");
	if (chdir("/") == -1)
		fatal("chdir /");
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return (fds[1]);
}

int
main(int argc, char *argv[])
{
	/* Borrowed by the master until master_run() returns. */
	struct cfg_override	 ov[WSCHATD_MAX_OVERRIDES];
	size_t			 nov = 0;
	const char		*conffile = NULL;	/* NULL: the default */
	struct cfg		 cfg;
	char			*cause = NULL, *line, *last;
	const char		*dest;
	int			 ch, foreground = 0, test = 0, debug = 0;
	int			 ready = -1, rv;

	log_init(0);
	while ((ch = getopt(argc, argv, "c:dfhl:L:o:tvw:")) != -1) {
		switch (ch) {
		case 'c':
			conffile = optarg;
			break;
		case 'd':
			debug++;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'h':
			usage(stdout);
			return (0);
		case 't':
			test = 1;
			break;
		case 'v':
			printf("%s %s\n", WSCHATD_NAME, WSCHATD_VERSION);
			return (0);
		case 'l':
		case 'L':
		case 'o':
		case 'w':
			if (nov == WSCHATD_MAX_OVERRIDES) {
				fprintf(stderr, "%s: too many options\n",
				    WSCHATD_NAME);
				return (2);
			}
			ov[nov].key = ch == 'w' ? "workers" : ch == 'l' ?
			    "listen" : ch == 'L' ? "line_listen" : NULL;
			ov[nov++].value = optarg;
			break;
		default:
			usage(stderr);
			return (2);
		}
	}
	if (optind != argc) {
		usage(stderr);
		return (2);
	}
	log_init(debug);

	if (cfg_read(&cfg, conffile, ov, nov, &cause) == -1)
		goto bad;
	cfg_foreground(&cfg, foreground);
	if (debug)
		cfg.debug = 1;
	if (test) {
		if (debug)
			cfg_dump(&cfg, wschatd_dump_line, NULL);
		/* Every reason a start would fail, not only the first. */
		rv = wschatd_test_listen(&cfg);
		if (wschatd_test_pidfile(&cfg) == -1 || rv == -1) {
			cfg_clear(&cfg);
			return (1);
		}
		fprintf(stderr, "%s: configuration ok\n",
		    cfg.conffile ? cfg.conffile : "built-in defaults");
		cfg_clear(&cfg);
		return (0);
	}

	master_block_signals(0);
	if (cfg.pidfile != NULL && pidfile_open(cfg.pidfile, &cause) == -1)
		goto bad;
	dest = cfg.log ? cfg.log : foreground ? "stderr" : "syslog";
	if (log_open(dest, log_level_parse(debug ? "debug" :
	    cfg.log_level)) == -1) {
		xasprintf(&cause, "log %s: %s", dest, strerror(errno));
		goto bad;
	}
	/* Sockets and the bus now, while errors still reach the terminal. */
	log_stderr_too(1);
	master_setup(&cfg, conffile, ov, nov);
	if (!foreground)
		ready = wschatd_daemonize();
	if (pidfile_write() == -1)
		fatal("pidfile %s", cfg.pidfile);
	log_stderr_too(0);
	rv = master_run(&cfg, ready);
	pidfile_remove();
	cfg_clear(&cfg);
	return (rv);
bad:
	/* One error a line (cfg_parse reports every bad line). */
	for (line = strtok_r(cause, "\n", &last); line != NULL;
	    line = strtok_r(NULL, "\n", &last))
		fprintf(stderr, "%s: %s\n", WSCHATD_NAME, line);
	free(cause);
	pidfile_close();
	cfg_clear(&cfg);
	return (1);
}
