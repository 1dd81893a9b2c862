/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * fuzz_http.c: the HTTP request parser under a fuzzer.  Parses the input
 * with the default limits and with tight ones; on success runs what
 * conn.c runs next: the header lookups, the WebSocket handshake check and
 * the decoding of the target into a path below the web root.
 */

#include <string.h>

#include "wschatd.h"
#include "http.h"
#include "fuzz.h"

/* Allow origins of even length, to take both branches of the check. */
static int
fuzz_http_origin_ok(const char *origin, size_t len, void *arg)
{
	(void)origin;
	(void)arg;
	return (len % 2 == 0);
}

static void
fuzz_http_one(const char *buf, size_t len, const struct http_limits *lim)
{
	struct http_request	*req;
	struct http_ws_opts	 opts;
	struct http_ws_result	 res;
	char			 path[256];
	size_t			 n;
	int			 rv;

	/* About 8 KiB: on the heap, so ASan sees an overrun of headers[]. */
	if ((req = malloc(sizeof(*req))) == NULL)
		return;
	rv = http_request_parse(buf, len, lim, req);
	FUZZ_ASSERT(rv == HTTP_OK || rv == HTTP_AGAIN || rv == HTTP_ERROR);
	if (rv == HTTP_ERROR)
		FUZZ_ASSERT(req->status >= 400 && req->status < 600);
	if (rv != HTTP_OK)
		goto out;
	FUZZ_ASSERT(req->hdrlen <= len);
	FUZZ_ASSERT(req->hdrlen <= lim->max_header_size);
	FUZZ_ASSERT(req->nheaders <= lim->max_headers);
	(void)http_header_find(req, "Host");
	(void)http_header_has_token(req, "Connection", "upgrade");
	(void)http_header_count(req, "Sec-WebSocket-Key");
	if (http_is_upgrade(req)) {
		memset(&opts, 0, sizeof(opts));
		opts.subprotocols = 1 << WS_PROTO_JSON | 1 << WS_PROTO_MSGPACK;
		opts.origin_ok = fuzz_http_origin_ok;
		rv = http_ws_handshake(req, &opts, &res);
		FUZZ_ASSERT(rv == res.status);
		if (rv == 101)
			FUZZ_ASSERT(strlen(res.accept) == HTTP_WS_ACCEPT_LEN);
	}
	if (http_path_decode(req->target, req->targetlen, path,
	    sizeof(path)) == 0) {
		FUZZ_ASSERT(path[0] == '/');
		FUZZ_ASSERT(strstr(path, "/../") == NULL);
		n = strlen(path);
		FUZZ_ASSERT(n < 3 || strcmp(path + n - 3, "/..") != 0);
		(void)http_mime_type(path);
	}
out:
	free(req);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct http_limits	 def = { 8192, 4096, 64 };
	const struct http_limits	 tight = { 128, 48, 3 };

	fuzz_http_one((const char *)data, size, &def);
	fuzz_http_one((const char *)data, size, &tight);
	return (0);
}
