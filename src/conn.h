/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * conn.h: the worker process's view of itself and of one client
 * connection.  Only worker.c, conn.c and static.c include it; the codecs
 * know nothing of connections or libevent.
 */

#ifndef WSCHATD_CONN_H
#define WSCHATD_CONN_H

#include <sys/stat.h>

#include <netinet/in.h>
#include <time.h>

#include "wschatd.h"

struct event_base;
struct event;
struct evconnlistener;
struct bufferevent;

TAILQ_HEAD(conn_list, conn);

struct worker {
	struct event_base	*base;
	struct cfg		*cfg;
	unsigned		 id;
	char			*webroot_real;	/* realpath of cfg->webroot */
	size_t			 webroot_len;
	struct evconnlistener	*http;
	struct evconnlistener	*line;
	struct event		*ev_term;
	struct event		*ev_int;
	struct event		*ev_stop;	/* shutdown deadline */
	struct event		*ev_retry;	/* re-enable accepts after EMFILE */
	struct conn_list	 conns;
	unsigned		 nconns;
	uint64_t		 next_id;
	int			 stopping;
	/* Date header, formatted once a second */
	time_t			 date_sec;
	char			 date[40];
};

enum conn_kind {
	CONN_HTTP,		/* HTTP, may become a WebSocket */
	CONN_LINE		/* the line-protocol port */
};

enum conn_state {
	CONN_S_HTTP,		/* reading requests */
	CONN_S_WS,		/* WebSocket open */
	CONN_S_CLOSING,		/* our close frame sent, waiting for theirs */
	CONN_S_LINE,		/* line protocol */
	CONN_S_FLUSH,		/* write what is queued, then shut down */
	CONN_S_LINGER		/* written and shut down; discard until EOF */
};

enum conn_endpoint {
	CONN_EP_NONE,
	CONN_EP_ECHO,		/* /echo */
	CONN_EP_CHAT		/* /ws: echoes until the hub lands */
};

struct conn {
	TAILQ_ENTRY(conn)	 entry;
	struct worker		*w;
	struct bufferevent	*bev;
	uint64_t		 id;
	char			 peer[INET6_ADDRSTRLEN + 8];
	enum conn_kind		 kind;
	enum conn_state		 state;
	enum conn_endpoint	 endpoint;
	int			 subproto;
	size_t			 http_scan;	/* head bytes already scanned */
	unsigned		 http_requests;
	unsigned		 read_paused:1,	/* backpressure: output too big */
				 ping_sent:1,
				 peer_eof:1,
				 dead:1;	/* free at the end of the callback */
	int			 in_cb;		/* callback nesting depth */
	struct ws_reader	 rd;
};

/* conn.c */
void		 conn_accept(struct worker *, int, struct sockaddr *, int,
		    enum conn_kind);
void		 conn_shutdown(struct conn *);
void		 conn_free(struct conn *);

/* static.c */
int		 static_open(const struct worker *, const char *, int *,
		    struct stat *);
const char	*static_http_date(time_t, char *, size_t);
time_t		 static_parse_date(const char *, size_t);

/* worker.c */
const char	*worker_date(struct worker *);
void		 worker_conn_gone(struct worker *);

#endif /* WSCHATD_CONN_H */
