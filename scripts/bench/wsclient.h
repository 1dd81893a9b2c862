/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * wsclient.h: the client side of RFC 6455 on libevent, shared by the load
 * generators in scripts/bench/ (wsbench.c, chatbench.c).  It runs their
 * connections from launch to close: many connections to one target,
 * opened at a bounded rate with a bounded number in flight and spread over
 * 127.0.0.x source addresses when one address would run out of ephemeral
 * ports; the upgrade made and checked, server frame headers parsed in
 * place, pings answered, closes exchanged, masked frames out, all with
 * the client codec of src/ws_client.h; failures and closes counted.  It
 * also runs the three phases of a run (connect, the program's run,
 * stop), the timers (launch tick, hard deadline, SIGINT/SIGTERM, grace
 * period for closes, SIGALRM watchdog) and keeps log-linear latency
 * histograms.
 *
 * The program owns what the connections are for: it embeds struct
 * wsclient_conn as the first member of its own connection struct, gives
 * wsclient_loop_new() the array of them and hooks (struct wsclient_ops),
 * reads the data frames, drives its run phase and prints the report.
 *
 * One process, one event loop, no threads: the state behind these
 * functions is file-static in wsclient.c.
 */

#ifndef WSCLIENT_H
#define WSCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "ws.h"
#include "ws_client.h"

/*
 * Default handshakes in flight: below 128, the backlog most servers get by
 * default (libevent's listen(fd, -1) included), so no listen queue can
 * overflow; an overflow costs the client a one-second SYN retransmit.
 */
#define WSCLIENT_INFLIGHT	100

enum wsclient_state {
	WSCLIENT_IDLE,		/* not launched yet */
	WSCLIENT_HANDSHAKE,	/* connecting, request sent, awaiting 101 */
	WSCLIENT_GREETING,	/* upgraded, awaiting the program's greeting */
	WSCLIENT_OPEN,		/* ready */
	WSCLIENT_CLOSING,	/* our close sent, awaiting the server's */
	WSCLIENT_DRAINING,	/* closes exchanged, awaiting the FIN */
	WSCLIENT_DONE
};

enum wsclient_phase {
	WSCLIENT_CONNECT,	/* launching connections */
	WSCLIENT_RUN,		/* all settled: the program's phase */
	WSCLIENT_STOP		/* closing everything */
};

/* Why a connection never got ready. */
enum wsclient_fail {
	WSCLIENT_F_CONNECT,
	WSCLIENT_F_TIMEOUT,
	WSCLIENT_F_STATUS,
	WSCLIENT_F_ACCEPT,
	WSCLIENT_F_EOF,
	WSCLIENT_F_GREETING,	/* in WSCLIENT_GREETING; named by the program */
	WSCLIENT_F_NOTSTARTED,
	WSCLIENT_F_MAX
};

/* Log-linear histogram: exact below 128, then 64 buckets per octave. */
#define WSCLIENT_H_SUB		6
#define WSCLIENT_H_BUCKETS	((64 - WSCLIENT_H_SUB + 1) << WSCLIENT_H_SUB)

struct wsclient_hist {
	uint64_t	 h_b[WSCLIENT_H_BUCKETS];
	uint64_t	 h_n;
	uint64_t	 h_sum;
	uint64_t	 h_min;
	uint64_t	 h_max;
};

/* The first member of a program's connection struct. */
struct wsclient_conn {
	struct bufferevent	*bev;		/* NULL once closed */
	uint32_t		 id;		/* its index in the array */
	enum wsclient_state	 state;
	int			 rx_op;		/* data message in progress */
	uint64_t		 t_start;	/* launched, wsclient_now() */
	struct ws_client_handshake hs;		/* the upgrade */
};

/* What to connect to, and how hard; see wsclient_target(). */
struct wsclient_target {
	const char	*host;
	const char	*port;
	const char	*path;
	unsigned	 conns;
	unsigned	 rate;		/* launches per second, 0: no limit */
	unsigned	 inflight;	/* most handshakes in flight */
	unsigned	 nsrc;		/* source addresses, 0: as needed */
	unsigned	 deadline;	/* seconds for the whole run */
	int		 quiet;		/* no notice when sources move */
};

/*
 * The program's hooks.  Each gets the connection as the struct it embeds
 * (the program casts it back) and runs in the event loop.
 */
struct wsclient_ops {
	/*
	 * The upgrade path of c, read once per request (the target's path
	 * with a query of its own, say).  NULL: the target's path.
	 */
	const char *(*path)(struct wsclient_conn *);
	/*
	 * The upgrade succeeded.  Calls wsclient_conn_ready(), or moves the
	 * connection to WSCLIENT_GREETING to wait for a greeting of the
	 * program's (which then calls wsclient_conn_ready()).  NULL: ready.
	 */
	void	(*upgraded)(struct wsclient_conn *);
	/*
	 * Data frame f (a server's: f->opcode, f->fin, f->len, f->hdrlen)
	 * starts in; its payload is at wsclient_frame_payload().  Consumes
	 * the frame from in and returns 0, or returns -1 if more bytes are
	 * needed (nothing consumed) or the connection was freed.  Tracks
	 * fragmentation in rx_op (the opcode, 0 after the last frame), which
	 * the next header is checked against.
	 */
	int	(*data)(struct wsclient_conn *, const struct ws_frame *,
		    struct evbuffer *);
	/* The server closed (answered already) or reset an open connection. */
	void	(*lost)(struct wsclient_conn *);
	/*
	 * The connection's socket is gone (state WSCLIENT_DONE): release what
	 * the program hangs on it.  Comes again for every connection at the
	 * end of wsclient_run(), so it must be idempotent.
	 */
	void	(*freed)(struct wsclient_conn *);
	/* Every connection is ready or failed: the run phase begins. */
	void	(*run)(void);
	/* Nonzero once the run phase is over: stop. */
	int	(*finished)(void);
};

/* The run so far: read only. */
struct wsclient_stats {
	uint64_t		 t0;		/* the first launch */
	uint64_t		 t_run;		/* run (or stop) began */
	unsigned		 ready;		/* connections that got ready */
	unsigned		 failed;	/* never did */
	unsigned		 fail[WSCLIENT_F_MAX];	/* why */
	unsigned		 closed_early;	/* server closed or reset one */
	unsigned		 closed_clean;	/* our close answered */
	unsigned		 closed_unclean; /* our close not answered */
	uint64_t		 proto_errors;
	uint64_t		 pings;		/* from the server */
	int			 first_errno;
	int			 deadline_hit;
	int			 interrupted;	/* signals */
	struct wsclient_hist	 ready_ns;	/* launch to ready */
};

/*
 * Name the program (for messages, the watchdog and User-Agent) and the
 * usage function wsclient_num() calls on a bad number; seed the run's
 * random numbers from the time and the pid.  Keeps prog, does not copy it.
 * Call first, before the options are parsed.
 */
void		 wsclient_init(const char *, void (*)(void));
/* Print "prog: message" and a newline on stderr. */
void		 wsclient_warnx(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
/*
 * Parse the decimal option argument s for option what; at most max.
 * Returns it, or warns and calls the usage function (which must not
 * return).
 */
unsigned	 wsclient_num(const char *, unsigned long long, const char *);

/*
 * The options both programs take, into t: -c conns, -h host, -k inflight,
 * -p port, -q (quiet).  Returns 1 if ch was one of them (a bad number
 * calls the usage function), 0 if not.  arg is kept, not copied.
 */
int		 wsclient_option(int, char *, struct wsclient_target *);

/* Monotonic time in nanoseconds. */
uint64_t	 wsclient_now(void);
/* splitmix64's finaliser: a cheap bijective mixer. */
uint64_t	 wsclient_mix(uint64_t);
/* The run's seed, set by wsclient_init(): differs from run to run. */
uint64_t	 wsclient_seed(void);
/* The next pseudo-random number: masks and keys, varied, not secret. */
uint64_t	 wsclient_random(void);

void		 wsclient_hist_init(struct wsclient_hist *);
void		 wsclient_hist_add(struct wsclient_hist *, uint64_t);
/* The value at quantile q (0..1): a bucket's midpoint, within min..max. */
uint64_t	 wsclient_hist_quantile(const struct wsclient_hist *, double);
/* Quantile q, maximum and mean of a histogram of nanoseconds, in us. */
double		 wsclient_hist_us(const struct wsclient_hist *, double);
double		 wsclient_hist_max_us(const struct wsclient_hist *);
double		 wsclient_hist_mean_us(const struct wsclient_hist *);

/* This process's user and system CPU time so far, in seconds. */
void		 wsclient_cpu(double *, double *);

/*
 * Prepare this process for a run against t (its strings are kept, not
 * copied): SIGPIPE ignored, a SIGALRM watchdog that exits 3 at the
 * deadline + 15 s, the descriptor limit raised to the hard limit.
 * Resolves the target and, for a 127.x target, chooses the source
 * addresses: t->nsrc of them if not 0, else enough to leave half of each
 * one's ephemeral ports free.  Warns and exits 2 if the limit is short or
 * the target does not resolve.  Call once, after wsclient_init().
 */
void		 wsclient_target(const struct wsclient_target *);
/* "host:port", "[v6]:port" for an IPv6 literal. */
const char	*wsclient_hostport(void);
/* Source addresses in use (1 when not spreading). */
unsigned	 wsclient_sources(void);

/*
 * Take the program's connections: conns is an array of the target's
 * number of structs of size bytes, zeroed, each starting with a struct
 * wsclient_conn (their ids are set here); ops are the program's hooks.
 * Both stay the program's and must outlive the run.  Makes the event
 * loop with the common timers pending and returns it, for the program's
 * own events; warns and exits 2 if libevent fails.  Call once, after
 * wsclient_target().
 */
struct event_base *wsclient_loop_new(void *, size_t,
		    const struct wsclient_ops *);
/*
 * The run: launch, let the program run, stop; returns once every
 * connection is closed, the grace period is over or a second signal
 * came.  Connections still closing then count as unanswered; all are
 * freed.  The program then reports from wsclient_stats().
 */
void		 wsclient_run(void);
/* Move to the next phase if this one is complete. */
void		 wsclient_check(void);
/*
 * Stop the run: connections not ready fail, open ones get a close frame;
 * the loop ends when all are closed, or 5 s later.  Does nothing the
 * second time.
 */
void		 wsclient_stop(void);
enum wsclient_phase wsclient_phase(void);
const struct wsclient_stats *wsclient_stats(void);
/*
 * If any connection failed, print "  failures: connect N, ..." and the
 * first error; greeting names WSCLIENT_F_GREETING, NULL to leave it out.
 */
void		 wsclient_fail_print(const char *);

/*
 * c is ready: no longer in flight, counted, timed into ready_ns, no
 * more timeouts; state WSCLIENT_OPEN.
 */
void		 wsclient_conn_ready(struct wsclient_conn *);
/* c never got ready, why (an enum wsclient_fail), errno err or 0: free it. */
void		 wsclient_conn_fail(struct wsclient_conn *, int, int);
/* c broke the protocol: count it, warn the first time, free it. */
void		 wsclient_conn_abort(struct wsclient_conn *, const char *);

/*
 * The payload of data frame f at the start of in, or NULL if not all of
 * it is there yet.  Valid until in changes; consumes nothing.
 */
uint8_t		*wsclient_frame_payload(struct evbuffer *,
		    const struct ws_frame *);
/*
 * Mask and queue a frame on bev.  Its len payload bytes are at buf +
 * WS_HEADER_MAX: the header goes just before them and the payload is
 * masked in place (bufferevent_write() copies; buf is the caller's).
 */
void		 wsclient_frame_write(struct bufferevent *, int, uint8_t *,
		    uint64_t);
/* The same with a copy of payload: control frames, len <= 125. */
void		 wsclient_frame_send(struct bufferevent *, int,
		    const uint8_t *, size_t);

#endif /* WSCLIENT_H */
