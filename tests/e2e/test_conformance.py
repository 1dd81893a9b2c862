#!/usr/bin/env python3
"""RFC 6455 conformance of wschatd's /echo endpoint.

Written in the spirit of Autobahn|Testsuite groups 1-7 and 9.1-9.2 (the
test names give the Autobahn case each one mirrors), but the cases are our
own, derived from RFC 6455, and stricter where wschatd promises more:

* /echo returns every text/binary message with the same opcode, and this
  server sends each message as one unmasked frame with no RSV bits;
* ping gets a pong with the same payload, also between fragments; an
  unsolicited pong is ignored;
* a protocol violation gets a close frame with the RFC code (1002, 1007,
  1009) and then the TCP connection is closed; invalid UTF-8 and too-big
  messages fail fast, without waiting for the rest of the message;
* a valid close code is echoed in the server's close.

One daemon (two workers, 16 MiB messages) serves the whole module; a second
one with a 1 KiB limit is started for the 1009 cases.  Each test function
runs many cases and reports every failing case, not just the first.
python3-websockets is used as an independent strict client for the normal
cases; RawWS for the bytes no sane client sends.
"""

import asyncio
import atexit
import os
import struct
import threading
import time

import websockets

from wstest import Daemon, RawWS, main, run_async

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA

BIG_LIMIT = 16 * 1024 * 1024    # max_message_size of the main daemon
SMALL_LIMIT = 1024              # ... and of the one for the 1009 cases
FAIL_FAST = 1.0                 # seconds a fail-fast close may take
KiB, MiB = 1024, 1024 * 1024

# A broken server can make every case wait for its timeout.  A test stops
# running cases once it has failed and spent CASE_BUDGET seconds; the
# module stops after SUITE_BUDGET seconds; cases not run are listed.
CASE_BUDGET = 15.0
SUITE_BUDGET = 100.0
_suite_start = time.monotonic()

# wschatd sends each message as a single frame.  RFC 6455 would let it
# re-fragment; set this to False if it ever starts doing so.
ONE_FRAME_PER_MESSAGE = True

# CONFORMANCE_VERBOSE=1 lists every case with its time.
VERBOSE = os.environ.get("CONFORMANCE_VERBOSE") == "1"


# ------------------------------------------------------------------ daemons

_daemons = {}
_daemon_errors = {}


def daemon(limit=BIG_LIMIT):
    """The shared daemon with max_message_size=limit, started on first use;
    a daemon that failed to start is not retried for every test."""
    if limit in _daemon_errors:
        raise AssertionError("daemon did not start: %s" %
                             _daemon_errors[limit])
    d = _daemons.get(limit)
    if d is None:
        try:
            d = Daemon(workers=2 if limit == BIG_LIMIT else 1,
                       opts={"max_message_size": limit})
        except Exception as e:
            _daemon_errors[limit] = "%s: %s" % (type(e).__name__, e)
            raise
        d.known_workers = sorted(d.worker_pids())
        _daemons[limit] = d
    return d


@atexit.register
def _stop_daemons():
    for d in _daemons.values():
        try:
            d.__exit__(None, None, None)
        except Exception as e:
            print("# stopping wschatd: %s" % e)


def _workers_changed():
    """Names any daemon whose workers changed (a worker died) since the
    last look, and remembers the new set."""
    out = []
    for limit, d in _daemons.items():
        if d.proc.poll() is not None:
            out.append("wschatd (max_message_size=%d) exited with %s" %
                       (limit, d.proc.returncode))
            continue
        now = sorted(d.worker_pids())
        if now != d.known_workers:
            out.append("wschatd (max_message_size=%d) workers changed "
                       "from %s to %s (a worker died)" %
                       (limit, d.known_workers, now))
            d.known_workers = now
    return out


class Conn(RawWS):
    """RawWS with a context manager."""

    def __init__(self, limit=BIG_LIMIT):
        super().__init__(daemon(limit).port, "/echo")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def run_cases(cases):
    """Run (case_id, fn) pairs; fail listing every failed case, with the
    worker crashes noticed after each."""
    cases = list(cases)
    failures = []
    n = bad = 0
    start = time.monotonic()
    for cid, fn in cases:
        t0 = time.monotonic()
        if failures and t0 - start > CASE_BUDGET or \
                t0 - _suite_start > SUITE_BUDGET:
            failures.append("%d more cases not run (time budget spent), "
                            "from %s" % (len(cases) - n, cid))
            break
        n += 1
        try:
            fn()
        except Exception as e:
            bad += 1
            failures.append("%s: %s: %s" % (cid, type(e).__name__, e))
        if VERBOSE:
            print("#   %s (%.3fs)" % (cid, time.monotonic() - t0))
        for w in _workers_changed():
            failures.append("%s: %s" % (cid, w))
    if failures:
        raise AssertionError("%d of %d cases failed:\n    %s" %
                             (bad, len(cases),
                              "\n    ".join(failures)))


# ------------------------------------------------------------------ frames

def fr(opcode, payload=b"", **kw):
    """One masked client frame (RawWS.frame)."""
    return RawWS.frame(opcode, payload, **kw)


def mask(payload, key):
    return bytes(b ^ key[i & 3] for i, b in enumerate(payload))


def nonminimal(opcode, payload, width, fin=True):
    """A frame whose length uses more bytes than needed (RFC 6455, 5.2)."""
    key = b"\x5a\x17\xc3\x81"
    b0 = (0x80 if fin else 0) | opcode
    if width == 16:
        hdr = struct.pack("!BBH", b0, 0x80 | 126, len(payload))
    else:
        hdr = struct.pack("!BBQ", b0, 0x80 | 127, len(payload))
    return hdr + key + mask(payload, key)


def close_payload(code, reason=b""):
    if isinstance(reason, str):
        reason = reason.encode()
    return struct.pack("!H", code) + reason


def text_payload(n):
    """n bytes of valid UTF-8 with 1- to 4-byte characters."""
    unit = "Hello-\u00b5@\u00df\u00f6\u00e4\u00fc\u00e0\u00e1-UTF-8!! " \
        "\u03ba\u1f79\u03c3\u03bc\u03b5 \U0001d11e ".encode()
    k = n // len(unit)
    return unit * k + b"*" * (n - k * len(unit))


def binary_payload(n):
    """n bytes using every byte value."""
    unit = bytes((i * 7 + 3) & 0xFF for i in range(256))
    k = n // 256
    return unit * k + unit[:n - k * 256]


def _diff(got, want):
    if got == want:
        return "equal"
    i = 0
    while i < len(got) and i < len(want) and got[i] == want[i]:
        i += 1
    return "got %d bytes, expected %d; first difference at byte %d: " \
        "got %r, expected %r" % (len(got), len(want), i, got[i:i + 16],
                                 want[i:i + 16])


# ------------------------------------------------------------------ receiving

def recv_frame(ws, timeout=5.0):
    """Like RawWS.recv_frame, but reads big payloads straight into one
    buffer (RawWS concatenates, which is quadratic at 16 MiB)."""
    ws._fill(2, timeout)
    b0, b1 = ws.buf[0], ws.buf[1]
    assert b0 & 0x70 == 0, "server set reserved bits: %r" % ws.buf[:2]
    assert b1 & 0x80 == 0, "server masked a frame: %r" % ws.buf[:2]
    n, off = b1 & 0x7F, 2
    if n == 126:
        ws._fill(4, timeout)
        n, off = struct.unpack("!H", ws.buf[2:4])[0], 4
        assert n >= 126, "server used a non-minimal 16-bit length %d" % n
    elif n == 127:
        ws._fill(10, timeout)
        n, off = struct.unpack("!Q", ws.buf[2:10])[0], 10
        assert n > 0xFFFF, "server used a non-minimal 64-bit length %d" % n
    if len(ws.buf) >= off + n:
        payload = ws.buf[off:off + n]
        ws.buf = ws.buf[off + n:]
        return bool(b0 & 0x80), b0 & 0x0F, payload
    out = bytearray(n)
    have = len(ws.buf) - off
    out[:have] = ws.buf[off:]
    ws.buf = b""
    view = memoryview(out)
    deadline = time.monotonic() + timeout
    while have < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("timed out reading a %d-byte frame "
                                 "(%d bytes read)" % (n, have))
        ws.sock.settimeout(left)
        k = ws.sock.recv_into(view[have:], n - have)
        if k == 0:
            raise EOFError("connection closed after %d of %d payload "
                           "bytes" % (have, n))
        have += k
    return bool(b0 & 0x80), b0 & 0x0F, bytes(out)


def expect_echo(ws, opcode, payload, timeout=5.0):
    """The next message is payload with opcode, as one frame."""
    fin, op, data = recv_frame(ws, timeout)
    if op == OP_CLOSE:
        code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
        raise AssertionError("expected the echo (opcode %d, %d bytes), got "
                             "close %s %r" % (opcode, len(payload), code,
                                              data[2:60]))
    assert op == opcode, "expected opcode %d, got %d (%r)" % (
        opcode, op, data[:40])
    if ONE_FRAME_PER_MESSAGE:
        assert fin, "echo of %d bytes not sent as one frame" % len(payload)
    else:
        while not fin:
            fin, op, more = recv_frame(ws, timeout)
            assert op == OP_CONT, "opcode %d inside a message" % op
            data += more
    assert data == payload, "echo differs: " + _diff(data, payload)


def expect_pong(ws, payload, timeout=5.0):
    fin, op, data = recv_frame(ws, timeout)
    assert op == OP_PONG and fin, \
        "expected pong %r, got opcode %d fin=%d %r" % (
            payload[:40], op, fin, data[:60])
    assert data == payload, "pong payload differs: " + _diff(data, payload)


def expect_closed(ws, codes, timeout=5.0):
    """The next frame is a close with one of codes, then TCP is closed and
    nothing at all arrived after the close frame.  Returns the code."""
    code = ws.expect_close(codes, timeout)
    assert ws.buf == b"", "data after the close frame: %r" % ws.buf[:60]
    return code


def close_clean(ws, code=1000):
    """Client-initiated close; the server echoes the code and hangs up."""
    ws.send(fr(OP_CLOSE, close_payload(code)))
    expect_closed(ws, code)


def echo_case(opcode, payload, chunk=None, delay=0.0, timeout=5.0,
              limit=BIG_LIMIT, **kw):
    with Conn(limit) as ws:
        ws.sock.settimeout(60)
        ws.send(fr(opcode, payload, **kw), chunk=chunk, delay=delay)
        expect_echo(ws, opcode, payload, timeout)
        close_clean(ws)


def fail_case(data, code, chunk=None, delay=0.0, timeout=5.0,
              limit=BIG_LIMIT):
    """Send data, then the next frame must be a close with code."""
    with Conn(limit) as ws:
        ws.send(data, chunk=chunk, delay=delay)
        expect_closed(ws, code, timeout)


# ================================================================== group 1

def test_1_1_text_lengths():
    """1.1.1-1.1.8: text messages of 0..65536 bytes, one frame each."""
    cases = [("1.1.%d len %d" % (i + 1, n),
              lambda n=n: echo_case(OP_TEXT, b"*" * n))
             for i, n in enumerate((0, 125, 126, 127, 128, 65535, 65536))]
    cases.append(("1.1.8 len 65536 in 997-byte chunks",
                   lambda: echo_case(OP_TEXT, b"*" * 65536, chunk=997)))
    run_cases(cases)


def test_1_2_binary_lengths():
    """1.2.1-1.2.8: binary messages of 0..65536 bytes, plus every byte
    value and an all-zero masking key."""
    cases = [("1.2.%d len %d" % (i + 1, n),
              lambda n=n: echo_case(OP_BINARY, binary_payload(n)))
             for i, n in enumerate((0, 125, 126, 127, 128, 65535, 65536))]
    cases.append(("1.2.8 len 65536 in 997-byte chunks",
                  lambda: echo_case(OP_BINARY, binary_payload(65536),
                                    chunk=997)))
    cases.append(("1.2.x zero masking key",
                  lambda: echo_case(OP_BINARY, binary_payload(300),
                                    key=b"\0\0\0\0")))
    cases.append(("1.1.x zero masking key, text",
                  lambda: echo_case(OP_TEXT, text_payload(300),
                                    key=b"\0\0\0\0")))
    run_cases(cases)


def test_1_x_split_frames():
    """Frame headers of every length form split at every byte (the whole
    frame sent one byte per TCP send, 14-byte header included)."""
    cases = []
    for n in (0, 5, 125, 126, 300, 65536):
        for op in (OP_TEXT, OP_BINARY):
            p = b"x" * n if op == OP_TEXT else binary_payload(n)
            chunk = 1 if n <= 300 else 4093
            cases.append(("1.x opcode %d len %d in %d-byte chunks" %
                          (op, n, chunk),
                          lambda op=op, p=p, chunk=chunk:
                          echo_case(op, p, chunk=chunk)))
    run_cases(cases)


def test_1_3_unmasked_client_frames():
    """RFC 6455 5.1: a server MUST close on an unmasked client frame."""
    cases = []
    for cid, op, payload in (("text", OP_TEXT, b"Hello"),
                             ("empty text", OP_TEXT, b""),
                             ("binary", OP_BINARY, b"\x00\xff"),
                             ("ping", OP_PING, b"ping"),
                             ("pong", OP_PONG, b""),
                             ("close 1000", OP_CLOSE, close_payload(1000))):
        cases.append(("unmasked " + cid,
                      lambda op=op, p=payload:
                      fail_case(fr(op, p, mask=False), 1002)))

    def unmasked_continuation():
        with Conn() as ws:
            ws.send(fr(OP_TEXT, b"frag1", fin=False) +
                    fr(OP_CONT, b"frag2", mask=False))
            expect_closed(ws, 1002)
    cases.append(("unmasked continuation", unmasked_continuation))

    def unmasked_after_echo():
        with Conn() as ws:
            ws.send(fr(OP_TEXT, b"first"))
            expect_echo(ws, OP_TEXT, b"first")
            ws.send(fr(OP_TEXT, b"second", mask=False))
            expect_closed(ws, 1002)
    cases.append(("unmasked after an echoed message", unmasked_after_echo))
    run_cases(cases)


def test_1_4_non_minimal_lengths():
    """RFC 6455 5.2: the minimal number of bytes MUST encode the length;
    and the most significant bit of a 64-bit length MUST be 0."""
    cases = []
    for op, name in ((OP_TEXT, "text"), (OP_BINARY, "binary")):
        for n in (0, 1, 125):
            cases.append(("%s len %d in 16 bits" % (name, n),
                          lambda op=op, n=n:
                          fail_case(nonminimal(op, b"a" * n, 16), 1002)))
        for n in (0, 125, 126, 65535):
            cases.append(("%s len %d in 64 bits" % (name, n),
                          lambda op=op, n=n:
                          fail_case(nonminimal(op, b"a" * n, 64), 1002)))
    cases.append(("text, 64-bit length with the top bit set",
                  lambda: fail_case(fr(OP_TEXT, b"", length=1 << 63),
                                    1002, timeout=FAIL_FAST)))
    cases.append(("binary, 64-bit length 2^64-1",
                  lambda: fail_case(fr(OP_BINARY, b"",
                                       length=(1 << 64) - 1),
                                    1002, timeout=FAIL_FAST)))
    run_cases(cases)


# ================================================================== group 2

def test_2_x_ping():
    """2.1-2.5: ping payloads of 0..125 bytes get identical pongs; 126 is
    a protocol error.  Ping payloads are not text: any bytes go."""
    def ping(payload, chunk=None, delay=0.0):
        with Conn() as ws:
            ws.send(fr(OP_PING, payload), chunk=chunk, delay=delay)
            expect_pong(ws, payload)
            close_clean(ws)
    run_cases([
        ("2.1 empty ping", lambda: ping(b"")),
        ("2.2 text payload", lambda: ping(b"Hello, world!")),
        ("2.3 binary payload", lambda: ping(b"\x00\xff\xfe\xfd\xfc\xfb\x00"
                                            b"\xff\xc0\xed\xa0\x80")),
        ("2.4 125-byte payload", lambda: ping(binary_payload(125))),
        ("2.5 126-byte payload",
         lambda: fail_case(fr(OP_PING, b"\xfe" * 126), 1002)),
        ("2.5b 126-byte payload, header only",
         lambda: fail_case(fr(OP_PING, b"", length=126), 1002,
                           timeout=FAIL_FAST)),
        ("2.5c 64-bit length 65536",
         lambda: fail_case(fr(OP_PING, b"", length=65536), 1002,
                           timeout=FAIL_FAST)),
        ("2.6 125 bytes in 1-byte chunks",
         lambda: ping(binary_payload(125), chunk=1, delay=0.001)),
    ])


def test_2_x_pong():
    """2.7-2.9: unsolicited pongs are ignored: nothing is sent back."""
    def unsolicited(pongs, then_ping=None):
        with Conn() as ws:
            ws.send(b"".join(fr(OP_PONG, p) for p in pongs))
            if then_ping is not None:
                ws.send(fr(OP_PING, then_ping))
                expect_pong(ws, then_ping)
            # The echo is the next frame: nothing answered the pongs.
            ws.send(fr(OP_TEXT, b"after pong"))
            expect_echo(ws, OP_TEXT, b"after pong")
            close_clean(ws)
    run_cases([
        ("2.7 unsolicited empty pong", lambda: unsolicited([b""])),
        ("2.8 unsolicited pong with payload",
         lambda: unsolicited([b"unsolicited pong payload"])),
        ("2.9 unsolicited pong, then ping",
         lambda: unsolicited([b"unsolicited"], b"ping payload")),
        ("2.x ten unsolicited pongs, 125 bytes each",
         lambda: unsolicited([binary_payload(125)] * 10)),
        ("2.x pong 126 bytes",
         lambda: fail_case(fr(OP_PONG, b"\x01" * 126), 1002)),
    ])


def test_2_10_many_pings():
    """2.10-2.11: ten pings in a row get ten pongs in order (this server
    answers every ping, though RFC 6455 5.5.3 would allow only the last)."""
    def pings(chunk=None, delay=0.0):
        payloads = [("payload-%d" % i).encode() for i in range(10)]
        with Conn() as ws:
            data = b"".join(fr(OP_PING, p) for p in payloads)
            ws.send(data, chunk=chunk, delay=delay)
            for p in payloads:
                expect_pong(ws, p)
            close_clean(ws)
    run_cases([("2.10 ten pings at once", pings),
               ("2.11 ten pings in 1-byte chunks",
                lambda: pings(chunk=1, delay=0.0005))])


def test_2_x_control_frame_rules():
    """RFC 6455 5.5: control frames MUST NOT be fragmented."""
    run_cases([
        ("ping fin=0", lambda: fail_case(fr(OP_PING, b"a", fin=False),
                                         1002)),
        ("pong fin=0", lambda: fail_case(fr(OP_PONG, b"a", fin=False),
                                         1002)),
        ("close fin=0",
         lambda: fail_case(fr(OP_CLOSE, close_payload(1000), fin=False),
                           1002)),
        ("ping fin=0, empty", lambda: fail_case(fr(OP_PING, fin=False),
                                                1002)),
        ("close 126 bytes",
         lambda: fail_case(fr(OP_CLOSE, close_payload(1000, "x" * 124)),
                           1002)),
    ])


# ================================================================== group 3

def _rsv_after_echo(bad, style):
    """Text echoed, then the bad frame, then a ping: echo, then close 1002
    and no pong."""
    with Conn() as ws:
        first = fr(OP_TEXT, b"Hello, world!")
        rest = bad + fr(OP_PING, b"ping after")
        if style == "wait":
            ws.send(first)
            expect_echo(ws, OP_TEXT, b"Hello, world!")
            ws.send(rest)
        elif style == "at once":
            ws.send(first + rest)
            expect_echo(ws, OP_TEXT, b"Hello, world!")
        else:
            ws.send(first + rest, chunk=1, delay=0.0005)
            expect_echo(ws, OP_TEXT, b"Hello, world!")
        expect_closed(ws, 1002)


def test_3_x_reserved_bits():
    """3.1-3.7: any RSV bit set without a negotiated extension → 1002."""
    cases = [
        ("3.1 text RSV1", lambda: fail_case(
            fr(OP_TEXT, b"Hello, world!", rsv=1), 1002)),
        ("3.2 text RSV2 after an echo",
         lambda: _rsv_after_echo(fr(OP_TEXT, b"Hello, world!", rsv=2),
                                 "wait")),
        ("3.3 text RSV3, sent at once",
         lambda: _rsv_after_echo(fr(OP_TEXT, b"Hello, world!", rsv=3),
                                 "at once")),
        ("3.4 text RSV4, octet-wise",
         lambda: _rsv_after_echo(fr(OP_TEXT, b"Hello, world!", rsv=4),
                                 "octets")),
        ("3.5 binary RSV5", lambda: fail_case(
            fr(OP_BINARY, b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff", rsv=5),
            1002)),
        ("3.6 ping RSV6", lambda: fail_case(
            fr(OP_PING, b"Hello, world!", rsv=6), 1002)),
        ("3.7 close RSV7", lambda: fail_case(
            fr(OP_CLOSE, close_payload(1000), rsv=7), 1002)),
        ("3.x pong RSV1", lambda: fail_case(fr(OP_PONG, b"", rsv=1),
                                            1002)),
        ("3.x continuation RSV1", lambda: fail_case(
            fr(OP_TEXT, b"frag1", fin=False) + fr(OP_CONT, b"frag2", rsv=1),
            1002)),
        ("3.x text RSV1, header only", lambda: fail_case(
            fr(OP_TEXT, b"", rsv=1, length=1000), 1002, timeout=FAIL_FAST)),
    ]
    run_cases(cases)


# ================================================================== group 4

def test_4_x_reserved_opcodes():
    """4.1.x (3-7) and 4.2.x (0xB-0xF): reserved opcodes → 1002, also
    after an echoed message and before a ping that must not be answered."""
    cases = []
    for grp, ops in (("4.1", range(3, 8)), ("4.2", range(0xB, 0x10))):
        for op in ops:
            cases.append(("%s opcode %d, empty" % (grp, op),
                          lambda op=op: fail_case(fr(op), 1002)))
            cases.append(("%s opcode %d, payload, after echo" % (grp, op),
                          lambda op=op: _rsv_after_echo(
                              fr(op, b"reserved opcode"), "at once")))
            cases.append(("%s opcode %d, fin=0" % (grp, op),
                          lambda op=op: fail_case(
                              fr(op, b"x", fin=False), 1002)))
    cases.append(("4.x opcode 3 inside a fragmented message",
                  lambda: fail_case(fr(OP_TEXT, b"frag1", fin=False) +
                                    fr(3, b"frag2"), 1002)))
    run_cases(cases)


# ================================================================== group 5

def _send_frames(ws, frames, style):
    data = b"".join(frames)
    if style == "whole":
        ws.send(data)
    elif style == "frames":
        for f in frames:
            ws.send(f)
            time.sleep(0.02)
    else:
        ws.send(data, chunk=1, delay=0.0003)


def test_5_x_fragmented_control():
    """5.1-5.2: a fragmented ping or pong → 1002."""
    run_cases([
        ("5.1 ping in 2 fragments", lambda: fail_case(
            fr(OP_PING, b"fragment1", fin=False) + fr(OP_CONT, b"fragment2"),
            1002)),
        ("5.2 pong in 2 fragments", lambda: fail_case(
            fr(OP_PONG, b"fragment1", fin=False) + fr(OP_CONT, b"fragment2"),
            1002)),
    ])


def test_5_x_fragmented_text():
    """5.3-5.8: a text message in 2 fragments, alone or with a ping
    between them; sent at once, frame by frame, and octet-wise."""
    cases = []
    for n, style in ((3, "whole"), (4, "frames"), (5, "octets")):
        def two(style=style):
            with Conn() as ws:
                _send_frames(ws, [fr(OP_TEXT, b"fragment1", fin=False),
                                  fr(OP_CONT, b"fragment2")], style)
                expect_echo(ws, OP_TEXT, b"fragment1fragment2")
                close_clean(ws)
        cases.append(("5.%d two fragments, %s" % (n, style), two))
    for n, style in ((6, "whole"), (7, "frames"), (8, "octets")):
        def with_ping(style=style):
            with Conn() as ws:
                _send_frames(ws, [fr(OP_TEXT, b"fragment1", fin=False),
                                  fr(OP_PING, b"pongme!"),
                                  fr(OP_CONT, b"fragment2")], style)
                expect_pong(ws, b"pongme!")
                expect_echo(ws, OP_TEXT, b"fragment1fragment2")
                close_clean(ws)
        cases.append(("5.%d two fragments, ping between, %s" % (n, style),
                      with_ping))
    run_cases(cases)


def test_5_x_continuation_errors():
    """5.9-5.18: continuation with nothing to continue, and a new data
    frame inside a fragmented message → 1002 (after any complete echo)."""
    cases = []
    for n, style in ((9, "whole"), (10, "frames"), (11, "octets")):
        def nothing_fin(style=style):
            with Conn() as ws:
                _send_frames(ws, [fr(OP_CONT, b"non-continuation payload"),
                                  fr(OP_TEXT, b"Hello, world!")], style)
                expect_closed(ws, 1002)
        cases.append(("5.%d continuation fin=1 without start, %s" %
                      (n, style), nothing_fin))
    for n, style in ((12, "whole"), (13, "frames"), (14, "octets")):
        def nothing_nofin(style=style):
            with Conn() as ws:
                _send_frames(ws, [fr(OP_CONT, b"non-continuation payload",
                                     fin=False),
                                  fr(OP_TEXT, b"Hello, world!")], style)
                expect_closed(ws, 1002)
        cases.append(("5.%d continuation fin=0 without start, %s" %
                      (n, style), nothing_nofin))

    def c5_15():
        with Conn() as ws:
            ws.send(fr(OP_TEXT, b"fragment1", fin=False) +
                    fr(OP_CONT, b"fragment2") +
                    fr(OP_CONT, b"fragment3", fin=False) +
                    fr(OP_TEXT, b"fragment4"))
            expect_echo(ws, OP_TEXT, b"fragment1fragment2")
            expect_closed(ws, 1002)
    cases.append(("5.15 echo, then continuation without start", c5_15))
    cases.append(("5.16 (cont fin=0, text fin=0, cont fin=1) x2",
                  lambda: fail_case(2 * (fr(OP_CONT, b"fragment1", fin=False)
                                         + fr(OP_TEXT, b"fragment2",
                                              fin=False)
                                         + fr(OP_CONT, b"fragment3")),
                                    1002)))
    cases.append(("5.17 (cont fin=1, text fin=0, cont fin=1) x2",
                  lambda: fail_case(2 * (fr(OP_CONT, b"fragment1")
                                         + fr(OP_TEXT, b"fragment2",
                                              fin=False)
                                         + fr(OP_CONT, b"fragment3")),
                                    1002)))
    cases.append(("5.18 text fin=0, then text fin=1",
                  lambda: fail_case(fr(OP_TEXT, b"fragment1", fin=False) +
                                    fr(OP_TEXT, b"fragment2"), 1002)))
    cases.append(("5.18b binary fin=0, then binary fin=1",
                  lambda: fail_case(fr(OP_BINARY, b"fragment1", fin=False) +
                                    fr(OP_BINARY, b"fragment2"), 1002)))
    cases.append(("5.18c text fin=0, then binary fin=0",
                  lambda: fail_case(fr(OP_TEXT, b"fragment1", fin=False) +
                                    fr(OP_BINARY, b"fragment2", fin=False),
                                    1002)))
    cases.append(("5.18d binary fin=0, then text fin=1",
                  lambda: fail_case(fr(OP_BINARY, b"fragment1", fin=False) +
                                    fr(OP_TEXT, b"fragment2"), 1002)))

    def cont_after_complete():
        with Conn() as ws:
            ws.send(fr(OP_BINARY, b"one", fin=False) + fr(OP_CONT, b"two"))
            expect_echo(ws, OP_BINARY, b"onetwo")
            ws.send(fr(OP_CONT, b"three"))
            expect_closed(ws, 1002)
    cases.append(("5.x continuation after a complete fragmented message",
                  cont_after_complete))
    run_cases(cases)


def test_5_19_pings_between_fragments():
    """5.19-5.20: five text fragments with pings after the 2nd and 4th,
    with pauses; the pongs come before the echo."""
    def case(octets):
        frags = [b"fragment%d" % i for i in range(1, 6)]
        with Conn() as ws:
            def send(f):
                ws.send(f, chunk=1 if octets else None,
                        delay=0.0005 if octets else 0.0)
            send(fr(OP_TEXT, frags[0], fin=False))
            send(fr(OP_CONT, frags[1], fin=False))
            send(fr(OP_PING, b"pongme 1!"))
            expect_pong(ws, b"pongme 1!")
            time.sleep(0.1)
            send(fr(OP_CONT, frags[2], fin=False))
            send(fr(OP_CONT, frags[3], fin=False))
            send(fr(OP_PING, b"pongme 2!"))
            expect_pong(ws, b"pongme 2!")
            time.sleep(0.1)
            send(fr(OP_CONT, frags[4]))
            expect_echo(ws, OP_TEXT, b"".join(frags))
            close_clean(ws)
    run_cases([("5.19 whole frames", lambda: case(False)),
               ("5.20 octet-wise", lambda: case(True))])


def test_5_x_many_fragments():
    """2..N fragments, text and binary; UTF-8 characters split across
    fragments; the message is echoed whole as one frame."""
    cases = []
    for op in (OP_TEXT, OP_BINARY):
        payload = text_payload(1000) if op == OP_TEXT else \
            binary_payload(1000)
        for n in (2, 3, 4, 5, 7, 10, 16, 100, 1000):
            def case(op=op, payload=payload, n=n):
                step = -(-len(payload) // n)
                parts = [payload[i:i + step]
                         for i in range(0, len(payload), step)]
                parts += [b""] * (n - len(parts))
                frames = [fr(op if i == 0 else OP_CONT, p,
                             fin=(i == n - 1)) for i, p in enumerate(parts)]
                with Conn() as ws:
                    ws.send(b"".join(frames))
                    expect_echo(ws, op, payload)
                    close_clean(ws)
            cases.append(("5.x opcode %d in %d fragments" % (op, n), case))
    run_cases(cases)


def test_5_x_empty_fragments():
    """Empty first, middle and last fragments; an all-empty message."""
    def case(op, parts):
        frames = [fr(op if i == 0 else OP_CONT, p, fin=(i == len(parts) - 1))
                  for i, p in enumerate(parts)]
        with Conn() as ws:
            ws.send(b"".join(frames))
            expect_echo(ws, op, b"".join(parts))
            close_clean(ws)
    cases = []
    for op in (OP_TEXT, OP_BINARY):
        for name, parts in (("all empty, 2", [b"", b""]),
                            ("all empty, 5", [b""] * 5),
                            ("empty first", [b"", b"middle", b"end"]),
                            ("empty middle", [b"start", b"", b"", b"end"]),
                            ("empty last", [b"start", b"middle", b""]),
                            ("one empty fin=1", [b""])):
            cases.append(("5.x opcode %d %s" % (op, name),
                          lambda op=op, parts=parts: case(op, parts)))
    run_cases(cases)


def test_5_x_interleaved_control():
    """Pings and unsolicited pongs between binary fragments; two
    fragmented messages back to back keep their own opcodes."""
    def pings_and_pongs():
        with Conn() as ws:
            ws.send(fr(OP_BINARY, b"\x00\x01", fin=False) +
                    fr(OP_PONG, b"ignored") +
                    fr(OP_CONT, b"\x02\x03", fin=False) +
                    fr(OP_PING, b"p1") + fr(OP_PING, b"") +
                    fr(OP_CONT, b"", fin=False) +
                    fr(OP_PING, b"\xff" * 125) +
                    fr(OP_CONT, b"\x04"))
            expect_pong(ws, b"p1")
            expect_pong(ws, b"")
            expect_pong(ws, b"\xff" * 125)
            expect_echo(ws, OP_BINARY, b"\x00\x01\x02\x03\x04")
            close_clean(ws)

    def back_to_back():
        with Conn() as ws:
            ws.send(fr(OP_TEXT, b"t1", fin=False) + fr(OP_CONT, b"t2") +
                    fr(OP_BINARY, b"\xc0", fin=False) +
                    fr(OP_CONT, b"\xff") +
                    fr(OP_TEXT, b"whole") +
                    fr(OP_BINARY, b"b", fin=False) + fr(OP_CONT, b""))
            expect_echo(ws, OP_TEXT, b"t1t2")
            expect_echo(ws, OP_BINARY, b"\xc0\xff")
            expect_echo(ws, OP_TEXT, b"whole")
            expect_echo(ws, OP_BINARY, b"b")
            close_clean(ws)
    run_cases([("5.x pings and pongs between binary fragments",
                pings_and_pongs),
               ("5.x fragmented messages back to back", back_to_back)])


# ================================================================== group 6

def utf8_first_bad(b):
    """Index of the first byte that cannot continue a valid UTF-8 prefix
    (Unicode 3.9, Table 3-7: a validator must fail there), len(b) if b
    only ends inside a character, or None if b is valid."""
    i, n = 0, len(b)
    while i < n:
        c = b[i]
        if c < 0x80:
            i += 1
            continue
        if 0xC2 <= c <= 0xDF:
            ranges = [(0x80, 0xBF)]
        elif c == 0xE0:
            ranges = [(0xA0, 0xBF), (0x80, 0xBF)]
        elif 0xE1 <= c <= 0xEC or 0xEE <= c <= 0xEF:
            ranges = [(0x80, 0xBF)] * 2
        elif c == 0xED:
            ranges = [(0x80, 0x9F), (0x80, 0xBF)]
        elif c == 0xF0:
            ranges = [(0x90, 0xBF), (0x80, 0xBF), (0x80, 0xBF)]
        elif 0xF1 <= c <= 0xF3:
            ranges = [(0x80, 0xBF)] * 3
        elif c == 0xF4:
            ranges = [(0x80, 0x8F), (0x80, 0xBF), (0x80, 0xBF)]
        else:
            return i
        for k, (lo, hi) in enumerate(ranges):
            j = i + 1 + k
            if j >= n:
                return n
            if not lo <= b[j] <= hi:
                return j
        i += 1 + len(ranges)
    return None


def _h(s):
    return bytes.fromhex(s)


# (case, bytes, valid), after Markus Kuhn's UTF-8 decoder stress test.
UTF8_SAMPLES = [
    ("6.2 Hello-µ@ßöäüàá-UTF-8!!",
     "Hello-\u00b5@\u00df\u00f6\u00e4\u00fc\u00e0\u00e1-UTF-8!!".encode(),
     True),
    ("6.3.1 κόσμε + surrogate + edited",
     _h("cebae1bdb9cf83cebcceb5eda080656469746564"), False),
    ("6.5.1 κόσμε", _h("cebae1bdb9cf83cebcceb5"), True),
    ("6.5.x NUL", b"\x00", True),
    ("6.5.x NUL inside", b"a\x00b\x00", True),
    ("6.5.x all ASCII", bytes(range(128)), True),
    ("6.5.x BOM", _h("efbbbf"), True),
    ("6.5.x G clef", "\U0001d11e".encode(), True),
    # 2.1 first possible sequence of a certain length
    ("6.7.1 U+0000", _h("00"), True),
    ("6.7.2 U+0080", _h("c280"), True),
    ("6.7.3 U+0800", _h("e0a080"), True),
    ("6.7.4 U+10000", _h("f0908080"), True),
    ("6.8.1 first 5-byte", _h("f888808080"), False),
    ("6.8.2 first 6-byte", _h("fc8480808080"), False),
    # 2.2 last possible sequence of a certain length
    ("6.9.1 U+007F", _h("7f"), True),
    ("6.9.2 U+07FF", _h("dfbf"), True),
    ("6.9.3 U+FFFF", _h("efbfbf"), True),
    ("6.9.4 U+1FFFFF", _h("f7bfbfbf"), False),
    ("6.10.1 last 5-byte", _h("fbbfbfbfbf"), False),
    ("6.10.2 last 6-byte", _h("fdbfbfbfbfbf"), False),
    ("6.10.3 U+7FFFFFFF", _h("fdbfbfbfbfbf"), False),
    # 2.3 other boundary conditions
    ("6.11.1 U+D7FF", _h("ed9fbf"), True),
    ("6.11.2 U+E000", _h("ee8080"), True),
    ("6.11.3 U+FFFD", _h("efbfbd"), True),
    ("6.11.4 U+10FFFF", _h("f48fbfbf"), True),
    ("6.11.5 U+110000", _h("f4908080"), False),
    ("6.11.x U+FFFF0000-ish F4 BF BF BF", _h("f4bfbfbf"), False),
    # 3.1 unexpected continuation bytes
    ("6.12.1 80", _h("80"), False),
    ("6.12.2 bf", _h("bf"), False),
    ("6.12.3 80 bf", _h("80bf"), False),
    ("6.12.4 80 bf 80", _h("80bf80"), False),
    ("6.12.5 80 bf 80 bf", _h("80bf80bf"), False),
    ("6.12.6 80 bf 80 bf 80", _h("80bf80bf80"), False),
    ("6.12.7 80 bf 80 bf 80 bf", _h("80bf80bf80bf"), False),
    ("6.12.8 80 bf 80 bf 80 bf 80", _h("80bf80bf80bf80"), False),
    ("6.12.x ASCII then 80", b"abc\x80", False),
    ("6.12.x valid 2-byte then extra bf", _h("c280bf"), False),
    ("6.13.x all 64 continuation bytes", bytes(range(0x80, 0xC0)), False),
    # 3.2 lonely start characters
    ("6.14.1 lonely c0..df + space",
     b"".join(bytes([c, 0x20]) for c in range(0xC0, 0xE0)), False),
    ("6.14.x lonely c2 + space", _h("c220"), False),
    ("6.14.2 lonely e0..ef + space",
     b"".join(bytes([c, 0x20]) for c in range(0xE0, 0xF0)), False),
    ("6.14.x lonely e1 + space", _h("e120"), False),
    ("6.14.3 lonely f0..f7 + space",
     b"".join(bytes([c, 0x20]) for c in range(0xF0, 0xF8)), False),
    ("6.14.x lonely f1 + space", _h("f120"), False),
    ("6.14.4 lonely f8..fb + space",
     b"".join(bytes([c, 0x20]) for c in range(0xF8, 0xFC)), False),
    ("6.14.5 lonely fc..fd + space",
     b"".join(bytes([c, 0x20]) for c in range(0xFC, 0xFE)), False),
    # 3.3 sequences with the last continuation byte missing
    ("6.15.1 c0", _h("c0"), False),
    ("6.15.2 e0 80", _h("e080"), False),
    ("6.15.3 f0 80 80", _h("f08080"), False),
    ("6.15.4 f8 80 80 80", _h("f8808080"), False),
    ("6.15.5 fc 80 80 80 80", _h("fc80808080"), False),
    ("6.15.6 df", _h("df"), False),
    ("6.15.7 ef bf", _h("efbf"), False),
    ("6.15.8 f7 bf bf", _h("f7bfbf"), False),
    ("6.15.9 fb bf bf bf", _h("fbbfbfbf"), False),
    ("6.15.10 fd bf bf bf bf", _h("fdbfbfbfbf"), False),
    ("6.15.x truncated U+0080: c2", _h("c2"), False),
    ("6.15.x truncated U+0800: e0 a0", _h("e0a0"), False),
    ("6.15.x truncated U+10000: f0 90 80", _h("f09080"), False),
    ("6.15.x truncated U+10FFFF: f4 8f bf", _h("f48fbf"), False),
    ("6.15.x truncated e1", _h("e1"), False),
    ("6.15.x truncated e1 80", _h("e180"), False),
    ("6.15.x truncated U+D7FF: ed 9f", _h("ed9f"), False),
    ("6.15.x κόσμε, truncated last char", _h("cebae1bdb9cf83cebcce"),
     False),
    # 3.4 concatenation of incomplete sequences
    ("6.16.1 all incomplete, concatenated",
     _h("c0e080f08080f8808080fc80808080dfefbff7bfbffbbfbfbffdbfbfbfbf"),
     False),
    ("6.16.x valid truncations concatenated", _h("c2e0a0f09080"), False),
    # 3.5 impossible bytes
    ("6.17.1 fe", _h("fe"), False),
    ("6.17.2 ff", _h("ff"), False),
    ("6.17.3 fe fe ff ff", _h("fefeffff"), False),
    ("6.17.x f5 80 80 80", _h("f5808080"), False),
    ("6.17.x f8", _h("f8"), False),
    ("6.17.x c1 alone", _h("c1"), False),
    # 4.1 overlong ASCII '/'
    ("6.18.1 c0 af", _h("c0af"), False),
    ("6.18.2 e0 80 af", _h("e080af"), False),
    ("6.18.3 f0 80 80 af", _h("f08080af"), False),
    ("6.18.4 f8 80 80 80 af", _h("f8808080af"), False),
    ("6.18.5 fc 80 80 80 80 af", _h("fc80808080af"), False),
    # 4.2 maximum overlong sequences
    ("6.19.1 c1 bf", _h("c1bf"), False),
    ("6.19.2 e0 9f bf", _h("e09fbf"), False),
    ("6.19.3 f0 8f bf bf", _h("f08fbfbf"), False),
    ("6.19.4 f8 87 bf bf bf", _h("f887bfbfbf"), False),
    ("6.19.5 fc 83 bf bf bf bf", _h("fc83bfbfbfbf"), False),
    # 4.3 overlong NUL
    ("6.20.1 c0 80", _h("c080"), False),
    ("6.20.2 e0 80 80", _h("e08080"), False),
    ("6.20.3 f0 80 80 80", _h("f0808080"), False),
    ("6.20.4 f8 80 80 80 80", _h("f880808080"), False),
    ("6.20.5 fc 80 80 80 80 80", _h("fc8080808080"), False),
    # 5.1 single UTF-16 surrogates
    ("6.21.1 U+D800", _h("eda080"), False),
    ("6.21.2 U+DB7F", _h("edadbf"), False),
    ("6.21.3 U+DB80", _h("edae80"), False),
    ("6.21.4 U+DBFF", _h("edafbf"), False),
    ("6.21.5 U+DC00", _h("edb080"), False),
    ("6.21.6 U+DF80", _h("edbe80"), False),
    ("6.21.7 U+DFFF", _h("edbfbf"), False),
    # 5.2 paired UTF-16 surrogates
    ("6.22.1 U+D800 U+DC00", _h("eda080edb080"), False),
    ("6.22.2 U+D800 U+DFFF", _h("eda080edbfbf"), False),
    ("6.22.3 U+DB7F U+DC00", _h("edadbfedb080"), False),
    ("6.22.4 U+DB7F U+DFFF", _h("edadbfedbfbf"), False),
    ("6.22.5 U+DB80 U+DC00", _h("edae80edb080"), False),
    ("6.22.6 U+DB80 U+DFFF", _h("edae80edbfbf"), False),
    ("6.22.7 U+DBFF U+DC00", _h("edafbfedb080"), False),
    ("6.22.8 U+DBFF U+DFFF", _h("edafbfedbfbf"), False),
    # 5.3 noncharacters are valid UTF-8
    ("6.23.1 U+FFFE", _h("efbfbe"), True),
    ("6.23.2 U+FFFF", _h("efbfbf"), True),
    ("6.23.3 U+1FFFE", _h("f09fbfbe"), True),
    ("6.23.4 U+1FFFF", _h("f09fbfbf"), True),
    ("6.23.5 U+10FFFE", _h("f48fbfbe"), True),
    ("6.23.6 U+FDD0", _h("efb790"), True),
    ("6.23.7 U+FDEF", _h("efb7af"), True),
    ("6.23.8 U+FFFD twice", _h("efbfbdefbfbd"), True),
    # a bad byte after a long valid run (the validator's 8-byte ASCII path)
    ("6.x 100 ASCII then ff", b"a" * 100 + b"\xff", False),
    ("6.x 64 ASCII then 80 then ASCII", b"b" * 64 + b"\x80" + b"c" * 64,
     False),
    ("6.x 1000 bytes of mixed valid text", text_payload(1000), True),
    ("6.x mixed text then U+110000", text_payload(200) + _h("f4908080"),
     False),
]

# The samples' validity is stated by hand; check it against Python's
# strict decoder and our own table, so a typo cannot invert a case.
for _cid, _b, _valid in UTF8_SAMPLES:
    try:
        _b.decode("utf-8")
        _py = True
    except UnicodeDecodeError:
        _py = False
    assert _py == _valid == (utf8_first_bad(_b) is None), _cid

# Representative samples split at every byte position.
UTF8_SPLIT_SAMPLES = ("6.2 ", "6.3.1 ", "6.5.1 ", "6.11.4 ", "6.11.5 ",
                      "6.21.1 ", "6.18.2 ", "6.15.x κόσμε", "6.22.1 ",
                      "6.17.3 ", "6.x mixed text then")


def _utf8_expect(ws, payload, bad):
    if bad is None:
        expect_echo(ws, OP_TEXT, payload)
        close_clean(ws)
    else:
        expect_closed(ws, 1007, FAIL_FAST)


def utf8_one_frame(payload):
    with Conn() as ws:
        ws.send(fr(OP_TEXT, payload))
        _utf8_expect(ws, payload, utf8_first_bad(payload))


def utf8_byte_chunks(payload):
    """One frame sent one byte per TCP send; an invalid one only up to
    its first bad byte: the close must come without the rest."""
    data = fr(OP_TEXT, payload)
    hl = len(data) - len(payload)
    bad = utf8_first_bad(payload)
    with Conn() as ws:
        if bad is not None and bad < len(payload):
            data = data[:hl + bad + 1]
        ws.send(data, chunk=1)
        _utf8_expect(ws, payload, bad)


def utf8_fragments(payload, cuts):
    """The payload as fragments cut at cuts; an invalid one is sent only
    up to the fragment holding its first bad byte."""
    bounds = [0] + list(cuts) + [len(payload)]
    parts = [payload[a:b] for a, b in zip(bounds, bounds[1:])]
    bad = utf8_first_bad(payload)
    with Conn() as ws:
        data = b""
        for i, p in enumerate(parts):
            data += fr(OP_TEXT if i == 0 else OP_CONT, p,
                       fin=(i == len(parts) - 1))
            if bad is not None and bad < bounds[i + 1]:
                break
        ws.send(data)
        _utf8_expect(ws, payload, bad)


def test_6_1_empty_text():
    """6.1.1-6.1.3: empty text messages and empty text fragments."""
    def case(frames, want):
        with Conn() as ws:
            ws.send(b"".join(frames))
            expect_echo(ws, OP_TEXT, want)
            close_clean(ws)
    run_cases([
        ("6.1.1 empty frame", lambda: case([fr(OP_TEXT, b"")], b"")),
        ("6.1.2 three empty fragments",
         lambda: case([fr(OP_TEXT, b"", fin=False),
                       fr(OP_CONT, b"", fin=False), fr(OP_CONT, b"")], b"")),
        ("6.1.3 empty, 'middle', empty",
         lambda: case([fr(OP_TEXT, b"", fin=False),
                       fr(OP_CONT, b"middle", fin=False), fr(OP_CONT, b"")],
                      b"middle")),
    ])


def test_6_2_valid_fragmented():
    """6.2.1-6.2.4: valid text whole, at character boundaries, one byte
    per fragment."""
    hello = UTF8_SAMPLES[0][1]
    kosme = _h("cebae1bdb9cf83cebcceb5")
    chars = "Hello-\u00b5@\u00df\u00f6\u00e4\u00fc\u00e0\u00e1-UTF-8!!"
    cuts, off = [], 0
    for ch in chars[:-1]:
        off += len(ch.encode())
        cuts.append(off)
    run_cases([
        ("6.2.1 one frame", lambda: utf8_one_frame(hello)),
        ("6.2.2 one fragment per character",
         lambda: utf8_fragments(hello, cuts)),
        ("6.2.3 one fragment per byte",
         lambda: utf8_fragments(hello, range(1, len(hello)))),
        ("6.2.4 κόσμε one fragment per byte",
         lambda: utf8_fragments(kosme, range(1, len(kosme)))),
    ])


def test_6_3_invalid_fragmented():
    """6.3.1-6.3.2: a surrogate inside valid text, whole and one byte per
    fragment (the close must follow the fragment with the bad byte)."""
    bad = UTF8_SAMPLES[1][1]
    run_cases([
        ("6.3.1 one frame", lambda: utf8_one_frame(bad)),
        ("6.3.2 one fragment per byte",
         lambda: utf8_fragments(bad, range(1, len(bad)))),
    ])


def test_6_4_fail_fast_fragments():
    """6.4.1-6.4.2: invalid UTF-8 in a fragment: close 1007 before the
    remaining fragments are sent."""
    kosme = _h("cebae1bdb9cf83cebcceb5")

    def case(first, second):
        with Conn() as ws:
            ws.send(fr(OP_TEXT, first, fin=False))
            ws.send(fr(OP_CONT, second, fin=False))
            expect_closed(ws, 1007, FAIL_FAST)
    run_cases([
        ("6.4.1 κόσμε | f4 90 80 80 (U+110000) | not sent: edited",
         lambda: case(kosme, _h("f4908080"))),
        ("6.4.2 κόσμε f4 | 90 | not sent: 80 80 edited",
         lambda: case(kosme + b"\xf4", b"\x90")),
        ("6.4.x first fragment invalid, nothing more sent",
         lambda: fail_case(fr(OP_TEXT, b"ab\xc0\xafcd", fin=False), 1007,
                           timeout=FAIL_FAST)),
        ("6.4.x first fragment surrogate, nothing more sent",
         lambda: fail_case(fr(OP_TEXT, kosme + _h("eda080"), fin=False),
                           1007, timeout=FAIL_FAST)),
        ("6.4.x first fragment ends with ed a0, nothing more sent",
         lambda: fail_case(fr(OP_TEXT, kosme + _h("eda0"), fin=False),
                           1007, timeout=FAIL_FAST)),
    ])


def test_6_4_fail_fast_chunked():
    """6.4.3-6.4.4: one text frame sent in parts: close 1007 as soon as the
    part with the bad byte arrives, the rest never sent.  Also a 1 MiB
    frame whose first TCP chunk holds a bad byte."""
    kosme = _h("cebae1bdb9cf83cebcceb5")

    def case(parts, sent):
        payload = b"".join(parts)
        data = fr(OP_TEXT, payload)
        hl = len(data) - len(payload)
        with Conn() as ws:
            ws.sock.settimeout(30)
            off = hl
            ws.send(data[:off])
            for p in parts[:sent]:
                ws.send(data[off:off + len(p)])
                off += len(p)
                time.sleep(0.05)
            expect_closed(ws, 1007, FAIL_FAST)

    big = 1 * MiB
    run_cases([
        ("6.4.3 κόσμε | f4 90 80 80 | not sent: edited",
         lambda: case([kosme, _h("f4908080"), b"edited"], 2)),
        ("6.4.4 κόσμε | f4 90 | not sent: 80 80 edited",
         lambda: case([kosme, _h("f490"), _h("8080") + b"edited"], 2)),
        ("6.4.x 1 MiB frame, bad byte at 100 of the first 4 KiB",
         lambda: case([b"a" * 100 + b"\xff" + b"a" * 3995,
                       b"a" * (big - 4096)], 1)),
        ("6.4.x 1 MiB frame, valid first 64 KiB, bad byte in the next",
         lambda: case([text_payload(64 * KiB), b"\xc0\x80" + b"a" * 4094,
                       b"a" * (big - 68 * KiB)], 2)),
        ("6.4.x 1 MiB frame, bad byte at the very start",
         lambda: case([b"\x80", b"a" * (big - 1)], 1)),
    ])


def test_6_x_samples_one_frame():
    """6.5-6.23: every sample as one frame: valid echoed, invalid 1007."""
    run_cases([("%s, one frame" % cid, lambda b=b: utf8_one_frame(b))
               for cid, b, _ in UTF8_SAMPLES])


def test_6_x_samples_byte_chunks():
    """Every sample as one frame sent one byte per TCP send; an invalid
    sample is sent only up to its first bad byte (fail fast)."""
    run_cases([("%s, 1-byte chunks" % cid, lambda b=b: utf8_byte_chunks(b))
               for cid, b, _ in UTF8_SAMPLES])


def test_6_x_samples_byte_fragments():
    """Every sample as one fragment per byte, up to the bad byte."""
    run_cases([("%s, one fragment per byte" % cid,
                lambda b=b: utf8_fragments(b, range(1, len(b))))
               for cid, b, _ in UTF8_SAMPLES if len(b) > 1])


def test_6_x_samples_split_everywhere():
    """Representative samples as two fragments, split at every byte."""
    cases = []
    for cid, b, _ in UTF8_SAMPLES:
        if not any(cid.startswith(p) for p in UTF8_SPLIT_SAMPLES):
            continue
        for i in range(1, len(b)):
            cases.append(("%s, split at %d" % (cid, i),
                          lambda b=b, i=i: utf8_fragments(b, [i])))
    assert len(cases) > 100
    run_cases(cases)


def test_6_6_kosme_prefixes():
    """6.6.1-6.6.11: every prefix of κόσμε: valid only at character
    boundaries; ending mid-character at fin is 1007."""
    kosme = _h("cebae1bdb9cf83cebcceb5")
    run_cases([("6.6.%d %d bytes" % (n, n),
                lambda n=n: utf8_one_frame(kosme[:n]))
               for n in range(1, len(kosme) + 1)])


def test_6_x_utf8_state_per_message():
    """The validator state belongs to one message: binary is never
    checked, and an echoed message does not excuse the next."""
    def case(frames, echoes, code=None):
        with Conn() as ws:
            ws.send(b"".join(frames))
            for op, p in echoes:
                expect_echo(ws, op, p)
            if code:
                expect_closed(ws, code)
            else:
                close_clean(ws)
    run_cases([
        ("6.x invalid UTF-8 in binary is echoed",
         lambda: case([fr(OP_BINARY, _h("c0afeda080fffe80"))],
                      [(OP_BINARY, _h("c0afeda080fffe80"))])),
        ("6.x invalid UTF-8 in fragmented binary is echoed",
         lambda: case([fr(OP_BINARY, _h("ce"), fin=False),
                       fr(OP_CONT, _h("ff"))],
                      [(OP_BINARY, _h("ceff"))])),
        ("6.x binary ending mid-character, then valid text",
         lambda: case([fr(OP_BINARY, _h("e1")), fr(OP_TEXT, b"ok")],
                      [(OP_BINARY, _h("e1")), (OP_TEXT, b"ok")])),
        ("6.x valid text, then invalid text",
         lambda: case([fr(OP_TEXT, b"good"), fr(OP_TEXT, b"\xff")],
                      [(OP_TEXT, b"good")], 1007)),
        ("6.x text whose fin continuation ends mid-character",
         lambda: case([fr(OP_TEXT, b"ab", fin=False),
                       fr(OP_CONT, _h("e282"))], [], 1007)),
        ("6.x text ending mid-character with an empty fin fragment",
         lambda: case([fr(OP_TEXT, _h("e282"), fin=False),
                       fr(OP_CONT, b"")], [], 1007)),
        ("6.x character split over 3 fragments around a ping",
         _char_around_ping),
    ])


def _char_around_ping():
    with Conn() as ws:
        ws.send(fr(OP_TEXT, _h("f0"), fin=False) +
                fr(OP_CONT, _h("9d"), fin=False) +
                fr(OP_PING, _h("ff")) +
                fr(OP_CONT, _h("849e")))
        expect_pong(ws, _h("ff"))
        expect_echo(ws, OP_TEXT, _h("f09d849e"))
        close_clean(ws)


# ================================================================== group 7

def test_7_1_close_then_more():
    """7.1.1-7.1.6: after the client's close, the server replies close and
    hangs up; data and pings after the close are ignored."""
    def c7_1_1():
        with Conn() as ws:
            ws.send(fr(OP_TEXT, b"Hello World!"))
            expect_echo(ws, OP_TEXT, b"Hello World!")
            close_clean(ws)

    def after_close(extra, close=close_payload(1000), code=1000):
        with Conn() as ws:
            ws.send(fr(OP_CLOSE, close) + extra)
            return expect_closed(ws, code)

    def c7_1_5():
        with Conn() as ws:
            ws.send(fr(OP_TEXT, b"fragment1", fin=False) +
                    fr(OP_CLOSE, close_payload(1000)) +
                    fr(OP_CONT, b"fragment2"))
            expect_closed(ws, 1000)

    def c7_1_6():
        big = text_payload(256 * KiB)
        with Conn() as ws:
            ws.sock.settimeout(30)
            ws.send(fr(OP_TEXT, big) + fr(OP_CLOSE, close_payload(1000)) +
                    fr(OP_PING, b"ping after close"))
            expect_echo(ws, OP_TEXT, big, timeout=10)
            expect_closed(ws, 1000)

    def close_after_bytes():
        # The close and the text arrive in separate TCP sends.
        with Conn() as ws:
            ws.send(fr(OP_CLOSE, close_payload(1000)))
            time.sleep(0.05)
            try:
                ws.send(fr(OP_TEXT, b"too late"))
            except OSError:
                pass
            expect_closed(ws, 1000)

    run_cases([
        ("7.1.1 echo, then close", c7_1_1),
        ("7.1.2 close twice",
         lambda: after_close(fr(OP_CLOSE, close_payload(1000)))),
        ("7.1.3 close, then ping", lambda: after_close(fr(OP_PING, b"x"))),
        ("7.1.4 close, then text",
         lambda: after_close(fr(OP_TEXT, b"after close"))),
        ("7.1.x close, then invalid frames",
         lambda: after_close(fr(OP_TEXT, b"\xff", rsv=3) + b"\x00" * 20)),
        ("7.1.5 fragment, close, continuation", c7_1_5),
        ("7.1.6 256 KiB text, close, ping", c7_1_6),
        ("7.1.x close, pause, text", close_after_bytes),
    ])


def test_7_3_close_payloads():
    """7.3.1-7.3.6: close payload sizes."""
    seen = []

    def empty():
        with Conn() as ws:
            ws.send(fr(OP_CLOSE, b""))
            fin, op, payload = recv_frame(ws)
            assert op == OP_CLOSE and fin, "expected close, got opcode " \
                "%d %r" % (op, payload[:60])
            assert payload in (b"", close_payload(1000)) or \
                payload[:2] == close_payload(1000), \
                "close reply to an empty close: %r" % payload
            seen.append(payload)
            ws.expect_eof()
            assert ws.buf == b"", "data after the close: %r" % ws.buf[:60]

    def reason(code, r):
        with Conn() as ws:
            ws.send(fr(OP_CLOSE, close_payload(code, r)))
            expect_closed(ws, code)

    try:
        run_cases([
            ("7.3.1 empty close: reply 1000 or empty", empty),
            ("7.3.2 1-byte close payload",
             lambda: fail_case(fr(OP_CLOSE, b"\x03"), 1002)),
            ("7.3.3 1000, no reason", lambda: reason(1000, b"")),
            ("7.3.4 1000 with reason", lambda: reason(1000, "Hello World!")),
            ("7.3.5 1000 with 123-byte reason",
             lambda: reason(1000, "*" * 123)),
            ("7.3.5b 1000 with 123-byte UTF-8 reason",
             lambda: reason(1000, "\u03ba\u1f79\u03c3\u03bc\u03b5 " * 10 +
                            "123")),
            ("7.3.6 1000 with 124-byte reason (126 bytes)",
             lambda: fail_case(fr(OP_CLOSE, close_payload(1000, "*" * 124)),
                               1002)),
        ])
    finally:
        if seen:
            print("# 7.3.1: the server answered an empty close with %s" %
                  ("an empty payload" if seen[0] == b"" else
                   "payload %r" % seen[0]))


def test_7_5_close_reason_utf8():
    """7.5.1: a close reason that is not UTF-8 → 1007."""
    run_cases([
        ("7.5.1 κόσμε + surrogate + edited",
         lambda: fail_case(fr(OP_CLOSE, close_payload(
             1000, _h("cebae1bdb9cf83cebcceb5eda080656469746564"))), 1007)),
        ("7.5.x reason ending mid-character",
         lambda: fail_case(fr(OP_CLOSE, close_payload(1000, b"bye\xce")),
                           1007)),
        ("7.5.x reason c0 af with code 3000",
         lambda: fail_case(fr(OP_CLOSE, close_payload(3000, _h("c0af"))),
                           1007)),
        ("7.5.x reason ff",
         lambda: fail_case(fr(OP_CLOSE, close_payload(1001, b"\xff")),
                           1007)),
    ])


# RFC 6455 7.4.1 plus the IANA registry's 1012-1014 (service restart, try
# again later, bad gateway), as ws_close_code_valid in src/ws.c accepts.
VALID_CLOSE_CODES = (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                     1012, 1013, 1014, 3000, 3999, 4000, 4999)
# 1004 is reserved, 1005, 1006 and 1015 must never be sent, 1016-2999 are
# unassigned protocol codes.
INVALID_CLOSE_CODES = (0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000,
                       2999)
OUT_OF_RANGE_CLOSE_CODES = (5000, 65535)


def test_7_7_valid_close_codes():
    """7.7.x: valid codes, with and without a reason, are echoed."""
    def case(code, r):
        with Conn() as ws:
            ws.send(fr(OP_CLOSE, close_payload(code, r)))
            expect_closed(ws, code)
    cases = []
    for i, code in enumerate(VALID_CLOSE_CODES):
        cases.append(("7.7.%d code %d" % (i + 1, code),
                      lambda code=code: case(code, b"")))
        cases.append(("7.7.%d code %d with reason" % (i + 1, code),
                      lambda code=code: case(code, "reason %d" % code)))
    run_cases(cases)


def test_7_9_invalid_close_codes():
    """7.9.x and 7.13.x: codes that must not be sent → 1002."""
    cases = []
    for i, code in enumerate(INVALID_CLOSE_CODES):
        cases.append(("7.9.%d code %d" % (i + 1, code),
                      lambda code=code: fail_case(
                          fr(OP_CLOSE, close_payload(code)), 1002)))
        cases.append(("7.9.%d code %d with reason" % (i + 1, code),
                      lambda code=code: fail_case(
                          fr(OP_CLOSE, close_payload(code, "why")), 1002)))
    for i, code in enumerate(OUT_OF_RANGE_CLOSE_CODES):
        cases.append(("7.13.%d code %d" % (i + 1, code),
                      lambda code=code: fail_case(
                          fr(OP_CLOSE, close_payload(code)), 1002)))
    run_cases(cases)


def test_7_x_close_amid_traffic():
    """A close after several echoed messages and pings: everything before
    it is answered in order, then the close; the close split into 1-byte
    chunks works too."""
    def in_order():
        with Conn() as ws:
            ws.send(fr(OP_TEXT, b"one") + fr(OP_PING, b"p") +
                    fr(OP_BINARY, b"\x02") +
                    fr(OP_CLOSE, close_payload(4001, "done")))
            expect_echo(ws, OP_TEXT, b"one")
            expect_pong(ws, b"p")
            expect_echo(ws, OP_BINARY, b"\x02")
            expect_closed(ws, 4001)

    def chunked():
        with Conn() as ws:
            ws.send(fr(OP_CLOSE, close_payload(1000, "bye")), chunk=1,
                    delay=0.001)
            expect_closed(ws, 1000)
    run_cases([("7.x messages, ping, close", in_order),
               ("7.x close in 1-byte chunks", chunked)])


# ================================================================== group 9

def _big_case(opcode, n, chunk=None, fragment=None):
    payload = text_payload(n) if opcode == OP_TEXT else binary_payload(n)
    with Conn() as ws:
        ws.sock.settimeout(60)
        if fragment:
            frames = [fr(opcode if i == 0 else OP_CONT,
                         payload[i:i + fragment],
                         fin=(i + fragment >= n))
                      for i in range(0, n, fragment)]
            ws.send(b"".join(frames))
        else:
            ws.send(fr(opcode, payload), chunk=chunk)
        expect_echo(ws, opcode, payload, timeout=30)
        close_clean(ws)


SIZES_9 = ((1, 64 * KiB), (2, 256 * KiB), (3, 1 * MiB), (4, 4 * MiB),
           (5, 16 * MiB))


def test_9_1_text_sizes():
    """9.1.1-9.1.5: text messages of 64 KiB to 16 MiB."""
    run_cases([("9.1.%d %d bytes" % (i, n),
                lambda n=n: _big_case(OP_TEXT, n)) for i, n in SIZES_9])


def test_9_2_binary_sizes():
    """9.2.1-9.2.5: binary messages of 64 KiB to 16 MiB."""
    run_cases([("9.2.%d %d bytes" % (i, n),
                lambda n=n: _big_case(OP_BINARY, n)) for i, n in SIZES_9])


def test_9_3_fragmented():
    """9.3-9.4: 1 MiB messages in fragments of 256 bytes to 1 MiB."""
    cases = []
    for grp, op in (("9.3", OP_TEXT), ("9.4", OP_BINARY)):
        for i, f in enumerate((256, 4 * KiB, 64 * KiB, 1 * MiB)):
            cases.append(("%s.%d 1 MiB in %d-byte fragments" % (grp, i + 1,
                                                                 f),
                          lambda op=op, f=f: _big_case(op, MiB,
                                                       fragment=f)))
    run_cases(cases)


def test_9_5_chunked():
    """9.5-9.6: 1 MiB messages sent in TCP chunks of 64 bytes to 128 KiB,
    and a 4 KiB text message in 1-byte chunks."""
    cases = []
    for grp, op in (("9.5", OP_TEXT), ("9.6", OP_BINARY)):
        for i, c in enumerate((64, 4 * KiB, 128 * KiB)):
            cases.append(("%s.%d 1 MiB in %d-byte chunks" % (grp, i + 1, c),
                          lambda op=op, c=c: _big_case(op, MiB, chunk=c)))
    cases.append(("9.x 4 KiB text in 1-byte chunks",
                  lambda: _big_case(OP_TEXT, 4 * KiB, chunk=1)))
    run_cases(cases)


def test_9_7_many_small():
    """9.7-9.8: 1000 messages of 100 bytes pipelined without waiting, then
    every echo in order."""
    def case(op, n=1000, size=100):
        msgs = []
        for i in range(n):
            head = ("%04d:" % i).encode()
            body = text_payload(size - len(head)) if op == OP_TEXT else \
                binary_payload(size - len(head))
            msgs.append(head + body)
        with Conn() as ws:
            ws.sock.settimeout(30)
            ws.send(b"".join(fr(op, m) for m in msgs))
            for i, m in enumerate(msgs):
                try:
                    expect_echo(ws, op, m)
                except AssertionError as e:
                    raise AssertionError("message %d: %s" % (i, e))
            close_clean(ws)
    run_cases([("9.7 1000 text messages", lambda: case(OP_TEXT)),
               ("9.8 1000 binary messages", lambda: case(OP_BINARY)),
               ("9.x 2000 5-byte text messages",
                lambda: case(OP_TEXT, 2000, 5))])


def _send_quietly(ws, data):
    try:
        ws.send(data)
    except OSError:
        pass    # the reading side reports what went wrong


def test_9_x_big_and_small_pipelined():
    """Big and small messages and pings in one send: every answer comes
    in order, whole (the reader's buffers are reused correctly)."""
    def case():
        seq = [(OP_BINARY, binary_payload(MiB)), (OP_TEXT, b"small 1"),
               (OP_PING, b"after 1 MiB"), (OP_TEXT, text_payload(4 * MiB)),
               (OP_BINARY, b""), (OP_TEXT, text_payload(65536)),
               (OP_PING, b""), (OP_BINARY, binary_payload(300000))]
        with Conn() as ws:
            ws.sock.settimeout(60)
            # Send from a thread: the echoes outgrow the socket buffers
            # before the last byte is sent, and the server stops reading
            # from a client that does not read (backpressure).
            sender = threading.Thread(target=_send_quietly, args=(
                ws, b"".join(fr(op, p) for op, p in seq)))
            sender.start()
            for i, (op, p) in enumerate(seq):
                try:
                    if op == OP_PING:
                        expect_pong(ws, p, timeout=30)
                    else:
                        expect_echo(ws, op, p, timeout=30)
                except AssertionError as e:
                    raise AssertionError("answer %d: %s" % (i, e))
            sender.join(60)
            close_clean(ws)

    def fragmented_big_after_small():
        big = text_payload(2 * MiB)
        with Conn() as ws:
            ws.sock.settimeout(60)
            ws.send(fr(OP_TEXT, b"x") +
                    fr(OP_TEXT, big[:MiB], fin=False) +
                    fr(OP_PING, b"mid") +
                    fr(OP_CONT, big[MiB:]) + fr(OP_TEXT, b"y"))
            expect_echo(ws, OP_TEXT, b"x")
            expect_pong(ws, b"mid")
            expect_echo(ws, OP_TEXT, big, timeout=30)
            expect_echo(ws, OP_TEXT, b"y")
            close_clean(ws)
    run_cases([("9.x 1 MiB, small, ping, 4 MiB, ... in one send", case),
               ("9.x small, 2 MiB in 2 fragments around a ping, small",
                fragmented_big_after_small)])


# ---------------------------------------------------- max_message_size (1009)

def test_9_limit_at_the_limit():
    """Messages of exactly max_message_size (1 KiB daemon) are echoed,
    whole or fragmented; control frames are not counted."""
    def fragmented(op, sizes):
        payload = binary_payload(sum(sizes))
        frames, off = [], 0
        for i, s in enumerate(sizes):
            frames.append(fr(op if i == 0 else OP_CONT, payload[off:off + s],
                             fin=(i == len(sizes) - 1)))
            off += s
        with Conn(SMALL_LIMIT) as ws:
            ws.send(b"".join(frames))
            expect_echo(ws, op, payload)
            close_clean(ws)

    def ping_with_big_message():
        with Conn(SMALL_LIMIT) as ws:
            ws.send(fr(OP_BINARY, b"a" * 1000, fin=False) +
                    fr(OP_PING, b"b" * 125) + fr(OP_CONT, b"c" * 24))
            expect_pong(ws, b"b" * 125)
            expect_echo(ws, OP_BINARY, b"a" * 1000 + b"c" * 24)
            close_clean(ws)
    run_cases([
        ("text of 1024 bytes",
         lambda: echo_case(OP_TEXT, text_payload(1024), limit=SMALL_LIMIT)),
        ("binary of 1024 bytes",
         lambda: echo_case(OP_BINARY, binary_payload(1024),
                           limit=SMALL_LIMIT)),
        ("binary of 1024 bytes in 4 fragments",
         lambda: fragmented(OP_BINARY, [256, 256, 256, 256])),
        ("binary of 1024 bytes in 1024+0 fragments",
         lambda: fragmented(OP_BINARY, [1024, 0])),
        ("a ping does not count towards the limit", ping_with_big_message),
        ("two messages of 1024 bytes in a row",
         lambda: _two_at_limit()),
    ])


def _two_at_limit():
    with Conn(SMALL_LIMIT) as ws:
        ws.send(fr(OP_TEXT, b"x" * 1024) + fr(OP_BINARY, b"y" * 600,
                                                fin=False) +
                fr(OP_CONT, b"z" * 424))
        expect_echo(ws, OP_TEXT, b"x" * 1024)
        expect_echo(ws, OP_BINARY, b"y" * 600 + b"z" * 424)
        close_clean(ws)


def test_9_limit_frame_header():
    """A frame header announcing more than max_message_size → 1009 as soon
    as the header (with its masking key) arrives; no payload is sent."""
    cases = []
    for op in (OP_TEXT, OP_BINARY):
        for n in (1025, 65535, 65536, 16 * MiB, (1 << 62)):
            cases.append(("opcode %d header announcing %d" % (op, n),
                          lambda op=op, n=n: fail_case(
                              fr(op, b"", length=n), 1009,
                              timeout=FAIL_FAST, limit=SMALL_LIMIT)))
        cases.append(("opcode %d fin=0 header announcing 1025" % op,
                      lambda op=op: fail_case(
                          fr(op, b"", fin=False, length=1025), 1009,
                          timeout=FAIL_FAST, limit=SMALL_LIMIT)))

    def after_echo():
        with Conn(SMALL_LIMIT) as ws:
            ws.send(fr(OP_TEXT, b"fits"))
            expect_echo(ws, OP_TEXT, b"fits")
            ws.send(fr(OP_TEXT, b"", length=2000), chunk=1)
            expect_closed(ws, 1009, FAIL_FAST)
    cases.append(("header announcing 2000 after an echo, in 1-byte chunks",
                  after_echo))
    for op in (OP_TEXT, OP_BINARY):
        cases.append(("opcode %d header announcing 16 MiB + 1 to the 16 MiB "
                      "daemon" % op,
                      lambda op=op: fail_case(
                          fr(op, b"", length=BIG_LIMIT + 1), 1009,
                          timeout=FAIL_FAST)))
    run_cases(cases)


def test_9_limit_cumulative_fragments():
    """Fragments that together pass max_message_size → 1009 when the
    header of the fragment that passes it arrives."""
    def case(op, sizes):
        # Send every fragment but the last whole, then the last's header.
        with Conn(SMALL_LIMIT) as ws:
            for i, s in enumerate(sizes[:-1]):
                ws.send(fr(op if i == 0 else OP_CONT, b"a" * s, fin=False))
            ws.send(fr(OP_CONT, b"", length=sizes[-1]))
            expect_closed(ws, 1009, FAIL_FAST)
    cases = []
    for op in (OP_TEXT, OP_BINARY):
        for sizes in ([400, 400, 400], [1024, 1], [1, 1024], [512, 0, 513],
                      [100] * 10 + [25]):
            cases.append(("opcode %d fragments %s" % (
                op, sizes if len(sizes) < 5 else "10x100+25"),
                lambda op=op, sizes=sizes: case(op, sizes)))

    def many_small():
        # 1025 one-byte fragments, all sent: the 1025th passes the limit.
        with Conn(SMALL_LIMIT) as ws:
            frames = [fr(OP_TEXT, b"a", fin=False)] + \
                [fr(OP_CONT, b"a", fin=False) for _ in range(1023)]
            ws.send(b"".join(frames))
            ws.send(fr(OP_CONT, b"a"))
            expect_closed(ws, 1009, FAIL_FAST)
    cases.append(("1025 one-byte fragments", many_small))
    run_cases(cases)


# ================================================= python3-websockets client

def _uri(port):
    return "ws://127.0.0.1:%d/echo" % port


async def _ws_roundtrip(port):
    async with websockets.connect(_uri(port), max_size=None,
                                  close_timeout=5) as ws:
        assert ws.extensions == [], \
            "server accepted extensions %r" % ws.extensions
        assert ws.response_headers.get("Sec-WebSocket-Extensions") is None
        msgs = ["", "Hello", "\u03ba\u1f79\u03c3\u03bc\u03b5 \U0001d11e",
                "x" * 125, "y" * 126, "z" * 65536,
                text_payload(MiB).decode(),
                b"", b"\x00\xff", binary_payload(65536),
                binary_payload(MiB)]
        for m in msgs:
            await ws.send(m)
            got = await asyncio.wait_for(ws.recv(), 10)
            assert type(got) is type(m), "sent %s, got %s" % (
                type(m).__name__, type(got).__name__)
            assert got == m, "echo of a %d-long %s differs" % (
                len(m), type(m).__name__)
        await ws.close(code=1000)
        assert ws.close_code == 1000, "close code %s" % ws.close_code


async def _ws_fragmented(port):
    async with websockets.connect(_uri(port), max_size=None,
                                  close_timeout=5) as ws:
        await ws.send(["fragment1", "\u03ba\u1f79", "", "\u03c3\u03bc\u03b5"])
        got = await asyncio.wait_for(ws.recv(), 10)
        assert got == "fragment1\u03ba\u1f79\u03c3\u03bc\u03b5", repr(got)
        await ws.send([b"\x00", b"\x01\x02", b"\xff"])
        got = await asyncio.wait_for(ws.recv(), 10)
        assert got == b"\x00\x01\x02\xff", repr(got)
        await ws.close(code=1000)
        assert ws.close_code == 1000, "close code %s" % ws.close_code


async def _ws_ping(port):
    async with websockets.connect(_uri(port), close_timeout=5) as ws:
        for data in (None, b"", b"ping", b"\xff" * 125, "h\u00e9llo"):
            waiter = await ws.ping(data)
            await asyncio.wait_for(waiter, 5)
        waiters = [await ws.ping(("p%d" % i).encode()) for i in range(20)]
        await asyncio.wait_for(asyncio.gather(*waiters), 5)
        await ws.send("after pings")
        assert await asyncio.wait_for(ws.recv(), 5) == "after pings"
        await ws.close(code=1000)
        assert ws.close_code == 1000, "close code %s" % ws.close_code


async def _ws_close(port, code, reason):
    ws = await websockets.connect(_uri(port), close_timeout=5)
    await ws.send("bye")
    assert await asyncio.wait_for(ws.recv(), 5) == "bye"
    await ws.close(code=code, reason=reason)
    assert ws.close_code == code, "sent close %d, server replied %s" % (
        code, ws.close_code)
    await asyncio.wait_for(ws.wait_closed(), 5)


async def _ws_pipelined(port, n=1000):
    async with websockets.connect(_uri(port), close_timeout=5) as ws:
        msgs = ["message %d \u00b5" % i for i in range(n)]

        async def sender():
            for m in msgs:
                await ws.send(m)
        task = asyncio.ensure_future(sender())
        for i, m in enumerate(msgs):
            got = await asyncio.wait_for(ws.recv(), 10)
            assert got == m, "message %d: got %r" % (i, got[:40])
        await task
        await ws.close(code=1000)
        assert ws.close_code == 1000, "close code %s" % ws.close_code


def test_ws_client_roundtrip():
    """python3-websockets: text and binary round trips, 0 B to 1 MiB;
    permessage-deflate offered by the client is declined."""
    run_async(_ws_roundtrip(daemon().port), 30)


def test_ws_client_fragmented():
    """python3-websockets: fragmented sends come back as one message."""
    run_async(_ws_fragmented(daemon().port), 30)


def test_ws_client_ping():
    """python3-websockets: ws.ping() is answered, also 20 at once."""
    run_async(_ws_ping(daemon().port), 30)


def test_ws_client_close():
    """python3-websockets: the server's close echoes the client's code."""
    port = daemon().port
    run_cases([("websockets close %d %r" % (c, r),
                lambda c=c, r=r: run_async(_ws_close(port, c, r), 20))
               for c, r in ((1000, ""), (1001, "going away"),
                            (3000, ""), (4999, "\u03ba\u1f79\u03c3"))])


def test_ws_client_pipelined():
    """python3-websockets: 1000 messages sent while echoes are read."""
    run_async(_ws_pipelined(daemon().port), 30)


# ================================================================== last

def test_daemons_survived():
    """Every daemon this module started still runs with the workers it
    started with, and logged no crash or sanitizer report."""
    assert _daemons, "no daemon was started"
    changed = _workers_changed()
    assert not changed, "; ".join(changed)
    for limit, d in _daemons.items():
        assert d.proc.poll() is None, "wschatd exited"
        assert len(d.known_workers) == d.workers, \
            "wschatd (max_message_size=%d) has workers %s, expected %d" % (
                limit, d.known_workers, d.workers)
        log = d.log()
        for bad in ("killed by signal", "exited with", "AddressSanitizer",
                    "runtime error:", "LeakSanitizer"):
            i = log.find(bad)
            assert i < 0, "wschatd (max_message_size=%d) logged: %s" % (
                limit, log[max(0, log.rfind("\n", 0, i)):i + 300])


if __name__ == "__main__":
    main()
