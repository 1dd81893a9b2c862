#!/usr/bin/env python3
"""End-to-end tests of wschat, the command-line client: `wschat --pipe`
processes chatting with each other, with a python3-websockets client and
with a line-protocol user; private messages, who, rename, login errors,
connection errors, exit statuses and the command line.  Every process a
test starts is bounded in time and killed by that test if still running."""

import asyncio
import atexit
import base64
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time

import websockets

import wstest
from wstest import wait_for

WSCHAT = os.environ.get("WSCHAT", os.path.join(os.getcwd(), "wschat"))
MENU = ("1 public chat, 2 private chat, 3 rename, 4 rooms, 5 leave room, "
        "0 exit")


# Every wschat and tmux session a test starts, to be ended at exit even
# if the test failed before its own cleanup: a wschat whose daemon has
# gone would otherwise try to reconnect for ever.
_started = []


@atexit.register
def _end_started():
    for x in _started:
        x.kill()


def daemon(name="main", **kw):
    """A daemon shared by the tests that use the same name.  Those that
    share "main" were written before history, and what they check is no
    other test's earlier messages: it sends none on login and join."""
    kw.setdefault("workers", 2)
    if name == "main":
        kw.setdefault("opts", {"history_join": 0})
    return wstest.shared_daemon(name, **kw)


class Wschat:
    """One wschat process; a thread collects its stdout lines."""

    def __init__(self, args, stdin=subprocess.PIPE):
        self.proc = subprocess.Popen([WSCHAT] + args, stdin=stdin,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        _started.append(self)
        self.out = []
        self.raw = b""      # stdout as it came, every byte
        self.err = ""
        self.errlines = []  # stderr so far, for tests that watch it live
        self.rawerr = b""
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()
        self.te = threading.Thread(target=self._read_err, daemon=True)
        self.te.start()

    def _read(self):
        for raw in self.proc.stdout:
            self.raw += raw
            self.out.append(raw.decode("utf-8").rstrip("\n"))

    def _read_err(self):
        for raw in self.proc.stderr:
            self.rawerr += raw
            self.errlines.append(raw.decode("utf-8").rstrip("\n"))

    def wait_err(self, part, timeout=10, count=1):
        """Wait for count lines on stderr containing part."""
        try:
            wait_for(lambda: sum(part in x for x in self.errlines) >= count,
                     timeout, what=repr(part))
        except AssertionError:
            raise AssertionError("no %r on stderr; got %r" % (
                part, self.errlines[-10:]))

    def count(self, line):
        return self.out.count(line)

    def send(self, line):
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def has(self, line):
        return line in self.out

    def wait_line(self, line, timeout=10):
        try:
            wait_for(lambda: line in self.out, timeout, what=repr(line))
        except AssertionError:
            raise AssertionError("no %r; got %r" % (line, self.out[-10:]))

    async def await_line(self, line, timeout=10):
        deadline = time.monotonic() + timeout
        while line not in self.out:
            if time.monotonic() > deadline:
                raise AssertionError("no %r; got %r" % (line,
                                                        self.out[-10:]))
            await asyncio.sleep(0.02)

    def finish(self, timeout=10):
        """Close stdin, wait for the exit; returns (status, stderr)."""
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        return self.wait(timeout)

    def wait(self, timeout=10):
        try:
            self.proc.wait(timeout)
        finally:
            self.kill()
        self.t.join(5)
        self.te.join(5)
        self.err = self.rawerr.decode()
        return self.proc.returncode, self.err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def assert_harmless(data):
    """Nothing in data (bytes a terminal is shown) acts on the terminal:
    no C0 control but LF, no DEL, no C1 control, no bidi control."""
    bad = [b for b in data if (b < 0x20 and b != 0x0a) or b == 0x7f]
    assert not bad, "control bytes %r in %r" % (bytes(bad), data[-300:])
    text = data.decode("utf-8")
    bad = [ch for ch in text if 0x80 <= ord(ch) <= 0x9f or
           ch in "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
           "\u2066\u2067\u2068\u2069"]
    assert not bad, "C1 or bidi controls %r in %r" % (bad, text[-300:])


def assert_lines_in_order(out, want):
    """want appears in out as consecutive lines."""
    for i in range(len(out) - len(want) + 1):
        if out[i:i + len(want)] == want:
            return
    raise AssertionError("no %r in a row; got %r" % (want, out[-20:]))


def pipe_client(d, name, *extra):
    c = Wschat(["--pipe", "-p", str(d.port), "-n", name] + list(extra))
    c.wait_line("* %s is online" % name)
    return c


class Line:
    """A line-protocol user (as `nc` would be)."""

    def __init__(self, d):
        self.sock = socket.create_connection(("127.0.0.1", d.line_port),
                                             timeout=5)
        self.name = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.buf = b""
        self.wait_line("[%s]%s: online" % (self.name, self.name))

    def send(self, text):
        self.sock.sendall((text + "\n").encode())

    def _seen(self, line, suffix):
        lines = self.buf.decode().split("\n")
        if suffix:
            return any(x.endswith(line) for x in lines)
        return line in lines

    def wait_line(self, line, timeout=10, suffix=False):
        deadline = time.monotonic() + timeout
        while not self._seen(line, suffix):
            if time.monotonic() > deadline:
                raise AssertionError("line user: no %r; got %r" % (
                    line, self.buf.decode().split("\n")[-8:]))
            self.sock.settimeout(0.2)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                raise AssertionError("line user: eof")
            self.buf += data

    def close(self):
        self.sock.close()


def test_help_and_version():
    r = subprocess.run([WSCHAT, "--version"], capture_output=True,
                       timeout=5)
    assert r.returncode == 0
    assert r.stdout.decode() == "wschat 0.1.0\n", r.stdout
    r = subprocess.run([WSCHAT, "--help"], capture_output=True, timeout=5)
    assert r.returncode == 0
    for word in ("--pipe", "-ip", "-port", "--room", "/to NAME"):
        assert word in r.stdout.decode(), word
    r = subprocess.run([WSCHAT, "--bogus"], capture_output=True, timeout=5)
    assert r.returncode == 2
    assert b"usage" in r.stderr


def test_unreachable_port_fails_fast():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()        # nothing listens there now
    t0 = time.monotonic()
    r = subprocess.run([WSCHAT, "--pipe", "-p", str(port)],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=10)
    assert r.returncode == 1
    assert time.monotonic() - t0 < 5
    assert b"cannot connect" in r.stderr, r.stderr


def test_not_a_websocket_server_fails():
    d = daemon()
    t0 = time.monotonic()
    r = subprocess.run([WSCHAT, "--pipe", "-p", str(d.line_port)],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=15)
    assert r.returncode == 1
    assert b"handshake" in r.stderr, r.stderr
    assert time.monotonic() - t0 < 5


def test_eof_closes_cleanly():
    d = daemon()
    c = Wschat(["--pipe", "-p", str(d.port)])
    wait_for(lambda: any(ln.startswith("* online (") for ln in c.out),
             what="handshake line")
    rc, err = c.finish()
    assert rc == 0, err
    assert err == "", err


def test_two_clients_chat():
    d = daemon()
    a = pipe_client(d, "alice")
    b = pipe_client(d, "bob")
    try:
        a.wait_line("* bob is online")
        a.send("hello bob")
        b.wait_line("alice: hello bob")
        a.wait_line("alice: hello bob")
        b.send("hi alice")
        a.wait_line("bob: hi alice")
        a.send("/to bob psst")
        b.wait_line("alice -> you: psst")
        a.wait_line("you -> bob: psst")
        b.send("/to alice back")
        a.wait_line("bob -> you: back")
        b.wait_line("you -> alice: back")
        a.send("/to nobody x")
        a.wait_line("! no_such_user: nobody is not online")
        b.send("/who")
        # Item 11: a count, and every name quoted.
        wait_for(lambda: '* online (2): "alice", "bob"' in b.out or
                 '* online (2): "bob", "alice"' in b.out, what="who list")
        b.send("/rename bobby")
        a.wait_line("* bob is now bobby")
        b.wait_line("* bob is now bobby")
        a.send("/to bobby still")
        b.wait_line("alice -> you: still")
        rc, err = b.finish()
        assert rc == 0, err
        a.wait_line("* bobby is offline")
        rc, err = a.finish()
        assert rc == 0, err
    finally:
        a.kill()
        b.kill()


def test_name_taken_exits_with_message():
    d = daemon()
    a = pipe_client(d, "carol")
    try:
        b = Wschat(["--pipe", "-p", str(d.port), "-n", "carol"])
        rc, err = b.wait(10)
        assert rc == 1, (rc, err)
        assert "name_taken" in err and "carol" in err, err
        assert a.finish()[0] == 0
    finally:
        a.kill()


def test_bad_name_exits_with_message():
    d = daemon()
    b = Wschat(["--pipe", "-p", str(d.port), "-n", "x" * 40])
    rc, err = b.wait(10)
    assert rc == 1, (rc, err)
    assert "bad_name" in err, err


def test_ip_port_spellings_and_room():
    d = daemon()
    a = Wschat(["--pipe", "-ip", "127.0.0.1", "-port", str(d.port),
                "--name", "dave", "--room", "den"])
    b = Wschat(["--pipe", "--host", "127.0.0.1", "--port", str(d.port),
                "-n", "erin", "--room", "den"])
    try:
        a.wait_line("* joined den")
        b.wait_line("* joined den")
        a.send("in the den")
        b.wait_line("[den] dave: in the den")
        a.send("/leave")
        a.wait_line("* joined lobby")
        # The room hears who leaves it.
        b.wait_line("* dave left den")
        assert a.finish()[0] == 0
        assert b.finish()[0] == 0
    finally:
        a.kill()
        b.kill()


def test_chat_with_websocket_and_line_users():
    d = daemon()
    a = pipe_client(d, "frank")
    ln = Line(d)

    async def go():
        ws = await websockets.connect("ws://127.0.0.1:%d/ws" % d.port,
                                      ping_interval=None)
        try:
            await ws.send(json.dumps({"type": "login", "content": "webby"}))
            await a.await_line("* webby is online")
            await ws.send(json.dumps({"type": "user",
                                      "content": "from the web"}))
            await a.await_line("webby: from the web")
            await ws.send("raw text")
            await a.await_line("webby: raw text")
            a.send("to the web")
            while True:
                m = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if m.get("type") == "user" and m["content"] == "to the web":
                    assert m["from"] == "frank"
                    break
            a.send("/to webby secret")
            while True:
                m = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if m.get("type") == "private":
                    assert m["from"] == "frank" and m["to"] == "webby"
                    assert m["content"] == "secret"
                    break
        finally:
            await ws.close()
        await a.await_line("* webby is offline")

    try:
        a.wait_line("* %s is online" % ln.name)
        wstest.run_async(go(), 30)
        ln.wait_line("]frank: to the web", suffix=True)
        # The line user and wschat talk to each other.
        ln.send("hello wschat")
        a.wait_line("%s: hello wschat" % ln.name)
        ln.send("to frank line secret")
        a.wait_line("%s -> you: line secret" % ln.name)
        a.send("/to %s back to line" % ln.name)
        ln.wait_line("frank says to you: back to line")
        a.send("/who")
        wait_for(lambda: any(x.startswith("* online (") and
                             '"frank"' in x and '"%s"' % ln.name in x
                             for x in a.out), what="who with line user")
        assert a.finish()[0] == 0
    finally:
        ln.close()
        a.kill()


# What a WebSocket user sends to make other terminals act (issue 14, item
# 1: ESC sequences, a C1 CSI, bidi overrides), and how wschat shows it.
TERMINAL_ATTACKS = [
    ("\x1b[2J\x1b[H\x1b]0;HACKED\x07\x1b[31mred\x1b[0m",
     "^[[2J^[[H^[]0;HACKED^G^[[31mred^[[0m"),
    ("tab\tdel\x7f cr\rend", "tab^Idel^? cr^Mend"),
    ("c1 \u009b2J \u0085nel", "c1 <U+009B>2J <U+0085>nel"),
    ("bidi \u202etxt.exe \u2066iso\u2069",
     "bidi <U+202E>txt.exe <U+2066>iso<U+2069>"),
]
FORGED = "innocent\n[127.0.0.1:50312]alice: send the keys to mallory"


def test_pipe_shows_controls_escaped():
    # Issue 14, item 1: `wschat --pipe` printed other users' bytes raw.
    d = daemon()
    a = pipe_client(d, "escreader")

    async def go():
        ws = await websockets.connect("ws://127.0.0.1:%d/ws" % d.port,
                                      ping_interval=None)
        try:
            await ws.send(json.dumps({"type": "login",
                                      "content": "mallet"}))
            await a.await_line("* mallet is online")
            for text, _ in TERMINAL_ATTACKS:
                await ws.send(json.dumps({"type": "user",
                                          "content": text}))
            await ws.send(json.dumps({"type": "to", "to": "escreader",
                                      "content": "\x1b[2Jpsst"}))
            await ws.send(json.dumps({"type": "user", "content": "end"}))
            await a.await_line("mallet: end")
        finally:
            await ws.close()

    try:
        wstest.run_async(go(), 30)
        for _, shown in TERMINAL_ATTACKS:
            assert "mallet: " + shown in a.out, (shown, a.out[-10:])
        assert "mallet -> you: ^[[2Jpsst" in a.out, a.out[-10:]
        assert_harmless(a.raw)
        assert a.finish()[0] == 0
    finally:
        a.kill()


def test_pipe_marks_continuation_lines():
    # Issue 14, item 2: a text of several lines must not show a line that
    # passes for another message, in public or in private.
    d = daemon()
    a = pipe_client(d, "forgereader")

    async def go():
        ws = await websockets.connect("ws://127.0.0.1:%d/ws" % d.port,
                                      ping_interval=None)
        try:
            await ws.send(json.dumps({"type": "login",
                                      "content": "forger"}))
            await a.await_line("* forger is online")
            await ws.send(json.dumps({"type": "user", "content": FORGED}))
            await ws.send(json.dumps({"type": "user", "content":
                                      "one\r\nalice: two\n\nfour"}))
            await ws.send(json.dumps({"type": "to", "to": "forgereader",
                                      "content": "psst\nalice -> you: "
                                      "wire the money"}))
            await ws.send(json.dumps({"type": "user", "content": "end"}))
            await a.await_line("forger: end")
        finally:
            await ws.close()

    try:
        wstest.run_async(go(), 30)
        assert_lines_in_order(a.out, [
            "forger: innocent",
            "  | [127.0.0.1:50312]alice: send the keys to mallory"])
        assert_lines_in_order(a.out, [
            "forger: one", "  | alice: two", "  | ", "  | four"])
        assert_lines_in_order(a.out, [
            "forger -> you: psst", "  | alice -> you: wire the money"])
        forged = [ln for ln in a.out if ln.startswith(("alice", "[127."))]
        assert not forged, forged
        assert_harmless(a.raw)
        assert a.finish()[0] == 0
    finally:
        a.kill()


def test_server_shutdown_says_so_and_exits_3():
    # Issue 14, item 7: on SIGTERM wschat exited 0 and said nothing.  The
    # daemon says goodbye with a close (1001): wschat says so and, told
    # not to reconnect, exits 3 ("closed by the server").
    d = wstest.Daemon(workers=1)
    try:
        a = pipe_client(d, "gina", "--no-reconnect")
    finally:
        d.__exit__(None, None, None)
    try:
        rc, err = a.wait(15)
        assert rc == 3, (rc, err)
        assert "the server closed the connection: 1001 server shutting " \
            "down" in err, err
    finally:
        a.kill()


def local_ports(pid, server_port):
    """The local ports of process pid's TCP connections to server_port."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    ports = []
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[9] in inodes and \
                    int(fields[2].split(":")[1], 16) == server_port:
                ports.append(int(fields[1].split(":")[1], 16))
    return ports


def kill_worker_of(d, c):
    """kill -9 the worker serving wschat c; returns its pid."""
    wait_for(lambda: local_ports(c.proc.pid, d.port), what="wschat socket")
    pid = d.owners(local_ports(c.proc.pid, d.port))[0]
    assert pid, "no worker serves the wschat"
    os.kill(pid, signal.SIGKILL)
    return pid


def test_lists_cannot_be_misread():
    # Issue 14, item 11: "* online: nobody" read as an empty list, and
    # names joined with ", " could not be told apart once a name holds a
    # comma.  Now: the count, and each name in quotes.
    d = daemon()
    a = Wschat(["--pipe", "-p", str(d.port)])
    try:
        a.wait_line("* online (0)")
        a.finish()
        users = [pipe_client(d, n) for n in ("nobody", "x,y", 'q"t')]
        users[0].send("/who")
        wait_for(lambda: any(x.startswith("* online (3): ")
                             for x in users[0].out), what="who")
        line = [x for x in users[0].out if x.startswith("* online (3): ")][0]
        names = line[len("* online (3): "):]
        for quoted in ('"nobody"', '"x,y"', r'"q\"t"'):
            assert quoted in names, (quoted, line)
        assert len(names) == len('"nobody", "x,y", "q\\"t"'), line
        for u in users:
            assert u.finish()[0] == 0
    finally:
        a.kill()
        for u in locals().get("users", []):
            u.kill()


def test_pipe_reconnects_after_its_worker_is_killed():
    # Issue 14, item 7: when its worker was killed wschat exited 1.  Now
    # it says the connection was lost, reconnects to the server (the
    # other worker, or the respawned one) under the same name, and goes
    # on chatting.
    d = wstest.Daemon(workers=2)
    a = pipe_client(d, "rex")
    late = None
    try:
        kill_worker_of(d, a)
        a.wait_err("connection lost")
        a.wait_err("reconnecting in")
        a.wait_err("connected again to 127.0.0.1:%d" % d.port)
        # Issue 16: lost, not closed: the session is resumed.
        a.wait_err("resumed the session as rex in lobby")
        assert a.count("* rex is online") == 1, a.out
        late = pipe_client(d, "late")
        a.send("back after the crash")
        late.wait_line("rex: back after the crash")
        assert late.finish()[0] == 0
        rc, err = a.finish()
        assert rc == 0, (rc, err)
    finally:
        a.kill()
        if late:
            late.kill()
        d.__exit__(None, None, None)


def test_no_reconnect_exit_status_when_lost():
    # Item 7: "lost" (4) is not "closed by the server" (3) nor an error
    # (1).
    d = wstest.Daemon(workers=2)
    a = pipe_client(d, "lone", "--no-reconnect")
    try:
        kill_worker_of(d, a)
        rc, err = a.wait(15)
        assert rc == 4, (rc, err)
        assert "connection lost" in err and "reconnecting" not in err, err
    finally:
        a.kill()
        d.__exit__(None, None, None)


def test_reconnects_after_a_restart_and_rejoins_its_room():
    # Item 7: SIGTERM (1001) is said, and wschat comes back, with backoff,
    # to the server restarted on the same port, under its name and in
    # its room.
    d = wstest.Daemon(workers=1)
    port = d.port
    a = pipe_client(d, "phoenix", "--room", "den")
    d2 = None
    try:
        a.wait_line("* joined den")
        d.__exit__(None, None, None)
        a.wait_err("the server closed the connection: 1001 server "
                   "shutting down")
        a.wait_err("reconnecting in")
        a.wait_err("cannot connect")        # nobody listens for a while
        d2 = wstest.Daemon(workers=1, args=["-l", "127.0.0.1:%d" % port])
        assert d2.port == port
        a.wait_err("connected again", timeout=40)
        wait_for(lambda: a.count("* joined den") == 2, what="rejoin")
        b = pipe_client(d2, "witness", "--room", "den")
        b.wait_line("* joined den")
        a.send("risen")
        b.wait_line("[den] phoenix: risen")
        assert b.finish()[0] == 0
        assert a.finish()[0] == 0
    finally:
        a.kill()
        d.__exit__(None, None, None)
        if d2:
            d2.__exit__(None, None, None)


def test_end_of_input_while_down_ends_it():
    # A script whose input ends while the server is away is not kept
    # waiting for a server that may never come back.
    d = wstest.Daemon(workers=1)
    a = pipe_client(d, "brief")
    try:
        d.__exit__(None, None, None)
        a.wait_err("reconnecting in")
        rc, err = a.finish(15)
        assert rc == 4, (rc, err)
        assert "end of input while disconnected" in err, err
    finally:
        a.kill()


class FakeServer:
    """A one-connection WebSocket server on loopback that does whatever a
    test's script says, to reach frames wschatd never sends
    (fragments, pings, 64-bit lengths, a bad accept key, a dropped
    connection).  script(conn, reader) runs in a thread."""

    def __init__(self, script, accept=None, conns=1, protocol=None):
        """conns: how many connections to take in turn; script runs for
        each, with self.index saying which (0, 1, ...).  protocol: the
        subprotocol the 101 names (bytes), None for none."""
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(1)
        self.lsock.settimeout(10)
        self.port = self.lsock.getsockname()[1]
        self.script = script
        self.accept = accept
        self.protocol = protocol
        self.request = b""  # the head of the last upgrade request
        self.conns = conns
        self.index = 0
        self.error = None
        self.got = []       # (opcode, payload) frames from the client
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        for self.index in range(self.conns):
            self._one()
            if self.error:
                break

    def _one(self):
        try:
            conn, _ = self.lsock.accept()
            conn.settimeout(10)
            self.conn = conn
            self.buf = b""
            while b"\r\n\r\n" not in self.buf:
                self.buf += conn.recv(4096)
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            self.request = head
            key = [ln.split(b":", 1)[1].strip() for ln in
                   head.split(b"\r\n")
                   if ln.lower().startswith(b"sec-websocket-key:")][0]
            acc = self.accept or base64.b64encode(hashlib.sha1(
                key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
            proto = b""
            if self.protocol is not None:
                proto = b"Sec-WebSocket-Protocol: " + self.protocol + b"\r\n"
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\n"
                         b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Accept: " + acc + b"\r\n" +
                         proto + b"\r\n")
            self.script(self)
        except Exception as e:      # reported by finish()
            self.error = e

    @staticmethod
    def frame(op, payload, fin=True):
        n = len(payload)
        b0 = (0x80 if fin else 0) | op
        if n < 126:
            h = struct.pack("!BB", b0, n)
        elif n < 65536:
            h = struct.pack("!BBH", b0, 126, n)
        else:
            h = struct.pack("!BBQ", b0, 127, n)
        return h + payload

    def send(self, op, payload, fin=True):
        self.conn.sendall(self.frame(op, payload, fin))

    def recv_frame(self):
        """One client frame, unmasked; asserts the mask bit is set."""
        def need(n):
            while len(self.buf) < n:
                data = self.conn.recv(65536)
                if not data:
                    raise AssertionError("client closed")
                self.buf += data
        need(2)
        op, n = self.buf[0] & 0x0f, self.buf[1] & 0x7f
        assert self.buf[1] & 0x80, "client frame not masked"
        hl = 2
        if n == 126:
            need(4)
            n, hl = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            need(10)
            n, hl = struct.unpack("!Q", self.buf[2:10])[0], 10
        need(hl + 4 + n)
        key = self.buf[hl:hl + 4]
        data = bytes(b ^ key[i & 3] for i, b in
                     enumerate(self.buf[hl + 4:hl + 4 + n]))
        self.buf = self.buf[hl + 4 + n:]
        self.got.append((op, data))
        return op, data

    def finish(self):
        self.t.join(15)
        self.lsock.close()
        if self.error:
            raise self.error


def test_frames_fragments_pings_and_long_lengths():
    big16 = "m" * 300
    big64 = "L" * 70000

    def script(srv):
        hs = json.dumps({"type": "handshake", "ip": "x",
                         "user_list": ["a"]}).encode()
        srv.send(0x1, hs[:5], fin=False)
        srv.send(0x9, b"are you there")           # between fragments
        srv.send(0x0, hs[5:9], fin=False)
        srv.send(0x0, hs[9:])
        op, data = srv.recv_frame()
        assert (op, data) == (0xa, b"are you there"), (op, data)
        for text in (big16, big64):
            srv.send(0x1, json.dumps({"type": "user", "from": "z",
                                      "content": text}).encode())
        srv.send(0x1, "plain text é".encode())
        # Everything the client sends until its close.
        while True:
            op, data = srv.recv_frame()
            if op == 0x8:
                break
        assert data[:2] == struct.pack("!H", 1000), data
        srv.send(0x8, struct.pack("!H", 1000))
        srv.conn.close()

    srv = FakeServer(script)
    c = Wschat(["--pipe", "-p", str(srv.port)])
    try:
        c.wait_line('* online (1): "a"')
        c.wait_line("z: " + big16)
        c.wait_line("z: " + big64)
        c.wait_line("plain text é")
        c.send("x" * 70000)
        rc, err = c.finish()
        assert rc == 0, err
        srv.finish()
        sent = [json.loads(d) for op, d in srv.got if op == 0x1]
        assert sent == [{"type": "user", "content": "x" * 70000}], sent
    finally:
        c.kill()


def test_server_close_is_answered():
    def script(srv):
        srv.send(0x8, struct.pack("!H", 1001) + b"bye")
        op, data = srv.recv_frame()
        assert op == 0x8 and data[:2] == struct.pack("!H", 1001), data
        srv.conn.close()

    srv = FakeServer(script)
    c = Wschat(["--pipe", "--no-reconnect", "-p", str(srv.port)])
    try:
        rc, err = c.wait(10)
        assert rc == 3, (rc, err)
        assert "closed the connection: 1001 bye" in err, err
        srv.finish()
    finally:
        c.kill()


def test_bad_accept_key_fails():
    srv = FakeServer(lambda srv: time.sleep(0.5), accept=b"bm90IHRoZSBrZXk=")
    c = Wschat(["--pipe", "-p", str(srv.port)])
    try:
        rc, err = c.wait(10)
        assert rc == 1 and "Sec-WebSocket-Accept" in err, (rc, err)
    finally:
        c.kill()
        srv.finish()


def test_dropped_connection_fails():
    def script(srv):
        srv.send(0x1, b'{"type":"who","user_list":[]}')
        time.sleep(0.2)
        srv.conn.close()          # no close frame

    srv = FakeServer(script)
    c = Wschat(["--pipe", "--no-reconnect", "-p", str(srv.port)])
    try:
        rc, err = c.wait(10)
        # Item 7: "lost" has an exit status of its own.
        assert rc == 4, (rc, err)
        assert "connection lost: closed without a close frame" in err, err
        assert "* online (0)" in c.out, c.out
        srv.finish()
    finally:
        c.kill()


def test_protocol_errors_fail():
    for bad in (b"\x81\x85abcd" + b"x" * 5,      # masked server frame
                b"\xc1\x01x",                      # RSV1 set
                b"\x09\x01x",                      # fragmented ping
                b"\x80\x01x",                      # continuation alone
                b"\x81\x02\xc3\x28"):              # invalid UTF-8
        def script(srv, bad=bad):
            srv.conn.sendall(bad)
            time.sleep(0.5)

        srv = FakeServer(script)
        c = Wschat(["--pipe", "-p", str(srv.port)])
        try:
            rc, err = c.wait(10)
            assert rc == 1 and ("protocol error" in err), (bad, rc, err)
        finally:
            c.kill()
            srv.finish()


def test_every_field_from_the_server_is_escaped():
    # Names, rooms, codes, user lists, raw text and the close reason: a
    # server may send anything in any of them (wschatd's own rules for
    # names are not wschat's defence).
    def script(srv):
        for m in ({"type": "handshake", "ip": "x",
                   "user_list": ["a\x1b[2Jb", "c\u202ed", "e\nf"]},
                  {"type": "login", "content": "\x1b]0;T\x07"},
                  {"type": "rename", "from": "\u009bx", "content": "y\x7f"},
                  {"type": "user", "room": "r\x1b[31m", "from": "x\x07",
                   "content": "hi"},
                  {"type": "private", "from": "p\x1b", "to": "q\r\nr",
                   "content": "s"},
                  {"type": "system", "code": "c\x1b[2J",
                   "content": "t\u0085"},
                  {"type": "system", "content": "joined",
                   "room": "\u202eroom"},
                  {"type": "user", "from": "  | alice", "content": "hi"}):
            srv.send(0x1, json.dumps(m).encode())
        srv.send(0x1, b"raw\x1b[2J\r\nalice: forged")    # not JSON
        srv.send(0x8, struct.pack("!H", 4000) +
                 "bye\x1b[2J\u009b".encode())
        while srv.recv_frame()[0] != 0x8:
            pass
        srv.conn.close()

    srv = FakeServer(script)
    c = Wschat(["--pipe", "-p", str(srv.port)])
    try:
        rc, err = c.wait(10)
        srv.finish()
        assert rc == 1, (rc, err)
        assert c.out == [
            '* online (3): "a^[[2Jb", "c<U+202E>d", "e',
            '  | f"',
            "* ^[]0;T^G is online",
            "* <U+009B>x is now y^?",
            "[r^[[31m] x^G: hi",
            "p^[ -> q",
            "  | r: s",
            "! c^[[2J: t<U+0085>",
            "* joined <U+202E>room",
            "\\x20 | alice: hi",
            "raw^[[2J",
            "  | alice: forged"], c.out
        assert err == "wschat: closed by the server: 4000 " \
            "bye^[[2J<U+009B>\n", err
        assert_harmless(c.raw)
        assert_harmless(err.encode())
    finally:
        c.kill()


def test_refused_login_is_escaped():
    def script(srv):
        srv.recv_frame()                            # the login
        srv.send(0x1, json.dumps({
            "type": "system", "code": "bad_name\x1b[2J",
            "content": "no\nwschat: fine"}).encode())
        try:
            while srv.recv_frame()[0] != 0x8:
                pass
        except AssertionError:
            pass            # gone before its close: not what this tests
        srv.conn.close()

    srv = FakeServer(script)
    c = Wschat(["--pipe", "-p", str(srv.port), "-n", "x"])
    try:
        rc, err = c.wait(10)
        srv.finish()
        assert rc == 1, (rc, err)
        assert err == "wschat: bad_name^[[2J: no\n  | wschat: fine\n", err
    finally:
        c.kill()


def test_pipe_rooms_and_who_with_the_server():
    # Issue 14, item 9: /rooms and /who ROOM against wschatd itself.
    d = daemon()
    a = pipe_client(d, "ra", "--room", "study")
    b = pipe_client(d, "rb", "--room", "study")
    c = pipe_client(d, "rc")
    try:
        a.wait_line("* joined study")
        b.wait_line("* joined study")
        c.send("/rooms")
        wait_for(lambda: any(x.startswith("* rooms (") and
                             '"study": 2' in x for x in c.out),
                 what="rooms with study")
        c.send("/who study")
        wait_for(lambda: '* in study (2): "ra", "rb"' in c.out or
                 '* in study (2): "rb", "ra"' in c.out, what="who study")
        a.send("/leave")
        b.wait_line("* ra left study")
        c.send("/who study")
        c.wait_line('* in study (1): "rb"')
        for u in (a, b, c):
            assert u.finish()[0] == 0
    finally:
        for u in (a, b, c):
            u.kill()



def test_relogin_waits_for_a_taken_name():
    # Item 7: after a reconnect wschat logs in under the same name; if it
    # is still taken (the lost connection's, or someone else's), it says
    # so and tries again later.
    logins = []

    def script(srv):
        op, data = srv.recv_frame()
        logins.append(json.loads(data))
        if srv.index == 0:
            srv.send(0x1, json.dumps({"type": "login", "content": "kim",
                                      "user_list": ["kim"]}).encode())
            time.sleep(0.3)
            srv.conn.close()        # lost: no close frame
            return
        srv.send(0x1, json.dumps({"type": "system", "code": "name_taken",
                                  "content": "the name kim is taken"}
                                 ).encode())
        op, data = srv.recv_frame()
        logins.append(json.loads(data))
        srv.send(0x1, json.dumps({"type": "login", "content": "kim",
                                  "user_list": ["kim"]}).encode())
        while srv.recv_frame()[0] != 0x8:
            pass
        srv.send(0x8, struct.pack("!H", 1000))
        srv.conn.close()

    srv = FakeServer(script, conns=2)
    c = Wschat(["--pipe", "-p", str(srv.port), "-n", "kim"])
    try:
        c.wait_err("connection lost")
        c.wait_line("! name_taken: the name kim is taken")
        c.wait_err("logging in again in")
        wait_for(lambda: c.count("* kim is online") == 2, what="re-login")
        rc, err = c.finish()
        assert rc == 0, (rc, err)
        srv.finish()
        assert logins == [{"type": "login", "content": "kim"}] * 3, logins
    finally:
        c.kill()


def test_pipe_rooms_and_who_in_a_room():
    # Issue 14, item 9: /rooms and /who ROOM, as ../shared/PROTOCOL.md has
    # them (wschatd answers them once the rooms work is in).
    def script(srv):
        want = [{"type": "rooms"}, {"type": "who", "room": "den"},
                {"type": "who"}, {"type": "join", "room": "den"},
                {"type": "leave"}]
        for w in want:
            op, data = srv.recv_frame()
            assert json.loads(data) == w, (data, w)
        srv.send(0x1, json.dumps({"type": "rooms", "rooms": [
            {"room": "den", "members": 2},
            {"room": "lobby", "members": 3}]}).encode())
        srv.send(0x1, json.dumps({"type": "who", "room": "den",
                                  "user_list": ["a", "b"]}).encode())
        srv.send(0x1, json.dumps({"type": "join", "from": "b",
                                  "room": "den"}).encode())
        srv.send(0x1, json.dumps({"type": "leave", "from": "b",
                                  "room": "den"}).encode())
        srv.send(0x1, json.dumps({"type": "rooms", "rooms": []}).encode())
        while srv.recv_frame()[0] != 0x8:
            pass
        srv.send(0x8, struct.pack("!H", 1000))
        srv.conn.close()

    srv = FakeServer(script)
    c = Wschat(["--pipe", "-p", str(srv.port)])
    try:
        for line in ("/rooms", "/who den", "/who", "/join den", "/leave"):
            c.send(line)
        c.wait_line("* rooms (0)")
        rc, err = c.finish()
        assert rc == 0, (rc, err)
        srv.finish()
        assert c.out == ['* rooms (2): "den": 2, "lobby": 3',
                         '* in den (2): "a", "b"',
                         "* b joined den", "* b left den",
                         "* rooms (0)"], c.out
    finally:
        c.kill()


class Terminal:
    """wschat in a real terminal: a detached tmux session of 120x40."""

    def __init__(self, name, command):
        # scripts/install-deps.sh installs tmux: its absence is a failure.
        assert shutil.which("tmux"), "tmux is not installed"
        self.sess = "%s-%d" % (name, os.getpid())
        subprocess.run(["tmux", "new-session", "-d", "-s", self.sess,
                        "-x", "120", "-y", "40", command],
                       check=True, timeout=5)
        _started.append(self)

    def pane(self):
        return subprocess.run(["tmux", "capture-pane", "-p", "-t",
                               self.sess], capture_output=True, timeout=5
                              ).stdout.decode()

    def keys(self, *k):
        subprocess.run(["tmux", "send-keys", "-t", self.sess] + list(k),
                       check=True, timeout=5)

    def title(self):
        return subprocess.run(["tmux", "display-message", "-p", "-t",
                               self.sess, "#{pane_title}"],
                              capture_output=True, timeout=5
                              ).stdout.decode()

    def alive(self):
        return subprocess.run(["tmux", "has-session", "-t", self.sess],
                              capture_output=True).returncode == 0

    def kill(self):
        subprocess.run(["tmux", "kill-session", "-t", self.sess],
                       capture_output=True, timeout=5)


def test_interactive_menu_in_tmux():
    d = daemon()
    watcher = pipe_client(d, "watcher")
    term = Terminal("wschat-test", "%s -n menu -p %d" % (WSCHAT, d.port))
    pane, keys = term.pane, term.keys
    try:
        wait_for(lambda: MENU in pane(), what="menu")
        keys("1", "Enter")
        wait_for(lambda: "say>" in pane(), what="say prompt")
        keys("hi from the menu", "Enter")
        watcher.wait_line("menu: hi from the menu")
        wait_for(lambda: "menu: hi from the menu" in pane(), what="echo")
        watcher.send("hello menu")
        wait_for(lambda: "watcher: hello menu" in pane(), what="incoming")
        keys("Enter")
        keys("2", "Enter")
        wait_for(lambda: "to whom>" in pane() and "* online (" in pane(),
                 what="who list")
        keys("watcher", "Enter")
        keys("psst", "Enter")
        watcher.wait_line("menu -> you: psst")
        keys("Enter")
        keys("3", "Enter")
        wait_for(lambda: "new name>" in pane(), what="rename prompt")
        keys("menu2", "Enter")
        watcher.wait_line("* menu is now menu2")
        keys("0", "Enter")
        watcher.wait_line("* menu2 is offline")
        wait_for(lambda: not term.alive(), what="menu client exit")
        assert watcher.finish()[0] == 0
    finally:
        term.kill()
        watcher.kill()


def test_interactive_asks_for_a_name():
    d = daemon()
    holder = pipe_client(d, "holder")
    term = Terminal("wschat-name", "%s -p %d" % (WSCHAT, d.port))
    pane, keys = term.pane, term.keys
    try:
        wait_for(lambda: "name>" in pane(), what="name prompt")
        keys("holder", "Enter")
        wait_for(lambda: "! name_taken: the name holder is taken" in pane(),
                 what="name_taken")
        keys("newbie", "Enter")
        holder.wait_line("* newbie is online")
        wait_for(lambda: "1 public chat, 2 private chat" in pane(),
                 what="menu")
        keys("C-d")         # end of input: close, exit
        holder.wait_line("* newbie is offline")
        wait_for(lambda: not term.alive(), what="client exit")
        assert holder.finish()[0] == 0
    finally:
        term.kill()
        holder.kill()


def test_menu_shows_controls_escaped_in_tmux():
    # Issue 14, items 1 and 2, as a person sees them: \033[2J cleared the
    # screen of a wschat user, and a forged line passed for a message.
    d = daemon()
    term = Terminal("wschat-esc", "%s -n viewer -p %d" % (WSCHAT, d.port))
    pane = term.pane

    async def go():
        ws = await websockets.connect("ws://127.0.0.1:%d/ws" % d.port,
                                      ping_interval=None)

        async def say(text):
            await ws.send(json.dumps({"type": "user", "content": text}))

        try:
            await ws.send(json.dumps({"type": "login",
                                      "content": "trudy"}))
            wait_for(lambda: "* trudy is online" in pane(), what="login")
            await say("before the storm")
            wait_for(lambda: "trudy: before the storm" in pane(),
                     what="first message")
            for text, _ in TERMINAL_ATTACKS:
                await say(text)
            await say(FORGED)
            await say("end")
            wait_for(lambda: "trudy: end" in pane(), what="last message")
        finally:
            await ws.close()

    try:
        wait_for(lambda: MENU in pane(), what="menu")
        wstest.run_async(go(), 40)
        screen = pane()
        assert "trudy: before the storm" in screen, screen  # not cleared
        for _, shown in TERMINAL_ATTACKS:
            assert "trudy: " + shown in screen, (shown, screen)
        assert_lines_in_order(screen.splitlines(), [
            "trudy: innocent",
            "  | [127.0.0.1:50312]alice: send the keys to mallory"])
        assert "HACKED" not in term.title(), term.title()
        term.keys("0", "Enter")
        wait_for(lambda: not term.alive(), what="menu client exit")
    finally:
        term.kill()


def menu_terminal(d, name, tag):
    term = Terminal(tag, "%s -n %s -p %d" % (WSCHAT, name, d.port))
    wait_for(lambda: MENU in term.pane(), what="menu")
    return term


@contextlib.contextmanager
def menu_and_watcher(name, watcher_name):
    """wschat's menu in tmux as name, and a pipe client that watches."""
    d = daemon()
    watcher = pipe_client(d, watcher_name)
    term = None
    try:
        term = menu_terminal(d, name, "wschat-" + name)
        yield term, watcher
    finally:
        if term:
            term.kill()
        watcher.kill()


def menu_quit(term, keys, watcher, name):
    """End the menu client with keys; the watcher sees it go."""
    term.keys(*keys)
    watcher.wait_line("* %s is offline" % name)
    wait_for(lambda: not term.alive(), what="menu client exit")


def last_line(screen):
    lines = [x for x in screen.splitlines() if x.strip()]
    return lines[-1] if lines else ""


def test_menu_edits_lines_and_keeps_them_under_messages():
    # Issue 14, item 10: arrow keys arrived as ^[[D; an incoming message
    # broke the line being typed; history.
    with menu_and_watcher("editor", "eye") as (term, watcher):
        pane, keys = term.pane, term.keys
        keys("1", "Enter")
        wait_for(lambda: last_line(pane()) == "say>", what="say prompt")
        keys("helo", "Left", "l", "Enter")
        watcher.wait_line("editor: hello")
        keys("Up", "Enter")             # the history
        wait_for(lambda: watcher.count("editor: hello") == 2,
                 what="the line again")
        keys("half typed")
        wait_for(lambda: last_line(pane()) == "say> half typed",
                 what="typed text")
        watcher.send("interruption")
        wait_for(lambda: "eye: interruption" in pane(), what="message")
        screen = pane()
        assert last_line(screen) == "say> half typed", screen
        assert screen.count("say> half typed") == 1, screen
        keys(" more", "Enter")
        watcher.wait_line("editor: half typed more")
        assert not any("^[" in x for x in watcher.out), watcher.out
        menu_quit(term, ["C-d"], watcher, "editor")


def test_menu_exit_choices_and_no_repeats():
    # Item 10: "exit" in public chat was broadcast; "9" and "abc"
    # reprinted the menu silently; the menu came again after every
    # message.
    with menu_and_watcher("chooser", "peer") as (term, watcher):
        pane, keys = term.pane, term.keys
        keys("9", "Enter")
        wait_for(lambda: "! no such choice: 9" in pane(), what="error 9")
        keys("abc", "Enter")
        wait_for(lambda: "! no such choice: abc" in pane(), what="error")
        keys("1", "Enter")
        for i in range(4):
            watcher.send("noise %d" % i)
        wait_for(lambda: "peer: noise 3" in pane(), what="messages")
        assert pane().count(MENU) == 1, pane()
        keys("exit", "Enter")
        wait_for(lambda: pane().count(MENU) == 2, what="menu again")
        keys("1", "Enter", "Enter")     # an empty line goes back too
        wait_for(lambda: pane().count(MENU) == 3, what="menu again")
        watcher.send("sync")
        wait_for(lambda: "peer: sync" in pane(), what="sync")
        assert "chooser: exit" not in watcher.out, watcher.out
        assert last_line(pane()) == ">", pane()
        menu_quit(term, ["0", "Enter"], watcher, "chooser")


def choose_addressee(term, typed, name):
    """Menu choice 2: "nobody" is refused and asked for again, then typed
    is accepted as name (the server's spelling)."""
    pane, keys = term.pane, term.keys
    keys("2", "Enter")
    wait_for(lambda: last_line(pane()) == "to whom>", what="to whom")
    keys("nobody", "Enter")
    wait_for(lambda: "! nobody is not online" in pane(), what="refused")
    wait_for(lambda: last_line(pane()) == "to whom>", what="again")
    keys(typed, "Enter")
    wait_for(lambda: last_line(pane()) == "to %s>" % name, what="chat")


def test_menu_checks_the_addressee_first():
    # Item 10: "to whom> nobody" was accepted, and the error came with
    # the first message.
    with menu_and_watcher("sender", "Target") as (term, watcher):
        pane, keys = term.pane, term.keys
        # Names are one in any ASCII case.
        choose_addressee(term, "target", "Target")
        keys("psst", "Enter")
        watcher.wait_line("sender -> you: psst")
        keys("exit", "Enter")
        wait_for(lambda: last_line(pane()) == ">", what="menu")
        menu_quit(term, ["0", "Enter"], watcher, "sender")


def test_menu_asks_a_name_once_and_joins_rooms():
    # Item 10: prompts were left over ("name> name>"); item 9: rooms in
    # the menu.
    d = daemon()
    holder = pipe_client(d, "owner", "--room", "attic")
    holder.wait_line("* joined attic")
    term = Terminal("wschat-room", "%s -p %d" % (WSCHAT, d.port))
    pane, keys = term.pane, term.keys
    try:
        wait_for(lambda: last_line(pane()) == "name>", what="name prompt")
        keys("owner", "Enter")
        wait_for(lambda: "! name_taken" in pane(), what="taken")
        wait_for(lambda: last_line(pane()) == "name>", what="name again")
        assert "name> name>" not in pane(), pane()
        keys("roomie", "Enter")
        wait_for(lambda: MENU in pane(), what="menu")
        keys("4", "Enter")
        wait_for(lambda: '"attic": 1' in pane(), what="the rooms")
        wait_for(lambda: last_line(pane()) == "join room>", what="rooms")
        keys("attic", "Enter")
        wait_for(lambda: "* joined attic" in pane(), what="joined")
        wait_for(lambda: last_line(pane()) == "[attic] >", what="in attic")
        holder.wait_line("* roomie joined attic")
        keys("1", "Enter", "up here", "Enter")
        holder.wait_line("[attic] roomie: up here")
        keys("Enter", "5", "Enter")
        wait_for(lambda: "* joined lobby" in pane(), what="left")
        wait_for(lambda: last_line(pane()) == ">", what="lobby prompt")
        keys("C-d")
        wait_for(lambda: not term.alive(), what="exit")
    finally:
        term.kill()
        holder.kill()

def test_menu_asks_again_when_the_check_is_refused():
    # The who that checks the addressee may be refused (rate_limited):
    # the menu says so and asks again, rather than wait for a list that
    # will not come.
    def script(srv):
        def expect(want):
            while True:
                op, data = srv.recv_frame()
                if op == 0x1:
                    break
            assert json.loads(data) == want, data
        expect({"type": "login", "content": "checker"})
        srv.send(0x1, json.dumps({"type": "login", "content": "checker",
                                  "user_list": ["checker", "pal"]}
                                 ).encode())
        expect({"type": "who"})             # the list to choose from
        srv.send(0x1, json.dumps({"type": "who", "user_list":
                                  ["checker", "pal"]}).encode())
        expect({"type": "who"})             # the check of "pal"
        srv.send(0x1, json.dumps({"type": "system",
                                  "code": "rate_limited",
                                  "content": "slow down"}).encode())
        expect({"type": "who"})             # the check, again
        srv.send(0x1, json.dumps({"type": "who", "user_list":
                                  ["checker", "pal"]}).encode())
        expect({"type": "to", "to": "pal", "content": "hi"})
        while srv.recv_frame()[0] != 0x8:
            pass
        srv.send(0x8, struct.pack("!H", 1000))
        srv.conn.close()

    srv = FakeServer(script)
    term = Terminal("wschat-check", "%s -n checker -p %d" % (WSCHAT,
                                                           srv.port))
    pane, keys = term.pane, term.keys
    try:
        wait_for(lambda: MENU in pane(), what="menu")
        keys("2", "Enter")
        wait_for(lambda: last_line(pane()) == "to whom>", what="to whom")
        keys("pal", "Enter")
        wait_for(lambda: "! rate_limited: slow down" in pane(),
                 what="refused check")
        wait_for(lambda: last_line(pane()) == "to whom>", what="again")
        keys("pal", "Enter")
        wait_for(lambda: last_line(pane()) == "to pal>", what="chat")
        keys("hi", "Enter", "C-d")
        wait_for(lambda: not term.alive(), what="exit")
        srv.finish()
    finally:
        term.kill()



def test_menu_says_when_the_server_goes_away():
    # Item 7, as a person sees it: on SIGTERM wschat exited silently and
    # left "say> " on the screen.  Now it says so, keeps the line being
    # typed, and comes back when the server does.
    d = wstest.Daemon(workers=1)
    port = d.port
    d2 = watcher = None
    term = Terminal("wschat-gone", "%s -n stayer -p %d; echo rc=$?; "
                    "sleep 30" % (WSCHAT, port))
    pane, keys = term.pane, term.keys
    try:
        wait_for(lambda: MENU in pane(), what="menu")
        keys("1", "Enter", "typed while away")
        wait_for(lambda: last_line(pane()) == "say> typed while away",
                 what="typing")
        d.__exit__(None, None, None)
        wait_for(lambda: "1001 server shutting down" in pane() and
                 "reconnecting in" in pane(), what="notice")
        # The typed text is still there, under the notices.
        wait_for(lambda: last_line(pane()) == "say> typed while away",
                 what="line")
        d2 = wstest.Daemon(workers=1, args=["-l", "127.0.0.1:%d" % port])
        watcher = pipe_client(d2, "returner")
        wait_for(lambda: "connected again" in pane() and
                 pane().count("* stayer is online") == 2, timeout=40,
                 what="back")
        keys("Enter")
        watcher.wait_line("stayer: typed while away")
        keys("C-d")                     # the user ends it: 0
        wait_for(lambda: last_line(pane()) == "rc=0", what="exit")
        assert "say>" not in pane().splitlines()[-2], pane()
    finally:
        term.kill()
        d.__exit__(None, None, None)
        if watcher:
            watcher.kill()
        if d2:
            d2.__exit__(None, None, None)


def offered(request):
    """The subprotocols an upgrade request offered, in its order."""
    for ln in request.split(b"\r\n"):
        if ln.lower().startswith(b"sec-websocket-protocol:"):
            return [x.strip().decode() for x in
                    ln.split(b":", 1)[1].split(b",")]
    return []


def test_offers_v2_and_reads_its_presence():
    # Issue 14, item 12: wschat asked for wschat.json, whose logins and
    # logouts carry the whole user_list.  Now it asks for wschat.v2.json
    # first, and shows version 2 presence, which has a count, no list.
    def script(srv):
        for m in ({"type": "handshake", "ip": "x", "online": 3},
                  {"type": "login", "from": "a", "user": "a",
                   "content": "a", "room": "lobby", "online": 4},
                  {"type": "rename", "from": "a", "user": "b",
                   "content": "b", "room": "lobby", "online": 4},
                  {"type": "logout", "from": "b", "user": "b",
                   "content": "b", "room": "lobby", "online": 3},
                  {"type": "who", "user_list": ["c", "d", "e"]}):
            srv.send(0x1, json.dumps(m).encode())
        op, data = srv.recv_frame()
        assert op == 0x8, (op, data)
        srv.send(0x8, struct.pack("!H", 1000))
        srv.conn.close()

    srv = FakeServer(script, protocol=b"wschat.v2.json")
    c = Wschat(["--pipe", "-p", str(srv.port)])
    try:
        c.wait_line('* online (3): "c", "d", "e"')
        rc, err = c.finish()
        assert rc == 0, (rc, err)
        srv.finish()
        assert offered(srv.request) == ["wschat.v2.json", "wschat.json"], \
            srv.request
        assert c.out == ["* online (3)", "* a is online", "* a is now b",
                         "* b is offline", '* online (3): "c", "d", "e"'], \
            c.out
    finally:
        c.kill()


def test_falls_back_to_v1():
    # An older wschatd chooses wschat.json, or names no subprotocol: its
    # frames are version 1, whose handshake lists the names.
    def script(srv):
        srv.send(0x1, json.dumps({"type": "handshake", "ip": "x",
                                  "user_list": ["a", "b"]}).encode())
        op, data = srv.recv_frame()
        assert op == 0x8, (op, data)
        srv.send(0x8, struct.pack("!H", 1000))
        srv.conn.close()

    for proto in (b"wschat.json", None):
        srv = FakeServer(script, protocol=proto)
        c = Wschat(["--pipe", "-p", str(srv.port)])
        try:
            c.wait_line('* online (2): "a", "b"')
            rc, err = c.finish()
            assert rc == 0, (proto, rc, err)
            srv.finish()
        finally:
            c.kill()


def test_v2_with_200_users_logged_in():
    # Item 12 against the real daemon: with 210 users online, wschat's
    # handshake is a count (a version 1 handshake would list 210 names),
    # presence lines still come, /who lists everyone, and the menu's
    # private chat still checks its addressee (with a who).
    n = 210
    d = daemon("v2many")
    a = pipe_client(d, "alice")
    socks = []
    term = b = None
    try:
        assert a.out[0] == "* online (0)", a.out
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", d.line_port),
                                         timeout=5)
            s.sendall(b"rename u%03d\n" % i)
            socks.append(s)
        # A login overtaken by its rename comes as the new name's login.
        wait_for(lambda: all(
            ("* u%03d is online" % i) in a.out or
            any(x.endswith(" is now u%03d" % i) for x in a.out)
            for i in range(n)), timeout=30, what="%d logins" % n)
        b = pipe_client(d, "bob")
        assert b.out[0] == "* online (%d)" % (n + 1), b.out[:3]
        b.send("/who")
        wait_for(lambda: any(x.startswith("* online (%d): " % (n + 2))
                             for x in b.out), what="who of %d" % (n + 2))
        who = [x for x in b.out if x.startswith("* online (%d): " % (n + 2))]
        assert '"u150"' in who[0] and '"alice"' in who[0], who[0][:200]
        term = menu_terminal(d, "carol", "wschat-v2many")
        choose_addressee(term, "U150", "u150")
        for s in socks[:10]:
            s.close()
        for i in range(10):
            a.wait_line("* u%03d is offline" % i)
            b.wait_line("* u%03d is offline" % i)
        term.keys("exit", "Enter")
        menu_quit(term, ["0", "Enter"], a, "carol")
        assert b.finish()[0] == 0
        assert a.finish()[0] == 0
    finally:
        for s in socks:
            s.close()
        if term:
            term.kill()
        for x in (a, b):
            if x:
                x.kill()


# Issue 16: history and resume, as wschat shows and uses them.  The fake
# server speaks what ../shared/PROTOCOL.md, "Protocol version 2", says
# wschatd does; the tests after it check the same against wschatd.
EPOCH = "00000000000000e1"


def hmsg(i, frm, text, room="lobby"):
    return {"type": "user", "from": frm, "content": text, "room": room,
            "id": i, "epoch": EPOCH}


def history(msgs, more=False, room="lobby"):
    return {"type": "history", "room": room, "epoch": EPOCH,
            "messages": msgs, "more": more}


def fake_login(srv, name, session=None):
    """Answer the client's login as wschatd does (version 2)."""
    op, data = srv.recv_frame()
    assert json.loads(data) == {"type": "login", "content": name}, data
    srv.send(0x1, json.dumps({"type": "login", "from": name, "user": name,
                              "content": name, "room": "lobby",
                              "online": 1}).encode())
    if session:
        srv.send(0x1, json.dumps({"type": "system", "code": "logged_in",
                                  "session": session, "resume_timeout": 30,
                                  "content": "logged in as " + name}
                                 ).encode())


def fake_close(srv):
    """Wait for the client's close and answer it."""
    while srv.recv_frame()[0] != 0x8:
        pass
    srv.send(0x8, struct.pack("!H", 1000))
    srv.conn.close()


def test_history_is_marked_and_pages_back():
    # Issue 16: wschat showed a history reply as raw JSON, and the token
    # of a login as an error ("! logged_in: ...").  Now the earlier
    # messages are lines marked "history ", /history N asks for those
    # before the oldest shown, and a bad N is refused here.
    asks = []

    def script(srv):
        fake_login(srv, "hx", session="tok1")
        srv.send(0x1, json.dumps(history([
            hmsg(5, "a", "one"), hmsg(7, "b", "two\nlines")],
            more=True)).encode())
        srv.send(0x1, json.dumps(hmsg(9, "a", "live")).encode())
        for reply in (history([hmsg(2, "a", "older"),
                               hmsg(3, "b", "\x1b[2Jold")], more=True),
                      history([hmsg(1, "a", "first")]),
                      history([])):
            op, data = srv.recv_frame()
            asks.append(json.loads(data))
            srv.send(0x1, json.dumps(reply).encode())
        fake_close(srv)

    srv = FakeServer(script, protocol=b"wschat.v2.json")
    c = Wschat(["--pipe", "-p", str(srv.port), "-n", "hx"])
    try:
        c.wait_line("a: live")
        for bad in ("0", "-1", "x", "100001", "5x", "99999999999999999999"):
            c.send("/history " + bad)
            c.wait_err("/history: bad count %s (1 to 100000)" % bad)
        c.send("/history 2")
        c.wait_line("history b: ^[[2Jold")
        c.send("/history 300")
        c.wait_line("history a: first")
        c.send("/history")
        c.wait_line("* no earlier messages in lobby")
        rc, err = c.finish()
        assert rc == 0, (rc, err)
        srv.finish()
        assert asks == [
            {"type": "history", "room": "lobby", "before": 5, "limit": 2},
            {"type": "history", "room": "lobby", "before": 2, "limit": 300},
            {"type": "history", "room": "lobby", "before": 1,
             "limit": 20}], asks
        assert c.out == ["* hx is online", "history a: one",
                         "history b: two", "  | lines", "a: live",
                         "history a: older", "history b: ^[[2Jold",
                         "history a: first",
                         "* no earlier messages in lobby"], c.out
        assert_harmless(c.raw)
    finally:
        c.kill()


def test_resumes_a_lost_connection():
    # Issue 16, item 4: after a lost connection wschat logged in afresh:
    # the others saw it leave and come back, and what was said meanwhile
    # was lost.  Now it resumes with its token from the largest id seen
    # (chat or private), in the room it was in; a failed resume logs in.
    got = []

    def script(srv):
        if srv.index == 0:
            fake_login(srv, "rx", session="tok1")
            srv.send(0x1, json.dumps(history([hmsg(3, "a", "old")])
                                     ).encode())
            op, data = srv.recv_frame()     # the join of --room
            got.append(json.loads(data))
            srv.send(0x1, json.dumps({"type": "system", "room": "den",
                                      "content": "joined"}).encode())
            srv.send(0x1, json.dumps(history([hmsg(4, "a", "in den",
                                                   "den")], room="den")
                                     ).encode())
            srv.send(0x1, json.dumps({"type": "private", "from": "a",
                                      "to": "rx", "content": "psst",
                                      "id": 6, "epoch": EPOCH}).encode())
            time.sleep(0.3)
            srv.conn.close()        # lost: no close frame
        elif srv.index == 1:
            op, data = srv.recv_frame()
            got.append(json.loads(data))
            srv.send(0x1, json.dumps({"type": "resumed", "user": "rx",
                                      "room": "den"}).encode())
            srv.send(0x1, json.dumps(hmsg(7, "a", "missed", "den")
                                     ).encode())
            time.sleep(0.3)
            srv.conn.close()        # lost again
        else:
            op, data = srv.recv_frame()
            got.append(json.loads(data))
            srv.send(0x1, json.dumps({"type": "system",
                                      "code": "resume_failed",
                                      "content": "no such session"}
                                     ).encode())
            fake_login(srv, "rx")
            op, data = srv.recv_frame()     # back to its room
            got.append(json.loads(data))
            srv.send(0x1, json.dumps({"type": "system", "room": "den",
                                      "content": "joined"}).encode())
            fake_close(srv)

    srv = FakeServer(script, conns=3, protocol=b"wschat.v2.json")
    c = Wschat(["--pipe", "-p", str(srv.port), "-n", "rx", "--room", "den"])
    try:
        c.wait_err("resumed the session as rx in den")
        c.wait_line("[den] a: missed")
        c.wait_err("resume_failed: no such session: logging in again")
        wait_for(lambda: c.count("* joined den") == 2, what="rejoin")
        rc, err = c.finish()
        assert rc == 0, (rc, err)
        srv.finish()
        assert got == [
            {"type": "join", "room": "den"},
            {"type": "resume", "session": "tok1", "since": {"den": 6}},
            {"type": "resume", "session": "tok1", "since": {"den": 7}},
            {"type": "join", "room": "den"}], got
        assert c.out == ["* rx is online", "history a: old", "* joined den",
                         "history [den] a: in den", "a -> you: psst",
                         "[den] a: missed", "* rx is online",
                         "* joined den"], c.out
    finally:
        c.kill()


def test_a_close_ends_the_session():
    # A close (the server restarting: 1001) ends the session on the
    # server: wschat logs in again rather than asking to resume.
    got = []

    def script(srv):
        if srv.index == 0:
            fake_login(srv, "cx", session="tok2")
            srv.send(0x8, struct.pack("!H", 1001) + b"restart")
            op, data = srv.recv_frame()
            assert op == 0x8, (op, data)
            srv.conn.close()
        else:
            fake_login(srv, "cx")
            got.append(1)
            fake_close(srv)

    srv = FakeServer(script, conns=2, protocol=b"wschat.v2.json")
    c = Wschat(["--pipe", "-p", str(srv.port), "-n", "cx"])
    try:
        wait_for(lambda: c.count("* cx is online") == 2, what="re-login")
        rc, err = c.finish()
        assert rc == 0, (rc, err)
        srv.finish()
        assert got == [1], got
    finally:
        c.kill()


def test_menu_marks_earlier_messages_in_tmux():
    # Issue 16, item 1, as a person sees it: the earlier messages between
    # "-- earlier messages --" and "-- live --", and /history at the menu.
    asks = []

    def script(srv):
        fake_login(srv, "mh", session="tok3")
        srv.send(0x1, json.dumps(history([
            hmsg(5, "a", "one"), hmsg(7, "b", "\x1b]0;HACKED\x07two")],
            more=True)).encode())
        srv.send(0x1, json.dumps(hmsg(9, "a", "live")).encode())
        op, data = srv.recv_frame()
        asks.append(json.loads(data))
        srv.send(0x1, json.dumps(history([hmsg(2, "a", "older")])
                                 ).encode())
        op, data = srv.recv_frame()
        asks.append(json.loads(data))
        srv.send(0x8, struct.pack("!H", 1000))
        while srv.recv_frame()[0] != 0x8:
            pass
        srv.conn.close()

    srv = FakeServer(script, protocol=b"wschat.v2.json")
    term = Terminal("wschat-hist", "%s -n mh -p %d" % (WSCHAT, srv.port))
    pane = term.pane
    try:
        wait_for(lambda: "a: live" in pane(), what="live line")
        # The menu again after them: they may have pushed it off.
        assert_lines_in_order(pane().splitlines(), [
            "-- earlier messages (/history N: older ones) --", "a: one",
            "b: ^[]0;HACKED^Gtwo", "-- live --", MENU, "a: live"])
        term.keys("/history x", "Enter")
        wait_for(lambda: "! /history: bad count x (1 to 100000)" in pane(),
                 what="bad count")
        term.keys("/history 1", "Enter")
        wait_for(lambda: "a: older" in pane(), what="older")
        assert_lines_in_order(pane().splitlines(), [
            "-- earlier messages --", "a: older", "-- live --", ">"])
        assert pane().count(MENU) == 2, pane()
        assert "HACKED" not in term.title(), term.title()
        term.keys("0", "Enter")
        wait_for(lambda: not term.alive(), what="menu client exit")
        srv.finish()
        assert asks == [{"type": "history", "room": "lobby", "before": 5,
                         "limit": 1}, {"type": "logout"}], asks
    finally:
        term.kill()


async def ws_user(port, name, room=None):
    """A python WebSocket user (version 2), logged in (and in room)."""
    ws = await websockets.connect("ws://127.0.0.1:%d/ws" % port,
                                  subprotocols=["wschat.v2.json"],
                                  ping_interval=None)
    await ws.send(json.dumps({"type": "login", "content": name}))
    await ws_wait_history(ws, "lobby")
    if room:
        await ws.send(json.dumps({"type": "join", "room": room}))
        await ws_wait_history(ws, room)
    return ws


async def ws_wait_history(ws, room):
    """Wait for the history a login or join sends: in the room now."""
    while True:
        m = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if m.get("type") == "history" and m.get("room") == room:
            return


async def ws_say(ws, name, texts):
    """Send texts as chat and wait for their echoes."""
    for t in texts:
        await ws.send(json.dumps({"type": "user", "content": t}))
    left = list(texts)
    while left:
        m = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if m.get("type") == "user" and m.get("from") == name and \
                m.get("content") == left[0]:
            left.pop(0)


def test_history_on_connect_then_live():
    # Issue 16: wschat showed nothing of what was said before it came.
    # Now the room's last messages come first, marked, oldest first, and
    # then live ones, unmarked, with none both and none between.
    d = daemon("history1")
    c = None

    async def go():
        nonlocal c
        ws = await ws_user(d.port, "h1")
        try:
            await ws_say(ws, "h1", ["h one", "h two", "h three"])
            c = Wschat(["--pipe", "-p", str(d.port), "-n", "hreader"])
            await c.await_line("history h1: h three")
            await ws_say(ws, "h1", ["h live"])
            await c.await_line("h1: h live")
        finally:
            await ws.close()

    try:
        wstest.run_async(go(), 30)
        # Notices ("* ...") aside, the earlier lines come first.
        assert [x for x in c.out if not x.startswith("* ")] == [
            "history h1: h one", "history h1: h two",
            "history h1: h three", "h1: h live"], c.out
        assert c.finish()[0] == 0
    finally:
        if c:
            c.kill()


def test_history_command_against_the_server():
    # Issue 16: /history N pages back from the oldest message shown, in
    # the room wschat is in; a bad N is refused without asking.
    d = daemon("history2", opts={"history_join": 5})
    c = None
    texts = ["m%02d" % i for i in range(30)]

    async def go():
        nonlocal c
        ws = await ws_user(d.port, "h2", room="attic")
        try:
            await ws_say(ws, "h2", texts)
        finally:
            await ws.close()

    try:
        wstest.run_async(go(), 30)
        c = Wschat(["--pipe", "-p", str(d.port), "-n", "hr2", "--room",
                    "attic"])
        c.wait_line("history [attic] h2: m29")

        def earlier():
            return [x[len("history [attic] h2: "):] for x in c.out
                    if x.startswith("history [attic] h2: ")]
        assert earlier() == texts[25:], c.out
        c.send("/history 0")
        c.wait_err("/history: bad count 0 (1 to 100000)")
        c.send("/history ten")
        c.wait_err("/history: bad count ten (1 to 100000)")
        c.send("/history 10")
        c.wait_line("history [attic] h2: m15")
        c.send("/history 100")
        c.wait_line("history [attic] h2: m00")
        c.send("/history 3")
        c.wait_line("* no earlier messages in attic")
        assert earlier() == texts[25:] + texts[15:25] + texts[:15], c.out
        rc, err = c.finish()
        assert rc == 0, (rc, err)
        assert err.count("bad count") == 2, err
    finally:
        if c:
            c.kill()


class Proxy:
    """A TCP relay to the daemon, whose connections the test can cut
    (no close frame: the server sees them lost)."""

    def __init__(self, port):
        self.port_to = port
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        self.pairs = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                a, _ = self.lsock.accept()
            except OSError:
                return
            b = socket.create_connection(("127.0.0.1", self.port_to))
            self.pairs.append((a, b))
            for x, y in ((a, b), (b, a)):
                threading.Thread(target=self._pump, args=(x, y),
                                 daemon=True).start()

    @staticmethod
    def _pump(x, y):
        try:
            while True:
                data = x.recv(65536)
                if not data:
                    break
                y.sendall(data)
        except OSError:
            pass
        for s in (x, y):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self):
        """End every connection so far, both ways, with no close frame
        (shutdown first: a close alone would wait for the relay threads
        blocked in recv on them)."""
        for a, b in self.pairs:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
        self.pairs = []

    def close(self):
        self.closed = True
        self.lsock.close()
        self.cut()


def test_resume_against_the_server():
    # Issue 16, item 4, against wschatd: the connection is cut (no close
    # frame); wschat resumes its session and gets what was said meanwhile,
    # once; the others see no logout and no login.
    d = daemon("history3")
    proxy = Proxy(d.port)
    w = pipe_client(d, "watch3")
    c = None
    try:
        c = Wschat(["--pipe", "-p", str(proxy.port), "-n", "rs"])
        c.wait_line("* rs is online")
        w.send("before the cut")
        c.wait_line("watch3: before the cut")
        proxy.cut()
        c.wait_err("connection lost")
        for i in range(3):
            w.send("during %d" % i)
        w.wait_line("watch3: during 2")
        c.wait_err("resumed the session as rs in lobby", timeout=15)
        c.wait_line("watch3: during 2")
        w.send("after")
        c.wait_line("watch3: after")
        for i in range(3):
            assert c.count("watch3: during %d" % i) == 1, c.out
        assert c.count("watch3: before the cut") == 1, c.out
        assert c.count("* rs is online") == 1, c.out
        assert "* rs is offline" not in w.out, w.out
        assert w.count("* rs is online") == 1, w.out
        assert c.finish()[0] == 0
        w.wait_line("* rs is offline")
        assert w.finish()[0] == 0
    finally:
        proxy.close()
        w.kill()
        if c:
            c.kill()


if __name__ == "__main__":
    wstest.main()
