#!/usr/bin/env python3
"""Hostile clients against the real daemon while two well-behaved line
users on different workers chat the whole time: random garbage on both
ports, thousands of connections opened and dropped abruptly (reset),
and every kind of bad WebSocket input (oversized frames and heads,
invalid UTF-8, fragmented control frames, unmasked frames).  After each
attack: the daemon is up, answers /healthz, each worker's VmRSS is under
a bound the test prints, and the two users received every message of
each other, in order.  Each attack is bounded in count and time."""

import os
import random
import socket
import struct
import threading
import time

import wstest
from test_limits import check_healthy
from test_line import Line, on_two_workers
from wstest import RawWS, tcp_connect

RNG = random.Random(6455)


def daemon():
    return wstest.shared_daemon("hostile", workers=2)


class Chatter:
    """Two line users on different workers send numbered messages to
    each other from a thread while an attack runs; check() says whether
    each got all of the other's, in order."""

    def __init__(self, d):
        self.a, self.b, self.rest = on_two_workers(d)
        for u in self.rest:
            u.close()
        self.sent = 0
        self.stop = threading.Event()
        self.thread = None
        self.tag = "r%d" % RNG.randrange(1 << 30)

    def _run(self):
        while not self.stop.is_set():
            self.sent += 1
            self.a.send("%s a %d\n" % (self.tag, self.sent))
            self.b.send("%s b %d\n" % (self.tag, self.sent))
            time.sleep(0.02)

    def __enter__(self):
        self.thread = threading.Thread(target=self._run)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        # Some traffic on both sides of a short attack, too.
        deadline = time.monotonic() + 10
        while self.sent < 20 and time.monotonic() < deadline:
            time.sleep(0.02)
        self.stop.set()
        self.thread.join()
        if exc[0] is None:
            self.check()
        self.a.close()
        self.b.close()
        return False

    def _got(self, user, who):
        prefix = "%s %s " % (self.tag, who)
        return [int(ln.rsplit(" ", 1)[1]) for ln in user.lines()
                if ln.split(": ", 1)[-1].startswith(prefix)]

    def check(self):
        n = self.sent
        assert n >= 10, "only %d messages sent" % n
        for user, other, who in ((self.b, self.a, "a"), (self.a, self.b,
                                                          "b")):
            user.wait(lambda ln, who=who: ln.endswith(
                "%s %s %d" % (self.tag, who, n)), timeout=20,
                what="the last message from %s" % who)
            got = self._got(user, who)
            assert got == list(range(1, n + 1)), \
                "%s got %d of %d from %s, in order: %s" % (
                    user.name, len(got), n, who, got == sorted(got))
        print("# %d messages each way, all received in order" % n)


def rst_close(s):
    """Drop a connection with a reset, not a FIN."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                 struct.pack("ii", 1, 0))
    s.close()


def garbage(port, n, maxlen):
    for i in range(n):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(os.urandom(RNG.randrange(1, maxlen)))
            if i % 2:
                rst_close(s)
            else:
                s.settimeout(0.05)
                try:
                    s.recv(4096)
                except OSError:
                    pass
                s.close()
        except OSError:
            pass    # the server may have closed first: that is fine


def test_random_garbage_on_both_ports():
    d = daemon()
    with Chatter(d):
        garbage(d.port, 300, 8192)
        garbage(d.line_port, 300, 8192)
    check_healthy(d)


def test_thousands_of_connections_dropped_abruptly():
    d = daemon()
    upgrade = (b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
    with Chatter(d):
        for rnd in range(3):
            socks = []
            for i in range(1000):
                s = socket.create_connection(("127.0.0.1",
                                              d.port if i % 4 else
                                              d.line_port), timeout=5)
                if i % 3 == 0:
                    s.sendall(upgrade)
                elif i % 3 == 1:
                    s.sendall(upgrade[:RNG.randrange(1, len(upgrade))])
                socks.append(s)
            for s in socks:
                rst_close(s)
    # Every connection of the attack is gone from the workers.
    wstest.wait_for(lambda: sum(
        len(os.listdir("/proc/%d/fd" % p)) for p in d.worker_pids()) < 200,
        what="the workers to drop the reset connections")
    check_healthy(d)


def bad_ws_inputs():
    """(name, bytes to send after the upgrade, close codes allowed)."""
    return [
        ("oversized frame header", RawWS.frame(0x1, b"", length=1 << 62),
         (1009,)),
        ("invalid UTF-8", RawWS.frame(0x1, b"ok \xc3\x28 no"), (1007,)),
        ("fragmented ping", RawWS.frame(0x9, b"x", fin=False), (1002,)),
        ("unmasked frame", RawWS.frame(0x1, b"hi", mask=False), (1002,)),
        ("reserved opcode", RawWS.frame(0x3, b""), (1002,)),
        ("reserved bits", RawWS.frame(0x1, b"x", rsv=4), (1002,)),
    ]


def expect_close_after_chat(ws, codes, timeout=10.0):
    """Like RawWS.expect_close, but a /ws client in the lobby may first
    receive the chat of others: skip data frames until the close."""
    deadline = time.monotonic() + timeout
    while True:
        fin, opcode, payload = ws.recv_frame(max(0.1, deadline -
                                                 time.monotonic()))
        if opcode != 8:
            assert opcode in (0, 1, 2), "opcode %d" % opcode
            continue
        code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 \
            else 1005
        assert code in codes, "close code %d, expected %s" % (code, codes)
        ws.expect_eof(timeout)
        return


def test_bad_websocket_input_while_others_chat():
    d = daemon()
    with Chatter(d):
        for rnd in range(20):
            for name, data, codes in bad_ws_inputs():
                ws = RawWS(d.port, path="/ws" if rnd % 2 else "/echo")
                if rnd % 2:
                    ws.recv_message()       # the handshake message
                ws.send(data)
                expect_close_after_chat(ws, codes)
                ws.close()
            # An oversized request head: 431, and the connection closes.
            s = tcp_connect(d.port)
            try:
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n" +
                          b"X-Pad: " + b"a" * 9000 + b"\r\n\r\n")
                status = wstest.HTTPReader(s).response()[0]
                assert status == 431, status
            finally:
                s.close()
    check_healthy(d)


if __name__ == "__main__":
    wstest.main()
