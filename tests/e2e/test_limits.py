#!/usr/bin/env python3
"""End-to-end tests of the connection limits: max_connections and
max_connections_per_ip answer 503 (or an error line on the line port)
and close, handshake_timeout closes a request head that dribbles in
(slowloris) with 408.  Each hostile test checks afterwards that the
daemon is up, that a well-behaved client is served, and that the
worker's VmRSS stays under a bound it prints."""

import asyncio
import os
import re
import signal
import socket
import time

import wstest
from chatclient import connect
from wstest import (Daemon, HTTPReader, http_raw, parse_response, request,
                    tcp_connect, wait_for)


# ---------------------------------------------------------------- helpers


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def healthz(port):
    """(status, body) of GET /healthz on a connection of its own."""
    status, _, body = parse_response(http_raw(
        port, request("/healthz", extra="Connection: close\r\n")))
    return status, body


def sanitized(pid):
    """Whether the process runs under AddressSanitizer, whose quarantine
    keeps freed memory (up to 256 MiB) resident, or under valgrind
    (scripts/memcheck.sh), whose shadow memory counts in VmRSS."""
    with open("/proc/%d/maps" % pid) as f:
        maps = f.read()
    return "asan" in maps or "vgpreload" in maps


def check_healthy(d, rss_bound_kib=64 * 1024):
    """The daemon is up, answers /healthz, and no worker is too big."""
    assert d.proc.poll() is None, "wschatd exited:\n" + d.log()
    status, body = healthz(d.port)
    assert status == 200 and body == b"ok\n", (status, body)
    for pid in d.worker_pids():
        if sanitized(pid):
            rss_bound_kib = 512 * 1024
        rss = rss_kib(pid)
        print("# worker %d VmRSS %d KiB (bound %d KiB)" %
              (pid, rss, rss_bound_kib))
        assert rss < rss_bound_kib, "worker %d VmRSS %d KiB" % (pid, rss)


def expect_503(port):
    s = tcp_connect(port)
    try:
        s.sendall(request("/healthz"))
        r = HTTPReader(s)
        status, headers, body = r.response()
        assert status == 503, (status, body)
        assert wstest.one(headers, "connection") == "close"
        assert int(wstest.one(headers, "retry-after")) > 0
        assert body == b"503 Service Unavailable\n", body
        r.expect_eof()
    finally:
        s.close()


def expect_line_full(port):
    s = tcp_connect(port)
    try:
        out = b""
        s.settimeout(5)
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            out += chunk
        assert out == b"error: server full\n", out
    finally:
        s.close()


def hold(port, n):
    """n open HTTP connections, each known to be accepted: it answered
    a keep-alive request."""
    socks = []
    try:
        for _ in range(n):
            s = tcp_connect(port)
            socks.append(s)
            s.sendall(request("/healthz"))
            status, _, _ = HTTPReader(s).response()
            assert status == 200, status
    except BaseException:
        for s in socks:
            s.close()
        raise
    return socks


def can_hold(port, n):
    """Whether n connections can be held at once now; closes them."""
    try:
        socks = hold(port, n)
    except AssertionError:
        return False
    for s in socks:
        s.close()
    return True


# ---------------------------------------------------------------- tests


def test_max_connections_answers_503_and_closes():
    with Daemon(workers=1, opts={"max_connections": 3}) as d:
        held = hold(d.port, 3)
        for _ in range(20):
            expect_503(d.port)
        expect_line_full(d.line_port)
        for s in held:
            s.close()
        # Once the held ones are gone, clients are served again.
        wait_for(lambda: healthz(d.port)[0] == 200,
                 what="a free connection slot")
        check_healthy(d)


def test_max_connections_per_ip_answers_503_and_closes():
    with Daemon(workers=1, opts={"max_connections_per_ip": 4}) as d:
        held = hold(d.port, 3)
        line = tcp_connect(d.line_port)     # the fourth, on the line port
        line.sendall(b"who\n")
        got = b""
        while b"\n" not in got:
            chunk = line.recv(4096)
            assert chunk, "line connection closed: %r" % got
            got += chunk
        assert b"error" not in got, got
        for _ in range(20):
            expect_503(d.port)
        expect_line_full(d.line_port)
        held.pop().close()
        # The freed slot is usable again, by either port.
        wait_for(lambda: healthz(d.port)[0] == 200,
                 what="a free slot for 127.0.0.1")
        line.close()
        for s in held:
            s.close()
        wait_for(lambda: can_hold(d.port, 4), what="four slots")
        check_healthy(d)


def test_max_connections_per_ip_counts_across_workers():
    # The kernel spreads one address's connections over the workers; the
    # limit is on all of them together.  A worker that dies takes its
    # connections out of the count.
    limit = 6
    with Daemon(workers=3, opts={"max_connections_per_ip": limit}) as d:
        held = hold(d.port, limit)
        try:
            owners = d.owners([s.getsockname()[1] for s in held])
            print("# %d connections held by workers %r" % (limit, owners))
            for _ in range(20):
                expect_503(d.port)
            expect_line_full(d.line_port)
            # Kill a worker holding some of them: they are gone, and so
            # is their count, once the master has reaped it.
            victim = owners[0]
            lost = owners.count(victim)
            os.kill(victim, signal.SIGKILL)
            keep = [s for s, o in zip(held, owners) if o != victim]
            wait_for(lambda: can_hold(d.port, lost), 20,
                     what="%d slots of the killed worker free" % lost)
            assert not can_hold(d.port, lost + 1)
            for s in keep:
                s.close()
            wait_for(lambda: can_hold(d.port, limit), 10,
                     what="%d slots" % limit)
        finally:
            for s in held:
                s.close()
        # The workers count a close when they read it: until then the
        # address may still be at its limit, and /healthz gets a 503.
        wait_for(lambda: healthz(d.port)[0] == 200, 10,
                 what="the closed connections uncounted")
        check_healthy(d)


def test_handshake_timeout_closes_a_slowloris():
    """A request head sent one byte every 0.5 s, each restarting
    http_timeout, is cut off with 408 after handshake_timeout (2 s, plus
    up to a second for the check); a WebSocket client chatting with
    /echo all the while gets every echo."""
    with Daemon(workers=1, opts={"handshake_timeout": 2}) as d:
        ws = wstest.RawWS(d.port, "/echo")
        slow = tcp_connect(d.port)
        slow.setblocking(False)
        head = request("/healthz", extra="X-Pad: %s\r\n" % ("a" * 200))
        t0 = time.monotonic()
        got, sent, echoes = b"", 0, 0
        closed_at = None
        while time.monotonic() - t0 < 8:
            if closed_at is None and sent < len(head):
                try:
                    slow.send(head[sent:sent + 1])
                    sent += 1
                except (BrokenPipeError, ConnectionResetError):
                    closed_at = time.monotonic() - t0
            try:
                chunk = slow.recv(4096)
                if chunk == b"":
                    closed_at = time.monotonic() - t0
                got += chunk
            except BlockingIOError:
                pass
            except ConnectionResetError:
                closed_at = time.monotonic() - t0
            msg = b"echo %d" % echoes
            ws.send_frame(1, msg)
            assert ws.recv_message() == (1, msg)
            echoes += 1
            if closed_at is not None:
                break
            time.sleep(0.5)
        slow.close()
        print("# slowloris: %d of %d head bytes sent, closed after %s s; "
              "%d echoes meanwhile" % (sent, len(head), closed_at, echoes))
        assert closed_at is not None, "slowloris still open after 8 s"
        # 2 s, up to 1 s until the sweep, 0.5 s until we look; load.
        assert 1.9 <= closed_at <= 6, closed_at
        assert got.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), got
        assert "handshake_timeout" in d.log()
        ws.close()
        check_healthy(d)


def test_handshake_timeout_spares_idle_keepalive():
    """Between requests a keep-alive connection is idle, not slow: only
    http_timeout applies, and a request head arriving in pieces within
    handshake_timeout is served."""
    with Daemon(workers=1, opts={"handshake_timeout": 1}) as d:
        s = tcp_connect(d.port)
        r = HTTPReader(s)
        s.sendall(request("/healthz"))
        assert r.response()[0] == 200
        time.sleep(2.5)
        part = request("/healthz")
        s.sendall(part[:10])
        time.sleep(0.3)
        s.sendall(part[10:])
        assert r.response()[0] == 200
        s.close()
        check_healthy(d)


def test_message_rate_limits_and_closes_a_flooder():
    """With message_rate 20 and message_burst 20: a WebSocket client and a
    line user that send as fast as they can get rate_limited, then are
    closed (1008; after an error line); two clients chatting at 10
    messages a second in the same room get every message of each other."""
    with Daemon(workers=2, opts={"message_rate": 20,
                                 "message_burst": 20}) as d:
        nmsgs = 20

        async def polite(c, tag):
            for i in range(nmsgs):
                await c.send({"type": "user", "content": "%s %d" % (tag, i)})
                await asyncio.sleep(0.1)

        async def flood(c):
            try:
                for i in range(5000):
                    await c.send({"type": "user", "content": "flood %d" % i})
                    if i % 50 == 0:
                        await asyncio.sleep(0)
            except Exception:
                pass        # closed under us: expected

        async def go():
            a, b, f = await connect(d), await connect(d), await connect(d)
            try:
                await a.login("polite-a")
                await b.login("polite-b")
                await f.login("flooder")
                await asyncio.gather(polite(a, "a"), polite(b, "b"),
                                     flood(f))
                code = await f.wait_closed(20)
                assert code == 1008, code
                n = len(f.find_all(type="system", code="rate_limited"))
                assert n >= 1, f.last()
                for c, other in ((a, "polite-b"), (b, "polite-a")):
                    await c.count(nmsgs, 20, type="user", **{"from": other})
                    got = [m["content"] for m in
                           c.find_all(type="user", **{"from": other})]
                    assert got == ["%s %d" % (other[-1], i)
                                   for i in range(nmsgs)], got
                    assert not c.find_all(code="rate_limited"), c.last()
                    assert not c.closed
                flooded = len(a.find_all(type="user", **{"from": "flooder"}))
                print("# the flooder got %d messages through, then the "
                      "limit and a 1008" % flooded)
                assert flooded <= 20 + 20 * 30, flooded
            finally:
                for c in (a, b, f):
                    await c.close()

        wstest.run_async(go(), 60)

        # A line user flooding: the error line, then the close.
        s = tcp_connect(d.line_port)
        s.sendall(b"".join(b"flood %d\n" % i for i in range(2000)))
        out = b""
        s.settimeout(10)
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except ConnectionResetError:
            pass
        s.close()
        assert b"error: rate limited" in out, out[-300:]
        assert "rate limited" in d.log()
        check_healthy(d)


def test_max_pending_total_drops_the_biggest_slow_consumers():
    """Three clients that never read, under max_pending_total 256k with
    max_pending 4m: the worker drops them, biggest first, once their sum
    passes 256k (well before any reaches max_pending), while a reader
    and the sender get every message."""
    pad = "x" * 3000
    # The kernel queues up to tcp_wmem's maximum for a slow client before
    # the daemon holds anything: send half as much again (test_chat).
    with open("/proc/sys/net/ipv4/tcp_wmem") as f:
        wmem_max = int(f.read().split()[2])
    n = max(2000, wmem_max * 3 // 2 // len(pad) + 1)
    opts = {"max_pending": "4m", "max_pending_total": "256k"}
    with Daemon(workers=1, line=False, opts=opts) as d:
        slows = []

        async def go():
            sender, reader = await connect(d), await connect(d)
            try:
                await sender.login("sender")
                for i in range(3):
                    s = wstest.SlowWS(d.port)
                    slows.append(s)
                    s.send_frame(0x1, '{"type":"login","content":"slow%d"}'
                                 % i)
                    await reader.find(type="login", user="slow%d" % i)
                window = 16

                def behind(k):
                    return lambda c: c.ntype.get("user", 0) > k - window

                for k in range(n):
                    for c in (reader, sender):
                        if not behind(k)(c):
                            await c.until(behind(k), 10,
                                          "message %d" % (k - window))
                    await sender.send({"type": "user",
                                       "content": "%05d %s" % (k, pad)})
                want = ["%05d" % k for k in range(n)]
                for c in (reader, sender):
                    await c.until(lambda c: c.ntype.get("user", 0) >= n,
                                  30, "%d messages" % n)
                    got = [m["content"][:5]
                           for m in c.find_all(type="user")]
                    assert got == want, "%r: %d messages" % (c, len(got))
                    c.check()
                for i in range(3):
                    await reader.find(type="logout", user="slow%d" % i)
            finally:
                await sender.close()
                await reader.close()

        try:
            wstest.run_async(go(), 90)
        finally:
            for s in slows:
                s.sock.close()
        log = d.log()
        assert log.count("(max_pending_total); dropped") == 3, log[-2000:]
        time.sleep(1.5)     # a sweep or two, which checks the sum
        assert "out_total" not in d.log(), d.log()[-2000:]
        check_healthy(d)



def test_log_client_rate_bounds_the_lines_a_flood_of_bad_requests_makes():
    # Every bad request is worth a log line, but a client sending
    # thousands must not fill the disk: past log_client_rate a second
    # they are counted, and the count logged once a second.
    n, rate = 200, 5
    with Daemon(workers=1, opts={"log_client_rate": rate}) as d:
        t0 = time.monotonic()
        for _ in range(n):
            status, _, _ = parse_response(http_raw(
                d.port, request("/", method="G@T")))
            assert status == 400, status
        took = time.monotonic() - t0

        def counts():
            log = d.log()
            logged = log.count(": http 400: ")
            dropped = sum(int(x) for x in re.findall(
                r"(\d+) lines? about clients not logged in the last "
                r"[0-9.]+s \(log_client_rate %d\)" % rate, log))
            return logged, dropped
        # The count of those not logged comes within a second or two.
        wait_for(lambda: sum(counts()) == n, 10,
                 what="%d lines logged or counted: %r" % (n, counts()))
        logged, dropped = counts()
        print("# %d bad requests in %.2fs: %d lines logged, %d counted" % (
            n, took, logged, dropped))
        # A second's worth at once, then rate a second.
        assert logged <= rate + rate * (took + 1) + 1, (logged, took)
        assert dropped > 0
        check_healthy(d)
    # 0: no limit.
    with Daemon(workers=1, opts={"log_client_rate": 0}) as d:
        for _ in range(50):
            http_raw(d.port, request("/", method="G@T"))
        wait_for(lambda: d.log().count(": http 400: ") == 50, 10,
                 what="50 lines")
        assert "not logged" not in d.log()


if __name__ == "__main__":
    wstest.main()
