/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * wsbench.c: a WebSocket load generator for wschatd's /echo endpoint.  One
 * process and one libevent loop open many client connections at a bounded
 * rate with a bounded number of handshakes in flight, perform real RFC 6455
 * opening handshakes (status 101 and Sec-WebSocket-Accept are checked),
 * hold the connections, send masked messages and check that every echo is
 * byte for byte what was sent, timing each round trip into a log-linear
 * histogram.  It answers server pings and closes, ends by itself (hold time
 * over and messages done, or a hard deadline) and prints a summary whose
 * last line is machine-readable.  Connecting, handshakes, framing, closes,
 * the phases of the run and its timers are wsclient.c's, shared with
 * chatbench.c: this file has the messages, the hold and the report.
 * Starting and watching the daemon is left to the scripts next to it
 * (conn-memory.sh).
 *
 * Payloads are not stored: byte j of message n on connection i is a pure
 * function of (run seed, i, n, j), so an echo is checked by regenerating
 * it, however it is fragmented.  The echo server must keep message order.
 */

#include <sys/types.h>
#include <sys/time.h>

#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "wsclient.h"

#define WSBENCH_RING		32	/* messages in flight per connection */
#define WSBENCH_CHUNK		4096	/* payload bytes generated at once */

struct wsbench_conn {
	struct wsclient_conn	 wc;		/* first: wsclient's part */
	struct event		*tick;		/* -i: next message */
	int			 msgdone;	/* counted in st.msgdone */
	int			 rx_bad;	/* its payload differs so far */
	uint64_t		 rx_off;	/* its bytes read so far */
	uint64_t		 tx_seq;	/* messages sent */
	uint64_t		 rx_seq;	/* echoes received */
	uint64_t		 ts[WSBENCH_RING];	/* send times, by seq */
};

static struct {
	struct wsclient_target	 t;	/* -c -h -k -p -P -q -r -S -T */
	uint64_t		 msgs;
	size_t			 size;
	unsigned		 hold;
	unsigned		 interval;
	int			 binary;
} opt = {
	{ "127.0.0.1", "8080", "/echo", 1, 0, WSCLIENT_INFLIGHT, 0, 0, 0 },
	0, 64, 0, 0, 0
};

static struct {
	unsigned	 msgdone;	/* connections done with messages */
	uint64_t	 sent;
	uint64_t	 received;
	uint64_t	 mismatches;
	uint64_t	 deferred;
	uint64_t	 t_last_rx;
	int		 hold_over;
} st;

static struct event_base	*wsbench_base;
static struct wsbench_conn	*wsbench_conns;
static uint8_t			*wsbench_txbuf;
static struct event		*wsbench_hold_ev;
static struct wsclient_hist	 wsbench_lat;

static void __attribute__((noreturn))
wsbench_usage(void)
{
	fprintf(stderr,
"usage: wsbench [-bq] [-h host] [-p port] [-P path] [-c conns] [-r rate]\n"
"               [-k inflight] [-m msgs] [-s size] [-i interval_ms]\n"
"               [-d hold_s] [-S srcaddrs] [-T deadline_s]\n"
"  -h HOST      server address (127.0.0.1)\n"
"  -p PORT      server port (8080)\n"
"  -P PATH      WebSocket echo path (/echo)\n"
"  -c CONNS     concurrent connections (1)\n"
"  -r RATE      connections opened per second, 0 = as fast as allowed (0)\n"
"  -k INFLIGHT  most handshakes in flight at once (%d)\n"
"  -m MSGS      messages per connection, 0 = just hold (0)\n"
"  -s SIZE      message size in bytes (64)\n"
"  -i MS        interval between messages, 0 = send after the echo (0)\n"
"  -d SECONDS   hold the connections this long once all are up (0)\n"
"  -b           binary frames instead of text\n"
"  -S N         spread over N source addresses 127.0.0.1.. (auto)\n"
"  -T SECONDS   hard deadline (60 + hold + conns / rate)\n"
"  -q           print only the machine-readable last line\n",
	    WSCLIENT_INFLIGHT);
	exit(2);
}

static uint64_t
wsbench_msg_seed(const struct wsbench_conn *c, uint64_t seq)
{
	return (wsclient_mix(wsclient_seed() ^ ((uint64_t)c->wc.id << 40) ^
	    seq));
}

/*
 * Write bytes [off, off + len) of the message with this seed to dst.  Text
 * messages use printable ASCII so they are valid UTF-8.
 */
static void
wsbench_payload(uint8_t *dst, uint64_t seed, uint64_t off, size_t len,
    int text)
{
	uint8_t		 blk[8];
	uint64_t	 r;
	size_t		 i, k, n;

	while (len > 0) {
		r = wsclient_mix(seed + (off >> 3));
		memcpy(blk, &r, sizeof(blk));	/* host order: checked here */
		k = off & 7;
		n = 8 - k < len ? 8 - k : len;
		if (text) {
			for (i = 0; i < n; i++)
				dst[i] = 0x20 + ((blk[k + i] * 95) >> 8);
		} else
			memcpy(dst, blk + k, n);
		dst += n;
		off += n;
		len -= n;
	}
}

static void
wsbench_conn_msgdone(struct wsbench_conn *c)
{
	if (!c->msgdone) {
		c->msgdone = 1;
		st.msgdone++;
	}
}

/* wsclient's lost hook: the server closed or reset an open connection. */
static void
wsbench_lost(struct wsclient_conn *wc)
{
	wsbench_conn_msgdone((struct wsbench_conn *)wc);
}

/* wsclient's freed hook.  The struct stays: it is in wsbench_conns. */
static void
wsbench_freed(struct wsclient_conn *wc)
{
	struct wsbench_conn	*c = (struct wsbench_conn *)wc;

	if (c->tick != NULL) {
		event_free(c->tick);
		c->tick = NULL;
	}
	wsbench_conn_msgdone(c);
}

/* The next message, generated from its seed right after the frame head. */
static void
wsbench_send_msg(struct wsbench_conn *c)
{
	uint64_t	 seq = c->tx_seq;

	c->ts[seq % WSBENCH_RING] = wsclient_now();
	wsbench_payload(wsbench_txbuf + WS_HEADER_MAX,
	    wsbench_msg_seed(c, seq), 0, opt.size, !opt.binary);
	wsclient_frame_write(c->wc.bev, opt.binary ? WS_OP_BINARY :
	    WS_OP_TEXT, wsbench_txbuf, opt.size);
	c->tx_seq++;
	st.sent++;
}

/* -i: one message per tick, unless WSBENCH_RING are unanswered. */
static void
wsbench_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsbench_conn	*c = arg;
	struct timeval		 tv;

	if (c->wc.state != WSCLIENT_OPEN || c->tx_seq >= opt.msgs)
		return;
	if (c->tx_seq - c->rx_seq >= WSBENCH_RING)
		st.deferred++;
	else
		wsbench_send_msg(c);
	if (c->tx_seq < opt.msgs) {
		tv.tv_sec = opt.interval / 1000;
		tv.tv_usec = (opt.interval % 1000) * 1000;
		evtimer_add(c->tick, &tv);
	}
}

/* A complete echo: check it, time it, send the next one. */
static void
wsbench_msg_done(struct wsbench_conn *c)
{
	uint64_t	 now = wsclient_now();

	if (c->rx_bad || c->rx_off != opt.size || c->wc.rx_op !=
	    (opt.binary ? WS_OP_BINARY : WS_OP_TEXT)) {
		if (st.mismatches++ == 0)
			wsclient_warnx("conn %u: message %" PRIu64 " came back "
			    "different (%s)", c->wc.id, c->rx_seq,
			    c->rx_off != opt.size ? "length" :
			    c->rx_bad ? "payload" : "opcode");
	}
	wsclient_hist_add(&wsbench_lat, now - c->ts[c->rx_seq % WSBENCH_RING]);
	c->rx_seq++;
	c->wc.rx_op = 0;
	st.received++;
	st.t_last_rx = now;
	if (c->rx_seq == opt.msgs)
		wsbench_conn_msgdone(c);
	else if (c->wc.state == WSCLIENT_OPEN && opt.interval == 0 &&
	    c->tx_seq < opt.msgs)
		wsbench_send_msg(c);
}

/* Compare a data frame's payload with what message c->rx_seq should hold. */
static void
wsbench_msg_compare(struct wsbench_conn *c, const uint8_t *p, uint64_t len)
{
	uint8_t		 want[WSBENCH_CHUNK];
	uint64_t	 seed = wsbench_msg_seed(c, c->rx_seq);
	size_t		 n;

	while (len > 0 && !c->rx_bad) {
		n = len < sizeof(want) ? len : sizeof(want);
		wsbench_payload(want, seed, c->rx_off, n,
		    !opt.binary);
		if (memcmp(want, p, n) != 0)
			c->rx_bad = 1;
		p += n;
		len -= n;
		c->rx_off += n;
	}
	c->rx_off += len;
}

/* wsclient's data hook: part of an echo. */
static int
wsbench_data(struct wsclient_conn *wc, const struct ws_frame *f,
    struct evbuffer *in)
{
	struct wsbench_conn	*c = (struct wsbench_conn *)wc;
	uint8_t			*p;

	if (c->rx_seq >= c->tx_seq) {
		st.mismatches++;
		wsclient_conn_abort(wc, "message nobody sent");
		return (-1);
	}
	if ((f->opcode != WS_OP_CONT ? 0 : c->rx_off) + f->len > opt.size) {
		st.mismatches++;
		wsclient_conn_abort(wc, "echo longer than the message");
		return (-1);
	}
	if ((p = wsclient_frame_payload(in, f)) == NULL)
		return (-1);
	if (f->opcode != WS_OP_CONT) {
		wc->rx_op = f->opcode;
		c->rx_off = 0;
		c->rx_bad = 0;
	}
	wsbench_msg_compare(c, p, f->len);
	evbuffer_drain(in, f->hdrlen + f->len);
	if (f->fin)
		wsbench_msg_done(c);
	return (0);
}

/* wsclient's run hook: all connections settled, messages and the hold. */
static void
wsbench_run(void)
{
	const struct wsclient_stats	*ws = wsclient_stats();
	struct wsbench_conn		*c;
	struct timeval			 tv;
	unsigned			 i;

	if (!opt.t.quiet) {
		printf("wsbench: connected %u of %u in %.3f s (%u failed); "
		    "holding %u s\n", ws->ready, opt.t.conns,
		    (ws->t_run - ws->t0) / 1e9, ws->failed, opt.hold);
		fflush(stdout);
	}
	for (i = 0; i < opt.t.conns; i++) {
		c = &wsbench_conns[i];
		if (c->wc.state != WSCLIENT_OPEN || opt.msgs == 0) {
			wsbench_conn_msgdone(c);
			continue;
		}
		if (opt.interval == 0) {
			wsbench_send_msg(c);
			continue;
		}
		if ((c->tick = evtimer_new(wsbench_base, wsbench_tick_cb,
		    c)) == NULL) {
			wsclient_conn_abort(&c->wc, "evtimer_new failed");
			continue;
		}
		/* Spread the first sends over one interval. */
		tv.tv_sec = 0;
		tv.tv_usec = wsclient_random() %
		    ((uint64_t)opt.interval * 1000);
		evtimer_add(c->tick, &tv);
	}
	if (opt.hold == 0)
		st.hold_over = 1;
	else {
		tv.tv_sec = opt.hold;
		tv.tv_usec = 0;
		evtimer_add(wsbench_hold_ev, &tv);
	}
}

/* wsclient's finished hook. */
static int
wsbench_finished(void)
{
	return (st.hold_over && st.msgdone == opt.t.conns);
}

static void
wsbench_hold_cb(evutil_socket_t fd, short what, void *arg)
{
	st.hold_over = 1;
	wsclient_check();
}

static void
wsbench_report(void)
{
	const struct wsclient_stats	*ws = wsclient_stats();
	double				 wall, msgwin, rate, ucpu, scpu, conwin;
	uint64_t			 lost = st.sent - st.received;
	int				 ok;

	wsclient_cpu(&ucpu, &scpu);
	wall = (wsclient_now() - ws->t0) / 1e9;
	conwin = (ws->t_run - ws->t0) / 1e9;
	msgwin = st.received > 0 ? (st.t_last_rx - ws->t_run) / 1e9 : 0;
	rate = msgwin > 0 ? st.received / msgwin : 0;
	ok = ws->failed == 0 && st.mismatches == 0 && ws->closed_early == 0 &&
	    ws->closed_unclean == 0 && ws->proto_errors == 0 && lost == 0 &&
	    !ws->deadline_hit && !ws->interrupted;

	if (!opt.t.quiet) {
		if (opt.msgs == 0)
			printf("wsbench: ws://%s%s: %u connections, no "
			    "messages\n", wsclient_hostport(), opt.t.path,
			    opt.t.conns);
		else
			printf("wsbench: ws://%s%s: %u connections, %" PRIu64
			    " %s messages of %zu bytes each, %s\n",
			    wsclient_hostport(), opt.t.path, opt.t.conns,
			    opt.msgs, opt.binary ? "binary" : "text", opt.size,
			    opt.interval == 0 ? "ping-pong" :
			    "on an interval");
		printf("connections: %u established, %u failed, %u closed "
		    "early, %u closed cleanly, %u close unanswered\n",
		    ws->ready, ws->failed, ws->closed_early, ws->closed_clean,
		    ws->closed_unclean);
		wsclient_fail_print(NULL);
		printf("  connect phase %.3f s (%.0f conn/s), handshake "
		    "p50 %.1f us, p99 %.1f us, max %.1f us; source "
		    "addresses %u\n", conwin,
		    conwin > 0 ? ws->ready / conwin : 0,
		    wsclient_hist_us(&ws->ready_ns, 0.50),
		    wsclient_hist_us(&ws->ready_ns, 0.99),
		    wsclient_hist_max_us(&ws->ready_ns), wsclient_sources());
		printf("messages: %" PRIu64 " sent, %" PRIu64 " received, %"
		    PRIu64 " lost, %" PRIu64 " mismatches, %" PRIu64
		    " protocol errors, %" PRIu64 " server pings, %" PRIu64
		    " sends deferred\n", st.sent, st.received, lost,
		    st.mismatches, ws->proto_errors, ws->pings, st.deferred);
		printf("  %.0f msgs/s over %.3f s; latency p50 %.1f us, "
		    "p99 %.1f us, max %.1f us, mean %.1f us\n", rate, msgwin,
		    wsclient_hist_us(&wsbench_lat, 0.50),
		    wsclient_hist_us(&wsbench_lat, 0.99),
		    wsclient_hist_max_us(&wsbench_lat),
		    wsclient_hist_mean_us(&wsbench_lat));
		printf("cpu: user %.2f s, sys %.2f s (%.0f%% of one core over "
		    "%.2f s wall)\n", ucpu, scpu,
		    wall > 0 ? 100 * (ucpu + scpu) / wall : 0, wall);
		printf("result: %s%s%s\n", ok ? "ok" : "FAIL",
		    ws->deadline_hit ? " (deadline reached)" : "",
		    ws->interrupted ? " (interrupted)" : "");
	}
	printf("wsbench: conns=%u failed=%u msgs=%" PRIu64 " mismatches=%"
	    PRIu64 " msgs_per_s=%.0f p50_us=%.1f p99_us=%.1f\n",
	    ws->ready, ws->failed, st.received, st.mismatches, rate,
	    wsclient_hist_us(&wsbench_lat, 0.50),
	    wsclient_hist_us(&wsbench_lat, 0.99));
	fflush(stdout);
	exit(ok ? 0 : 1);
}

int
main(int argc, char *argv[])
{
	static const struct wsclient_ops	 ops = {
		.data = wsbench_data,
		.lost = wsbench_lost,
		.freed = wsbench_freed,
		.run = wsbench_run,
		.finished = wsbench_finished
	};
	int					 ch;

	wsclient_init("wsbench", wsbench_usage);
	while ((ch = getopt(argc, argv, "bc:d:h:i:k:m:p:P:qr:s:S:T:")) != -1) {
		if (wsclient_option(ch, optarg, &opt.t))
			continue;
		switch (ch) {
		case 'b':
			opt.binary = 1;
			break;
		case 'd':
			opt.hold = wsclient_num(optarg, 86400, "-d");
			break;
		case 'i':
			opt.interval = wsclient_num(optarg, 3600000, "-i");
			break;
		case 'm':
			opt.msgs = wsclient_num(optarg, UINT_MAX, "-m");
			break;
		case 'P':
			opt.t.path = optarg;
			break;
		case 'r':
			opt.t.rate = wsclient_num(optarg, 10000000, "-r");
			break;
		case 's':
			opt.size = wsclient_num(optarg, 1U << 30, "-s");
			break;
		case 'S':
			opt.t.nsrc = wsclient_num(optarg, 253, "-S");
			break;
		case 'T':
			opt.t.deadline = wsclient_num(optarg, 86400 * 7, "-T");
			break;
		default:
			wsbench_usage();
		}
	}
	if (optind != argc || opt.t.conns == 0 || opt.t.inflight == 0 ||
	    opt.t.path[0] != '/')
		wsbench_usage();
	if (opt.t.deadline == 0)
		opt.t.deadline = 60 + opt.hold +
		    (opt.t.rate ? opt.t.conns / opt.t.rate : 0);

	wsclient_target(&opt.t);
	wsclient_hist_init(&wsbench_lat);
	if ((wsbench_txbuf = malloc(WS_HEADER_MAX + opt.size)) ==
	    NULL || (wsbench_conns = calloc(opt.t.conns,
	    sizeof(*wsbench_conns))) == NULL) {
		wsclient_warnx("out of memory");
		exit(2);
	}
	wsbench_base = wsclient_loop_new(wsbench_conns,
	    sizeof(*wsbench_conns), &ops);
	if ((wsbench_hold_ev = evtimer_new(wsbench_base, wsbench_hold_cb,
	    NULL)) == NULL) {
		wsclient_warnx("event_new failed");
		exit(2);
	}
	wsclient_run();
	wsbench_report();
	return (0);
}
