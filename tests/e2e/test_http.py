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
from wstest import RawWS

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

def daemon(name="default", **kw):
    return wstest.shared_daemon(name, **kw)


def plain():
    return daemon("default", workers=2)


# ---------------------------------------------------------------- helpers


def connect(port, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class Reader:
    """Reads HTTP responses one at a time off a socket (Content-Length
    framed), so that keep-alive and pipelining can be checked exactly."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _more(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("timed out; have %r" % self.buf[:300])
        self.sock.settimeout(left)
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError("server closed; have %r" % self.buf[:300])
        self.buf += chunk

    def response(self, head_only=False, timeout=5.0):
        """(status, headers (lower-case names -> list of values), body)."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            self._more(deadline)
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        ver, status, _ = (lines[0] + " ").split(" ", 2)
        assert ver == "HTTP/1.1", "status line %r" % lines[0]
        headers = {}
        for line in lines[1:]:
            k, sep, v = line.partition(":")
            assert sep and k == k.strip(), "bad header line %r" % line
            headers.setdefault(k.lower(), []).append(v.strip())
        n = 0 if head_only else int(one(headers, "content-length"))
        while len(self.buf) < n:
            self._more(deadline)
        body, self.buf = self.buf[:n], self.buf[n:]
        return int(status), headers, body

    def expect_eof(self, timeout=5.0):
        """The server closes the connection and sends nothing more."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._more(deadline)
            except EOFError:
                break
            except ConnectionResetError:
                break
        assert self.buf == b"", "bytes after the last response: %r" % \
            self.buf[:200]

    def expect_open(self, wait=0.3):
        """Nothing arrives and the connection is not closed."""
        self.sock.settimeout(wait)
        try:
            chunk = self.sock.recv(4096)
        except socket.timeout:
            return
        raise AssertionError("expected an open, quiet connection; got %r"
                             % chunk[:200])


def one(headers, name):
    vals = headers.get(name, [])
    assert len(vals) == 1, "header %s: %r (exactly one wanted)" % (name, vals)
    return vals[0]


def get(path, host="127.0.0.1", extra="", method="GET", version="1.1"):
    return ("%s %s HTTP/%s\r\nHost: %s\r\n%s\r\n" %
            (method, path, version, host, extra)).encode()


def exchange(port, data, head_only=False):
    """Send data on a new connection, read one response."""
    s = connect(port)
    try:
        s.sendall(data)
        return Reader(s).response(head_only)
    finally:
        s.close()


def expect_error(port, data, status, extra_headers=None, head_only=False):
    """data gets exactly one `status` response with Connection: close and a
    matching body, then the server closes the socket."""
    s = connect(port)
    try:
        s.sendall(data)
        r = Reader(s)
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
    s = connect(port)
    s.sendall(data)
    r = Reader(s)
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
    st, h, body = exchange(plain().port, get("/healthz"))
    assert st == 200, st
    assert body == b"ok\n", body
    assert one(h, "content-type") == "text/plain; charset=utf-8", h
    assert one(h, "content-length") == "3", h
    assert one(h, "connection") == "keep-alive", h


def test_healthz_head_has_headers_and_no_body():
    port = plain().port
    _, hget, _ = exchange(port, get("/healthz"))
    # A HEAD then a GET on one connection: if HEAD sent a body, the bytes
    # after its head would not be the GET's status line.
    s = connect(port)
    try:
        s.sendall(get("/healthz", method="HEAD"))
        r = Reader(s)
        st, h, _ = r.response(head_only=True)
        assert st == 200, st
        assert one(h, "content-type") == "text/plain; charset=utf-8", h
        assert one(h, "content-length") == one(hget, "content-length"), h
        r.expect_open()
        assert r.buf == b"", "HEAD sent a body: %r" % r.buf
        s.sendall(get("/healthz"))
        st, _, body = r.response()
        assert (st, body) == (200, b"ok\n"), (st, body)
    finally:
        s.close()


# ---------------------------------------------------------------- keep-alive


def test_keepalive_sequential_requests():
    s = connect(plain().port)
    try:
        r = Reader(s)
        for i in range(3):
            s.sendall(get("/healthz"))
            st, h, body = r.response()
            assert (st, body) == (200, b"ok\n"), (i, st, body)
            assert one(h, "connection") == "keep-alive", h
        r.expect_open()
    finally:
        s.close()


def test_pipelined_requests_answered_in_order():
    port = plain().port
    with open(os.path.join(wstest.SRCDIR, "www", "index.html"), "rb") as f:
        index = f.read()
    s = connect(port)
    try:
        s.sendall(get("/healthz") + get("/") + get("/healthz",
                                                    method="HEAD") +
                  get("/index.html"))
        r = Reader(s)
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
    s = connect(plain().port)
    try:
        s.sendall(get("/healthz", extra="Connection: close\r\n"))
        r = Reader(s)
        st, h, body = r.response()
        assert (st, body) == (200, b"ok\n"), (st, body)
        assert one(h, "connection") == "close", h
        r.expect_eof()
    finally:
        s.close()


def test_http10_without_keepalive_closes():
    s = connect(plain().port)
    try:
        s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
        r = Reader(s)
        st, h, body = r.response()
        assert (st, body) == (200, b"ok\n"), (st, body)
        assert one(h, "connection") == "close", h
        r.expect_eof()
    finally:
        s.close()


def test_http10_with_keepalive_stays_open():
    s = connect(plain().port)
    try:
        req = b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
        r = Reader(s)
        for _ in range(2):
            s.sendall(req)
            st, h, body = r.response()
            assert (st, body) == (200, b"ok\n"), (st, body)
            assert one(h, "connection") == "keep-alive", h
        r.expect_open()
    finally:
        s.close()


def test_bare_lf_line_endings_accepted():
    st, h, body = exchange(plain().port,
                           b"GET /healthz HTTP/1.1\nHost: x\n\n")
    assert (st, body) == (200, b"ok\n"), (st, body)


# ---------------------------------------------------------------- errors


def test_post_is_405():
    expect_error(plain().port, get("/", method="POST"), 405,
                 {"Allow": "GET, HEAD"})


def test_delete_is_405():
    expect_error(plain().port, get("/healthz", method="DELETE"), 405,
                 {"Allow": "GET, HEAD"})


def test_bad_method_character_is_400():
    expect_error(plain().port, get("/", method="G@T"), 400)


def test_http2_version_is_505():
    expect_error(plain().port, get("/", version="2.0"), 505)


def test_missing_host_is_400():
    expect_error(plain().port, b"GET /healthz HTTP/1.1\r\n\r\n", 400)


def test_two_host_headers_is_400():
    expect_error(plain().port, get("/healthz", extra="Host: other\r\n"), 400)


def test_chunked_body_is_501():
    expect_error(plain().port,
                 get("/healthz", extra="Transfer-Encoding: chunked\r\n"),
                 501)


def test_request_body_is_413():
    expect_error(plain().port,
                 get("/healthz", extra="Content-Length: 5\r\n"), 413)


def test_bare_cr_in_header_is_400():
    expect_error(plain().port, get("/healthz", extra="X-A: b\rc\r\n"), 400)


def test_obs_fold_is_400():
    expect_error(plain().port,
                 get("/healthz", extra="X-A: b\r\n  folded\r\n"), 400)


def test_space_before_colon_is_400():
    expect_error(plain().port,
                 b"GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n", 400)


def test_long_request_line_is_414():
    # Default max_request_line 4096, complete request.
    expect_error(plain().port, get("/" + "a" * 5000), 414)


def test_long_request_line_without_lf_is_414():
    # The LF never comes: the server must not wait for it.
    expect_error(plain().port, b"GET /" + b"a" * 5000, 414)


def test_max_request_line_option_is_414():
    port = daemon("short", workers=1,
                  opts={"max_request_line": 1024}).port
    expect_error(port, b"GET /" + b"a" * 1500, 414)
    expect_error(port, get("/" + "a" * 1100), 414)
    # Just under the limit is a request like any other (a 404 here).
    st, _, _ = exchange(port, get("/" + "a" * 900))
    assert st == 404, st


def test_head_too_large_is_431():
    # 10 headers of 1000 bytes: under max_headers, over max_header_size.
    extra = "".join("X-H%d: %s\r\n" % (i, "v" * 1000) for i in range(10))
    expect_error(plain().port, get("/healthz", extra=extra), 431)


def test_head_too_large_without_end_is_431():
    extra = "".join("X-H%d: %s\r\n" % (i, "v" * 1000) for i in range(9))
    expect_error(plain().port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" +
                 extra.encode(), 431)


def test_too_many_headers_is_431():
    extra = "".join("X-H%d: v\r\n" % i for i in range(70))
    expect_error(plain().port, get("/healthz", extra=extra), 431)
    # 63 + Host = 64 is the limit and fine.
    extra = "".join("X-H%d: v\r\n" % i for i in range(63))
    st, _, body = exchange(plain().port, get("/healthz", extra=extra))
    assert (st, body) == (200, b"ok\n"), (st, body)


def test_error_after_pipelined_good_request():
    s = connect(plain().port)
    try:
        s.sendall(get("/healthz") + get("/", method="POST") +
                  get("/healthz"))
        r = Reader(s)
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
    s = connect(timeout_port())
    try:
        t = closed_within(s, 3.0)
        assert t >= 0.5, "closed after %.2fs, before http_timeout" % t
    finally:
        s.close()


def test_partial_request_line_times_out():
    s = connect(timeout_port())
    try:
        s.sendall(b"GET /heal")
        closed_within(s, 3.0)
    finally:
        s.close()


def test_idle_keepalive_connection_times_out():
    s = connect(timeout_port())
    try:
        s.sendall(get("/healthz"))
        st, _, _ = Reader(s).response()
        assert st == 200, st
        closed_within(s, 3.0)
    finally:
        s.close()


# ---------------------------------------------------------------- upgrade


def test_ws_endpoints_without_upgrade_are_426():
    for path in ("/ws", "/echo"):
        expect_error(plain().port, get(path), 426,
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
    expect_error(port, get("/echo"), 404)
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
