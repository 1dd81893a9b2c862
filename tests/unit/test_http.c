/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * test_http.c: unit tests of the HTTP/1.1 request parser, the header
 * helpers, the request-target to path decoder and the MIME table in http.c.
 * The WebSocket handshake has its own file, test_handshake.c.  Each request
 * is parsed from a heap copy of its exact size, so that the sanitizer build
 * catches a read past the bytes received so far; every valid request is also
 * fed cut at every offset, as TCP may deliver it.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "wschatd.h"
#include "http.h"

#include "unit.h"

static const struct http_limits	 lim = {
	.max_header_size = 8192,
	.max_request_line = 4096,
	.max_headers = 64,
};

/* The request parsed last, and the exact-size copy its pointers point into. */
static struct http_request	 req;
static char			*held;
/* Test inputs built on the heap, freed after the test even if it fails. */
static char			*owned[4];
static size_t			 nowned;

static void
http_test_fini(void)
{
	free(held);
	held = NULL;
	while (nowned > 0)
		free(owned[--nowned]);
	unit_leak_check();
}

TestSuite(http, .fini = http_test_fini);

static char *
keep(char *s)
{
	cr_assert_not_null(s);
	cr_assert_lt(nowned, NITEMS(owned));
	owned[nowned++] = s;
	return (s);
}

static int
parse_len(const char *s, size_t len)
{
	free(held);
	held = malloc(len > 0 ? len : 1);
	cr_assert_not_null(held);
	memcpy(held, s, len);
	memset(&req, 0xa5, sizeof(req));	/* no help from zeroes */
	return (http_request_parse(held, len, &lim, &req));
}

static int
parse(const char *s)
{
	return (parse_len(s, strlen(s)));
}

static void
expect_ok(const char *s)
{
	cr_assert_eq(parse(s), HTTP_OK, "status %d (%s) for \"%s\"",
	    req.status, req.reason ? req.reason : "", s);
	cr_assert_eq(req.hdrlen, strlen(s), "\"%s\"", s);
}

static void
expect_error_len(const char *s, size_t len, int status)
{
	int	 rv;

	rv = parse_len(s, len);
	cr_assert_eq(rv, HTTP_ERROR, "parse gave %d for \"%s\"", rv, s);
	cr_assert_eq(req.status, status, "status %d (%s), want %d for \"%s\"",
	    req.status, req.reason ? req.reason : "", status, s);
	cr_assert_not_null(req.reason);
}

static void
expect_error(const char *s, int status)
{
	expect_error_len(s, strlen(s), status);
}

/* "GET /aaa...a HTTP/1.1" of exactly linelen bytes, then a short head. */
static char *
request_with_line(size_t linelen)
{
	char	*s;
	size_t	 n;

	cr_assert_geq(linelen, 15);
	n = linelen + sizeof("\r\nHost: x\r\n\r\n");
	s = keep(malloc(n));
	memcpy(s, "GET /", 5);
	memset(s + 5, 'a', linelen - 14);
	memcpy(s + linelen - 9, " HTTP/1.1\r\nHost: x\r\n\r\n", 23);
	s[n - 1] = '\0';
	cr_assert_eq(strlen(s), n - 1);
	return (s);
}

/* A complete head of exactly size bytes, padded by one long header. */
static char *
request_of_size(size_t size)
{
	static const char	 pre[] = "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ";
	char			*s;
	size_t			 pad;

	cr_assert_gt(size, sizeof(pre) - 1 + 4);
	pad = size - (sizeof(pre) - 1) - 4;
	s = keep(malloc(size + 1));
	memcpy(s, pre, sizeof(pre) - 1);
	memset(s + sizeof(pre) - 1, 'p', pad);
	memcpy(s + size - 4, "\r\n\r\n", 5);
	cr_assert_eq(strlen(s), size);
	return (s);
}

/* A request with Host and then n - 1 more headers: n in all. */
static char *
request_with_headers(unsigned n)
{
	char		*s;
	size_t		 o, cap;
	unsigned	 i;

	cap = 64 + (size_t)n * 32;
	s = keep(malloc(cap));
	o = (size_t)snprintf(s, cap, "GET / HTTP/1.1\r\nHost: x\r\n");
	for (i = 1; i < n; i++)
		o += (size_t)snprintf(s + o, cap - o, "X-H%u: v\r\n", i);
	o += (size_t)snprintf(s + o, cap - o, "\r\n");
	cr_assert_lt(o, cap);
	return (s);
}

/* Feed every proper prefix (HTTP_AGAIN), then the whole head (HTTP_OK). */
static void
expect_ok_at_every_split(const char *s, size_t len)
{
	size_t	 i;
	int	 rv;

	for (i = 0; i < len; i++) {
		rv = parse_len(s, i);
		cr_assert_eq(rv, HTTP_AGAIN,
		    "prefix of %zu/%zu bytes gave %d, status %d (%s)", i, len,
		    rv, req.status, rv == HTTP_ERROR ? req.reason : "");
	}
	cr_assert_eq(parse_len(s, len), HTTP_OK, "whole: status %d (%s)",
	    req.status, req.reason ? req.reason : "");
	cr_assert_eq(req.hdrlen, len);
}

static int
header_is(const struct http_header *h, const char *name, const char *value)
{
	return (h != NULL && h->namelen == strlen(name) &&
	    memcmp(h->name, name, h->namelen) == 0 &&
	    h->valuelen == strlen(value) &&
	    memcmp(h->value, value, h->valuelen) == 0);
}

/* ---------------------------------------------------------------- */
/* http_request_parse: methods, targets, versions */

Test(http, parses_a_simple_get)
{
	expect_ok("GET /index.html HTTP/1.1\r\nHost: example.com\r\n"
	    "Accept: */*\r\n\r\n");
	cr_assert_eq(req.method, HTTP_GET);
	cr_assert_eq(req.method_len, 3);
	cr_assert_eq(memcmp(req.method_text, "GET", 3), 0);
	cr_assert_eq(req.targetlen, 11);
	cr_assert_eq(memcmp(req.target, "/index.html", 11), 0);
	cr_assert_eq(req.minor, 1);
	cr_assert_eq(req.nheaders, 2);
	cr_assert(header_is(&req.headers[0], "Host", "example.com"));
	cr_assert(header_is(&req.headers[1], "Accept", "*/*"));
	cr_assert_eq(req.keepalive, 1);
	cr_assert_eq(req.status, 0);
}

Test(http, parses_a_head_request)
{
	expect_ok("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(req.method, HTTP_HEAD);
	cr_assert_eq(req.method_len, 4);
	cr_assert_eq(req.targetlen, 1);
}

Test(http, takes_other_method_tokens_as_http_other)
{
	static const char	*reqs[] = {
		"POST / HTTP/1.1\r\nHost: x\r\n\r\n",
		"DELETE /x HTTP/1.1\r\nHost: x\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
		"M-SEARCH * HTTP/1.1\r\nHost: x\r\n\r\n",
		"get / HTTP/1.1\r\nHost: x\r\n\r\n",	/* case-sensitive */
		"GETX / HTTP/1.1\r\nHost: x\r\n\r\n",
		"HEA / HTTP/1.1\r\nHost: x\r\n\r\n",
		"!#$%&'*+-.^_`|~09az / HTTP/1.1\r\nHost: x\r\n\r\n",
	};
	size_t			 i;

	for (i = 0; i < NITEMS(reqs); i++) {
		expect_ok(reqs[i]);
		cr_assert_eq(req.method, HTTP_OTHER, "%s", reqs[i]);
		cr_assert_eq(req.method_len, strcspn(reqs[i], " "));
		cr_assert_eq(req.method_text, held);
	}
}

Test(http, refuses_a_method_with_a_non_token_character)
{
	expect_error("GE(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	expect_error("G@T / HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	expect_error("GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	expect_error("GE\"T / HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	expect_error("G\x80T / HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	expect_error_len(LIT("G\0T / HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
}

Test(http, refuses_a_malformed_request_line)
{
	static const char	*reqs[] = {
		" GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET\r\nHost: x\r\n\r\n",
		"GET /\r\nHost: x\r\n\r\n",
		"GET HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /  HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1 \r\nHost: x\r\n\r\n",
		"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /\x7f HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n",
	};
	size_t			 i;

	for (i = 0; i < NITEMS(reqs); i++)
		expect_error(reqs[i], 400);
}

Test(http, refuses_http_2_and_others_with_505)
{
	expect_error("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505);
	expect_error("GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505);
	expect_error("GET / HTTP/0.9\r\nHost: x\r\n\r\n", 505);
	expect_error("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505);
}

Test(http, refuses_a_malformed_version_with_400)
{
	static const char	*versions[] = {
		"HTTP/1", "HTTP/1.", "HTTP/1.1.1", "HTTP/11", "HTTP/1.10",
		"http/1.1", "Http/1.1", "HTTPS/1.1", "HTTP/a.1", "HTTP/1.x",
		"HTTP/ 1.1", "HTTP/1,1", "HTTP1.1", "HTTP/-.1", "HTTP/1.1x",
		"XTTP/1.1", "HTTP/", "",
	};
	char			 buf[128];
	size_t			 i;

	for (i = 0; i < NITEMS(versions); i++) {
		snprintf(buf, sizeof(buf), "GET / %s\r\nHost: x\r\n\r\n",
		    versions[i]);
		expect_error(buf, 400);
	}
}

Test(http, takes_a_higher_minor_version_as_http_1)
{
	expect_ok("GET / HTTP/1.2\r\nHost: x\r\n\r\n");
	cr_assert_eq(req.minor, 2);
	cr_assert_eq(req.keepalive, 1);
}

/* ---------------------------------------------------------------- */
/* keep-alive */

Test(http, keeps_an_http_1_0_connection_only_when_asked)
{
	expect_ok("GET / HTTP/1.0\r\n\r\n");
	cr_assert_eq(req.minor, 0);
	cr_assert_eq(req.keepalive, 0);
	expect_ok("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	cr_assert_eq(req.keepalive, 1);
	expect_ok("GET / HTTP/1.0\r\nconnection: Keep-Alive\r\n\r\n");
	cr_assert_eq(req.keepalive, 1);
	expect_ok("GET / HTTP/1.0\r\nConnection: close\r\n\r\n");
	cr_assert_eq(req.keepalive, 0);
	expect_ok("GET / HTTP/1.0\r\nConnection: keep-alive-please\r\n\r\n");
	cr_assert_eq(req.keepalive, 0);
	expect_ok("GET / HTTP/1.0\r\nKeep-Alive: timeout=5\r\n\r\n");
	cr_assert_eq(req.keepalive, 0);
}

/*
 * "close" ends the connection whatever the version and whatever else the
 * list says (RFC 9112, 9.3): the first rule of the three applies to 1.0 too.
 */
Test(http, lets_close_win_over_keep_alive_in_http_1_0)
{
	expect_ok("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n");
	cr_assert_eq(req.keepalive, 0, "keep-alive, close: must not persist");
	expect_ok("GET / HTTP/1.0\r\nConnection: close\r\n"
	    "Connection: keep-alive\r\n\r\n");
	cr_assert_eq(req.keepalive, 0, "close on another line");
}

Test(http, keeps_an_http_1_1_connection_unless_told_to_close)
{
	expect_ok("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(req.keepalive, 1);
	expect_ok("GET / HTTP/1.1\r\nHost: x\r\n"
	    "Connection: keep-alive\r\n\r\n");
	cr_assert_eq(req.keepalive, 1);
	expect_ok("GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n\r\n");
	cr_assert_eq(req.keepalive, 1);
	expect_ok("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	cr_assert_eq(req.keepalive, 0);
	expect_ok("GET / HTTP/1.1\r\nHost: x\r\nConnection: CLOSE\r\n\r\n");
	cr_assert_eq(req.keepalive, 0);
	expect_ok("GET / HTTP/1.1\r\nHost: x\r\n"
	    "Connection: keep-alive, close\r\n\r\n");
	cr_assert_eq(req.keepalive, 0);
	expect_ok("GET / HTTP/1.1\r\nHost: x\r\n"
	    "Connection: keep-alive\r\nConnection: close\r\n\r\n");
	cr_assert_eq(req.keepalive, 0);
	expect_ok("GET / HTTP/1.1\r\nHost: x\r\nConnection: closed\r\n\r\n");
	cr_assert_eq(req.keepalive, 1);
}

/* ---------------------------------------------------------------- */
/* Host, bodies */

Test(http, requires_one_host_in_http_1_1)
{
	expect_error("GET / HTTP/1.1\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400);
	expect_ok("GET / HTTP/1.1\r\nhOST: a\r\n\r\n");
	expect_ok("GET / HTTP/1.0\r\n\r\n");
}

Test(http, refuses_transfer_encoding_with_501)
{
	expect_error("GET / HTTP/1.1\r\nHost: x\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 501);
	expect_error("POST / HTTP/1.1\r\nHost: x\r\n"
	    "transfer-encoding: identity\r\n\r\n", 501);
}

Test(http, accepts_a_zero_content_length)
{
	expect_ok("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
	expect_ok("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 000\r\n\r\n");
}

Test(http, refuses_a_body_with_413)
{
	expect_error("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n",
	    413);
	expect_error("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0010\r\n"
	    "\r\n", 413);
	expect_error("POST / HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: 99999999999999999999999999\r\n\r\n", 413);
}

Test(http, refuses_a_bad_or_repeated_content_length_with_400)
{
	static const char	*values[] = {
		"", "abc", "-1", "+5", "5x", "0x10", "1 2", "0, 0", "1.0",
	};
	char			 buf[128];
	size_t			 i;

	for (i = 0; i < NITEMS(values); i++) {
		snprintf(buf, sizeof(buf), "POST / HTTP/1.1\r\nHost: x\r\n"
		    "Content-Length: %s\r\n\r\n", values[i]);
		expect_error(buf, 400);
	}
	expect_error("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
	    "Content-Length: 0\r\n\r\n", 400);
	expect_error("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
	    "content-length: 5\r\n\r\n", 400);
}

/* ---------------------------------------------------------------- */
/* line ends and header syntax */

Test(http, refuses_a_bare_cr)
{
	expect_error("GET / HTTP/1.1\rHost: x\r\n\r\n", 400);
	expect_error("GET /\r HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nHost: x\r\nX: y\r\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nHost: x\r\n\r\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nHost: x\r\n\rX\r\n\r\n", 400);
	expect_error("\rGET / HTTP/1.1\r\nHost: x\r\n\r\n", 400);
}

Test(http, accepts_bare_lf_line_ends)
{
	expect_ok("GET / HTTP/1.1\nHost: x\nAccept: */*\n\n");
	cr_assert_eq(req.nheaders, 2);
	cr_assert(header_is(&req.headers[0], "Host", "x"));
	cr_assert(header_is(&req.headers[1], "Accept", "*/*"));
	expect_ok("GET / HTTP/1.1\r\nHost: x\nAccept: */*\r\n\n");
	cr_assert(header_is(&req.headers[1], "Accept", "*/*"));
}

Test(http, refuses_obsolete_line_folding)
{
	expect_error("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n",
	    400);
	expect_error("GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400);
}

Test(http, refuses_white_space_before_a_colon)
{
	expect_error("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nHost: x\r\nX A: y\r\n\r\n", 400);
}

Test(http, refuses_a_malformed_header_line)
{
	expect_error("GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nHost: x\r\n: empty name\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nHost: x\r\nX(y): z\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nHost: x\r\nX\x80: z\r\n\r\n", 400);
}

Test(http, refuses_control_characters_in_values)
{
	expect_error("GET / HTTP/1.1\r\nHost: x\r\nX: a\x01z\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nHost: x\r\nX: a\x1b[0m\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nHost: x\r\nX: a\x7fz\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nHost: x\r\nX: \x0b\r\n\r\n", 400);
	expect_error_len(LIT("GET / HTTP/1.1\r\nHost: x\r\nX: a\0z\r\n\r\n"),
	    400);
}

Test(http, allows_tabs_and_obs_text_in_values_and_trims_ows)
{
	expect_ok("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\tb\r\n"
	    "X-B: caf\xc3\xa9\r\nX-C:  \t v w \t \r\nX-D:\r\nX-E:   \r\n\r\n");
	cr_assert_eq(req.nheaders, 6);
	cr_assert(header_is(&req.headers[1], "X-A", "a\tb"));
	cr_assert(header_is(&req.headers[2], "X-B", "caf\xc3\xa9"));
	cr_assert(header_is(&req.headers[3], "X-C", "v w"));
	cr_assert(header_is(&req.headers[4], "X-D", ""));
	cr_assert(header_is(&req.headers[5], "X-E", ""));
}

/* ---------------------------------------------------------------- */
/* limits */

Test(http, refuses_a_request_line_over_the_limit_with_414)
{
	char	*s;

	s = request_with_line(lim.max_request_line);
	expect_ok(s);
	s = request_with_line(lim.max_request_line + 1);
	expect_error(s, 414);
}

Test(http, refuses_a_long_request_line_before_its_lf_arrives)
{
	char	*s;

	s = request_with_line(lim.max_request_line + 1);
	/* Just past the limit, with no line end in sight. */
	expect_error_len(s, lim.max_request_line + 1, 414);
	cr_assert_eq(parse_len(s, lim.max_request_line), HTTP_AGAIN);
	s = request_with_line(lim.max_request_line * 2);
	expect_error_len(s, lim.max_request_line + 1, 414);
}

/*
 * A request line of exactly max_request_line bytes is fine once complete,
 * so no prefix of it may be refused: not even the one that ends with the
 * CR of its CRLF.
 */
Test(http, accepts_every_prefix_of_a_request_line_at_the_limit)
{
	char	*s;

	s = request_with_line(lim.max_request_line);
	expect_ok_at_every_split(s, strlen(s));
}

Test(http, refuses_a_head_over_max_header_size_with_431)
{
	char	*s;

	s = request_of_size(lim.max_header_size);
	expect_ok(s);
	s = request_of_size(lim.max_header_size + 1);
	expect_error(s, 431);
}

Test(http, refuses_a_head_over_max_header_size_while_incomplete)
{
	char	*s;

	s = request_of_size(lim.max_header_size + 100);
	/* Still inside the padding header: no end of head yet. */
	cr_assert_eq(parse_len(s, lim.max_header_size), HTTP_AGAIN);
	expect_error_len(s, lim.max_header_size + 1, 431);
}

Test(http, accepts_every_prefix_of_a_head_at_the_limit)
{
	char	*s;

	s = request_of_size(lim.max_header_size);
	expect_ok_at_every_split(s, strlen(s));
}

Test(http, refuses_more_than_max_headers_with_431)
{
	char	*s;

	s = request_with_headers(lim.max_headers);
	expect_ok(s);
	cr_assert_eq(req.nheaders, lim.max_headers);
	s = request_with_headers(lim.max_headers + 1);
	expect_error(s, 431);
}

/* ---------------------------------------------------------------- */
/* framing of the head */

Test(http, ignores_leading_empty_lines)
{
	expect_ok("\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(req.method, HTTP_GET);
	cr_assert_eq(req.target, held + 6);
	expect_ok("\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_ok("\n\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(parse("\r\n"), HTTP_AGAIN);
	cr_assert_eq(parse("\r\n\r"), HTTP_AGAIN);
}

Test(http, refuses_an_endless_run_of_empty_lines)
{
	char	 buf[256];
	size_t	 i;

	for (i = 0; i < 100; i++)
		memcpy(buf + 2 * i, "\r\n", 2);
	expect_error_len(buf, 200, 400);
}

Test(http, waits_for_the_end_of_the_head)
{
	cr_assert_eq(parse(""), HTTP_AGAIN);
	cr_assert_eq(parse("GET"), HTTP_AGAIN);
	cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: x\r\n"), HTTP_AGAIN);
	cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: x\r\n\r"), HTTP_AGAIN);
}

Test(http, parses_every_valid_request_split_at_every_offset)
{
	static const char	*reqs[] = {
		"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
		"HEAD /index.html HTTP/1.1\nHost: a\nAccept: */*\n\n",
		"GET / HTTP/1.1\nHost: x\r\nX: y\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
		"GET / HTTP/1.0\n\n",
		"\r\n\r\nGET /chat?room=lobby HTTP/1.1\r\nHost: h:8080\r\n"
		    "Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n"
		    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		    "Sec-WebSocket-Version: 13\r\n"
		    "Sec-WebSocket-Protocol: wschat.json\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: x\r\nX-Empty:\r\nX-Tab:\tv\t\r\n\r\n",
	};
	size_t			 i;

	for (i = 0; i < NITEMS(reqs); i++)
		expect_ok_at_every_split(reqs[i], strlen(reqs[i]));
}

Test(http, stops_at_the_end_of_the_first_of_two_pipelined_requests)
{
	static const char	 two[] =
	    "GET /one HTTP/1.1\r\nHost: x\r\n\r\n"
	    "HEAD /two HTTP/1.1\r\nHost: y\r\nConnection: close\r\n\r\n";
	size_t			 first;

	first = strlen("GET /one HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(parse(two), HTTP_OK);
	cr_assert_eq(req.hdrlen, first);
	cr_assert_eq(req.method, HTTP_GET);
	cr_assert_eq(req.targetlen, 4);
	cr_assert_eq(memcmp(req.target, "/one", 4), 0);
	cr_assert_eq(req.nheaders, 1);
	cr_assert_eq(req.keepalive, 1);
	cr_assert_eq(parse(two + first), HTTP_OK);
	cr_assert_eq(req.hdrlen, sizeof(two) - 1 - first);
	cr_assert_eq(req.method, HTTP_HEAD);
	cr_assert_eq(memcmp(req.target, "/two", 4), 0);
	cr_assert_eq(req.keepalive, 0);
}

Test(http, parses_a_request_followed_by_part_of_the_next)
{
	static const char	 s[] =
	    "GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /tw";

	cr_assert_eq(parse(s), HTTP_OK);
	cr_assert_eq(req.hdrlen, sizeof(s) - 1 - 7);
	cr_assert_eq(parse(s + req.hdrlen), HTTP_AGAIN);
}

/* ---------------------------------------------------------------- */
/* header helpers */

Test(http, finds_and_counts_headers_ignoring_case)
{
	expect_ok("GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nx-a: 2\r\n"
	    "X-AB: 3\r\n\r\n");
	cr_assert_eq(http_header_find(&req, "x-A"), &req.headers[1]);
	cr_assert_eq(http_header_find(&req, "HOST"), &req.headers[0]);
	cr_assert_null(http_header_find(&req, "X"));
	cr_assert_null(http_header_find(&req, "Hos"));
	cr_assert_eq(http_header_count(&req, "X-a"), 2);
	cr_assert_eq(http_header_count(&req, "X-AB"), 1);
	cr_assert_eq(http_header_count(&req, "Accept"), 0);
}

Test(http, finds_tokens_ignoring_case)
{
	expect_ok("GET / HTTP/1.1\r\nHost: x\r\n"
	    "connection: Keep-Alive, UPGRADE\r\n\r\n");
	cr_assert_eq(http_header_has_token(&req, "Connection", "upgrade"), 1);
	cr_assert_eq(http_header_has_token(&req, "CONNECTION", "keep-alive"),
	    1);
	cr_assert_eq(http_header_has_token(&req, "Connection", "close"), 0);
	cr_assert_eq(http_header_has_token(&req, "Upgrade", "upgrade"), 0);
}

Test(http, finds_tokens_in_any_of_several_header_lines)
{
	expect_ok("GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n"
	    "Accept: upgrade\r\nConnection: Upgrade\r\n\r\n");
	cr_assert_eq(http_header_has_token(&req, "Connection", "upgrade"), 1);
	cr_assert_eq(http_header_has_token(&req, "Connection", "keep-alive"),
	    1);
}

Test(http, matches_whole_list_elements_only)
{
	expect_ok("GET / HTTP/1.1\r\nHost: x\r\n"
	    "Connection: upgraded, xupgrade, up grade, keep-alive-x\r\n\r\n");
	cr_assert_eq(http_header_has_token(&req, "Connection", "upgrade"), 0);
	cr_assert_eq(http_header_has_token(&req, "Connection", "keep-alive"),
	    0);
	cr_assert_eq(http_header_has_token(&req, "Connection", "up grade"),
	    1);
	expect_ok("GET / HTTP/1.1\r\nHost: x\r\n"
	    "Connection: , ,\t upgrade \t, ,\r\n\r\n");
	cr_assert_eq(http_header_has_token(&req, "Connection", "upgrade"), 1);
	expect_ok("GET / HTTP/1.1\r\nHost: x\r\nConnection:\r\n\r\n");
	cr_assert_eq(http_header_has_token(&req, "Connection", "upgrade"), 0);
}

/* ---------------------------------------------------------------- */
/* http_path_decode */

static int
decode(const char *t, char *out, size_t outsz)
{
	char	*b;
	size_t	 len = strlen(t);
	int	 rv;

	b = malloc(len > 0 ? len : 1);
	cr_assert_not_null(b);
	memcpy(b, t, len);
	rv = http_path_decode(b, len, out, outsz);
	free(b);
	return (rv);
}

static void
expect_path(const char *t, const char *want)
{
	char	 out[256];
	int	 rv;

	rv = decode(t, out, sizeof(out));
	cr_assert_eq(rv, 0, "\"%s\" gave %d", t, rv);
	cr_assert_str_eq(out, want, "\"%s\"", t);
}

static void
expect_path_refused(const char *t, int status)
{
	char	 out[256];
	int	 rv;

	rv = decode(t, out, sizeof(out));
	cr_assert_eq(rv, status, "\"%s\" gave %d, want %d", t, rv, status);
}

Test(http, decodes_the_root)
{
	expect_path("/", "/");
}

Test(http, strips_the_query_and_the_fragment)
{
	expect_path("/?a=b", "/");
	expect_path("/index.html?x=1&y=%zz", "/index.html");
	expect_path("/a#frag", "/a");
	expect_path("/a/b?c#d", "/a/b");
	expect_path("/a#b?c", "/a");
}

Test(http, percent_decodes)
{
	expect_path("/%41", "/A");
	expect_path("/%7e%7E", "/~~");
	expect_path("/a%20b", "/a b");
	expect_path("/caf%C3%A9", "/caf\xc3\xa9");
	expect_path("/a%3Fb", "/a?b");		/* an encoded '?' is data */
	expect_path("/a%23b", "/a#b");
	expect_path("/%25", "/%");
	expect_path("/a/b/c.html", "/a/b/c.html");
}

Test(http, refuses_dot_dot_segments)
{
	static const char	*targets[] = {
		"/..", "/../", "/../etc/passwd", "/a/../b", "/a/..",
		"/a/../../b", "/%2e%2e/x", "/%2E%2e", "/%2e.", "/.%2e/",
		"/.%2E", "/a/%2e%2e?x", "/..?x", "/..#x",
	};
	size_t			 i;

	for (i = 0; i < NITEMS(targets); i++)
		expect_path_refused(targets[i], 400);
}

Test(http, refuses_dot_segments)
{
	static const char	*targets[] = {
		"/.", "/./", "/./a", "/a/./b", "/a/.", "/%2e", "/%2E/a",
		"/a/%2e?q",
	};
	size_t			 i;

	for (i = 0; i < NITEMS(targets); i++)
		expect_path_refused(targets[i], 400);
}

Test(http, refuses_an_encoded_slash_or_nul)
{
	expect_path_refused("/a%2fb", 400);
	expect_path_refused("/a%2Fb", 400);
	expect_path_refused("/..%2f..%2fetc", 400);
	expect_path_refused("/a%00.html", 400);
}

Test(http, refuses_bad_percent_escapes)
{
	static const char	*targets[] = {
		"/%", "/%4", "/%zz", "/%4g", "/%g4", "/a%", "/a%4", "/%%41",
		"/%4?x", "/% 41",
	};
	size_t			 i;

	for (i = 0; i < NITEMS(targets); i++)
		expect_path_refused(targets[i], 400);
}

Test(http, refuses_targets_not_in_origin_form)
{
	expect_path_refused("*", 400);
	expect_path_refused("http://x/", 400);
	expect_path_refused("example.com:80", 400);
	expect_path_refused("a/b", 400);
	expect_path_refused("%2fa", 400);
	expect_path_refused("", 400);
	expect_path_refused("?a", 400);
}

Test(http, refuses_a_path_longer_than_the_buffer_with_414)
{
	char	 out[8];

	memset(out, 'x', sizeof(out));
	cr_assert_eq(decode("/abc", out, 4), 414);
	cr_assert_eq(decode("/abc", out, 5), 0);
	cr_assert_str_eq(out, "/abc");
	cr_assert_eq(decode("/%41bc", out, 4), 414);
	cr_assert_eq(decode("/%41bc", out, 5), 0);
	cr_assert_str_eq(out, "/Abc");
	cr_assert_eq(decode("/", out, 1), 414);
	cr_assert_eq(decode("/", out, 2), 0);
	cr_assert_eq(decode("/abcdef?query-does-not-count", out, 8), 0);
	cr_assert_str_eq(out, "/abcdef");
}

Test(http, allows_names_that_only_contain_dots)
{
	expect_path("/a..b", "/a..b");
	expect_path("/.hidden", "/.hidden");
	expect_path("/...", "/...");
	expect_path("/..a", "/..a");
	expect_path("/a..", "/a..");
	expect_path("/a./b", "/a./b");
	expect_path("/.well-known/x", "/.well-known/x");
	expect_path("/a/", "/a/");
}

/* ---------------------------------------------------------------- */
/* http_mime_type, http_status_text */

Test(http, knows_the_mime_types_of_the_web_root)
{
	cr_assert_str_eq(http_mime_type("/index.html"),
	    "text/html; charset=utf-8");
	cr_assert_str_eq(http_mime_type("/INDEX.HTM"),
	    "text/html; charset=utf-8");
	cr_assert_str_eq(http_mime_type("/s/style.css"),
	    "text/css; charset=utf-8");
	cr_assert_str_eq(http_mime_type("/app.js"),
	    "text/javascript; charset=utf-8");
	cr_assert_str_eq(http_mime_type("/logo.png"), "image/png");
	cr_assert_str_eq(http_mime_type("/icon.svg"), "image/svg+xml");
	cr_assert_str_eq(http_mime_type("/data.json"), "application/json");
	cr_assert_str_eq(http_mime_type("/archive.tar.gz"),
	    "application/octet-stream");
}

Test(http, gives_octet_stream_for_unknown_or_missing_extensions)
{
	cr_assert_str_eq(http_mime_type("/file.xyz"),
	    "application/octet-stream");
	cr_assert_str_eq(http_mime_type("/README"),
	    "application/octet-stream");
	cr_assert_str_eq(http_mime_type("/a."), "application/octet-stream");
	cr_assert_str_eq(http_mime_type("/.hidden"),
	    "application/octet-stream");
	cr_assert_str_eq(http_mime_type("/a.b/c"),
	    "application/octet-stream");
	cr_assert_str_eq(http_mime_type("/a.html/"),
	    "application/octet-stream");
	cr_assert_str_eq(http_mime_type("/a.htmlx"),
	    "application/octet-stream");
}

Test(http, names_the_statuses_it_answers)
{
	cr_assert_str_eq(http_status_text(101), "Switching Protocols");
	cr_assert_str_eq(http_status_text(400), "Bad Request");
	cr_assert_str_eq(http_status_text(413), "Content Too Large");
	cr_assert_str_eq(http_status_text(414), "URI Too Long");
	cr_assert_str_eq(http_status_text(426), "Upgrade Required");
	cr_assert_str_eq(http_status_text(431),
	    "Request Header Fields Too Large");
	cr_assert_str_eq(http_status_text(501), "Not Implemented");
	cr_assert_str_eq(http_status_text(505), "HTTP Version Not Supported");
	cr_assert_str_eq(http_status_text(299), "Unknown");
}
