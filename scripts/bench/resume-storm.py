#!/usr/bin/python3
"""resume-storm.py: N version 2 clients resume at once after an outage
(issue 16, "Resume of 1,000 clients at once").

Starts wschatd (-w $WORKERS, history on, the store in a temporary
directory), connects N clients with wschat.v2.json, logs them in and puts
them in ROOMS rooms (client i in room r<i % ROOMS>), with one more client
per room, the sender, logged in and in the room.  Each sender sends a few
messages so that every client has a last id to resume from.  Then every
client's TCP connection is aborted (no close frame), the senders send
MISSED messages each, paced over OUTAGE seconds, and once the outage is
over all N reconnect at once and send {"type":"resume","session":TOKEN,
"since":{"r<k>":LASTID}} as their first message.  The figure: the time
from the first reconnect to the moment every client has received
`resumed` and every message its room had after its last id (counted by
the pattern "type":"user" in the stream, and the last id checked), and the
workers' utime + stime over that time (from /proc), with the master's and
the history process's beside it, and this client's own CPU.

The clients are raw asyncio protocols on one event loop (as
tests/e2e/storm.py): frames are parsed only until the client is in its
room; after the resume the bytes are scanned for the pattern, not parsed,
which is what lets one python process hold a thousand clients receiving a
million messages.  Its own CPU is reported: near 100% of a core, the
figure is the client's as much as the server's.

Usage: WSCHATD=./wschatd WEBROOT=www /usr/bin/python3 resume-storm.py
[N [ROOMS [MISSED]]] (1000, 10, 1000).  Environment: WORKERS (2), OUTAGE
(2 s), SRV_CPUS (unset: no pinning; e.g. "0" pins wschatd to CPU 0),
PERF_OUT (unset; a file: perf record -g of the workers over the resume).
Linux only (/proc).  Only the daemon it started is signalled, by PID."""

import asyncio
import base64
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

SUBPROTOCOL = "wschat.v2.json"
USER = b'"type":"user"'
ID = re.compile(rb'"id":(\d+)[,}]')
TICK = os.sysconf("SC_CLK_TCK")


def frame(obj):
    """A masked client text frame (zero mask key)."""
    payload = json.dumps(obj, separators=(",", ":")).encode()
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x81, 0x80 | n)
    else:
        head = struct.pack("!BBH", 0x81, 0x80 | 126, n)
    return head + b"\0\0\0\0" + payload


def cpu(pid):
    """utime + stime of pid in seconds (fields 14 and 15 of stat)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return 0.0
    fields = s[s.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class Client(asyncio.Protocol):
    """One connection.  Until counting starts it parses frames into
    JSON messages (self.msgs); after, it counts USER in the bytes and
    keeps the tail of the stream for the last id."""

    def __init__(self, storm, name):
        self.storm = storm
        self.name = name
        self.buf = b""
        self.upgraded = asyncio.get_running_loop().create_future()
        self.transport = None
        self.msgs = []
        self.counting = False
        self.users = 0          # user messages counted after the resume
        self.tail = b""         # the end of the stream, not yet settled
        self.recount = 0        # patterns in tail already counted
        self.last = 0
        self.resumed = False
        self.closed = False
        self.done = False
        self.want = 0           # the room's last id to wait for
        self.first_msg = None   # sent right after the upgrade

    def connection_made(self, transport):
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Key: %s\r\n"
                         "Sec-WebSocket-Version: 13\r\n"
                         "Sec-WebSocket-Protocol: %s\r\n\r\n" %
                         (key, SUBPROTOCOL)).encode())

    def data_received(self, data):
        if not self.upgraded.done():
            self.buf += data
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head, data = self.buf[:end], self.buf[end + 4:]
            self.buf = b""
            if not head.startswith(b"HTTP/1.1 101 "):
                self.upgraded.set_exception(AssertionError(
                    "%s: no upgrade: %r" % (self.name, head[:200])))
                return
            self.upgraded.set_result(True)
            if self.first_msg is not None:
                # The resume, as the connection's first message.
                self.send(self.first_msg)
        if self.counting:
            self.count(data)
        else:
            self.parse(data)
        self.storm.wake()

    def parse(self, data):
        self.buf += data
        while len(self.buf) >= 2:
            b1 = self.buf[1] & 0x7f
            off = 2
            if b1 == 126:
                if len(self.buf) < 4:
                    return
                b1 = struct.unpack("!H", self.buf[2:4])[0]
                off = 4
            elif b1 == 127:
                if len(self.buf) < 10:
                    return
                b1 = struct.unpack("!Q", self.buf[2:10])[0]
                off = 10
            if len(self.buf) < off + b1:
                return
            op = self.buf[0] & 0x0f
            payload = self.buf[off:off + b1]
            self.buf = self.buf[off + b1:]
            if op == 1:
                self.msgs.append(json.loads(payload))

    def count(self, data):
        buf = self.tail + data
        self.users += buf.count(USER) - self.recount
        if not self.resumed and b'"type":"resumed"' in buf:
            self.resumed = True
        if b'"resume_failed"' in buf or b'"history_gap"' in buf:
            self.storm.errors.append((self.name, buf[:300]))
        # The last user message's id, unless it is cut off: then keep
        # the stream from that message on, to read it with the next
        # bytes.  The tail's patterns are counted, not to be again.
        start = len(buf) - 32
        k = buf.rfind(USER)
        if k >= 0:
            m = ID.search(buf, k)
            if m:
                self.last = int(m.group(1))
            else:
                start = min(start, k)
        self.tail = buf[max(0, start):]
        self.recount = self.tail.count(USER)
        if (not self.done and self.resumed and self.users >= self.storm.missed
                and self.last >= self.want):
            self.done = True
            self.storm.ndone += 1

    def connection_lost(self, exc):
        self.closed = True
        if not self.upgraded.done():
            self.upgraded.set_exception(AssertionError(
                "%s: closed before the upgrade" % self.name))
        self.storm.wake()

    def send(self, obj):
        self.transport.write(frame(obj))

    def find(self, **kw):
        for m in self.msgs:
            if all(m.get(k) == v for k, v in kw.items()):
                return m
        return None


class Storm:
    def __init__(self, port, n, rooms, missed, outage):
        self.port = port
        self.n = n
        self.rooms = rooms
        self.missed = missed
        self.outage = outage
        self.ndone = 0
        self.errors = []
        self._wake = None

    def wake(self):
        if self._wake is not None:
            self._wake.set()

    async def until(self, pred, timeout, what):
        print("resume-storm: waiting for " + what, file=sys.stderr,
              flush=True)
        end = time.monotonic() + timeout
        while not pred():
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("resume-storm: timed out: " + what)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), min(left, 0.2))
            except asyncio.TimeoutError:
                pass

    async def connect(self, name, sem, i, first_msg=None, want=None):
        loop = asyncio.get_running_loop()
        async with sem:
            c = Client(self, name)
            c.first_msg = first_msg
            if want is not None:
                # Count from the first byte: no parsing, no JSON.
                c.want = want
                c.counting = True
            await loop.create_connection(
                lambda: c, "127.0.0.1", self.port,
                local_addr=("127.0.0.%d" % (1 + i % 8), 0))
            await asyncio.wait_for(c.upgraded, 30)
        return c

    async def run(self, pids):
        self._wake = asyncio.Event()
        sem = asyncio.Semaphore(200)
        t = time.monotonic()
        clients = await asyncio.gather(*[
            self.connect("c%05d" % i, sem, i) for i in range(self.n)])
        senders = await asyncio.gather(*[
            self.connect("s%03d" % k, sem, k) for k in range(self.rooms)])
        everyone = clients + senders
        for c in everyone:
            c.send({"type": "login", "content": c.name})
        await self.until(lambda: all(c.find(type="system", code="logged_in")
                                     for c in everyone), 120, "logins")
        for i, c in enumerate(everyone):
            k = i % self.rooms if i < self.n else i - self.n
            c.room = "r%d" % k
            c.session = c.find(type="system", code="logged_in")["session"]
            c.send({"type": "join", "room": c.room})
        # v2 names the notice in "code", v1 in "content".
        await self.until(lambda: all(
            c.find(type="system", code="joined", room=c.room) or
            c.find(type="system", content="joined", room=c.room)
            for c in everyone), 120, "joins")
        # A few messages in each room: everyone's last id before the cut.
        pre = 3
        for s in senders:
            for j in range(pre):
                s.send({"type": "user", "content": "before %d" % j})

        def seen(c):
            return [m["id"] for m in c.msgs if m.get("type") == "user" and
                    m.get("room") == c.room]
        await self.until(lambda: all(len(seen(c)) >= pre for c in everyone),
                         60, "the messages before the cut")
        setup_s = time.monotonic() - t
        since = {c.name: seen(c)[-1] for c in clients}
        # The outage: every client's TCP connection aborted, no close frame.
        t_cut = time.monotonic()
        for c in clients:
            c.transport.abort()
        for s in senders:
            s.msgs = []
        # MISSED messages per room, paced over most of the outage.
        step = max(1, self.missed // 50)
        pace = (self.outage * 0.8) / (self.missed / step)
        sent = 0
        while sent < self.missed:
            for s in senders:
                for j in range(sent, min(sent + step, self.missed)):
                    s.send({"type": "user", "content": "missed %d" % j})
            sent = min(sent + step, self.missed)
            await asyncio.sleep(pace)
        await self.until(lambda: all(len(seen(s)) >= self.missed
                                     for s in senders), 60,
                         "the senders' own copies")
        publish_s = time.monotonic() - t_cut
        last = {s.room: seen(s)[-1] for s in senders}
        left = self.outage - (time.monotonic() - t_cut)
        if left > 0:
            await asyncio.sleep(left)
        outage_s = time.monotonic() - t_cut
        # All at once: each connection's first message is its resume.
        perf = None
        if os.environ.get("PERF_OUT"):
            perf = subprocess.Popen(
                ["perf", "record", "-q", "-g", "-o", os.environ["PERF_OUT"],
                 "-p", ",".join(map(str, pids["workers"]))],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            await asyncio.sleep(0.5)
        before = {p: cpu(p) for p in pids["all"]}
        own0 = time.process_time()
        t0 = time.monotonic()
        sem = asyncio.Semaphore(self.n)
        back = []
        for i, c in enumerate(clients):
            back.append(self.connect(c.name, sem, i, {
                "type": "resume", "session": c.session,
                "since": {c.room: since[c.name]}}, last[c.room]))
        back = await asyncio.gather(*back)
        t_conn = time.monotonic() - t0
        await self.until(lambda: self.ndone == self.n or
                         any(b.closed and not b.done for b in back),
                         300, "every client caught up (%d of %d)" %
                         (self.ndone, self.n))
        t_all = time.monotonic() - t0
        own = time.process_time() - own0
        after = {p: cpu(p) for p in pids["all"]}
        if perf is not None:
            perf.send_signal(signal.SIGINT)
            perf.wait(30)

        def delta(ps):
            return sum(after[p] - before[p] for p in ps)
        res = {
            "clients": self.n, "rooms": self.rooms,
            "missed_per_client": self.missed,
            "workers": len(pids["workers"]),
            "setup_s": round(setup_s, 2),
            "publish_s": round(publish_s, 2),
            "outage_s": round(outage_s, 2),
            "reconnect_s": round(t_conn, 3),
            "catchup_s": round(t_all, 3),
            "caught_up": self.ndone,
            "closed_early": sum(b.closed and not b.done for b in back),
            "resume_errors": len(self.errors),
            "messages_received": sum(b.users for b in back),
            "clients_with_extra": sum(b.users > self.missed for b in back),
            "worker_cpu_s": round(delta(pids["workers"]), 3),
            "master_cpu_s": round(delta(pids["master"]), 3),
            "history_cpu_s": round(delta(pids["history"]), 3),
            "client_cpu_s": round(own, 3),
            "client_cpu_pct": round(100 * own / t_all, 1),
        }
        res["worker_us_per_message"] = round(
            1e6 * res["worker_cpu_s"] / max(1, res["messages_received"]), 3)
        for b in back + senders:
            b.transport.abort()
        return res


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    rooms = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    missed = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    workers = int(os.environ.get("WORKERS", "2"))
    outage = float(os.environ.get("OUTAGE", "2"))
    wschatd = os.environ.get("WSCHATD", "./wschatd")
    webroot = os.environ.get("WEBROOT", "www")
    tmp = tempfile.mkdtemp(prefix="resume-storm.")
    log = open(os.path.join(tmp, "log"), "w+")
    cmd = [wschatd, "-f", "-w", str(workers), "-l", "127.0.0.1:0",
           "-L", "off", "-o", "webroot=" + webroot, "-o", "pidfile=",
           "-o", "history_file=" + os.path.join(tmp, "h.db"),
           "-o", "command_rate=1000000", "-o", "message_rate=0",
           "-o", "idle_timeout=0", "-o", "max_connections=0"]
    if os.environ.get("SRV_CPUS"):
        cmd = ["taskset", "-c", os.environ["SRV_CPUS"]] + cmd
    d = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        port = None
        end = time.monotonic() + 10
        while time.monotonic() < end and port is None:
            time.sleep(0.1)
            log.seek(0)
            m = re.search(r"http listening on 127\.0\.0\.1:(\d+)", log.read())
            if m:
                port = int(m.group(1))
        assert port, "wschatd does not listen"
        end = time.monotonic() + 10
        while time.monotonic() < end:
            log.seek(0)
            text = log.read()
            if (len(re.findall(r"worker \d+: started", text)) >= workers and
                    "history: started" in text):
                break
            time.sleep(0.1)
        kids = [int(k) for k in open("/proc/%d/task/%d/children" %
                                     (d.pid, d.pid)).read().split()]
        hist = [k for k in kids if open("/proc/%d/comm" % k).read().strip()
                == "wschatd-history"]
        pids = {"master": [d.pid], "history": hist,
                "workers": [k for k in kids if k not in hist]}
        pids["all"] = pids["master"] + pids["history"] + pids["workers"]
        res = asyncio.run(Storm(port, n, rooms, missed, outage).run(pids))
        print(" ".join("%s=%s" % kv for kv in res.items()))
    finally:
        d.send_signal(signal.SIGTERM)
        try:
            rc = d.wait(15)
        except subprocess.TimeoutExpired:
            d.kill()
            rc = d.wait()
        log.seek(0)
        tail = [ln for ln in log.read().splitlines()
                if "exiting" in ln or "history_gap" in ln or "stopped" in ln]
        for ln in tail:
            print("wschatd: " + ln)
        print("wschatd exit status %d" % rc)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
