"""A chat client for the end-to-end tests of the hub on /ws
(docs/PROTOCOL.md, "Chat on /ws"), on top of the wstest harness.

Clients are python3-websockets (strict, independent) with a reader task
each that files every message, so that no client ever stops reading by
accident.  Which worker holds a connection is read from /proc (see
wstest.Daemon.owners)."""

import asyncio
import json

import msgpack
import websockets

MP = "wschat.msgpack"


def owners_of(d, clients):
    """The worker pid of every client; each must be found."""
    owners = d.owners([c.port for c in clients])
    assert None not in owners, "connections without a worker: %r" % owners
    for c, o in zip(clients, owners):
        c.worker = o
    return owners


class Client:
    """A /ws client.  A reader task files every message (decoded: JSON
    from text frames, MessagePack from binary frames with wschat.msgpack)
    in self.msgs; a frame of the wrong kind or that does not decode to an
    object is a protocol error, raised at the next wait."""

    def __init__(self, ws, mp):
        self.ws = ws
        self.mp = mp
        self.msgs = []
        self.raws = []      # each message as it came, undecoded
        self.ntype = {}     # messages received per type
        self.errors = []
        self.closed = False
        self.pos = 0
        self.worker = None
        self.name = None
        self.port = ws.transport.get_extra_info("sockname")[1]
        self._ev = asyncio.Event()
        self.task = asyncio.ensure_future(self._read())

    def __repr__(self):
        return "<client :%d %s>" % (self.port, self.name or "-")

    async def _read(self):
        try:
            async for raw in self.ws:
                self.raws.append(raw)
                try:
                    if self.mp:
                        if not isinstance(raw, bytes):
                            raise ValueError("text frame on wschat.msgpack")
                        m = msgpack.unpackb(raw, raw=False)
                    else:
                        if not isinstance(raw, str):
                            raise ValueError("binary frame on JSON")
                        m = json.loads(raw)
                    if not isinstance(m, dict) or "type" not in m:
                        raise ValueError("not an object with a type")
                except ValueError as e:
                    self.errors.append("%s: %r" % (e, raw[:200]))
                    m = {"type": "<undecodable>", "raw": raw}
                self.msgs.append(m)
                t = m.get("type")
                self.ntype[t] = self.ntype.get(t, 0) + 1
                self._ev.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed = True
            self._ev.set()

    def last(self, n=5):
        """The last n messages, abridged, for error messages."""
        return [repr(m)[:200] for m in self.msgs[-n:]]

    def check(self):
        assert not self.errors, "%r: %s" % (self, self.errors)

    async def until(self, pred, timeout=10.0, what="a message",
                    closed_ok=False):
        """Wait until pred(self) is true; returns its value.  A close
        before that fails, unless closed_ok."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self.check()
            v = pred(self)
            if v:
                return v
            if self.closed and not closed_ok:
                raise AssertionError("%r closed (%s) while waiting for %s; "
                                     "last messages %r" % (
                                         self, self.ws.close_code, what,
                                         self.last()))
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError("%r: timed out waiting for %s; last "
                                     "messages %r" % (self, what,
                                                      self.last()))
            self._ev.clear()
            try:
                await asyncio.wait_for(self._ev.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def next(self, timeout=10.0):
        """The next message in order (for strict sequences)."""
        await self.until(lambda c: len(c.msgs) > c.pos, timeout,
                         "message #%d" % self.pos)
        m = self.msgs[self.pos]
        self.pos += 1
        return m

    def find_all(self, since=0, **fields):
        """Messages with these fields, from the since'th on."""
        return [m for m in self.msgs[since:]
                if all(m.get(k) == v for k, v in fields.items())]

    async def find(self, timeout=10.0, since=0, **fields):
        """Wait for a message with these fields anywhere in the inbox."""
        got = await self.until(lambda c: c.find_all(since, **fields),
                               timeout,
                               "a message with %r" % fields)
        return got[0]

    async def count(self, n, timeout=10.0, what=None, **fields):
        """Wait until exactly n messages with these fields have come."""
        await self.until(lambda c: len(c.find_all(**fields)) == n, timeout,
                         what or "%d messages with %r" % (n, fields))

    async def send(self, obj):
        if self.mp:
            await self.ws.send(msgpack.packb(obj))
        else:
            await self.ws.send(json.dumps(obj))

    async def login(self, name, timeout=10.0):
        """Log in as name; the answer must be our login, not an error."""
        since = len(self.msgs)
        await self.send({"type": "login", "content": name})
        m = (await self.until(lambda c: [
            m for m in c.msgs[since:]
            if (m["type"] == "login" and m.get("user") == name) or
            m["type"] == "system" and m.get("code")], timeout,
            "the login of %s" % name))[0]
        assert m["type"] == "login", "%r: login %r: %r" % (self, name, m)
        self.name = name
        return m

    async def who(self, timeout=10.0):
        """Send who; its answer (not an earlier one)."""
        since = len(self.msgs)
        await self.send({"type": "who"})
        return await self.find(timeout, since, type="who")

    async def wait_closed(self, timeout=10.0):
        await self.until(lambda c: c.closed, timeout, "the close")
        return self.ws.close_code

    async def close(self):
        try:
            await asyncio.wait_for(self.ws.close(), 5)
        except (asyncio.TimeoutError, OSError):
            self.ws.transport.abort()
        try:
            await asyncio.wait_for(self.task, 5)
        except asyncio.TimeoutError:
            self.task.cancel()


def uri(d):
    return "ws://127.0.0.1:%d/ws" % d.port


async def connect(d, mp=False, subprotocol=None):
    """Connect to /ws and take the handshake, which must come first.
    A subprotocol of MessagePack (wschat.v2.msgpack) reads binary frames."""
    protos = [MP] if mp else ([subprotocol] if subprotocol else None)
    mp = mp or (subprotocol or "").endswith(".msgpack")
    ws = await asyncio.wait_for(websockets.connect(
        uri(d), subprotocols=protos, ping_interval=None, close_timeout=3,
        max_size=None, max_queue=None), 10)
    c = Client(ws, mp)
    hs = await c.next()
    assert hs.get("type") == "handshake", "first message %r" % hs
    c.handshake = hs
    return c
