"""Test harness for wschatd's end-to-end tests.

Starts the real daemon on free loopback ports (port 0: the daemon logs the
ports it bound, and the harness reads them from its log), talks to it over
real sockets, and runs a script's test_* functions with a plain summary.

Nothing here imitates the server: tests use python3-websockets (an
independent, strict client) where a well-formed client is wanted, and the
RawWS class below only where a test must send bytes no sane client sends.
"""

import asyncio
import atexit
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

WSCHATD = os.environ.get("WSCHATD", os.path.join(os.getcwd(), "wschatd"))
# scripts/memcheck.sh runs the daemon through a valgrind wrapper there:
# tests that repeat a case many times do it fewer times then.
UNDER_VALGRIND = os.sep + "memcheck" + os.sep in WSCHATD
SRCDIR = os.environ.get("WSCHATD_SRCDIR", os.getcwd())


def wait_for(pred, timeout=10.0, interval=0.02, what="condition"):
    """Poll pred() until it is true; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(interval)


def free_port():
    """A loopback TCP port that nothing listens on at the moment."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def alive(pid):
    """The process exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


HISTORY_COMM = "wschatd-history"


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def all_children(pid):
    """The pids of a process's children, from /proc."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def children(pid):
    """The master's workers: its children but the history process."""
    return [p for p in all_children(pid) if comm(p) != HISTORY_COMM]


def history_pid(pid):
    """The master's history process, or None."""
    for p in all_children(pid):
        if comm(p) == HISTORY_COMM:
            return p
    return None


class Stoppable:
    """A context manager: stop() the daemon, then remove self.tmp."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.stop()
        finally:
            self.tmp.cleanup()
        return False


class Daemon(Stoppable):
    """One wschatd process tree: master plus workers, in the foreground."""

    def __init__(self, workers=2, opts=None, line=True, webroot=None,
                 args=None, env=None, logfile=None):
        """logfile: have the daemon write its log there (the log setting)
        instead of to stderr, and read it from there."""
        self.tmp = tempfile.TemporaryDirectory(prefix="wschatd-test-")
        self.logpath = os.path.join(self.tmp.name, "wschatd.log")
        stderr_path = self.logpath
        if logfile:
            opts = dict(opts or {}, log=logfile)
            self.logpath = logfile
        self.webroot = webroot or os.path.join(SRCDIR, "www")
        self.opts = opts
        cmd = [WSCHATD, "-f", "-w", str(workers), "-l", "127.0.0.1:0",
               "-L", "127.0.0.1:0" if line else "off",
               "-o", "webroot=" + self.webroot,
               "-o", "pidfile=" + os.path.join(self.tmp.name, "wschatd.pid"),
               # A store of its own: history never leaks between tests.
               "-o", "history_file=" + os.path.join(self.tmp.name,
                                                    "history.db")]
        for k, v in (opts or {}).items():
            cmd += ["-o", "%s=%s" % (k, v)]
        if "-c" not in (args or []):
            # An empty file, not the installed one wschatd reads without -c.
            empty = os.path.join(self.tmp.name, "empty.conf")
            open(empty, "w").close()
            cmd += ["-c", empty]
        cmd += args or []
        self.cmd = cmd
        self.logf = open(stderr_path, "w+")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf,
                                     env=env)
        self.workers = workers
        self.port = None
        self.line_port = None
        try:
            self._wait_ready(line)
        except BaseException:
            self.stop(signal.SIGKILL)
            raise

    def log(self):
        try:
            with open(self.logpath) as f:
                return f.read()
        except FileNotFoundError:
            return ""   # a log file not written yet, or rotated away

    def _wait_ready(self, line):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("wschatd exited with %d:\n%s" %
                                     (self.proc.returncode, self.log()))
            text = self.log()
            m = re.search(r"http listening on 127\.0\.0\.1:(\d+)", text)
            if m:
                self.port = int(m.group(1))
            m = re.search(r"line listening on 127\.0\.0\.1:(\d+)", text)
            if m:
                self.line_port = int(m.group(1))
            started = len(re.findall(r"worker \d+: started", text))
            # And the history process (unless history is off): until it
            # has named itself, it looks like one more worker.
            hist = (re.search(r"history: started, pid", text) or
                    re.search(r"without history|history off", text) or
                    str((self.opts or {}).get("history", "on")) in
                    ("off", "no", "0"))
            return (self.port and (self.line_port or not line)
                    and started >= self.workers and hist)
        wait_for(ready, what="wschatd to start")

    def worker_pids(self):
        """The master's workers, read from /proc."""
        return children(self.proc.pid)

    def history_pid(self):
        return history_pid(self.proc.pid)

    def line_owners(self, ports):
        """owners() for connections to the line port."""
        return self.owners(ports, self.line_port)

    def owners(self, ports, server_port=None):
        """For each client's local port, the pid of the worker holding the
        server end of that connection (from /proc/net/tcp and the workers'
        /proc/PID/fd), or None.  TIME_WAIT entries (inode 0) of earlier
        connections are skipped."""
        inode_by_port = {}
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                fields = line.split()
                lport = int(fields[1].split(":")[1], 16)
                rport = int(fields[2].split(":")[1], 16)
                if lport == (server_port or self.port) and rport != 0 \
                        and fields[9] != "0":
                    inode_by_port[rport] = fields[9]
        owner = {}
        for pid in self.worker_pids():
            fddir = "/proc/%d/fd" % pid
            try:
                fds = os.listdir(fddir)
            except OSError:
                continue
            for fd in fds:
                try:
                    link = os.readlink(os.path.join(fddir, fd))
                except OSError:
                    continue
                if link.startswith("socket:["):
                    owner[link[8:-1]] = pid
        return [owner.get(inode_by_port.get(p)) for p in ports]

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Signal the master and wait; returns its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("wschatd did not stop within %ss" %
                                     timeout)
        self.logf.close()
        return self.proc.returncode



_shared = {}


def shared_daemon(name, **kw):
    """One daemon per configuration name, started on first use, reused by
    the tests of a file, and stopped when the script exits."""
    if name not in _shared:
        _shared[name] = Daemon(**kw)
    return _shared[name]


@atexit.register
def _stop_shared():
    for d in _shared.values():
        d.__exit__(None, None, None)


def tcp_connect(port, timeout=5.0):
    """A connection to the daemon's port on loopback, with Nagle off."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def request(path, method="GET", extra="", version="1.1"):
    """The bytes of one request with Host: 127.0.0.1; extra is more header
    lines, each ending in CRLF."""
    return ("%s %s HTTP/%s\r\nHost: 127.0.0.1\r\n%s\r\n" %
            (method, path, version, extra)).encode()


class HTTPReader:
    """Reads HTTP responses one at a time off a socket (Content-Length
    framed), so that keep-alive and pipelining can be checked exactly.
    Every head, body and stray byte string it reads goes to keep()."""

    def __init__(self, sock, timeout=5.0):
        self.sock = sock
        self.buf = b""
        self.timeout = timeout      # response()'s default

    def keep(self, data):
        """Nothing here; a subclass may look at what the server sent."""

    def _more(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("timed out; have %r" % self.buf[:300])
        self.sock.settimeout(left)
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError("server closed; have %r" % self.buf[:300])
        self.buf += chunk

    def response(self, head_only=False, timeout=None):
        """(status, headers (lower-case names -> list of values), body)."""
        deadline = time.monotonic() + (
            self.timeout if timeout is None else timeout)
        while b"\r\n\r\n" not in self.buf:
            self._more(deadline)
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.keep(head)
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
        self.keep(body)
        return int(status), headers, body

    def expect_eof(self, timeout=5.0):
        """The server closes the connection and sends nothing more."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._more(deadline)
            except (EOFError, ConnectionResetError):
                break
        self.keep(self.buf)
        assert self.buf == b"", "bytes after the last response: %r" % \
            self.buf[:200]

    def expect_open(self, wait=0.3):
        """Nothing arrives and the connection is not closed."""
        self.sock.settimeout(wait)
        try:
            chunk = self.sock.recv(4096)
        except socket.timeout:
            return
        self.keep(chunk)
        raise AssertionError("expected an open, quiet connection; got %r"
                             % chunk[:200])


def one(headers, name):
    """The value of a header that must be there exactly once, from
    HTTPReader's headers."""
    vals = headers.get(name, [])
    assert len(vals) == 1, "header %s: %r (exactly one wanted)" % (name, vals)
    return vals[0]


def http_raw(port, data, timeout=5.0, read_all=True):
    """Send raw bytes; return everything the server sends until it closes
    (or, with read_all=False, what arrives within timeout)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        if data:
            s.sendall(data)
        out = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
            if not read_all:
                s.settimeout(0.3)
        return out
    finally:
        s.close()


def parse_response(raw):
    """Split one HTTP response: (status, headers dict (lower-case), rest)."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    if not sep:
        raise AssertionError("no complete response head in %r" % raw[:200])
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, rest


class RawWS:
    """A deliberately low-level WebSocket client for sending malformed input."""

    def __init__(self, port, path="/echo", extra_headers="", timeout=5.0):
        self.sock = tcp_connect(port, timeout)
        self.buf = b""
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
               "Upgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
               "%s\r\n" % (path, port, key, extra_headers))
        self.sock.sendall(req.encode())
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise AssertionError("closed during handshake")
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.status, self.headers, _ = parse_response(head + b"\r\n\r\n")
        if self.status != 101:
            raise AssertionError("handshake answered %d" % self.status)

    @staticmethod
    def frame(opcode, payload=b"", fin=True, rsv=0, mask=True, key=None,
              length=None):
        if isinstance(payload, str):
            payload = payload.encode()
        b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
        n = len(payload) if length is None else length
        if n < 126:
            hdr = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
        elif n <= 0xFFFF:
            hdr = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
        else:
            hdr = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
        if not mask:
            return hdr + payload
        key = key or os.urandom(4)
        masked = bytes(b ^ key[i & 3] for i, b in enumerate(payload)) \
            if len(payload) < 4096 else _mask_fast(payload, key)
        return hdr + key + masked

    def send(self, data, chunk=None, delay=0.0):
        """Send bytes, optionally in chunks of `chunk` bytes with a delay."""
        if not chunk:
            self.sock.sendall(data)
            return
        for i in range(0, len(data), chunk):
            self.sock.sendall(data[i:i + chunk])
            if delay:
                time.sleep(delay)

    def send_frame(self, opcode, payload=b"", **kw):
        chunk = kw.pop("chunk", None)
        delay = kw.pop("delay", 0.0)
        self.send(self.frame(opcode, payload, **kw), chunk, delay)

    def _fill(self, n, timeout):
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out reading a frame")
            self.sock.settimeout(left)
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk

    def recv_frame(self, timeout=5.0):
        """Return (fin, opcode, payload) of the next server frame; the
        server's frames must be unmasked and carry no reserved bits."""
        self._fill(2, timeout)
        b0, b1 = self.buf[0], self.buf[1]
        assert b0 & 0x70 == 0, "server set reserved bits"
        assert b1 & 0x80 == 0, "server masked a frame"
        n = b1 & 0x7F
        off = 2
        if n == 126:
            self._fill(4, timeout)
            n = struct.unpack("!H", self.buf[2:4])[0]
            off = 4
        elif n == 127:
            self._fill(10, timeout)
            n = struct.unpack("!Q", self.buf[2:10])[0]
            off = 10
        self._fill(off + n, timeout)
        payload = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def recv_message(self, timeout=5.0):
        """Reassemble one data message: (opcode, payload)."""
        op, data = None, b""
        while True:
            fin, opcode, payload = self.recv_frame(timeout)
            if opcode >= 8:
                raise AssertionError("control frame %d mid-message" % opcode)
            if op is None:
                op = opcode
            data += payload
            if fin:
                return op, data

    def expect_close(self, codes, timeout=5.0):
        """The next frame must be a close with one of codes (an int or a
        collection); then the server must close the TCP connection."""
        if isinstance(codes, int):
            codes = (codes,)
        fin, opcode, payload = self.recv_frame(timeout)
        assert opcode == 8, "expected close, got opcode %d %r" % (
            opcode, payload[:60])
        code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 \
            else 1005
        assert code in codes, "close code %d, expected %s" % (code, codes)
        if len(payload) > 2:
            payload[2:].decode("utf-8")   # a reason must be UTF-8
        self.expect_eof(timeout)
        return code

    def expect_eof(self, timeout=5.0):
        """The server closes TCP (after a close handshake)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("server did not close the connection")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return
            if not chunk:
                return
            self.buf += chunk

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class SlowWS(RawWS):
    """A /ws client with a tiny receive buffer that never reads after the
    upgrade: a slow consumer."""

    def __init__(self, port):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Before connect, so the window is small from the start.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(5)
        s.connect(("127.0.0.1", port))
        self.sock = s
        self.buf = b""
        s.sendall(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n" % port).encode())
        while b"\r\n\r\n" not in self.buf:
            chunk = s.recv(1)   # byte by byte: leave the rest unread
            if not chunk:
                raise AssertionError("closed during handshake")
            self.buf += chunk
        assert self.buf.startswith(b"HTTP/1.1 101 "), self.buf


def _mask_fast(payload, key):
    n = len(payload)
    k = (key * ((n + 3) // 4))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")) \
        .to_bytes(n, "big")


def run_async(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def main(tests=None):
    """Run every test_* function of the calling module (or those given);
    print TAP-like lines and a closing 'N passed, N failed' line."""
    mod = sys.modules["__main__"]
    if tests is None:
        tests = [(n, getattr(mod, n)) for n in sorted(dir(mod))
                 if n.startswith("test_") and callable(getattr(mod, n))]
        tests.sort(key=lambda t: t[1].__code__.co_firstlineno)
    only = os.environ.get("TEST_ONLY")
    passed = failed = 0
    for name, fn in tests:
        if only and only not in name:
            continue
        t0 = time.monotonic()
        try:
            fn()
        except Exception:
            failed += 1
            print("not ok - %s" % name)
            traceback.print_exc(file=sys.stdout)
        else:
            passed += 1
            print("ok - %s (%.2fs)" % (name, time.monotonic() - t0))
        sys.stdout.flush()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
