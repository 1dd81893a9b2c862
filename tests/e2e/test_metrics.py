#!/usr/bin/env python3
"""End-to-end tests of GET /metrics: the Prometheus text format, read
line by line as a scraper would; every worker labelled; the figures
moving by at least the traffic a test sends (WebSocket chat and echo, a
line user, an HTTP error, a protocol error, a rate-limited command, a
slow consumer) and the gauges coming back down once the clients are
gone; metrics_allow (403) and metrics off (404).

Each test that compares figures has a daemon of its own, so that the
differences it sees are its own traffic.  Figures are read by polling
with a deadline, never after a fixed sleep."""

import asyncio
import os
import re
import socket
import subprocess
import time

import websockets

import wstest
from chatclient import connect
from wstest import HTTPReader, RawWS, SlowWS, one, request, tcp_connect

CTYPE = "text/plain; version=0.0.4; charset=utf-8"
SAMPLE = re.compile(r'^([a-z_]+)(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})?'
                    r' ([0-9.e+-]+)$')
LABEL = re.compile(r'([a-z_]+)="([^"]*)"')


def daemon(name, **kw):
    kw.setdefault("workers", 2)
    return wstest.shared_daemon(name, **kw)


class Metrics:
    """One scrape, parsed and checked: every line a HELP, a TYPE or a
    sample; HELP then TYPE before a family's samples; each family once;
    counters and only counters named _total."""

    def __init__(self, body):
        text = body.decode("utf-8")
        assert text.endswith("\n"), "no final newline: %r" % text[-80:]
        self.types = {}
        self.samples = []
        helped = family = None
        for line in text.split("\n")[:-1]:
            if line.startswith("# HELP "):
                parts = line.split(" ", 3)
                assert len(parts) == 4 and parts[3], line
                helped, family = parts[2], None
                assert helped not in self.types, "twice: %s" % line
            elif line.startswith("# TYPE "):
                _, _, name, typ = line.split(" ")
                assert name == helped, "TYPE without its HELP: %s" % line
                assert typ in ("counter", "gauge"), line
                assert (typ == "counter") == name.endswith("_total"), line
                self.types[name] = typ
                family = name
            else:
                m = SAMPLE.match(line)
                assert m, "not Prometheus text: %r" % line
                assert m.group(1) == family, \
                    "sample %r outside its family (%s)" % (line, family)
                self.samples.append((m.group(1),
                                     dict(LABEL.findall(m.group(2) or "")),
                                     float(m.group(4))))

    def get(self, name, **labels):
        """The sum of name's samples that have these labels."""
        assert name in self.types, "no family %s" % name
        return sum(v for n, lab, v in self.samples if n == name and
                   all(lab.get(k) == str(x) for k, x in labels.items()))

    def workers(self, name):
        return sorted(lab.get("worker") for n, lab, _ in self.samples
                      if n == name)


def scrape_raw(d, method="GET"):
    """One request for /metrics on a new connection: (status, headers,
    body)."""
    s = tcp_connect(d.port)
    try:
        s.sendall(request("/metrics", method,
                          extra="Connection: close\r\n"))
        return HTTPReader(s).response(head_only=method == "HEAD")
    finally:
        s.close()


def scrape(d):
    st, h, body = scrape_raw(d)
    assert st == 200, (st, body[:200])
    return Metrics(body)


def until(d, pred, what, timeout=15.0):
    """Scrape until pred(metrics) holds; returns those metrics."""
    deadline = time.monotonic() + timeout
    while True:
        m = scrape(d)
        if pred(m):
            return m
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(0.05)


class Delta:
    """The difference of one figure between two scrapes."""

    def __init__(self, before, after):
        self.b, self.a = before, after

    def __call__(self, name, **labels):
        return self.a.get(name, **labels) - self.b.get(name, **labels)


# ---------------------------------------------------------------- format


def test_content_type_and_every_line_parses():
    d = daemon("plain")
    st, h, body = scrape_raw(d)
    assert st == 200, st
    assert one(h, "content-type") == CTYPE, h
    assert one(h, "cache-control") == "no-store", h
    m = Metrics(body)
    assert m.get("wschatd_workers") == 2
    assert m.get("wschatd_users_online") == 0
    assert [lab for n, lab, v in m.samples if n == "wschatd_build_info"] \
        == [{"version": re.search(r"wschatd/(\S+)", one(
            h, "server")).group(1)}]
    now = time.time()
    for w in ("0", "1"):
        t = m.get("wschatd_worker_start_time_seconds", worker=w)
        assert now - 600 < t <= now + 1, t
    # The figures the issue asks for are all there.
    for name in ("wschatd_connections", "wschatd_messages_received_total",
                 "wschatd_messages_sent_total",
                 "wschatd_received_bytes_total",
                 "wschatd_sent_bytes_total",
                 "wschatd_slow_consumers_dropped_total",
                 "wschatd_bus_lag_bytes", "wschatd_bus_lost_total",
                 "wschatd_bus_published_total", "wschatd_bus_read_total",
                 "wschatd_http_responses_total"):
        assert name in m.types, name
    # This very connection is open, as HTTP, on one worker.
    assert m.get("wschatd_connections", kind="http") >= 1


def test_head_has_the_headers_and_no_body():
    d = daemon("plain")
    with tcp_connect(d.port) as s:
        s.sendall(request("/metrics", "HEAD") + request("/healthz"))
        r = HTTPReader(s)
        st, h, body = r.response(head_only=True)
        assert st == 200 and one(h, "content-type") == CTYPE, (st, h)
        assert int(one(h, "content-length")) > 1000, h
        # Had HEAD sent a body, this would read it as a status line.
        st, h, body = r.response()
        assert (st, body) == (200, b"ok\n"), (st, body)


def test_every_worker_is_labelled_in_every_family():
    d = daemon("four", workers=4, line=False)
    m = scrape(d)
    assert m.get("wschatd_workers") == 4
    for name in m.types:
        if name in ("wschatd_build_info", "wschatd_workers",
                    "wschatd_users_online", "wschatd_reloads_total",
                    "wschatd_worker_respawns_total") or \
                name.startswith("wschatd_history_"):
            continue
        ws = m.workers(name)
        assert sorted(set(ws)) == ["0", "1", "2", "3"], (name, ws)
        # As many samples for each worker.
        assert len(ws) == 4 * ws.count("0"), (name, ws)


# ---------------------------------------------------------------- traffic


async def line_user(d):
    """A line-port user, online once its own announcement came back."""
    r, w = await asyncio.open_connection("127.0.0.1", d.line_port)
    me = "127.0.0.1:%d" % w.get_extra_info("sockname")[1]
    await asyncio.wait_for(r.readuntil(
        ("[%s]%s: online\n" % (me, me)).encode()), 10)
    return r, w


async def read_lines(r, pred, n, timeout=10):
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        line = await asyncio.wait_for(r.readline(),
                                      max(0.01, deadline - time.monotonic()))
        assert line, "line user closed after %r" % got
        if pred(line):
            got.append(line)
    return got


def test_figures_move_when_traffic_flows():
    C, K, L, E, SIZE = 3, 4, 3, 3, 20000
    d = daemon("traffic", opts={"command_rate": 3})
    before = scrape(d)
    assert before.get("wschatd_connections", kind="ws_chat") == 0
    held = {"chat": []}

    async def go():
        try:
            await traffic()
        finally:
            for c in held["chat"]:
                await c.close()
            if "echo" in held:
                await held["echo"].close()
            if "line" in held:
                held["line"].close()

    async def traffic():
        chat = held["chat"]
        for _ in range(C):
            chat.append(await connect(d))
        for i, c in enumerate(chat):
            await c.login("m%d" % i)
        lr, lw = await line_user(d)
        held["line"] = lw
        echo = await websockets.connect(
            "ws://127.0.0.1:%d/echo" % d.port, max_size=None,
            ping_interval=None)
        held["echo"] = echo

        # All open: the gauges say exactly what is connected.
        until(d, lambda m: (
            m.get("wschatd_connections", kind="ws_chat"),
            m.get("wschatd_connections", kind="ws_echo"),
            m.get("wschatd_connections", kind="line"),
            m.get("wschatd_users_online")) == (C, 1, 1, C + 1),
            "the connection gauges")

        for k in range(K):
            for i, c in enumerate(chat):
                await c.send({"type": "user", "content": "c%d-%d" % (i, k)})
        for k in range(L):
            lw.write(b"line %d\n" % k)
        await lw.drain()
        for c in chat:
            await c.until(lambda c: c.ntype.get("user", 0) >= C * K + L,
                          10, "every chat message")
        await read_lines(lr, lambda ln: b": c" in ln or b": line " in ln,
                         C * K + L)
        for k in range(E):
            payload = bytes([65 + k]) * SIZE
            await echo.send(payload)
            assert await asyncio.wait_for(echo.recv(), 10) == payload
        # Three commands a minute: the login and two who, then a refusal.
        for _ in range(3):
            await chat[0].send({"type": "who"})
        await chat[0].find(type="system", code="rate_limited")

    wstest.run_async(go(), 60)

    # A protocol error (an unmasked frame) and an HTTP error.
    raw = RawWS(d.port, "/echo")
    raw.send_frame(0x1, b"x", mask=False)
    raw.expect_close(1002)
    raw.close()
    assert wstest.http_raw(d.port, request("/no/such/file")).startswith(
        b"HTTP/1.1 404 ")

    published = C + C * K + L + 1       # logins, chat, the line login
    after = until(d, lambda m: Delta(before, m)(
        "wschatd_bus_read_total") >= 2 * published and Delta(before, m)(
        "wschatd_websocket_protocol_errors_total", code=1002) >= 1,
        "every worker to read every record")
    dl = Delta(before, after)
    assert dl("wschatd_connections_accepted_total") >= C + 3, \
        dl("wschatd_connections_accepted_total")
    assert dl("wschatd_messages_received_total", protocol="websocket") >= \
        C + C * K + 3 + E
    assert dl("wschatd_messages_received_total", protocol="line") == L
    assert dl("wschatd_messages_sent_total", protocol="websocket") >= \
        C * (C * K + L) + E
    assert dl("wschatd_messages_sent_total", protocol="line") >= C * K + L
    assert dl("wschatd_chat_messages_total") == C * K + L
    assert dl("wschatd_received_bytes_total") >= E * SIZE + C * K * 30
    assert dl("wschatd_sent_bytes_total") >= E * SIZE + C * (C * K + L) * 30
    assert dl("wschatd_http_responses_total", code="1xx") == C + 2
    assert dl("wschatd_http_responses_total", code="4xx") == 1
    assert dl("wschatd_http_responses_total", code="2xx") >= 1
    assert dl("wschatd_websocket_protocol_errors_total", code=1002) == 1
    assert dl("wschatd_websocket_protocol_errors_total", code=1009) == 0
    assert dl("wschatd_rate_limited_total") == 1
    assert dl("wschatd_bus_published_total") >= published
    assert dl("wschatd_bus_wakeups_sent_total") >= 1
    assert dl("wschatd_bus_lost_total") == 0
    assert dl("wschatd_slow_consumers_dropped_total") == 0

    # Everyone gone: the gauges come back down, the bus is read up.
    until(d, lambda m: (
        m.get("wschatd_connections", kind="ws_chat"),
        m.get("wschatd_connections", kind="ws_echo"),
        m.get("wschatd_connections", kind="line"),
        m.get("wschatd_users_online"),
        m.get("wschatd_bus_lag_bytes")) == (0, 0, 0, 0, 0),
        "the gauges to go back to 0")


def test_a_dropped_slow_consumer_is_counted():
    d = daemon("slow", line=False, opts={"max_pending": 131072,
                                         "max_text_length": "64k"})
    before = scrape(d)
    # The kernel takes up to tcp_wmem's maximum for the slow client before
    # the daemon holds any unsent data: send half as much again.
    pad = "x" * 30000
    with open("/proc/sys/net/ipv4/tcp_wmem") as f:
        wmem_max = int(f.read().split()[2])
    n = wmem_max * 3 // 2 // len(pad) + 10
    slow = SlowWS(d.port)

    async def go():
        sender = await connect(d)
        try:
            # At most two of its own messages in flight: the sender never
            # comes near max_pending, however slowly it reads.
            for k in range(n):
                await sender.until(lambda c: c.ntype.get("user", 0) >= k - 1,
                                   10, "message %d" % (k - 1))
                await sender.send({"type": "user", "content": pad})
        finally:
            await sender.close()

    try:
        wstest.run_async(go(), 90)
        after = until(d, lambda m: Delta(before, m)(
            "wschatd_slow_consumers_dropped_total") >= 1,
            "the slow consumer to be counted")
    finally:
        slow.close()
    assert Delta(before, after)("wschatd_slow_consumers_dropped_total") == 1
    assert "slow consumer:" in d.log()


def test_idle_kick_is_counted():
    d = daemon("idle", line=False, opts={"ws_idle_timeout": 1})
    before = scrape(d)

    async def go():
        c = await connect(d)
        await c.find(timeout=10, type="system", code="idle_timeout")
        await c.close()
    wstest.run_async(go(), 30)
    until(d, lambda m: Delta(before, m)("wschatd_idle_kicked_total") == 1,
          "the idle kick to be counted")


def test_refused_connections_are_counted_by_reason():
    # Every connection counts against the limits, scrapes too: this test
    # scrapes over one keep-alive connection of its own, from 127.0.0.3,
    # and waits for the server's EOF on each connection it gives up, so
    # that no connection still closing changes what the next one gets.
    d = daemon("refuse", workers=1, line=False,
               opts={"max_connections": 5, "max_connections_per_ip": 3})

    def connect_from(addr):
        return socket.create_connection(("127.0.0.1", d.port), timeout=10,
                                        source_address=(addr, 0))

    def answer(s):
        s.sendall(request("/healthz"))
        return HTTPReader(s).response()[0]

    def let_go(s):
        """Close, and wait until the server has closed its end too."""
        s.shutdown(socket.SHUT_WR)
        s.settimeout(30)
        while s.recv(4096):
            pass
        s.close()

    scraper = connect_from("127.0.0.3")
    reader = HTTPReader(scraper, timeout=10)

    def scrape_here():
        scraper.sendall(request("/metrics"))
        st, _, body = reader.response()
        assert st == 200, (st, body[:200])
        return Metrics(body)
    held = []
    try:
        before = scrape_here()
        for _ in range(3):
            held.append(connect_from("127.0.0.1"))
            assert answer(held[-1]) == 200
        for _ in range(2):      # 127.0.0.1 has its 3
            s = connect_from("127.0.0.1")
            assert answer(s) == 503
            s.close()
        held.append(connect_from("127.0.0.2"))  # the worker's 5th
        assert answer(held[-1]) == 200
        s = connect_from("127.0.0.2")           # a 6th: max_connections
        assert answer(s) == 503
        s.close()
        while held:
            let_go(held.pop())
        m = scrape_here()
    finally:
        for s in held:
            s.close()
        scraper.close()
    assert m.get("wschatd_connections", kind="http") == 1   # the scraper
    dl = Delta(before, m)
    assert dl("wschatd_connections_refused_total",
              reason="max_connections_per_ip") == 2
    assert dl("wschatd_connections_refused_total",
              reason="max_connections") == 1
    assert dl("wschatd_connections_refused_total",
              reason="out_of_memory") == 0


def test_log_lines_past_log_client_rate_are_counted():
    d = daemon("quietlog", workers=1, line=False,
               opts={"log_client_rate": 1})
    before = scrape(d)
    for _ in range(30):
        wstest.http_raw(d.port, request("/", method="G@T"))

    def reported():
        return sum(int(x) for x in re.findall(
            r"(\d+) lines? about clients not logged", d.log()))
    # Each line is logged or counted; the log reports the count once a
    # second (maybe in several reports, when the requests outlast one),
    # and /metrics has the same count from the same sweep.
    def accounted(m):
        n = reported()
        return n > 0 and n + d.log().count(": http 400: ") == 30 and \
            Delta(before, m)("wschatd_log_lines_dropped_total") == n
    until(d, accounted, "every bad request logged or counted, and the "
          "count in /metrics")


# ---------------------------------------------------------------- access


def test_peer_outside_metrics_allow_gets_403():
    d = daemon("private", opts={"metrics_allow": "10.0.0.0/8 ::1"})
    for method in ("GET", "HEAD"):
        st, h, body = scrape_raw(d, method)
        assert st == 403, (method, st)
        assert b"wschatd_" not in body, body
    raw = wstest.http_raw(d.port, request(
        "/healthz", extra="Connection: close\r\n"))
    assert raw.startswith(b"HTTP/1.1 200 "), raw[:100]
    assert "/metrics: not in metrics_allow" in d.log()


def test_metrics_allow_lists_and_empty_let_the_peer_in():
    for allow in ("192.168.0.0/16, 127.0.0.1", ""):
        with wstest.Daemon(workers=1, line=False,
                           opts={"metrics_allow": allow}) as d:
            st, h, body = scrape_raw(d)
            assert st == 200, (allow, st)
            Metrics(body)


def test_metrics_off_is_404():
    d = daemon("off", line=False, opts={"metrics": "off"})
    st, h, body = scrape_raw(d)
    assert st == 404, st
    assert b"wschatd_" not in body


def test_bad_metrics_allow_is_a_configuration_error():
    p = subprocess.run([wstest.WSCHATD, "-t", "-o", "webroot=" +
                        os.path.join(wstest.SRCDIR, "www"), "-o",
                        "metrics_allow=127.0.0.1 10.0.0.0/33"],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert 'metrics_allow: bad entry "10.0.0.0/33"' in p.stderr, p.stderr


if __name__ == "__main__":
    wstest.main()
