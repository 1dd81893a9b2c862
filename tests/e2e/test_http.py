#!/usr/bin/env python3
"""End-to-end tests of wschatd's HTTP/1.1 side over real sockets: the
request parser (keep-alive, pipelining, every error status), timeouts,
/healthz, and the WebSocket opening handshake (RFC 6455, 4.2) with its
refusals, subprotocols and Origin allowlist."""

import base64
import hashlib
import os
import socket
import time

import websockets

import wstest
from wstest import HTTPReader, RawWS, one, request, tcp_connect

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

def daemon(name="default", **kw):
    return wstest.shared_daemon(name, **kw)


def plain():
    return daemon("default", workers=2)


# ---------------------------------------------------------------- helpers


def exchange(port, data, head_only=False):
    """Send data on a new connection, read one response."""
    s = tcp_connect(port)
    try:
        s.sendall(data)
        return HTTPReader(s).response(head_only)
    finally:
        s.close()


def expect_error(port, data, status, extra_headers=None, head_only=False):
    """data gets exactly one `status` response with Connection: close and a
    matching body, then the server closes the socket."""
    s = tcp_connect(port)
    try:
        s.sendall(data)
        r = HTTPReader(s)
        st, h, body = r.response(head_only)
        assert st == status, "%r: got %d, expected %d (%r)" % (
            data[:80], st, status, body)
        assert one(h, "connection") == "close", h
        if not head_only:
            assert body.startswith(b"%d " % status), body
        for k, v in (extra_headers or {}).items():
            assert one(h, k.lower()) == v, "%s: %r" % (k, h.get(k.lower()))
        r.expect_eof()
        return h
    finally:
        s.close()


def ws_key():
    return base64.b64encode(os.urandom(16)).decode()


def ws_accept(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode())
                            .digest()).decode()


def upgrade_request(path, port, key=None, extra="", connection="Upgrade",
                    upgrade_line="Upgrade: websocket", version="13"):
    key = key or ws_key()
    return ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n"
            "Connection: %s\r\nSec-WebSocket-Key: %s\r\n"
            "Sec-WebSocket-Version: %s\r\n%s\r\n" %
            (path, port, upgrade_line, connection, key, version,
             extra)).encode()


def raw_upgrade(port, data):
    """Send an upgrade request; return (status, headers, RawWS or None):
    on 101 a RawWS on the same socket, for frames."""
    s = tcp_connect(port)
    s.sendall(data)
    r = HTTPReader(s)
    st, h, _ = r.response(head_only=True)
    if st != 101:
        # An error response carries a body: read it, and the close.
        n = int(one(h, "content-length"))
        while len(r.buf) < n:
            r._more(time.monotonic() + 5)
        r.buf = r.buf[n:]
        r.expect_eof()
        s.close()
        return st, h, None
    ws = RawWS.__new__(RawWS)
    ws.sock, ws.buf = s, r.buf
    return st, h, ws


def check_echo(ws, text="hello"):
    ws.send_frame(0x1, text)
    op, data = ws.recv_message()
    assert (op, data) == (0x1, text.encode()), (op, data)


# ---------------------------------------------------------------- /healthz


def test_healthz_get():
    st, h, body = exchange(plain().port, request("/healthz"))
    assert st == 200, st
    assert body == b"ok\n", body
    assert one(h, "content-type") == "text/plain; charset=utf-8", h
    assert one(h, "content-length") == "3", h
    assert one(h, "connection") == "keep-alive", h


def test_healthz_head_has_headers_and_no_body():
    port = plain().port
    _, hget, _ = exchange(port, request("/healthz"))
    # A HEAD then a GET on one connection: if HEAD sent a body, the bytes
    # after its head would not be the GET's status line.
    s = tcp_connect(port)
    try:
        s.sendall(request("/healthz", method="HEAD"))
        r = HTTPReader(s)
        st, h, _ = r.response(head_only=True)
        assert st == 200, st
        assert one(h, "content-type") == "text/plain; charset=utf-8", h
        assert one(h, "content-length") == one(hget, "content-length"), h
        r.expect_open()
        assert r.buf == b"", "HEAD sent a body: %r" % r.buf
        s.sendall(request("/healthz"))
        st, _, body = r.response()
        assert (st, body) == (200, b"ok\n"), (st, body)
    finally:
        s.close()


# ---------------------------------------------------------------- keep-alive


def healthz_on_one_connection(req, times, connection):
    """Send req, a /healthz request, `times` times on one connection, each
    after the answer to the one before: each gets "ok" with this
    Connection header; then the server closes the connection ("close") or
    leaves it open and quiet ("keep-alive")."""
    s = tcp_connect(plain().port)
    try:
        r = HTTPReader(s)
        for i in range(times):
            s.sendall(req)
            st, h, body = r.response()
            assert (st, body) == (200, b"ok\n"), (i, st, body)
            assert one(h, "connection") == connection, h
        if connection == "close":
            r.expect_eof()
        else:
            r.expect_open()
    finally:
        s.close()


def test_keepalive_sequential_requests():
    healthz_on_one_connection(request("/healthz"), 3, "keep-alive")


def test_pipelined_requests_answered_in_order():
    port = plain().port
    with open(os.path.join(wstest.SRCDIR, "www", "index.html"), "rb") as f:
        index = f.read()
    s = tcp_connect(port)
    try:
        s.sendall(request("/healthz") + request("/") +
                  request("/healthz", method="HEAD") +
                  request("/index.html"))
        r = HTTPReader(s)
        st, h, body = r.response()
        assert (st, body) == (200, b"ok\n"), (st, body)
        st, h, body = r.response()
        assert st == 200 and body == index, (st, body[:100])
        assert one(h, "content-type") == "text/html; charset=utf-8", h
        st, h, _ = r.response(head_only=True)
        assert st == 200 and one(h, "content-length") == "3", (st, h)
        st, h, body = r.response()
        assert st == 200 and body == index, (st, body[:100])
        r.expect_open()
        assert r.buf == b"", r.buf[:100]
    finally:
        s.close()


def test_connection_close_is_honoured():
    healthz_on_one_connection(
        request("/healthz", extra="Connection: close\r\n"), 1, "close")


def test_http10_without_keepalive_closes():
    healthz_on_one_connection(b"GET /healthz HTTP/1.0\r\n\r\n", 1, "close")


def test_http10_with_keepalive_stays_open():
    healthz_on_one_connection(
        b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 2,
        "keep-alive")


def test_bare_lf_line_endings_accepted():
    st, h, body = exchange(plain().port,
                           b"GET /healthz HTTP/1.1\nHost: x\n\n")
    assert (st, body) == (200, b"ok\n"), (st, body)


# ---------------------------------------------------------------- errors


def test_post_is_405():
    expect_error(plain().port, request("/", method="POST"), 405,
                 {"Allow": "GET, HEAD"})


def test_delete_is_405():
    expect_error(plain().port, request("/healthz", method="DELETE"), 405,
                 {"Allow": "GET, HEAD"})


def test_bad_method_character_is_400():
    expect_error(plain().port, request("/", method="G@T"), 400)


def test_http2_version_is_505():
    expect_error(plain().port, request("/", version="2.0"), 505)


def test_missing_host_is_400():
    expect_error(plain().port, b"GET /healthz HTTP/1.1\r\n\r\n", 400)


def test_two_host_headers_is_400():
    expect_error(plain().port,
                 request("/healthz", extra="Host: other\r\n"), 400)


def test_chunked_body_is_501():
    expect_error(plain().port,
                 request("/healthz", extra="Transfer-Encoding: chunked\r\n"),
                 501)


def test_request_body_is_413():
    expect_error(plain().port,
                 request("/healthz", extra="Content-Length: 5\r\n"), 413)


def test_bare_cr_in_header_is_400():
    expect_error(plain().port, request("/healthz", extra="X-A: b\rc\r\n"), 400)


def test_obs_fold_is_400():
    expect_error(plain().port,
                 request("/healthz", extra="X-A: b\r\n  folded\r\n"), 400)


def test_space_before_colon_is_400():
    expect_error(plain().port,
                 b"GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n", 400)


def test_long_request_line_is_414():
    # Default max_request_line 4096, complete request.
    expect_error(plain().port, request("/" + "a" * 5000), 414)


def test_long_request_line_without_lf_is_414():
    # The LF never comes: the server must not wait for it.
    expect_error(plain().port, b"GET /" + b"a" * 5000, 414)


def test_max_request_line_option_is_414():
    port = daemon("short", workers=1,
                  opts={"max_request_line": 1024}).port
    expect_error(port, b"GET /" + b"a" * 1500, 414)
    expect_error(port, request("/" + "a" * 1100), 414)
    # Just under the limit is a request like any other (a 404 here).
    st, _, _ = exchange(port, request("/" + "a" * 900))
    assert st == 404, st


def test_head_too_large_is_431():
    # 10 headers of 1000 bytes: under max_headers, over max_header_size.
    extra = "".join("X-H%d: %s\r\n" % (i, "v" * 1000) for i in range(10))
    expect_error(plain().port, request("/healthz", extra=extra), 431)


def test_head_too_large_without_end_is_431():
    extra = "".join("X-H%d: %s\r\n" % (i, "v" * 1000) for i in range(9))
    expect_error(plain().port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" +
                 extra.encode(), 431)


def test_too_many_headers_is_431():
    extra = "".join("X-H%d: v\r\n" % i for i in range(70))
    expect_error(plain().port, request("/healthz", extra=extra), 431)
    # 63 + Host = 64 is the limit and fine.
    extra = "".join("X-H%d: v\r\n" % i for i in range(63))
    st, _, body = exchange(plain().port, request("/healthz", extra=extra))
    assert (st, body) == (200, b"ok\n"), (st, body)


def test_error_after_pipelined_good_request():
    s = tcp_connect(plain().port)
    try:
        s.sendall(request("/healthz") + request("/", method="POST") +
                  request("/healthz"))
        r = HTTPReader(s)
        st, _, body = r.response()
        assert (st, body) == (200, b"ok\n"), (st, body)
        st, h, _ = r.response()
        assert st == 405, st
        assert one(h, "connection") == "close", h
        r.expect_eof()      # the third request is never answered
    finally:
        s.close()


# ---------------------------------------------------------------- timeouts


def timeout_port():
    return daemon("timeout", workers=1, opts={"http_timeout": 1}).port


def closed_within(s, limit):
    """Seconds until the server closes s; fails after limit seconds."""
    t0 = time.monotonic()
    s.settimeout(limit)
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
    except ConnectionResetError:
        pass
    except socket.timeout:
        raise AssertionError("connection still open after %ss" % limit)
    return time.monotonic() - t0


def test_idle_connection_times_out():
    s = tcp_connect(timeout_port())
    try:
        t = closed_within(s, 3.0)
        assert t >= 0.5, "closed after %.2fs, before http_timeout" % t
    finally:
        s.close()


def test_partial_request_line_times_out():
    s = tcp_connect(timeout_port())
    try:
        s.sendall(b"GET /heal")
        closed_within(s, 3.0)
    finally:
        s.close()


def test_idle_keepalive_connection_times_out():
    s = tcp_connect(timeout_port())
    try:
        s.sendall(request("/healthz"))
        st, _, _ = HTTPReader(s).response()
        assert st == 200, st
        closed_within(s, 3.0)
    finally:
        s.close()


# ---------------------------------------------------------------- upgrade


def test_ws_endpoints_without_upgrade_are_426():
    for path in ("/ws", "/echo"):
        expect_error(plain().port, request(path), 426,
                     {"Upgrade": "websocket", "Sec-WebSocket-Version": "13"})


def test_unsupported_ws_version_is_426():
    port = plain().port
    st, h, ws = raw_upgrade(port, upgrade_request("/echo", port,
                                                  version="8"))
    assert st == 426, st
    assert one(h, "sec-websocket-version") == "13", h
    assert one(h, "connection") == "close", h


def test_bad_ws_key_is_400():
    port = plain().port
    for key in ("abc", "dGhlIHNhbXBsZSBub25jZQ", "!!!!!!!!!!!!!!!!!!!!!!=="):
        st, h, _ = raw_upgrade(port, upgrade_request("/echo", port, key=key))
        assert st == 400, (key, st)
        assert one(h, "connection") == "close", h


def test_upgrade_without_connection_upgrade_is_400():
    port = plain().port
    st, h, _ = raw_upgrade(port, upgrade_request("/echo", port,
                                                 connection="keep-alive"))
    assert st == 400, st


def test_connection_token_list_and_mixed_case_upgrade():
    port = plain().port
    st, h, ws = raw_upgrade(port, upgrade_request(
        "/echo", port, connection="keep-alive, Upgrade"))
    assert st == 101, st
    try:
        check_echo(ws, "token list")
    finally:
        ws.close()
    st, h, ws = raw_upgrade(port, upgrade_request(
        "/echo", port, upgrade_line="upgrade: WebSocket",
        connection="upgrade"))
    assert st == 101, st
    try:
        check_echo(ws, "mixed case")
    finally:
        ws.close()


def test_upgrade_elsewhere_is_404():
    port = plain().port
    for path in ("/index.html", "/healthz", "/missing"):
        st, h, _ = raw_upgrade(port, upgrade_request(path, port))
        assert st == 404, (path, st)
        assert one(h, "connection") == "close", h


def test_echo_off():
    port = daemon("noecho", workers=1, opts={"echo": "off"}).port
    expect_error(port, request("/echo"), 404)
    st, _, _ = raw_upgrade(port, upgrade_request("/echo", port))
    assert st == 404, st
    st, _, ws = raw_upgrade(port, upgrade_request("/ws", port))
    assert st == 101, st
    ws.close()


def test_ws_accept_is_correct():
    port = plain().port
    # RFC 6455's own example first, then random keys.
    for key in ["dGhlIHNhbXBsZSBub25jZQ=="] + [ws_key() for _ in range(5)]:
        st, h, ws = raw_upgrade(port, upgrade_request("/echo", port, key))
        assert st == 101, st
        try:
            want = ws_accept(key)
            if key == "dGhlIHNhbXBsZSBub25jZQ==":
                assert want == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
            assert one(h, "sec-websocket-accept") == want, h
            assert one(h, "upgrade").lower() == "websocket", h
            assert one(h, "connection").lower() == "upgrade", h
            check_echo(ws)
        finally:
            ws.close()


# ---------------------------------------------------------------- subprotocols


async def _subprotocol(port, path, offered):
    async with websockets.connect("ws://127.0.0.1:%d%s" % (port, path),
                                  subprotocols=offered) as ws:
        return ws.subprotocol


def subprotocol(path, offered):
    return wstest.run_async(_subprotocol(plain().port, path, offered),
                            timeout=10)


def test_subprotocol_msgpack():
    got = subprotocol("/ws", ["wschat.msgpack"])
    assert got == "wschat.msgpack", got


def test_subprotocol_json_preferred_first():
    got = subprotocol("/ws", ["wschat.json", "wschat.msgpack"])
    assert got == "wschat.json", got


def test_unknown_subprotocol_not_selected():
    got = subprotocol("/ws", ["other"])
    assert got is None, got
    port = plain().port
    st, h, ws = raw_upgrade(port, upgrade_request(
        "/ws", port, extra="Sec-WebSocket-Protocol: other\r\n"))
    assert st == 101, st
    ws.close()
    assert "sec-websocket-protocol" not in h, h


def test_echo_never_selects_a_subprotocol():
    got = subprotocol("/echo", ["wschat.json"])
    assert got is None, got
    port = plain().port
    st, h, ws = raw_upgrade(port, upgrade_request(
        "/echo", port,
        extra="Sec-WebSocket-Protocol: wschat.json, wschat.msgpack\r\n"))
    assert st == 101, st
    ws.close()
    assert "sec-websocket-protocol" not in h, h


# ---------------------------------------------------------------- Origin


def origin_port():
    return daemon("origin", workers=1, opts={
        "allowed_origins": "http://good.example https://other.example"}).port


def test_allowed_origin_accepted():
    port = origin_port()
    for origin in ("http://good.example", "https://other.example"):
        st, _, ws = raw_upgrade(port, upgrade_request(
            "/echo", port, extra="Origin: %s\r\n" % origin))
        assert st == 101, (origin, st)
        ws.close()

    async def go():
        async with websockets.connect("ws://127.0.0.1:%d/echo" % port,
                                      origin="http://good.example") as ws:
            await ws.send("hi")
            return await ws.recv()
    assert wstest.run_async(go(), timeout=10) == "hi"


def test_foreign_origin_is_403():
    port = origin_port()
    for origin in ("http://evil.example", "http://good.example.evil",
                   "http://good.exampl", "null"):
        st, h, _ = raw_upgrade(port, upgrade_request(
            "/echo", port, extra="Origin: %s\r\n" % origin))
        assert st == 403, (origin, st)
        assert one(h, "connection") == "close", h


def test_no_origin_accepted():
    port = origin_port()
    st, _, ws = raw_upgrade(port, upgrade_request("/echo", port))
    assert st == 101, st
    try:
        check_echo(ws)
    finally:
        ws.close()


if __name__ == "__main__":
    wstest.main()
