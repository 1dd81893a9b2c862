/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * chatbench.c: a chat fan-out load generator, for wschatd's /ws endpoint
 * and for plain WebSocket broadcast servers (the peers of compare.sh).
 * One process and one libevent loop open many client connections (real
 * RFC 6455 handshakes, Sec-WebSocket-Accept checked, as in wsbench.c) and
 * wait until every one is ready: upgraded (-M raw), greeted with the
 * chat's "handshake" message (-M text), or also logged in (-M chat), and
 * with rooms (-G) also in its room: "joined" (-M text and chat), or asked
 * for in the upgrade URL, PATH?room=r<k> (-M raw).  Then it waits until
 * the server has gone quiet (login and join announcements drained)
 * and the first few connections, the senders, send for -D seconds (or -m
 * messages each), at a set rate or as fast as a window of messages in
 * flight allows.  Every message goes to every connection, the sender
 * included; with rooms (-G), to every connection of the sender's room
 * only.  Every connection reads everything (fragments, pings, closes),
 * checks each sender's sequence numbers (no gap, no duplicate, no
 * reordering) and the payload, counts deliveries and times each one from
 * the send time the payload carries into one log-linear histogram.  Given
 * the server's PIDs (-P) it reads their CPU time over the send phase and
 * their RSS before and after connecting from /proc.  The run ends by
 * itself (everything delivered, nothing delivered for a while, or a hard
 * deadline) and prints a summary whose last line is machine-readable.
 * Connecting, handshakes, framing, closes, the phases of the run and its
 * timers are wsclient.c's, shared with wsbench.c: this file has the
 * greeting, the messages and the report.  Starting and watching the
 * servers is left to the scripts next to it (compare.sh, chat-fanout.sh).
 *
 * A payload is "S<sender>:<seq>:<ns>:" padded with 'x' to -z bytes, <ns>
 * its send time in nanoseconds since the run began: only [A-Za-z0-9:],
 * so wschatd's compact JSON carries it without escapes and a byte scan for
 * "content":" finds it.  The JSON messages of the /ws chat are parsed no
 * further than that.  -M raw takes a text message to be payloads joined
 * by newlines, as the gorilla hub's writePump joins what it has queued:
 * each counts as a delivery, and the report tells frames from messages.
 */

/* memmem(3).  configure defines it too (AC_USE_SYSTEM_EXTENSIONS). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	1
#endif

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netdb.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "wsclient.h"

#define CHATBENCH_PATH		"/ws"
#define CHATBENCH_STALL		5	/* s without a delivery: give up */
#define CHATBENCH_MSG_MAX	(64U << 20)	/* largest message accepted */
#define CHATBENCH_RATE_MAX	4096	/* -r: most messages in flight */
#define CHATBENCH_TICK_US	1000	/* -r: pacing timer */
#define CHATBENCH_QUIET_MS	250	/* no chatter this long: send */
#define CHATBENCH_WINDOW	8
#define CHATBENCH_DEADLINE	60
#define CHATBENCH_PIDS		16	/* most server processes, -P */
#define CHATBENCH_LOGIN_MAX	64	/* -M chat: the login command */
#define CHATBENCH_ROOMS_MAX	100000	/* -G */

enum chatbench_mode {
	CHATBENCH_TEXT,		/* raw text to wschatd, JSON "user" back */
	CHATBENCH_CHAT,		/* JSON login and "user" both ways */
	CHATBENCH_RAW		/* raw text both ways: broadcast servers */
};

static const char *const chatbench_modes[] = { "text", "chat", "raw" };
static const char chatbench_greeting[] = "{\"type\":\"handshake\"";
static const char chatbench_login[] = "{\"type\":\"login\"";
static const char chatbench_ckey[] = "\"content\":\"";
static const char chatbench_user_head[] = "{\"type\":\"user\",\"content\":\"";
static const char chatbench_user_tail[] = "\"}";
static const char chatbench_system[] = "{\"type\":\"system\"";
static const char chatbench_joined_key[] = "\"content\":\"joined\"";
static const char chatbench_code[] = "\"code\":\"";

/* -M text/chat: what a connection waits for before it is ready. */
enum chatbench_step {
	CHATBENCH_GREETING,	/* the chat's "handshake" */
	CHATBENCH_LOGIN,	/* -M chat: the login event with our name */
	CHATBENCH_JOIN		/* -G: "joined" our room */
};

/* What one receiver knows about one sender. */
/*
 * What a receiver has seen of one sender: everything below t_next but the
 * holes, skipped numbers not seen since.  The first CHATBENCH_GAPS runs of
 * holes are kept as ranges, so that a number arriving late is told from
 * one arriving twice; past that (t_lost) a number below t_next is taken
 * to fill a hole while t_holes says some are left.
 */
#define CHATBENCH_GAPS	4

struct chatbench_track {
	uint32_t	 t_next;	/* next sequence number due */
	uint32_t	 t_holes;	/* skipped ones not seen since */
	uint8_t		 t_ngaps;
	uint8_t		 t_lost;	/* holes not in t_gap */
	struct {
		uint32_t lo, hi;	/* [lo, hi) */
	}		 t_gap[CHATBENCH_GAPS];
};

struct chatbench_conn {
	struct wsclient_conn	 wc;		/* first: wsclient's part */
	struct evbuffer		*frag;		/* a fragmented message */
	struct chatbench_track	*track;		/* one per sender of its room */
	enum chatbench_step	 step;		/* -M text/chat: before ready */
	int			 inlobby;	/* ready before the run */
	int			 closed_early;	/* by the server, while open */
	char			 local[64];	/* as the server's "from" */
	int			 complete;	/* counted in st.complete */
	uint64_t		 accepted;	/* chat messages, each once */
	uint64_t		 tx_seq;	/* sender: messages sent */
};

/* Server processes named by -P: CPU ticks and RSS summed over them. */
struct chatbench_srv {
	double		 cpu;		/* utime + stime, s */
	double		 sys;		/* stime alone, s */
	double		 rss;		/* VmRSS, bytes */
	double		 anon;		/* RssAnon, bytes: without file and
					 * shared-memory pages */
};

static struct {
	struct wsclient_target	 t;	/* -c -d -h -k -p -q */
	enum chatbench_mode	 mode;
	unsigned		 senders;
	uint64_t		 msgs;
	double			 rate;		/* messages/s per sender */
	double			 total_rate;	/* -R */
	unsigned		 window;
	size_t			 size;
	unsigned		 stall;
	unsigned		 duration;	/* -D: s of sending, 0: -m */
	unsigned		 hold;		/* -H: s between ready and send */
	unsigned		 logins;	/* -M chat: the first N log in */
	int			 logins_set;
	unsigned		 rooms;		/* -G: 0, one room: everyone */
	int			 npids;
	pid_t			 pids[CHATBENCH_PIDS];
	int			 verbose;
} opt = {
	{ "127.0.0.1", "8080", CHATBENCH_PATH, 100, 0, WSCLIENT_INFLIGHT, 0,
	    CHATBENCH_DEADLINE, 0 },
	CHATBENCH_TEXT, 1, 1000, 0, 0, CHATBENCH_WINDOW, 64, CHATBENCH_STALL,
	0, 0, 0, 0, 0, 0, { 0 }, 0
};

static struct {
	unsigned	 nsenders;	/* senders among the ready */
	unsigned	 complete;	/* receivers with everything, or gone */
	unsigned	 logged_in;
	int		 sending;	/* the send phase has begun */
	int		 send_over;	/* and ended: st.sent is final */
	uint64_t	 sent;
	uint64_t	 frames;	/* data messages in the send phase */
	uint64_t	 deliveries;	/* chat messages received, all */
	uint64_t	 accepted;	/* each (receiver, message) once */
	uint64_t	 gaps;		/* sequence jumps forward */
	uint64_t	 late;		/* a skipped one arriving after all */
	uint64_t	 dups;		/* seen before */
	uint64_t	 corrupt;	/* ours, but wrong length or padding */
	uint64_t	 foreign;	/* content that is not ours */
	uint64_t	 misrouted;	/* -G: from a sender of another room */
	uint64_t	 other;		/* messages without content */
	uint64_t	 deferred;	/* -r: sends put off, too many out */
	uint64_t	 t_send;	/* the send phase began */
	uint64_t	 t_send_end;	/* the last message was sent */
	uint64_t	 t_end;		/* all delivered, or given up */
	uint64_t	 t_last_rx;
	uint64_t	 t_last_other;	/* last message that was no delivery */
	double		 own_cpu0, own_cpu1;
	struct chatbench_srv	 srv_start, srv_ready, srv_send, srv_end;
	int		 srv_gone;	/* a server process vanished */
	int		 stalled;
} st;

static struct event_base	*chatbench_base;
static struct chatbench_conn	*chatbench_conns;
static struct chatbench_track	*chatbench_tracks;
static unsigned			 chatbench_nrooms = 1;	/* -G, at least 1 */
static unsigned			 chatbench_ntracks;	/* per connection */
static uint64_t			*chatbench_room_sent;	/* per room */
static unsigned			*chatbench_room_ready;	/* per room */
static uint8_t			*chatbench_txbuf;
static struct event		*chatbench_pace_ev, *chatbench_watch_ev;
static struct event		*chatbench_settle_ev, *chatbench_end_ev;
static struct wsclient_hist	 chatbench_lat;

static void	chatbench_sent_check(void);

static void __attribute__((noreturn))
chatbench_usage(void)
{
	fprintf(stderr,
"usage: chatbench [-qv] [-h host] [-p port] [-u path] [-M mode] [-c conns]\n"
"                 [-s senders] [-D seconds | -m msgs] [-r rate | -R rate]\n"
"                 [-w window] [-z size] [-l logins] [-G rooms] [-H seconds]\n"
"                 [-P pid,...] [-d seconds] [-k inflight] [-t seconds]\n"
"  -h HOST      server address (127.0.0.1)\n"
"  -p PORT      server port (8080)\n"
"  -u PATH      WebSocket path (/ws)\n"
"  -M MODE      text: raw text to wschatd's chat, JSON back (default);\n"
"               chat: JSON both ways, connections log in first;\n"
"               raw: raw text both ways (plain broadcast servers;\n"
"               newline-joined messages in one frame count one by one)\n"
"  -c CONNS     connections, all of them receivers (100)\n"
"  -s SENDERS   the first SENDERS connections also send (1)\n"
"  -D SECONDS   send for this long (0: until -m messages are sent)\n"
"  -m MSGS      messages per sender (1000; no limit with -D)\n"
"  -r RATE      messages per second per sender, 0 = as fast as the\n"
"               window allows (0)\n"
"  -R RATE      messages per second, all senders together\n"
"  -w WINDOW    -r 0: most messages of a sender sent but not yet back\n"
"               at that sender (%d)\n"
"  -z SIZE      bytes of payload per message (64)\n"
"  -l LOGINS    -M chat: only the first LOGINS connections log in (all)\n"
"  -G ROOMS     connection i is in room r<i %% ROOMS> and gets the messages\n"
"               of that room's senders only: it joins it (-M text, chat)\n"
"               or asks for PATH?room=r<k> (-M raw); none: one room\n"
"  -H SECONDS   wait this long between ready and sending (0)\n"
"  -P PIDS      the server's processes, comma-separated: their CPU time\n"
"               over the send phase and RSS per connection\n"
"  -d SECONDS   hard deadline for the whole run (%d)\n"
"  -k INFLIGHT  most handshakes in flight at once (%d)\n"
"  -t SECONDS   stop when nothing was delivered for this long (%d)\n"
"  -q           print only the machine-readable last line\n"
"  -v           print progress once a second (on stderr)\n",
	    CHATBENCH_WINDOW, CHATBENCH_DEADLINE, WSCLIENT_INFLIGHT,
	    CHATBENCH_STALL);
	exit(2);
}

static int
chatbench_is_sender(const struct chatbench_conn *c)
{
	return (c->wc.id < opt.senders);
}

/*
 * -G: the room of connection (or sender) id; 0 for all without -G.
 * Sender s is the (s / rooms)th of its room: its track's index there.
 */
static unsigned
chatbench_room(unsigned id)
{
	return (id % chatbench_nrooms);
}

static struct chatbench_track *
chatbench_track(struct chatbench_conn *c, unsigned s)
{
	return (&c->track[s / chatbench_nrooms]);
}

/*
 * One process's RssAnon, bytes, or 0.  RSS counts the pages of shared
 * memory a server touched once (wschatd's presence table, 4 MiB by
 * default): a fixed cost, not one per connection.  RssAnon leaves those
 * and the file pages out.
 */
static double
chatbench_srv_anon(pid_t pid)
{
	char			 path[64], line[256];
	unsigned long long	 kb = 0;
	FILE			*f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return (0);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "RssAnon: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return ((double)kb * 1024);
}

/* -P: one process's utime + stime and VmRSS, added to *s; -1 if gone. */
static int
chatbench_srv_add(pid_t pid, struct chatbench_srv *s, long hz, long page)
{
	char			 path[64], buf[1024], *p;
	unsigned long long	 ut, stime, rss;
	FILE			*f;
	size_t			 n;
	int			 i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold anything: fields count from its ")". */
	if ((p = strrchr(buf, ')')) == NULL)
		return (-1);
	p++;
	/* utime and stime are fields 14 and 15, rss 24; ")" ends field 2. */
	for (i = 3; i < 14 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p, " %llu %llu", &ut, &stime) != 2)
		return (-1);
	for (; i < 24 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p, " %llu", &rss) != 1)
		return (-1);
	s->cpu += (double)(ut + stime) / hz;
	s->sys += (double)stime / hz;
	s->rss += (double)rss * page;
	s->anon += chatbench_srv_anon(pid);
	return (0);
}

/* -P: the server's processes now, summed. */
static void
chatbench_srv_sample(struct chatbench_srv *s)
{
	static long	 hz, page;
	int		 i;

	if (hz == 0) {
		hz = sysconf(_SC_CLK_TCK);
		page = sysconf(_SC_PAGESIZE);
	}
	memset(s, 0, sizeof(*s));
	for (i = 0; i < opt.npids; i++)
		if (chatbench_srv_add(opt.pids[i], s, hz, page) == -1)
			st.srv_gone = 1;
}

static double
chatbench_own_cpu(void)
{
	double	 u, s;

	wsclient_cpu(&u, &s);
	return (u + s);
}

/* Counted as done: it has everything, or it never will. */
static void
chatbench_conn_complete(struct chatbench_conn *c)
{
	if (!c->complete) {
		c->complete = 1;
		st.complete++;
	}
}

/* After the send phase: c has every message sent, or is gone. */
static void
chatbench_conn_check(struct chatbench_conn *c)
{
	if (st.send_over && (c->accepted >=
	    chatbench_room_sent[chatbench_room(c->wc.id)] ||
	    c->wc.state != WSCLIENT_OPEN || !c->inlobby))
		chatbench_conn_complete(c);
}

/* The send phase is over; the measurement ends with the last delivery. */
static void
chatbench_send_end(void)
{
	unsigned	 i;

	if (st.send_over)
		return;
	st.send_over = 1;
	st.t_send_end = wsclient_now();
	event_del(chatbench_pace_ev);
	for (i = 0; i < opt.t.conns; i++)
		chatbench_conn_check(&chatbench_conns[i]);
}

/* The end of the measurement: all delivered, or given up waiting. */
static void
chatbench_measure_end(void)
{
	if (st.t_end != 0 || !st.sending)
		return;
	st.t_end = wsclient_now();
	st.own_cpu1 = chatbench_own_cpu();
	chatbench_srv_sample(&st.srv_end);
}

/* wsclient's lost hook: the server closed or reset an open connection. */
static void
chatbench_lost(struct wsclient_conn *wc)
{
	struct chatbench_conn	*c = (struct chatbench_conn *)wc;

	c->closed_early = 1;
	chatbench_conn_complete(c);
	if (chatbench_is_sender(c))
		chatbench_sent_check();
}

/* wsclient's freed hook.  The struct stays: it is in chatbench_conns. */
static void
chatbench_freed(struct wsclient_conn *wc)
{
	struct chatbench_conn	*c = (struct chatbench_conn *)wc;

	if (c->frag != NULL) {
		evbuffer_free(c->frag);
		c->frag = NULL;
	}
	chatbench_conn_complete(c);
}

/*
 * The next message of sender c: "S<id>:<seq>:<ns>:" and 'x' up to
 * opt.size, wrapped in a JSON "user" command for -M chat, built in place
 * after the room left for the frame header.
 */
static void
chatbench_send_msg(struct chatbench_conn *c)
{
	uint8_t		*p = chatbench_txbuf + WS_HEADER_MAX;
	size_t		 n, h = 0;

	if (opt.mode == CHATBENCH_CHAT) {
		h = sizeof(chatbench_user_head) - 1;
		memcpy(p, chatbench_user_head, h);
	}
	n = (size_t)snprintf((char *)p + h, 64, "S%u:%" PRIu64 ":%" PRIu64 ":",
	    c->wc.id, c->tx_seq, wsclient_now() - wsclient_stats()->t0);
	if (n < opt.size) {
		memset(p + h + n, 'x', opt.size - n);
		n = opt.size;
	}
	n += h;
	if (opt.mode == CHATBENCH_CHAT) {
		memcpy(p + n, chatbench_user_tail, 2);
		n += 2;
	}
	wsclient_frame_write(c->wc.bev, WS_OP_TEXT, chatbench_txbuf, n);
	c->tx_seq++;
	st.sent++;
	chatbench_room_sent[chatbench_room(c->wc.id)]++;
	if (c->tx_seq == opt.msgs)
		chatbench_sent_check();
}

/* Messages of c sent but not yet back at c. */
static uint64_t
chatbench_in_flight(const struct chatbench_conn *c)
{
	return (c->tx_seq - c->track[c->wc.id / chatbench_nrooms].t_next);
}

/* May c send now: still open, within -m and within the send phase. */
static int
chatbench_may_send(const struct chatbench_conn *c)
{
	return (st.sending && !st.send_over && c->wc.state == WSCLIENT_OPEN &&
	    c->tx_seq < opt.msgs);
}

/* -r 0: keep the window full. */
static void
chatbench_fill(struct chatbench_conn *c)
{
	while (chatbench_may_send(c) && chatbench_in_flight(c) < opt.window)
		chatbench_send_msg(c);
}

/* Without -D: the send phase ends once every sender sent -m messages. */
static void
chatbench_sent_check(void)
{
	unsigned	 i;

	if (opt.duration > 0 || st.send_over)
		return;
	for (i = 0; i < opt.senders && i < opt.t.conns; i++)
		if (chatbench_may_send(&chatbench_conns[i]))
			return;
	chatbench_send_end();
}

/* -r: send what is due by now, at most CHATBENCH_RATE_MAX in flight. */
static void
chatbench_pace_cb(evutil_socket_t fd, short what, void *arg)
{
	struct chatbench_conn	*c;
	uint64_t		 due;
	unsigned		 i;

	if (wsclient_phase() != WSCLIENT_RUN || st.send_over) {
		event_del(chatbench_pace_ev);
		return;
	}
	due = (uint64_t)((wsclient_now() - st.t_send) / 1e9 * opt.rate) + 1;
	for (i = 0; i < opt.senders && i < opt.t.conns; i++) {
		c = &chatbench_conns[i];
		while (chatbench_may_send(c) && c->tx_seq < due) {
			if (chatbench_in_flight(c) >= CHATBENCH_RATE_MAX) {
				st.deferred++;
				break;
			}
			chatbench_send_msg(c);
		}
	}
	chatbench_sent_check();
}

/* Our end's address, to find the connection in the server's log. */
static void
chatbench_local(struct chatbench_conn *c)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	char			 host[NI_MAXHOST], serv[NI_MAXSERV];

	if (getsockname(bufferevent_getfd(c->wc.bev), (struct sockaddr *)&ss,
	    &len) == -1 || getnameinfo((struct sockaddr *)&ss, len, host,
	    sizeof(host), serv, sizeof(serv), NI_NUMERICHOST |
	    NI_NUMERICSERV) != 0)
		return;
	snprintf(c->local, sizeof(c->local), ss.ss_family == AF_INET6 ?
	    "[%s]:%s" : "%s:%s", host, serv);
}

/* c is ready: counted in its room, and as a sender if it is one. */
static void
chatbench_ready(struct chatbench_conn *c)
{
	wsclient_conn_ready(&c->wc);
	c->inlobby = 1;
	chatbench_room_ready[chatbench_room(c->wc.id)]++;
	if (chatbench_is_sender(c))
		st.nsenders++;
}

/*
 * wsclient's path hook: -G -M raw asks for the room in the upgrade URL,
 * PATH?room=r<k>, as the peers of compare.sh take it.  The request is
 * encoded before the next call.
 */
static const char *
chatbench_path(struct wsclient_conn *wc)
{
	static char	 path[1024];

	if (opt.rooms == 0 || opt.mode != CHATBENCH_RAW)
		return (opt.t.path);
	snprintf(path, sizeof(path), "%s%croom=r%u", opt.t.path,
	    strchr(opt.t.path, '?') != NULL ? '&' : '?',
	    chatbench_room(wc->id));
	return (path);
}

/* wsclient's upgraded hook: the chat's greeting is due next. */
static void
chatbench_upgraded(struct wsclient_conn *wc)
{
	struct chatbench_conn	*c = (struct chatbench_conn *)wc;

	if (chatbench_is_sender(c))
		chatbench_local(c);
	if (opt.mode == CHATBENCH_RAW) {
		chatbench_ready(c);
		return;
	}
	/* Still in flight until the greeting: it bounds the server's work. */
	wc->state = WSCLIENT_GREETING;
}

/* Parse a decimal number of at most max digits at *pp; -1 if none. */
static int64_t
chatbench_number(const uint8_t **pp, const uint8_t *end, int max)
{
	const uint8_t	*p = *pp;
	int64_t		 v = 0;
	int		 n = 0;

	while (p < end && *p >= '0' && *p <= '9' && n < max) {
		v = v * 10 + (*p++ - '0');
		n++;
	}
	if (n == 0 || (n > 1 && **pp == '0'))
		return (-1);
	*pp = p;
	return (v);
}

/* Numbers [lo, hi) were skipped. */
static void
chatbench_gap(struct chatbench_track *t, uint32_t lo, uint32_t hi)
{
	if (t->t_ngaps == CHATBENCH_GAPS) {
		t->t_lost = 1;
		return;
	}
	t->t_gap[t->t_ngaps].lo = lo;
	t->t_gap[t->t_ngaps].hi = hi;
	t->t_ngaps++;
}

/*
 * seq, below t_next, came: 1 if it was a hole (now filled), 0 if it was
 * seen before.  Without a range for it, a hole while any are untracked.
 */
static int
chatbench_fill_hole(struct chatbench_track *t, uint32_t seq)
{
	unsigned	 i;
	uint32_t	 hi;

	for (i = 0; i < t->t_ngaps; i++) {
		if (seq < t->t_gap[i].lo || seq >= t->t_gap[i].hi)
			continue;
		hi = t->t_gap[i].hi;
		if (seq == t->t_gap[i].lo)
			t->t_gap[i].lo++;
		else if (seq == hi - 1)
			t->t_gap[i].hi--;
		else {
			/* The middle: split, or lose track of the rest. */
			t->t_gap[i].hi = seq;
			chatbench_gap(t, seq + 1, hi);
		}
		if (t->t_gap[i].lo == t->t_gap[i].hi)
			t->t_gap[i] = t->t_gap[--t->t_ngaps];
		return (1);
	}
	return (t->t_lost);
}

/* Sender s's message seq reached receiver c: check the order, count it. */
static void
chatbench_deliver(struct chatbench_conn *c, unsigned s, uint32_t seq,
    uint64_t now)
{
	struct chatbench_track	*t = chatbench_track(c, s);
	struct chatbench_conn	*sc = &chatbench_conns[s];

	st.deliveries++;
	st.t_last_rx = now;
	if (chatbench_room(s) != chatbench_room(c->wc.id)) {
		if (st.misrouted++ == 0)
			wsclient_warnx("conn %u (room r%u): message %u of "
			    "sender %u of room r%u", c->wc.id,
			    chatbench_room(c->wc.id), seq, s, chatbench_room(s));
		return;
	}
	if (seq >= sc->tx_seq) {
		st.foreign++;	/* never sent: not ours after all */
		return;
	}
	if (seq == t->t_next)
		t->t_next++;
	else if (seq > t->t_next) {
		if (st.gaps++ == 0)
			wsclient_warnx("conn %u: from sender %u message %u "
			    "after %u (gap)", c->wc.id, s, seq, t->t_next);
		chatbench_gap(t, t->t_next, seq);
		t->t_holes += seq - t->t_next;
		t->t_next = seq + 1;
	} else if (t->t_holes > 0 && chatbench_fill_hole(t, seq)) {
		if (st.late++ == 0)
			wsclient_warnx("conn %u: from sender %u message %u "
			    "after %u (late)", c->wc.id, s, seq, t->t_next - 1);
		t->t_holes--;
	} else {
		if (st.dups++ == 0)
			wsclient_warnx("conn %u: from sender %u message %u "
			    "again (duplicate)", c->wc.id, s, seq);
		return;
	}
	c->accepted++;
	st.accepted++;
	/* Our own, back: refill the window. */
	if (s == c->wc.id && opt.rate == 0)
		chatbench_fill(c);
	chatbench_conn_check(c);
}

/*
 * One payload of len bytes at p: "S<s>:<seq>:<ns>:" then 'x' up to
 * opt.size.  Counts it as a delivery, as corrupt or as not ours.
 */
static void
chatbench_payload(struct chatbench_conn *c, const uint8_t *p, size_t len,
    uint64_t now)
{
	const uint8_t	*q = p, *end = p + len;
	int64_t		 s, seq, ts;
	size_t		 want;

	if (q == end || *q++ != 'S' ||
	    (s = chatbench_number(&q, end, 10)) == -1 || q == end ||
	    *q++ != ':' || (seq = chatbench_number(&q, end, 10)) == -1 ||
	    q == end || *q++ != ':' ||
	    (ts = chatbench_number(&q, end, 18)) == -1 || q == end ||
	    *q++ != ':' || s >= opt.senders || s >= opt.t.conns ||
	    seq > UINT32_MAX) {
		st.foreign++;
		return;
	}
	/* The whole payload: our prefix, then 'x' up to the size sent. */
	want = (size_t)(q - p) < opt.size ? opt.size : (size_t)(q - p);
	if (len != want || (want > (size_t)(q - p) && (p[want - 1] != 'x' ||
	    *q != 'x'))) {
		if (st.corrupt++ == 0)
			wsclient_warnx("conn %u: message %" PRId64 " of "
			    "sender %" PRId64 " has the wrong content",
			    c->wc.id, seq, s);
		return;
	}
	ts += wsclient_stats()->t0;
	if ((uint64_t)ts <= now)
		wsclient_hist_add(&chatbench_lat, now - (uint64_t)ts);
	chatbench_deliver(c, (unsigned)s, (uint32_t)seq, now);
}

/* -G: ask to join c's room; the answer is "joined" with it. */
static void
chatbench_join(struct chatbench_conn *c)
{
	char	 cmd[64];
	int	 n;

	n = snprintf(cmd, sizeof(cmd), "{\"type\":\"join\",\"room\":\"r%u\"}",
	    chatbench_room(c->wc.id));
	wsclient_frame_send(c->wc.bev, WS_OP_TEXT, (uint8_t *)cmd, (size_t)n);
	c->step = CHATBENCH_JOIN;
}

/*
 * -G: 1 if message p is the "joined" answer for c's room, 0 if it is
 * something else (others' logins, joins and leaves), -1 if it is an
 * error (a system message with a code: server_full, rate_limited).
 */
static int
chatbench_joined(struct chatbench_conn *c, const uint8_t *p, size_t len)
{
	char	 room[32];
	int	 n;

	if (len < sizeof(chatbench_system) - 1 || memcmp(p, chatbench_system,
	    sizeof(chatbench_system) - 1) != 0)
		return (0);
	if (memmem(p, len, chatbench_code, sizeof(chatbench_code) - 1) !=
	    NULL)
		return (-1);
	n = snprintf(room, sizeof(room), "\"room\":\"r%u\"",
	    chatbench_room(c->wc.id));
	if (memmem(p, len, chatbench_joined_key,
	    sizeof(chatbench_joined_key) - 1) == NULL ||
	    memmem(p, len, room, (size_t)n) == NULL)
		return (0);
	return (1);
}

/*
 * -M text and chat, before c is ready: the greeting, then (-M chat) the
 * login event with our name, then (-G) the "joined" answer; everything
 * else on the way (others' logins, joins) is passed over.  Returns 1 if
 * the message was taken here, 0 if c is ready and it is for the caller,
 * -1 if the connection failed.
 */
static int
chatbench_greet(struct chatbench_conn *c, const uint8_t *p, size_t len)
{
	char	 name[CHATBENCH_LOGIN_MAX];
	int	 n;

	if (c->wc.state != WSCLIENT_GREETING)
		return (0);
	switch (c->step) {
	case CHATBENCH_GREETING:
		if (len < sizeof(chatbench_greeting) - 1 ||
		    memcmp(p, chatbench_greeting,
		    sizeof(chatbench_greeting) - 1) != 0) {
			wsclient_conn_fail(&c->wc, WSCLIENT_F_GREETING, 0);
			return (-1);
		}
		if (opt.mode == CHATBENCH_CHAT && c->wc.id < opt.logins) {
			n = snprintf(name, sizeof(name), "{\"type\":\"login\","
			    "\"content\":\"b%u\"}", c->wc.id);
			wsclient_frame_send(c->wc.bev, WS_OP_TEXT,
			    (uint8_t *)name, (size_t)n);
			c->step = CHATBENCH_LOGIN;
			return (1);
		}
		break;
	case CHATBENCH_LOGIN:
		/* Everyone's logins come by; ours names us. */
		n = snprintf(name, sizeof(name), "%sb%u\"", chatbench_ckey,
		    c->wc.id);
		if (len < sizeof(chatbench_login) - 1 ||
		    memcmp(p, chatbench_login,
		    sizeof(chatbench_login) - 1) != 0 ||
		    memmem(p, len, name, (size_t)n) == NULL)
			return (1);
		st.logged_in++;
		break;
	case CHATBENCH_JOIN:
		switch (chatbench_joined(c, p, len)) {
		case 0:
			return (1);
		case -1:
			wsclient_warnx("conn %u: join refused: %.*s", c->wc.id,
			    (int)(len < 200 ? len : 200), (const char *)p);
			wsclient_conn_fail(&c->wc, WSCLIENT_F_GREETING, 0);
			return (-1);
		}
		chatbench_ready(c);
		return (1);
	}
	if (opt.rooms > 0) {
		chatbench_join(c);
		return (1);
	}
	chatbench_ready(c);
	return (1);
}

/*
 * A complete text message.  Returns -1 if the connection was dropped.
 */
static int
chatbench_message(struct chatbench_conn *c, const uint8_t *p, size_t len)
{
	const uint8_t	*q, *end = p + len, *nl;
	uint64_t	 now = wsclient_now();
	size_t		 klen = sizeof(chatbench_ckey) - 1;
	int		 rv;

	if (opt.mode != CHATBENCH_RAW &&
	    (rv = chatbench_greet(c, p, len)) != 0) {
		st.t_last_other = now;
		return (rv == -1 ? -1 : 0);
	}
	/* The measurement's: not the logouts as the connections close. */
	if (st.sending && st.t_end == 0)
		st.frames++;
	if (opt.mode == CHATBENCH_RAW) {
		for (q = p; q < end; q = nl + 1) {
			if ((nl = memchr(q, '\n', (size_t)(end - q))) == NULL)
				nl = end;
			chatbench_payload(c, q, (size_t)(nl - q), now);
		}
		return (0);
	}
	/* wschatd's "user": the content string, ours without escapes. */
	if ((q = memmem(p, len, chatbench_ckey, klen)) == NULL ||
	    len < 14 || memcmp(p, "{\"type\":\"user\"", 14) != 0) {
		st.other++;
		st.t_last_other = now;
		return (0);
	}
	q += klen;
	if ((nl = memchr(q, '"', (size_t)(end - q))) == NULL)
		nl = end;
	chatbench_payload(c, q, (size_t)(nl - q), now);
	return (0);
}

/* wsclient's data hook: the greeting, or part of a chat message. */
static int
chatbench_data(struct wsclient_conn *wc, const struct ws_frame *f,
    struct evbuffer *in)
{
	struct chatbench_conn	*c = (struct chatbench_conn *)wc;
	uint8_t			*h;
	int			 op;

	if (f->len + (c->frag != NULL ? evbuffer_get_length(c->frag) : 0) >
	    CHATBENCH_MSG_MAX) {
		wsclient_conn_abort(wc, "message too large");
		return (-1);
	}
	if ((h = wsclient_frame_payload(in, f)) == NULL)
		return (-1);
	if (f->opcode == WS_OP_BINARY && f->fin) {
		st.other++;	/* not asked for: -msgpack */
		evbuffer_drain(in, f->hdrlen + f->len);
		return (0);
	}
	if (f->fin && f->opcode != WS_OP_CONT) {
		/* The usual case: one frame, parsed in place. */
		if (chatbench_message(c, h, f->len) == -1)
			return (-1);
		evbuffer_drain(in, f->hdrlen + f->len);
		return (0);
	}
	if (f->opcode != WS_OP_CONT) {
		wc->rx_op = f->opcode;
		if (c->frag == NULL && (c->frag = evbuffer_new()) == NULL) {
			wsclient_conn_abort(wc, "out of memory");
			return (-1);
		}
	}
	evbuffer_drain(in, f->hdrlen);
	evbuffer_remove_buffer(in, c->frag, f->len);
	if (!f->fin)
		return (0);
	h = evbuffer_pullup(c->frag, -1);
	op = wc->rx_op;
	wc->rx_op = 0;
	if (op == WS_OP_TEXT && chatbench_message(c, h,
	    evbuffer_get_length(c->frag)) == -1)
		return (-1);
	if (c->frag != NULL)
		evbuffer_drain(c->frag, evbuffer_get_length(c->frag));
	return (0);
}

/* -D: the send phase is over. */
static void
chatbench_end_cb(evutil_socket_t fd, short what, void *arg)
{
	chatbench_send_end();
	wsclient_check();
}

/* The server is quiet and -H is over: senders start. */
static void
chatbench_send_start(void)
{
	struct timeval	 tv = { 0, CHATBENCH_TICK_US };
	unsigned	 i;

	st.own_cpu0 = chatbench_own_cpu();
	chatbench_srv_sample(&st.srv_send);
	st.srv_ready = st.srv_send;
	st.t_send = st.t_last_rx = wsclient_now();
	st.sending = 1;
	if (!opt.t.quiet) {
		printf("chatbench: sending: %u senders, %.3f s after the "
		    "first connect\n", st.nsenders,
		    (st.t_send - wsclient_stats()->t0) / 1e9);
		fflush(stdout);
	}
	if (st.nsenders == 0 || (opt.msgs == 0 && opt.duration == 0)) {
		chatbench_send_end();
		wsclient_check();
		return;
	}
	if (opt.duration > 0) {
		tv.tv_sec = opt.duration;
		tv.tv_usec = 0;
		evtimer_add(chatbench_end_ev, &tv);
		tv.tv_sec = 0;
		tv.tv_usec = CHATBENCH_TICK_US;
	}
	if (opt.rate > 0) {
		event_add(chatbench_pace_ev, &tv);
		chatbench_pace_cb(-1, 0, NULL);
		return;
	}
	for (i = 0; i < opt.senders && i < opt.t.conns; i++)
		chatbench_fill(&chatbench_conns[i]);
	chatbench_sent_check();
}

/*
 * Every 10 ms before the send phase: once -H has passed since all were
 * ready and nothing but deliveries came for CHATBENCH_QUIET_MS (the
 * logins' announcements are through), start.
 */
static void
chatbench_settle_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t	 now = wsclient_now();

	if (wsclient_phase() != WSCLIENT_RUN) {
		event_del(chatbench_settle_ev);
		return;
	}
	if (now - wsclient_stats()->t_run < opt.hold * 1000000000ULL ||
	    now - st.t_last_other < CHATBENCH_QUIET_MS * 1000000ULL)
		return;
	event_del(chatbench_settle_ev);
	chatbench_send_start();
}

/* wsclient's run hook: everyone is ready; wait for quiet, then send. */
static void
chatbench_run(void)
{
	const struct wsclient_stats	*ws = wsclient_stats();
	struct timeval			 tv = { 0, 10000 };
	unsigned			 i;

	if (!opt.t.quiet) {
		printf("chatbench: %u of %u ready in %.3f s (%u failed)%s\n",
		    ws->ready, opt.t.conns, (ws->t_run - ws->t0) / 1e9,
		    ws->failed, opt.mode == CHATBENCH_CHAT ?
		    ", logged in" : "");
		fflush(stdout);
	}
	/* Connections that never got ready have nothing to wait for. */
	for (i = 0; i < opt.t.conns; i++)
		if (chatbench_conns[i].wc.state != WSCLIENT_OPEN)
			chatbench_conn_complete(&chatbench_conns[i]);
	event_add(chatbench_settle_ev, &tv);
}

/* wsclient's finished hook: everything sent and delivered. */
static int
chatbench_finished(void)
{
	if (st.send_over && st.complete == opt.t.conns) {
		chatbench_measure_end();
		return (1);
	}
	return (0);
}

/*
 * Once a second in the run: a server that delivers nothing has stalled,
 * and one that delivers across rooms does not do rooms.
 */
static void
chatbench_watch_cb(evutil_socket_t fd, short what, void *arg)
{
	if (wsclient_phase() != WSCLIENT_RUN || !st.sending)
		return;
	if (opt.verbose)
		wsclient_warnx("progress: %.1f s: %" PRIu64 " sent, %" PRIu64
		    " deliveries, %u of %u receivers complete",
		    (wsclient_now() - st.t_send) / 1e9, st.sent,
		    st.deliveries, st.complete, opt.t.conns);
	/*
	 * A server that ignores the rooms sends everyone everything: all
	 * rooms' load on every connection, for nothing.
	 */
	if (st.misrouted > 0) {
		chatbench_send_end();
		chatbench_measure_end();
		wsclient_warnx("the server does not keep to the rooms (%" PRIu64
		    " deliveries from another room's sender); stopping",
		    st.misrouted);
		wsclient_stop();
		return;
	}
	if (wsclient_now() - st.t_last_rx >=
	    (uint64_t)opt.stall * 1000000000ULL) {
		st.stalled = 1;
		chatbench_send_end();
		chatbench_measure_end();
		wsclient_warnx("nothing delivered for %u s (%" PRIu64
		    " sent, %u of %u receivers complete); stopping",
		    opt.stall, st.sent, st.complete, opt.t.conns);
		wsclient_stop();
	}
}

/* Set up the per-connection state: trackers for all. */
static void
chatbench_alloc(void)
{
	struct chatbench_conn	*c;
	unsigned		 i, ns = opt.senders < opt.t.conns ?
				    opt.senders : opt.t.conns;

	/* A receiver tracks the senders of its room only. */
	if (opt.rooms > 0)
		chatbench_nrooms = opt.rooms;
	chatbench_ntracks = (ns + chatbench_nrooms - 1) / chatbench_nrooms;
	/* Room for the frame head, the JSON around and a long prefix. */
	if ((chatbench_txbuf = malloc(WS_HEADER_MAX + opt.size + 128)) ==
	    NULL ||
	    (chatbench_conns = calloc(opt.t.conns, sizeof(*chatbench_conns))) ==
	    NULL || (ns > 0 && (chatbench_tracks = calloc((size_t)opt.t.conns *
	    chatbench_ntracks, sizeof(*chatbench_tracks))) == NULL) ||
	    (chatbench_room_sent = calloc(chatbench_nrooms,
	    sizeof(*chatbench_room_sent))) == NULL ||
	    (chatbench_room_ready = calloc(chatbench_nrooms,
	    sizeof(*chatbench_room_ready))) == NULL) {
		wsclient_warnx("out of memory");
		exit(2);
	}
	for (i = 0; i < opt.t.conns; i++) {
		c = &chatbench_conns[i];
		c->track = chatbench_tracks + (size_t)i * chatbench_ntracks;
	}
}

/* -P 123,456: the server's processes. */
static void
chatbench_pids(char *arg)
{
	char	*p;

	while ((p = strsep(&arg, ",")) != NULL) {
		if (*p == '\0')
			continue;
		if (opt.npids == CHATBENCH_PIDS) {
			wsclient_warnx("-P: at most %d processes",
			    CHATBENCH_PIDS);
			chatbench_usage();
		}
		opt.pids[opt.npids++] = (pid_t)wsclient_num(p, 4194304, "-P");
	}
}

/*
 * After a failed run: where each sender's messages got to, to tell a
 * sender that stopped from receivers that missed some.
 */
static void
chatbench_report_senders(void)
{
	struct chatbench_conn	*c, *r;
	struct chatbench_track	*t;
	uint64_t		 lo, behind, dropped;
	unsigned		 s, i, ns = opt.senders < opt.t.conns ?
				    opt.senders : opt.t.conns;

	printf("per sender (receivers of its room ready at the start "
	    "only):\n");
	for (s = 0; s < ns && s < 32; s++) {
		c = &chatbench_conns[s];
		lo = UINT64_MAX;
		behind = dropped = 0;
		for (i = chatbench_room(s); i < opt.t.conns;
		    i += chatbench_nrooms) {
			r = &chatbench_conns[i];
			t = chatbench_track(r, s);
			if (!r->inlobby)
				continue;
			if (t->t_next < lo)
				lo = t->t_next;
			if (t->t_next < c->tx_seq || t->t_holes > 0) {
				behind++;
				if (r->closed_early)
					dropped++;
			}
		}
		printf("  sender %u (%s): sent %" PRIu64 ", back at itself "
		    "%u; %" PRIu64 " receivers short of it (%" PRIu64 " of "
		    "them closed early), the furthest behind had %" PRIu64
		    "\n", s, c->local, c->tx_seq, chatbench_track(c, s)->t_next,
		    behind,
		    dropped, lo == UINT64_MAX ? 0 : lo);
	}
	if (ns > 32)
		printf("  (%u more senders not shown)\n", ns - 32);
}

/* The figures of the report, computed once. */
struct chatbench_result {
	uint64_t	 expected;
	uint64_t	 missing;
	double		 ratio;		/* accepted / expected */
	double		 win;		/* first send to last delivery, s */
	double		 rate;		/* deliveries/s over win */
	double		 send_s;	/* t_send to t_end, s */
	double		 srv_cpu;	/* server CPU s over send_s */
	double		 cpu_per_m;	/* ... per million deliveries */
	double		 rss_per_conn;	/* bytes */
	double		 anon_per_conn;	/* bytes */
	double		 srv_sys;	/* server system CPU s over send_s */
	double		 own_cpu;	/* ours over send_s, s */
	int		 ok;
};

static void
chatbench_result(struct chatbench_result *r)
{
	const struct wsclient_stats	*ws = wsclient_stats();
	unsigned			 k;

	memset(r, 0, sizeof(*r));
	chatbench_measure_end();
	/* Each room's messages, to each of its connections that got ready. */
	for (k = 0; k < chatbench_nrooms; k++)
		r->expected += chatbench_room_sent[k] *
		    chatbench_room_ready[k];
	r->missing = r->expected > st.accepted ? r->expected - st.accepted : 0;
	r->ratio = r->expected > 0 ? (double)st.accepted / r->expected : 0;
	r->win = st.deliveries > 0 && st.t_last_rx > st.t_send ?
	    (st.t_last_rx - st.t_send) / 1e9 : 0;
	r->rate = r->win > 0 ? st.accepted / r->win : 0;
	r->send_s = st.t_end > st.t_send ? (st.t_end - st.t_send) / 1e9 : 0;
	/* Nothing sent: no send phase to speak of, no CPU share of it. */
	if (st.sent == 0)
		r->send_s = 0;
	r->srv_cpu = st.srv_end.cpu - st.srv_send.cpu;
	r->cpu_per_m = st.accepted > 0 ? r->srv_cpu * 1e6 / st.accepted : 0;
	r->rss_per_conn = ws->ready > 0 ?
	    (st.srv_ready.rss - st.srv_start.rss) / ws->ready : 0;
	r->anon_per_conn = ws->ready > 0 ?
	    (st.srv_ready.anon - st.srv_start.anon) / ws->ready : 0;
	r->srv_sys = st.srv_end.sys - st.srv_send.sys;
	r->own_cpu = st.own_cpu1 - st.own_cpu0;
	r->ok = ws->failed == 0 && ws->closed_early == 0 &&
	    ws->closed_unclean == 0 && ws->proto_errors == 0 &&
	    r->missing == 0 && st.gaps == 0 && st.late == 0 && st.dups == 0 &&
	    st.corrupt == 0 && st.foreign == 0 && st.misrouted == 0 &&
	    st.sending &&
	    st.nsenders == (opt.senders < opt.t.conns ? opt.senders :
	    opt.t.conns) && !ws->deadline_hit && !st.stalled &&
	    !ws->interrupted && !st.srv_gone;
}

static void
chatbench_report(void)
{
	const struct wsclient_stats	*ws = wsclient_stats();
	struct chatbench_result		 r;
	double				 ucpu, scpu, wall;

	chatbench_result(&r);
	wsclient_cpu(&ucpu, &scpu);
	wall = (wsclient_now() - ws->t0) / 1e9;
	if (!opt.t.quiet) {
		printf("chatbench: ws://%s%s, -M %s: %u connections, %u "
		    "senders, %zu-byte payloads, ", wsclient_hostport(),
		    opt.t.path, chatbench_modes[opt.mode], opt.t.conns,
		    opt.senders, opt.size);
		if (opt.rooms > 0)
			printf("%u rooms, ", opt.rooms);
		if (opt.duration > 0)
			printf("%u s", opt.duration);
		else
			printf("%" PRIu64 " messages each", opt.msgs);
		if (opt.rate > 0)
			printf(" at %.1f messages/s each (%" PRIu64
			    " sends deferred)\n", opt.rate, st.deferred);
		else
			printf(", window %u\n", opt.window);
		printf("connections: %u ready, %u failed, %u closed early "
		    "(dropped by the server), %u closed cleanly, %u close "
		    "unanswered\n", ws->ready, ws->failed, ws->closed_early,
		    ws->closed_clean, ws->closed_unclean);
		wsclient_fail_print(opt.mode == CHATBENCH_CHAT ?
		    "no handshake or login" : "no chat handshake");
		printf("  connect phase %.3f s, connect to ready p50 %.1f us, "
		    "p99 %.1f us, max %.1f us; %u logged in; %u sources\n",
		    (ws->t_run - ws->t0) / 1e9,
		    wsclient_hist_us(&ws->ready_ns, 0.50),
		    wsclient_hist_us(&ws->ready_ns, 0.99),
		    wsclient_hist_max_us(&ws->ready_ns), st.logged_in,
		    wsclient_sources());
		printf("messages: %" PRIu64 " sent by %u senders, %" PRIu64
		    " deliveries in %" PRIu64 " frames, %" PRIu64 " expected "
		    "(%s), %" PRIu64 " missing, ratio %.6f\n", st.sent,
		    st.nsenders, st.accepted, st.frames, r.expected,
		    opt.rooms > 0 ? "each room's sent x its connections" :
		    "sent x connections", r.missing, r.ratio);
		if (opt.rooms > 0)
			printf("  rooms: %" PRIu64 " deliveries from a sender "
			    "of another room\n", st.misrouted);
		if (st.frames > 0 && st.frames < st.deliveries)
			printf("  the server batches: %.2f messages per "
			    "frame\n", (double)st.deliveries / st.frames);
		printf("  order: %" PRIu64 " gaps, %" PRIu64 " late, %" PRIu64
		    " duplicates; %" PRIu64 " wrong content, %" PRIu64
		    " not ours, %" PRIu64 " other messages, %" PRIu64
		    " protocol errors, %" PRIu64 " server pings\n", st.gaps,
		    st.late, st.dups, st.corrupt, st.foreign, st.other,
		    ws->proto_errors, ws->pings);
		printf("  %.0f deliveries/s (%.0f messages/s in) over %.3f s "
		    "from the first send to the last delivery; sending %.3f "
		    "s\n", r.rate, r.win > 0 ? st.sent / r.win : 0, r.win,
		    st.t_send_end > st.t_send ?
		    (st.t_send_end - st.t_send) / 1e9 : 0);
		printf("  latency, send to each delivery: p50 %.1f us, p99 "
		    "%.1f us, p99.9 %.1f us, max %.1f us, mean %.1f us\n",
		    wsclient_hist_us(&chatbench_lat, 0.50),
		    wsclient_hist_us(&chatbench_lat, 0.99),
		    wsclient_hist_us(&chatbench_lat, 0.999),
		    wsclient_hist_max_us(&chatbench_lat),
		    wsclient_hist_mean_us(&chatbench_lat));
		if (opt.npids > 0)
			printf("server (%d processes): %.2f CPU s (%.2f "
			    "system) over %.3f s, %.3f CPU s per million "
			    "deliveries; RSS %.0f kB before, %.0f kB ready, "
			    "%.0f B per connection (anonymous: %.0f B)%s\n",
			    opt.npids, r.srv_cpu, r.srv_sys, r.send_s,
			    r.cpu_per_m, st.srv_start.rss / 1024,
			    st.srv_ready.rss / 1024, r.rss_per_conn,
			    r.anon_per_conn,
			    st.srv_gone ? " (a process vanished)" : "");
		printf("cpu: %.2f s over the send phase (%.0f%% of one core); "
		    "user %.2f s, sys %.2f s, total %.2f s over %.2f s wall\n",
		    r.own_cpu, r.send_s > 0 ? 100 * r.own_cpu / r.send_s : 0,
		    ucpu, scpu, ucpu + scpu, wall);
		if (!r.ok && st.nsenders > 0)
			chatbench_report_senders();
		printf("result: %s%s%s%s\n", r.ok ? "ok" : "FAIL",
		    ws->deadline_hit ? " (deadline reached)" : "",
		    st.stalled ? " (stalled)" : "",
		    ws->interrupted ? " (interrupted)" : "");
	}
	printf("chatbench: conns=%u senders=%u sent=%" PRIu64 " deliveries=%"
	    PRIu64 " expected=%" PRIu64 " missing=%" PRIu64 " disorder=%"
	    PRIu64 " deliveries_per_s=%.0f p50_us=%.1f p99_us=%.1f"
	    " mode=%s failed=%u dropped=%u frames=%" PRIu64 " ratio=%.6f"
	    " p999_us=%.1f max_us=%.1f send_s=%.3f srv_cpu_s=%.3f"
	    " cpu_per_M=%.4f rss_per_conn=%.0f anon_per_conn=%.0f"
	    " srv_sys_s=%.3f own_cpu_pct=%.1f rooms=%u result=%s\n",
	    ws->ready, st.nsenders, st.sent, st.accepted, r.expected,
	    r.missing, st.gaps + st.late + st.dups, r.rate,
	    wsclient_hist_us(&chatbench_lat, 0.50),
	    wsclient_hist_us(&chatbench_lat, 0.99), chatbench_modes[opt.mode],
	    ws->failed, ws->closed_early, st.frames, r.ratio,
	    wsclient_hist_us(&chatbench_lat, 0.999),
	    wsclient_hist_max_us(&chatbench_lat), r.send_s, r.srv_cpu,
	    r.cpu_per_m, r.rss_per_conn, r.anon_per_conn, r.srv_sys,
	    r.send_s > 0 ? 100 * r.own_cpu / r.send_s : 0, opt.rooms,
	    r.ok ? "ok" : "FAIL");
	fflush(stdout);
	exit(r.ok ? 0 : 1);
}

static void
chatbench_mode(const char *arg)
{
	unsigned	 i;

	for (i = 0; i < sizeof(chatbench_modes) / sizeof(*chatbench_modes);
	    i++)
		if (strcmp(arg, chatbench_modes[i]) == 0) {
			opt.mode = (enum chatbench_mode)i;
			return;
		}
	wsclient_warnx("bad -M \"%s\"", arg);
	chatbench_usage();
}

int
main(int argc, char *argv[])
{
	static const struct wsclient_ops	 ops = {
		.path = chatbench_path,
		.upgraded = chatbench_upgraded,
		.data = chatbench_data,
		.lost = chatbench_lost,
		.freed = chatbench_freed,
		.run = chatbench_run,
		.finished = chatbench_finished
	};
	struct timeval				 tv;
	int					 ch, msgs_set = 0;

	wsclient_init("chatbench", chatbench_usage);
	while ((ch = getopt(argc, argv,
	    "c:D:d:G:H:h:k:l:M:m:P:p:qR:r:s:t:u:vw:z:")) != -1) {
		if (wsclient_option(ch, optarg, &opt.t))
			continue;
		switch (ch) {
		case 'D':
			opt.duration = wsclient_num(optarg, 86400, "-D");
			break;
		case 'd':
			opt.t.deadline = wsclient_num(optarg, 86400, "-d");
			break;
		case 'G':
			opt.rooms = wsclient_num(optarg, CHATBENCH_ROOMS_MAX,
			    "-G");
			break;
		case 'H':
			opt.hold = wsclient_num(optarg, 86400, "-H");
			break;
		case 'l':
			opt.logins = wsclient_num(optarg, 10000000, "-l");
			opt.logins_set = 1;
			break;
		case 'M':
			chatbench_mode(optarg);
			break;
		case 'm':
			opt.msgs = wsclient_num(optarg, UINT32_MAX - 1, "-m");
			msgs_set = 1;
			break;
		case 'P':
			chatbench_pids(optarg);
			break;
		case 'R':
			opt.total_rate = wsclient_num(optarg, 100000000, "-R");
			break;
		case 'r':
			opt.rate = wsclient_num(optarg, 10000000, "-r");
			break;
		case 's':
			opt.senders = wsclient_num(optarg, 100000, "-s");
			break;
		case 't':
			opt.stall = wsclient_num(optarg, 86400, "-t");
			break;
		case 'u':
			opt.t.path = optarg;
			break;
		case 'v':
			opt.verbose = 1;
			break;
		case 'w':
			opt.window = wsclient_num(optarg, 1U << 20, "-w");
			break;
		case 'z':
			opt.size = wsclient_num(optarg, 1U << 26, "-z");
			break;
		default:
			chatbench_usage();
		}
	}
	if (optind != argc || opt.t.conns == 0 || opt.t.inflight == 0 ||
	    opt.window == 0 || opt.t.deadline == 0 || opt.stall == 0)
		chatbench_usage();
	if (opt.duration > 0 && !msgs_set)
		opt.msgs = UINT32_MAX - 1;
	if (opt.total_rate > 0 && opt.senders > 0)
		opt.rate = opt.total_rate / (opt.senders < opt.t.conns ?
		    opt.senders : opt.t.conns);
	if (!opt.logins_set)
		opt.logins = opt.t.conns;

	wsclient_target(&opt.t);
	wsclient_hist_init(&chatbench_lat);
	chatbench_alloc();
	chatbench_srv_sample(&st.srv_start);
	chatbench_base = wsclient_loop_new(chatbench_conns,
	    sizeof(*chatbench_conns), &ops);
	chatbench_pace_ev = event_new(chatbench_base, -1, EV_PERSIST,
	    chatbench_pace_cb, NULL);
	chatbench_watch_ev = event_new(chatbench_base, -1, EV_PERSIST,
	    chatbench_watch_cb, NULL);
	chatbench_settle_ev = event_new(chatbench_base, -1, EV_PERSIST,
	    chatbench_settle_cb, NULL);
	chatbench_end_ev = evtimer_new(chatbench_base, chatbench_end_cb, NULL);
	if (chatbench_pace_ev == NULL || chatbench_watch_ev == NULL ||
	    chatbench_settle_ev == NULL || chatbench_end_ev == NULL) {
		wsclient_warnx("event_new failed");
		exit(2);
	}
	tv.tv_sec = 1;
	tv.tv_usec = 0;
	evtimer_add(chatbench_watch_ev, &tv);
	wsclient_run();
	chatbench_report();
	return (0);
}
