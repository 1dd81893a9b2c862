/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * ws.h: RFC 6455 frames: the frame parser and the incremental message
 * reader (for either peer's frames), and for the server struct ws_out, a
 * frame encoded once and shared by every recipient.  A codec: no
 * libevent, no sockets.  The client's own half is in ws_client.h.
 */

#ifndef WSCHATD_WS_H
#define WSCHATD_WS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define WS_OP_CONT	0x0
#define WS_OP_TEXT	0x1
#define WS_OP_BINARY	0x2
#define WS_OP_CLOSE	0x8
#define WS_OP_PING	0x9
#define WS_OP_PONG	0xa

#define WS_OK		0
#define WS_AGAIN	1	/* need more bytes */
#define WS_MESSAGE	2	/* ws_reader: a data message is complete */
#define WS_CONTROL	3	/* ws_reader: a control frame is complete */
#define WS_EPROTO	(-1)	/* *code: the close code to send */

#define WS_HEADER_MAX	14	/* client header: 2 + 8 + 4 */
#define WS_HEADROOM	10	/* room for a server header before a payload */
#define WS_CONTROL_MAX	125

#define WS_CLOSE_NORMAL		1000
#define WS_CLOSE_GOING_AWAY	1001
#define WS_CLOSE_PROTOCOL	1002
#define WS_CLOSE_UNSUPPORTED	1003
#define WS_CLOSE_NO_STATUS	1005	/* never sent */
#define WS_CLOSE_ABNORMAL	1006	/* never sent */
#define WS_CLOSE_BAD_DATA	1007
#define WS_CLOSE_POLICY		1008
#define WS_CLOSE_TOO_BIG	1009
#define WS_CLOSE_INTERNAL	1011

/* Whose frames are read: the parser and the reader serve both peers. */
#define WS_PEER_CLIENT	0	/* the server reads them: masked */
#define WS_PEER_SERVER	1	/* a client reads them: never masked */

struct ws_frame {
	int		 fin;
	int		 opcode;
	int		 masked;
	uint8_t		 mask[4];	/* if masked */
	uint64_t	 len;		/* payload length */
	size_t		 hdrlen;	/* header length, mask included */
};

/*
 * Parse the header of a client frame at the start of buf.  Returns WS_OK and
 * fills *f, WS_AGAIN if more bytes are needed (nothing consumed), or
 * WS_EPROTO with *code set to the close code to send: unmasked frames,
 * reserved bits, reserved opcodes, fragmented or oversized control frames,
 * non-minimal or 64-bit lengths with the top bit set are all 1002.
 * Allocates nothing.  Any process.
 */
int		 ws_frame_parse(const uint8_t *, size_t, struct ws_frame *,
		    uint16_t *);
/*
 * The same for the frames of either peer: WS_PEER_CLIENT's must be masked
 * (this is ws_frame_parse()), WS_PEER_SERVER's must not be.  With
 * WS_EPROTO, *why is a reason for a log line (a static string).  Inline,
 * so that the server's reader and the clients' in-place parser
 * (ws_client.h) each get a copy made for their peer: the load generators
 * parse every frame with it.
 */
static inline int
ws_frame_parse_peer(const uint8_t *buf, size_t len, int peer,
    struct ws_frame *f, uint16_t *code, const char **why)
{
	uint64_t	 plen;
	size_t		 need;
	int		 i;

	if (len < 2)
		return (WS_AGAIN);
	f->fin = (buf[0] & 0x80) != 0;
	f->opcode = buf[0] & 0x0f;
	f->masked = (buf[1] & 0x80) != 0;
	plen = buf[1] & 0x7f;

	/* No extension is negotiated, so RSV1-3 must be 0 (RFC 6455, 5.2). */
	if (buf[0] & 0x70) {
		*why = "reserved bits set";
		goto proto;
	}
	switch (f->opcode) {
	case WS_OP_CONT:
	case WS_OP_TEXT:
	case WS_OP_BINARY:
		break;
	case WS_OP_CLOSE:
	case WS_OP_PING:
	case WS_OP_PONG:
		/* Control frames are never fragmented and carry <= 125 bytes. */
		if (!f->fin || plen > WS_CONTROL_MAX) {
			*why = "fragmented or long control frame";
			goto proto;
		}
		break;
	default:
		*why = "reserved opcode";	/* 3-7 and B-F */
		goto proto;
	}
	/*
	 * Clients must mask and servers must not (RFC 6455, 5.1); anything
	 * else means a broken peer.
	 */
	if (f->masked != (peer == WS_PEER_CLIENT)) {
		*why = f->masked ? "masked server frame" :
		    "unmasked client frame";
		goto proto;
	}

	need = 2 + (plen == 126 ? 2 : plen == 127 ? 8 : 0) +
	    (f->masked ? 4 : 0);
	if (len < need)
		return (WS_AGAIN);
	if (plen == 126) {
		plen = (uint64_t)buf[2] << 8 | buf[3];
		/* The minimal number of bytes MUST be used (RFC 6455, 5.2). */
		if (plen < 126) {
			*why = "length not minimal";
			goto proto;
		}
	} else if (plen == 127) {
		plen = 0;
		for (i = 0; i < 8; i++)
			plen = plen << 8 | buf[2 + i];
		if (plen >> 63 || plen <= 0xffff) {
			*why = plen >> 63 ? "length over 2^63" :
			    "length not minimal";
			goto proto;
		}
	}
	if (f->masked)
		memcpy(f->mask, buf + need - 4, 4);
	f->len = plen;
	f->hdrlen = need;
	return (WS_OK);
proto:
	*code = WS_CLOSE_PROTOCOL;
	return (WS_EPROTO);
}

/* XOR len bytes at p with mask, starting at offset off of the payload. */
void		 ws_unmask(uint8_t *, size_t, const uint8_t *, uint64_t);
/*
 * Write a server (unmasked) frame header; returns its length (2..10).
 * Inline: ws_client.h builds the clients' masked headers on it.
 */
static inline size_t
ws_header_encode(uint8_t *out, int fin, int opcode, uint64_t len)
{
	int	 i;

	out[0] = (fin ? 0x80 : 0) | (opcode & 0x0f);
	if (len < 126) {
		out[1] = (uint8_t)len;
		return (2);
	}
	if (len <= 0xffff) {
		out[1] = 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		return (4);
	}
	out[1] = 127;
	for (i = 0; i < 8; i++)
		out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
	return (10);
}

int		 ws_close_code_valid(unsigned);
/*
 * Check a received close payload.  Returns WS_OK with *code the status
 * (1005 for an empty payload), or WS_EPROTO with *code the close code to
 * answer: 1002 for a one-byte payload or an invalid status, 1007 for a
 * reason that is not UTF-8.
 */
int		 ws_close_parse(const uint8_t *, size_t, uint16_t *);

/*
 * An incremental reader of a peer's messages: the server reads clients'
 * (ws_reader_init()), a client the server's (ws_reader_init_peer() with
 * WS_PEER_SERVER).  Feed it bytes in pieces of any size; it reassembles
 * fragments, answers which control frames arrived, validates text as it
 * arrives (failing on the first invalid byte) and enforces the message
 * size limit before buffering past it.
 */
struct ws_reader {
	uint64_t	 max_message;
	/* header being collected */
	uint8_t		 hdr[WS_HEADER_MAX];
	size_t		 hdrhave;
	int		 in_frame;
	int		 peer;		/* whose frames: WS_PEER_* */
	struct ws_frame	 f;
	uint64_t	 fdone;		/* payload bytes of f consumed */
	/* data message being assembled */
	int		 msg_op;	/* WS_OP_TEXT/BINARY, 0: none */
	uint32_t	 utf8;
	uint8_t		*msg;		/* WS_HEADROOM bytes, then payload */
	size_t		 msglen;
	size_t		 msgcap;	/* payload capacity */
	/* control frame being assembled */
	uint8_t		 ctl[WS_CONTROL_MAX];
	/* results */
	int		 ev_op;		/* opcode of the message or control frame */
	uint16_t	 ev_code;	/* close: its status; error: close code */
	size_t		 ev_len;
	const char	*ev_why;	/* error: a reason for a log line */
};

/* A reader of client frames (the server's), of at most max_message. */
void		 ws_reader_init(struct ws_reader *, uint64_t);
/* A reader of the frames of peer (WS_PEER_*), of at most max_message. */
void		 ws_reader_init_peer(struct ws_reader *, uint64_t, int);
void		 ws_reader_clear(struct ws_reader *);
/*
 * Consume up to len bytes at buf; *used says how many.  Returns WS_AGAIN
 * (all of buf used, need more), WS_MESSAGE (r->ev_op, r->ev_len; take the
 * payload with ws_reader_take()), WS_CONTROL (r->ev_op; payload in r->ctl,
 * r->ev_len bytes; for a close r->ev_code is the validated status), or
 * WS_EPROTO with r->ev_code the close code to send (1002, 1007, 1009, or
 * 1011 when out of memory) and r->ev_why the reason.
 * After WS_MESSAGE or WS_CONTROL call again with the rest of the bytes.
 */
int		 ws_reader_feed(struct ws_reader *, const uint8_t *, size_t,
		    size_t *);
/*
 * Take the completed message: returns its buffer (WS_HEADROOM bytes, then
 * r->ev_len bytes of payload), which the caller now owns (free() it or
 * give it to ws_out_wrap()).  Returns NULL for an empty message.
 */
uint8_t		*ws_reader_take(struct ws_reader *);

/*
 * A server frame, encoded once and shared by every recipient: conn.c
 * copies a small one into each output buffer and adds a large one by
 * reference (evbuffer_add_reference); the last reference frees the bytes.
 * Worker-local, so the count is plain.
 */
struct ws_out {
	unsigned	 wo_refs;
	size_t		 wo_len;	/* whole frame */
	uint8_t		*wo_data;	/* start of the frame */
	uint8_t		*wo_base;	/* what to free */
};

/* Copy payload into a new frame; returns NULL on allocation failure. */
struct ws_out	*ws_out_new(int, const void *, size_t);
/*
 * Make a frame from buf (WS_HEADROOM bytes, then len payload bytes, as from
 * ws_reader_take()); consumes buf, even on failure.  buf may be NULL if
 * len is 0.
 */
struct ws_out	*ws_out_wrap(int, uint8_t *, size_t);
struct ws_out	*ws_out_raw(uint8_t *, size_t);
struct ws_out	*ws_out_close(uint16_t, const char *);
void		 ws_out_ref(struct ws_out *);
void		 ws_out_unref(struct ws_out *);

#endif /* WSCHATD_WS_H */
