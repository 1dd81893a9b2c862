/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * cfg.h: every setting of wschatd.conf, its default and its bounds, the
 * parsers of the values (addresses, address prefixes), and cfg_read(),
 * the whole reading: defaults, file, command-line overrides, checks.
 * Codec rules: no libevent, no sockets; errors come back through
 * char **cause.
 */

#ifndef WSCHATD_CFG_H
#define WSCHATD_CFG_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#ifndef WSCHATD_HISTORY
#define WSCHATD_HISTORY		"/usr/local/var/lib/wschatd/history.db"
#endif

#ifndef WSCHATD_CONFFILE
#define WSCHATD_CONFFILE	"/usr/local/etc/wschatd.conf"
#endif

struct cfg_addr {
	int			 off;		/* "off": no listener */
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			 text[80];	/* as the user wrote it */
};

struct cfg {
	unsigned	 workers;		/* 0: number of CPUs */
	struct cfg_addr	 listen;
	struct cfg_addr	 line_listen;
	char		*webroot;
	char		*pidfile;		/* NULL: none */
	char		*user;			/* workers run as; NULL: as is */
	char		*group;
	char		*log;			/* NULL: stderr with -f, else syslog */
	char		*log_level;
	unsigned	 log_client_rate;	/* lines about clients a second */
	int		 echo;			/* /echo enabled */
	int		 io_uring;		/* conn_uring.c */
	char		*allowed_origins;	/* space-separated; NULL: any */
	unsigned	 backlog;
	unsigned	 max_connections;	/* per worker; 0: fd limit */
	unsigned	 max_connections_per_ip; /* all workers; 0: none */
	uint64_t	 max_message_size;
	unsigned	 max_header_size;
	unsigned	 max_request_line;
	unsigned	 max_headers;
	unsigned	 max_line_length;	/* line protocol */
	unsigned	 max_text_length;	/* chat text, every protocol */
	uint64_t	 max_pending;		/* unsent bytes per connection */
	uint64_t	 max_pending_total;	/* unsent bytes per worker; 0: any */
	unsigned	 http_timeout;		/* seconds */
	unsigned	 handshake_timeout;	/* seconds for a request head */
	unsigned	 ping_interval;		/* seconds */
	unsigned	 pong_timeout;		/* seconds */
	unsigned	 close_timeout;		/* seconds */
	unsigned	 shutdown_timeout;	/* seconds */
	unsigned	 drain_timeout;		/* after a reload; 0: no limit */
	unsigned	 idle_timeout;		/* line port: seconds without chat;
					   0: never */
	unsigned	 ws_idle_timeout;	/* the same on /ws; 0: never */
	unsigned	 max_users;		/* names online, server-wide */
	unsigned	 max_rooms;		/* rooms besides lobby */
	unsigned	 max_who_page;		/* names in a paged who */
	unsigned	 command_rate;		/* login/rename/who... a minute */
	unsigned	 message_rate;		/* chat messages a second; 0: any */
	unsigned	 message_burst;		/* bucket size of message_rate */
	uint64_t	 bus_ring_size;		/* bytes of the bus's ring */
	int		 history;		/* keep history in the store */
	char		*history_file;
	char		*history_sync;		/* "normal" or "full" */
	unsigned	 history_flush;		/* ms between commits, at most */
	unsigned	 history_batch;		/* messages per commit, at most */
	uint64_t	 history_max_messages;	/* per room in the store; 0: any */
	unsigned	 history_max_age;	/* seconds; 0: forever */
	unsigned	 history_join;		/* messages after login, join */
	unsigned	 history_page_max;	/* messages per history reply */
	unsigned	 history_recent;	/* per room in a worker's memory */
	unsigned	 history_private;	/* private ones in memory */
	uint64_t	 history_memory;	/* bytes of memory per worker */
	unsigned	 resume_timeout;	/* seconds a lost session lasts */
	unsigned	 resume_max;		/* messages replayed on resume */
	int		 metrics;		/* /metrics enabled */
	char		*metrics_allow;		/* who may see it; NULL: any */
	/* Derived, not settings. */
	char		*conffile;		/* the file read, or NULL */
	int		 pidfile_set;		/* by the file or -o */
	uid_t		 uid;			/* of user; -1: no change */
	gid_t		 gid;			/* of group; -1: no change */
	int		 foreground;		/* -f */
	int		 debug;			/* -d */
};

/* An address prefix, as in metrics_allow. */
struct cfg_net {
	int		 family;		/* AF_INET or AF_INET6 */
	unsigned	 bits;
	uint8_t		 addr[16];		/* host bits zero */
};

/*
 * A setting from the command line, applied over the file: key and value
 * (-w is "workers", -l "listen", -L "line_listen"), or with key NULL a
 * "KEY=VALUE" in value (-o).  Both point at the caller's strings.
 */
struct cfg_override {
	const char	*key;
	const char	*value;
};

int		 cfg_read(struct cfg *, const char *,
		    const struct cfg_override *, size_t, char **);
void		 cfg_init(struct cfg *);
void		 cfg_clear(struct cfg *);
void		 cfg_foreground(struct cfg *, int);
int		 cfg_set(struct cfg *, const char *, const char *, char **);
int		 cfg_set_kv(struct cfg *, const char *, char **);
int		 cfg_load(struct cfg *, const char *, char **);
int		 cfg_parse(struct cfg *, const char *, const char *, size_t,
		    char **);
int		 cfg_check(const struct cfg *, char **);
int		 cfg_parse_addr(const char *, struct cfg_addr *, char **);
void		 cfg_addr_format(const struct sockaddr *, char *, size_t);
unsigned	 cfg_addr_port(const struct cfg_addr *);
int		 cfg_net_parse(const char *, struct cfg_net **, size_t *,
		    char **);
int		 cfg_net_match(const struct cfg_net *, size_t,
		    const struct sockaddr *);
void		 cfg_dump(const struct cfg *, void (*)(const char *, void *),
		    void *);

#endif /* WSCHATD_CFG_H */
