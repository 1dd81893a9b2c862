/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * test_handshake.c: unit tests of the RFC 6455 opening handshake in http.c:
 * the Sec-WebSocket-Accept computation, the checks of RFC 6455, 4.2.1 and
 * the status each failure gets, the choice of subprotocol and the origin
 * hook.  Requests go through http_request_parse() first, as in the daemon,
 * from heap copies of their exact size.  The parser itself is tested in
 * test_http.c.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "wschatd.h"
#include "http.h"

#include "unit.h"

/* The pieces of a good upgrade request. */
#define RL		"GET /ws HTTP/1.1\r\nHost: localhost:8080\r\n"
#define UPGRADE		"Upgrade: websocket\r\n"
#define CONNECTION	"Connection: Upgrade\r\n"
#define KEY		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define WSVER		"Sec-WebSocket-Version: 13\r\n"
#define END		"\r\n"
#define GOOD_REQUEST	RL UPGRADE CONNECTION KEY WSVER END

#define RFC_KEY		"dGhlIHNhbXBsZSBub25jZQ=="
#define RFC_ACCEPT	"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

#define BOTH_PROTOS	(1 << WS_PROTO_JSON | 1 << WS_PROTO_MSGPACK)

static const struct http_limits	 lim = {
	.max_header_size = 8192,
	.max_request_line = 4096,
	.max_headers = 64,
};

static struct http_request	 req;
static char			*held;	/* what req points into */
static struct http_ws_opts	 opts;
static struct http_ws_result	 res;

/* What the origin hook saw, and what it answers. */
static struct {
	int	 calls;
	char	 value[128];
	size_t	 len;
	void	*arg;
	int	 answer;
} origin;

static void
handshake_test_fini(void)
{
	free(held);
	held = NULL;
	unit_leak_check();
}

TestSuite(handshake, .fini = handshake_test_fini);

static int
origin_cb(const char *v, size_t len, void *arg)
{
	origin.calls++;
	origin.len = len;
	origin.arg = arg;
	if (len < sizeof(origin.value)) {
		memcpy(origin.value, v, len);
		origin.value[len] = '\0';
	}
	return (origin.answer);
}

/* Parse s (it must be a well-formed request) and run the handshake on it. */
static int
handshake(const char *s)
{
	size_t	 len = strlen(s);
	int	 rv;

	free(held);
	held = malloc(len);
	cr_assert_not_null(held);
	memcpy(held, s, len);
	rv = http_request_parse(held, len, &lim, &req);
	cr_assert_eq(rv, HTTP_OK, "parse gave %d, status %d (%s)", rv,
	    req.status, req.reason ? req.reason : "");
	memset(&res, 0xa5, sizeof(res));	/* no help from zeroes */
	rv = http_ws_handshake(&req, &opts, &res);
	cr_assert_eq(rv, res.status, "returns res->status");
	return (rv);
}

static void
expect_accepted(const char *s)
{
	int	 rv;

	rv = handshake(s);
	cr_assert_eq(rv, 101, "status %d (%s) for \"%s\"", rv,
	    rv != 101 && res.reason ? res.reason : "", s);
	cr_assert_str_eq(res.accept, RFC_ACCEPT);
}

static void
expect_refused(const char *s, int status)
{
	int	 rv;

	rv = handshake(s);
	cr_assert_eq(rv, status, "status %d, want %d for \"%s\"", rv, status,
	    s);
	cr_assert_not_null(res.reason);
	cr_assert_eq(res.accept[0], '\0', "no accept value on a refusal");
}

/* A good request with the given Sec-WebSocket-Key value. */
static void
expect_key_refused(const char *key)
{
	char	 buf[512];

	snprintf(buf, sizeof(buf), RL UPGRADE CONNECTION
	    "Sec-WebSocket-Key: %s\r\n" WSVER END, key);
	expect_refused(buf, 400);
}

/* ---------------------------------------------------------------- */
/* Sec-WebSocket-Accept */

Test(handshake, computes_the_accept_of_the_rfc_6455_example)
{
	char	 out[HTTP_WS_ACCEPT_LEN + 1];

	memset(out, 'x', sizeof(out));
	cr_assert_eq(http_ws_accept(RFC_KEY, strlen(RFC_KEY), out), 0);
	cr_assert_str_eq(out, RFC_ACCEPT);
}

Test(handshake, computes_the_accept_of_another_key)
{
	char	 out[HTTP_WS_ACCEPT_LEN + 1];

	cr_assert_eq(http_ws_accept("x3JJHMbDL1EzLkh9GBhXDw==", 24, out), 0);
	cr_assert_str_eq(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

Test(handshake, refuses_to_hash_a_key_over_64_bytes)
{
	char	 key[65], out[HTTP_WS_ACCEPT_LEN + 1];

	memset(key, 'A', sizeof(key));
	cr_assert_eq(http_ws_accept(key, 65, out), -1);
	cr_assert_eq(http_ws_accept(key, 64, out), 0);
	cr_assert_eq(strlen(out), HTTP_WS_ACCEPT_LEN);
}

/* ---------------------------------------------------------------- */
/* what makes an upgrade */

Test(handshake, accepts_a_valid_upgrade_request)
{
	expect_accepted(GOOD_REQUEST);
	cr_assert_eq(res.subprotocol, WS_PROTO_NONE);
	cr_assert_eq(http_is_upgrade(&req), 1);
}

Test(handshake, accepts_upgrade_in_a_connection_token_list)
{
	expect_accepted(RL UPGRADE "Connection: keep-alive, Upgrade\r\n"
	    KEY WSVER END);
	expect_accepted(RL UPGRADE "Connection: Upgrade,keep-alive\r\n"
	    KEY WSVER END);
}

Test(handshake, accepts_upgrade_on_a_second_connection_line)
{
	expect_accepted(RL UPGRADE "Connection: keep-alive\r\n"
	    "Connection: Upgrade\r\n" KEY WSVER END);
}

Test(handshake, accepts_names_and_tokens_in_any_case)
{
	expect_accepted(RL "upgrade: WebSocket\r\n" CONNECTION KEY WSVER
	    END);
	expect_accepted(RL "UPGRADE: WEBSOCKET\r\nconnection: UPGRADE\r\n"
	    "sec-websocket-key: " RFC_KEY "\r\n"
	    "SEC-WEBSOCKET-VERSION: 13\r\n" END);
}

Test(handshake, accepts_headers_in_any_order)
{
	expect_accepted("GET /ws HTTP/1.1\r\n" WSVER KEY CONNECTION
	    "Host: x\r\n" UPGRADE "Origin: http://x\r\n" END);
}

Test(handshake, refuses_other_versions_with_426)
{
	expect_refused(RL UPGRADE CONNECTION KEY
	    "Sec-WebSocket-Version: 8\r\n" END, 426);
	expect_refused(RL UPGRADE CONNECTION KEY
	    "Sec-WebSocket-Version: 14\r\n" END, 426);
	expect_refused(RL UPGRADE CONNECTION KEY
	    "Sec-WebSocket-Version: 130\r\n" END, 426);
	expect_refused(RL UPGRADE CONNECTION KEY
	    "Sec-WebSocket-Version:\r\n" END, 426);
}

Test(handshake, refuses_a_missing_version_with_426)
{
	expect_refused(RL UPGRADE CONNECTION KEY END, 426);
}

Test(handshake, refuses_a_missing_key_with_400)
{
	expect_refused(RL UPGRADE CONNECTION WSVER END, 400);
}

Test(handshake, refuses_a_repeated_key_with_400)
{
	expect_refused(RL UPGRADE CONNECTION KEY KEY WSVER END, 400);
	expect_refused(RL UPGRADE CONNECTION KEY
	    "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n" WSVER END,
	    400);
}

Test(handshake, refuses_a_key_of_the_wrong_length_with_400)
{
	expect_key_refused("");
	expect_key_refused("dGhlIHNhbXBsZSBub25jZQ=");		/* 23 */
	expect_key_refused("dGhlIHNhbXBsZSBub25jZQ===");	/* 25 */
	expect_key_refused("dGhlIHNhbXBsZSBub25jZQ");		/* 22 */
	/* The base64 of 20 bytes, not 16. */
	expect_key_refused("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	expect_key_refused("dGhlIHNhbXBsZSBub25jZQ==dGhlIHNhbXBsZSBub25jZQ==");
}

Test(handshake, refuses_a_key_that_is_not_base64_with_400)
{
	expect_key_refused("dGhlIHNhbXBsZSBub2!jZQ==");
	expect_key_refused("dGhlIHNhbXBsZSBub2-jZQ==");	/* base64url */
	expect_key_refused("dGhlIHNhbXBsZSBub2_jZQ==");
	expect_key_refused("dGhlIHNhbXBsZSB b25jZQ==");
	expect_key_refused("dGhlIHNhbXBsZSBub25jZQAA");	/* no padding */
	expect_key_refused("dGhlIHNhbXBsZSBub25jZQA=");
	expect_key_refused("dGhlIHNhbXBsZSBub25jZ===");
	expect_key_refused("=GhlIHNhbXBsZSBub25jZQ==");
	expect_key_refused("dGhlIHNhbXBsZSBub25jZQ=A");
}

Test(handshake, refuses_a_key_whose_last_character_has_stray_bits)
{
	/* 'R' is 17: its low four bits would be a seventeenth byte. */
	expect_key_refused("dGhlIHNhbXBsZSBub25jZR==");
	expect_key_refused("dGhlIHNhbXBsZSBub25jZB==");
	expect_key_refused("dGhlIHNhbXBsZSBub25jZ/==");
	expect_key_refused("dGhlIHNhbXBsZSBub25jZ+==");
}

Test(handshake, accepts_every_well_formed_key)
{
	static const char	*keys[] = {
		"AAAAAAAAAAAAAAAAAAAAAA==", "/////////////////////w==",
		"+++++++++++++++++++++g==", "x3JJHMbDL1EzLkh9GBhXDw==",
		"0123456789abcdefABCDEQ==",
	};
	char			 buf[512], want[HTTP_WS_ACCEPT_LEN + 1];
	size_t			 i;
	int			 rv;

	for (i = 0; i < NITEMS(keys); i++) {
		snprintf(buf, sizeof(buf), RL UPGRADE CONNECTION
		    "Sec-WebSocket-Key: %s\r\n" WSVER END, keys[i]);
		rv = handshake(buf);
		cr_assert_eq(rv, 101, "key %s: %d (%s)", keys[i], rv,
		    rv != 101 && res.reason ? res.reason : "");
		cr_assert_eq(http_ws_accept(keys[i], strlen(keys[i]), want),
		    0);
		cr_assert_str_eq(res.accept, want);
	}
}

Test(handshake, refuses_a_request_without_connection_upgrade_with_400)
{
	expect_refused(RL UPGRADE KEY WSVER END, 400);
	expect_refused(RL UPGRADE "Connection: keep-alive\r\n" KEY WSVER END,
	    400);
	expect_refused(RL UPGRADE "Connection: upgraded\r\n" KEY WSVER END,
	    400);
	expect_refused(RL UPGRADE "Connection: websocket\r\n" KEY WSVER END,
	    400);
}

Test(handshake, refuses_head_with_400)
{
	expect_refused("HEAD /ws HTTP/1.1\r\nHost: x\r\n" UPGRADE CONNECTION
	    KEY WSVER END, 400);
}

Test(handshake, refuses_other_methods_with_400)
{
	expect_refused("POST /ws HTTP/1.1\r\nHost: x\r\n" UPGRADE CONNECTION
	    KEY WSVER END, 400);
	expect_refused("get /ws HTTP/1.1\r\nHost: x\r\n" UPGRADE CONNECTION
	    KEY WSVER END, 400);
}

Test(handshake, refuses_http_1_0_with_400)
{
	expect_refused("GET /ws HTTP/1.0\r\n" UPGRADE CONNECTION KEY WSVER
	    END, 400);
	expect_refused("GET /ws HTTP/1.0\r\nHost: x\r\n" UPGRADE CONNECTION
	    KEY WSVER END, 400);
}

Test(handshake, refuses_a_request_without_upgrade_websocket_with_426)
{
	expect_refused(RL CONNECTION KEY WSVER END, 426);
	cr_assert_eq(http_is_upgrade(&req), 0);
	expect_refused(RL "Upgrade: h2c\r\n" CONNECTION KEY WSVER END, 426);
	expect_refused(RL "Upgrade: websockets\r\n" CONNECTION KEY WSVER END,
	    426);
	expect_refused(RL "Upgrade:\r\n" CONNECTION KEY WSVER END, 426);
}

Test(handshake, accepts_websocket_among_several_upgrade_tokens)
{
	expect_accepted(RL "Upgrade: h2c, websocket\r\n" CONNECTION KEY WSVER
	    END);
}

/* ---------------------------------------------------------------- */
/* subprotocols */

Test(handshake, picks_the_first_supported_subprotocol_in_the_clients_order)
{
	opts.subprotocols = BOTH_PROTOS;
	expect_accepted(RL UPGRADE CONNECTION KEY WSVER
	    "Sec-WebSocket-Protocol: foo, wschat.msgpack, wschat.json\r\n"
	    END);
	cr_assert_eq(res.subprotocol, WS_PROTO_MSGPACK);
	expect_accepted(RL UPGRADE CONNECTION KEY WSVER
	    "Sec-WebSocket-Protocol: wschat.json, wschat.msgpack\r\n" END);
	cr_assert_eq(res.subprotocol, WS_PROTO_JSON);
	expect_accepted(RL UPGRADE CONNECTION KEY WSVER
	    "Sec-WebSocket-Protocol: \t wschat.msgpack \t\r\n" END);
	cr_assert_eq(res.subprotocol, WS_PROTO_MSGPACK);
}

Test(handshake, picks_version_2_when_offered_and_spoken)
{
	opts.subprotocols = BOTH_PROTOS | 1 << WS_PROTO_JSON2 |
	    1 << WS_PROTO_MSGPACK2;
	expect_accepted(RL UPGRADE CONNECTION KEY WSVER
	    "Sec-WebSocket-Protocol: wschat.v3.json, wschat.v2.msgpack, "
	    "wschat.msgpack\r\n" END);
	cr_assert_eq(res.subprotocol, WS_PROTO_MSGPACK2);
	expect_accepted(RL UPGRADE CONNECTION KEY WSVER
	    "Sec-WebSocket-Protocol: wschat.v2.json\r\n" END);
	cr_assert_eq(res.subprotocol, WS_PROTO_JSON2);
	/* Not spoken by this endpoint: as if unknown. */
	opts.subprotocols = BOTH_PROTOS;
	expect_accepted(RL UPGRADE CONNECTION KEY WSVER
	    "Sec-WebSocket-Protocol: wschat.v2.json\r\n" END);
	cr_assert_eq(res.subprotocol, WS_PROTO_NONE);
}

Test(handshake, reads_subprotocols_from_several_header_lines)
{
	opts.subprotocols = BOTH_PROTOS;
	expect_accepted(RL UPGRADE CONNECTION KEY WSVER
	    "Sec-WebSocket-Protocol: foo\r\n"
	    "Sec-WebSocket-Protocol: wschat.json\r\n" END);
	cr_assert_eq(res.subprotocol, WS_PROTO_JSON);
	expect_accepted(RL UPGRADE CONNECTION KEY WSVER
	    "Sec-WebSocket-Protocol: foo, wschat.msgpack\r\n"
	    "sec-websocket-protocol: wschat.json\r\n" END);
	cr_assert_eq(res.subprotocol, WS_PROTO_MSGPACK);
}

Test(handshake, picks_no_subprotocol_when_none_is_supported)
{
	opts.subprotocols = BOTH_PROTOS;
	expect_accepted(RL UPGRADE CONNECTION KEY WSVER
	    "Sec-WebSocket-Protocol: chat, superchat\r\n" END);
	cr_assert_eq(res.subprotocol, WS_PROTO_NONE);
	expect_accepted(RL UPGRADE CONNECTION KEY WSVER
	    "Sec-WebSocket-Protocol: wschat, wschat.jsonx, xwschat.json, "
	    "wschat.json.x, wschat. json\r\n" END);
	cr_assert_eq(res.subprotocol, WS_PROTO_NONE);
	expect_accepted(RL UPGRADE CONNECTION KEY WSVER
	    "Sec-WebSocket-Protocol:\r\n" END);
	cr_assert_eq(res.subprotocol, WS_PROTO_NONE);
}

Test(handshake, compares_subprotocol_names_case_sensitively)
{
	opts.subprotocols = BOTH_PROTOS;
	expect_accepted(RL UPGRADE CONNECTION KEY WSVER
	    "Sec-WebSocket-Protocol: WSCHAT.JSON, Wschat.msgpack\r\n" END);
	cr_assert_eq(res.subprotocol, WS_PROTO_NONE);
}

Test(handshake, offers_only_the_subprotocols_of_the_endpoint)
{
	opts.subprotocols = 1 << WS_PROTO_JSON;
	expect_accepted(RL UPGRADE CONNECTION KEY WSVER
	    "Sec-WebSocket-Protocol: wschat.msgpack, wschat.json\r\n" END);
	cr_assert_eq(res.subprotocol, WS_PROTO_JSON);
	expect_accepted(RL UPGRADE CONNECTION KEY WSVER
	    "Sec-WebSocket-Protocol: wschat.msgpack\r\n" END);
	cr_assert_eq(res.subprotocol, WS_PROTO_NONE);
	opts.subprotocols = 0;
	expect_accepted(RL UPGRADE CONNECTION KEY WSVER
	    "Sec-WebSocket-Protocol: wschat.json, wschat.msgpack\r\n" END);
	cr_assert_eq(res.subprotocol, WS_PROTO_NONE);
}

Test(handshake, names_the_subprotocols)
{
	cr_assert_str_eq(http_ws_proto_name(WS_PROTO_JSON), "wschat.json");
	cr_assert_str_eq(http_ws_proto_name(WS_PROTO_MSGPACK),
	    "wschat.msgpack");
	cr_assert_str_eq(http_ws_proto_name(WS_PROTO_JSON2), "wschat.v2.json");
	cr_assert_str_eq(http_ws_proto_name(WS_PROTO_MSGPACK2),
	    "wschat.v2.msgpack");
	cr_assert_null(http_ws_proto_name(WS_PROTO_NONE));
	cr_assert_null(http_ws_proto_name(WS_PROTO_LAST + 1));
}

/* ---------------------------------------------------------------- */
/* origin */

Test(handshake, refuses_an_origin_the_hook_rejects_with_403)
{
	int	 cookie;

	opts.origin_ok = origin_cb;
	opts.origin_arg = &cookie;
	origin.answer = 0;
	expect_refused(RL UPGRADE CONNECTION KEY WSVER
	    "Origin: http://evil.example\r\n" END, 403);
	cr_assert_eq(origin.calls, 1);
	cr_assert_eq(origin.len, strlen("http://evil.example"));
	cr_assert_str_eq(origin.value, "http://evil.example");
	cr_assert_eq(origin.arg, &cookie);
}

Test(handshake, accepts_an_origin_the_hook_allows)
{
	opts.origin_ok = origin_cb;
	origin.answer = 1;
	expect_accepted(RL UPGRADE CONNECTION KEY WSVER
	    "Origin:  http://localhost:8080 \r\n" END);
	cr_assert_eq(origin.calls, 1);
	cr_assert_str_eq(origin.value, "http://localhost:8080");
}

Test(handshake, accepts_a_request_without_origin_even_with_a_hook)
{
	opts.origin_ok = origin_cb;
	origin.answer = 0;
	expect_accepted(GOOD_REQUEST);
	cr_assert_eq(origin.calls, 0);
}

Test(handshake, accepts_any_origin_without_a_hook)
{
	opts.origin_ok = NULL;
	expect_accepted(RL UPGRADE CONNECTION KEY WSVER
	    "Origin: http://anywhere.example\r\n" END);
}
