/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * test_ws_client.c: unit tests of the client side of RFC 6455 in
 * ws_client.c, and of ws.c's reader as a client uses it: the upgrade
 * request (checked against the server's own handshake), the check of the
 * answer and every reason to refuse one, masked frames out (read back by
 * the server's parser), server frame headers parsed in place, and the
 * reader of server frames.  As for the server's codecs, what the parsers
 * report must not depend on how the bytes are cut: the answer is fed in
 * two pieces cut at every offset and byte by byte, the frames cut at
 * every offset, in three pieces and byte by byte.  Every piece is a heap
 * copy of its exact size, so that the sanitizer build catches a read past
 * the bytes received so far.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "wschatd.h"
#include "http.h"
#include "ws.h"
#include "ws_client.h"

#include "unit.h"

#define NO_LIMIT	UINT64_MAX

/* RFC 6455, 1.3: the sample nonce, its key and the answer due. */
#define RFC_NONCE	"the sample nonce"
#define RFC_KEY		"dGhlIHNhbXBsZSBub25jZQ=="
#define RFC_ACCEPT	"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

/* The pieces of a good answer to a request made with RFC_NONCE. */
#define STATUS		"HTTP/1.1 101 Switching Protocols\r\n"
#define UPGRADE		"Upgrade: websocket\r\n"
#define CONNECTION	"Connection: Upgrade\r\n"
#define ACCEPT		"Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"
#define END		"\r\n"
#define GOOD_ANSWER	STATUS UPGRADE CONNECTION ACCEPT END

#define PROTOS		"wschat.json, wschat.msgpack"

/* A stream of server frames (unmasked unless asked), by stream_frame(). */
struct stream {
	uint8_t		*buf;
	size_t		 len;
	size_t		 cap;
};

/* What ws_reader_feed() reported, with its payload. */
struct event {
	int		 rv;		/* WS_MESSAGE, WS_CONTROL, WS_EPROTO */
	int		 op;
	size_t		 len;
	uint16_t	 code;		/* close status, or the error's code */
	const char	*why;
	uint8_t		*data;		/* message: taken; control: a copy */
	size_t		 end;		/* stream offset just after the event */
};

#define MAX_EVENTS	64

struct events {
	struct event	 ev[MAX_EVENTS];
	size_t		 n;
};

/* What one run of the answer parser ended with. */
struct answer {
	int		 rv;
	size_t		 at;		/* bytes it had when it decided */
	int		 status;
	size_t		 hdrlen;
	size_t		 linelen;
	const char	*reason;
	char		 protocol[64];
};

/* Everything a test allocates hangs from here, so fini can free it. */
static struct stream			 strm;
static struct events			 want_ev, got_ev;
static struct ws_reader			 rd;
static struct ws_client_handshake	 hs;
static uint8_t				*piece;
static size_t				*cuts;
static uint8_t				*frame_buf;
static char				*req_buf;

/* What hs_start() offers and allows. */
static const char	*offer = PROTOS;
static size_t		 head_max = WS_CLIENT_HEAD_MAX;

static void
events_free(struct events *e)
{
	size_t	 i;

	for (i = 0; i < e->n; i++)
		free(e->ev[i].data);
	e->n = 0;
}

static void
ws_client_test_fini(void)
{
	free(strm.buf);
	events_free(&want_ev);
	events_free(&got_ev);
	ws_reader_clear(&rd);
	free(piece);
	free(cuts);
	free(frame_buf);
	free(req_buf);
	unit_leak_check();
}

TestSuite(ws_client, .fini = ws_client_test_fini);

/* ---------------------------------------------------------------- */
/* helpers */

/* An exact-size heap copy in piece, so that ASan sees reads past the end. */
static uint8_t *
piece_set(const void *p, size_t len)
{
	free(piece);
	piece = malloc(len > 0 ? len : 1);
	cr_assert_not_null(piece);
	if (len > 0)
		memcpy(piece, p, len);
	return (piece);
}

/* A request as wschat makes it, leaving hs waiting for the answer. */
static void
hs_start(void)
{
	struct ws_client_request	 req = { "localhost:8080", "/ws",
					    offer, NULL, "test" };
	char				 buf[1024];

	cr_assert_gt(ws_client_request_encode(&hs, &req,
	    (const uint8_t *)RFC_NONCE, buf, sizeof(buf)), 0);
	cr_assert_str_eq(hs.accept, RFC_ACCEPT);
	hs.max_head = head_max;
}

static void
answer_note(struct answer *a, int rv, size_t at)
{
	memset(a, 0, sizeof(*a));
	a->rv = rv;
	a->at = at;
	a->status = hs.status;
	a->hdrlen = rv == WS_OK ? hs.hdrlen : 0;
	a->linelen = hs.linelen;
	a->reason = rv == WS_EPROTO ? hs.reason : NULL;
	if (rv == WS_OK && hs.protocol != NULL) {
		cr_assert_lt(hs.protocol_len, sizeof(a->protocol));
		memcpy(a->protocol, hs.protocol, hs.protocol_len);
	}
	if (hs.linelen > 0)
		cr_assert_eq(hs.line, (const char *)piece, "the status line "
		    "is the start of the buffer");
}

/*
 * Give the parser the first n bytes of s for n = from, from + step, ...
 * up to len, each time from a new exact-size copy, until it decides.
 */
static void
answer_run(const char *s, size_t len, size_t from, size_t step,
    struct answer *a)
{
	size_t	 n;
	int	 rv = WS_AGAIN;

	hs_start();
	for (n = from;; n += step) {
		if (n > len)
			n = len;
		rv = ws_client_response_parse(&hs, (const char *)piece_set(s,
		    n), n);
		cr_assert(rv == WS_OK || rv == WS_AGAIN || rv == WS_EPROTO,
		    "rv %d", rv);
		if (rv != WS_AGAIN || n == len)
			break;
	}
	answer_note(a, rv, n);
}

static void
answers_expect_same(const struct answer *w, const struct answer *g,
    const char *how, size_t i)
{
	cr_assert_eq(g->rv, w->rv, "%s %zu: rv %d, want %d (%s)", how, i,
	    g->rv, w->rv, g->reason ? g->reason : "");
	cr_assert_eq(g->status, w->status, "%s %zu: status", how, i);
	cr_assert_eq(g->hdrlen, w->hdrlen, "%s %zu: hdrlen", how, i);
	cr_assert_eq(g->linelen, w->linelen, "%s %zu: linelen", how, i);
	cr_assert_str_eq(g->protocol, w->protocol, "%s %zu", how, i);
	if (w->reason != NULL)
		cr_assert_str_eq(g->reason, w->reason, "%s %zu", how, i);
}

/*
 * The answer s, byte by byte: the parser decides after exactly the same
 * bytes as in two pieces cut anywhere before that point, and says the
 * same.  Returns what it said.
 */
static struct answer
answer_at_every_split(const char *s)
{
	struct answer	 want, got;
	size_t		 len = strlen(s), i;

	answer_run(s, len, 0, 1, &want);
	for (i = 0; i <= len; i++) {
		/* Two calls: the first i bytes, then all of them. */
		answer_run(s, len, i, len, &got);
		if (i >= want.at) {
			cr_assert_eq(got.at, i, "decided with %zu bytes", i);
			got.at = want.at;
		}
		answers_expect_same(&want, &got, "cut at", i);
		if (i < want.at)
			cr_assert_eq(got.at, len, "cut at %zu: decided early",
			    i);
	}
	/* Whole: once more, as one piece. */
	answer_run(s, len, len, 1, &got);
	got.at = want.at;
	answers_expect_same(&want, &got, "whole", 0);
	return (want);
}

static void
expect_upgraded(const char *s, size_t hdrlen, const char *protocol)
{
	struct answer	 a = answer_at_every_split(s);

	cr_assert_eq(a.rv, WS_OK, "\"%s\": %s", s, a.reason ? a.reason : "");
	cr_assert_eq(a.status, 101);
	cr_assert_eq(a.hdrlen, hdrlen, "hdrlen %zu, want %zu", a.hdrlen,
	    hdrlen);
	cr_assert_str_eq(a.protocol, protocol != NULL ? protocol : "");
}

static void
expect_refused(const char *s, const char *reason)
{
	struct answer	 a = answer_at_every_split(s);

	cr_assert_eq(a.rv, WS_EPROTO, "\"%s\": rv %d", s, a.rv);
	cr_assert_not_null(a.reason);
	cr_assert_str_eq(a.reason, reason, "\"%s\": \"%s\", want \"%s\"", s,
	    a.reason, reason);
}

static void
stream_put(struct stream *s, const void *p, size_t len)
{
	uint8_t	*b;
	size_t	 cap;

	if (s->len + len > s->cap) {
		cap = s->cap ? s->cap : 256;
		while (cap < s->len + len)
			cap *= 2;
		b = realloc(s->buf, cap);
		cr_assert_not_null(b);
		s->buf = b;
		s->cap = cap;
	}
	if (len > 0)
		memcpy(s->buf + s->len, p, len);
	s->len += len;
}

/* Append a server frame: the server's header, the payload as it is. */
static void
stream_frame(struct stream *s, int fin, int opcode, const void *payload,
    size_t len)
{
	uint8_t	 hdr[WS_HEADER_MAX];

	stream_put(s, hdr, ws_header_encode(hdr, fin, opcode, len));
	stream_put(s, payload, len);
}

static void
stream_text(struct stream *s, int fin, int opcode, const char *text)
{
	stream_frame(s, fin, opcode, text, strlen(text));
}

static void
event_add(struct events *e, int rv, size_t end)
{
	struct event	*ev;

	cr_assert_lt(e->n, MAX_EVENTS);
	ev = &e->ev[e->n++];
	memset(ev, 0, sizeof(*ev));
	ev->rv = rv;
	ev->end = end;
	switch (rv) {
	case WS_MESSAGE:
		ev->op = rd.ev_op;
		ev->len = rd.ev_len;
		ev->data = ws_reader_take(&rd);
		if (ev->len > 0)
			cr_assert_not_null(ev->data);
		break;
	case WS_CONTROL:
		ev->op = rd.ev_op;
		ev->len = rd.ev_len;
		cr_assert_leq(ev->len, WS_CONTROL_MAX);
		if (ev->op == WS_OP_CLOSE)
			ev->code = rd.ev_code;
		ev->data = malloc(ev->len > 0 ? ev->len : 1);
		cr_assert_not_null(ev->data);
		memcpy(ev->data, rd.ctl, ev->len);
		break;
	case WS_EPROTO:
		ev->code = rd.ev_code;
		ev->why = rd.ev_why;
		cr_assert_not_null(ev->why, "an error says why");
		break;
	default:
		cr_assert_fail("ws_reader_feed returned %d", rv);
	}
}

/*
 * Feed s to a fresh reader of server frames in pieces that end at the
 * offsets in cut[] (ascending; the last piece ends at len), and record
 * what it reports, up to the first WS_EPROTO.
 */
static void
reader_run(const uint8_t *s, size_t len, const size_t *cut, size_t ncut,
    uint64_t max, struct events *e)
{
	size_t	 c, start = 0, end, n, off, used;
	int	 rv;

	events_free(e);
	ws_reader_clear(&rd);
	ws_reader_init_peer(&rd, max, WS_PEER_SERVER);
	for (c = 0; c <= ncut; c++) {
		end = c < ncut ? cut[c] : len;
		cr_assert_geq(end, start);
		n = end - start;
		piece_set(s + start, n);
		off = 0;
		for (;;) {
			used = (size_t)-1;
			rv = ws_reader_feed(&rd, piece + off, n - off, &used);
			cr_assert_leq(used, n - off);
			off += used;
			if (rv == WS_AGAIN) {
				cr_assert_eq(off, n, "WS_AGAIN with bytes "
				    "left");
				break;
			}
			event_add(e, rv, start + off);
			if (rv == WS_EPROTO)
				goto done;
		}
		start = end;
	}
done:
	ws_reader_clear(&rd);
}

static void
events_expect_same(const struct events *a, const struct events *b,
    const char *how, size_t i, size_t j)
{
	const struct event	*x, *y;
	size_t			 k;

	cr_assert_eq(a->n, b->n, "%s %zu %zu: %zu events, want %zu", how, i,
	    j, b->n, a->n);
	for (k = 0; k < a->n; k++) {
		x = &a->ev[k];
		y = &b->ev[k];
		cr_assert(x->rv == y->rv && x->op == y->op &&
		    x->len == y->len && x->code == y->code,
		    "%s %zu %zu: event %zu is (%d op %d len %zu code %u), "
		    "want (%d op %d len %zu code %u)", how, i, j, k, y->rv,
		    y->op, y->len, y->code, x->rv, x->op, x->len, x->code);
		if (x->rv == WS_EPROTO) {
			cr_assert_str_eq(x->why, y->why);
			continue;
		}
		cr_assert_eq(x->end, y->end, "%s %zu %zu: event %zu ends at "
		    "%zu, want %zu", how, i, j, k, y->end, x->end);
		/* A message's payload follows its headroom. */
		if (x->len > 0)
			cr_assert_eq(memcmp(x->data + (x->rv == WS_MESSAGE ?
			    WS_HEADROOM : 0), y->data + (x->rv == WS_MESSAGE ?
			    WS_HEADROOM : 0), x->len), 0,
			    "%s %zu %zu: event %zu payload", how, i, j, k);
	}
}

/* Whole; cut at every offset; byte by byte; three pieces if short. */
static void
expect_same_events_at_every_split(const struct stream *s, uint64_t max)
{
	size_t	 c[2], i, j;

	reader_run(s->buf, s->len, NULL, 0, max, &want_ev);
	cr_assert_gt(want_ev.n, 0);
	for (i = 0; i <= s->len; i++) {
		c[0] = i;
		reader_run(s->buf, s->len, c, 1, max, &got_ev);
		events_expect_same(&want_ev, &got_ev, "cut at", i, 0);
	}
	free(cuts);
	cuts = malloc((s->len > 0 ? s->len : 1) * sizeof(*cuts));
	cr_assert_not_null(cuts);
	for (i = 0; i < s->len; i++)
		cuts[i] = i;
	reader_run(s->buf, s->len, cuts, s->len, max, &got_ev);
	events_expect_same(&want_ev, &got_ev, "byte by byte", 0, 0);
	if (s->len > 200)
		return;
	for (i = 0; i <= s->len; i++) {
		for (j = i; j <= s->len; j++) {
			c[0] = i;
			c[1] = j;
			reader_run(s->buf, s->len, c, 2, max, &got_ev);
			events_expect_same(&want_ev, &got_ev, "cut at", i, j);
		}
	}
}

static void
expect_message(const struct event *ev, int op, const void *p, size_t len)
{
	cr_assert_eq(ev->rv, WS_MESSAGE, "rv %d (code %u)", ev->rv, ev->code);
	cr_assert_eq(ev->op, op);
	cr_assert_eq(ev->len, len);
	if (len > 0)
		cr_assert_eq(memcmp(ev->data + WS_HEADROOM, p, len), 0);
}

static void
expect_control(const struct event *ev, int op, const void *p, size_t len)
{
	cr_assert_eq(ev->rv, WS_CONTROL, "rv %d (code %u)", ev->rv, ev->code);
	cr_assert_eq(ev->op, op);
	cr_assert_eq(ev->len, len);
	if (len > 0)
		cr_assert_eq(memcmp(ev->data, p, len), 0);
}

/* The last event of a run of s is an error with this code and reason. */
static void
expect_stream_error(const struct stream *s, uint64_t max, uint16_t code,
    const char *why)
{
	const struct event	*ev;

	expect_same_events_at_every_split(s, max);
	ev = &want_ev.ev[want_ev.n - 1];
	cr_assert_eq(ev->rv, WS_EPROTO, "last event %d", ev->rv);
	cr_assert_eq(ev->code, code, "close code %u, want %u", ev->code,
	    code);
	cr_assert_str_eq(ev->why, why);
}

static int
frame_parse(const void *p, size_t len, int msg_op, struct ws_frame *f,
    uint16_t *code, const char **why)
{
	*code = 0;
	*why = NULL;
	return (ws_client_frame_parse(piece_set(p, len), len, msg_op, f, code,
	    why));
}

static void
expect_frame_refused(const void *p, size_t len, int msg_op, const char *why)
{
	struct ws_frame	 f;
	const char	*got;
	uint16_t	 code;
	int		 rv;

	rv = frame_parse(p, len, msg_op, &f, &code, &got);
	cr_assert_eq(rv, WS_EPROTO, "frame %02x %02x: %d",
	    ((const uint8_t *)p)[0], ((const uint8_t *)p)[1], rv);
	cr_assert_eq(code, WS_CLOSE_PROTOCOL);
	cr_assert_str_eq(got, why);
}

/* ---------------------------------------------------------------- */
/* ws_client_request_encode */

Test(ws_client, builds_the_request_of_rfc_6455_section_1_3)
{
	struct ws_client_request	 req = { "server.example.com",
					    "/chat", "chat, superchat",
					    "http://example.com", NULL };
	const char			*want =
	    "GET /chat HTTP/1.1\r\n"
	    "Host: server.example.com\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Key: " RFC_KEY "\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "Sec-WebSocket-Protocol: chat, superchat\r\n"
	    "Origin: http://example.com\r\n"
	    "\r\n";
	char				 buf[1024];
	int				 n;

	n = ws_client_request_encode(&hs, &req, (const uint8_t *)RFC_NONCE,
	    buf, sizeof(buf));
	cr_assert_eq(n, (int)strlen(want));
	cr_assert_str_eq(buf, want);
	cr_assert_str_eq(hs.accept, RFC_ACCEPT);
	cr_assert_eq(hs.protocols, req.protocols, "kept, not copied");
	cr_assert_eq(hs.max_head, WS_CLIENT_HEAD_MAX);
}

Test(ws_client, leaves_out_the_headers_it_is_not_given)
{
	struct ws_client_request	 req = { "[::1]:8080", "/echo", NULL,
					    NULL, "wsbench" };
	char				 buf[1024];

	cr_assert_gt(ws_client_request_encode(&hs, &req,
	    (const uint8_t *)RFC_NONCE, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "GET /echo HTTP/1.1\r\n"
	    "Host: [::1]:8080\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Key: " RFC_KEY "\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "User-Agent: wsbench\r\n"
	    "\r\n");
	cr_assert_null(hs.protocols);
}

Test(ws_client, forgets_the_previous_answer_when_it_starts_again)
{
	struct ws_client_request	 req = { "h", "/", NULL, NULL, NULL };
	char				 buf[256];

	hs.status = 404;
	hs.scanned = 99;
	hs.reason = "old";
	hs.max_head = 3;
	cr_assert_gt(ws_client_request_encode(&hs, &req,
	    (const uint8_t *)RFC_NONCE, buf, sizeof(buf)), 0);
	cr_assert_eq(hs.status, 0);
	cr_assert_eq(hs.scanned, 0);
	cr_assert_null(hs.reason);
	cr_assert_eq(hs.max_head, WS_CLIENT_HEAD_MAX);
}

Test(ws_client, writes_nothing_past_a_buffer_one_byte_too_small)
{
	struct ws_client_request	 req = { "localhost:8080", "/ws",
					    PROTOS, "http://localhost",
					    "wschat/0" };
	char				 whole[1024];
	int				 n;
	size_t				 size;

	n = ws_client_request_encode(&hs, &req, (const uint8_t *)RFC_NONCE,
	    whole, sizeof(whole));
	cr_assert_gt(n, 0);
	/* Exact-size heap buffers: ASan sees any byte written past them. */
	for (size = 0; size <= (size_t)n + 1; size++) {
		free(req_buf);
		req_buf = malloc(size > 0 ? size : 1);
		cr_assert_not_null(req_buf);
		if (size <= (size_t)n)
			cr_assert_eq(ws_client_request_encode(&hs, &req,
			    (const uint8_t *)RFC_NONCE, req_buf, size), -1,
			    "size %zu", size);
		else {
			cr_assert_eq(ws_client_request_encode(&hs, &req,
			    (const uint8_t *)RFC_NONCE, req_buf, size), n);
			cr_assert_str_eq(req_buf, whole);
		}
	}
}

Test(ws_client, refuses_fields_that_would_break_the_request)
{
	static const struct ws_client_request	 bad[] = {
		{ NULL, "/ws", NULL, NULL, NULL },
		{ "", "/ws", NULL, NULL, NULL },
		{ "h", NULL, NULL, NULL, NULL },
		{ "h", "", NULL, NULL, NULL },
		{ "h\r\nX-Evil: 1", "/ws", NULL, NULL, NULL },
		{ "h", "/ws HTTP/1.0\r\n", NULL, NULL, NULL },
		{ "h", "/a b", NULL, NULL, NULL },
		{ "a b", "/", NULL, NULL, NULL },
		{ "h", "/", "chat\n", NULL, NULL },
		{ "h", "/", NULL, "http://x\r", NULL },
		{ "h", "/", NULL, NULL, "agent\x7f" },
		{ "h", "/", NULL, NULL, "tab\there" },
	};
	char					 buf[1024];
	size_t					 i;

	for (i = 0; i < NITEMS(bad); i++)
		cr_assert_eq(ws_client_request_encode(&hs, &bad[i],
		    (const uint8_t *)RFC_NONCE, buf, sizeof(buf)), -1,
		    "request %zu", i);
}

/* The server's parser and handshake accept what the client sends. */
Test(ws_client, makes_requests_the_server_upgrades)
{
	static const uint8_t	 nonces[][WS_CLIENT_NONCE_LEN] = {
		{ 0 },
		{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
		{ 0xfb, 0xef, 0xbe, 0xfb, 0xef, 0xbe, 0xfb, 0xef,
		  0xbe, 0xfb, 0xef, 0xbe, 0xfb, 0xef, 0xbe, 0x3e },
		{ 't', 'h', 'e', ' ', 's', 'a', 'm', 'p',
		  'l', 'e', ' ', 'n', 'o', 'n', 'c', 'e' },
	};
	struct ws_client_request	 req = { "localhost:8080", "/ws",
					    "chat, wschat.msgpack, wschat.json",
					    "http://localhost", "test" };
	struct http_limits		 lim = { 8192, 4096, 64 };
	struct http_request		 hreq;
	struct http_ws_opts		 opts = { 1 << WS_PROTO_JSON |
					    1 << WS_PROTO_MSGPACK, NULL,
					    NULL };
	struct http_ws_result		 res;
	char				 buf[1024], answer[512];
	size_t				 i;
	int				 n;

	for (i = 0; i < NITEMS(nonces); i++) {
		n = ws_client_request_encode(&hs, &req, nonces[i], buf,
		    sizeof(buf));
		cr_assert_gt(n, 0);
		cr_assert_eq(http_request_parse((char *)piece_set(buf,
		    (size_t)n), (size_t)n, &lim, &hreq), HTTP_OK);
		cr_assert_eq(http_ws_handshake(&hreq, &opts, &res), 101,
		    "nonce %zu: %s", i, res.reason ? res.reason : "");
		cr_assert_str_eq(res.accept, hs.accept, "nonce %zu", i);
		cr_assert_eq(res.subprotocol, WS_PROTO_MSGPACK);

		/* And the answer the server makes of it is accepted. */
		n = snprintf(answer, sizeof(answer), STATUS UPGRADE
		    CONNECTION "Sec-WebSocket-Accept: %s\r\n"
		    "Sec-WebSocket-Protocol: %s\r\n" END, res.accept,
		    http_ws_proto_name(res.subprotocol));
		cr_assert_eq(ws_client_response_parse(&hs, (const char *)
		    piece_set(answer, (size_t)n), (size_t)n), WS_OK,
		    "nonce %zu: %s", i, hs.reason);
		cr_assert_eq(hs.hdrlen, (size_t)n);
		cr_assert_eq(hs.protocol_len, strlen("wschat.msgpack"));
		cr_assert_eq(memcmp(hs.protocol, "wschat.msgpack",
		    hs.protocol_len), 0);
	}
}

/* ---------------------------------------------------------------- */
/* ws_client_response_parse */

Test(ws_client, accepts_the_answer_of_rfc_6455_section_1_3)
{
	expect_upgraded(GOOD_ANSWER, strlen(GOOD_ANSWER), NULL);
	cr_assert_eq(hs.linelen, strlen(STATUS) - 2);
}

Test(ws_client, leaves_the_frames_after_the_head_to_the_caller)
{
	expect_upgraded(GOOD_ANSWER "\x81\x05hello\x89", strlen(GOOD_ANSWER),
	    NULL);
}

Test(ws_client, accepts_lf_line_ends_odd_case_and_white_space)
{
	static const char	 lf[] = "HTTP/1.1 101\n"
				    "upgrade: WebSocket\n"
				    "CONNECTION:keep-alive,  upgrade \n"
				    "Sec-Websocket-Accept: \t" RFC_ACCEPT
				    " \t\n"
				    "Server: x\n"
				    "\n";
	static const char	 two[] = "HTTP/1.1 101 \r\n" UPGRADE
				    "Connection: close\r\n"
				    "Connection: Upgrade\r\n" ACCEPT
				    "X-Empty:\r\n"
				    "Sec-WebSocket-Extensions:\r\n\r\n";

	expect_upgraded(lf, strlen(lf), NULL);
	expect_upgraded(two, strlen(two), NULL);
}

Test(ws_client, reports_a_refusal_as_soon_as_its_status_line_is_complete)
{
	struct answer	 a;

	a = answer_at_every_split("HTTP/1.1 404 Not Found\r\n"
	    "Content-Length: 0\r\n\r\n");
	cr_assert_eq(a.rv, WS_EPROTO);
	cr_assert_eq(a.status, 404);
	cr_assert_eq(a.at, strlen("HTTP/1.1 404 Not Found\r\n"));
	cr_assert_eq(a.linelen, strlen("HTTP/1.1 404 Not Found"));
	cr_assert_str_eq(a.reason, "status not 101");

	a = answer_at_every_split("HTTP/1.0 200\n\n");
	cr_assert_eq(a.status, 200);
	cr_assert_eq(a.at, strlen("HTTP/1.0 200\n"));
}

Test(ws_client, fails_at_once_on_an_answer_that_is_not_http)
{
	struct answer	 a;

	a = answer_at_every_split("SSH-2.0-OpenSSH_9.2\r\n");
	cr_assert_eq(a.rv, WS_EPROTO);
	cr_assert_eq(a.at, 1, "no wait for more");
	cr_assert_str_eq(a.reason, "not an HTTP response");
	a = answer_at_every_split("HTTPS/1.1 101\r\n\r\n");
	cr_assert_eq(a.at, 5);
	a = answer_at_every_split("* online: alice\n");
	cr_assert_eq(a.at, 1);
	cr_assert_eq(a.status, 0);
}

Test(ws_client, refuses_a_wrong_or_missing_accept)
{
	expect_refused(STATUS UPGRADE CONNECTION END,
	    "no Sec-WebSocket-Accept");
	expect_refused(STATUS UPGRADE CONNECTION
	    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOO=\r\n" END,
	    "wrong Sec-WebSocket-Accept");
	expect_refused(STATUS UPGRADE CONNECTION
	    "Sec-WebSocket-Accept: " RFC_ACCEPT "x\r\n" END,
	    "wrong Sec-WebSocket-Accept");
	expect_refused(STATUS UPGRADE CONNECTION
	    "Sec-WebSocket-Accept: " RFC_KEY "\r\n" END,
	    "wrong Sec-WebSocket-Accept");
	expect_refused(STATUS UPGRADE CONNECTION
	    "Sec-WebSocket-Accept:\r\n" END, "wrong Sec-WebSocket-Accept");
	expect_refused(STATUS UPGRADE CONNECTION ACCEPT ACCEPT END,
	    "Sec-WebSocket-Accept twice");
}

Test(ws_client, refuses_an_answer_without_upgrade_websocket)
{
	expect_refused(STATUS CONNECTION ACCEPT END, "no Upgrade: websocket");
	expect_refused(STATUS "Upgrade: h2c\r\n" CONNECTION ACCEPT END,
	    "Upgrade is not websocket");
	expect_refused(STATUS "Upgrade: websocket, h2c\r\n" CONNECTION ACCEPT
	    END, "Upgrade is not websocket");
	expect_refused(STATUS UPGRADE UPGRADE CONNECTION ACCEPT END,
	    "Upgrade twice");
}

Test(ws_client, refuses_an_answer_without_connection_upgrade)
{
	expect_refused(STATUS UPGRADE ACCEPT END, "no Connection: Upgrade");
	expect_refused(STATUS UPGRADE "Connection: keep-alive\r\n" ACCEPT END,
	    "no Connection: Upgrade");
	expect_refused(STATUS UPGRADE "Connection: upgraded\r\n" ACCEPT END,
	    "no Connection: Upgrade");
	expect_refused(STATUS UPGRADE "Connection: websocket\r\n" ACCEPT END,
	    "no Connection: Upgrade");
}

Test(ws_client, accepts_only_a_subprotocol_it_offered)
{
	static const char	 msgpack[] = STATUS UPGRADE CONNECTION ACCEPT
				    "Sec-WebSocket-Protocol: wschat.msgpack\r\n"
				    END;
	static const char	 json[] = STATUS UPGRADE CONNECTION ACCEPT
				    "Sec-WebSocket-Protocol:  wschat.json \r\n"
				    END;

	expect_upgraded(msgpack, strlen(msgpack), "wschat.msgpack");
	expect_upgraded(json, strlen(json), "wschat.json");
	expect_refused(STATUS UPGRADE CONNECTION ACCEPT
	    "Sec-WebSocket-Protocol: chat\r\n" END,
	    "a subprotocol not offered");
	expect_refused(STATUS UPGRADE CONNECTION ACCEPT
	    "Sec-WebSocket-Protocol: wschat\r\n" END,
	    "a subprotocol not offered");
	expect_refused(STATUS UPGRADE CONNECTION ACCEPT
	    "Sec-WebSocket-Protocol: WSCHAT.JSON\r\n" END,
	    "a subprotocol not offered");
	expect_refused(STATUS UPGRADE CONNECTION ACCEPT
	    "Sec-WebSocket-Protocol: wschat.json, wschat.msgpack\r\n" END,
	    "a subprotocol not offered");
	expect_refused(STATUS UPGRADE CONNECTION ACCEPT
	    "Sec-WebSocket-Protocol:\r\n" END, "a subprotocol not offered");
	expect_refused(STATUS UPGRADE CONNECTION ACCEPT
	    "Sec-WebSocket-Protocol: wschat.json\r\n"
	    "Sec-WebSocket-Protocol: wschat.json\r\n" END,
	    "Sec-WebSocket-Protocol twice");
}

Test(ws_client, refuses_a_subprotocol_when_it_offered_none)
{
	offer = NULL;
	expect_upgraded(GOOD_ANSWER, strlen(GOOD_ANSWER), NULL);
	expect_refused(STATUS UPGRADE CONNECTION ACCEPT
	    "Sec-WebSocket-Protocol: wschat.json\r\n" END,
	    "a subprotocol not offered");
}

Test(ws_client, refuses_an_extension_it_did_not_offer)
{
	expect_refused(STATUS UPGRADE CONNECTION ACCEPT
	    "Sec-WebSocket-Extensions: permessage-deflate\r\n" END,
	    "an extension not offered");
}

Test(ws_client, refuses_malformed_heads)
{
	expect_refused("HTTP/1.1 1x1 Switching\r\n" UPGRADE CONNECTION ACCEPT
	    END, "bad status line");
	expect_refused("HTTP/1.1 101Switching\r\n" UPGRADE CONNECTION ACCEPT
	    END, "bad status line");
	expect_refused("HTTP/1.1  101\r\n" UPGRADE CONNECTION ACCEPT END,
	    "bad status line");
	expect_refused("HTTP/1.1 099\r\n" END, "bad status line");
	expect_refused("HTTP/11 101\r\n" END, "bad status line");
	expect_refused("HTTP/1.1 101 \x01\r\n" END, "bad status line");
	expect_refused("HTTP/1.1\r\n\r\n", "bad status line");
	expect_refused("HTTP/1.0 101 Switching Protocols\r\n" UPGRADE
	    CONNECTION ACCEPT END, "101 not in HTTP/1.1");
	expect_refused(STATUS UPGRADE " websocket\r\n" CONNECTION ACCEPT END,
	    "folded header line");
	expect_refused(STATUS UPGRADE "no colon\r\n" CONNECTION ACCEPT END,
	    "header line without a name");
	expect_refused(STATUS UPGRADE ": x\r\n" CONNECTION ACCEPT END,
	    "header line without a name");
	expect_refused(STATUS "Upgrade : websocket\r\n" CONNECTION ACCEPT END,
	    "bad header name");
	expect_refused(STATUS "Up(grade): websocket\r\n" CONNECTION ACCEPT
	    END, "bad header name");
	expect_refused(STATUS "Upgrade: web\rsocket\r\n" CONNECTION ACCEPT
	    END, "control character in a header");
	expect_refused(STATUS UPGRADE "X: a\x7f" "b\r\n" CONNECTION ACCEPT
	    END, "control character in a header");
}

Test(ws_client, refuses_a_nul_in_the_head)
{
	static const char	 s[] = STATUS "X: a\0b\r\n" UPGRADE CONNECTION
				    ACCEPT END;
	size_t			 n;
	int			 rv = WS_AGAIN;

	hs_start();
	for (n = 0; n < sizeof(s) - 1 && rv == WS_AGAIN; n++)
		rv = ws_client_response_parse(&hs, (const char *)piece_set(s,
		    n + 1), n + 1);
	cr_assert_eq(rv, WS_EPROTO);
	cr_assert_str_eq(hs.reason, "control character in a header");
}

Test(ws_client, keeps_the_head_within_its_limit)
{
	char	 big[200];
	size_t	 len = strlen(GOOD_ANSWER);

	head_max = len;
	expect_upgraded(GOOD_ANSWER, len, NULL);
	head_max = len - 1;
	expect_refused(GOOD_ANSWER, "response head too long");
	/* LF LF would end it one byte too late. */
	head_max = len - 2;
	expect_refused(STATUS UPGRADE CONNECTION ACCEPT "\n",
	    "response head too long");

	/* A head that never ends fails once it has max_head bytes. */
	head_max = 100;
	memset(big, 'x', sizeof(big));
	memcpy(big, STATUS "X: ", strlen(STATUS "X: "));
	big[sizeof(big) - 1] = '\0';
	cr_assert_eq(answer_at_every_split(big).at, 100);
	cr_assert_str_eq(hs.reason, "response head too long");
	/* A status line longer than the head may be is no status line. */
	head_max = 10;
	expect_refused(STATUS, "response head too long");
}

Test(ws_client, searches_on_from_where_it_stopped)
{
	char	 s[2048];
	size_t	 n, len;

	/* Many short lines, one byte at a time: each call looks at few. */
	len = (size_t)snprintf(s, sizeof(s), "%s", STATUS UPGRADE CONNECTION
	    ACCEPT);
	while (len < sizeof(s) - 64)
		len += (size_t)snprintf(s + len, sizeof(s) - len, "X: y\r\n");
	len += (size_t)snprintf(s + len, sizeof(s) - len, "\r\n");
	hs_start();
	for (n = 1; n < len; n++) {
		cr_assert_eq(ws_client_response_parse(&hs, (const char *)
		    piece_set(s, n), n), WS_AGAIN);
		cr_assert_leq(hs.scanned, n);
		cr_assert_geq(hs.scanned + 3, n, "scanned %zu of %zu",
		    hs.scanned, n);
	}
	cr_assert_eq(ws_client_response_parse(&hs, (const char *)
	    piece_set(s, len), len), WS_OK, "%s", hs.reason);
	cr_assert_eq(hs.hdrlen, len);
}

/* ---------------------------------------------------------------- */
/* ws_client_header_encode, ws_client_frame_encode */

Test(ws_client, encodes_a_masked_header_for_each_length_class)
{
	static const struct {
		uint64_t	 len;
		size_t		 hlen;
		uint8_t		 b1;
	} t[] = {
		{ 0, 6, 0x80 }, { 125, 6, 0x80 | 125 },
		{ 126, 8, 0x80 | 126 }, { 65535, 8, 0x80 | 126 },
		{ 65536, 14, 0x80 | 127 }, { (uint64_t)1 << 40, 14, 0xff },
	};
	const uint8_t	 mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
	uint8_t		 out[WS_HEADER_MAX];
	struct ws_frame	 f;
	uint16_t	 code;
	size_t		 i, h;

	for (i = 0; i < NITEMS(t); i++) {
		memset(out, 0xee, sizeof(out));
		h = ws_client_header_encode(out, 1, WS_OP_BINARY, t[i].len,
		    mask);
		cr_assert_eq(h, t[i].hlen, "len %llu",
		    (unsigned long long)t[i].len);
		cr_assert_eq(out[0], 0x82);
		cr_assert_eq(out[1], t[i].b1);
		cr_assert_eq(memcmp(out + h - 4, mask, 4), 0);
		/* The server's parser reads the same header back. */
		cr_assert_eq(ws_frame_parse(piece_set(out, h), h, &f, &code),
		    WS_OK);
		cr_assert_eq(f.len, t[i].len);
		cr_assert_eq(f.hdrlen, h);
		cr_assert(f.masked && f.fin);
		cr_assert_eq(memcmp(f.mask, mask, 4), 0);
	}
	ws_client_header_encode(out, 0, WS_OP_TEXT, 3, mask);
	cr_assert_eq(out[0], 0x01, "not final");
}

/* The server reads back what the client frames, at every length. */
Test(ws_client, masks_in_place_what_the_server_unmasks)
{
	static const size_t	 lens[] = { 0, 1, 7, 8, 9, 125, 126, 1000,
				    65535, 65536, 70001 };
	uint8_t			 mask[4], *p, *fr, *m;
	struct ws_reader	 srv;
	size_t			 i, j, flen, used;

	for (i = 0; i < NITEMS(lens); i++) {
		free(frame_buf);
		frame_buf = malloc(WS_HEADER_MAX + lens[i] + 1);
		cr_assert_not_null(frame_buf);
		p = frame_buf + WS_HEADER_MAX;
		for (j = 0; j < lens[i]; j++)
			p[j] = (uint8_t)(j * 13 + i);
		for (j = 0; j < 4; j++)
			mask[j] = (uint8_t)(0x5b * i + 0x29 * j + 1);
		fr = ws_client_frame_encode(p, 1, WS_OP_BINARY, lens[i], mask,
		    &flen);
		cr_assert_geq(fr, frame_buf, "within the headroom");
		cr_assert_eq(fr + flen, p + lens[i]);
		for (j = 0; j < lens[i] && lens[i] >= 4; j++)
			if (p[j] != (uint8_t)(j * 13 + i))
				break;
		cr_assert(lens[i] < 4 || j < lens[i], "payload masked");

		ws_reader_init(&srv, NO_LIMIT);
		cr_assert_eq(ws_reader_feed(&srv, fr, flen, &used),
		    WS_MESSAGE, "len %zu", lens[i]);
		cr_assert_eq(used, flen);
		cr_assert_eq(srv.ev_op, WS_OP_BINARY);
		cr_assert_eq(srv.ev_len, lens[i]);
		m = ws_reader_take(&srv);
		for (j = 0; j < lens[i]; j++)
			if (m[WS_HEADROOM + j] != (uint8_t)(j * 13 + i))
				break;
		free(m);
		ws_reader_clear(&srv);
		cr_assert_eq(j, lens[i], "len %zu: byte %zu differs",
		    lens[i], j);
	}
}

/* ---------------------------------------------------------------- */
/* ws_client_frame_parse */

Test(ws_client, parses_server_frames_in_place)
{
	static const struct {
		uint8_t		 in[10];
		size_t		 inlen;
		int		 op;
		uint64_t	 len;
		size_t		 hdrlen;
	} t[] = {
		{ { 0x81, 0x05 }, 2, WS_OP_TEXT, 5, 2 },
		{ { 0x82, 0x00 }, 2, WS_OP_BINARY, 0, 2 },
		{ { 0x89, 0x7d }, 2, WS_OP_PING, 125, 2 },
		{ { 0x8a, 0x00 }, 2, WS_OP_PONG, 0, 2 },
		{ { 0x81, 0x7e, 0x00, 0x7e }, 4, WS_OP_TEXT, 126, 4 },
		{ { 0x82, 0x7e, 0xff, 0xff }, 4, WS_OP_BINARY, 65535, 4 },
		{ { 0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0 }, 10, WS_OP_BINARY,
		    65536, 10 },
		{ { 0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		    0xff }, 10, WS_OP_BINARY, INT64_MAX, 10 },
	};
	struct ws_frame	 f;
	const char	*why;
	uint16_t	 code;
	size_t		 i, n;

	for (i = 0; i < NITEMS(t); i++) {
		cr_assert_eq(frame_parse(t[i].in, t[i].inlen, 0, &f, &code,
		    &why), WS_OK, "frame %zu: %s", i, why);
		cr_assert_eq(f.opcode, t[i].op);
		cr_assert_eq(f.len, t[i].len);
		cr_assert_eq(f.hdrlen, t[i].hdrlen);
		cr_assert(f.fin && !f.masked);
		/* Any shorter prefix: more bytes, please. */
		for (n = 0; n < t[i].inlen; n++)
			cr_assert_eq(frame_parse(t[i].in, n, 0, &f, &code,
			    &why), WS_AGAIN, "frame %zu, %zu bytes", i, n);
	}
}

Test(ws_client, refuses_with_1002_what_a_server_must_not_send)
{
	uint8_t	 in[10];
	int	 op;

	expect_frame_refused("\x81\x85" "abcd", 6, 0, "masked server frame");
	expect_frame_refused("\x81\x80", 2, 0, "masked server frame");
	expect_frame_refused("\xc1\x01", 2, 0, "reserved bits set");
	expect_frame_refused("\xa1\x01", 2, 0, "reserved bits set");
	expect_frame_refused("\x91\x01", 2, 0, "reserved bits set");
	for (op = 3; op <= 0xf; op++) {
		if (op >= WS_OP_CLOSE && op <= WS_OP_PONG)
			continue;
		in[0] = (uint8_t)(0x80 | op);
		in[1] = 0;
		expect_frame_refused(in, 2, 0, "reserved opcode");
	}
	expect_frame_refused("\x09\x00", 2, 0,
	    "fragmented or long control frame");
	expect_frame_refused("\x88\x7e\x00\x7e", 4, 0,
	    "fragmented or long control frame");
	expect_frame_refused("\x81\x7e\x00\x7d", 4, 0, "length not minimal");
	expect_frame_refused("\x82\x7f\x00\x00\x00\x00\x00\x00\xff\xff", 10,
	    0, "length not minimal");
	expect_frame_refused("\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00", 10,
	    0, "length over 2^63");
}

Test(ws_client, checks_a_frame_against_the_message_under_way)
{
	struct ws_frame	 f;
	const char	*why;
	uint16_t	 code;

	expect_frame_refused("\x80\x01", 2, 0, "continuation of nothing");
	expect_frame_refused("\x01\x01", 2, WS_OP_TEXT,
	    "new message inside a fragmented one");
	expect_frame_refused("\x82\x01", 2, WS_OP_TEXT,
	    "new message inside a fragmented one");
	cr_assert_eq(frame_parse("\x00\x01", 2, WS_OP_BINARY, &f, &code,
	    &why), WS_OK);
	cr_assert(f.opcode == WS_OP_CONT && !f.fin);
	cr_assert_eq(frame_parse("\x89\x00", 2, WS_OP_TEXT, &f, &code, &why),
	    WS_OK, "a control frame between fragments");
	cr_assert_eq(frame_parse("\x88\x02", 2, WS_OP_TEXT, &f, &code, &why),
	    WS_OK);
}

/* ---------------------------------------------------------------- */
/* ws_reader, reading server frames */

Test(ws_client, reads_server_messages_however_they_are_cut)
{
	static const char	 big[] = "a longer message, past the 125 "
				    "bytes that fit the short length field, "
				    "so that the 16-bit length is read too, "
				    "and split anywhere: κόσμε";
	uint8_t			 close[] = { 0x03, 0xe8, 'b', 'y', 'e' };

	stream_text(&strm, 1, WS_OP_TEXT, "{\"type\":\"who\"}");
	stream_text(&strm, 0, WS_OP_TEXT, "fra");
	stream_text(&strm, 1, WS_OP_PING, "are you there");
	stream_text(&strm, 0, WS_OP_CONT, "gm");
	stream_text(&strm, 1, WS_OP_CONT, "ents");
	stream_frame(&strm, 1, WS_OP_BINARY, "\x00\xff", 2);
	stream_frame(&strm, 1, WS_OP_TEXT, "", 0);
	stream_frame(&strm, 1, WS_OP_CLOSE, close, sizeof(close));
	expect_same_events_at_every_split(&strm, 1024);

	cr_assert_eq(want_ev.n, 6);
	expect_message(&want_ev.ev[0], WS_OP_TEXT, "{\"type\":\"who\"}", 14);
	expect_control(&want_ev.ev[1], WS_OP_PING, "are you there", 13);
	expect_message(&want_ev.ev[2], WS_OP_TEXT, "fragments", 9);
	expect_message(&want_ev.ev[3], WS_OP_BINARY, "\x00\xff", 2);
	expect_message(&want_ev.ev[4], WS_OP_TEXT, "", 0);
	expect_control(&want_ev.ev[5], WS_OP_CLOSE, close, sizeof(close));
	cr_assert_eq(want_ev.ev[5].code, 1000);

	strm.len = 0;
	stream_text(&strm, 1, WS_OP_TEXT, big);
	cr_assert_gt(strlen(big), WS_CONTROL_MAX);
	expect_same_events_at_every_split(&strm, 1024);
	expect_message(&want_ev.ev[0], WS_OP_TEXT, big, strlen(big));
}

Test(ws_client, reads_a_message_with_a_64_bit_length)
{
	uint8_t	*p;
	size_t	 i, len = 70000;

	p = malloc(len);
	cr_assert_not_null(p);
	for (i = 0; i < len; i++)
		p[i] = (uint8_t)('a' + i % 26);
	stream_frame(&strm, 1, WS_OP_TEXT, p, len);
	reader_run(strm.buf, strm.len, NULL, 0, 1 << 20, &want_ev);
	cr_assert_eq(want_ev.n, 1);
	expect_message(&want_ev.ev[0], WS_OP_TEXT, p, len);
	free(p);
}

Test(ws_client, refuses_a_masked_server_frame_with_1002)
{
	stream_text(&strm, 1, WS_OP_TEXT, "ok");
	stream_put(&strm, "\x81\x82" "abcd" "xy", 8);
	expect_stream_error(&strm, 1024, WS_CLOSE_PROTOCOL,
	    "masked server frame");
	cr_assert_eq(want_ev.n, 2, "the message before it is read");
}

Test(ws_client, refuses_broken_fragmentation_with_1002)
{
	stream_text(&strm, 1, WS_OP_CONT, "orphan");
	expect_stream_error(&strm, 1024, WS_CLOSE_PROTOCOL,
	    "continuation of nothing");
	strm.len = 0;
	stream_text(&strm, 0, WS_OP_TEXT, "one");
	stream_text(&strm, 1, WS_OP_TEXT, "two");
	expect_stream_error(&strm, 1024, WS_CLOSE_PROTOCOL,
	    "new message inside a fragmented one");
	strm.len = 0;
	stream_put(&strm, "\x09\x00", 2);
	expect_stream_error(&strm, 1024, WS_CLOSE_PROTOCOL,
	    "fragmented or long control frame");
}

Test(ws_client, refuses_invalid_utf8_at_the_first_bad_byte_with_1007)
{
	stream_text(&strm, 0, WS_OP_TEXT, "ok \xc3\x28");
	stream_text(&strm, 1, WS_OP_CONT, "never read");
	expect_stream_error(&strm, 1024, WS_CLOSE_BAD_DATA, "invalid UTF-8");
	/* Before the second fragment came. */
	cr_assert_eq(want_ev.n, 1);

	strm.len = 0;
	stream_text(&strm, 1, WS_OP_TEXT, "cut \xce");
	expect_stream_error(&strm, 1024, WS_CLOSE_BAD_DATA,
	    "text ends inside a character");
}

Test(ws_client, refuses_a_message_over_the_limit_before_reading_it)
{
	size_t	 i;

	stream_text(&strm, 0, WS_OP_BINARY, "12345");
	stream_text(&strm, 1, WS_OP_CONT, "678");
	expect_same_events_at_every_split(&strm, 8);
	expect_message(&want_ev.ev[0], WS_OP_BINARY, "12345678", 8);

	strm.len = 0;
	stream_text(&strm, 0, WS_OP_BINARY, "12345");
	stream_text(&strm, 1, WS_OP_CONT, "6789");
	expect_stream_error(&strm, 8, WS_CLOSE_TOO_BIG, "message too big");

	/* A 2^62-byte header: refused as soon as the header is in. */
	strm.len = 0;
	stream_put(&strm, "\x82\x7f\x40\x00\x00\x00\x00\x00\x00\x00", 10);
	for (i = 0; i < 16; i++)
		stream_put(&strm, "x", 1);
	expect_stream_error(&strm, 1 << 20, WS_CLOSE_TOO_BIG,
	    "message too big");
}

Test(ws_client, checks_the_close_payload)
{
	static const struct {
		const char	*payload;
		size_t		 len;
		int		 rv;
		uint16_t	 code;
		const char	*why;
	} t[] = {
		{ "", 0, WS_CONTROL, WS_CLOSE_NO_STATUS, NULL },
		{ "\x03\xe9", 2, WS_CONTROL, 1001, NULL },
		{ "\x0f\xa0" "app", 5, WS_CONTROL, 4000, NULL },
		{ "\x03", 1, WS_EPROTO, WS_CLOSE_PROTOCOL,
		    "bad close status" },
		{ "\x03\xed", 2, WS_EPROTO, WS_CLOSE_PROTOCOL,
		    "bad close status" },
		{ "\x03\xe8\xff", 3, WS_EPROTO, WS_CLOSE_BAD_DATA,
		    "close reason not UTF-8" },
	};
	size_t	 i;

	for (i = 0; i < NITEMS(t); i++) {
		strm.len = 0;
		stream_frame(&strm, 1, WS_OP_CLOSE, t[i].payload, t[i].len);
		expect_same_events_at_every_split(&strm, 1024);
		cr_assert_eq(want_ev.n, 1);
		cr_assert_eq(want_ev.ev[0].rv, t[i].rv, "close %zu", i);
		cr_assert_eq(want_ev.ev[0].code, t[i].code, "close %zu: %u",
		    i, want_ev.ev[0].code);
		if (t[i].why != NULL)
			cr_assert_str_eq(want_ev.ev[0].why, t[i].why);
	}
}

Test(ws_client, leaves_the_server_reader_refusing_unmasked_frames)
{
	size_t	 used;

	/* The same bytes, read as the server: clients must mask. */
	stream_text(&strm, 1, WS_OP_TEXT, "hi");
	ws_reader_init(&rd, 1024);
	cr_assert_eq(ws_reader_feed(&rd, piece_set(strm.buf, strm.len),
	    strm.len, &used), WS_EPROTO);
	cr_assert_eq(rd.ev_code, WS_CLOSE_PROTOCOL);
	cr_assert_str_eq(rd.ev_why, "unmasked client frame");
}
