#!/usr/bin/env python3
# Write the fuzz targets' seed corpora to tests/fuzz/corpus/TARGET/: a few
# small valid and invalid inputs each.  Run it again after changing it and
# commit what it writes; the fuzzers' own finds are not kept here.
# MessagePack is encoded by hand: python3-msgpack is not a build dependency.
import base64
import hashlib
import os
import struct
import sys

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def mp(v):
    """Encode v (dict, list, str, bytes, int, None, bool) as MessagePack."""
    if v is None:
        return b"\xc0"
    if v is True or v is False:
        return b"\xc3" if v else b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 128:
            return bytes([v])
        if v >= 0:
            return b"\xcf" + struct.pack(">Q", v)
        return b"\xd3" + struct.pack(">q", v)
    if isinstance(v, str):
        b = v.encode("utf-8", "surrogateescape")
        if len(b) < 32:
            return bytes([0xa0 | len(b)]) + b
        return b"\xd9" + bytes([len(b)]) + b
    if isinstance(v, bytes):
        return b"\xc4" + bytes([len(v)]) + v
    if isinstance(v, list):
        return bytes([0x90 | len(v)]) + b"".join(mp(x) for x in v)
    if isinstance(v, dict):
        return bytes([0x80 | len(v)]) + b"".join(
            mp(k) + mp(x) for k, x in v.items())
    raise TypeError(v)


def frame(op, payload, fin=True, mask=b"\x37\xfa\x21\x3d", masked=True):
    """A client WebSocket frame."""
    b0 = (0x80 if fin else 0) | op
    n = len(payload)
    m = 0x80 if masked else 0
    if n < 126:
        h = bytes([b0, m | n])
    elif n < 65536:
        h = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        h = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if not masked:
        return h + payload
    return h + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload))


def line(max_len, seed, data):
    """A fuzz_line.c input: max_line_length, the seed of the cuts, data."""
    return bytes([max_len, seed]) + data


KEY = base64.b64encode(b"0123456789abcdef").decode()
UPGRADE = ("GET /ws HTTP/1.1\r\nHost: localhost:8080\r\nUpgrade: websocket\r\n"
           "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: " + KEY +
           "\r\nSec-WebSocket-Version: 13\r\nOrigin: http://localhost\r\n")

# What a server answers to fuzz_ws_client.c's request, made with KEY.
ACCEPT = base64.b64encode(hashlib.sha1(
    (KEY + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
ANSWER = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
          b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + ACCEPT + b"\r\n")


def sframe(op, payload, fin=True):
    """A server WebSocket frame: never masked."""
    return frame(op, payload, fin, masked=False)


CORPUS = {
    "http": {
        "get": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "get-lf": b"GET /index.html?x=1 HTTP/1.0\nHost: x\n\n",
        "head-path": b"HEAD /a/b%20c/./d.css HTTP/1.1\r\nHost: x\r\n\r\n",
        "upgrade": (UPGRADE + "\r\n").encode(),
        "upgrade-proto": (UPGRADE + "Sec-WebSocket-Protocol: chat, "
                          "wschat.msgpack, wschat.json\r\n\r\n").encode(),
        "bad-version": UPGRADE.replace("13", "8").encode() + b"\r\n",
        "dotdot": b"GET /../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
        "encoded-slash": b"GET /a%2f..%2fb HTTP/1.1\r\nHost: x\r\n\r\n",
        "post-te": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                   b"chunked\r\n\r\n",
        "partial": b"GET / HTTP/1.1\r\nHo",
        "bare-cr": b"GET / HTTP/1.1\rHost: x\r\n\r\n",
        "folded": b"GET / HTTP/1.1\r\nHost: x\r\n y\r\n\r\n",
        "http2": b"GET / HTTP/2.0\r\n\r\n",
        "absolute": b"GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n",
    },
    "ws": {
        "text": frame(1, b"hello"),
        "binary": frame(2, bytes(range(16))),
        "fragments": frame(1, b"hel", fin=False) + frame(9, b"p") +
                     frame(0, b"lo"),
        "ping-pong": frame(9, b"ping") + frame(10, b""),
        "close": frame(8, struct.pack(">H", 1000) + b"bye"),
        "close-bad-code": frame(8, struct.pack(">H", 1005)),
        "close-one-byte": frame(8, b"\x03"),
        "len16": frame(2, b"x" * 200),
        "len64-huge": b"\x82\xff" + struct.pack(">Q", 1 << 62) + b"abcd",
        "unmasked": frame(1, b"hi", masked=False),
        "bad-utf8": frame(1, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xed\xa0\x80"),
        "split-utf8": frame(1, "κό".encode()[:3], fin=False) +
                      frame(0, "κό".encode()[3:]),
        "rsv": b"\xc1\x80abcd",
        "utf8-4byte": "\U0001f600 ok €".encode(),
        "empty": b"",
    },
    # A server's answer to fuzz_ws_client.c, then server frames.
    "ws_client": {
        "upgrade": ANSWER + b"\r\n" + sframe(1, b'{"type":"who"}'),
        "upgrade-proto": ANSWER + b"Sec-WebSocket-Protocol: wschat.json"
                         b"\r\n\r\n" + sframe(9, b"ping") +
                         sframe(1, b'{"type":"user","content":"hi"}') +
                         sframe(8, struct.pack(">H", 1001) + b"bye"),
        "lf": ANSWER.replace(b"\r\n", b"\n") + b"\n" + sframe(2, b"\x00"),
        "fragments": ANSWER + b"\r\n" + sframe(1, b"frag", fin=False) +
                     sframe(10, b"") + sframe(0, "κό".encode()[:3],
                                                fin=False) +
                     sframe(0, "κό".encode()[3:]),
        "len16": ANSWER + b"\r\n" + sframe(2, b"y" * 300),
        "len64": ANSWER + b"\r\n" + sframe(1, b"z" * 70000),
        "masked": ANSWER + b"\r\n" + frame(1, b"masked"),
        "bad-utf8": ANSWER + b"\r\n" + sframe(1, b"ok \xc3\x28"),
        "close-bad": ANSWER + b"\r\n" + sframe(8, struct.pack(">H", 1005)),
        "bad-accept": ANSWER.replace(ACCEPT[:4], b"AAAA") + b"\r\n",
        "other-proto": ANSWER + b"Sec-WebSocket-Protocol: chat\r\n\r\n",
        "extension": ANSWER + b"Sec-WebSocket-Extensions: "
                     b"permessage-deflate\r\n\r\n",
        "refused": b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
        "folded": ANSWER + b" folded\r\n\r\n",
        "partial": ANSWER[:40],
        "not-http": b"* online: alice, bob\n",
        "frames-only": sframe(1, b"hi") + sframe(1, b"x", fin=False) +
                       sframe(1, b"y"),
    },
    "chat_json": {
        "login": b'{"type":"login","content":"alice"}',
        "user": b'{"type":"user","content":"hi \\u00e9 \\ud83d\\ude00"}',
        "to": b'{"type":"to","to":"bob","content":"psst"}',
        "join": b'{"type":"join","room":"den"}',
        "who": b' {"type":"who"}',
        "who-page": b'{"type":"who","room":"den","after":"bob","limit":50}',
        "who-bad-limit": b'{"type":"who","limit":-1}',
        "rooms": b'{"type":"rooms"}',
        "nul": b'{"type":"user","content":"a\\u0000b"}',
        "dup": b'{"type":"user","type":"login"}',
        "notype": b'{"content":"x"}',
        "badtype": b'{"type":1,"content":[1,2]}',
        "raw": b"just chatting",
        "brace": b"{ hi",
        "unknown": b'{"type":"dance","content":null}',
        "deep": b'{"type":"user","content":"x","z":' + b"[" * 40 +
                b"]" * 40 + b"}",
        "history": b'{"type":"history"}',
        "history-page": b'{"type":"history","room":"den","before":120,'
                        b'"limit":50}',
        "history-bad": b'{"type":"history","before":-1,"limit":1.5}',
        "resume": b'{"type":"resume","session":"c2Vzc2lvbg","since":'
                  b'{"lobby":17,"den":42}}',
        "resume-bad": b'{"type":"resume","session":"","since":{"a":"1"}}',
        "resume-nul": b'{"type":"resume","session":"a\\u0000b",'
                      b'"since":{}}',
    },
    "chat_msgpack": {
        "login": mp({"type": "login", "content": "alice"}),
        "user": mp({"type": "user", "content": "hi é 😀"}),
        "to": mp({"type": "to", "to": "bob", "content": "psst"}),
        "join-bin": mp({b"type": b"join", "room": b"den"}),
        "who": mp({"type": "who", "x": [1, None, True]}),
        "bad-utf8": mp({"type": "user", "content": b"\xff\xfe"}),
        "notype": mp({"content": "x"}),
        "intkey": mp({1: 2, "type": "user", "content": None}),
        "notmap": mp(["type", "user"]),
        "trailing": mp({"type": "user"}) + b"\xc0",
        "truncated": mp({"type": "user", "content": "hello"})[:-2],
        "str8": mp({"type": "user", "content": "y" * 40}),
        "history": mp({"type": "history", "room": "den", "before": 120,
                       "limit": 50}),
        "history-bad": mp({"type": "history", "before": -1, "limit": 0}),
        "resume": mp({"type": "resume", "session": b"c2Vzc2lvbg",
                      "since": {"lobby": 17, "den": 1 << 63}}),
        "resume-bad": mp({"type": "resume", "session": "t",
                          "since": {1: 2, "x": None}}),
    },
    "env": {
        "user": mp({"t": 4, "r": "lobby", "f": "alice", "c": "hi",
                    "p": "127.0.0.1:4242", "ts": 1700000000999, "id": 7,
                    "ow": 1, "oc": 2, "tw": 0, "tc": 0, "k": 1}),
        "private": mp({"t": 5, "f": "alice", "to": "bob", "c": "x\x00y",
                       "tw": 3, "tc": 1 << 40, "k": 2}),
        "rename": mp({"t": 6, "f": "a", "to": "b"}),
        "system": mp({"t": 8, "c": "reload"}),
        "notype": mp({"c": "x"}),
        "badkey": mp({1: 4}),
        "notmap": mp([4, "x"]),
        "bigtype": mp({"t": 1 << 40, "c": b"bin", "r": 5}),
        "dupkeys": b"\x82" + mp("t") + mp(4) + mp("t") + mp(5),
        "truncated": mp({"t": 4, "c": "hello"})[:-3],
    },
    # The line port: a byte of max_line_length (0-63), a byte that seeds
    # where fuzz_line.c cuts the input, then the input.
    "line": {
        "commands": line(63, 0x5a, b"who\nrename bob\nto bob hi there\n"
                                    b"hello\n"),
        "crlf": line(63, 0x01, b"who\r\nhi\r\n\r\nto al x\r\n"),
        "empty": line(63, 0x02, b"\n\n\r\n"),
        "bare-cr": line(63, 0x03, b"a\rb\nc\r\r\n\r"),
        "to-edges": line(63, 0x04, b"to  x\nto bob\nto bob \nto \n"),
        "rename-edges": line(63, 0x05, b"rename\nrename \nrename  b\n"),
        "nul": line(63, 0x06, b"a\x00b\nwho\x00\n"),
        "bad-utf8": line(63, 0x07, b"\xff\xfe\nto bob \xe2\x82\n"
                                   b"\xed\xa0\x80\n"),
        "utf8": line(63, 0x08, "héllo 😀\nrename ünï\n".encode()),
        "exact-max": line(16, 0x09, b"x" * 16 + b"\r\n" + b"x" * 16 + b"\n"),
        "max-and-one": line(16, 0x0a, b"x" * 17 + b"\nok\n"),
        "cr-at-max": line(16, 0x0b, b"x" * 16 + b"\rx\nok\n"),
        "no-lf": line(16, 0x0c, b"y" * 40),
        "partial": line(63, 0x0d, b"who\r"),
        "max-zero": line(0, 0x0e, b"\n\r\nx\n\n"),
        "help-quit": line(63, 0x0f, b"help\n quit\t\nhelp me\nquit now\n"
                                    b"  \t\n"),
        "rooms": line(63, 0x10, b"join games\njoin\njoin a b\n leave\n"
                                b"rooms\nwho den\nwho is there\nleave now\n"),
        "history": line(63, 0x11, b"history\nhistory 5\nhistory 0\n"
                                  b"history 1000001\nhistory 5 6\n"
                                  b"history 99999999999999999999999\n"),
    },
    "cfg": {
        "sample": None,  # filled from wschatd.conf
        "small": b"workers 2\nlisten [::1]:8080\nline_listen off\n",
        "sizes": b"max_message_size 16m\nmax_pending 1g\nbus_ring_size 64k\n",
        "quoted": b'user ""\nallowed_origins "http://a http://b"\n',
        "errors": b"workers many\nnosuch 1\nlisten 1.2.3.4:99999\necho\n",
        "comments": b"# c\n  \t\nlog_level debug # trailing\necho off#x\n",
        "nul": b"workers 1\x00\n",
        "metrics": b"metrics_allow 10.0.0.0/8 fe80::/10 ::1\n",
        "both-off": b"listen off\nline_listen off\n",
        "crlf": b"workers 3\r\nlog /var/log/w.log\r\n",
    },
}


def main():
    top = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    with open(os.path.join(top, "wschatd.conf"), "rb") as f:
        CORPUS["cfg"]["sample"] = f.read()
    for target, files in CORPUS.items():
        d = os.path.join(TOP, target)
        os.makedirs(d, exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
