/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * ws_client.c: the client side of RFC 6455: the upgrade request and the
 * check of the answer (RFC 6455, 4.1).  The frames are inline in
 * ws_client.h, for the load generators' sake, which frame and parse each
 * message with them.  What the two sides share stays where it was: the
 * header rules, the message reader and the close payload in ws.c, the
 * accept key in http.c (one GUID in the tree).  The caller brings the
 * random bytes and does the I/O: wschat with a blocking socket and then
 * libevent, the benchmarks from their bufferevents.
 */

#include <limits.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "http.h"
#include "ws.h"
#include "ws_client.h"

/* A caller's buffer being filled; pos runs on past size if it overflows. */
struct ws_client_out {
	char	*buf;
	size_t	 size;
	size_t	 pos;
};

static void
ws_client_put(struct ws_client_out *o, const char *s)
{
	size_t	 n = strlen(s);

	if (o->pos < o->size && n < o->size - o->pos)
		memcpy(o->buf + o->pos, s, n);
	o->pos += n;
}

/* A header line; none if value is NULL. */
static void
ws_client_put_header(struct ws_client_out *o, const char *name,
    const char *value)
{
	if (value == NULL)
		return;
	ws_client_put(o, name);
	ws_client_put(o, ": ");
	ws_client_put(o, value);
	ws_client_put(o, "\r\n");
}

/* Control characters (and spaces, unless allowed) would split the head. */
static int
ws_client_field_ok(const char *s, int spaces)
{
	if (s == NULL)
		return (1);
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f ||
		    (*s == ' ' && !spaces))
			return (0);
	return (1);
}

int
ws_client_request_encode(struct ws_client_handshake *hs,
    const struct ws_client_request *req, const uint8_t *nonce, char *buf,
    size_t size)
{
	struct ws_client_out	 o = { buf, size, 0 };
	char			 key[WS_CLIENT_KEY_LEN + 1];

	memset(hs, 0, sizeof(*hs));
	hs->max_head = WS_CLIENT_HEAD_MAX;
	hs->protocols = req->protocols;
	if (req->host == NULL || *req->host == '\0' || req->path == NULL ||
	    *req->path == '\0' || !ws_client_field_ok(req->host, 0) ||
	    !ws_client_field_ok(req->path, 0) ||
	    !ws_client_field_ok(req->protocols, 1) ||
	    !ws_client_field_ok(req->origin, 1) ||
	    !ws_client_field_ok(req->agent, 1))
		return (-1);
	EVP_EncodeBlock((unsigned char *)key, nonce, WS_CLIENT_NONCE_LEN);
	if (http_ws_accept(key, WS_CLIENT_KEY_LEN, hs->accept) == -1)
		return (-1);

	ws_client_put(&o, "GET ");
	ws_client_put(&o, req->path);
	ws_client_put(&o, " HTTP/1.1\r\n");
	ws_client_put_header(&o, "Host", req->host);
	ws_client_put(&o, "Upgrade: websocket\r\nConnection: Upgrade\r\n");
	ws_client_put_header(&o, "Sec-WebSocket-Key", key);
	ws_client_put(&o, "Sec-WebSocket-Version: 13\r\n");
	ws_client_put_header(&o, "Sec-WebSocket-Protocol", req->protocols);
	ws_client_put_header(&o, "Origin", req->origin);
	ws_client_put_header(&o, "User-Agent", req->agent);
	ws_client_put(&o, "\r\n");
	if (o.pos >= size || o.pos > INT_MAX)
		return (-1);
	buf[o.pos] = '\0';
	return ((int)o.pos);
}

/* ---------------------------------------------------------------- */

static int
ws_client_refuse(struct ws_client_handshake *hs, const char *reason)
{
	hs->reason = reason;
	return (WS_EPROTO);
}

/* A tchar (RFC 9110, 5.6.2): what header names are made of. */
static int
ws_client_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return (1);
	return (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* No control characters but HTAB in a line of the head. */
static int
ws_client_text_ok(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') ||
		    s[i] == 0x7f)
			return (0);
	return (1);
}

static int
ws_client_is(const char *s, size_t len, const char *lit)
{
	return (len == strlen(lit) && strncasecmp(s, lit, len) == 0);
}

/*
 * The status line, "HTTP/d.d ddd[ reason]", len bytes at l without its
 * line end: sets hs->status and hs->linelen.  Returns 0, or -1 if it is
 * not a status line.
 */
static int
ws_client_status_line(struct ws_client_handshake *hs, const char *l,
    size_t len)
{
	int	 i;

	if (len < 12 || memcmp(l, "HTTP/", 5) != 0 || l[6] != '.' ||
	    l[8] != ' ' || (len > 12 && l[12] != ' ') ||
	    !ws_client_text_ok(l, len))
		return (-1);
	for (i = 5; i < 12; i++)
		if (i != 6 && i != 8 && (l[i] < '0' || l[i] > '9'))
			return (-1);
	if (l[9] == '0')
		return (-1);
	hs->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	hs->linelen = len;
	return (0);
}

/*
 * Find the empty line that ends the head, searching on from where the
 * last call stopped.  Returns the head's length, 0 if it is not all there
 * yet, or -1 if it cannot end within hs->max_head.
 */
static long
ws_client_head_end(struct ws_client_handshake *hs, const char *buf,
    size_t len)
{
	const char	*nl;
	size_t		 lim, i, end;

	lim = len < hs->max_head ? len : hs->max_head;
	for (i = hs->scanned; i < lim; i++) {
		if ((nl = memchr(buf + i, '\n', lim - i)) == NULL)
			break;
		i = (size_t)(nl - buf);
		/* An empty line follows: LF LF, or LF CR LF. */
		if (i + 1 < len && buf[i + 1] == '\n')
			end = i + 2;
		else if (i + 2 < len && buf[i + 1] == '\r' &&
		    buf[i + 2] == '\n')
			end = i + 3;
		else if (i + 1 >= len || (buf[i + 1] == '\r' && i + 2 >= len)) {
			/* Undecided until the next bytes come: look again. */
			hs->scanned = i;
			return (len >= hs->max_head ? -1 : 0);
		} else
			continue;
		return (end <= hs->max_head ? (long)end : -1);
	}
	hs->scanned = lim;
	return (len >= hs->max_head ? -1 : 0);
}

/* What ws_client_header() has seen of what a 101 answer needs. */
#define WS_CLIENT_SEEN_UPGRADE		0x1
#define WS_CLIENT_SEEN_CONNECTION	0x2
#define WS_CLIENT_SEEN_ACCEPT		0x4

/* One header line of a 101 answer: name, value without OWS. */
static int
ws_client_header(struct ws_client_handshake *hs, const char *n,
    size_t nlen, const char *v, size_t vlen, unsigned *seen)
{
	if (ws_client_is(n, nlen, "Upgrade")) {
		if (*seen & WS_CLIENT_SEEN_UPGRADE)
			return (ws_client_refuse(hs, "Upgrade twice"));
		*seen |= WS_CLIENT_SEEN_UPGRADE;
		if (!ws_client_is(v, vlen, "websocket"))
			return (ws_client_refuse(hs, "Upgrade is not "
			    "websocket"));
	} else if (ws_client_is(n, nlen, "Connection")) {
		/* Its tokens may come in more than one line. */
		if (http_list_has(v, vlen, "upgrade", 7, 1))
			*seen |= WS_CLIENT_SEEN_CONNECTION;
	} else if (ws_client_is(n, nlen, "Sec-WebSocket-Accept")) {
		if (*seen & WS_CLIENT_SEEN_ACCEPT)
			return (ws_client_refuse(hs, "Sec-WebSocket-Accept "
			    "twice"));
		*seen |= WS_CLIENT_SEEN_ACCEPT;
		if (vlen != HTTP_WS_ACCEPT_LEN ||
		    memcmp(v, hs->accept, vlen) != 0)
			return (ws_client_refuse(hs, "wrong "
			    "Sec-WebSocket-Accept"));
	} else if (ws_client_is(n, nlen, "Sec-WebSocket-Protocol")) {
		if (hs->protocol != NULL)
			return (ws_client_refuse(hs, "Sec-WebSocket-Protocol "
			    "twice"));
		/* One of ours, exactly (RFC 6455, 4.1, item 6). */
		if (vlen == 0 || hs->protocols == NULL ||
		    memchr(v, ',', vlen) != NULL ||
		    !http_list_has(hs->protocols, strlen(hs->protocols),
		    v, vlen, 0))
			return (ws_client_refuse(hs, "a subprotocol not "
			    "offered"));
		hs->protocol = v;
		hs->protocol_len = vlen;
	} else if (ws_client_is(n, nlen, "Sec-WebSocket-Extensions")) {
		/* None offered, so none may be in use (item 5). */
		if (vlen > 0)
			return (ws_client_refuse(hs, "an extension not "
			    "offered"));
	}
	return (WS_OK);
}

int
ws_client_response_parse(struct ws_client_handshake *hs, const char *buf,
    size_t len)
{
	const char	*l, *nl, *colon, *v;
	size_t		 pos, end, llen, vlen;
	unsigned	 seen = 0;
	long		 e;
	int		 rv;

	hs->line = buf;
	/* Fail at once if no HTTP server answers: no wait for a timeout. */
	if (memcmp(buf, "HTTP/", len < 5 ? len : 5) != 0)
		return (ws_client_refuse(hs, "not an HTTP response"));
	/* A refusal is known from its status line: no wait for the head. */
	if (hs->status == 0 && (nl = memchr(buf, '\n', len < hs->max_head ?
	    len : hs->max_head)) != NULL) {
		llen = (size_t)(nl - buf);
		if (llen > 0 && buf[llen - 1] == '\r')
			llen--;
		if (ws_client_status_line(hs, buf, llen) == -1)
			return (ws_client_refuse(hs, "bad status line"));
	}
	if (hs->status != 0 && hs->status != 101)
		return (ws_client_refuse(hs, "status not 101"));
	if ((e = ws_client_head_end(hs, buf, len)) == -1)
		return (ws_client_refuse(hs, "response head too long"));
	if (e == 0)
		return (WS_AGAIN);
	end = (size_t)e;
	if (memcmp(buf, "HTTP/1.1 ", 9) != 0)
		return (ws_client_refuse(hs, "101 not in HTTP/1.1"));

	hs->protocol = NULL;
	hs->protocol_len = 0;
	pos = (size_t)((const char *)memchr(buf, '\n', end) - buf) + 1;
	while (pos < end) {
		l = buf + pos;
		nl = memchr(l, '\n', end - pos);
		llen = (size_t)(nl - l);
		pos += llen + 1;
		if (llen > 0 && l[llen - 1] == '\r')
			llen--;
		if (llen == 0)
			break;		/* the end of the head */
		if (!ws_client_text_ok(l, llen))
			return (ws_client_refuse(hs, "control character in "
			    "a header"));
		/* Obsolete line folding is refused (RFC 9112, 5.2). */
		if (l[0] == ' ' || l[0] == '\t')
			return (ws_client_refuse(hs, "folded header line"));
		if ((colon = memchr(l, ':', llen)) == NULL || colon == l)
			return (ws_client_refuse(hs, "header line without a "
			    "name"));
		for (v = l; v < colon; v++)
			if (!ws_client_tchar((unsigned char)*v))
				return (ws_client_refuse(hs, "bad header "
				    "name"));
		v = colon + 1;
		vlen = llen - (size_t)(v - l);
		while (vlen > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			vlen--;
		}
		while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
		if ((rv = ws_client_header(hs, l, (size_t)(colon - l), v, vlen,
		    &seen)) != WS_OK)
			return (rv);
	}
	if (!(seen & WS_CLIENT_SEEN_UPGRADE))
		return (ws_client_refuse(hs, "no Upgrade: websocket"));
	if (!(seen & WS_CLIENT_SEEN_CONNECTION))
		return (ws_client_refuse(hs, "no Connection: Upgrade"));
	if (!(seen & WS_CLIENT_SEEN_ACCEPT))
		return (ws_client_refuse(hs, "no Sec-WebSocket-Accept"));
	hs->hdrlen = end;
	return (WS_OK);
}
