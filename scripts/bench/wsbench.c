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
 * last line is machine-readable.  Starting and watching the daemon is left
 * to the scripts next to it (conn-memory.sh).
 *
 * Payloads are not stored: byte j of message n on connection i is a pure
 * function of (run seed, i, n, j), so an echo is checked by regenerating
 * it, however it is fragmented.  The echo server must keep message order.
 */

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT	24
#endif

#define WSBENCH_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WSBENCH_RING		32	/* messages in flight per connection */
#define WSBENCH_HEAD_MAX	8192	/* bytes of response head accepted */
#define WSBENCH_HS_TIMEOUT	10	/* seconds for connect + handshake */
#define WSBENCH_CLOSE_TIMEOUT	3	/* seconds for the closing handshake */
#define WSBENCH_STOP_GRACE	5	/* seconds for all closes, then quit */
/*
 * Default handshakes in flight: below 128, the backlog most servers get by
 * default (libevent's listen(fd, -1) included), so no listen queue can
 * overflow; an overflow costs the client a one-second SYN retransmit.
 */
#define WSBENCH_INFLIGHT	100
#define WSBENCH_CHUNK		4096	/* payload bytes generated at once */

/* Log-linear histogram: exact below 128, then 64 buckets per octave. */
#define WSBENCH_H_SUB		6
#define WSBENCH_H_BUCKETS	((64 - WSBENCH_H_SUB + 1) << WSBENCH_H_SUB)

#define WSBENCH_OP_CONT		0x0
#define WSBENCH_OP_TEXT		0x1
#define WSBENCH_OP_BINARY	0x2
#define WSBENCH_OP_CLOSE	0x8
#define WSBENCH_OP_PING		0x9
#define WSBENCH_OP_PONG		0xa

enum wsbench_state {
	WSBENCH_IDLE,		/* not launched yet */
	WSBENCH_HANDSHAKE,	/* connecting, request sent, awaiting 101 */
	WSBENCH_OPEN,
	WSBENCH_CLOSING,	/* our close sent, awaiting the server's */
	WSBENCH_DRAINING,	/* closes exchanged, awaiting the FIN */
	WSBENCH_DONE
};

enum wsbench_phase {
	WSBENCH_CONNECT,	/* launching connections */
	WSBENCH_RUN,		/* all settled: messages and hold */
	WSBENCH_STOP		/* closing everything */
};

/* Why a connection never got established. */
enum wsbench_fail {
	WSBENCH_F_CONNECT,
	WSBENCH_F_TIMEOUT,
	WSBENCH_F_STATUS,
	WSBENCH_F_ACCEPT,
	WSBENCH_F_EOF,
	WSBENCH_F_NOTSTARTED,
	WSBENCH_F_MAX
};

static const char *wsbench_fail_names[WSBENCH_F_MAX] = {
	"connect", "timeout", "bad status", "bad accept", "eof",
	"not started"
};

struct wsbench_hist {
	uint64_t	 h_b[WSBENCH_H_BUCKETS];
	uint64_t	 h_n;
	uint64_t	 h_sum;
	uint64_t	 h_min;
	uint64_t	 h_max;
};

struct wsbench_conn {
	struct bufferevent	*bev;
	struct event		*tick;		/* -i: next message */
	uint32_t		 id;
	enum wsbench_state	 state;
	int			 msgdone;	/* counted in st.msgdone */
	int			 rx_op;		/* opcode of the message read */
	int			 rx_bad;	/* its payload differs so far */
	uint64_t		 rx_off;	/* its bytes read so far */
	uint64_t		 tx_seq;	/* messages sent */
	uint64_t		 rx_seq;	/* echoes received */
	uint64_t		 t_start;
	uint64_t		 ts[WSBENCH_RING];	/* send times, by seq */
	char			 accept[32];	/* Sec-WebSocket-Accept due */
};

static struct {
	const char	*host;
	const char	*port;
	const char	*path;
	unsigned	 conns;
	unsigned	 rate;
	unsigned	 inflight;
	unsigned	 nsrc;
	uint64_t	 msgs;
	size_t		 size;
	unsigned	 hold;
	unsigned	 interval;
	unsigned	 deadline;
	int		 binary;
	int		 quiet;
} opt = {
	"127.0.0.1", "8080", "/echo", 1, 0, WSBENCH_INFLIGHT, 0, 0, 64, 0,
	0, 0, 0, 0
};

static struct {
	unsigned	 launched;
	unsigned	 inflight;
	unsigned	 established;
	unsigned	 failed;
	unsigned	 fail[WSBENCH_F_MAX];
	unsigned	 closed_early;	/* server closed or reset an open one */
	unsigned	 closed_clean;	/* our close answered by the server's */
	unsigned	 closed_unclean; /* our close not answered in time */
	unsigned	 live;		/* connections with a bufferevent */
	unsigned	 msgdone;	/* connections done with messages */
	uint64_t	 sent;
	uint64_t	 received;
	uint64_t	 mismatches;
	uint64_t	 proto_errors;
	uint64_t	 pings;
	uint64_t	 deferred;
	uint64_t	 t0;
	uint64_t	 t_run;
	uint64_t	 t_last_rx;
	uint64_t	 t_stop;
	int		 first_errno;
	int		 hold_over;
	int		 deadline_hit;
	int		 interrupted;
	int		 src_moves;
} st;

static struct event_base	*wsbench_base;
static struct wsbench_conn	*wsbench_conns;
static enum wsbench_phase	 wsbench_phase;
static struct sockaddr_storage	 wsbench_dst;
static socklen_t		 wsbench_dstlen;
static int			 wsbench_loop4;	/* target in 127/8 */
static unsigned			 wsbench_src_lo, wsbench_src_hi;
static uint64_t			 wsbench_seed;
static uint64_t			 wsbench_rng;
static uint8_t			*wsbench_txbuf;
static char			 wsbench_hostport[300];
static struct event		*wsbench_tick_ev, *wsbench_hold_ev;
static struct event		*wsbench_stop_ev, *wsbench_deadline_ev;
static struct wsbench_hist	 wsbench_lat, wsbench_hs;

static void	wsbench_read_cb(struct bufferevent *, void *);
static void	wsbench_event_cb(struct bufferevent *, short, void *);
static void	wsbench_check(void);
static void	wsbench_stop(void);

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
	    WSBENCH_INFLIGHT);
	exit(2);
}

static void
wsbench_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
wsbench_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	fputs("wsbench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static uint64_t
wsbench_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec);
}

/* splitmix64's finaliser: a cheap bijective mixer. */
static uint64_t
wsbench_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return (x ^ (x >> 31));
}

/* Masks and keys need not be secret here, only varied. */
static uint64_t
wsbench_random(void)
{
	wsbench_rng = wsbench_mix(wsbench_rng);
	return (wsbench_rng);
}

static uint64_t
wsbench_msg_seed(const struct wsbench_conn *c, uint64_t seq)
{
	return (wsbench_mix(wsbench_seed ^ ((uint64_t)c->id << 40) ^ seq));
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
		r = wsbench_mix(seed + (off >> 3));
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
wsbench_hist_init(struct wsbench_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->h_min = UINT64_MAX;
}

static void
wsbench_hist_add(struct wsbench_hist *h, uint64_t v)
{
	unsigned	 e, idx;

	if (v < (2U << WSBENCH_H_SUB))
		idx = v;
	else {
		e = 63 - __builtin_clzll(v);
		idx = ((e - WSBENCH_H_SUB) << WSBENCH_H_SUB) +
		    (v >> (e - WSBENCH_H_SUB));
	}
	h->h_b[idx]++;
	h->h_n++;
	h->h_sum += v;
	if (v < h->h_min)
		h->h_min = v;
	if (v > h->h_max)
		h->h_max = v;
}

/* The value at quantile q (0..1): a bucket's midpoint, within min..max. */
static uint64_t
wsbench_hist_quantile(const struct wsbench_hist *h, double q)
{
	uint64_t	 rank, seen = 0, lo, hi, v;
	unsigned	 idx, shift;

	if (h->h_n == 0)
		return (0);
	rank = (uint64_t)(q * (double)h->h_n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank >= h->h_n)
		return (h->h_max);
	for (idx = 0; idx < WSBENCH_H_BUCKETS; idx++) {
		seen += h->h_b[idx];
		if (seen >= rank)
			break;
	}
	if (idx < (2U << WSBENCH_H_SUB))
		lo = hi = idx;
	else {
		shift = (idx >> WSBENCH_H_SUB) - 1;
		lo = (uint64_t)((idx & ((1U << WSBENCH_H_SUB) - 1)) |
		    (1U << WSBENCH_H_SUB)) << shift;
		hi = lo + (1ULL << shift) - 1;
	}
	v = lo + (hi - lo) / 2;
	if (v < h->h_min)
		v = h->h_min;
	if (v > h->h_max)
		v = h->h_max;
	return (v);
}

static void
wsbench_conn_msgdone(struct wsbench_conn *c)
{
	if (!c->msgdone) {
		c->msgdone = 1;
		st.msgdone++;
	}
}

/* Drop the socket.  The struct stays: it is an element of wsbench_conns. */
static void
wsbench_conn_free(struct wsbench_conn *c)
{
	if (c->tick != NULL) {
		event_free(c->tick);
		c->tick = NULL;
	}
	if (c->bev != NULL) {
		bufferevent_free(c->bev);	/* closes the fd */
		c->bev = NULL;
		st.live--;
	}
	c->state = WSBENCH_DONE;
	wsbench_conn_msgdone(c);
}

/* A connection that never got established. */
static void
wsbench_conn_fail(struct wsbench_conn *c, enum wsbench_fail why, int err)
{
	if (c->state == WSBENCH_HANDSHAKE)
		st.inflight--;
	st.failed++;
	st.fail[why]++;
	if (err != 0 && st.first_errno == 0)
		st.first_errno = err;
	wsbench_conn_free(c);
}

/* An open connection that broke the protocol or echoed the wrong thing. */
static void
wsbench_conn_abort(struct wsbench_conn *c, const char *why)
{
	if (st.proto_errors++ == 0)
		wsbench_warnx("conn %u: %s; dropping it", c->id, why);
	wsbench_conn_free(c);
}

static void
wsbench_timeouts(struct wsbench_conn *c, unsigned sec)
{
	struct timeval	 tv = { sec, 0 };

	bufferevent_set_timeouts(c->bev, sec ? &tv : NULL, sec ? &tv : NULL);
}

/*
 * Queue one masked frame.  Data frames are built in wsbench_txbuf from the
 * message's seed; control frames copy payload (at most 125 bytes).
 */
static void
wsbench_send_frame(struct wsbench_conn *c, int op, const uint8_t *payload,
    uint64_t len, uint64_t seed)
{
	uint8_t		*f = wsbench_txbuf, mask[4];
	uint64_t	 r, i, m8, w;
	size_t		 hl;

	f[0] = 0x80 | op;
	if (len < 126) {
		f[1] = 0x80 | len;
		hl = 2;
	} else if (len < 65536) {
		f[1] = 0x80 | 126;
		f[2] = len >> 8;
		f[3] = len & 0xff;
		hl = 4;
	} else {
		f[1] = 0x80 | 127;
		for (i = 0; i < 8; i++)
			f[2 + i] = (len >> (56 - 8 * i)) & 0xff;
		hl = 10;
	}
	r = wsbench_random();
	memcpy(mask, &r, 4);
	memcpy(f + hl, mask, 4);
	hl += 4;
	if (payload != NULL)
		memcpy(f + hl, payload, len);
	else
		wsbench_payload(f + hl, seed, 0, len, op == WSBENCH_OP_TEXT);
	/* Mask eight bytes at a time; the key repeats every four. */
	memcpy(&m8, mask, 4);
	memcpy((uint8_t *)&m8 + 4, mask, 4);
	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, f + hl + i, 8);
		w ^= m8;
		memcpy(f + hl + i, &w, 8);
	}
	for (; i < len; i++)
		f[hl + i] ^= mask[i & 3];
	bufferevent_write(c->bev, f, hl + len);
}

static void
wsbench_send_msg(struct wsbench_conn *c)
{
	uint64_t	 seq = c->tx_seq;

	c->ts[seq % WSBENCH_RING] = wsbench_now();
	wsbench_send_frame(c, opt.binary ? WSBENCH_OP_BINARY : WSBENCH_OP_TEXT,
	    NULL, opt.size, wsbench_msg_seed(c, seq));
	c->tx_seq++;
	st.sent++;
}

static void
wsbench_send_close(struct wsbench_conn *c, const uint8_t *body, size_t len)
{
	wsbench_send_frame(c, WSBENCH_OP_CLOSE, body, len, 0);
}

/* -i: one message per tick, unless WSBENCH_RING are unanswered. */
static void
wsbench_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsbench_conn	*c = arg;
	struct timeval		 tv;

	if (c->state != WSBENCH_OPEN || c->tx_seq >= opt.msgs)
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

/* Open one connection and queue its upgrade request.  0, or -1 if failed. */
static int
wsbench_conn_start(struct wsbench_conn *c)
{
	struct sockaddr_in	 src;
	unsigned char		 key[16], md[SHA_DIGEST_LENGTH];
	char			 key64[32], buf[64 + sizeof(WSBENCH_GUID)];
	uint64_t		 r;
	int			 fd, one = 1, err, tries;
	unsigned		 idx;

	c->t_start = wsbench_now();
	for (tries = 0;; tries++) {
		fd = socket(wsbench_dst.ss_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd == -1) {
			wsbench_conn_fail(c, WSBENCH_F_CONNECT, errno);
			return (-1);
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (wsbench_loop4 && wsbench_src_hi > 1) {
			/* Port chosen at connect(), per destination. */
			setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT,
			    &one, sizeof(one));
			idx = wsbench_src_lo +
			    c->id % (wsbench_src_hi - wsbench_src_lo);
			memset(&src, 0, sizeof(src));
			src.sin_family = AF_INET;
			src.sin_addr.s_addr = htonl(0x7f000001U + idx);
			if (bind(fd, (struct sockaddr *)&src,
			    sizeof(src)) == -1) {
				err = errno;
				close(fd);
				wsbench_conn_fail(c, WSBENCH_F_CONNECT, err);
				return (-1);
			}
		}
		if (connect(fd, (struct sockaddr *)&wsbench_dst,
		    wsbench_dstlen) == 0 || errno == EINPROGRESS)
			break;
		err = errno;
		close(fd);
		/*
		 * Out of ephemeral ports for this source: move every later
		 * connection to a fresh 127.0.0.x.
		 */
		if (err == EADDRNOTAVAIL && wsbench_loop4 && tries < 3 &&
		    wsbench_src_hi < 254) {
			wsbench_src_lo = wsbench_src_hi;
			if (wsbench_src_hi == 1)
				wsbench_src_lo = 1;
			wsbench_src_hi = wsbench_src_lo + 1;
			st.src_moves++;
			if (!opt.quiet)
				wsbench_warnx("ephemeral ports exhausted at "
				    "conn %u: now from 127.0.0.%u", c->id,
				    wsbench_src_lo + 1);
			continue;
		}
		wsbench_conn_fail(c, WSBENCH_F_CONNECT, err);
		return (-1);
	}

	/* BEV_OPT_CLOSE_ON_FREE: the fd is the bufferevent's from here on. */
	c->bev = bufferevent_socket_new(wsbench_base, fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(fd);
		wsbench_conn_fail(c, WSBENCH_F_CONNECT, ENOMEM);
		return (-1);
	}
	st.live++;
	st.inflight++;
	c->state = WSBENCH_HANDSHAKE;
	bufferevent_setcb(c->bev, wsbench_read_cb, NULL, wsbench_event_cb, c);
	/* libevent's 4 KiB/16 KiB defaults cost a callback per chunk. */
	bufferevent_set_max_single_read(c->bev, 256 * 1024);
	bufferevent_set_max_single_write(c->bev, 256 * 1024);
	wsbench_timeouts(c, WSBENCH_HS_TIMEOUT);

	r = wsbench_random();
	memcpy(key, &r, 8);
	r = wsbench_random();
	memcpy(key + 8, &r, 8);
	EVP_EncodeBlock((unsigned char *)key64, key, sizeof(key));
	snprintf(buf, sizeof(buf), "%s%s", key64, WSBENCH_GUID);
	SHA1((unsigned char *)buf, strlen(buf), md);
	EVP_EncodeBlock((unsigned char *)c->accept, md, sizeof(md));

	/* Sent once connect() completes: not writable before. */
	evbuffer_add_printf(bufferevent_get_output(c->bev),
	    "GET %s HTTP/1.1\r\n"
	    "Host: %s\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "User-Agent: wsbench\r\n"
	    "\r\n", opt.path, wsbench_hostport, key64);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return (0);
}

/* Start connections while the rate and the in-flight cap allow. */
static void
wsbench_launch(void)
{
	uint64_t	 allowed;

	if (wsbench_phase != WSBENCH_CONNECT)
		return;
	allowed = opt.conns;
	if (opt.rate > 0) {
		allowed = (wsbench_now() - st.t0) / 1000 * opt.rate /
		    1000000 + 1;
		if (allowed > opt.conns)
			allowed = opt.conns;
	}
	while (st.launched < allowed && st.inflight < opt.inflight)
		wsbench_conn_start(&wsbench_conns[st.launched++]);
}

static char *
wsbench_trim(char *s)
{
	char	*e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return (s);
}

/*
 * Read the response head.  Returns 0 once the connection is open (frames
 * may follow in the buffer), -1 if more is needed or it failed.
 */
static int
wsbench_handshake(struct wsbench_conn *c, struct evbuffer *in)
{
	struct evbuffer_ptr	 p;
	char			 head[WSBENCH_HEAD_MAX + 1], *line, *next;
	char			*name, *value;
	size_t			 hlen;
	int			 upgrade = 0, accept = 0;

	p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (p.pos == -1) {
		if (evbuffer_get_length(in) > WSBENCH_HEAD_MAX)
			wsbench_conn_fail(c, WSBENCH_F_STATUS, 0);
		return (-1);
	}
	hlen = (size_t)p.pos + 4;
	if (hlen > WSBENCH_HEAD_MAX) {
		wsbench_conn_fail(c, WSBENCH_F_STATUS, 0);
		return (-1);
	}
	evbuffer_remove(in, head, hlen);
	head[hlen] = '\0';

	if (strncmp(head, "HTTP/1.1 101", 12) != 0 ||
	    (head[12] != ' ' && head[12] != '\r')) {
		if (st.fail[WSBENCH_F_STATUS] == 0)
			wsbench_warnx("conn %u: %.*s", c->id,
			    (int)strcspn(head, "\r\n"), head);
		wsbench_conn_fail(c, WSBENCH_F_STATUS, 0);
		return (-1);
	}
	line = strstr(head, "\r\n") + 2;
	for (; *line != '\r' && *line != '\0'; line = next) {
		if ((next = strstr(line, "\r\n")) == NULL)
			break;
		*next = '\0';
		next += 2;
		if ((value = strchr(line, ':')) == NULL)
			continue;
		*value++ = '\0';
		name = line;
		value = wsbench_trim(value);
		if (strcasecmp(name, "Upgrade") == 0 &&
		    strcasecmp(value, "websocket") == 0)
			upgrade = 1;
		else if (strcasecmp(name, "Sec-WebSocket-Accept") == 0 &&
		    strcmp(value, c->accept) == 0)
			accept = 1;
	}
	if (!upgrade || !accept) {
		if (st.fail[WSBENCH_F_ACCEPT] == 0)
			wsbench_warnx("conn %u: 101 without %s", c->id,
			    upgrade ? "the right Sec-WebSocket-Accept" :
			    "Upgrade: websocket");
		wsbench_conn_fail(c, WSBENCH_F_ACCEPT, 0);
		return (-1);
	}

	st.inflight--;
	st.established++;
	wsbench_hist_add(&wsbench_hs, wsbench_now() - c->t_start);
	c->state = WSBENCH_OPEN;
	wsbench_timeouts(c, 0);
	return (0);
}

/* A complete echo: check it, time it, send the next one. */
static void
wsbench_msg_done(struct wsbench_conn *c)
{
	uint64_t	 now = wsbench_now();

	if (c->rx_bad || c->rx_off != opt.size ||
	    c->rx_op != (opt.binary ? WSBENCH_OP_BINARY : WSBENCH_OP_TEXT)) {
		if (st.mismatches++ == 0)
			wsbench_warnx("conn %u: message %" PRIu64 " came back "
			    "different (%s)", c->id, c->rx_seq,
			    c->rx_off != opt.size ? "length" :
			    c->rx_bad ? "payload" : "opcode");
	}
	wsbench_hist_add(&wsbench_lat, now - c->ts[c->rx_seq % WSBENCH_RING]);
	c->rx_seq++;
	c->rx_op = 0;
	st.received++;
	st.t_last_rx = now;
	if (c->rx_seq == opt.msgs)
		wsbench_conn_msgdone(c);
	else if (c->state == WSBENCH_OPEN && opt.interval == 0 &&
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

/* A control frame from the server; the connection may be freed. */
static void
wsbench_control(struct wsbench_conn *c, int op, const uint8_t *p, size_t len)
{
	switch (op) {
	case WSBENCH_OP_PING:
		st.pings++;
		if (c->state == WSBENCH_OPEN)
			wsbench_send_frame(c, WSBENCH_OP_PONG, p, len, 0);
		break;
	case WSBENCH_OP_PONG:
		break;
	case WSBENCH_OP_CLOSE:
		if (c->state == WSBENCH_CLOSING) {
			st.closed_clean++;
		} else if (c->state == WSBENCH_OPEN) {
			if (st.closed_early++ == 0)
				wsbench_warnx("conn %u: server closed it "
				    "(code %u)", c->id,
				    len >= 2 ? (p[0] << 8 | p[1]) : 1005);
			/* Answer with the same code (RFC 6455, 5.5.1). */
			wsbench_send_close(c, p, len >= 2 ? 2 : 0);
			wsbench_conn_msgdone(c);
		} else
			break;
		/* The server closes TCP first; wait for its FIN. */
		c->state = WSBENCH_DRAINING;
		wsbench_timeouts(c, WSBENCH_CLOSE_TIMEOUT);
		break;
	default:
		wsbench_conn_abort(c, "unknown control opcode");
		break;
	}
}

/* Parse server frames from in.  Stops when the connection is freed. */
static void
wsbench_frames(struct wsbench_conn *c, struct evbuffer *in)
{
	uint8_t		*h, ctl[125];
	uint64_t	 len, i;
	size_t		 avail, hl;
	int		 op, fin;

	while (c->bev != NULL && c->state >= WSBENCH_OPEN &&
	    c->state <= WSBENCH_DRAINING) {
		avail = evbuffer_get_length(in);
		if (avail < 2)
			return;
		h = evbuffer_pullup(in, avail < 10 ? avail : 10);
		fin = h[0] & 0x80;
		op = h[0] & 0x0f;
		len = h[1] & 0x7f;
		hl = 2;
		if (h[0] & 0x70) {
			wsbench_conn_abort(c, "reserved bits set");
			return;
		}
		if (h[1] & 0x80) {
			/* Servers must not mask (RFC 6455, 5.1). */
			wsbench_conn_abort(c, "masked server frame");
			return;
		}
		if (len == 126) {
			if (avail < 4)
				return;
			len = (uint64_t)h[2] << 8 | h[3];
			hl = 4;
		} else if (len == 127) {
			if (avail < 10)
				return;
			for (len = 0, i = 0; i < 8; i++)
				len = len << 8 | h[2 + i];
			hl = 10;
		}
		if (op >= WSBENCH_OP_CLOSE) {
			if (!fin || len > 125) {
				wsbench_conn_abort(c, "bad control frame");
				return;
			}
		} else if (op > WSBENCH_OP_BINARY) {
			wsbench_conn_abort(c, "unknown data opcode");
			return;
		} else if ((op == WSBENCH_OP_CONT) != (c->rx_op != 0)) {
			wsbench_conn_abort(c, "bad fragmentation");
			return;
		} else if (c->rx_seq >= c->tx_seq) {
			st.mismatches++;
			wsbench_conn_abort(c, "message nobody sent");
			return;
		} else if ((op != WSBENCH_OP_CONT ? 0 : c->rx_off) + len >
		    opt.size) {
			st.mismatches++;
			wsbench_conn_abort(c, "echo longer than the message");
			return;
		}
		if (avail < hl + len)
			return;
		h = evbuffer_pullup(in, hl + len);

		if (op >= WSBENCH_OP_CLOSE) {
			memcpy(ctl, h + hl, len);
			evbuffer_drain(in, hl + len);
			wsbench_control(c, op, ctl, len);
			continue;
		}
		if (op != WSBENCH_OP_CONT) {
			c->rx_op = op;
			c->rx_off = 0;
			c->rx_bad = 0;
		}
		wsbench_msg_compare(c, h + hl, len);
		evbuffer_drain(in, hl + len);
		if (fin)
			wsbench_msg_done(c);
	}
}

static void
wsbench_read_cb(struct bufferevent *bev, void *arg)
{
	struct wsbench_conn	*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);

	if (c->state == WSBENCH_HANDSHAKE && wsbench_handshake(c, in) == -1) {
		wsbench_launch();
		wsbench_check();
		return;
	}
	if (c->state == WSBENCH_OPEN && wsbench_phase == WSBENCH_CONNECT &&
	    st.launched < opt.conns)
		wsbench_launch();
	wsbench_frames(c, in);
	wsbench_check();
}

static void
wsbench_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct wsbench_conn	*c = arg;
	int			 err = EVUTIL_SOCKET_ERROR();

	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)))
		return;
	switch (c->state) {
	case WSBENCH_HANDSHAKE:
		if (what & BEV_EVENT_TIMEOUT)
			wsbench_conn_fail(c, WSBENCH_F_TIMEOUT, 0);
		else if (what & BEV_EVENT_EOF)
			wsbench_conn_fail(c, WSBENCH_F_EOF, 0);
		else
			wsbench_conn_fail(c, WSBENCH_F_CONNECT, err);
		wsbench_launch();
		break;
	case WSBENCH_OPEN:
		if (st.closed_early++ == 0)
			wsbench_warnx("conn %u: %s while open", c->id,
			    what & BEV_EVENT_EOF ? "EOF" :
			    what & BEV_EVENT_TIMEOUT ? "timeout" :
			    strerror(err));
		wsbench_conn_free(c);
		break;
	case WSBENCH_CLOSING:
		st.closed_unclean++;
		wsbench_conn_free(c);
		break;
	default:
		wsbench_conn_free(c);
		break;
	}
	wsbench_check();
}

/* All connections settled: start messages and the hold timer. */
static void
wsbench_run(void)
{
	struct wsbench_conn	*c;
	struct timeval		 tv;
	unsigned		 i;

	wsbench_phase = WSBENCH_RUN;
	st.t_run = wsbench_now();
	if (!opt.quiet) {
		printf("wsbench: connected %u of %u in %.3f s (%u failed); "
		    "holding %u s\n", st.established, opt.conns,
		    (st.t_run - st.t0) / 1e9, st.failed, opt.hold);
		fflush(stdout);
	}
	for (i = 0; i < opt.conns; i++) {
		c = &wsbench_conns[i];
		if (c->state != WSBENCH_OPEN || opt.msgs == 0) {
			wsbench_conn_msgdone(c);
			continue;
		}
		if (opt.interval == 0) {
			wsbench_send_msg(c);
			continue;
		}
		if ((c->tick = evtimer_new(wsbench_base, wsbench_tick_cb,
		    c)) == NULL) {
			wsbench_conn_abort(c, "evtimer_new failed");
			continue;
		}
		/* Spread the first sends over one interval. */
		tv.tv_sec = 0;
		tv.tv_usec = wsbench_random() % ((uint64_t)opt.interval * 1000);
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

/* Move to the next phase when this one is complete. */
static void
wsbench_check(void)
{
	if (wsbench_phase == WSBENCH_CONNECT &&
	    st.established + st.failed == opt.conns)
		wsbench_run();
	if (wsbench_phase == WSBENCH_RUN && st.hold_over &&
	    st.msgdone == opt.conns)
		wsbench_stop();
	if (wsbench_phase == WSBENCH_STOP && st.live == 0)
		event_base_loopexit(wsbench_base, NULL);
}

/* Close everything: a close frame on each open connection. */
static void
wsbench_stop(void)
{
	struct wsbench_conn	*c;
	struct timeval		 tv = { WSBENCH_STOP_GRACE, 0 };
	unsigned		 i;
	uint8_t			 code[2] = { 1000 >> 8, 1000 & 0xff };

	if (wsbench_phase == WSBENCH_STOP)
		return;
	if (wsbench_phase == WSBENCH_CONNECT)
		st.t_run = wsbench_now();
	wsbench_phase = WSBENCH_STOP;
	st.t_stop = wsbench_now();
	for (i = 0; i < opt.conns; i++) {
		c = &wsbench_conns[i];
		switch (c->state) {
		case WSBENCH_IDLE:
			wsbench_conn_fail(c, WSBENCH_F_NOTSTARTED, 0);
			break;
		case WSBENCH_HANDSHAKE:
			wsbench_conn_fail(c, WSBENCH_F_TIMEOUT, 0);
			break;
		case WSBENCH_OPEN:
			if (c->tick != NULL) {
				event_free(c->tick);
				c->tick = NULL;
			}
			wsbench_send_close(c, code, sizeof(code));
			c->state = WSBENCH_CLOSING;
			wsbench_timeouts(c, WSBENCH_CLOSE_TIMEOUT);
			break;
		default:
			break;
		}
	}
	evtimer_add(wsbench_stop_ev, &tv);
	wsbench_check();
}

static void
wsbench_tick_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	wsbench_launch();
	wsbench_check();
	if (wsbench_phase != WSBENCH_CONNECT)
		event_del(wsbench_tick_ev);
}

static void
wsbench_hold_cb(evutil_socket_t fd, short what, void *arg)
{
	st.hold_over = 1;
	wsbench_check();
}

static void
wsbench_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopexit(wsbench_base, NULL);
}

static void
wsbench_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	st.deadline_hit = 1;
	wsbench_warnx("deadline of %u s reached; stopping", opt.deadline);
	wsbench_stop();
}

static void
wsbench_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	if (st.interrupted++ > 0)
		event_base_loopbreak(wsbench_base);
	wsbench_stop();
}

/* Last resort if the loop itself hangs: async-signal-safe only. */
static void
wsbench_alarm(int sig)
{
	static const char msg[] = "wsbench: hard deadline, giving up\n";

	(void)write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(3);
}

static unsigned
wsbench_num(const char *s, unsigned long long max, const char *what)
{
	unsigned long long	 v;
	char			*end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s == '\0' || *s == '-' || *end != '\0' || errno != 0 || v > max) {
		wsbench_warnx("bad %s \"%s\"", what, s);
		wsbench_usage();
	}
	return ((unsigned)v);
}

/* Free ephemeral ports: the local port range, or Linux's default. */
static unsigned
wsbench_port_range(void)
{
	FILE		*f;
	unsigned	 lo, hi;

	if ((f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) ==
	    NULL)
		return (28232);
	if (fscanf(f, "%u %u", &lo, &hi) != 2 || hi < lo) {
		fclose(f);
		return (28232);
	}
	fclose(f);
	return (hi - lo + 1);
}

static void
wsbench_resolve(void)
{
	struct addrinfo		 hints, *res;
	struct sockaddr_in	*s4;
	int			 error;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((error = getaddrinfo(opt.host, opt.port, &hints, &res)) != 0) {
		wsbench_warnx("%s:%s: %s", opt.host, opt.port,
		    gai_strerror(error));
		exit(2);
	}
	memcpy(&wsbench_dst, res->ai_addr, res->ai_addrlen);
	wsbench_dstlen = res->ai_addrlen;
	freeaddrinfo(res);
	if (wsbench_dst.ss_family == AF_INET) {
		s4 = (struct sockaddr_in *)&wsbench_dst;
		wsbench_loop4 = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	}
	if (strchr(opt.host, ':') != NULL)
		snprintf(wsbench_hostport, sizeof(wsbench_hostport), "[%s]:%s",
		    opt.host, opt.port);
	else
		snprintf(wsbench_hostport, sizeof(wsbench_hostport), "%s:%s",
		    opt.host, opt.port);
}

/* Raise the descriptor limit to the hard limit; fail if that is short. */
static void
wsbench_rlimit(void)
{
	struct rlimit	 rl;
	rlim_t		 need = (rlim_t)opt.conns + 32;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		wsbench_warnx("getrlimit: %s", strerror(errno));
		exit(2);
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			wsbench_warnx("setrlimit: %s", strerror(errno));
	}
	if (rl.rlim_cur < need) {
		wsbench_warnx("%u connections need %llu descriptors; the limit "
		    "is %llu", opt.conns, (unsigned long long)need,
		    (unsigned long long)rl.rlim_cur);
		exit(2);
	}
}

static void
wsbench_report(void)
{
	struct rusage	 ru;
	double		 wall, msgwin, rate, ucpu, scpu, conwin;
	uint64_t	 lost = st.sent - st.received;
	int		 ok;
	unsigned	 i;

	getrusage(RUSAGE_SELF, &ru);
	ucpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
	scpu = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	wall = (wsbench_now() - st.t0) / 1e9;
	conwin = (st.t_run - st.t0) / 1e9;
	msgwin = st.received > 0 ? (st.t_last_rx - st.t_run) / 1e9 : 0;
	rate = msgwin > 0 ? st.received / msgwin : 0;
	ok = st.failed == 0 && st.mismatches == 0 && st.closed_early == 0 &&
	    st.closed_unclean == 0 && st.proto_errors == 0 && lost == 0 &&
	    !st.deadline_hit && !st.interrupted;

	if (!opt.quiet) {
		if (opt.msgs == 0)
			printf("wsbench: ws://%s%s: %u connections, no "
			    "messages\n", wsbench_hostport, opt.path,
			    opt.conns);
		else
			printf("wsbench: ws://%s%s: %u connections, %" PRIu64
			    " %s messages of %zu bytes each, %s\n",
			    wsbench_hostport, opt.path, opt.conns, opt.msgs,
			    opt.binary ? "binary" : "text", opt.size,
			    opt.interval == 0 ? "ping-pong" :
			    "on an interval");
		printf("connections: %u established, %u failed, %u closed "
		    "early, %u closed cleanly, %u close unanswered\n",
		    st.established, st.failed, st.closed_early,
		    st.closed_clean, st.closed_unclean);
		if (st.failed > 0) {
			printf("  failures:");
			for (i = 0; i < WSBENCH_F_MAX; i++)
				printf("%s %s %u", i ? "," : "",
				    wsbench_fail_names[i], st.fail[i]);
			printf("%s%s\n", st.first_errno ? "; first error: " :
			    "", st.first_errno ? strerror(st.first_errno) :
			    "");
		}
		printf("  connect phase %.3f s (%.0f conn/s), handshake "
		    "p50 %.1f us, p99 %.1f us, max %.1f us; source "
		    "addresses %u\n", conwin,
		    conwin > 0 ? st.established / conwin : 0,
		    wsbench_hist_quantile(&wsbench_hs, 0.50) / 1e3,
		    wsbench_hist_quantile(&wsbench_hs, 0.99) / 1e3,
		    wsbench_hs.h_max / 1e3,
		    wsbench_src_hi > 1 ? wsbench_src_hi : 1);
		printf("messages: %" PRIu64 " sent, %" PRIu64 " received, %"
		    PRIu64 " lost, %" PRIu64 " mismatches, %" PRIu64
		    " protocol errors, %" PRIu64 " server pings, %" PRIu64
		    " sends deferred\n", st.sent, st.received, lost,
		    st.mismatches, st.proto_errors, st.pings, st.deferred);
		printf("  %.0f msgs/s over %.3f s; latency p50 %.1f us, "
		    "p99 %.1f us, max %.1f us, mean %.1f us\n", rate, msgwin,
		    wsbench_hist_quantile(&wsbench_lat, 0.50) / 1e3,
		    wsbench_hist_quantile(&wsbench_lat, 0.99) / 1e3,
		    wsbench_lat.h_max / 1e3, wsbench_lat.h_n ?
		    (double)wsbench_lat.h_sum / wsbench_lat.h_n / 1e3 : 0);
		printf("cpu: user %.2f s, sys %.2f s (%.0f%% of one core over "
		    "%.2f s wall)\n", ucpu, scpu,
		    wall > 0 ? 100 * (ucpu + scpu) / wall : 0, wall);
		printf("result: %s%s%s\n", ok ? "ok" : "FAIL",
		    st.deadline_hit ? " (deadline reached)" : "",
		    st.interrupted ? " (interrupted)" : "");
	}
	printf("wsbench: conns=%u failed=%u msgs=%" PRIu64 " mismatches=%"
	    PRIu64 " msgs_per_s=%.0f p50_us=%.1f p99_us=%.1f\n",
	    st.established, st.failed, st.received, st.mismatches, rate,
	    wsbench_hist_quantile(&wsbench_lat, 0.50) / 1e3,
	    wsbench_hist_quantile(&wsbench_lat, 0.99) / 1e3);
	fflush(stdout);
	exit(ok ? 0 : 1);
}

int
main(int argc, char *argv[])
{
	struct event	*sigint, *sigterm;
	struct timeval	 tv;
	unsigned	 budget, i;
	int		 ch;

	while ((ch = getopt(argc, argv, "bc:d:h:i:k:m:p:P:qr:s:S:T:")) != -1) {
		switch (ch) {
		case 'b':
			opt.binary = 1;
			break;
		case 'c':
			opt.conns = wsbench_num(optarg, 10000000, "-c");
			break;
		case 'd':
			opt.hold = wsbench_num(optarg, 86400, "-d");
			break;
		case 'h':
			opt.host = optarg;
			break;
		case 'i':
			opt.interval = wsbench_num(optarg, 3600000, "-i");
			break;
		case 'k':
			opt.inflight = wsbench_num(optarg, 1000000, "-k");
			break;
		case 'm':
			opt.msgs = wsbench_num(optarg, UINT_MAX, "-m");
			break;
		case 'p':
			wsbench_num(optarg, 65535, "-p");
			opt.port = optarg;
			break;
		case 'P':
			opt.path = optarg;
			break;
		case 'q':
			opt.quiet = 1;
			break;
		case 'r':
			opt.rate = wsbench_num(optarg, 10000000, "-r");
			break;
		case 's':
			opt.size = wsbench_num(optarg, 1U << 30, "-s");
			break;
		case 'S':
			opt.nsrc = wsbench_num(optarg, 253, "-S");
			break;
		case 'T':
			opt.deadline = wsbench_num(optarg, 86400 * 7, "-T");
			break;
		default:
			wsbench_usage();
		}
	}
	if (optind != argc || opt.conns == 0 || opt.inflight == 0 ||
	    opt.path[0] != '/')
		wsbench_usage();
	if (opt.deadline == 0)
		opt.deadline = 60 + opt.hold +
		    (opt.rate ? opt.conns / opt.rate : 0);

	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, wsbench_alarm);
	alarm(opt.deadline + WSBENCH_STOP_GRACE + 10);
	wsbench_rlimit();
	wsbench_resolve();

	/* Enough source addresses to leave half of each one's ports free. */
	wsbench_src_lo = 0;
	wsbench_src_hi = 1;
	if (wsbench_loop4) {
		budget = wsbench_port_range() / 2;
		if (opt.nsrc > 0)
			wsbench_src_hi = opt.nsrc;
		else if (budget > 0)
			wsbench_src_hi = (opt.conns + budget - 1) / budget;
		if (wsbench_src_hi < 1)
			wsbench_src_hi = 1;
		if (wsbench_src_hi > 253)
			wsbench_src_hi = 253;
	} else if (opt.nsrc > 1)
		wsbench_warnx("-S only works for 127.x targets; ignored");

	wsbench_seed = wsbench_mix((uint64_t)time(NULL) ^
	    ((uint64_t)getpid() << 32));
	wsbench_rng = wsbench_mix(wsbench_seed);
	wsbench_hist_init(&wsbench_lat);
	wsbench_hist_init(&wsbench_hs);
	if ((wsbench_txbuf = malloc(opt.size + 14 + 125)) == NULL ||
	    (wsbench_conns = calloc(opt.conns, sizeof(*wsbench_conns))) ==
	    NULL) {
		wsbench_warnx("out of memory");
		exit(2);
	}
	for (i = 0; i < opt.conns; i++)
		wsbench_conns[i].id = i;

	if ((wsbench_base = event_base_new()) == NULL) {
		wsbench_warnx("event_base_new failed");
		exit(2);
	}
	wsbench_tick_ev = event_new(wsbench_base, -1, EV_PERSIST,
	    wsbench_tick_ev_cb, NULL);
	wsbench_hold_ev = evtimer_new(wsbench_base, wsbench_hold_cb, NULL);
	wsbench_stop_ev = evtimer_new(wsbench_base, wsbench_stop_cb, NULL);
	wsbench_deadline_ev = evtimer_new(wsbench_base, wsbench_deadline_cb,
	    NULL);
	sigint = evsignal_new(wsbench_base, SIGINT, wsbench_signal_cb, NULL);
	sigterm = evsignal_new(wsbench_base, SIGTERM, wsbench_signal_cb, NULL);
	if (wsbench_tick_ev == NULL || wsbench_hold_ev == NULL ||
	    wsbench_stop_ev == NULL || wsbench_deadline_ev == NULL ||
	    sigint == NULL || sigterm == NULL) {
		wsbench_warnx("event_new failed");
		exit(2);
	}
	evsignal_add(sigint, NULL);
	evsignal_add(sigterm, NULL);
	tv.tv_sec = opt.deadline;
	tv.tv_usec = 0;
	evtimer_add(wsbench_deadline_ev, &tv);
	/* Paces -r and retries launches the callbacks did not make. */
	tv.tv_sec = 0;
	tv.tv_usec = 5000;
	event_add(wsbench_tick_ev, &tv);

	st.t0 = wsbench_now();
	wsbench_phase = WSBENCH_CONNECT;
	wsbench_launch();
	wsbench_check();
	event_base_dispatch(wsbench_base);

	/* Whatever the grace period left open counts as unanswered. */
	for (i = 0; i < opt.conns; i++) {
		if (wsbench_conns[i].state == WSBENCH_CLOSING)
			st.closed_unclean++;
		wsbench_conn_free(&wsbench_conns[i]);
	}
	wsbench_report();
	return (0);
}
