/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * test_ws.c: unit tests of the RFC 6455 framing in ws.c: the client frame
 * header parser and every reason it has to refuse a frame, unmasking at any
 * offset and alignment, server headers, close codes and close payloads, the
 * incremental message reader, and the shared outgoing frames.  The reader's
 * central property is that the events it reports do not depend on how the
 * bytes are cut: a stream of frames fed cut at every offset, in three
 * pieces and byte by byte gives exactly the events it gives in one piece.
 * Each piece is fed from a heap copy of its exact size, so that the
 * sanitizer build catches a read past the bytes received so far.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "wschatd.h"
#include "ws.h"
#include "utf8.h"

#include "unit.h"

#define NO_LIMIT	UINT64_MAX

/* A stream of masked client frames, built by stream_frame(). */
struct stream {
	uint8_t		*buf;
	size_t		 len;
	size_t		 cap;
	unsigned	 nframes;	/* varies the mask */
};

/* What ws_reader_feed() reported, with its payload. */
struct event {
	int		 rv;		/* WS_MESSAGE, WS_CONTROL, WS_EPROTO */
	int		 op;
	size_t		 len;
	uint16_t	 code;		/* close status, or the error's code */
	uint8_t		*data;		/* message: taken; control: a copy */
	size_t		 end;		/* stream offset just after the event */
};

#define MAX_EVENTS	64

struct events {
	struct event	 ev[MAX_EVENTS];
	size_t		 n;
};

/* Everything a test allocates hangs from here, so fini can free it. */
static struct stream	 strm, strm2;
static struct events	 want_ev, got_ev;
static struct ws_reader	 rd;
static uint8_t		*piece;
static uint8_t		*bigbuf;
static size_t		*cuts;
static uint8_t		*taken;
static struct ws_out	*out;

static void
events_free(struct events *e)
{
	size_t	 i;

	for (i = 0; i < e->n; i++)
		free(e->ev[i].data);
	e->n = 0;
}

static void
ws_test_fini(void)
{
	free(strm.buf);
	free(strm2.buf);
	events_free(&want_ev);
	events_free(&got_ev);
	ws_reader_clear(&rd);
	free(piece);
	free(bigbuf);
	free(cuts);
	free(taken);
	if (out != NULL) {
		while (out->wo_refs > 1)
			ws_out_unref(out);
		ws_out_unref(out);
	}
	unit_leak_check();
}

TestSuite(ws, .fini = ws_test_fini);

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

/* A large payload with a recognisable pattern. */
static uint8_t *
big_payload(size_t len, unsigned seed)
{
	size_t	 i;

	free(bigbuf);
	bigbuf = malloc(len);
	cr_assert_not_null(bigbuf);
	for (i = 0; i < len; i++)
		bigbuf[i] = (uint8_t)(i * 7 + seed + (i >> 8));
	return (bigbuf);
}

static int
frame_parse(const void *p, size_t len, struct ws_frame *f, uint16_t *code)
{
	*code = 0;
	return (ws_frame_parse(piece_set(p, len), len, f, code));
}

static void
expect_frame_refused(const void *p, size_t len)
{
	struct ws_frame	 f;
	uint16_t	 code;
	int		 rv;

	rv = frame_parse(p, len, &f, &code);
	cr_assert_eq(rv, WS_EPROTO, "frame %02x %02x: %d",
	    ((const uint8_t *)p)[0], ((const uint8_t *)p)[1], rv);
	cr_assert_eq(code, WS_CLOSE_PROTOCOL);
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
	if (len > 0 && p != NULL)
		memcpy(s->buf + s->len, p, len);
	s->len += len;
}

/* Append a client frame, masked with a key that changes from frame to frame. */
static void
stream_frame(struct stream *s, int fin, int opcode, const void *payload,
    size_t len)
{
	const uint8_t	*p = payload;
	uint8_t		 hdr[WS_HEADER_MAX], mask[4], *dst;
	size_t		 h = 0, i;

	hdr[h++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
	if (len < 126)
		hdr[h++] = (uint8_t)(0x80 | len);
	else if (len <= 0xffff) {
		hdr[h++] = 0x80 | 126;
		hdr[h++] = (uint8_t)(len >> 8);
		hdr[h++] = (uint8_t)len;
	} else {
		hdr[h++] = 0x80 | 127;
		for (i = 0; i < 8; i++)
			hdr[h++] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
	}
	for (i = 0; i < 4; i++)
		mask[i] = (uint8_t)(0x37 + 0x5b * s->nframes + 0x29 * i);
	s->nframes++;
	memcpy(hdr + h, mask, 4);
	h += 4;
	stream_put(s, hdr, h);
	stream_put(s, NULL, len);
	dst = s->buf + s->len - len;
	for (i = 0; i < len; i++)
		dst[i] = p[i] ^ mask[i & 3];
}

static void
stream_text(struct stream *s, int fin, int opcode, const char *text)
{
	stream_frame(s, fin, opcode, text, strlen(text));
}

static struct event *
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
		break;
	default:
		cr_assert_fail("ws_reader_feed returned %d", rv);
	}
	return (ev);
}

/*
 * Feed s to a fresh reader in pieces that end at the offsets in cut[]
 * (ascending; the last piece ends at len) and record what it reports.
 * After WS_MESSAGE or WS_CONTROL the rest of the piece is fed again, even
 * when nothing is left of it; WS_AGAIN must have used the whole piece.
 * Stops at the first WS_EPROTO.
 */
static void
reader_run(const uint8_t *s, size_t len, const size_t *cut, size_t ncut,
    uint64_t max, struct events *e)
{
	size_t	 c, start = 0, end, n, off, used;
	int	 rv;

	events_free(e);
	ws_reader_clear(&rd);
	ws_reader_init(&rd, max);
	for (c = 0; c <= ncut; c++) {
		end = c < ncut ? cut[c] : len;
		cr_assert_geq(end, start);
		n = end - start;
		piece_set(s + start, n);
		off = 0;
		for (;;) {
			used = (size_t)-1;
			rv = ws_reader_feed(&rd, piece + off, n - off, &used);
			cr_assert_leq(used, n - off, "used %zu of %zu", used,
			    n - off);
			off += used;
			if (rv == WS_AGAIN) {
				cr_assert_eq(off, n, "WS_AGAIN with %zu bytes "
				    "of the piece left", n - off);
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
reader_run_whole(const struct stream *s, uint64_t max, struct events *e)
{
	reader_run(s->buf, s->len, NULL, 0, max, e);
}

static void
reader_run_bytewise(const struct stream *s, uint64_t max, struct events *e)
{
	size_t	 i;

	free(cuts);
	cuts = malloc((s->len > 0 ? s->len : 1) * sizeof(*cuts));
	cr_assert_not_null(cuts);
	for (i = 0; i < s->len; i++)
		cuts[i] = i;
	reader_run(s->buf, s->len, cuts, s->len, max, e);
}

static const uint8_t *
event_payload(const struct event *ev)
{
	if (ev->data == NULL)
		return (NULL);
	return (ev->rv == WS_MESSAGE ? ev->data + WS_HEADROOM : ev->data);
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
		if (x->rv == WS_EPROTO)
			continue;
		cr_assert_eq(x->end, y->end, "%s %zu %zu: event %zu ends at "
		    "%zu, want %zu", how, i, j, k, y->end, x->end);
		if (x->len > 0)
			cr_assert_eq(memcmp(event_payload(x), event_payload(y),
			    x->len), 0, "%s %zu %zu: event %zu payload", how,
			    i, j, k);
	}
}

/*
 * The central property: whatever the cuts, the same events with the same
 * payloads.  Two pieces cut at every offset, then byte by byte, and three
 * pieces cut at every pair of offsets if the stream is short enough.
 */
static void
expect_same_events_at_every_split(const struct stream *s, uint64_t max,
    int three)
{
	size_t	 c[2], i, j;

	reader_run_whole(s, max, &want_ev);
	cr_assert_gt(want_ev.n, 0);
	for (i = 0; i <= s->len; i++) {
		c[0] = i;
		reader_run(s->buf, s->len, c, 1, max, &got_ev);
		events_expect_same(&want_ev, &got_ev, "cut at", i, 0);
	}
	reader_run_bytewise(s, max, &got_ev);
	events_expect_same(&want_ev, &got_ev, "byte by byte", 0, 0);
	if (!three)
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
	if (len == 0)
		cr_assert_null(ev->data, "empty message: take gives NULL");
	else
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

static void
expect_error(const struct events *e, uint16_t code)
{
	cr_assert_gt(e->n, 0);
	cr_assert_eq(e->ev[e->n - 1].rv, WS_EPROTO, "last event %d",
	    e->ev[e->n - 1].rv);
	cr_assert_eq(e->ev[e->n - 1].code, code, "close code %u, want %u",
	    e->ev[e->n - 1].code, code);
}

static void
fill_pattern(uint8_t *p, size_t len, unsigned seed)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + seed + (i >> 8));
}

/* ---------------------------------------------------------------- */
/* ws_frame_parse */

Test(ws, parses_the_rfc_6455_masked_hello)
{
	const uint8_t	 in[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
			    0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	const uint8_t	 mask[] = { 0x37, 0xfa, 0x21, 0x3d };
	struct ws_frame	 f;
	uint16_t	 code;
	uint8_t		 payload[5];

	cr_assert_eq(frame_parse(in, sizeof(in), &f, &code), WS_OK);
	cr_assert_eq(f.fin, 1);
	cr_assert_eq(f.opcode, WS_OP_TEXT);
	cr_assert_eq(f.masked, 1);
	cr_assert_eq(memcmp(f.mask, mask, 4), 0);
	cr_assert_eq(f.len, 5);
	cr_assert_eq(f.hdrlen, 6);
	memcpy(payload, in + f.hdrlen, 5);
	ws_unmask(payload, 5, f.mask, 0);
	cr_assert_eq(memcmp(payload, "Hello", 5), 0);
}

Test(ws, parses_a_header_without_its_payload)
{
	const uint8_t	 in[] = { 0x02, 0xfd, 1, 2, 3, 4 };
	struct ws_frame	 f;
	uint16_t	 code;

	cr_assert_eq(frame_parse(in, sizeof(in), &f, &code), WS_OK);
	cr_assert_eq(f.fin, 0);
	cr_assert_eq(f.opcode, WS_OP_BINARY);
	cr_assert_eq(f.len, 125);
	cr_assert_eq(f.hdrlen, 6);
}

Test(ws, parses_a_16_bit_length)
{
	const uint8_t	 min[] = { 0x82, 0xfe, 0x00, 0x7e, 1, 2, 3, 4 };
	const uint8_t	 mid[] = { 0x82, 0xfe, 0x01, 0x00, 1, 2, 3, 4 };
	const uint8_t	 max[] = { 0x80, 0xfe, 0xff, 0xff, 1, 2, 3, 4 };
	struct ws_frame	 f;
	uint16_t	 code;

	cr_assert_eq(frame_parse(min, sizeof(min), &f, &code), WS_OK);
	cr_assert_eq(f.len, 126);
	cr_assert_eq(f.hdrlen, 8);
	cr_assert_eq(f.mask[0], 1);
	cr_assert_eq(f.mask[3], 4);
	cr_assert_eq(frame_parse(mid, sizeof(mid), &f, &code), WS_OK);
	cr_assert_eq(f.len, 256);
	cr_assert_eq(frame_parse(max, sizeof(max), &f, &code), WS_OK);
	cr_assert_eq(f.len, 65535);
	cr_assert_eq(f.opcode, WS_OP_CONT);
}

Test(ws, parses_a_64_bit_length)
{
	const uint8_t	 min[] = { 0x82, 0xff, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00,
			    9, 8, 7, 6 };
	const uint8_t	 big[] = { 0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff,
			    0xff, 0xff, 0xff, 9, 8, 7, 6 };
	const uint8_t	 g4[] = { 0x82, 0xff, 0, 0, 0, 0x01, 0, 0, 0, 0,
			    9, 8, 7, 6 };
	struct ws_frame	 f;
	uint16_t	 code;

	cr_assert_eq(frame_parse(min, sizeof(min), &f, &code), WS_OK);
	cr_assert_eq(f.len, 65536);
	cr_assert_eq(f.hdrlen, 14);
	cr_assert_eq(f.mask[0], 9);
	cr_assert_eq(f.mask[3], 6);
	cr_assert_eq(frame_parse(g4, sizeof(g4), &f, &code), WS_OK);
	cr_assert_eq(f.len, (uint64_t)1 << 32);
	cr_assert_eq(frame_parse(big, sizeof(big), &f, &code), WS_OK);
	cr_assert_eq(f.len, (uint64_t)INT64_MAX);
}

Test(ws, refuses_a_non_minimal_16_bit_length)
{
	const uint8_t	 l125[] = { 0x82, 0xfe, 0x00, 0x7d, 1, 2, 3, 4 };
	const uint8_t	 l0[] = { 0x82, 0xfe, 0x00, 0x00, 1, 2, 3, 4 };

	expect_frame_refused(l125, sizeof(l125));
	expect_frame_refused(l0, sizeof(l0));
}

Test(ws, refuses_a_non_minimal_64_bit_length)
{
	const uint8_t	 l65535[] = { 0x82, 0xff, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
			    1, 2, 3, 4 };
	const uint8_t	 l126[] = { 0x82, 0xff, 0, 0, 0, 0, 0, 0, 0x00, 0x7e,
			    1, 2, 3, 4 };
	const uint8_t	 l0[] = { 0x82, 0xff, 0, 0, 0, 0, 0, 0, 0, 0,
			    1, 2, 3, 4 };

	expect_frame_refused(l65535, sizeof(l65535));
	expect_frame_refused(l126, sizeof(l126));
	expect_frame_refused(l0, sizeof(l0));
}

Test(ws, refuses_a_64_bit_length_with_the_top_bit_set)
{
	const uint8_t	 top[] = { 0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0,
			    1, 2, 3, 4 };
	const uint8_t	 all[] = { 0x82, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			    0xff, 0xff, 0xff, 1, 2, 3, 4 };

	expect_frame_refused(top, sizeof(top));
	expect_frame_refused(all, sizeof(all));
}

Test(ws, rejects_unmasked_client_frame)
{
	const uint8_t	 in[] = { 0x81, 0x02, 'h', 'i' };
	struct ws_frame	 f;
	uint16_t	 code;

	cr_assert_eq(frame_parse(in, sizeof(in), &f, &code), WS_EPROTO);
	cr_assert_eq(code, 1002);
}

Test(ws, refuses_unmasked_frames_of_every_kind)
{
	const uint8_t	 ping[] = { 0x89, 0x00 };
	const uint8_t	 closef[] = { 0x88, 0x00 };
	const uint8_t	 l16[] = { 0x82, 0x7e, 0x01, 0x00 };

	expect_frame_refused(ping, sizeof(ping));
	expect_frame_refused(closef, sizeof(closef));
	expect_frame_refused(l16, sizeof(l16));
}

Test(ws, refuses_reserved_bits)
{
	uint8_t		 in[] = { 0x00, 0x81, 1, 2, 3, 4, 'x' };
	unsigned	 rsv;

	for (rsv = 0x10; rsv <= 0x70; rsv += 0x10) {
		in[0] = (uint8_t)(0x80 | rsv | WS_OP_TEXT);
		expect_frame_refused(in, sizeof(in));
		in[0] = (uint8_t)(0x80 | rsv | WS_OP_PING);
		expect_frame_refused(in, sizeof(in));
		in[0] = (uint8_t)(rsv | WS_OP_CONT);
		expect_frame_refused(in, sizeof(in));
	}
}

Test(ws, refuses_reserved_opcodes)
{
	uint8_t		 in[] = { 0x00, 0x81, 1, 2, 3, 4, 'x' };
	unsigned	 op;

	for (op = 0x3; op <= 0xf; op++) {
		if (op >= WS_OP_CLOSE && op <= WS_OP_PONG)
			continue;
		in[0] = (uint8_t)(0x80 | op);
		expect_frame_refused(in, sizeof(in));
		in[0] = (uint8_t)op;
		expect_frame_refused(in, sizeof(in));
	}
}

Test(ws, refuses_a_fragmented_control_frame)
{
	uint8_t		 in[] = { 0x00, 0x81, 1, 2, 3, 4, 'x' };
	int		 op;

	for (op = WS_OP_CLOSE; op <= WS_OP_PONG; op++) {
		in[0] = (uint8_t)op;
		expect_frame_refused(in, sizeof(in));
	}
}

Test(ws, refuses_a_control_frame_over_125_bytes)
{
	const uint8_t	 l126[] = { 0x89, 0xfe, 0x00, 0x7e, 1, 2, 3, 4 };
	const uint8_t	 l127[] = { 0x88, 0xff, 0, 0, 0, 0, 0, 1, 0, 0,
			    1, 2, 3, 4 };
	const uint8_t	 l125[] = { 0x8a, 0xfd, 1, 2, 3, 4 };
	struct ws_frame	 f;
	uint16_t	 code;

	expect_frame_refused(l126, sizeof(l126));
	expect_frame_refused(l127, sizeof(l127));
	cr_assert_eq(frame_parse(l125, sizeof(l125), &f, &code), WS_OK);
	cr_assert_eq(f.opcode, WS_OP_PONG);
	cr_assert_eq(f.len, 125);
}

Test(ws, accepts_every_valid_opcode)
{
	static const int	 ops[] = { WS_OP_CONT, WS_OP_TEXT,
				    WS_OP_BINARY, WS_OP_CLOSE, WS_OP_PING,
				    WS_OP_PONG };
	uint8_t			 in[] = { 0x00, 0x80, 1, 2, 3, 4 };
	struct ws_frame		 f;
	uint16_t		 code;
	size_t			 i;

	for (i = 0; i < NITEMS(ops); i++) {
		in[0] = (uint8_t)(0x80 | ops[i]);
		cr_assert_eq(frame_parse(in, sizeof(in), &f, &code), WS_OK);
		cr_assert_eq(f.opcode, ops[i]);
		cr_assert_eq(f.fin, 1);
		cr_assert_eq(f.len, 0);
	}
}

Test(ws, asks_for_more_on_every_proper_prefix_of_a_header)
{
	static const uint8_t	 h7[] = { 0x81, 0x85, 1, 2, 3, 4 };
	static const uint8_t	 h16[] = { 0x82, 0xfe, 0x01, 0x00, 1, 2, 3,
				    4 };
	static const uint8_t	 h64[] = { 0x02, 0xff, 0, 0, 0, 0, 0, 1, 0,
				    0, 1, 2, 3, 4 };
	static const uint8_t	 ctl[] = { 0x89, 0x80, 1, 2, 3, 4 };
	static const struct {
		const uint8_t	*h;
		size_t		 len;
	} hdrs[] = {
		{ h7, sizeof(h7) }, { h16, sizeof(h16) },
		{ h64, sizeof(h64) }, { ctl, sizeof(ctl) },
	};
	struct ws_frame		 f;
	uint16_t		 code;
	size_t			 i, n;

	for (i = 0; i < NITEMS(hdrs); i++) {
		for (n = 0; n < hdrs[i].len; n++)
			cr_assert_eq(frame_parse(hdrs[i].h, n, &f, &code),
			    WS_AGAIN, "header %zu, %zu bytes", i, n);
		cr_assert_eq(frame_parse(hdrs[i].h, n, &f, &code), WS_OK);
		cr_assert_eq(f.hdrlen, hdrs[i].len);
	}
}

/* ---------------------------------------------------------------- */
/* ws_unmask */

Test(ws, unmasks_at_every_offset_length_and_alignment)
{
	static const uint8_t	 mask[] = { 0x37, 0xfa, 0x21, 0x3d };
	static const uint64_t	 offs[] = { 0, 1, 2, 3, 4, 5, 6, 7, 125,
				    ((uint64_t)1 << 32) + 3,
				    UINT64_MAX - 2 };
	uint8_t			*buf, *p, want[64];
	size_t			 align, len, i, k;

	for (k = 0; k < NITEMS(offs); k++) {
		for (align = 0; align < 8; align++) {
			for (len = 0; len <= 40; len++) {
				free(piece);
				piece = buf = malloc(align + len > 0 ?
				    align + len : 1);
				cr_assert_not_null(buf);
				p = buf + align;
				fill_pattern(p, len, (unsigned)(align + k));
				for (i = 0; i < len; i++)
					want[i] = p[i] ^
					    mask[(offs[k] + i) & 3];
				ws_unmask(p, len, mask, offs[k]);
				cr_assert_eq(memcmp(p, want, len), 0,
				    "off %llu align %zu len %zu",
				    (unsigned long long)offs[k], align, len);
			}
		}
	}
}

Test(ws, unmasks_a_payload_in_pieces_as_in_one)
{
	static const uint8_t	 mask[] = { 0xde, 0xad, 0xbe, 0xef };
	uint8_t			 whole[200], pieces[200];
	size_t			 cut;

	for (cut = 0; cut <= sizeof(whole); cut++) {
		fill_pattern(whole, sizeof(whole), 3);
		memcpy(pieces, whole, sizeof(whole));
		ws_unmask(whole, sizeof(whole), mask, 0);
		ws_unmask(pieces, cut, mask, 0);
		ws_unmask(pieces + cut, sizeof(pieces) - cut, mask, cut);
		cr_assert_eq(memcmp(whole, pieces, sizeof(whole)), 0,
		    "cut at %zu", cut);
	}
}

/* ---------------------------------------------------------------- */
/* ws_header_encode */

Test(ws, encodes_server_headers_with_minimal_lengths)
{
	static const struct {
		uint64_t	 len;
		size_t		 hlen;
		uint8_t		 h[10];
	} t[] = {
		{ 0, 2, { 0x81, 0x00 } },
		{ 1, 2, { 0x81, 0x01 } },
		{ 125, 2, { 0x81, 0x7d } },
		{ 126, 4, { 0x81, 0x7e, 0x00, 0x7e } },
		{ 256, 4, { 0x81, 0x7e, 0x01, 0x00 } },
		{ 65535, 4, { 0x81, 0x7e, 0xff, 0xff } },
		{ 65536, 10, { 0x81, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00 } },
		{ (uint64_t)1 << 32, 10,
		    { 0x81, 0x7f, 0, 0, 0, 0x01, 0, 0, 0, 0 } },
		{ 0x0102030405060708ULL, 10,
		    { 0x81, 0x7f, 1, 2, 3, 4, 5, 6, 7, 8 } },
	};
	uint8_t		 buf[16];
	size_t		 i, n;

	for (i = 0; i < NITEMS(t); i++) {
		memset(buf, 0xee, sizeof(buf));
		n = ws_header_encode(buf, 1, WS_OP_TEXT, t[i].len);
		cr_assert_eq(n, t[i].hlen, "len %llu",
		    (unsigned long long)t[i].len);
		cr_assert_eq(memcmp(buf, t[i].h, n), 0, "len %llu",
		    (unsigned long long)t[i].len);
		cr_assert_eq(buf[n], 0xee, "nothing written past the header");
		cr_assert_leq(n, WS_HEADROOM);
	}
}

Test(ws, encodes_the_fin_bit_and_the_opcode)
{
	uint8_t	 buf[WS_HEADROOM];

	cr_assert_eq(ws_header_encode(buf, 0, WS_OP_BINARY, 3), 2);
	cr_assert_eq(buf[0], 0x02);
	cr_assert_eq(buf[1], 0x03, "server frames are not masked");
	cr_assert_eq(ws_header_encode(buf, 1, WS_OP_CLOSE, 2), 2);
	cr_assert_eq(buf[0], 0x88);
	cr_assert_eq(ws_header_encode(buf, 1, WS_OP_PING, 0), 2);
	cr_assert_eq(buf[0], 0x89);
	cr_assert_eq(ws_header_encode(buf, 1, WS_OP_PONG, 0), 2);
	cr_assert_eq(buf[0], 0x8a);
}

/* ---------------------------------------------------------------- */
/* close codes and payloads */

/*
 * RFC 6455, 7.4, plus 1012-1014 (service restart, try again later, bad
 * gateway) from the IANA registry.
 */
Test(ws, validates_close_codes)
{
	static const struct {
		unsigned	 code;
		int		 valid;
	} t[] = {
		{ 0, 0 }, { 999, 0 },
		{ 1000, 1 }, { 1001, 1 }, { 1002, 1 }, { 1003, 1 },
		{ 1004, 0 }, { 1005, 0 }, { 1006, 0 },
		{ 1007, 1 }, { 1008, 1 }, { 1009, 1 }, { 1010, 1 }, { 1011, 1 },
		{ 1012, 1 }, { 1013, 1 }, { 1014, 1 }, { 1015, 0 }, { 1016, 0 },
		{ 1100, 0 }, { 2000, 0 }, { 2999, 0 },
		{ 3000, 1 }, { 3999, 1 }, { 4000, 1 }, { 4999, 1 },
		{ 5000, 0 }, { 65535, 0 }, { 65536 + 1000, 0 },
	};
	size_t		 i;

	for (i = 0; i < NITEMS(t); i++)
		cr_assert_eq(ws_close_code_valid(t[i].code), t[i].valid,
		    "code %u", t[i].code);
}

Test(ws, accepts_exactly_the_valid_close_code_ranges)
{
	unsigned	 c;
	int		 want;

	for (c = 0; c <= 65535; c++) {
		want = (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) ||
		    (c >= 3000 && c <= 4999);
		cr_assert_eq(ws_close_code_valid(c), want, "code %u", c);
	}
}

Test(ws, reads_an_empty_close_payload_as_1005)
{
	uint16_t	 code = 0;

	cr_assert_eq(ws_close_parse(piece_set("", 0), 0, &code), WS_OK);
	cr_assert_eq(code, WS_CLOSE_NO_STATUS);
}

Test(ws, refuses_a_one_byte_close_payload_with_1002)
{
	const uint8_t	 in[] = { 0x03 };
	uint16_t	 code = 0;

	cr_assert_eq(ws_close_parse(piece_set(in, 1), 1, &code), WS_EPROTO);
	cr_assert_eq(code, WS_CLOSE_PROTOCOL);
}

Test(ws, refuses_an_invalid_close_code_with_1002)
{
	static const unsigned	 bad[] = { 0, 999, 1004, 1005, 1006, 1015,
				    2999, 5000, 65535 };
	uint8_t			 in[5];
	uint16_t		 code;
	size_t			 i;

	for (i = 0; i < NITEMS(bad); i++) {
		in[0] = (uint8_t)(bad[i] >> 8);
		in[1] = (uint8_t)bad[i];
		code = 0;
		cr_assert_eq(ws_close_parse(piece_set(in, 2), 2, &code),
		    WS_EPROTO, "code %u", bad[i]);
		cr_assert_eq(code, WS_CLOSE_PROTOCOL);
		memcpy(in + 2, "bye", 3);
		cr_assert_eq(ws_close_parse(piece_set(in, 5), 5, &code),
		    WS_EPROTO, "code %u with a reason", bad[i]);
		cr_assert_eq(code, WS_CLOSE_PROTOCOL);
	}
}

Test(ws, refuses_a_close_reason_that_is_not_utf8_with_1007)
{
	/* Autobahn 7.5.1: valid text, then a surrogate, then more. */
	const uint8_t	 surrogate[] = { 0x03, 0xe8, 0xce, 0xba, 0xe1, 0xbd,
			    0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed,
			    0xa0, 0x80, 0x65, 0x64, 0x69, 0x74, 0x65, 0x64 };
	const uint8_t	 ff[] = { 0x03, 0xe8, 'o', 'k', 0xff };
	const uint8_t	 cut[] = { 0x03, 0xe8, 'o', 'k', 0xc3 };
	uint16_t	 code;

	code = 0;
	cr_assert_eq(ws_close_parse(piece_set(surrogate, sizeof(surrogate)),
	    sizeof(surrogate), &code), WS_EPROTO);
	cr_assert_eq(code, WS_CLOSE_BAD_DATA);
	code = 0;
	cr_assert_eq(ws_close_parse(piece_set(ff, sizeof(ff)), sizeof(ff),
	    &code), WS_EPROTO);
	cr_assert_eq(code, WS_CLOSE_BAD_DATA);
	code = 0;
	cr_assert_eq(ws_close_parse(piece_set(cut, sizeof(cut)), sizeof(cut),
	    &code), WS_EPROTO, "a reason may not end inside a character");
	cr_assert_eq(code, WS_CLOSE_BAD_DATA);
}

Test(ws, reads_a_good_close_payload)
{
	const uint8_t	 bare[] = { 0x03, 0xe8 };
	const uint8_t	 reason[] = { 0x03, 0xe9, 'b', 'y', 'e', ' ', 0xc3,
			    0xa9 };
	const uint8_t	 app[] = { 0x0f, 0x9f };	/* 3999 */
	uint16_t	 code;

	cr_assert_eq(ws_close_parse(piece_set(bare, 2), 2, &code), WS_OK);
	cr_assert_eq(code, 1000);
	cr_assert_eq(ws_close_parse(piece_set(reason, sizeof(reason)),
	    sizeof(reason), &code), WS_OK);
	cr_assert_eq(code, 1001);
	cr_assert_eq(ws_close_parse(piece_set(app, 2), 2, &code), WS_OK);
	cr_assert_eq(code, 3999);
}

/* ---------------------------------------------------------------- */
/* ws_reader: one message at a time */

Test(ws, reads_a_single_text_message)
{
	const uint8_t	 in[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
			    0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	size_t		 used;

	ws_reader_init(&rd, 1024);
	cr_assert_eq(ws_reader_feed(&rd, piece_set(in, sizeof(in)), sizeof(in),
	    &used), WS_MESSAGE);
	cr_assert_eq(used, sizeof(in));
	cr_assert_eq(rd.ev_op, WS_OP_TEXT);
	cr_assert_eq(rd.ev_len, 5);
	taken = ws_reader_take(&rd);
	cr_assert_not_null(taken);
	cr_assert_eq(memcmp(taken + WS_HEADROOM, "Hello", 5), 0);
	cr_assert_eq(ws_reader_feed(&rd, piece, 0, &used), WS_AGAIN);
	cr_assert_eq(used, 0);
}

Test(ws, reads_a_binary_message_without_looking_at_its_bytes)
{
	uint8_t		 payload[300];

	fill_pattern(payload, sizeof(payload), 0x80);
	payload[0] = 0xff;
	payload[1] = 0xc0;
	stream_frame(&strm, 1, WS_OP_BINARY, payload, sizeof(payload));
	reader_run_whole(&strm, NO_LIMIT, &got_ev);
	cr_assert_eq(got_ev.n, 1);
	expect_message(&got_ev.ev[0], WS_OP_BINARY, payload, sizeof(payload));
}

Test(ws, reads_a_message_with_a_64_bit_length)
{
	uint8_t		*payload;
	size_t		 len = 70000;

	payload = big_payload(len, 1);
	stream_frame(&strm, 1, WS_OP_BINARY, payload, len);
	cr_assert_eq(strm.len, 14 + len);
	reader_run_whole(&strm, NO_LIMIT, &got_ev);
	cr_assert_eq(got_ev.n, 1);
	expect_message(&got_ev.ev[0], WS_OP_BINARY, payload, len);
}

Test(ws, reassembles_a_fragmented_message_around_a_ping)
{
	size_t	 used, first, off;
	int	 rv;

	stream_text(&strm, 0, WS_OP_TEXT, "Hel");
	stream_text(&strm, 1, WS_OP_PING, "are you there");
	first = strm.len;
	stream_text(&strm, 0, WS_OP_CONT, "lo, ");
	stream_text(&strm, 1, WS_OP_CONT, "world");

	ws_reader_init(&rd, 1024);
	piece_set(strm.buf, strm.len);
	rv = ws_reader_feed(&rd, piece, strm.len, &used);
	cr_assert_eq(rv, WS_CONTROL, "the ping first, in the middle");
	cr_assert_eq(used, first);
	cr_assert_eq(rd.ev_op, WS_OP_PING);
	cr_assert_eq(rd.ev_len, 13);
	cr_assert_eq(memcmp(rd.ctl, "are you there", 13), 0);
	off = used;
	rv = ws_reader_feed(&rd, piece + off, strm.len - off, &used);
	cr_assert_eq(rv, WS_MESSAGE);
	cr_assert_eq(off + used, strm.len);
	cr_assert_eq(rd.ev_op, WS_OP_TEXT);
	cr_assert_eq(rd.ev_len, 12);
	taken = ws_reader_take(&rd);
	cr_assert_eq(memcmp(taken + WS_HEADROOM, "Hello, world", 12), 0);
}

Test(ws, reassembles_a_character_split_across_fragments)
{
	stream_text(&strm, 0, WS_OP_TEXT, "caf\xc3");
	stream_text(&strm, 0, WS_OP_CONT, "");
	stream_text(&strm, 0, WS_OP_CONT, "\xa9 \xf0\x9f");
	stream_text(&strm, 1, WS_OP_CONT, "\x98\x80");
	reader_run_whole(&strm, NO_LIMIT, &got_ev);
	cr_assert_eq(got_ev.n, 1);
	expect_message(&got_ev.ev[0], WS_OP_TEXT,
	    "caf\xc3\xa9 \xf0\x9f\x98\x80", 10);
}

Test(ws, refuses_a_continuation_without_a_start_with_1002)
{
	stream_text(&strm, 1, WS_OP_CONT, "x");
	reader_run_whole(&strm, NO_LIMIT, &got_ev);
	cr_assert_eq(got_ev.n, 1);
	expect_error(&got_ev, WS_CLOSE_PROTOCOL);

	/* Nor after a message has ended. */
	stream_text(&strm2, 1, WS_OP_TEXT, "done");
	stream_text(&strm2, 0, WS_OP_CONT, "x");
	reader_run_whole(&strm2, NO_LIMIT, &got_ev);
	cr_assert_eq(got_ev.n, 2);
	expect_message(&got_ev.ev[0], WS_OP_TEXT, "done", 4);
	expect_error(&got_ev, WS_CLOSE_PROTOCOL);
}

Test(ws, refuses_a_new_message_inside_a_fragmented_one_with_1002)
{
	stream_text(&strm, 0, WS_OP_TEXT, "a");
	stream_text(&strm, 1, WS_OP_TEXT, "b");
	reader_run_whole(&strm, NO_LIMIT, &got_ev);
	cr_assert_eq(got_ev.n, 1);
	expect_error(&got_ev, WS_CLOSE_PROTOCOL);

	stream_text(&strm2, 0, WS_OP_BINARY, "a");
	stream_text(&strm2, 1, WS_OP_PING, "");
	stream_text(&strm2, 0, WS_OP_TEXT, "b");
	reader_run_whole(&strm2, NO_LIMIT, &got_ev);
	cr_assert_eq(got_ev.n, 2);
	expect_control(&got_ev.ev[0], WS_OP_PING, "", 0);
	expect_error(&got_ev, WS_CLOSE_PROTOCOL);
}

Test(ws, fails_on_the_fragment_that_carries_invalid_utf8)
{
	size_t	 bad;

	stream_text(&strm, 0, WS_OP_TEXT, "ok ");
	stream_text(&strm, 0, WS_OP_CONT, "\xed\xa0\x80");	/* U+D800 */
	bad = strm.len;
	stream_text(&strm, 1, WS_OP_CONT, "end");
	/* Without the final fragment: no need to wait for it. */
	reader_run(strm.buf, bad, NULL, 0, NO_LIMIT, &got_ev);
	cr_assert_eq(got_ev.n, 1);
	expect_error(&got_ev, WS_CLOSE_BAD_DATA);
	reader_run_whole(&strm, NO_LIMIT, &got_ev);
	cr_assert_eq(got_ev.n, 1);
	expect_error(&got_ev, WS_CLOSE_BAD_DATA);
}

Test(ws, fails_on_a_bad_continuation_byte_in_the_next_fragment)
{
	size_t	 bad;

	stream_text(&strm, 0, WS_OP_TEXT, "ok \xe0");
	stream_text(&strm, 0, WS_OP_CONT, "\x80");	/* overlong */
	bad = strm.len;
	stream_text(&strm, 1, WS_OP_CONT, "\x80");
	reader_run(strm.buf, bad, NULL, 0, NO_LIMIT, &got_ev);
	cr_assert_eq(got_ev.n, 1);
	expect_error(&got_ev, WS_CLOSE_BAD_DATA);
}

Test(ws, fails_on_invalid_utf8_before_the_frame_is_complete)
{
	uint8_t	 text[1000];

	memset(text, 'a', sizeof(text));
	text[2] = 0xff;
	stream_frame(&strm, 1, WS_OP_TEXT, text, sizeof(text));
	/* The 8-byte header and the first three bytes of the payload. */
	reader_run(strm.buf, 8 + 3, NULL, 0, NO_LIMIT, &got_ev);
	cr_assert_eq(got_ev.n, 1);
	expect_error(&got_ev, WS_CLOSE_BAD_DATA);
}

Test(ws, refuses_text_that_ends_inside_a_character_with_1007)
{
	stream_text(&strm, 1, WS_OP_TEXT, "a\xc3");
	reader_run_whole(&strm, NO_LIMIT, &got_ev);
	cr_assert_eq(got_ev.n, 1);
	expect_error(&got_ev, WS_CLOSE_BAD_DATA);

	stream_text(&strm2, 0, WS_OP_TEXT, "a\xe2\x82");
	stream_text(&strm2, 1, WS_OP_CONT, "");
	reader_run_whole(&strm2, NO_LIMIT, &got_ev);
	cr_assert_eq(got_ev.n, 1);
	expect_error(&got_ev, WS_CLOSE_BAD_DATA);
}

Test(ws, does_not_check_binary_messages_for_utf8)
{
	stream_text(&strm, 0, WS_OP_BINARY, "\xed\xa0\x80");
	stream_text(&strm, 1, WS_OP_CONT, "\xc3");
	reader_run_whole(&strm, NO_LIMIT, &got_ev);
	cr_assert_eq(got_ev.n, 1);
	expect_message(&got_ev.ev[0], WS_OP_BINARY, "\xed\xa0\x80\xc3", 4);
}

Test(ws, refuses_a_message_over_max_message_before_reading_its_payload)
{
	uint8_t	 text[11];

	memset(text, 'x', sizeof(text));
	stream_frame(&strm, 1, WS_OP_TEXT, text, 11);
	/* The header alone is enough to refuse, and nothing more is used. */
	reader_run(strm.buf, 6, NULL, 0, 10, &got_ev);
	cr_assert_eq(got_ev.n, 1);
	expect_error(&got_ev, WS_CLOSE_TOO_BIG);
	reader_run_whole(&strm, 10, &got_ev);
	cr_assert_eq(got_ev.n, 1);
	expect_error(&got_ev, WS_CLOSE_TOO_BIG);

	stream_frame(&strm2, 1, WS_OP_TEXT, text, 10);
	reader_run_whole(&strm2, 10, &got_ev);
	cr_assert_eq(got_ev.n, 1);
	expect_message(&got_ev.ev[0], WS_OP_TEXT, text, 10);
}

Test(ws, consumes_only_the_header_of_a_message_over_max_message)
{
	uint8_t	 text[11];
	size_t	 used;

	memset(text, 'x', sizeof(text));
	stream_frame(&strm, 1, WS_OP_TEXT, text, 11);
	ws_reader_init(&rd, 10);
	cr_assert_eq(ws_reader_feed(&rd, piece_set(strm.buf, strm.len),
	    strm.len, &used), WS_EPROTO);
	cr_assert_eq(rd.ev_code, WS_CLOSE_TOO_BIG);
	cr_assert_leq(used, 6, "used %zu: payload consumed", used);
	cr_assert_null(rd.msg, "nothing buffered");
}

Test(ws, counts_every_fragment_against_max_message)
{
	uint8_t	 text[10];

	memset(text, 'y', sizeof(text));
	stream_frame(&strm, 0, WS_OP_TEXT, text, 6);
	stream_frame(&strm, 1, WS_OP_CONT, text, 5);
	/* Refused as soon as the second header arrives. */
	reader_run(strm.buf, 6 + 6 + 6, NULL, 0, 10, &got_ev);
	cr_assert_eq(got_ev.n, 1);
	expect_error(&got_ev, WS_CLOSE_TOO_BIG);

	stream_frame(&strm2, 0, WS_OP_TEXT, text, 6);
	stream_frame(&strm2, 0, WS_OP_CONT, text, 0);
	stream_frame(&strm2, 1, WS_OP_CONT, text, 4);
	reader_run_whole(&strm2, 10, &got_ev);
	cr_assert_eq(got_ev.n, 1);
	expect_message(&got_ev.ev[0], WS_OP_TEXT, text, 10);
}

Test(ws, refuses_a_huge_length_without_allocating_it)
{
	const uint8_t	 in[] = { 0x82, 0xff, 0, 0, 0x01, 0, 0, 0, 0, 0,
			    1, 2, 3, 4 };

	reader_run(in, sizeof(in), NULL, 0, 1 << 20, &got_ev);
	cr_assert_eq(got_ev.n, 1);
	expect_error(&got_ev, WS_CLOSE_TOO_BIG);
}

Test(ws, lets_control_frames_through_whatever_max_message)
{
	uint8_t	 p[WS_CONTROL_MAX];

	fill_pattern(p, sizeof(p), 9);
	stream_frame(&strm, 1, WS_OP_PING, p, sizeof(p));
	stream_frame(&strm, 1, WS_OP_PONG, p, sizeof(p));
	reader_run_whole(&strm, 4, &got_ev);
	cr_assert_eq(got_ev.n, 2);
	expect_control(&got_ev.ev[0], WS_OP_PING, p, sizeof(p));
	expect_control(&got_ev.ev[1], WS_OP_PONG, p, sizeof(p));
}

Test(ws, reads_close_frames)
{
	const uint8_t	 bye[] = { 0x03, 0xe8, 'b', 'y', 'e' };
	const uint8_t	 app[] = { 0x0b, 0xb8 };	/* 3000 */

	stream_frame(&strm, 1, WS_OP_CLOSE, bye, sizeof(bye));
	stream_frame(&strm, 1, WS_OP_CLOSE, "", 0);
	stream_frame(&strm, 1, WS_OP_CLOSE, app, sizeof(app));
	reader_run_whole(&strm, NO_LIMIT, &got_ev);
	cr_assert_eq(got_ev.n, 3);
	expect_control(&got_ev.ev[0], WS_OP_CLOSE, bye, sizeof(bye));
	cr_assert_eq(got_ev.ev[0].code, 1000);
	expect_control(&got_ev.ev[1], WS_OP_CLOSE, "", 0);
	cr_assert_eq(got_ev.ev[1].code, WS_CLOSE_NO_STATUS);
	expect_control(&got_ev.ev[2], WS_OP_CLOSE, app, sizeof(app));
	cr_assert_eq(got_ev.ev[2].code, 3000);
}

Test(ws, refuses_bad_close_frames)
{
	const uint8_t	 one[] = { 0x03 };
	const uint8_t	 code1005[] = { 0x03, 0xed };
	const uint8_t	 badtext[] = { 0x03, 0xe8, 0xff };

	stream_frame(&strm, 1, WS_OP_CLOSE, one, sizeof(one));
	reader_run_whole(&strm, NO_LIMIT, &got_ev);
	expect_error(&got_ev, WS_CLOSE_PROTOCOL);
	strm.len = 0;
	stream_frame(&strm, 1, WS_OP_CLOSE, code1005, sizeof(code1005));
	reader_run_whole(&strm, NO_LIMIT, &got_ev);
	expect_error(&got_ev, WS_CLOSE_PROTOCOL);
	strm.len = 0;
	stream_frame(&strm, 1, WS_OP_CLOSE, badtext, sizeof(badtext));
	reader_run_whole(&strm, NO_LIMIT, &got_ev);
	expect_error(&got_ev, WS_CLOSE_BAD_DATA);
}

Test(ws, refuses_bad_frame_headers_in_the_reader_too)
{
	const uint8_t	 unmasked[] = { 0x81, 0x02, 'h', 'i' };
	const uint8_t	 bigping[] = { 0x89, 0xfe, 0x00, 0x7e, 1, 2, 3, 4 };
	const uint8_t	 fragping[] = { 0x09, 0x80, 1, 2, 3, 4 };

	reader_run(unmasked, sizeof(unmasked), NULL, 0, NO_LIMIT, &got_ev);
	expect_error(&got_ev, WS_CLOSE_PROTOCOL);
	reader_run(bigping, sizeof(bigping), NULL, 0, NO_LIMIT, &got_ev);
	expect_error(&got_ev, WS_CLOSE_PROTOCOL);
	reader_run(fragping, sizeof(fragping), NULL, 0, NO_LIMIT, &got_ev);
	expect_error(&got_ev, WS_CLOSE_PROTOCOL);
}

Test(ws, reads_empty_messages_as_null_and_zero)
{
	stream_frame(&strm, 1, WS_OP_TEXT, "", 0);
	stream_frame(&strm, 1, WS_OP_BINARY, "", 0);
	stream_frame(&strm, 0, WS_OP_TEXT, "", 0);
	stream_frame(&strm, 0, WS_OP_CONT, "", 0);
	stream_frame(&strm, 1, WS_OP_CONT, "", 0);
	stream_frame(&strm, 1, WS_OP_PING, "", 0);
	reader_run_whole(&strm, NO_LIMIT, &got_ev);
	cr_assert_eq(got_ev.n, 4);
	expect_message(&got_ev.ev[0], WS_OP_TEXT, "", 0);
	expect_message(&got_ev.ev[1], WS_OP_BINARY, "", 0);
	expect_message(&got_ev.ev[2], WS_OP_TEXT, "", 0);
	expect_control(&got_ev.ev[3], WS_OP_PING, "", 0);
}

Test(ws, frees_a_half_read_message_on_clear)
{
	size_t	 used;

	stream_text(&strm, 0, WS_OP_TEXT, "the first half");
	stream_text(&strm, 1, WS_OP_CONT, "never comes");
	ws_reader_init(&rd, 1024);
	cr_assert_eq(ws_reader_feed(&rd, piece_set(strm.buf, strm.len - 3),
	    strm.len - 3, &used), WS_AGAIN);
	cr_assert_not_null(rd.msg);
	ws_reader_clear(&rd);
	cr_assert_null(rd.msg);
	ws_reader_clear(&rd);
}

/* ---------------------------------------------------------------- */
/* ws_reader: the same events however the bytes are cut */

/* Every kind of frame and message, in one stream. */
static void
stream_everything(struct stream *s)
{
	const uint8_t	 bye[] = { 0x03, 0xe8, 'b', 'y', 'e' };
	uint8_t		 bin[300], pong[WS_CONTROL_MAX];

	fill_pattern(bin, sizeof(bin), 5);
	fill_pattern(pong, sizeof(pong), 6);
	stream_text(s, 1, WS_OP_TEXT, "Hello");
	stream_frame(s, 1, WS_OP_PING, "", 0);
	stream_frame(s, 1, WS_OP_BINARY, bin, sizeof(bin));
	stream_text(s, 0, WS_OP_TEXT, "frag");
	stream_text(s, 1, WS_OP_PING, "p?");
	stream_text(s, 0, WS_OP_CONT, "mented \xc3");
	stream_text(s, 1, WS_OP_CONT, "\xa9 text");
	stream_frame(s, 1, WS_OP_PONG, pong, sizeof(pong));
	stream_frame(s, 1, WS_OP_TEXT, "", 0);
	stream_frame(s, 0, WS_OP_BINARY, "", 0);
	stream_frame(s, 1, WS_OP_CONT, "\x00\xff", 2);
	stream_frame(s, 1, WS_OP_CLOSE, bye, sizeof(bye));
}

Test(ws, reads_a_stream_of_every_kind_of_frame)
{
	const uint8_t	 bye[] = { 0x03, 0xe8, 'b', 'y', 'e' };
	uint8_t		 bin[300], pong[WS_CONTROL_MAX];

	fill_pattern(bin, sizeof(bin), 5);
	fill_pattern(pong, sizeof(pong), 6);
	stream_everything(&strm);
	reader_run_whole(&strm, 1024, &got_ev);
	cr_assert_eq(got_ev.n, 9);
	expect_message(&got_ev.ev[0], WS_OP_TEXT, "Hello", 5);
	expect_control(&got_ev.ev[1], WS_OP_PING, "", 0);
	expect_message(&got_ev.ev[2], WS_OP_BINARY, bin, sizeof(bin));
	expect_control(&got_ev.ev[3], WS_OP_PING, "p?", 2);
	expect_message(&got_ev.ev[4], WS_OP_TEXT, "fragmented \xc3\xa9 text",
	    18);
	expect_control(&got_ev.ev[5], WS_OP_PONG, pong, sizeof(pong));
	expect_message(&got_ev.ev[6], WS_OP_TEXT, "", 0);
	expect_message(&got_ev.ev[7], WS_OP_BINARY, "\x00\xff", 2);
	expect_control(&got_ev.ev[8], WS_OP_CLOSE, bye, sizeof(bye));
	cr_assert_eq(got_ev.ev[8].code, 1000);
	cr_assert_eq(got_ev.ev[8].end, strm.len);
}

Test(ws, reads_the_same_events_however_the_stream_is_cut)
{
	stream_everything(&strm);
	expect_same_events_at_every_split(&strm, 1024, 0);
}

Test(ws, reads_the_same_events_cut_in_three_pieces)
{
	stream_text(&strm, 1, WS_OP_TEXT, "Hi");
	stream_text(&strm, 0, WS_OP_TEXT, "a\xe2");
	stream_text(&strm, 1, WS_OP_PING, "!");
	stream_text(&strm, 1, WS_OP_CONT, "\x82\xac");
	stream_frame(&strm, 1, WS_OP_BINARY, "", 0);
	stream_text(&strm, 1, WS_OP_CLOSE, "\x03\xe8");
	expect_same_events_at_every_split(&strm, 1024, 1);
}

Test(ws, reads_the_same_events_with_long_lengths_however_cut)
{
	uint8_t	*big;
	size_t	 c[1], i;

	big = big_payload(70000, 4);
	stream_frame(&strm, 0, WS_OP_BINARY, big, 70000);
	stream_frame(&strm, 1, WS_OP_PING, "x", 1);
	stream_frame(&strm, 1, WS_OP_CONT, big, 200);
	stream_text(&strm, 1, WS_OP_TEXT, "tail");
	reader_run_whole(&strm, NO_LIMIT, &want_ev);
	cr_assert_eq(want_ev.n, 3);
	cr_assert_eq(want_ev.ev[1].rv, WS_MESSAGE);
	cr_assert_eq(want_ev.ev[1].len, 70200);
	/* Every cut in the headers and around the frame boundaries. */
	for (i = 0; i <= strm.len; i++) {
		if (i > 40 && i < 70000 - 40 && i % 997 != 0)
			continue;
		if (i > 70000 + 40 && i < strm.len - 300)
			continue;
		c[0] = i;
		reader_run(strm.buf, strm.len, c, 1, NO_LIMIT, &got_ev);
		events_expect_same(&want_ev, &got_ev, "cut at", i, 0);
	}
	reader_run_bytewise(&strm, NO_LIMIT, &got_ev);
	events_expect_same(&want_ev, &got_ev, "byte by byte", 0, 0);
}

Test(ws, fails_the_same_way_however_the_stream_is_cut)
{
	stream_text(&strm, 1, WS_OP_TEXT, "ok");
	stream_text(&strm, 1, WS_OP_PING, "");
	stream_text(&strm, 0, WS_OP_TEXT, "a\xc3");
	stream_text(&strm, 1, WS_OP_CONT, "(");
	stream_text(&strm, 1, WS_OP_TEXT, "never read");
	expect_same_events_at_every_split(&strm, 1024, 1);
	cr_assert_eq(want_ev.n, 3);
	expect_error(&want_ev, WS_CLOSE_BAD_DATA);
}

Test(ws, hits_max_message_the_same_way_however_the_stream_is_cut)
{
	uint8_t	 p[40];

	fill_pattern(p, sizeof(p), 2);
	stream_frame(&strm, 1, WS_OP_BINARY, p, 30);
	stream_frame(&strm, 0, WS_OP_BINARY, p, 20);
	stream_frame(&strm, 1, WS_OP_PONG, p, 3);
	stream_frame(&strm, 1, WS_OP_CONT, p, 20);
	expect_same_events_at_every_split(&strm, 32, 1);
	cr_assert_eq(want_ev.n, 3);
	expect_error(&want_ev, WS_CLOSE_TOO_BIG);
}

/* ---------------------------------------------------------------- */
/* ws_out */

static void
expect_out(const struct ws_out *o, const uint8_t *hdr, size_t hlen,
    const void *payload, size_t len)
{
	cr_assert_not_null(o);
	cr_assert_eq(o->wo_refs, 1);
	cr_assert_eq(o->wo_len, hlen + len);
	cr_assert_eq(memcmp(o->wo_data, hdr, hlen), 0, "frame header");
	if (len > 0)
		cr_assert_eq(memcmp(o->wo_data + hlen, payload, len), 0,
		    "payload");
	cr_assert(o->wo_data >= o->wo_base &&
	    o->wo_data <= o->wo_base + WS_HEADROOM);
}

Test(ws, builds_a_small_frame)
{
	const uint8_t	 hdr[] = { 0x81, 0x05 };

	out = ws_out_new(WS_OP_TEXT, "hello", 5);
	expect_out(out, hdr, sizeof(hdr), "hello", 5);
}

Test(ws, builds_an_empty_frame)
{
	const uint8_t	 hdr[] = { 0x8a, 0x00 };

	out = ws_out_new(WS_OP_PONG, NULL, 0);
	expect_out(out, hdr, sizeof(hdr), NULL, 0);
}

Test(ws, builds_frames_with_16_and_64_bit_lengths)
{
	const uint8_t	 h16[] = { 0x82, 0x7e, 0x00, 0x7e };
	const uint8_t	 h64[] = { 0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x11,
			    0x70 };
	uint8_t		*p;

	p = big_payload(70000, 8);
	out = ws_out_new(WS_OP_BINARY, p, 126);
	expect_out(out, h16, sizeof(h16), p, 126);
	ws_out_unref(out);
	out = ws_out_new(WS_OP_BINARY, p, 70000);
	expect_out(out, h64, sizeof(h64), p, 70000);
	cr_assert_eq(out->wo_data, out->wo_base, "a 10-byte header fills "
	    "the headroom");
}

Test(ws, wraps_a_message_taken_from_the_reader_without_copying)
{
	const uint8_t	 hdr5[] = { 0x81, 0x05 };
	const uint8_t	 hdr200[] = { 0x81, 0x7e, 0x00, 0xc8 };
	char		 text[200];
	size_t		 used;

	stream_text(&strm, 1, WS_OP_TEXT, "Hello");
	ws_reader_init(&rd, 1 << 20);
	cr_assert_eq(ws_reader_feed(&rd, piece_set(strm.buf, strm.len),
	    strm.len, &used), WS_MESSAGE);
	taken = ws_reader_take(&rd);
	out = ws_out_wrap(WS_OP_TEXT, taken, rd.ev_len);
	cr_assert_eq(out->wo_base, taken);
	taken = NULL;				/* consumed */
	expect_out(out, hdr5, sizeof(hdr5), "Hello", 5);
	ws_out_unref(out);
	out = NULL;

	memset(text, 'e', sizeof(text));
	strm.len = 0;
	stream_frame(&strm, 1, WS_OP_TEXT, text, sizeof(text));
	cr_assert_eq(ws_reader_feed(&rd, piece_set(strm.buf, strm.len),
	    strm.len, &used), WS_MESSAGE);
	out = ws_out_wrap(WS_OP_TEXT, ws_reader_take(&rd), rd.ev_len);
	expect_out(out, hdr200, sizeof(hdr200), text, sizeof(text));
}

Test(ws, wraps_an_empty_message)
{
	const uint8_t	 hdr[] = { 0x82, 0x00 };

	out = ws_out_wrap(WS_OP_BINARY, NULL, 0);
	expect_out(out, hdr, sizeof(hdr), NULL, 0);
}

Test(ws, builds_close_frames)
{
	const uint8_t	 bye[] = { 0x88, 0x05, 0x03, 0xe8, 'b', 'y', 'e' };
	const uint8_t	 bare[] = { 0x88, 0x02, 0x03, 0xf1 };
	uint16_t	 code;

	out = ws_out_close(1000, "bye");
	expect_out(out, bye, sizeof(bye), NULL, 0);
	ws_out_unref(out);
	out = ws_out_close(WS_CLOSE_TOO_BIG, NULL);
	expect_out(out, bare, sizeof(bare), NULL, 0);
	ws_out_unref(out);
	out = ws_out_close(WS_CLOSE_PROTOCOL, "");
	cr_assert_eq(out->wo_len, 4);
	cr_assert_eq(ws_close_parse(out->wo_data + 2, 2, &code), WS_OK);
	cr_assert_eq(code, WS_CLOSE_PROTOCOL);
}

Test(ws, truncates_a_long_close_reason_to_fit_a_control_frame)
{
	char		 reason[201];
	uint16_t	 code;

	memset(reason, 'r', 200);
	reason[200] = '\0';
	out = ws_out_close(WS_CLOSE_POLICY, reason);
	cr_assert_eq(out->wo_len, 2 + WS_CONTROL_MAX);
	cr_assert_eq(out->wo_data[0], 0x88);
	cr_assert_eq(out->wo_data[1], WS_CONTROL_MAX);
	cr_assert_eq(ws_close_parse(out->wo_data + 2, WS_CONTROL_MAX, &code),
	    WS_OK);
	cr_assert_eq(code, WS_CLOSE_POLICY);
}

/*
 * A reason cut at 123 bytes must not end inside a character: the peer
 * would fail the connection with 1007 (RFC 6455, 5.5.1 and 8.1).
 */
Test(ws, truncates_a_long_close_reason_on_a_character_boundary)
{
	char		 reason[125];
	size_t		 len;
	uint16_t	 code;

	memset(reason, 'r', 122);
	memcpy(reason + 122, "\xc3\xa9", 3);	/* 124 bytes and a NUL */
	out = ws_out_close(WS_CLOSE_POLICY, reason);
	cr_assert_not_null(out);
	cr_assert_leq(out->wo_len, 2 + WS_CONTROL_MAX);
	len = out->wo_len - 2;
	cr_assert_eq(ws_close_parse(out->wo_data + 2, len, &code), WS_OK,
	    "the %zu-byte close payload ends with %02x: not UTF-8", len,
	    out->wo_data[out->wo_len - 1]);
	cr_assert_eq(code, WS_CLOSE_POLICY);
}

Test(ws, frees_a_shared_frame_with_its_last_reference)
{
	out = ws_out_new(WS_OP_TEXT, "shared", 6);
	cr_assert_not_null(out);
	cr_assert_eq(out->wo_refs, 1);
	ws_out_ref(out);
	ws_out_ref(out);
	cr_assert_eq(out->wo_refs, 3);
	ws_out_unref(out);
	cr_assert_eq(out->wo_refs, 2);
	cr_assert_eq(memcmp(out->wo_data + 2, "shared", 6), 0);
	ws_out_unref(out);
	cr_assert_eq(out->wo_refs, 1);
	ws_out_unref(out);	/* freed: ASan reports a leak otherwise */
	out = NULL;
}

Test(ws, ignores_unref_of_null)
{
	ws_out_unref(NULL);
}
