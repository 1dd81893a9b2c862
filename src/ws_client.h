/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * ws_client.h: the client side of RFC 6455 as a codec, for wschat and the
 * load generators in scripts/bench/: the upgrade request, the check of
 * the server's answer, masked frames out, and server frames in.  Server
 * frames are read either in place (ws_client_frame_parse(), for callers
 * that keep the bytes in a buffer of their own) or reassembled into
 * messages by the reader of ws.h made with ws_reader_init_peer(r, max,
 * WS_PEER_SERVER).  No libevent, no sockets, and no randomness of its own:
 * the caller brings the random bytes of the key and of every mask.
 */

#ifndef WSCHATD_WS_CLIENT_H
#define WSCHATD_WS_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "http.h"
#include "ws.h"

#define WS_CLIENT_NONCE_LEN	16	/* random bytes of a key */
#define WS_CLIENT_KEY_LEN	24	/* their base64: Sec-WebSocket-Key */
#define WS_CLIENT_HEAD_MAX	8192	/* default limit of a response head */

/* What to ask for.  NULL leaves out an optional header. */
struct ws_client_request {
	const char	*host;		/* Host: "name:port", "[v6]:port" */
	const char	*path;		/* the request target: "/ws" */
	const char	*protocols;	/* subprotocols offered: "a, b" */
	const char	*origin;
	const char	*agent;		/* User-Agent */
};

/*
 * One opening handshake: what ws_client_request_encode() sent, and what
 * ws_client_response_parse() found in the answer.
 */
struct ws_client_handshake {
	char		 accept[HTTP_WS_ACCEPT_LEN + 1];	/* the answer due */
	const char	*protocols;	/* offered; the request's, kept */
	size_t		 max_head;	/* WS_CLIENT_HEAD_MAX unless changed */
	size_t		 scanned;	/* bytes searched for the end of head */
	/* results */
	int		 status;	/* the status code; 0: none yet */
	size_t		 hdrlen;	/* WS_OK: bytes of the head */
	const char	*protocol;	/* WS_OK: the subprotocol; NULL: none */
	size_t		 protocol_len;
	const char	*line;		/* the status line, without its CRLF */
	size_t		 linelen;
	const char	*reason;	/* WS_EPROTO: why, a static string */
};

/*
 * Write the upgrade request for req into buf (size bytes, NUL-terminated)
 * and prepare hs for the answer: Sec-WebSocket-Key is the base64 of the
 * WS_CLIENT_NONCE_LEN bytes at nonce, which must be random (RFC 6455, 4.1)
 * and new for each request; hs keeps req->protocols (not a copy), sets
 * max_head to WS_CLIENT_HEAD_MAX and forgets any previous answer.
 * Returns the request's length, or -1 if it does not fit or a field holds
 * a control character.  Any process.
 */
int		 ws_client_request_encode(struct ws_client_handshake *,
		    const struct ws_client_request *, const uint8_t *, char *,
		    size_t);

/*
 * Check the server's answer: buf holds the len bytes received so far, from
 * the start of the response.  Call again with more bytes (buf may move;
 * its first bytes must stay the same) as long as it returns WS_AGAIN, the
 * head being incomplete but within hs->max_head.  Returns WS_OK once the
 * head is complete and upgrades the connection: the server's frames start
 * at buf + hs->hdrlen, and hs->protocol (pointing into buf) is the
 * subprotocol the server chose, one of those offered.  Returns WS_EPROTO
 * with hs->reason otherwise: a status other than 101 (hs->status and
 * hs->line, pointing into buf, say which), a response that is not HTTP
 * (as soon as its first bytes show it), a head over hs->max_head, a
 * malformed line, or an answer that breaks RFC 6455, 4.1: no "Upgrade:
 * websocket" or "Connection: upgrade", a Sec-WebSocket-Accept other than
 * the one due, a subprotocol not offered, any extension.  Any process.
 */
int		 ws_client_response_parse(struct ws_client_handshake *,
		    const char *, size_t);

/*
 * Write the header of a masked client frame with a payload of len bytes
 * into out (WS_HEADER_MAX bytes), the masking key being the 4 bytes at
 * mask (random for each frame: RFC 6455, 5.3).  Returns its length: 6, 8
 * or 14.  The payload still has to be masked: ws_unmask() does it.
 */
static inline size_t
ws_client_header_encode(uint8_t *out, int fin, int opcode, uint64_t len,
    const uint8_t *mask)
{
	size_t	 h;

	/* The server's header with the mask bit set, then the key. */
	h = ws_header_encode(out, fin, opcode, len);
	out[1] |= 0x80;
	memcpy(out + h, mask, 4);
	return (h + 4);
}

/*
 * Make the len payload bytes at p one masked frame, in place: the header
 * goes into the WS_HEADER_MAX bytes before p, which the caller keeps free,
 * and the payload is masked with the 4 bytes at mask.  Returns the start
 * of the frame and its length in *framelen.  Allocates nothing.  Inline:
 * the load generators frame every message they send with it.
 */
static inline uint8_t *
ws_client_frame_encode(uint8_t *p, int fin, int opcode, uint64_t len,
    const uint8_t *mask, size_t *framelen)
{
	size_t	 h;

	/* Where the header starts: its length by the payload's. */
	h = (len < 126 ? 2 : len <= 0xffff ? 4 : 10) + 4;
	(void)ws_client_header_encode(p - h, fin, opcode, len, mask);
	/* Masking is the XOR that unmasking is. */
	ws_unmask(p, (size_t)len, mask, 0);
	*framelen = h + (size_t)len;
	return (p - h);
}

/*
 * Parse the header of a server frame at the start of buf, where the
 * caller keeps the bytes, and check it against the data message under
 * way: msg_op is its opcode, 0 for none (the caller keeps it: the first
 * frame of a message sets it, the final one clears it).  Returns WS_OK
 * and fills *f (the frame is f->hdrlen + f->len bytes), WS_AGAIN if more
 * bytes are needed, or WS_EPROTO with *code the close code to send and
 * *why the reason.  Control frames are checked for their size only: a
 * close payload goes to ws_close_parse().  Allocates nothing.  Inline:
 * the load generators call it for every frame they receive.
 */
static inline int
ws_client_frame_parse(const uint8_t *buf, size_t len, int msg_op,
    struct ws_frame *f, uint16_t *code, const char **why)
{
	int	 rv;

	rv = ws_frame_parse_peer(buf, len, WS_PEER_SERVER, f, code, why);
	if (rv != WS_OK || f->opcode >= WS_OP_CLOSE)
		return (rv);
	/* The fragmentation rules of ws_reader, for bytes kept in place. */
	if (f->opcode == WS_OP_CONT && msg_op == 0)
		*why = "continuation of nothing";
	else if (f->opcode != WS_OP_CONT && msg_op != 0)
		*why = "new message inside a fragmented one";
	else
		return (WS_OK);
	*code = WS_CLOSE_PROTOCOL;
	return (WS_EPROTO);
}

#endif /* WSCHATD_WS_CLIENT_H */
