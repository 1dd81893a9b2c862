/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * wsclient.c: the client side of RFC 6455 on libevent for the load
 * generators in scripts/bench/: the target and its source addresses,
 * connect throttling, the opening handshake, server frame headers in and
 * masked frames out, pings and the closing handshake, the phases of a run
 * and its timers, failure and close counts, latency histograms and CPU
 * time.  What goes over the wire is the codec's, ws_client.c: this file
 * feeds it the bytes of each bufferevent in place (the header of every
 * frame is parsed where it lies, and a payload is masked where the
 * program built it) and does the rest.  The programs keep their data and
 * their run phase through the hooks of struct wsclient_ops; see
 * wsclient.h.  Everything here runs in the program's one process and
 * event loop.
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
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "ws.h"
#include "ws_client.h"
#include "wsclient.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT	24
#endif

#define WSCLIENT_REQUEST_MAX	1024	/* bytes of an upgrade request */
#define WSCLIENT_HS_TIMEOUT	10	/* s to connect, upgrade and greet */
#define WSCLIENT_CLOSE_TIMEOUT	3	/* seconds for the closing handshake */
#define WSCLIENT_STOP_GRACE	5	/* seconds for all closes, then quit */
#define WSCLIENT_TICK_US	5000	/* -r pacing, launch retries */
#define WSCLIENT_SERVER_HEAD	10	/* largest server frame header */

/* A connection of the program's array, by index. */
#define WSCLIENT_CONN(i)	((struct wsclient_conn *)(void *)	\
				    (wsclient_conns + (size_t)(i) *	\
				    wsclient_conn_size))

static const char *const wsclient_fail_names[WSCLIENT_F_MAX] = {
	"connect", "timeout", "bad status", "bad accept", "eof", NULL,
	"not started"
};

static const char		*wsclient_prog = "wsclient";
static void			(*wsclient_usage)(void);
static char			 wsclient_alarm_msg[128];
static size_t			 wsclient_alarm_len;
static uint64_t			 wsclient_seed_v;
static uint64_t			 wsclient_rng;

/* The target. */
static struct wsclient_target	 wsclient_t;
static struct sockaddr_storage	 wsclient_dst;
static socklen_t		 wsclient_dstlen;
static int			 wsclient_loop4;	/* target in 127/8 */
static unsigned			 wsclient_src_lo, wsclient_src_hi;
static char			 wsclient_hostport_s[300];

/* The program's connections and the run. */
static char			*wsclient_conns;
static size_t			 wsclient_conn_size;
static const struct wsclient_ops *wsclient_ops;
static enum wsclient_phase	 wsclient_phase_v;
static struct wsclient_stats	 wsclient_st;
static unsigned			 wsclient_launched;
static unsigned			 wsclient_inflight;
static unsigned			 wsclient_live;	/* with a bufferevent */

/* The loop and the common timers. */
static struct event_base	*wsclient_base;
static struct event		*wsclient_tick_ev, *wsclient_stop_ev;
static struct event		*wsclient_deadline_ev;

static int	wsclient_request(struct wsclient_conn *, char *);
static void	wsclient_read_cb(struct bufferevent *, void *);
static void	wsclient_event_cb(struct bufferevent *, short, void *);

void
wsclient_init(const char *prog, void (*usage)(void))
{
	wsclient_prog = prog;
	wsclient_usage = usage;
	/* Built now: the SIGALRM handler may only write(2). */
	snprintf(wsclient_alarm_msg, sizeof(wsclient_alarm_msg),
	    "%s: hard deadline, giving up\n", prog);
	wsclient_alarm_len = strlen(wsclient_alarm_msg);
	wsclient_seed_v = wsclient_mix((uint64_t)time(NULL) ^
	    ((uint64_t)getpid() << 32));
	wsclient_rng = wsclient_mix(wsclient_seed_v);
}

void
wsclient_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s: ", wsclient_prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

unsigned
wsclient_num(const char *s, unsigned long long max, const char *what)
{
	unsigned long long	 v;
	char			*end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s == '\0' || *s == '-' || *end != '\0' || errno != 0 || v > max) {
		wsclient_warnx("bad %s \"%s\"", what, s);
		wsclient_usage();
		exit(2);	/* NOTREACHED: usage exits */
	}
	return ((unsigned)v);
}

int
wsclient_option(int ch, char *arg, struct wsclient_target *t)
{
	switch (ch) {
	case 'c':
		t->conns = wsclient_num(arg, 10000000, "-c");
		break;
	case 'h':
		t->host = arg;
		break;
	case 'k':
		t->inflight = wsclient_num(arg, 1000000, "-k");
		break;
	case 'p':
		wsclient_num(arg, 65535, "-p");
		t->port = arg;
		break;
	case 'q':
		t->quiet = 1;
		break;
	default:
		return (0);
	}
	return (1);
}

uint64_t
wsclient_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec);
}

uint64_t
wsclient_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return (x ^ (x >> 31));
}

uint64_t
wsclient_seed(void)
{
	return (wsclient_seed_v);
}

uint64_t
wsclient_random(void)
{
	wsclient_rng = wsclient_mix(wsclient_rng);
	return (wsclient_rng);
}

void
wsclient_hist_init(struct wsclient_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->h_min = UINT64_MAX;
}

void
wsclient_hist_add(struct wsclient_hist *h, uint64_t v)
{
	unsigned	 e, idx;

	if (v < (2U << WSCLIENT_H_SUB))
		idx = v;
	else {
		e = 63 - __builtin_clzll(v);
		idx = ((e - WSCLIENT_H_SUB) << WSCLIENT_H_SUB) +
		    (v >> (e - WSCLIENT_H_SUB));
	}
	h->h_b[idx]++;
	h->h_n++;
	h->h_sum += v;
	if (v < h->h_min)
		h->h_min = v;
	if (v > h->h_max)
		h->h_max = v;
}

uint64_t
wsclient_hist_quantile(const struct wsclient_hist *h, double q)
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
	for (idx = 0; idx < WSCLIENT_H_BUCKETS; idx++) {
		seen += h->h_b[idx];
		if (seen >= rank)
			break;
	}
	if (idx < (2U << WSCLIENT_H_SUB))
		lo = hi = idx;
	else {
		shift = (idx >> WSCLIENT_H_SUB) - 1;
		lo = (uint64_t)((idx & ((1U << WSCLIENT_H_SUB) - 1)) |
		    (1U << WSCLIENT_H_SUB)) << shift;
		hi = lo + (1ULL << shift) - 1;
	}
	v = lo + (hi - lo) / 2;
	if (v < h->h_min)
		v = h->h_min;
	if (v > h->h_max)
		v = h->h_max;
	return (v);
}

double
wsclient_hist_us(const struct wsclient_hist *h, double q)
{
	return (wsclient_hist_quantile(h, q) / 1e3);
}

double
wsclient_hist_max_us(const struct wsclient_hist *h)
{
	return (h->h_max / 1e3);
}

double
wsclient_hist_mean_us(const struct wsclient_hist *h)
{
	return (h->h_n ? (double)h->h_sum / h->h_n / 1e3 : 0);
}

void
wsclient_cpu(double *user, double *sys)
{
	struct rusage	 ru;

	getrusage(RUSAGE_SELF, &ru);
	*user = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
	*sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Last resort if the loop itself hangs: async-signal-safe only. */
static void
wsclient_alarm(int sig)
{
	(void)write(STDERR_FILENO, wsclient_alarm_msg, wsclient_alarm_len);
	_exit(3);
}

/* Raise the descriptor limit to the hard limit; fail if that is short. */
static void
wsclient_rlimit(void)
{
	struct rlimit	 rl;
	rlim_t		 need = (rlim_t)wsclient_t.conns + 32;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		wsclient_warnx("getrlimit: %s", strerror(errno));
		exit(2);
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			wsclient_warnx("setrlimit: %s", strerror(errno));
	}
	if (rl.rlim_cur < need) {
		wsclient_warnx("%u connections need %llu descriptors; the "
		    "limit is %llu", wsclient_t.conns, (unsigned long long)need,
		    (unsigned long long)rl.rlim_cur);
		exit(2);
	}
}

static void
wsclient_resolve(void)
{
	struct addrinfo		 hints, *res;
	struct sockaddr_in	*s4;
	const char		*host = wsclient_t.host;
	const char		*port = wsclient_t.port;
	int			 error;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((error = getaddrinfo(host, port, &hints, &res)) != 0) {
		wsclient_warnx("%s:%s: %s", host, port, gai_strerror(error));
		exit(2);
	}
	memcpy(&wsclient_dst, res->ai_addr, res->ai_addrlen);
	wsclient_dstlen = res->ai_addrlen;
	freeaddrinfo(res);
	if (wsclient_dst.ss_family == AF_INET) {
		s4 = (struct sockaddr_in *)&wsclient_dst;
		wsclient_loop4 = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	}
	if (strchr(host, ':') != NULL)
		snprintf(wsclient_hostport_s, sizeof(wsclient_hostport_s),
		    "[%s]:%s", host, port);
	else
		snprintf(wsclient_hostport_s, sizeof(wsclient_hostport_s),
		    "%s:%s", host, port);
}

/* Free ephemeral ports: the local port range, or Linux's default. */
static unsigned
wsclient_port_range(void)
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

void
wsclient_target(const struct wsclient_target *t)
{
	struct wsclient_conn	 probe;
	char			 buf[WSCLIENT_REQUEST_MAX];
	unsigned		 budget;

	wsclient_t = *t;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, wsclient_alarm);
	alarm(t->deadline + WSCLIENT_STOP_GRACE + 10);
	wsclient_rlimit();
	wsclient_resolve();
	/* Once here, so that no connection fails for a bad -P. */
	if (wsclient_request(&probe, buf) == -1) {
		wsclient_warnx("%s%s: no upgrade request can be made of it",
		    wsclient_hostport_s, t->path);
		exit(2);
	}

	/* Enough source addresses to leave half of each one's ports free. */
	wsclient_src_lo = 0;
	wsclient_src_hi = 1;
	if (wsclient_loop4) {
		budget = wsclient_port_range() / 2;
		if (t->nsrc > 0)
			wsclient_src_hi = t->nsrc;
		else if (budget > 0)
			wsclient_src_hi = (t->conns + budget - 1) / budget;
		if (wsclient_src_hi < 1)
			wsclient_src_hi = 1;
		if (wsclient_src_hi > 253)
			wsclient_src_hi = 253;
	} else if (t->nsrc > 1)
		wsclient_warnx("-S only works for 127.x targets; ignored");
}

const char *
wsclient_hostport(void)
{
	return (wsclient_hostport_s);
}

unsigned
wsclient_sources(void)
{
	return (wsclient_src_hi > 1 ? wsclient_src_hi : 1);
}

static void
wsclient_timeouts(struct wsclient_conn *c, unsigned sec)
{
	struct timeval	 tv = { sec, 0 };

	bufferevent_set_timeouts(c->bev, sec ? &tv : NULL, sec ? &tv : NULL);
}

/* Drop the socket.  The struct stays: it is an element of the array. */
static void
wsclient_conn_free(struct wsclient_conn *c)
{
	if (c->bev != NULL) {
		bufferevent_free(c->bev);	/* closes the fd */
		c->bev = NULL;
		wsclient_live--;
	}
	c->state = WSCLIENT_DONE;
	wsclient_ops->freed(c);
}

void
wsclient_conn_fail(struct wsclient_conn *c, int why, int err)
{
	if (c->state == WSCLIENT_HANDSHAKE || c->state == WSCLIENT_GREETING)
		wsclient_inflight--;
	wsclient_st.failed++;
	wsclient_st.fail[why]++;
	if (err != 0 && wsclient_st.first_errno == 0)
		wsclient_st.first_errno = err;
	wsclient_conn_free(c);
}

void
wsclient_conn_abort(struct wsclient_conn *c, const char *why)
{
	if (wsclient_st.proto_errors++ == 0)
		wsclient_warnx("conn %u: %s; dropping it", c->id, why);
	wsclient_conn_free(c);
}

void
wsclient_conn_ready(struct wsclient_conn *c)
{
	wsclient_inflight--;
	wsclient_st.ready++;
	wsclient_hist_add(&wsclient_st.ready_ns, wsclient_now() - c->t_start);
	c->state = WSCLIENT_OPEN;
	wsclient_timeouts(c, 0);
}

/* A socket connecting to the target from the source address for id. */
static int
wsclient_connect(unsigned id, int *err)
{
	struct sockaddr_in	 src;
	int			 fd, one = 1, tries;
	unsigned		 idx;

	for (tries = 0;; tries++) {
		fd = socket(wsclient_dst.ss_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd == -1) {
			*err = errno;
			return (-1);
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (wsclient_loop4 && wsclient_src_hi > 1) {
			/* Port chosen at connect(), per destination. */
			setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT,
			    &one, sizeof(one));
			idx = wsclient_src_lo +
			    id % (wsclient_src_hi - wsclient_src_lo);
			memset(&src, 0, sizeof(src));
			src.sin_family = AF_INET;
			src.sin_addr.s_addr = htonl(0x7f000001U + idx);
			if (bind(fd, (struct sockaddr *)&src,
			    sizeof(src)) == -1) {
				*err = errno;
				close(fd);
				return (-1);
			}
		}
		if (connect(fd, (struct sockaddr *)&wsclient_dst,
		    wsclient_dstlen) == 0 || errno == EINPROGRESS)
			return (fd);
		*err = errno;
		close(fd);
		/*
		 * Out of ephemeral ports for this source: move every later
		 * connection to a fresh 127.0.0.x.
		 */
		if (*err == EADDRNOTAVAIL && wsclient_loop4 && tries < 3 &&
		    wsclient_src_hi < 254) {
			wsclient_src_lo = wsclient_src_hi;
			if (wsclient_src_hi == 1)
				wsclient_src_lo = 1;
			wsclient_src_hi = wsclient_src_lo + 1;
			if (!wsclient_t.quiet)
				wsclient_warnx("ephemeral ports exhausted at "
				    "conn %u: now from 127.0.0.%u", id,
				    wsclient_src_lo + 1);
			continue;
		}
		return (-1);
	}
}

/*
 * The upgrade request for c into buf (WSCLIENT_REQUEST_MAX bytes), with a
 * fresh key; c->hs waits for the answer.  Returns its length, or -1.
 */
static int
wsclient_request(struct wsclient_conn *c, char *buf)
{
	struct ws_client_request	 req;
	uint8_t				 nonce[WS_CLIENT_NONCE_LEN];
	uint64_t			 r;

	/* Varied, not secret: nobody here needs the key unpredictable. */
	r = wsclient_random();
	memcpy(nonce, &r, 8);
	r = wsclient_random();
	memcpy(nonce + 8, &r, 8);
	memset(&req, 0, sizeof(req));
	req.host = wsclient_hostport_s;
	/* Before wsclient_loop_new(), the probe: the target's path. */
	req.path = wsclient_ops != NULL && wsclient_ops->path != NULL ?
	    wsclient_ops->path(c) : wsclient_t.path;
	req.agent = wsclient_prog;
	return (ws_client_request_encode(&c->hs, &req, nonce, buf,
	    WSCLIENT_REQUEST_MAX));
}

/* Open one connection and queue its upgrade request. */
static void
wsclient_conn_start(struct wsclient_conn *c)
{
	char		 buf[WSCLIENT_REQUEST_MAX];
	int		 fd, err, len;

	c->t_start = wsclient_now();
	if ((fd = wsclient_connect(c->id, &err)) == -1) {
		wsclient_conn_fail(c, WSCLIENT_F_CONNECT, err);
		return;
	}
	/* BEV_OPT_CLOSE_ON_FREE: the fd is the bufferevent's from here on. */
	c->bev = bufferevent_socket_new(wsclient_base, fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(fd);
		wsclient_conn_fail(c, WSCLIENT_F_CONNECT, ENOMEM);
		return;
	}
	wsclient_live++;
	wsclient_inflight++;
	c->state = WSCLIENT_HANDSHAKE;
	bufferevent_setcb(c->bev, wsclient_read_cb, NULL, wsclient_event_cb,
	    c);
	/* libevent's 4 KiB/16 KiB defaults cost a callback per chunk. */
	bufferevent_set_max_single_read(c->bev, 256 * 1024);
	bufferevent_set_max_single_write(c->bev, 256 * 1024);
	wsclient_timeouts(c, WSCLIENT_HS_TIMEOUT);

	/* wsclient_target() made one: this one fits too. */
	if ((len = wsclient_request(c, buf)) == -1) {
		wsclient_conn_fail(c, WSCLIENT_F_CONNECT, EINVAL);
		return;
	}
	/* Sent once connect() completes: not writable before. */
	evbuffer_add(bufferevent_get_output(c->bev), buf, (size_t)len);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* Start connections while the rate and the in-flight cap allow. */
static void
wsclient_launch(void)
{
	uint64_t	 allowed;

	if (wsclient_phase_v != WSCLIENT_CONNECT)
		return;
	allowed = wsclient_t.conns;
	if (wsclient_t.rate > 0) {
		allowed = (wsclient_now() - wsclient_st.t0) / 1000 *
		    wsclient_t.rate / 1000000 + 1;
		if (allowed > wsclient_t.conns)
			allowed = wsclient_t.conns;
	}
	while (wsclient_launched < allowed &&
	    wsclient_inflight < wsclient_t.inflight)
		wsclient_conn_start(WSCLIENT_CONN(wsclient_launched++));
}

/*
 * Read the answer to the upgrade, in place.  Returns 0 once the
 * connection is upgraded (frames may follow in the buffer), -1 if more is
 * needed or it failed.
 */
static int
wsclient_handshake(struct wsclient_conn *c, struct evbuffer *in)
{
	size_t	 avail = evbuffer_get_length(in);
	char	*p;
	int	 rv;

	/* The codec refuses a head past max_head: no need to pull more. */
	if (avail > c->hs.max_head)
		avail = c->hs.max_head;
	p = (char *)evbuffer_pullup(in, (ev_ssize_t)avail);
	rv = ws_client_response_parse(&c->hs, p, avail);
	if (rv == WS_AGAIN)
		return (-1);
	if (rv == WS_OK) {
		evbuffer_drain(in, c->hs.hdrlen);
		return (0);
	}
	if (c->hs.status != 0 && c->hs.status != 101) {
		if (wsclient_st.fail[WSCLIENT_F_STATUS] == 0)
			wsclient_warnx("conn %u: %.*s", c->id,
			    (int)c->hs.linelen, c->hs.line);
		wsclient_conn_fail(c, WSCLIENT_F_STATUS, 0);
	} else {
		if (wsclient_st.fail[WSCLIENT_F_ACCEPT] == 0)
			wsclient_warnx("conn %u: handshake: %s", c->id,
			    c->hs.reason);
		wsclient_conn_fail(c, WSCLIENT_F_ACCEPT, 0);
	}
	return (-1);
}

uint8_t *
wsclient_frame_payload(struct evbuffer *in, const struct ws_frame *f)
{
	if (evbuffer_get_length(in) < f->hdrlen + f->len)
		return (NULL);
	return (evbuffer_pullup(in, f->hdrlen + f->len) + f->hdrlen);
}

void
wsclient_frame_write(struct bufferevent *bev, int op, uint8_t *buf,
    uint64_t len)
{
	uint8_t		*f;
	uint64_t	 r = wsclient_random();
	size_t		 flen;

	/* The mask: four bytes of the generator's, varied, not secret. */
	f = ws_client_frame_encode(buf + WS_HEADER_MAX, 1, op, len,
	    (const uint8_t *)&r, &flen);
	bufferevent_write(bev, f, flen);
}

void
wsclient_frame_send(struct bufferevent *bev, int op, const uint8_t *payload,
    size_t len)
{
	uint8_t	 buf[WS_HEADER_MAX + WS_CONTROL_MAX];

	memcpy(buf + WS_HEADER_MAX, payload, len);
	wsclient_frame_write(bev, op, buf, len);
}

/* A control frame from the server; the connection may be freed. */
static void
wsclient_control(struct wsclient_conn *c, int op, const uint8_t *p,
    size_t len)
{
	uint16_t	 code;

	switch (op) {
	case WS_OP_PING:
		wsclient_st.pings++;
		if (c->state == WSCLIENT_OPEN || c->state == WSCLIENT_GREETING)
			wsclient_frame_send(c->bev, WS_OP_PONG, p, len);
		break;
	case WS_OP_PONG:
		break;
	case WS_OP_CLOSE:
		if (ws_close_parse(p, len, &code) == WS_EPROTO) {
			wsclient_conn_abort(c, code == WS_CLOSE_BAD_DATA ?
			    "close reason not UTF-8" : "bad close status");
			return;
		}
		if (c->state == WSCLIENT_CLOSING) {
			wsclient_st.closed_clean++;
		} else if (c->state == WSCLIENT_OPEN) {
			if (wsclient_st.closed_early++ == 0)
				wsclient_warnx("conn %u: server closed it "
				    "(code %u)", c->id, code);
			/* Answer with the same code (RFC 6455, 5.5.1). */
			wsclient_frame_send(c->bev, WS_OP_CLOSE, p,
			    len >= 2 ? 2 : 0);
			wsclient_ops->lost(c);
		} else if (c->state == WSCLIENT_GREETING) {
			wsclient_conn_fail(c, WSCLIENT_F_GREETING, 0);
			return;
		} else
			break;
		/* The server closes TCP first; wait for its FIN. */
		c->state = WSCLIENT_DRAINING;
		wsclient_timeouts(c, WSCLIENT_CLOSE_TIMEOUT);
		break;
	default:
		wsclient_conn_abort(c, "unknown control opcode");
		break;
	}
}

/*
 * Parse server frames from in: the headers in place, data frames handed
 * to the program where they lie, control frames copied out (handling one
 * may free the connection, and in with it).  Stops when the connection is
 * freed.
 */
static void
wsclient_frames(struct wsclient_conn *c, struct evbuffer *in)
{
	struct ws_frame	 f;
	uint8_t		 ctl[WS_CONTROL_MAX], *h;
	const char	*why;
	uint16_t	 code;
	size_t		 avail;

	while (c->bev != NULL && c->state >= WSCLIENT_GREETING &&
	    c->state <= WSCLIENT_DRAINING) {
		avail = evbuffer_get_length(in);
		if (avail > WSCLIENT_SERVER_HEAD)
			avail = WSCLIENT_SERVER_HEAD;
		if (avail < 2)
			return;
		h = evbuffer_pullup(in, (ev_ssize_t)avail);
		switch (ws_client_frame_parse(h, avail, c->rx_op, &f, &code,
		    &why)) {
		case WS_AGAIN:
			return;
		case WS_EPROTO:
			wsclient_conn_abort(c, why);
			return;
		}
		if (f.opcode < WS_OP_CLOSE) {
			if (wsclient_ops->data(c, &f, in) == -1)
				return;
			continue;
		}
		if (evbuffer_get_length(in) < f.hdrlen + f.len)
			return;
		evbuffer_drain(in, f.hdrlen);
		evbuffer_remove(in, ctl, (size_t)f.len);
		wsclient_control(c, f.opcode, ctl, (size_t)f.len);
	}
}

static void
wsclient_read_cb(struct bufferevent *bev, void *arg)
{
	struct wsclient_conn	*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);

	if (c->state == WSCLIENT_HANDSHAKE) {
		if (wsclient_handshake(c, in) == -1) {
			wsclient_launch();
			wsclient_check();
			return;
		}
		if (wsclient_ops->upgraded != NULL)
			wsclient_ops->upgraded(c);
		else
			wsclient_conn_ready(c);
	}
	wsclient_frames(c, in);
	wsclient_launch();
	wsclient_check();
}

static void
wsclient_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct wsclient_conn	*c = arg;
	int			 err = EVUTIL_SOCKET_ERROR();

	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)))
		return;
	switch (c->state) {
	case WSCLIENT_HANDSHAKE:
	case WSCLIENT_GREETING:
		if (what & BEV_EVENT_TIMEOUT)
			wsclient_conn_fail(c, c->state == WSCLIENT_GREETING ?
			    WSCLIENT_F_GREETING : WSCLIENT_F_TIMEOUT, 0);
		else if (what & BEV_EVENT_EOF)
			wsclient_conn_fail(c, WSCLIENT_F_EOF, 0);
		else
			wsclient_conn_fail(c, WSCLIENT_F_CONNECT, err);
		wsclient_launch();
		break;
	case WSCLIENT_OPEN:
		if (wsclient_st.closed_early++ == 0)
			wsclient_warnx("conn %u: %s while open", c->id,
			    what & BEV_EVENT_EOF ? "EOF" :
			    what & BEV_EVENT_TIMEOUT ? "timeout" :
			    strerror(err));
		wsclient_ops->lost(c);
		wsclient_conn_free(c);
		break;
	case WSCLIENT_CLOSING:
		wsclient_st.closed_unclean++;
		wsclient_conn_free(c);
		break;
	default:
		wsclient_conn_free(c);
		break;
	}
	wsclient_check();
}

void
wsclient_check(void)
{
	if (wsclient_phase_v == WSCLIENT_CONNECT &&
	    wsclient_st.ready + wsclient_st.failed == wsclient_t.conns) {
		wsclient_phase_v = WSCLIENT_RUN;
		wsclient_st.t_run = wsclient_now();
		wsclient_ops->run();
	}
	if (wsclient_phase_v == WSCLIENT_RUN && wsclient_ops->finished())
		wsclient_stop();
	if (wsclient_phase_v == WSCLIENT_STOP && wsclient_live == 0)
		event_base_loopexit(wsclient_base, NULL);
}

void
wsclient_stop(void)
{
	struct wsclient_conn	*c;
	struct timeval		 tv = { WSCLIENT_STOP_GRACE, 0 };
	unsigned		 i;
	uint8_t			 code[2] = { 1000 >> 8, 1000 & 0xff };

	if (wsclient_phase_v == WSCLIENT_STOP)
		return;
	if (wsclient_phase_v == WSCLIENT_CONNECT)
		wsclient_st.t_run = wsclient_now();
	wsclient_phase_v = WSCLIENT_STOP;
	for (i = 0; i < wsclient_t.conns; i++) {
		c = WSCLIENT_CONN(i);
		switch (c->state) {
		case WSCLIENT_IDLE:
			wsclient_conn_fail(c, WSCLIENT_F_NOTSTARTED, 0);
			break;
		case WSCLIENT_HANDSHAKE:
			wsclient_conn_fail(c, WSCLIENT_F_TIMEOUT, 0);
			break;
		case WSCLIENT_GREETING:
			wsclient_conn_fail(c, WSCLIENT_F_GREETING, 0);
			break;
		case WSCLIENT_OPEN:
			wsclient_frame_send(c->bev, WS_OP_CLOSE, code,
			    sizeof(code));
			c->state = WSCLIENT_CLOSING;
			wsclient_timeouts(c, WSCLIENT_CLOSE_TIMEOUT);
			break;
		default:
			break;
		}
	}
	evtimer_add(wsclient_stop_ev, &tv);
	wsclient_check();
}

enum wsclient_phase
wsclient_phase(void)
{
	return (wsclient_phase_v);
}

const struct wsclient_stats *
wsclient_stats(void)
{
	return (&wsclient_st);
}

void
wsclient_fail_print(const char *greeting)
{
	const char	*name, *sep = "";
	unsigned	 i;

	if (wsclient_st.failed == 0)
		return;
	printf("  failures:");
	for (i = 0; i < WSCLIENT_F_MAX; i++) {
		name = i == WSCLIENT_F_GREETING ? greeting :
		    wsclient_fail_names[i];
		if (name == NULL)
			continue;
		printf("%s %s %u", sep, name, wsclient_st.fail[i]);
		sep = ",";
	}
	printf("%s%s\n", wsclient_st.first_errno ? "; first error: " : "",
	    wsclient_st.first_errno ? strerror(wsclient_st.first_errno) : "");
}

/* Launch retries and pacing; stops once every connection is settled. */
static void
wsclient_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	wsclient_launch();
	wsclient_check();
	if (wsclient_phase_v != WSCLIENT_CONNECT)
		event_del(wsclient_tick_ev);
}

static void
wsclient_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopexit(wsclient_base, NULL);
}

static void
wsclient_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	wsclient_st.deadline_hit = 1;
	wsclient_warnx("deadline of %u s reached; stopping",
	    wsclient_t.deadline);
	wsclient_stop();
}

static void
wsclient_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	if (wsclient_st.interrupted++ > 0)
		event_base_loopbreak(wsclient_base);
	wsclient_stop();
}

struct event_base *
wsclient_loop_new(void *conns, size_t size, const struct wsclient_ops *ops)
{
	struct event	*sigint, *sigterm;
	struct timeval	 tv;
	unsigned	 i;

	wsclient_conns = conns;
	wsclient_conn_size = size;
	wsclient_ops = ops;
	for (i = 0; i < wsclient_t.conns; i++)
		WSCLIENT_CONN(i)->id = i;
	wsclient_hist_init(&wsclient_st.ready_ns);

	if ((wsclient_base = event_base_new()) == NULL) {
		wsclient_warnx("event_base_new failed");
		exit(2);
	}
	wsclient_tick_ev = event_new(wsclient_base, -1, EV_PERSIST,
	    wsclient_tick_cb, NULL);
	wsclient_stop_ev = evtimer_new(wsclient_base, wsclient_stop_cb, NULL);
	wsclient_deadline_ev = evtimer_new(wsclient_base, wsclient_deadline_cb,
	    NULL);
	sigint = evsignal_new(wsclient_base, SIGINT, wsclient_signal_cb, NULL);
	sigterm = evsignal_new(wsclient_base, SIGTERM, wsclient_signal_cb,
	    NULL);
	if (wsclient_tick_ev == NULL || wsclient_stop_ev == NULL ||
	    wsclient_deadline_ev == NULL || sigint == NULL || sigterm == NULL) {
		wsclient_warnx("event_new failed");
		exit(2);
	}
	evsignal_add(sigint, NULL);
	evsignal_add(sigterm, NULL);
	tv.tv_sec = wsclient_t.deadline;
	tv.tv_usec = 0;
	evtimer_add(wsclient_deadline_ev, &tv);
	tv.tv_sec = 0;
	tv.tv_usec = WSCLIENT_TICK_US;
	event_add(wsclient_tick_ev, &tv);
	return (wsclient_base);
}

void
wsclient_run(void)
{
	struct wsclient_conn	*c;
	unsigned		 i;

	wsclient_st.t0 = wsclient_now();
	wsclient_phase_v = WSCLIENT_CONNECT;
	wsclient_launch();
	wsclient_check();
	event_base_dispatch(wsclient_base);

	/* Whatever the grace period left open counts as unanswered. */
	for (i = 0; i < wsclient_t.conns; i++) {
		c = WSCLIENT_CONN(i);
		if (c->state == WSCLIENT_CLOSING)
			wsclient_st.closed_unclean++;
		wsclient_conn_free(c);
	}
}
