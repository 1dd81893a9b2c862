#!/usr/bin/env python3
"""End-to-end tests of the WebSocket echo endpoint with an independent,
strict client (python3-websockets): round trips of every length encoding
up to 16 MiB, the max_message_size limit (close 1009), many concurrent
clients, pings both ways and the server's heartbeat (RawWS there, as the
test must choose when to answer)."""

import asyncio
import json
import base64
import os
import struct
import time

import websockets

import wstest
from wstest import RawWS

MIB = 1024 * 1024
MAX = 16 * MIB

def daemon(name="default", **kw):
    return wstest.shared_daemon(name, **kw)


def big():
    return daemon("big", workers=2, opts={"max_message_size": MAX})


def small():
    return daemon("small", workers=1, opts={"max_message_size": 1024})


def beat():
    return daemon("beat", workers=1,
                  opts={"ping_interval": 1, "pong_timeout": 3})


def uri(d, path="/echo"):
    return "ws://127.0.0.1:%d%s" % (d.port, path)


def text_of(n):
    """A str whose UTF-8 encoding is exactly n bytes, with multi-byte
    characters when there is room."""
    head = "é€𝄞" if n >= 9 else ""
    fill = n - len(head.encode())
    ascii_ = base64.b64encode(os.urandom(fill * 3 // 4 + 3))[:fill].decode()
    s = head + ascii_
    assert len(s.encode()) == n
    return s


def run(coro, timeout=60):
    return wstest.run_async(coro, timeout)


async def roundtrip(ws, msg):
    await ws.send(msg)
    got = await asyncio.wait_for(ws.recv(), 30)
    assert type(got) is type(msg), "sent %s, got %s" % (type(msg), type(got))
    assert got == msg, "echo differs (%d vs %d units)" % (len(got), len(msg))


SIZES = [0, 1, 125, 126, 65535, 65536, MIB]


def test_text_roundtrips():
    async def go():
        async with websockets.connect(uri(big()), max_size=None) as ws:
            for n in SIZES:
                await roundtrip(ws, text_of(n))
    run(go())


def test_binary_roundtrips():
    async def go():
        async with websockets.connect(uri(big()), max_size=None) as ws:
            for n in SIZES:
                await roundtrip(ws, os.urandom(n))
    run(go())


def test_16mib_binary_roundtrip():
    async def go():
        async with websockets.connect(uri(big()), max_size=None) as ws:
            await roundtrip(ws, os.urandom(MAX))
    run(go(), 120)


def test_16mib_text_roundtrip():
    async def go():
        async with websockets.connect(uri(big()), max_size=None) as ws:
            await roundtrip(ws, text_of(MAX))
    run(go(), 120)


async def expect_1009(d, msg):
    async with websockets.connect(uri(d), max_size=None) as ws:
        await ws.send(msg)
        try:
            got = await asyncio.wait_for(ws.recv(), 10)
        except websockets.ConnectionClosed:
            pass
        else:
            raise AssertionError("oversized message echoed (%d)" % len(got))
        assert ws.close_code == 1009, "close code %r" % ws.close_code


def test_over_max_message_size_closes_1009():
    d = small()
    run(expect_1009(d, os.urandom(1025)))
    run(expect_1009(d, text_of(1025)))


def test_max_message_size_is_inclusive():
    async def go():
        async with websockets.connect(uri(small()), max_size=None) as ws:
            await roundtrip(ws, os.urandom(1024))
            await roundtrip(ws, text_of(1024))
    run(go())


def test_fragmented_message_over_limit_closes_1009():
    ws = RawWS(small().port)
    try:
        ws.send_frame(0x2, os.urandom(600), fin=False)
        ws.send_frame(0x0, os.urandom(600), fin=True)
        ws.expect_close(1009)
    finally:
        ws.close()


def test_many_concurrent_clients():
    nclients, nmsgs = 200, 50

    async def client(i):
        async with websockets.connect(uri(big()), max_size=None,
                                      open_timeout=30) as ws:
            sent = []
            for j in range(nmsgs):
                if j % 2:
                    m = "client %d message %d %s" % (i, j, "x" * (j * 7))
                else:
                    m = struct.pack("!II", i, j) + os.urandom(j * 13)
                sent.append(m)
                await ws.send(m)
            for j, m in enumerate(sent):
                got = await ws.recv()
                assert got == m, "client %d message %d differs" % (i, j)
            return len(sent)

    async def go():
        return await asyncio.gather(*(client(i) for i in range(nclients)))
    counts = run(go(), 120)
    assert counts == [nmsgs] * nclients, counts


def test_ws_is_the_chat_not_an_echo():
    # /ws is the chat: a handshake first, and raw text comes back as a
    # "user" broadcast from this connection, not as an echo.
    async def go():
        async with websockets.connect(uri(big(), "/ws"), max_size=None,
                                      subprotocols=["wschat.json"]) as ws:
            assert ws.subprotocol == "wschat.json", ws.subprotocol
            hs = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert hs["type"] == "handshake", hs
            await ws.send("hello /ws")
            m = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert (m["type"], m["content"], m["room"]) == \
                ("user", "hello /ws", "lobby"), m
            assert m["from"] == hs["ip"], (m, hs)
    run(go())


def test_client_ping_gets_pong():
    async def go():
        async with websockets.connect(uri(big())) as ws:
            for data in (b"", b"abc", os.urandom(125)):
                waiter = await ws.ping(data)
                await asyncio.wait_for(waiter, 5)
            # The connection still echoes after the pings.
            await roundtrip(ws, "after pings")
    run(go())


# ---------------------------------------------------------------- heartbeat


def test_server_pings_a_quiet_client():
    t0 = time.monotonic()
    ws = RawWS(beat().port)
    try:
        fin, op, payload = ws.recv_frame(timeout=3)
        t = time.monotonic() - t0
        assert op == 0x9, "expected a ping, got opcode %d %r" % (op, payload)
        assert fin and len(payload) <= 125, (fin, payload)
        assert 0.5 <= t <= 2.5, "ping after %.2fs, ping_interval 1" % t
    finally:
        ws.close()


def test_silent_client_is_closed_after_pong_timeout():
    t0 = time.monotonic()
    ws = RawWS(beat().port)
    try:
        fin, op, _ = ws.recv_frame(timeout=3)
        assert op == 0x9, op
        # No answer: pong_timeout (3 s) after the last input, close 1001.
        try:
            fin, op, payload = ws.recv_frame(timeout=5)
        except EOFError:
            raise AssertionError("EOF without a close frame")
        assert op == 0x8, "expected close, got %d %r" % (op, payload)
        code = struct.unpack("!H", payload[:2])[0] if payload else None
        assert code == 1001, "close code %r" % code
        ws.expect_eof(timeout=3)
        t = time.monotonic() - t0
        assert 2.0 <= t <= 5.5, "closed after %.2fs (pong_timeout 3)" % t
    finally:
        ws.close()


def test_client_answering_pings_stays_open():
    ws = RawWS(beat().port)
    try:
        deadline = time.monotonic() + 5.5
        pings = 0
        while time.monotonic() < deadline:
            try:
                fin, op, payload = ws.recv_frame(
                    timeout=max(0.05, deadline - time.monotonic()))
            except (AssertionError, OSError) as e:
                if isinstance(e, OSError) and \
                        not isinstance(e, TimeoutError):
                    raise
                break                   # read timeout: quiet is fine
            assert op == 0x9, "unexpected opcode %d %r" % (op, payload)
            pings += 1
            ws.send_frame(0xA, payload)
        assert pings >= 2, "only %d pings in 5.5s" % pings
        ws.send_frame(0x1, "still here")
        # Skip any ping that crosses our message.
        while True:
            fin, op, payload = ws.recv_frame(timeout=3)
            if op != 0x9:
                break
            ws.send_frame(0xA, payload)
        assert (op, payload) == (0x1, b"still here"), (op, payload)
    finally:
        ws.close()


if __name__ == "__main__":
    wstest.main()
