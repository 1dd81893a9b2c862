/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * ws.c: RFC 6455 framing, mostly the server's side.  It parses frame
 * headers, reassembles fragmented messages while validating text as it
 * arrives, checks close frames, and builds server frames that are encoded
 * once and shared by reference between recipients.  The header rules
 * (inline in ws.h) and the reader serve both peers: the server reads
 * masked client frames, and a client (ws_client.c's users: wschat, the
 * benchmarks) reads unmasked server frames with the same code.  It never
 * touches a socket or libevent: conn_ws.c feeds it bytes, and conn.c
 * sends what it builds.
 */

#include <stdlib.h>
#include <string.h>

#include "wschatd.h"
#include "utf8.h"
#include "ws.h"

int
ws_frame_parse(const uint8_t *buf, size_t len, struct ws_frame *f,
    uint16_t *code)
{
	const char	*why;

	return (ws_frame_parse_peer(buf, len, WS_PEER_CLIENT, f, code, &why));
}

void
ws_unmask(uint8_t *p, size_t len, const uint8_t *mask, uint64_t off)
{
	uint8_t		 m[8];
	uint64_t	 m8, w;
	size_t		 i = 0;

	/* Rotate the key so that m[0] applies to p[0]: none for most calls. */
	if ((off & 3) == 0) {
		memcpy(m, mask, 4);
		memcpy(m + 4, mask, 4);
	} else
		for (i = 0; i < 8; i++)
			m[i] = mask[(off + i) & 3];
	memcpy(&m8, m, 8);
	for (i = 0; len - i >= 8; i += 8) {
		memcpy(&w, p + i, 8);
		w ^= m8;
		memcpy(p + i, &w, 8);
	}
	for (; i < len; i++)
		p[i] ^= m[i & 7];
}

int
ws_close_code_valid(unsigned code)
{
	/*
	 * RFC 6455, 7.4.1, and the IANA registry, which adds 1012-1014
	 * (service restart, try again later, bad gateway).  1004 is
	 * reserved; 1005, 1006 and 1015 are never sent on the wire.
	 */
	if (code >= 1000 && code <= 1003)
		return (1);
	if (code >= 1007 && code <= 1014)
		return (1);
	return (code >= 3000 && code <= 4999);
}

int
ws_close_parse(const uint8_t *p, size_t len, uint16_t *code)
{
	unsigned	 c;

	if (len == 0) {
		*code = WS_CLOSE_NO_STATUS;
		return (WS_OK);
	}
	if (len == 1) {
		*code = WS_CLOSE_PROTOCOL;
		return (WS_EPROTO);
	}
	c = (unsigned)p[0] << 8 | p[1];
	if (!ws_close_code_valid(c)) {
		*code = WS_CLOSE_PROTOCOL;
		return (WS_EPROTO);
	}
	if (utf8_validate(UTF8_ACCEPT, p + 2, len - 2, NULL) != UTF8_ACCEPT) {
		*code = WS_CLOSE_BAD_DATA;
		return (WS_EPROTO);
	}
	*code = (uint16_t)c;
	return (WS_OK);
}

/* ---------------------------------------------------------------- */

void
ws_reader_init(struct ws_reader *r, uint64_t max_message)
{
	ws_reader_init_peer(r, max_message, WS_PEER_CLIENT);
}

void
ws_reader_init_peer(struct ws_reader *r, uint64_t max_message, int peer)
{
	memset(r, 0, sizeof(*r));
	r->max_message = max_message;
	r->peer = peer;
}

void
ws_reader_clear(struct ws_reader *r)
{
	free(r->msg);
	r->msg = NULL;
	r->msglen = r->msgcap = 0;
	r->msg_op = 0;
}

uint8_t *
ws_reader_take(struct ws_reader *r)
{
	uint8_t	*m = r->msg;

	r->msg = NULL;
	r->msglen = r->msgcap = 0;
	return (m);
}

/* Make room for want more payload bytes; 0 or -1 on allocation failure. */
static int
ws_reader_grow(struct ws_reader *r, uint64_t want)
{
	uint64_t	 need = r->msglen + want, cap;
	uint8_t		*m;

	if (need <= r->msgcap)
		return (0);
	/*
	 * A final first frame tells the exact size; otherwise double, so
	 * that many small fragments cost amortised O(1) each.
	 */
	cap = r->msgcap ? r->msgcap : 256;
	while (cap < need)
		cap *= 2;
	if (r->f.fin && r->msglen == 0)
		cap = need;
	if (cap > r->max_message)
		cap = r->max_message > need ? r->max_message : need;
	if ((m = realloc(r->msg, WS_HEADROOM + cap)) == NULL)
		return (-1);
	r->msg = m;
	r->msgcap = cap;
	return (0);
}

/* A whole frame header is in hdr: check it against the message state. */
static int
ws_reader_frame(struct ws_reader *r)
{
	struct ws_frame	*f = &r->f;

	if (f->opcode >= WS_OP_CLOSE)
		return (WS_OK);
	if (f->opcode == WS_OP_CONT) {
		if (r->msg_op == 0) {
			r->ev_why = "continuation of nothing";
			goto proto;
		}
	} else {
		if (r->msg_op != 0) {
			r->ev_why = "new message inside a fragmented one";
			goto proto;
		}
		r->msg_op = f->opcode;
		r->utf8 = UTF8_ACCEPT;
		r->msglen = 0;
	}
	/* Refuse before buffering anything past the limit. */
	if (f->len > r->max_message - r->msglen) {
		r->ev_code = WS_CLOSE_TOO_BIG;
		r->ev_why = "message too big";
		return (WS_EPROTO);
	}
	if (f->len > 0 && ws_reader_grow(r, f->len) == -1) {
		r->ev_code = WS_CLOSE_INTERNAL;
		r->ev_why = "out of memory";
		return (WS_EPROTO);
	}
	return (WS_OK);
proto:
	r->ev_code = WS_CLOSE_PROTOCOL;
	return (WS_EPROTO);
}

int
ws_reader_feed(struct ws_reader *r, const uint8_t *buf, size_t len,
    size_t *used)
{
	struct ws_frame	*f = &r->f;
	size_t		 n, take;
	uint8_t		*dst;
	int		 rv;

	*used = 0;
	for (;;) {
		if (!r->in_frame) {
			/* Collect the header: it may be split anywhere. */
			take = WS_HEADER_MAX - r->hdrhave;
			if (take > len - *used)
				take = len - *used;
			memcpy(r->hdr + r->hdrhave, buf + *used, take);
			rv = ws_frame_parse_peer(r->hdr, r->hdrhave + take,
			    r->peer, f, &r->ev_code, &r->ev_why);
			if (rv == WS_EPROTO)
				return (WS_EPROTO);
			if (rv == WS_AGAIN) {
				r->hdrhave += take;
				*used += take;
				return (WS_AGAIN);
			}
			/* Only the header's bytes are consumed from buf. */
			*used += f->hdrlen - r->hdrhave;
			r->hdrhave = 0;
			r->in_frame = 1;
			r->fdone = 0;
			if ((rv = ws_reader_frame(r)) != WS_OK)
				return (rv);
		}

		n = len - *used;
		if (n > f->len - r->fdone)
			n = (size_t)(f->len - r->fdone);
		if (n > 0) {
			if (f->opcode >= WS_OP_CLOSE)
				dst = r->ctl + r->fdone;
			else
				dst = r->msg + WS_HEADROOM + r->msglen;
			memcpy(dst, buf + *used, n);
			if (f->masked)
				ws_unmask(dst, n, f->mask, r->fdone);
			*used += n;
			r->fdone += n;
			if (f->opcode < WS_OP_CLOSE) {
				r->msglen += n;
				/* Fail on the first bad byte, not at the end (RFC 6455, 8.1). */
				if (r->msg_op == WS_OP_TEXT &&
				    (r->utf8 = utf8_validate(r->utf8, dst, n,
				    NULL)) == UTF8_REJECT) {
					r->ev_code = WS_CLOSE_BAD_DATA;
					r->ev_why = "invalid UTF-8";
					return (WS_EPROTO);
				}
			}
		}
		if (r->fdone < f->len)
			return (WS_AGAIN);	/* all of buf used */

		/* The frame is complete. */
		r->in_frame = 0;
		if (f->opcode >= WS_OP_CLOSE) {
			r->ev_op = f->opcode;
			r->ev_len = (size_t)f->len;
			if (f->opcode == WS_OP_CLOSE &&
			    ws_close_parse(r->ctl, r->ev_len, &r->ev_code) ==
			    WS_EPROTO) {
				r->ev_why = r->ev_code == WS_CLOSE_BAD_DATA ?
				    "close reason not UTF-8" : "bad close status";
				return (WS_EPROTO);
			}
			return (WS_CONTROL);
		}
		if (!f->fin) {
			if (*used == len)
				return (WS_AGAIN);
			continue;
		}
		if (r->msg_op == WS_OP_TEXT && r->utf8 != UTF8_ACCEPT) {
			/* The message ends inside a character. */
			r->ev_code = WS_CLOSE_BAD_DATA;
			r->ev_why = "text ends inside a character";
			return (WS_EPROTO);
		}
		r->ev_op = r->msg_op;
		r->ev_len = r->msglen;
		r->msg_op = 0;
		return (WS_MESSAGE);
	}
}

/* ---------------------------------------------------------------- */

struct ws_out *
ws_out_wrap(int opcode, uint8_t *buf, size_t len)
{
	struct ws_out	*o;
	uint8_t		 hdr[WS_HEADROOM];
	size_t		 hlen;

	if (buf == NULL && (buf = malloc(WS_HEADROOM)) == NULL)
		return (NULL);
	if ((o = malloc(sizeof(*o))) == NULL) {
		free(buf);
		return (NULL);
	}
	hlen = ws_header_encode(hdr, 1, opcode, len);
	memcpy(buf + WS_HEADROOM - hlen, hdr, hlen);
	o->wo_refs = 1;
	o->wo_base = buf;
	o->wo_data = buf + WS_HEADROOM - hlen;
	o->wo_len = hlen + len;
	return (o);
}

/*
 * A shared buffer without a frame header (the line protocol's lines):
 * consumes buf (WS_HEADROOM bytes, then len bytes), even on failure.
 */
struct ws_out *
ws_out_raw(uint8_t *buf, size_t len)
{
	struct ws_out	*o;

	if ((o = malloc(sizeof(*o))) == NULL) {
		free(buf);
		return (NULL);
	}
	o->wo_refs = 1;
	o->wo_base = buf;
	o->wo_data = buf + WS_HEADROOM;
	o->wo_len = len;
	return (o);
}

struct ws_out *
ws_out_new(int opcode, const void *payload, size_t len)
{
	uint8_t	*buf;

	if ((buf = malloc(WS_HEADROOM + len)) == NULL)
		return (NULL);
	if (len > 0)
		memcpy(buf + WS_HEADROOM, payload, len);
	return (ws_out_wrap(opcode, buf, len));
}

struct ws_out *
ws_out_close(uint16_t code, const char *reason)
{
	uint8_t	 p[WS_CONTROL_MAX];
	size_t	 rlen = reason ? strlen(reason) : 0;

	if (rlen > WS_CONTROL_MAX - 2) {
		rlen = WS_CONTROL_MAX - 2;
		/* Cut on a character boundary: the reason must be UTF-8. */
		while (rlen > 0 && ((uint8_t)reason[rlen] & 0xc0) == 0x80)
			rlen--;
	}
	p[0] = code >> 8;
	p[1] = code & 0xff;
	if (rlen > 0)
		memcpy(p + 2, reason, rlen);
	return (ws_out_new(WS_OP_CLOSE, p, 2 + rlen));
}

void
ws_out_ref(struct ws_out *o)
{
	o->wo_refs++;
}

void
ws_out_unref(struct ws_out *o)
{
	if (o == NULL || --o->wo_refs > 0)
		return;
	free(o->wo_base);
	free(o);
}
