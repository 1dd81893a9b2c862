/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * wschatd.c: main.  Reads the command line and the optional configuration
 * file (flags win over the file), checks the result, detaches unless -f,
 * and hands over to the master (master.c), which forks the workers.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wschatd.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: " WSCHATD_NAME " [-dfhtv] [-c file] [-w workers] "
	    "[-l addr:port]\n"
	    "               [-L addr:port|off] [-o key=value]\n"
	    "  -c file        configuration file (wschatd.conf(5))\n"
	    "  -d             debug logging\n"
	    "  -f             stay in the foreground, log to stderr\n"
	    "  -t             test the configuration and exit\n"
	    "  -w N           number of workers (default: number of CPUs)\n"
	    "  -l ADDR:PORT   HTTP/WebSocket listen address\n"
	    "  -L ADDR:PORT   line-protocol listen address, or off\n"
	    "  -o KEY=VALUE   set a configuration key (repeatable)\n"
	    "  -v             print the version and exit\n"
	    "  -h             this help\n");
}

struct wschatd_override {
	char	 kind;		/* 'w', 'l', 'L', 'o' */
	char	*arg;
};

static void
wschatd_dump_line(const char *line, void *arg)
{
	printf("%s\n", line);
}

static void
wschatd_daemonize(void)
{
	int	 fd;

	switch (fork()) {
	case -1:
		fatal("fork");
	case 0:
		break;
	default:
		_exit(0);
	}
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
}

int
main(int argc, char *argv[])
{
	struct cfg			 cfg;
	struct wschatd_override		 ov[256];
	const char			*conffile = NULL;
	char				*cause = NULL, real[PATH_MAX];
	struct stat			 st;
	size_t				 nov = 0, i;
	long				 ncpu;
	int				 ch, foreground = 0, test = 0, debug = 0;
	int				 rv = 0;

	log_init(1, 0);
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
			if (nov == sizeof(ov) / sizeof(ov[0]))
				fatalx("too many options");
			ov[nov].kind = (char)ch;
			ov[nov++].arg = optarg;
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
	log_setverbose(debug);

	cfg_init(&cfg);
	if (conffile != NULL && cfg_load(&cfg, conffile, &cause) == -1)
		goto bad;
	/* Flags override the file, in the order given. */
	for (i = 0; i < nov; i++) {
		switch (ov[i].kind) {
		case 'w':
			rv = cfg_set(&cfg, "workers", ov[i].arg, &cause);
			break;
		case 'l':
			rv = cfg_set(&cfg, "listen", ov[i].arg, &cause);
			break;
		case 'L':
			rv = cfg_set(&cfg, "line_listen", ov[i].arg, &cause);
			break;
		case 'o':
			rv = cfg_set_kv(&cfg, ov[i].arg, &cause);
			break;
		}
		if (rv == -1)
			goto bad;
	}
	if (cfg_check(&cfg, &cause) == -1)
		goto bad;
	errno = 0;
	if (cfg.webroot == NULL || realpath(cfg.webroot, real) == NULL ||
	    stat(real, &st) == -1 || !S_ISDIR(st.st_mode)) {
		xasprintf(&cause, "webroot %s: %s", cfg.webroot ? cfg.webroot :
		    "(unset)", errno ? strerror(errno) : "not a directory");
		goto bad;
	}
	if (cfg.workers == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		cfg.workers = ncpu < 1 ? 1 : ncpu > WSCHATD_MAX_WORKERS ?
		    WSCHATD_MAX_WORKERS : (unsigned)ncpu;
	}
	if (test) {
		if (debug)
			cfg_dump(&cfg, wschatd_dump_line, NULL);
		fprintf(stderr, "%s: configuration ok\n",
		    conffile ? conffile : "built-in defaults");
		cfg_clear(&cfg);
		return (0);
	}

	if (!foreground) {
		log_init(0, debug);
		wschatd_daemonize();
	}
	rv = master_run(&cfg, foreground);
	cfg_clear(&cfg);
	return (rv);
bad:
	fprintf(stderr, "%s: %s\n", WSCHATD_NAME, cause);
	free(cause);
	cfg_clear(&cfg);
	return (1);
}
