"""A login storm on /ws: many WebSocket clients connect, then all log in at
once, and each counts the bytes and the login announcements it receives.
For tests/e2e/test_v2.py (version 2: O(N) bytes per client) and
scripts/bench/presence-storm.py (version 1 against version 2).

The clients are raw asyncio protocols, one event loop, no frame parsing:
a client counts the bytes after its upgrade response and the logins in
them by a byte pattern, which is all a storm of thousands needs and what
python can do for thousands of clients at once.  Their frames are
masked, as RFC 6455 wants, with a zero key (the payload unchanged)."""

import asyncio
import base64
import json
import os
import struct
import time

import msgpack

# A login announcement's type, as each format writes it.
PATTERN = {
    "json": b'"type":"login"',
    "msgpack": b"\xa4type\xa5login",
}


def frame(payload, binary):
    """A masked client frame (zero mask key)."""
    op = 0x82 if binary else 0x81
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", op, 0x80 | n)
    else:
        head = struct.pack("!BBH", op, 0x80 | 126, n)
    return head + b"\0\0\0\0" + payload


class StormClient(asyncio.Protocol):
    def __init__(self, storm, i):
        self.storm = storm
        self.i = i
        self.name = "%s%05d" % (storm.prefix, i)
        self.head = b""
        self.upgraded = asyncio.get_running_loop().create_future()
        self.protocol = None
        self.bytes = 0          # frame bytes received (after the 101)
        self.logins = 0
        self.tail = b""
        self.closed = False
        self.done = False       # counted in storm.done
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        proto = ("Sec-WebSocket-Protocol: %s\r\n" % self.storm.subprotocol
                 if self.storm.subprotocol else "")
        transport.write(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Key: %s\r\n"
                         "Sec-WebSocket-Version: 13\r\n%s\r\n" %
                         (key, proto)).encode())

    def data_received(self, data):
        if not self.upgraded.done():
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            head, data = self.head[:end], self.head[end + 4:]
            self.head = b""
            if not head.startswith(b"HTTP/1.1 101 "):
                self.upgraded.set_exception(AssertionError(
                    "%s: no upgrade: %r" % (self.name, head[:200])))
                return
            for line in head.split(b"\r\n"):
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"sec-websocket-protocol":
                    self.protocol = v.strip().decode()
            self.upgraded.set_result(True)
        self.bytes += len(data)
        pat = self.storm.pattern
        buf = self.tail + data
        self.logins += buf.count(pat)
        self.tail = buf[-(len(pat) - 1):]
        if self.logins >= self.storm.n:
            self.finish()

    def connection_lost(self, exc):
        self.closed = True
        if not self.upgraded.done():
            self.upgraded.set_exception(AssertionError(
                "%s: closed before the upgrade" % self.name))
        self.finish()

    def finish(self):
        if not self.done:
            self.done = True
            self.storm.done += 1
            self.storm.progress()

    def login(self):
        if self.storm.binary:
            payload = msgpack.packb({"type": "login", "content": self.name})
        else:
            payload = json.dumps({"type": "login",
                                  "content": self.name}).encode()
        self.transport.write(frame(payload, self.storm.binary))


class Storm:
    """n clients of one subprotocol (None: version 1 JSON, as the seed
    pages) on port; run() returns a dict of figures."""

    def __init__(self, port, n, subprotocol=None, prefix="s", sources=1,
                 inflight=200):
        self.port = port
        self.n = n
        self.subprotocol = subprotocol
        self.binary = bool(subprotocol and subprotocol.endswith("msgpack"))
        self.pattern = PATTERN["msgpack" if self.binary else "json"]
        self.prefix = prefix
        self.sources = sources
        self.inflight = inflight
        self.clients = []
        self._all = []          # connected so far, for close()
        self.done = 0           # clients with every login, or closed
        self._wake = None

    def progress(self):
        if self._wake is not None and not self._wake.is_set():
            self._wake.set()

    async def _connect(self, i, sem):
        loop = asyncio.get_running_loop()
        # Several 127.0.0.x sources, should a per-address limit bite.
        src = ("127.0.0.%d" % (1 + i % self.sources), 0)
        async with sem:
            _, c = await loop.create_connection(
                lambda: StormClient(self, i), "127.0.0.1", self.port,
                local_addr=src)
            self._all.append(c)
            await asyncio.wait_for(c.upgraded, 30)
        return c

    async def _until(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while not pred():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("storm: timed out waiting for " + what)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), min(left, 0.5))
            except asyncio.TimeoutError:
                pass

    async def run(self, timeout=120):
        """Connect, log everyone in, count; close every client after."""
        try:
            return await self._run(timeout)
        finally:
            self.close()

    async def _run(self, timeout):
        self._wake = asyncio.Event()
        sem = asyncio.Semaphore(self.inflight)
        t0 = time.monotonic()
        self.clients = await asyncio.gather(
            *[self._connect(i, sem) for i in range(self.n)])
        # Every client has its handshake message before anyone logs in,
        # so that each must see all n logins.
        await self._until(lambda: all(c.bytes > 0 or c.closed
                                      for c in self.clients),
                          30, "the handshake messages")
        self.done = sum(c.closed for c in self.clients)
        before = [c.bytes for c in self.clients]
        t1 = time.monotonic()
        for c in self.clients:
            c.login()
        await self._until(lambda: self.done == self.n, timeout,
                          "every login at every client")
        t2 = time.monotonic()
        got = [c.bytes - b for c, b in zip(self.clients, before)]
        res = {
            "n": self.n,
            "subprotocol": self.subprotocol or "(none: v1)",
            "negotiated": sorted({str(c.protocol) for c in self.clients}),
            "dropped": sum(c.closed for c in self.clients),
            "short": sum(c.logins < self.n and not c.closed
                         for c in self.clients),
            "handshake_bytes_max": max(before),
            "bytes_min": min(got),
            "bytes_avg": sum(got) // len(got),
            "bytes_max": max(got),
            "bytes_total": sum(got),
            "connect_s": round(t1 - t0, 2),
            "storm_s": round(t2 - t1, 2),
        }
        return res

    def close(self):
        for c in self._all:
            if c.transport is not None:
                c.transport.abort()


def report(res):
    """One line per run, for a log or a results file."""
    return ("%(subprotocol)s n=%(n)d: presence bytes per client "
            "min %(bytes_min)d avg %(bytes_avg)d max %(bytes_max)d "
            "(total %(bytes_total)d); handshake <= %(handshake_bytes_max)d "
            "B; dropped %(dropped)d, short %(short)d; connect "
            "%(connect_s)ss, storm %(storm_s)ss" % res)
