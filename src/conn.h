/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * conn.h: one client connection in a worker.  conn.c owns its lifetime
 * (accept, output, flush, linger, backpressure, timeouts, release); the
 * protocol it speaks is a struct conn_proto that conn.c calls through:
 * conn_http.c (requests, static files, /metrics, the upgrade), conn_ws.c
 * (a WebSocket session), conn_line.c (the line port).  conn_ip.c counts
 * connections per client address.  hub.c reads a connection's core fields
 * (id, peer, dead, fmt) and its own part, c->chat, and acts on it only
 * through conn_send() and conn_hangup(); the codecs never see one.
 */

#ifndef WSCHATD_CONN_H
#define WSCHATD_CONN_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <stdint.h>
#include <time.h>

#include "cfg.h"
#include "hub.h"
#include "ws.h"

struct bufferevent;
struct evbuffer;
struct evbuffer_cb_info;
struct worker;
struct conn;
struct conn_ip;
struct conn_uring;

TAILQ_HEAD(conn_list, conn);

/*
 * A frame on a connection's output queue (conn_out.c): the worker keeps
 * them in one array, reused every loop iteration; a connection's queue is
 * a list of indices into it.
 */
struct conn_ref {
	struct ws_out		*o;
	uint32_t		 next;		/* or CONN_Q_END */
};
#define CONN_Q_END	UINT32_MAX
/* Most bytes one write(2) of an evbuffer takes (libevent's: 16 KiB). */
#define CONN_MAX_WRITE	(1024 * 1024)
/* Frames per writev(2): IOV_MAX is 1024 here; 64 frames fill a socket. */
#define CONN_IOV	64
/* Past this many, frames go into the evbuffers (copied): 16 MiB. */
#define CONN_REFS_MAX	(1U << 20)
/* A pass over the bus ends once it has queued this many (worker.c). */
#define CONN_REFS_PASS	(1U << 16)

/* A worker's connections: conn.c's part of struct worker. */
struct conn_set {
	struct conn_list	 all;
	unsigned		 n;
	struct conn_list	 pending;	/* output to write this iteration */
	uint64_t		 out_total;	/* unsent bytes, live conns */
	uint64_t		 next_id;
	struct conn_ref		*refs;		/* the output queues */
	uint32_t		 nrefs, refcap;
	struct conn_uring	*uring;		/* conn_uring.c, or NULL */
};

/*
 * What a connection speaks.  conn.c calls these; NULL means the default
 * said at each.  Each protocol file has one (or two) of them.
 */
struct conn_proto {
	const char	*name;
	unsigned	 stkind;	/* counted in st_conns[stkind] */
	unsigned	 msgkind;	/* st_msgs_in/out[msgkind] */
	/* Input is waiting in the bufferevent's input buffer. */
	void		(*read)(struct conn *);
	/* The peer was quiet for the read timeout.  NULL: close. */
	void		(*read_timeout)(struct conn *);
	/* The peer half-closed.  NULL: answer what is queued, then close. */
	void		(*eof)(struct conn *);
	/* End it from our side (hub, rate limits).  NULL: conn_flush(). */
	void		(*hangup)(struct conn *, uint16_t, const char *);
	/* The worker stops.  NULL: as eof. */
	void		(*shutdown)(struct conn *);
	/* We are ending it: leave what it joined.  NULL: nothing. */
	void		(*leave)(struct conn *);
	/* Once a second, with the monotonic time in ms.  NULL: nothing. */
	void		(*tick)(struct conn *, uint64_t);
	/* c is being freed: free what the protocol holds.  NULL: nothing. */
	void		(*clear)(struct conn *);
};

enum conn_state {
	CONN_S_HTTP,		/* reading requests */
	CONN_S_WS,		/* WebSocket open */
	CONN_S_CLOSING,		/* our close frame sent, waiting for theirs */
	CONN_S_LINE,		/* line protocol */
	CONN_S_FLUSH,		/* write what is queued, then shut down */
	CONN_S_LINGER		/* written and shut down; discard until EOF */
};

struct conn {
	TAILQ_ENTRY(conn)	 entry;
	TAILQ_ENTRY(conn)	 pend_entry;	/* on w->conns.pending */
	struct worker		*w;
	struct bufferevent	*bev;
	const struct conn_proto	*proto;
	uint64_t		 id;
	char			 peer[INET6_ADDRSTRLEN + 8];
	enum conn_state		 state;
	unsigned		 stkind;	/* counted in st_conns[stkind] */
	size_t			 in_left;	/* input left after processing */
	/* conn_out.c's; hot, so kept here, not asked of libevent. */
	int			 fd;
	uint32_t		 q_first, q_last; /* output queue */
	int			 in_cb;		/* callback nesting depth */
	size_t			 q_bytes;
	size_t			 buffered;	/* in the evbuffer */
	unsigned		 read_paused:1,	/* backpressure: output too big */
				 ping_sent:1,
				 peer_eof:1,
				 dead:1,	/* free at the end of the callback */
				 reap_scheduled:1, /* its free is an event */
				 direct:1,	/* we write; EV_WRITE only if stuck */
				 wr_armed:1,	/* direct, and EV_WRITE is on */
				 pending:1;	/* on w->conns.pending */
	/* The chat (hub.c): fmt is CHAT_FMT_NONE unless it chats. */
	enum chat_fmt		 fmt;
	struct conn_ip		*ip;		/* its address's count, or NULL */
	/*
	 * The protocol's state: a connection is one of them at a time (an
	 * upgrade ends its HTTP part).  Every idle WebSocket pays for the
	 * largest, so the rest share its room.
	 */
	union {
		struct {			/* conn_http.c */
			size_t	 scan;		/* head bytes already scanned */
			unsigned requests;
			uint64_t head_deadline;	/* ms, monotonic */
		}			 http;
		struct ws_reader	 ws;	/* conn_ws.c */
		struct chat_line_reader	 line;	/* conn_line.c */
	}			 rd;
	struct hub_member	 chat;	/* hub.c */
};

/* conn.c */
struct conn	*conn_new(struct worker *, int, const struct sockaddr *,
		    const struct conn_proto *, enum conn_state, int *);
void		 conn_refuse(struct worker *, int, int, const char *, size_t);
void		 conn_enter(struct conn *);
void		 conn_leave(struct conn *);
void		 conn_close(struct conn *, const char *);
void		 conn_flush(struct conn *);
void		 conn_closing(struct conn *);
void		 conn_free(struct conn *);
void		 conn_set_proto(struct conn *, const struct conn_proto *,
		    enum conn_state);
void		 conn_set_timeouts(struct conn *, unsigned, unsigned);
void		 conn_backpressure(struct conn *);
void		 conn_hangup(struct conn *, uint16_t, const char *);
void		 conn_shutdown(struct conn *);
void		 conn_sweep(struct worker *);
void		 conn_set_clear(struct worker *);
void		 conn_drained(struct conn *);

/* conn_out.c */
void		 conn_direct(struct conn *);
void		 conn_queue(struct conn *, struct ws_out *);
void		 conn_send(struct conn *, struct ws_out *);
size_t		 conn_out_len(struct conn *);
void		 conn_flush_pending(struct worker *);
void		 conn_unpend(struct conn *);
void		 conn_out_cb(struct evbuffer *, const struct evbuffer_cb_info *,
		    void *);
void		 conn_out_buffer(struct conn *);
void		 conn_out_drop(struct conn *);
void		 conn_out_clear(struct worker *);
/* conn_out.c, for conn_uring.c */
struct iovec;
int		 conn_out_iov(struct conn *, struct iovec *, int, size_t *);
int		 conn_out_took(struct conn *, size_t, size_t);
int		 conn_out_ready(struct conn *);
void		 conn_out_write(struct conn *);
void		 conn_out_wrote(struct conn *, int);

/* conn_uring.c: writes with io_uring, where it is built and enabled. */
void		 conn_uring_init(struct worker *);
void		 conn_uring_flush(struct worker *);
void		 conn_uring_free(struct worker *);

/* conn_ip.c: connections per client address (max_connections_per_ip). */
struct conn_ip_set {
	struct conn_ip		**buckets;
	int			 full_logged;
};

struct conn_ip	*conn_ip_get(struct worker *, const struct sockaddr *, int *);
void		 conn_ip_put(struct worker *, struct conn_ip *);
void		 conn_ip_clear(struct worker *);

/* conn_http.c: conn_http.c's part of struct worker. */
struct conn_http_site {
	char			*webroot_real;	/* realpath of cfg->webroot */
	size_t			 webroot_len;
	struct cfg_net		*metrics_nets;	/* metrics_allow; NULL: any */
	size_t			 metrics_nnets;
	time_t			 date_sec;	/* Date header, once a second */
	char			 date[40];
};

void		 conn_http_init(struct worker *);
void		 conn_http_clear(struct worker *);
void		 conn_http_accept(struct worker *, int, struct sockaddr *);

/* conn_ws.c */
void		 conn_ws_open(struct conn *, enum chat_fmt);

/* conn_line.c */
void		 conn_line_accept(struct worker *, int, struct sockaddr *);

/* static.c: files below the web root, and HTTP dates. */
int		 static_open(const struct conn_http_site *, const char *,
		    int *, struct stat *);
const char	*static_http_date(time_t, char *, size_t);
time_t		 static_parse_date(const char *, size_t);

#endif /* WSCHATD_CONN_H */
