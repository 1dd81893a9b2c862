/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * chatbench.c: a chat fan-out load generator for wschatd's /ws endpoint.
 * One process and one libevent loop open many client connections (real
 * RFC 6455 handshakes, Sec-WebSocket-Accept checked, as in wsbench.c) and
 * wait until every one has received the chat's "handshake" message, so
 * all of them are in the lobby.  Then the first few connections, the
 * senders, send raw text frames, which the server broadcasts as "user"
 * messages to every connection, the sender included.  Every connection
 * finds the "content" string in each message it receives, checks each
 * sender's sequence numbers (no gap, no duplicate, no reordering) and
 * counts deliveries; a sender also times its own message's way back.  The
 * run ends by itself (everything delivered, nothing delivered for a while,
 * or a hard deadline) and prints a summary whose last line is
 * machine-readable.  Connecting, handshakes, framing, closes, the phases
 * of the run and its timers are wsclient.c's, shared with wsbench.c: this
 * file has the greeting, the messages and the report.  Starting and
 * watching the daemon is left to the scripts next to it (chat-fanout.sh).
 *
 * A message's content is "S<sender>:<seq>:" padded with 'x' to -z bytes:
 * only [A-Za-z0-9:], so the server's compact JSON carries it without
 * escapes and a byte scan for "content":" finds it.  The JSON messages
 * of the /ws chat are parsed no further than that.
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
#define CHATBENCH_RATE_RING	4096	/* -r: most messages in flight */
#define CHATBENCH_TICK_US	1000	/* -r: pacing timer */
#define CHATBENCH_WINDOW	8
#define CHATBENCH_DEADLINE	60

static const char chatbench_greeting[] = "{\"type\":\"handshake\"";
static const char chatbench_ckey[] = "\"content\":\"";

/* What one receiver knows about one sender. */
struct chatbench_track {
	uint32_t	 t_next;	/* next sequence number due */
	uint32_t	 t_holes;	/* skipped ones not seen since */
};

struct chatbench_conn {
	struct wsclient_conn	 wc;		/* first: wsclient's part */
	struct evbuffer		*frag;		/* a fragmented message */
	struct chatbench_track	*track;		/* one per sender */
	uint64_t		*ts;		/* sender: send times, by seq */
	int			 inlobby;	/* greeted before the run */
	int			 closed_early;	/* by the server, while open */
	char			 local[64];	/* as the server's "from" */
	int			 complete;	/* counted in st.complete */
	int			 sent_all;	/* counted in st.senders_done */
	uint64_t		 accepted;	/* chat messages, each once */
	uint64_t		 tx_seq;	/* sender: messages sent */
};

static struct {
	struct wsclient_target	 t;	/* -c -d -h -k -p -q */
	unsigned		 senders;
	uint64_t		 msgs;
	unsigned		 rate;		/* messages/s per sender */
	unsigned		 window;
	size_t			 size;
	unsigned		 stall;
	int			 verbose;
} opt = {
	{ "127.0.0.1", "8080", CHATBENCH_PATH, 100, 0, WSCLIENT_INFLIGHT, 0,
	    CHATBENCH_DEADLINE, 0 },
	1, 1000, 0, CHATBENCH_WINDOW, 64, CHATBENCH_STALL, 0
};

static struct {
	unsigned	 upgraded;
	unsigned	 nsenders;	/* senders among the ready */
	unsigned	 complete;	/* receivers with everything, or gone */
	unsigned	 senders_done;	/* conns with nothing more to send */
	uint64_t	 sent;
	uint64_t	 deliveries;	/* chat messages received, all */
	uint64_t	 accepted;	/* each (receiver, message) once */
	uint64_t	 gaps;		/* sequence jumps forward */
	uint64_t	 late;		/* a skipped one arriving after all */
	uint64_t	 dups;		/* seen before */
	uint64_t	 corrupt;	/* ours, but wrong length or padding */
	uint64_t	 foreign;	/* content that is not ours */
	uint64_t	 other;		/* messages without content */
	uint64_t	 deferred;	/* -r: sends put off, ring full */
	uint64_t	 t_first_rx;
	uint64_t	 t_last_rx;
	uint64_t	 t_sent_all;
	int		 stalled;
} st;

static struct event_base	*chatbench_base;
static struct chatbench_conn	*chatbench_conns;
static struct chatbench_track	*chatbench_tracks;
static uint64_t			 chatbench_ring;	/* ts[] slots, 2^n */
static uint8_t			*chatbench_txbuf;
static struct event		*chatbench_pace_ev, *chatbench_watch_ev;
static struct wsclient_hist	 chatbench_lat;

static void __attribute__((noreturn))
chatbench_usage(void)
{
	fprintf(stderr,
"usage: chatbench [-qv] [-h host] [-p port] [-c conns] [-s senders]\n"
"                 [-m msgs] [-r rate] [-w window] [-z size] [-d seconds]\n"
"                 [-k inflight] [-t seconds]\n"
"  -h HOST      server address (127.0.0.1)\n"
"  -p PORT      server port (8080); the chat is on /ws\n"
"  -c CONNS     connections, all of them receivers (100)\n"
"  -s SENDERS   the first SENDERS connections also send (1)\n"
"  -m MSGS      messages per sender (1000)\n"
"  -r RATE      messages per second per sender, 0 = as fast as the\n"
"               window allows (0)\n"
"  -w WINDOW    -r 0: most messages of a sender sent but not yet back\n"
"               at that sender (%d)\n"
"  -z SIZE      bytes of content per message (64)\n"
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

/* Counted as done: it has everything, or it never will. */
static void
chatbench_conn_complete(struct chatbench_conn *c)
{
	if (!c->complete) {
		c->complete = 1;
		st.complete++;
	}
}

static void
chatbench_conn_sent_all(struct chatbench_conn *c)
{
	if (!c->sent_all) {
		c->sent_all = 1;
		st.senders_done++;
		if (st.senders_done == opt.t.conns &&
		    wsclient_phase() == WSCLIENT_RUN)
			st.t_sent_all = wsclient_now();
	}
}

/* wsclient's lost hook: the server closed or reset an open connection. */
static void
chatbench_lost(struct wsclient_conn *wc)
{
	struct chatbench_conn	*c = (struct chatbench_conn *)wc;

	c->closed_early = 1;
	chatbench_conn_complete(c);
	chatbench_conn_sent_all(c);
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
	chatbench_conn_sent_all(c);
}

/*
 * The next chat message of sender c: "S<id>:<seq>:" and 'x' up to
 * opt.size, built in place after the room left for the frame header.
 */
static void
chatbench_send_msg(struct chatbench_conn *c)
{
	uint8_t		*p = chatbench_txbuf + WSCLIENT_FRAME_HEAD;
	uint64_t	 seq = c->tx_seq;
	size_t		 n;

	n = (size_t)snprintf((char *)p, 48, "S%u:%" PRIu64 ":", c->wc.id, seq);
	if (n < opt.size) {
		memset(p + n, 'x', opt.size - n);
		n = opt.size;
	}
	c->ts[seq & (chatbench_ring - 1)] = wsclient_now();
	wsclient_frame_write(c->wc.bev, WSCLIENT_OP_TEXT, chatbench_txbuf, n);
	c->tx_seq++;
	st.sent++;
	if (c->tx_seq == opt.msgs)
		chatbench_conn_sent_all(c);
}

/* Messages of c sent but not yet back at c. */
static uint64_t
chatbench_in_flight(const struct chatbench_conn *c)
{
	return (c->tx_seq - c->track[c->wc.id].t_next);
}

/* -r 0: keep the window full. */
static void
chatbench_fill(struct chatbench_conn *c)
{
	while (c->wc.state == WSCLIENT_OPEN && c->tx_seq < opt.msgs &&
	    chatbench_in_flight(c) < opt.window)
		chatbench_send_msg(c);
}

/* -r: send what is due by now, at most chatbench_ring in flight. */
static void
chatbench_pace_cb(evutil_socket_t fd, short what, void *arg)
{
	struct chatbench_conn	*c;
	uint64_t		 due;
	unsigned		 i;

	if (wsclient_phase() != WSCLIENT_RUN) {
		event_del(chatbench_pace_ev);
		return;
	}
	due = (wsclient_now() - wsclient_stats()->t_run) / 1000 * opt.rate /
	    1000000 + 1;
	if (due > opt.msgs)
		due = opt.msgs;
	for (i = 0; i < opt.senders && i < opt.t.conns; i++) {
		c = &chatbench_conns[i];
		while (c->wc.state == WSCLIENT_OPEN && c->tx_seq < due) {
			if (chatbench_in_flight(c) >= chatbench_ring) {
				st.deferred++;
				break;
			}
			chatbench_send_msg(c);
		}
	}
	if (st.senders_done == opt.t.conns)
		event_del(chatbench_pace_ev);
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

/* wsclient's upgraded hook: the chat's greeting is due next. */
static void
chatbench_upgraded(struct wsclient_conn *wc)
{
	chatbench_local((struct chatbench_conn *)wc);
	/* Still in flight until the greeting: it bounds the server's work. */
	st.upgraded++;
	wc->state = WSCLIENT_GREETING;
}

/* Parse a decimal number of at most 10 digits at *pp; -1 if none. */
static int64_t
chatbench_number(const uint8_t **pp, const uint8_t *end)
{
	const uint8_t	*p = *pp;
	int64_t		 v = 0;
	int		 n = 0;

	while (p < end && *p >= '0' && *p <= '9' && n < 10) {
		v = v * 10 + (*p++ - '0');
		n++;
	}
	if (n == 0 || (n > 1 && **pp == '0'))
		return (-1);
	*pp = p;
	return (v);
}

/* Sender s's message seq reached receiver c: check the order, count it. */
static void
chatbench_deliver(struct chatbench_conn *c, unsigned s, uint32_t seq)
{
	struct chatbench_track	*t = &c->track[s];
	struct chatbench_conn	*sc = &chatbench_conns[s];
	uint64_t		 now = wsclient_now();

	st.deliveries++;
	if (st.t_first_rx == 0)
		st.t_first_rx = now;
	st.t_last_rx = now;
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
		t->t_holes += seq - t->t_next;
		t->t_next = seq + 1;
	} else if (t->t_holes > 0) {
		/* XXX assumes it fills a hole rather than repeats. */
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

	if (s == c->wc.id) {
		/* Our own, back: time it, then refill the window. */
		if (sc->tx_seq - seq <= chatbench_ring)
			wsclient_hist_add(&chatbench_lat,
			    now - c->ts[seq & (chatbench_ring - 1)]);
		if (opt.rate == 0)
			chatbench_fill(c);
	}
	if (c->accepted == (uint64_t)st.nsenders * opt.msgs)
		chatbench_conn_complete(c);
}

/*
 * A complete text message.  Returns -1 if the connection was dropped.
 */
static int
chatbench_message(struct chatbench_conn *c, const uint8_t *p, size_t len)
{
	const uint8_t	*q, *end = p + len, *content;
	int64_t		 s, seq;
	size_t		 want, klen = sizeof(chatbench_ckey) - 1;

	if (c->wc.state == WSCLIENT_GREETING) {
		if (len < sizeof(chatbench_greeting) - 1 ||
		    memcmp(p, chatbench_greeting,
		    sizeof(chatbench_greeting) - 1) != 0) {
			wsclient_conn_fail(&c->wc, WSCLIENT_F_GREETING, 0);
			return (-1);
		}
		wsclient_conn_ready(&c->wc);
		c->inlobby = 1;
		if (chatbench_is_sender(c))
			st.nsenders++;
		return (0);
	}
	if ((q = memmem(p, len, chatbench_ckey, klen)) == NULL) {
		st.other++;
		return (0);
	}
	content = q += klen;
	if (q == end || *q++ != 'S' ||
	    (s = chatbench_number(&q, end)) == -1 || q == end || *q++ != ':' ||
	    (seq = chatbench_number(&q, end)) == -1 || q == end ||
	    *q++ != ':' || s >= opt.senders || s >= opt.t.conns ||
	    seq > UINT32_MAX) {
		st.foreign++;
		return (0);
	}
	/* The whole content: our prefix, then 'x' up to the size sent. */
	want = (size_t)(q - content) < opt.size ? opt.size :
	    (size_t)(q - content);
	if ((size_t)(end - content) <= want || content[want] != '"' ||
	    (want > (size_t)(q - content) && (content[want - 1] != 'x' ||
	    *q != 'x'))) {
		if (st.corrupt++ == 0)
			wsclient_warnx("conn %u: message %" PRId64 " of "
			    "sender %" PRId64 " has the wrong content",
			    c->wc.id, seq, s);
		return (0);
	}
	chatbench_deliver(c, (unsigned)s, (uint32_t)seq);
	return (0);
}

/* wsclient's data hook: the greeting, or part of a chat message. */
static int
chatbench_data(struct wsclient_conn *wc, const struct wsclient_frame *f,
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
	if (f->op == WSCLIENT_OP_BINARY && f->fin) {
		st.other++;	/* not asked for: -msgpack */
		evbuffer_drain(in, f->hdrlen + f->len);
		return (0);
	}
	if (f->fin && f->op != WSCLIENT_OP_CONT) {
		/* The usual case: one frame, parsed in place. */
		if (chatbench_message(c, h, f->len) == -1)
			return (-1);
		evbuffer_drain(in, f->hdrlen + f->len);
		return (0);
	}
	if (f->op != WSCLIENT_OP_CONT) {
		wc->rx_op = f->op;
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
	if (op == WSCLIENT_OP_TEXT && chatbench_message(c, h,
	    evbuffer_get_length(c->frag)) == -1)
		return (-1);
	if (c->frag != NULL)
		evbuffer_drain(c->frag, evbuffer_get_length(c->frag));
	return (0);
}

/* wsclient's run hook: everyone is in the lobby, senders start. */
static void
chatbench_run(void)
{
	const struct wsclient_stats	*ws = wsclient_stats();
	struct chatbench_conn		*c;
	struct timeval			 tv = { 0, CHATBENCH_TICK_US };
	unsigned			 i;

	st.t_last_rx = ws->t_run;
	if (!opt.t.quiet) {
		printf("chatbench: %u of %u in the lobby in %.3f s (%u "
		    "failed); %u senders start\n", ws->ready, opt.t.conns,
		    (ws->t_run - ws->t0) / 1e9, ws->failed, st.nsenders);
		fflush(stdout);
	}
	/* Receivers with nothing to wait for, senders with nothing to send. */
	for (i = 0; i < opt.t.conns; i++) {
		c = &chatbench_conns[i];
		if (c->wc.state != WSCLIENT_OPEN || st.nsenders == 0 ||
		    opt.msgs == 0)
			chatbench_conn_complete(c);
		if (!chatbench_is_sender(c) || c->wc.state != WSCLIENT_OPEN ||
		    opt.msgs == 0)
			chatbench_conn_sent_all(c);
	}
	if (st.nsenders == 0 || opt.msgs == 0)
		return;
	if (opt.rate > 0) {
		event_add(chatbench_pace_ev, &tv);
		chatbench_pace_cb(-1, 0, NULL);
		return;
	}
	for (i = 0; i < opt.senders && i < opt.t.conns; i++)
		chatbench_fill(&chatbench_conns[i]);
}

/* wsclient's finished hook: everything sent and delivered. */
static int
chatbench_finished(void)
{
	return (st.senders_done == opt.t.conns && st.complete == opt.t.conns);
}

/* Once a second in the run: a server that delivers nothing has stalled. */
static void
chatbench_watch_cb(evutil_socket_t fd, short what, void *arg)
{
	if (wsclient_phase() != WSCLIENT_RUN)
		return;
	if (opt.verbose)
		wsclient_warnx("progress: %.1f s: %" PRIu64 " sent, %" PRIu64
		    " deliveries, %u of %u receivers complete",
		    (wsclient_now() - wsclient_stats()->t_run) / 1e9, st.sent,
		    st.deliveries, st.complete, opt.t.conns);
	if (wsclient_now() - st.t_last_rx >=
	    (uint64_t)opt.stall * 1000000000ULL) {
		st.stalled = 1;
		wsclient_warnx("nothing delivered for %u s (%" PRIu64
		    " of %" PRIu64 " sent, %u of %u receivers complete); "
		    "stopping", opt.stall, st.sent,
		    (uint64_t)st.nsenders * opt.msgs, st.complete, opt.t.conns);
		wsclient_stop();
	}
}

/* Set up the per-connection state: trackers for all, rings for senders. */
static void
chatbench_alloc(void)
{
	struct chatbench_conn	*c;
	unsigned		 i, ns = opt.senders < opt.t.conns ?
				    opt.senders : opt.t.conns;

	chatbench_ring = 1;
	while (chatbench_ring < (opt.rate > 0 ? CHATBENCH_RATE_RING :
	    opt.window))
		chatbench_ring <<= 1;
	/* Room for the frame head, and for the prefix if over opt.size. */
	if ((chatbench_txbuf = malloc(WSCLIENT_FRAME_HEAD + opt.size + 64)) ==
	    NULL ||
	    (chatbench_conns = calloc(opt.t.conns, sizeof(*chatbench_conns))) ==
	    NULL || (ns > 0 && (chatbench_tracks = calloc((size_t)opt.t.conns *
	    ns, sizeof(*chatbench_tracks))) == NULL)) {
		wsclient_warnx("out of memory");
		exit(2);
	}
	for (i = 0; i < opt.t.conns; i++) {
		c = &chatbench_conns[i];
		c->track = chatbench_tracks + (size_t)i * ns;
		if (i < ns && (c->ts = calloc(chatbench_ring,
		    sizeof(*c->ts))) == NULL) {
			wsclient_warnx("out of memory");
			exit(2);
		}
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
	uint64_t		 lo, behind, dropped;
	unsigned		 s, i, ns = opt.senders < opt.t.conns ?
				    opt.senders : opt.t.conns;

	printf("per sender (receivers in the lobby at the start only):\n");
	for (s = 0; s < ns && s < 32; s++) {
		c = &chatbench_conns[s];
		lo = UINT64_MAX;
		behind = dropped = 0;
		for (i = 0; i < opt.t.conns; i++) {
			r = &chatbench_conns[i];
			if (!r->inlobby)
				continue;
			if (r->track[s].t_next < lo)
				lo = r->track[s].t_next;
			if (r->track[s].t_next < c->tx_seq ||
			    r->track[s].t_holes > 0) {
				behind++;
				if (r->closed_early)
					dropped++;
			}
		}
		printf("  sender %u (%s): sent %" PRIu64 ", back at itself "
		    "%u; %" PRIu64 " receivers short of it (%" PRIu64 " of "
		    "them closed early), the furthest behind had %" PRIu64
		    "\n", s, c->local, c->tx_seq, c->track[s].t_next, behind,
		    dropped, lo == UINT64_MAX ? 0 : lo);
	}
	if (ns > 32)
		printf("  (%u more senders not shown)\n", ns - 32);
}

static void
chatbench_report(void)
{
	const struct wsclient_stats	*ws = wsclient_stats();
	double				 wall, win, rate, ucpu, scpu, conwin;
	uint64_t			 expected, missing;
	int				 ok;

	wsclient_cpu(&ucpu, &scpu);
	wall = (wsclient_now() - ws->t0) / 1e9;
	conwin = (ws->t_run - ws->t0) / 1e9;
	/* From the first send to the last delivery. */
	win = st.deliveries > 0 ? (st.t_last_rx - ws->t_run) / 1e9 : 0;
	rate = win > 0 ? st.deliveries / win : 0;
	expected = st.sent * ws->ready;
	missing = expected > st.accepted ? expected - st.accepted : 0;
	ok = ws->failed == 0 && ws->closed_early == 0 &&
	    ws->closed_unclean == 0 && ws->proto_errors == 0 && missing == 0 &&
	    st.gaps == 0 && st.late == 0 && st.dups == 0 && st.corrupt == 0 &&
	    st.foreign == 0 && st.sent == (uint64_t)st.nsenders * opt.msgs &&
	    st.nsenders == (opt.senders < opt.t.conns ? opt.senders :
	    opt.t.conns) && !ws->deadline_hit && !st.stalled &&
	    !ws->interrupted;

	if (!opt.t.quiet) {
		printf("chatbench: ws://%s%s: %u connections, %u senders x "
		    "%" PRIu64 " messages of %zu bytes, %s\n",
		    wsclient_hostport(), CHATBENCH_PATH, opt.t.conns,
		    opt.senders, opt.msgs, opt.size, opt.rate > 0 ? "paced" :
		    "windowed");
		if (opt.rate > 0)
			printf("  %u messages/s per sender, at most %" PRIu64
			    " in flight (%" PRIu64 " sends deferred)\n",
			    opt.rate, chatbench_ring, st.deferred);
		else
			printf("  window %u messages per sender\n",
			    opt.window);
		printf("connections: %u in the lobby, %u failed, %u closed "
		    "early, %u closed cleanly, %u close unanswered\n",
		    ws->ready, ws->failed, ws->closed_early, ws->closed_clean,
		    ws->closed_unclean);
		wsclient_fail_print("no chat handshake");
		printf("  connect phase %.3f s, connect to greeting p50 %.1f "
		    "us, p99 %.1f us, max %.1f us\n", conwin,
		    wsclient_hist_us(&ws->ready_ns, 0.50),
		    wsclient_hist_us(&ws->ready_ns, 0.99),
		    wsclient_hist_max_us(&ws->ready_ns));
		printf("messages: %" PRIu64 " sent by %u senders, %" PRIu64
		    " deliveries, %" PRIu64 " expected (sent x %u), %" PRIu64
		    " missing\n", st.sent, st.nsenders, st.deliveries,
		    expected, ws->ready, missing);
		printf("  order: %" PRIu64 " gaps, %" PRIu64 " late, %" PRIu64
		    " duplicates; %" PRIu64 " wrong content, %" PRIu64
		    " not ours, %" PRIu64 " other messages, %" PRIu64
		    " protocol errors, %" PRIu64 " server pings\n", st.gaps,
		    st.late, st.dups, st.corrupt, st.foreign, st.other,
		    ws->proto_errors, ws->pings);
		printf("  %.0f deliveries/s (%.0f messages/s in) over %.3f s "
		    "from the first send to the last delivery",
		    rate, win > 0 ? st.sent / win : 0, win);
		if (st.t_sent_all > ws->t_run)
			printf("; all sent after %.3f s",
			    (st.t_sent_all - ws->t_run) / 1e9);
		printf("\n");
		printf("  latency sender to itself: p50 %.1f us, p99 %.1f us, "
		    "max %.1f us, mean %.1f us (%" PRIu64 " samples)\n",
		    wsclient_hist_us(&chatbench_lat, 0.50),
		    wsclient_hist_us(&chatbench_lat, 0.99),
		    wsclient_hist_max_us(&chatbench_lat),
		    wsclient_hist_mean_us(&chatbench_lat), chatbench_lat.h_n);
		printf("cpu: user %.2f s, sys %.2f s, total %.2f s (%.0f%% of "
		    "one core over %.2f s wall)\n", ucpu, scpu, ucpu + scpu,
		    wall > 0 ? 100 * (ucpu + scpu) / wall : 0, wall);
		if (!ok && st.nsenders > 0)
			chatbench_report_senders();
		printf("result: %s%s%s%s\n", ok ? "ok" : "FAIL",
		    ws->deadline_hit ? " (deadline reached)" : "",
		    st.stalled ? " (stalled)" : "",
		    ws->interrupted ? " (interrupted)" : "");
	}
	printf("chatbench: conns=%u senders=%u sent=%" PRIu64 " deliveries=%"
	    PRIu64 " expected=%" PRIu64 " missing=%" PRIu64 " disorder=%"
	    PRIu64 " deliveries_per_s=%.0f p50_us=%.1f p99_us=%.1f\n",
	    ws->ready, st.nsenders, st.sent, st.deliveries, expected, missing,
	    st.gaps + st.late + st.dups, rate,
	    wsclient_hist_us(&chatbench_lat, 0.50),
	    wsclient_hist_us(&chatbench_lat, 0.99));
	fflush(stdout);
	exit(ok ? 0 : 1);
}

int
main(int argc, char *argv[])
{
	static const struct wsclient_ops	 ops = {
		.upgraded = chatbench_upgraded,
		.data = chatbench_data,
		.lost = chatbench_lost,
		.freed = chatbench_freed,
		.run = chatbench_run,
		.finished = chatbench_finished
	};
	struct timeval				 tv;
	int					 ch;

	wsclient_init("chatbench", chatbench_usage);
	while ((ch = getopt(argc, argv, "c:d:h:k:m:p:qr:s:t:vw:z:")) != -1) {
		if (wsclient_option(ch, optarg, &opt.t))
			continue;
		switch (ch) {
		case 'd':
			opt.t.deadline = wsclient_num(optarg, 86400, "-d");
			break;
		case 'm':
			opt.msgs = wsclient_num(optarg, UINT32_MAX - 1, "-m");
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

	wsclient_target(&opt.t);
	wsclient_hist_init(&chatbench_lat);
	chatbench_alloc();
	chatbench_base = wsclient_loop_new(chatbench_conns,
	    sizeof(*chatbench_conns), &ops);
	chatbench_pace_ev = event_new(chatbench_base, -1, EV_PERSIST,
	    chatbench_pace_cb, NULL);
	chatbench_watch_ev = event_new(chatbench_base, -1, EV_PERSIST,
	    chatbench_watch_cb, NULL);
	if (chatbench_pace_ev == NULL || chatbench_watch_ev == NULL) {
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
