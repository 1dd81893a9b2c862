/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * http.c: a strict, small HTTP/1.1 request parser for GET and HEAD, the
 * request-target to path decoder that keeps static files inside the web
 * root, and the RFC 6455 opening handshake.  Pure functions over (buf, len):
 * conn_http.c owns the sockets, decides when a head is complete enough to
 * parse and writes the responses.  SHA-1 and base64 come from OpenSSL's
 * libcrypto.
 */

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "wschatd.h"
#include "http.h"

#define HTTP_WS_GUID	"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* tchar of RFC 9110, 5.6.2. */
static int
http_tchar(unsigned char c)
{
	if (isalnum(c))
		return (1);
	return (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* field-vchar, SP and HTAB (RFC 9110, 5.5); obs-text allowed. */
static int
http_vchar(unsigned char c)
{
	return (c == '\t' || (c >= 0x20 && c != 0x7f));
}

static int
http_fail(struct http_request *req, int status, const char *reason)
{
	req->status = status;
	req->reason = reason;
	return (HTTP_ERROR);
}

/*
 * Find the end of the line starting at p: returns the offset of its LF, or
 * -1 if none within len.  *eol is the line's length without CR/LF.  A CR
 * not followed by LF is an error (-2).
 */
static ssize_t
http_line(const char *p, size_t len, size_t *eol)
{
	const char	*lf;
	size_t		 n;

	if ((lf = memchr(p, '\n', len)) == NULL)
		return (-1);
	n = lf - p;
	*eol = n;
	if (n > 0 && p[n - 1] == '\r')
		(*eol)--;
	if (memchr(p, '\r', *eol) != NULL)
		return (-2);	/* bare CR (RFC 9112, 2.2) */
	return ((ssize_t)n);
}

static int
http_request_line(const char *p, size_t n, struct http_request *req)
{
	const char	*sp1, *sp2, *v;
	size_t		 i;

	if ((sp1 = memchr(p, ' ', n)) == NULL || sp1 == p)
		return (http_fail(req, 400, "malformed request line"));
	for (i = 0; i < (size_t)(sp1 - p); i++)
		if (!http_tchar(p[i]))
			return (http_fail(req, 400, "bad method"));
	req->method_text = p;
	req->method_len = sp1 - p;
	if (req->method_len == 3 && memcmp(p, "GET", 3) == 0)
		req->method = HTTP_GET;
	else if (req->method_len == 4 && memcmp(p, "HEAD", 4) == 0)
		req->method = HTTP_HEAD;
	else
		req->method = HTTP_OTHER;

	req->target = sp1 + 1;
	sp2 = memchr(req->target, ' ', n - (req->target - p));
	if (sp2 == NULL || sp2 == req->target)
		return (http_fail(req, 400, "malformed request line"));
	req->targetlen = sp2 - req->target;
	for (i = 0; i < req->targetlen; i++) {
		unsigned char c = req->target[i];
		if (c <= 0x20 || c >= 0x7f)
			return (http_fail(req, 400, "bad request target"));
	}

	v = sp2 + 1;
	if ((size_t)(p + n - v) != 8 || memcmp(v, "HTTP/", 5) != 0 ||
	    !isdigit((unsigned char)v[5]) || v[6] != '.' ||
	    !isdigit((unsigned char)v[7]))
		return (http_fail(req, 400, "malformed HTTP version"));
	if (v[5] != '1')
		return (http_fail(req, 505, "HTTP version not supported"));
	req->minor = v[7] - '0';
	return (HTTP_OK);
}

static int
http_header_line(const char *p, size_t n, struct http_request *req,
    const struct http_limits *lim)
{
	struct http_header	*h;
	const char		*colon, *v, *e;
	size_t			 i;

	if (p[0] == ' ' || p[0] == '\t')
		return (http_fail(req, 400, "obsolete line folding"));
	if ((colon = memchr(p, ':', n)) == NULL || colon == p)
		return (http_fail(req, 400, "malformed header"));
	for (i = 0; i < (size_t)(colon - p); i++)
		if (!http_tchar(p[i]))	/* white space before ':' included */
			return (http_fail(req, 400, "bad header name"));
	v = colon + 1;
	e = p + n;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	for (i = 0; i < (size_t)(e - v); i++)
		if (!http_vchar(v[i]))
			return (http_fail(req, 400, "bad header value"));
	if (req->nheaders >= lim->max_headers ||
	    req->nheaders >= HTTP_HEADERS_MAX)
		return (http_fail(req, 431, "too many header fields"));
	h = &req->headers[req->nheaders++];
	h->name = p;
	h->namelen = colon - p;
	h->value = v;
	h->valuelen = e - v;
	return (HTTP_OK);
}

static int
http_header_is(const struct http_header *h, const char *name)
{
	return (h->namelen == strlen(name) &&
	    strncasecmp(h->name, name, h->namelen) == 0);
}

/* Checks on the whole head once it is complete. */
static int
http_request_check(struct http_request *req)
{
	const struct http_header	*h;
	size_t				 i;

	if (req->minor >= 1 && http_header_count(req, "Host") != 1)
		return (http_fail(req, 400, "missing or repeated Host"));
	if (http_header_find(req, "Transfer-Encoding") != NULL)
		return (http_fail(req, 501, "transfer codings not supported"));
	if ((h = http_header_find(req, "Content-Length")) != NULL) {
		if (http_header_count(req, "Content-Length") != 1 ||
		    h->valuelen == 0)
			return (http_fail(req, 400, "bad Content-Length"));
		for (i = 0; i < h->valuelen; i++)
			if (!isdigit((unsigned char)h->value[i]))
				return (http_fail(req, 400,
				    "bad Content-Length"));
		for (i = 0; i < h->valuelen; i++)
			if (h->value[i] != '0')
				return (http_fail(req, 413,
				    "request bodies not accepted"));
	}
	/* "close" ends the connection in every version (RFC 9112, 9.3). */
	if (http_header_has_token(req, "Connection", "close"))
		req->keepalive = 0;
	else if (req->minor >= 1)
		req->keepalive = 1;
	else
		req->keepalive = http_header_has_token(req, "Connection",
		    "keep-alive");
	return (HTTP_OK);
}

int
http_request_parse(const char *buf, size_t len,
    const struct http_limits *lim, struct http_request *req)
{
	size_t	 off = 0, eol, n;
	ssize_t	 lf;
	int	 first = 1;

	req->nheaders = 0;
	req->status = 0;
	req->reason = NULL;
	req->keepalive = 0;

	/* Ignore empty lines before the request line (RFC 9112, 2.2). */
	while (off < len && (buf[off] == '\r' || buf[off] == '\n')) {
		if (buf[off] == '\r' && off + 1 < len && buf[off + 1] != '\n')
			return (http_fail(req, 400, "bare CR"));
		off++;
		if (off > 8)
			return (http_fail(req, 400, "empty request line"));
	}
	for (;;) {
		lf = http_line(buf + off, len - off, &eol);
		if (lf == -2)
			return (http_fail(req, 400, "bare CR"));
		if (first) {
			/* An incomplete line may already end in its CR. */
			n = lf == -1 ? len - off : eol;
			if (lf == -1 && n > 0 && buf[off + n - 1] == '\r')
				n--;
			if (n > lim->max_request_line)
				return (http_fail(req, 414,
				    "request line too long"));
		}
		if (lf == -1) {
			if (len > lim->max_header_size)
				return (http_fail(req, 431,
				    "request head too large"));
			return (HTTP_AGAIN);
		}
		if (off + lf + 1 > lim->max_header_size)
			return (http_fail(req, 431, "request head too large"));
		if (first) {
			if (http_request_line(buf + off, eol, req) != HTTP_OK)
				return (HTTP_ERROR);
			first = 0;
		} else if (eol == 0) {
			req->hdrlen = off + lf + 1;
			return (http_request_check(req));
		} else if (http_header_line(buf + off, eol, req, lim) !=
		    HTTP_OK)
			return (HTTP_ERROR);
		off += lf + 1;
	}
}

const struct http_header *
http_header_find(const struct http_request *req, const char *name)
{
	unsigned	 i;

	for (i = 0; i < req->nheaders; i++)
		if (http_header_is(&req->headers[i], name))
			return (&req->headers[i]);
	return (NULL);
}

int
http_header_count(const struct http_request *req, const char *name)
{
	unsigned	 i;
	int		 n = 0;

	for (i = 0; i < req->nheaders; i++)
		if (http_header_is(&req->headers[i], name))
			n++;
	return (n);
}

/*
 * Does the comma-separated list in v (len bytes) have the element item
 * (itemlen bytes, not 0)?  Elements are trimmed of blanks; compared
 * without regard to case if nocase.  Either side of the handshake.
 */
int
http_list_has(const char *v, size_t len, const char *item, size_t itemlen,
    int nocase)
{
	size_t	 i = 0, s, e;

	while (i < len) {
		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < len && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e > s && e - s == itemlen && (nocase ?
		    strncasecmp(v + s, item, itemlen) == 0 :
		    memcmp(v + s, item, itemlen) == 0))
			return (1);
	}
	return (0);
}

int
http_header_has_token(const struct http_request *req, const char *name,
    const char *token)
{
	unsigned	 i;

	for (i = 0; i < req->nheaders; i++)
		if (http_header_is(&req->headers[i], name) &&
		    http_list_has(req->headers[i].value,
		    req->headers[i].valuelen, token, strlen(token), 1))
			return (1);
	return (0);
}

static int
http_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

int
http_path_decode(const char *t, size_t len, char *out, size_t outsz)
{
	size_t	 i, o = 0, seg = 0;
	int	 hi, lo;
	char	 c;

	if (len == 0 || t[0] != '/')
		return (400);	/* only origin-form (RFC 9112, 3.2.1) */
	for (i = 0; i < len && t[i] != '?' && t[i] != '#'; i++) {
		c = t[i];
		if (c == '%') {
			if (i + 2 >= len ||
			    (hi = http_hexval(t[i + 1])) < 0 ||
			    (lo = http_hexval(t[i + 2])) < 0)
				return (400);
			c = (char)(hi << 4 | lo);
			/* An encoded '/' or NUL only serves to confuse. */
			if (c == '/' || c == '\0')
				return (400);
			i += 2;
		}
		if (o + 2 > outsz)
			return (414);
		if (c == '/') {
			/* Refuse "." and ".." segments, however encoded. */
			if ((o - seg == 1 && out[seg] == '.') ||
			    (o - seg == 2 && out[seg] == '.' &&
			    out[seg + 1] == '.'))
				return (400);
			out[o++] = c;
			seg = o;
			continue;
		}
		out[o++] = c;
	}
	if ((o - seg == 1 && out[seg] == '.') ||
	    (o - seg == 2 && out[seg] == '.' && out[seg + 1] == '.'))
		return (400);
	out[o] = '\0';
	return (0);
}

const char *
http_mime_type(const char *path)
{
	static const struct {
		const char	*ext;
		const char	*type;
	} types[] = {
		{ "html",	"text/html; charset=utf-8" },
		{ "htm",	"text/html; charset=utf-8" },
		{ "css",	"text/css; charset=utf-8" },
		{ "js",		"text/javascript; charset=utf-8" },
		{ "mjs",	"text/javascript; charset=utf-8" },
		{ "json",	"application/json" },
		{ "map",	"application/json" },
		{ "txt",	"text/plain; charset=utf-8" },
		{ "xml",	"application/xml" },
		{ "svg",	"image/svg+xml" },
		{ "png",	"image/png" },
		{ "jpg",	"image/jpeg" },
		{ "jpeg",	"image/jpeg" },
		{ "gif",	"image/gif" },
		{ "webp",	"image/webp" },
		{ "ico",	"image/vnd.microsoft.icon" },
		{ "wasm",	"application/wasm" },
		{ "woff",	"font/woff" },
		{ "woff2",	"font/woff2" },
		{ "pdf",	"application/pdf" },
		{ "webmanifest", "application/manifest+json" },
	};
	const char	*dot, *slash;
	size_t		 i;

	dot = strrchr(path, '.');
	slash = strrchr(path, '/');
	if (dot == NULL || (slash != NULL && dot < slash))
		return ("application/octet-stream");
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(dot + 1, types[i].ext) == 0)
			return (types[i].type);
	return ("application/octet-stream");
}

const char *
http_status_text(int status)
{
	switch (status) {
	case 101: return ("Switching Protocols");
	case 200: return ("OK");
	case 301: return ("Moved Permanently");
	case 304: return ("Not Modified");
	case 400: return ("Bad Request");
	case 403: return ("Forbidden");
	case 404: return ("Not Found");
	case 405: return ("Method Not Allowed");
	case 408: return ("Request Timeout");
	case 413: return ("Content Too Large");
	case 414: return ("URI Too Long");
	case 426: return ("Upgrade Required");
	case 431: return ("Request Header Fields Too Large");
	case 500: return ("Internal Server Error");
	case 501: return ("Not Implemented");
	case 503: return ("Service Unavailable");
	case 505: return ("HTTP Version Not Supported");
	default: return ("Unknown");
	}
}

/* ---------------------------------------------------------------- */

int
http_is_upgrade(const struct http_request *req)
{
	return (http_header_has_token(req, "Upgrade", "websocket"));
}

const char *
http_ws_proto_name(int p)
{
	switch (p) {
	case WS_PROTO_JSON: return ("wschat.json");
	case WS_PROTO_MSGPACK: return ("wschat.msgpack");
	case WS_PROTO_JSON2: return ("wschat.v2.json");
	case WS_PROTO_MSGPACK2: return ("wschat.v2.msgpack");
	default: return (NULL);
	}
}

/* A Sec-WebSocket-Key is the base64 of 16 bytes (RFC 6455, 4.2.1, 5). */
static int
http_ws_key_valid(const char *k, size_t len)
{
	size_t	 i;

	if (len != 24 || k[22] != '=' || k[23] != '=')
		return (0);
	for (i = 0; i < 22; i++)
		if (!isalnum((unsigned char)k[i]) && k[i] != '+' && k[i] != '/')
			return (0);
	/* The last character before "==" carries 2 bits: its low 4 are 0. */
	return (strchr("AQgw", k[21]) != NULL);
}

int
http_ws_accept(const char *key, size_t keylen, char *out)
{
	unsigned char	 md[SHA_DIGEST_LENGTH];
	char		 buf[64 + sizeof(HTTP_WS_GUID)];

	if (keylen > 64)
		return (-1);
	memcpy(buf, key, keylen);
	memcpy(buf + keylen, HTTP_WS_GUID, sizeof(HTTP_WS_GUID) - 1);
	SHA1((unsigned char *)buf, keylen + sizeof(HTTP_WS_GUID) - 1, md);
	EVP_EncodeBlock((unsigned char *)out, md, sizeof(md));
	out[HTTP_WS_ACCEPT_LEN] = '\0';
	return (0);
}

static int
http_ws_refuse(struct http_ws_result *res, int status, const char *reason)
{
	res->status = status;
	res->reason = reason;
	return (status);
}

/* Pick the first of the client's subprotocols that the endpoint speaks. */
static int
http_ws_subprotocol(const struct http_request *req, int supported)
{
	const struct http_header	*h;
	unsigned			 i;
	size_t				 j, s, e;
	int				 p;

	for (i = 0; i < req->nheaders; i++) {
		h = &req->headers[i];
		if (!http_header_is(h, "Sec-WebSocket-Protocol"))
			continue;
		for (j = 0; j < h->valuelen;) {
			while (j < h->valuelen && (h->value[j] == ' ' ||
			    h->value[j] == '\t' || h->value[j] == ','))
				j++;
			s = j;
			while (j < h->valuelen && h->value[j] != ',')
				j++;
			e = j;
			while (e > s && (h->value[e - 1] == ' ' ||
			    h->value[e - 1] == '\t'))
				e--;
			for (p = WS_PROTO_JSON; p <= WS_PROTO_LAST; p++)
				if ((supported & (1 << p)) &&
				    e - s == strlen(http_ws_proto_name(p)) &&
				    memcmp(h->value + s, http_ws_proto_name(p),
				    e - s) == 0)
					return (p);
		}
	}
	return (WS_PROTO_NONE);
}

int
http_ws_handshake(const struct http_request *req,
    const struct http_ws_opts *opts, struct http_ws_result *res)
{
	const struct http_header	*key, *origin;

	memset(res, 0, sizeof(*res));
	if (req->method != HTTP_GET)
		return (http_ws_refuse(res, 400, "upgrade needs GET"));
	if (req->minor < 1)
		return (http_ws_refuse(res, 400, "upgrade needs HTTP/1.1"));
	if (!http_is_upgrade(req))
		return (http_ws_refuse(res, 426, "not a websocket upgrade"));
	if (!http_header_has_token(req, "Connection", "upgrade"))
		return (http_ws_refuse(res, 400, "Connection lacks upgrade"));
	if (!http_header_has_token(req, "Sec-WebSocket-Version", "13"))
		return (http_ws_refuse(res, 426, "unsupported version"));
	if (http_header_count(req, "Sec-WebSocket-Key") != 1 ||
	    (key = http_header_find(req, "Sec-WebSocket-Key")) == NULL ||
	    !http_ws_key_valid(key->value, key->valuelen))
		return (http_ws_refuse(res, 400, "bad Sec-WebSocket-Key"));
	origin = http_header_find(req, "Origin");
	if (origin != NULL && opts->origin_ok != NULL &&
	    !opts->origin_ok(origin->value, origin->valuelen, opts->origin_arg))
		return (http_ws_refuse(res, 403, "origin not allowed"));
	res->subprotocol = http_ws_subprotocol(req, opts->subprotocols);
	http_ws_accept(key->value, key->valuelen, res->accept);
	res->status = 101;
	return (101);
}
