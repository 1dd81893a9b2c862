/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * fuzz_ws_client.c: the client side of RFC 6455 under a fuzzer.  The input
 * is what a server sends: the answer to an upgrade made with a fixed key
 * (the seeds carry its accept value, so that the fuzzer gets past it),
 * then frames.  The answer parser must decide the same whether it gets
 * the input whole, byte by byte or in two pieces; the reader of server
 * frames must report the same events whole and in two pieces; the
 * in-place header parser must agree with the reader's rules; a payload
 * framed by the client must come back from the server's parser; and a
 * request made with a host and path taken from the input must, if made,
 * get the accept value it expects from the server's handshake.
 */

#include <stdlib.h>
#include <string.h>

#include "wschatd.h"
#include "http.h"
#include "ws.h"
#include "ws_client.h"
#include "utf8.h"
#include "fuzz.h"

#define FUZZ_WSC_NONCE		"0123456789abcdef"
#define FUZZ_WSC_PROTOS		"wschat.json, wschat.msgpack"
#define FUZZ_WSC_EVENTS		64
#define FUZZ_WSC_FRAME_MAX	4096

/* What the answer parser decided. */
struct fuzz_wsc_answer {
	int		 rv;
	int		 status;
	size_t		 hdrlen;
	size_t		 protocol_len;
	const char	*reason;
};

/* What a reader reported, in order, to compare two runs. */
struct fuzz_wsc_log {
	size_t		 n;
	int		 rv[FUZZ_WSC_EVENTS];
	int		 op[FUZZ_WSC_EVENTS];
	size_t		 len[FUZZ_WSC_EVENTS];
	unsigned	 code[FUZZ_WSC_EVENTS];
};

static void
fuzz_wsc_start(struct ws_client_handshake *hs)
{
	struct ws_client_request	 req = { "localhost:8080", "/ws",
					    FUZZ_WSC_PROTOS, NULL, "fuzz" };
	char				 buf[512];

	FUZZ_ASSERT(ws_client_request_encode(hs, &req,
	    (const uint8_t *)FUZZ_WSC_NONCE, buf, sizeof(buf)) > 0);
}

static void
fuzz_wsc_note(const struct ws_client_handshake *hs, int rv,
    struct fuzz_wsc_answer *a)
{
	FUZZ_ASSERT(rv == WS_OK || rv == WS_AGAIN || rv == WS_EPROTO);
	a->rv = rv;
	a->status = hs->status;
	a->hdrlen = rv == WS_OK ? hs->hdrlen : 0;
	a->protocol_len = rv == WS_OK ? hs->protocol_len : 0;
	a->reason = rv == WS_EPROTO ? hs->reason : NULL;
	if (rv == WS_EPROTO)
		FUZZ_ASSERT(hs->reason != NULL);
	if (rv == WS_OK) {
		FUZZ_ASSERT(hs->status == 101);
		FUZZ_ASSERT(hs->hdrlen <= hs->max_head);
		if (hs->protocol != NULL)
			FUZZ_ASSERT((hs->protocol_len == 11 &&
			    memcmp(hs->protocol, "wschat.json", 11) == 0) ||
			    (hs->protocol_len == 14 &&
			    memcmp(hs->protocol, "wschat.msgpack", 14) == 0));
	}
}

static void
fuzz_wsc_same(const struct fuzz_wsc_answer *a, const struct fuzz_wsc_answer *b)
{
	FUZZ_ASSERT(a->rv == b->rv);
	FUZZ_ASSERT(a->status == b->status);
	FUZZ_ASSERT(a->hdrlen == b->hdrlen);
	FUZZ_ASSERT(a->protocol_len == b->protocol_len);
	FUZZ_ASSERT((a->reason == NULL) == (b->reason == NULL));
	if (a->reason != NULL)
		FUZZ_ASSERT(strcmp(a->reason, b->reason) == 0);
}

/* The answer: whole, byte by byte, and cut; returns the whole's verdict. */
static void
fuzz_wsc_answer(const uint8_t *data, size_t size, size_t cut,
    struct fuzz_wsc_answer *whole)
{
	struct ws_client_handshake	 hs;
	struct fuzz_wsc_answer		 a;
	char				*p;
	size_t				 n;
	int				 rv = WS_AGAIN;

	fuzz_wsc_start(&hs);
	fuzz_wsc_note(&hs, ws_client_response_parse(&hs, (const char *)data,
	    size), whole);

	fuzz_wsc_start(&hs);
	for (n = 1; n <= size && rv == WS_AGAIN; n++)
		rv = ws_client_response_parse(&hs, (const char *)data, n);
	fuzz_wsc_note(&hs, rv, &a);
	fuzz_wsc_same(whole, &a);

	/* The first piece from a copy of its size: reads past it show. */
	fuzz_wsc_start(&hs);
	if ((p = malloc(cut > 0 ? cut : 1)) == NULL)
		return;
	memcpy(p, data, cut);
	rv = ws_client_response_parse(&hs, p, cut);
	if (rv == WS_AGAIN)
		rv = ws_client_response_parse(&hs, (const char *)data, size);
	/* Before the free: hs->protocol may point into p. */
	fuzz_wsc_note(&hs, rv, &a);
	free(p);
	fuzz_wsc_same(whole, &a);
}

static void
fuzz_wsc_record(struct fuzz_wsc_log *log, int rv, const struct ws_reader *rd)
{
	if (log->n == FUZZ_WSC_EVENTS)
		return;
	log->rv[log->n] = rv;
	log->op[log->n] = rv == WS_EPROTO ? 0 : rd->ev_op;
	log->len[log->n] = rv == WS_EPROTO ? 0 : rd->ev_len;
	log->code[log->n] = rv == WS_EPROTO ||
	    (rv == WS_CONTROL && rd->ev_op == WS_OP_CLOSE) ? rd->ev_code : 0;
	log->n++;
}

/* Feed buf[0..cut) then buf[cut..len) to a fresh reader of server frames. */
static void
fuzz_wsc_reader(const uint8_t *buf, size_t len, size_t cut, uint64_t max,
    struct fuzz_wsc_log *log)
{
	struct ws_reader	 rd;
	const uint8_t		*piece;
	uint8_t			*msg;
	size_t			 n, off, used, p;
	int			 rv;

	memset(log, 0, sizeof(*log));
	ws_reader_init_peer(&rd, max, WS_PEER_SERVER);
	for (p = 0; p < 2; p++) {
		piece = p == 0 ? buf : buf + cut;
		n = p == 0 ? cut : len - cut;
		off = 0;
		for (;;) {
			used = (size_t)-1;
			rv = ws_reader_feed(&rd, piece + off, n - off, &used);
			FUZZ_ASSERT(used <= n - off);
			off += used;
			if (rv == WS_AGAIN) {
				FUZZ_ASSERT(off == n);
				break;
			}
			fuzz_wsc_record(log, rv, &rd);
			if (rv == WS_EPROTO) {
				FUZZ_ASSERT(rd.ev_why != NULL);
				goto done;
			}
			FUZZ_ASSERT(rv == WS_MESSAGE || rv == WS_CONTROL);
			if (rv == WS_CONTROL) {
				FUZZ_ASSERT(rd.ev_len <= WS_CONTROL_MAX);
				continue;
			}
			FUZZ_ASSERT(rd.ev_len <= max);
			msg = ws_reader_take(&rd);
			FUZZ_ASSERT(rd.ev_len == 0 || msg != NULL);
			if (rd.ev_op == WS_OP_TEXT && msg != NULL)
				FUZZ_ASSERT(utf8_validate(UTF8_ACCEPT,
				    msg + WS_HEADROOM, rd.ev_len, NULL) ==
				    UTF8_ACCEPT);
			free(msg);
		}
	}
done:
	ws_reader_clear(&rd);
}

/* The in-place parser against the reader's rules, frame by frame. */
static void
fuzz_wsc_frames(const uint8_t *buf, size_t len)
{
	struct ws_frame	 f, g;
	const char	*why, *why2;
	uint16_t	 code, code2;
	size_t		 off = 0;
	int		 msg_op = 0, rv, rv2;

	while (off < len) {
		rv = ws_client_frame_parse(buf + off, len - off, msg_op, &f,
		    &code, &why);
		rv2 = ws_frame_parse_peer(buf + off, len - off, WS_PEER_SERVER,
		    &g, &code2, &why2);
		if (rv == WS_AGAIN) {
			FUZZ_ASSERT(rv2 == WS_AGAIN);
			return;
		}
		if (rv == WS_EPROTO) {
			FUZZ_ASSERT(code == WS_CLOSE_PROTOCOL && why != NULL);
			return;
		}
		FUZZ_ASSERT(rv2 == WS_OK && !f.masked);
		FUZZ_ASSERT(f.hdrlen >= 2 && f.hdrlen <= 10);
		FUZZ_ASSERT(f.len == g.len && f.hdrlen == g.hdrlen);
		if (f.opcode >= WS_OP_CLOSE)
			FUZZ_ASSERT(f.fin && f.len <= WS_CONTROL_MAX);
		else
			msg_op = f.fin ? 0 : (f.opcode != WS_OP_CONT ?
			    f.opcode : msg_op);
		if (f.len > len - off - f.hdrlen)
			return;
		off += f.hdrlen + (size_t)f.len;
	}
}

/* A payload framed by the client comes back from the server's parser. */
static void
fuzz_wsc_roundtrip(const uint8_t *data, size_t size)
{
	struct ws_frame	 f;
	uint8_t		*buf, *fr, mask[4] = { 0, 0, 0, 0 };
	uint16_t	 code;
	size_t		 len = size < FUZZ_WSC_FRAME_MAX ? size :
			    FUZZ_WSC_FRAME_MAX, flen;

	memcpy(mask, data, size < 4 ? size : 4);
	if ((buf = malloc(WS_HEADER_MAX + len + 1)) == NULL)
		return;
	memcpy(buf + WS_HEADER_MAX, data, len);
	fr = ws_client_frame_encode(buf + WS_HEADER_MAX, 1, WS_OP_BINARY, len,
	    mask, &flen);
	FUZZ_ASSERT(fr >= buf && fr + flen == buf + WS_HEADER_MAX + len);
	FUZZ_ASSERT(ws_frame_parse(fr, flen, &f, &code) == WS_OK);
	FUZZ_ASSERT(f.masked && f.fin && f.len == len &&
	    f.hdrlen + len == flen);
	FUZZ_ASSERT(memcmp(f.mask, mask, 4) == 0);
	ws_unmask(fr + f.hdrlen, len, f.mask, 0);
	FUZZ_ASSERT(memcmp(fr + f.hdrlen, data, len) == 0);
	free(buf);
}

/*
 * A request for a host and a path from the input: made or refused; if
 * the server's parser takes it and upgrades, the accept value agrees.
 */
static void
fuzz_wsc_request(const uint8_t *data, size_t size)
{
	struct ws_client_handshake	 hs;
	struct ws_client_request	 req = { NULL, NULL, FUZZ_WSC_PROTOS,
					    NULL, NULL };
	struct http_limits		 lim = { 8192, 4096, 64 };
	struct http_ws_opts		 opts = { 1 << WS_PROTO_JSON, NULL,
					    NULL };
	struct http_ws_result		 res;
	struct http_request		 hreq;
	char				 host[33], path[33], buf[1024];
	uint8_t				 nonce[WS_CLIENT_NONCE_LEN];
	size_t				 n;
	int				 len;

	n = size < 32 ? size : 32;
	memcpy(host, data, n);
	host[n] = '\0';
	n = size > 32 ? (size - 32 < 32 ? size - 32 : 32) : 0;
	memcpy(path, data + (size > 32 ? 32 : 0), n);
	path[n] = '\0';
	memset(nonce, 0, sizeof(nonce));
	memcpy(nonce, data, size < sizeof(nonce) ? size : sizeof(nonce));
	req.host = host;
	req.path = path;
	if ((len = ws_client_request_encode(&hs, &req, nonce, buf,
	    sizeof(buf))) == -1)
		return;
	FUZZ_ASSERT((size_t)len == strlen(buf));
	FUZZ_ASSERT(len > 4 && memcmp(buf + len - 4, "\r\n\r\n", 4) == 0);
	if (http_request_parse(buf, (size_t)len, &lim, &hreq) != HTTP_OK)
		return;
	FUZZ_ASSERT(hreq.hdrlen == (size_t)len);
	if (http_ws_handshake(&hreq, &opts, &res) == 101)
		FUZZ_ASSERT(strcmp(res.accept, hs.accept) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_wsc_answer	 answer;
	struct fuzz_wsc_log	 a, b;
	const uint8_t		*frames;
	uint64_t		 max;
	size_t			 cut, len, i;

	/* The last byte picks the cuts and the size limit; it is data too. */
	cut = size > 0 ? data[size - 1] % (size + 1) : 0;
	max = size > 0 && data[size - 1] & 0x80 ? 16 : 1 << 16;

	fuzz_wsc_answer(data, size, cut, &answer);
	/* Frames follow a good answer; without one, all of it is frames. */
	frames = answer.rv == WS_OK ? data + answer.hdrlen : data;
	len = answer.rv == WS_OK ? size - answer.hdrlen : size;
	cut = cut < len ? cut : len;

	fuzz_wsc_reader(frames, len, len, max, &a);
	fuzz_wsc_reader(frames, len, cut, max, &b);
	FUZZ_ASSERT(a.n == b.n);
	for (i = 0; i < a.n; i++) {
		FUZZ_ASSERT(a.rv[i] == b.rv[i]);
		FUZZ_ASSERT(a.op[i] == b.op[i]);
		FUZZ_ASSERT(a.len[i] == b.len[i]);
		FUZZ_ASSERT(a.code[i] == b.code[i]);
	}
	fuzz_wsc_frames(frames, len);
	fuzz_wsc_roundtrip(data, size);
	fuzz_wsc_request(data, size);
	return (0);
}
