/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * http.h: the HTTP/1.1 request parser, request-target decoding and the
 * server side of the RFC 6455 opening handshake.  A codec: (buf, len) in,
 * a struct out; no libevent, no sockets.
 */

#ifndef WSCHATD_HTTP_H
#define WSCHATD_HTTP_H

#include <stddef.h>

#define HTTP_OK		0
#define HTTP_AGAIN	1	/* need more bytes; nothing consumed */
#define HTTP_ERROR	(-1)	/* req->status says which 4xx/5xx */

#define HTTP_HEADERS_MAX	256	/* hard cap on max_headers */

enum http_method {
	HTTP_GET,
	HTTP_HEAD,
	HTTP_OTHER		/* a valid token we do not serve: 405 */
};

struct http_header {
	const char	*name;
	size_t		 namelen;
	const char	*value;		/* without surrounding OWS */
	size_t		 valuelen;
};

struct http_limits {
	size_t		 max_header_size;	/* whole head, request line included */
	size_t		 max_request_line;
	unsigned	 max_headers;
};

struct http_request {
	enum http_method	 method;
	const char		*method_text;
	size_t			 method_len;
	const char		*target;
	size_t			 targetlen;
	int			 minor;		/* HTTP/1.minor */
	unsigned		 nheaders;
	struct http_header	 headers[HTTP_HEADERS_MAX];
	size_t			 hdrlen;	/* bytes of the head, last CRLF included */
	int			 keepalive;
	int			 status;	/* with HTTP_ERROR */
	const char		*reason;	/* with HTTP_ERROR: one line for the log */
};

/*
 * Parse the request head at the start of buf.  Returns HTTP_OK and fills
 * *req (its pointers point into buf and are valid as long as buf is),
 * HTTP_AGAIN if the head is incomplete but within limits, or HTTP_ERROR
 * with req->status (400, 414, 431, 501, 505, 413) and req->reason.
 * Accepts CRLF or a bare LF as line ends (RFC 9112, 2.2); rejects a bare CR,
 * obsolete line folding, white space before a colon, bodies and
 * Transfer-Encoding.  Any process.
 */
int		 http_request_parse(const char *, size_t,
		    const struct http_limits *, struct http_request *);
const struct http_header *
		 http_header_find(const struct http_request *, const char *);
int		 http_header_has_token(const struct http_request *,
		    const char *, const char *);
int		 http_header_count(const struct http_request *, const char *);
int		 http_list_has(const char *, size_t, const char *, size_t, int);

/*
 * Decode a request target into a file-system path below the web root:
 * strip the query, percent-decode, and refuse what could escape the root or
 * confuse it ("." or ".." segments, encoded '/' or NUL, a target not in
 * origin form).  Writes a NUL-terminated path starting with '/' into out.
 * Returns 0, or the HTTP status to answer (400, 414).
 */
int		 http_path_decode(const char *, size_t, char *, size_t);
const char	*http_mime_type(const char *);
const char	*http_status_text(int);

#define HTTP_WS_ACCEPT_LEN	28

/* Subprotocols a WebSocket endpoint speaks, in the server's order. */
#define WS_PROTO_NONE		0
#define WS_PROTO_JSON		1	/* wschat.json */
#define WS_PROTO_MSGPACK	2	/* wschat.msgpack */
#define WS_PROTO_JSON2		3	/* wschat.v2.json */
#define WS_PROTO_MSGPACK2	4	/* wschat.v2.msgpack */
#define WS_PROTO_LAST		WS_PROTO_MSGPACK2

struct http_ws_opts {
	int		 subprotocols;	/* bitmask of 1 << WS_PROTO_* */
	/* Origin allowlist hook: return 1 to allow.  NULL allows all. */
	int		(*origin_ok)(const char *, size_t, void *);
	void		*origin_arg;
};

struct http_ws_result {
	int		 status;	/* 101, or 400/403/426 */
	const char	*reason;	/* why not 101 */
	int		 subprotocol;	/* WS_PROTO_* chosen */
	char		 accept[HTTP_WS_ACCEPT_LEN + 1];
};

int		 http_is_upgrade(const struct http_request *);
/*
 * Check an upgrade request against RFC 6455, 4.2.1, and compute the
 * answer.  Returns res->status: 101 with res->accept and res->subprotocol
 * filled in, or the status to refuse with.  Any process.
 */
int		 http_ws_handshake(const struct http_request *,
		    const struct http_ws_opts *, struct http_ws_result *);
int		 http_ws_accept(const char *, size_t, char *);
const char	*http_ws_proto_name(int);

#endif /* WSCHATD_HTTP_H */
