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
#include "shm.h"
#include "chat.h"

struct event_base;
struct event;
struct evconnlistener;
struct bufferevent;

TAILQ_HEAD(conn_list, conn);

struct hub_room;
struct conn_ip;

struct worker {
	struct event_base	*base;
	struct cfg		*cfg;
	unsigned		 id;
	char			*webroot_real;	/* realpath of cfg->webroot */
	size_t			 webroot_len;
	struct cfg_net		*metrics_nets;	/* metrics_allow; NULL: any */
	size_t			 metrics_nnets;
	struct evconnlistener	*http;
	struct evconnlistener	*line;
	struct event		*ev_term;
	struct event		*ev_int;
	struct event		*ev_stop;	/* shutdown deadline */
	struct event		*ev_retry;	/* re-enable accepts after EMFILE */
	struct conn_list	 conns;
	unsigned		 nconns;
	struct conn_ip		**ipbuckets;	/* max_connections_per_ip */
	int			 ipc_full_logged;
	uint64_t		 out_total;	/* unsent bytes, live conns */
	struct conn_list	 pending;	/* output to write this iteration */
	uint64_t		 next_id;
	int			 stopping;
	int			 retiring;	/* replaced by a reload */
	struct event		*ev_retire;	/* SIGUSR2: retire */
	struct event		*ev_reopen;	/* SIGUSR1: reopen the log */
	struct event		*ev_quit;	/* SIGQUIT: as SIGTERM */
	struct event		*ev_drain;	/* drain_timeout */
	/* the bus (bus.c) */
	struct bus_shared	*bus;
	struct shm_ring		*ring;		/* ours, as producer */
	struct shm_cursor	 cursors[WSCHATD_MAX_SLOTS + 1];
	uint8_t			*rec;		/* one record, read */
	size_t			 recsz;
	msgpack_sbuffer		 sbuf;		/* one record, written */
	struct event		*ev_wake;	/* our eventfd */
	struct event		*ev_sweep;	/* idle timeouts */
	int			 published;	/* this loop iteration */
	unsigned		 drain_first;	/* ring a drain pass starts at */
	/* the hub (hub.c) */
	struct hub_room		**rooms;
	size_t			 nroombuckets;
	struct conn		**byid;		/* logged-in conns by id */
	size_t			 nidbuckets;
	size_t			 nbyid;
	struct chat_str		*ulist;		/* user_list scratch */
	struct shm_presence_entry *plist;
	size_t			 plistsz;
	size_t			 nplist;	/* names in plist and ulist */
	uint64_t		 plist_gen;	/* presence generation of plist */
	int			 plist_ok;	/* plist holds that generation */
	struct shm_stats	*st;		/* our counters, in the region */
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
	CONN_EP_CHAT		/* /ws or the line port: the chat (hub.c) */
};

struct conn {
	TAILQ_ENTRY(conn)	 entry;
	TAILQ_ENTRY(conn)	 pend_entry;	/* on w->pending */
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
	unsigned		 stkind;	/* counted in st_conns[stkind] */
	size_t			 in_left;	/* input left after processing */
	unsigned		 read_paused:1,	/* backpressure: output too big */
				 ping_sent:1,
				 peer_eof:1,
				 dead:1,	/* free at the end of the callback */
				 reap_scheduled:1, /* its free is an event */
				 direct:1,	/* we write; EV_WRITE only if stuck */
				 pending:1;	/* on w->pending */
	int			 in_cb;		/* callback nesting depth */
	struct conn_ip		*ip;		/* its address's count, or NULL */
	uint64_t		 head_deadline;	/* ms, monotonic: handshake_timeout */
	struct ws_reader	 rd;
	/* chat (hub.c) */
	TAILQ_ENTRY(conn)	 room_entry;
	struct hub_room		*room;
	struct conn		*id_next;	/* byid hash chain */
	time_t			 last_active;	/* last chat activity */
	time_t			 rl_start;	/* command_rate window */
	unsigned		 rl_count;
	uint64_t		 mr_tokens;	/* message_rate bucket, 1/1000s */
	uint64_t		 mr_last;	/* ms, monotonic: last refill */
	unsigned		 mr_dropped;	/* messages dropped in a row */
	uint32_t		 pslot;		/* presence slot when logged in */
	unsigned		 logged_in:1;
	uint8_t			 namelen;
	char			 name[SHM_NAME_MAX + 1];
};

/* conn.c */
void		 conn_send(struct conn *, struct ws_out *);
void		 conn_ws_close_with(struct conn *, uint16_t, const char *);
void		 conn_hangup(struct conn *, uint16_t, const char *);
void		 conn_accept(struct worker *, int, struct sockaddr *, int,
		    enum conn_kind);
void		 conn_shutdown(struct conn *);
void		 conn_free(struct conn *);
void		 conn_sweep(struct worker *);
void		 conn_flush_pending(struct worker *);

/* bus.c */
int		 bus_attach(struct worker *);
void		 bus_wake_read(int);
void		 bus_detach(struct worker *);
int		 bus_publish(struct worker *, const struct chat_env *);
int		 bus_drain(struct worker *);
void		 bus_wake_flush(struct worker *);
int		 bus_idle(struct worker *);
void		 bus_busy(struct worker *);

/* hub.c */
void		 hub_init(struct worker *);
void		 hub_clear(struct worker *);
void		 hub_open(struct conn *);
void		 hub_close(struct conn *);
void		 hub_message(struct conn *, int, uint8_t *, size_t);
void		 hub_line(struct conn *, const char *, size_t);
size_t		 hub_deliver(struct worker *, const struct chat_env *);
void		 hub_lost(struct worker *, uint64_t);
void		 hub_sweep(struct worker *);

/* static.c */
int		 static_open(const struct worker *, const char *, int *,
		    struct stat *);
const char	*static_http_date(time_t, char *, size_t);
time_t		 static_parse_date(const char *, size_t);

/* worker.c */
const char	*worker_date(struct worker *);
void		 worker_conn_gone(struct worker *);

#endif /* WSCHATD_CONN_H */
