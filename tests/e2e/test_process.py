#!/usr/bin/env python3
"""End-to-end tests of wschatd's process model and command line: the
worker count, that every worker accepts, respawn of a killed worker with
the other workers' clients unaffected, graceful SIGTERM/SIGINT (close 1001
to every WebSocket, a line to every line user, exit 0; the same after a
reload's drain_timeout), and the command line's errors."""

import asyncio
import atexit
import os
import re
import signal
import socket
import struct
import subprocess
import tempfile
import time

import websockets

import wstest
from test_line import Line
from test_metrics import scrape
from wstest import Daemon, RawWS, wait_for

_state = {}


def shared():
    """A 3-worker daemon for the tests that do not stop it."""
    if "d" not in _state:
        _state["d"] = Daemon(workers=3)
    return _state["d"]


@atexit.register
def _stop():
    if "d" in _state:
        _state["d"].__exit__(None, None, None)


# ---------------------------------------------------------------- helpers


def echo_ok(ws, text):
    ws.send_frame(0x1, text)
    op, data = ws.recv_message()
    assert (op, data) == (0x1, text.encode()), (op, data)


def open_echo(d, n):
    conns = []
    for i in range(n):
        ws = RawWS(d.port)
        echo_ok(ws, "hello %d" % i)
        conns.append(ws)
    return conns


def close_all(conns):
    for c in conns:
        c.close()


def dropped(ws, timeout=5.0):
    """True once the server end is gone: EOF or reset."""
    ws.sock.settimeout(timeout)
    try:
        return ws.sock.recv(4096) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def run_cmd(args, timeout=10, cwd=None):
    """Run wschatd with args; (status, stdout + stderr).  A run that does
    not end is killed and fails the test."""
    p = subprocess.Popen([wstest.WSCHATD] + args, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         cwd=cwd)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise AssertionError("wschatd %s did not exit" % " ".join(args))
    return p.returncode, out.decode(errors="replace")


# Always foreground with ephemeral ports: a run that wrongly succeeds must
# neither detach nor take a well-known port.
SAFE = ["-f", "-l", "127.0.0.1:0", "-L", "off", "-o", "pidfile="]


# ---------------------------------------------------------------- workers


def test_three_workers():
    d = shared()
    pids = wait_for(lambda: len(d.worker_pids()) == 3 and d.worker_pids(),
                    what="3 workers")
    assert len(set(pids)) == 3, pids
    assert d.proc.pid not in pids
    for i in range(3):
        assert re.search(r"worker %d started, pid \d+" % i, d.log()), d.log()
    # Exactly 3, and no more appear.
    time.sleep(0.2)
    assert len(d.worker_pids()) == 3, d.worker_pids()


def test_every_worker_accepts():
    d = shared()
    conns = open_echo(d, 60)
    try:
        owners = d.owners([c.sock.getsockname()[1] for c in conns])
        assert None not in owners, owners
        counts = {pid: owners.count(pid) for pid in d.worker_pids()}
        # SO_REUSEPORT spreads by hash: that one worker of 3 gets none of
        # 60 has a chance of about 1e-10.
        assert all(counts.values()), "connections per worker %r" % counts
        for i, c in enumerate(conns):
            echo_ok(c, "again %d" % i)
    finally:
        close_all(conns)


def test_killed_worker_is_respawned_others_unaffected():
    d = shared()
    before = wait_for(lambda: len(d.worker_pids()) == 3 and d.worker_pids(),
                      what="3 workers")
    conns = open_echo(d, 20)
    try:
        owners = d.owners([c.sock.getsockname()[1] for c in conns])
        assert None not in owners, owners
        victim = max(set(owners), key=owners.count)
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: re.search(r"\(pid %d\) killed by signal 9" %
                                   victim, d.log()),
                 what="the master to log the killed worker")
        after = wait_for(lambda: len(d.worker_pids()) == 3 and
                         victim not in d.worker_pids() and d.worker_pids(),
                         what="the worker to be respawned")
        new = set(after) - set(before)
        assert len(new) == 1, (before, after)
        newpid = new.pop()
        # The child is in /proc as soon as fork() returns; the master
        # logs it just after, and may not have run yet under load.
        wait_for(lambda: re.search(r"worker \d+ started, pid %d" % newpid,
                                   d.log()),
                 what="the master to log the respawned worker")
        assert scrape(d).get("wschatd_worker_respawns_total") >= 1

        survivors = [c for c, o in zip(conns, owners) if o != victim]
        victims = [c for c, o in zip(conns, owners) if o == victim]
        assert survivors, "all 20 connections were on one worker"
        for c in victims:
            assert dropped(c), "a connection of the killed worker lives"
        for i, c in enumerate(survivors):
            echo_ok(c, "survivor %d" % i)

        fresh = open_echo(d, 30)
        try:
            owners = d.owners([c.sock.getsockname()[1] for c in fresh])
            assert newpid in owners, \
                "the respawned worker accepts nothing: %r" % owners
        finally:
            close_all(fresh)
    finally:
        close_all(conns)


# ---------------------------------------------------------------- stopping


def expect_graceful_exit(d, sig, t0, pids):
    try:
        d.proc.wait(timeout=8)
    except subprocess.TimeoutExpired:
        raise AssertionError("master still running 8s after %s" % sig)
    t = time.monotonic() - t0
    assert d.proc.returncode == 0, "exit status %d" % d.proc.returncode
    assert t < 5, "took %.1fs to stop" % t
    for pid in pids:
        assert not os.path.exists("/proc/%d" % pid), "worker %d left" % pid
    try:
        socket.create_connection(("127.0.0.1", d.port), timeout=2).close()
    except ConnectionRefusedError:
        pass
    else:
        raise AssertionError("port still accepting after exit")


def test_sigterm_closes_websockets_with_1001():
    with Daemon(workers=2) as d:
        pids = d.worker_pids()
        conns = open_echo(d, 10)
        # An idle keep-alive HTTP connection is closed at once.
        idle = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert idle.recv(4096).startswith(b"HTTP/1.1 200 ")
        try:
            t0 = time.monotonic()
            d.proc.send_signal(signal.SIGTERM)
            for c in conns:
                fin, op, payload = c.recv_frame(timeout=5)
                assert op == 0x8, "expected close, got %d %r" % (op, payload)
                code = struct.unpack("!H", payload[:2])[0]
                assert code == 1001, "close code %d" % code
                payload[2:].decode("utf-8")
            for c in conns:
                c.send_frame(0x8, struct.pack("!H", 1001))
                c.expect_eof()
                c.close()
            idle.settimeout(5)
            assert idle.recv(4096) == b"", "idle HTTP connection not closed"
            expect_graceful_exit(d, "SIGTERM", t0, pids)
        finally:
            close_all(conns)
            idle.close()


def expect_shutdown_line(u):
    """A line user is told that the server stops, in its last line, and
    then the server closes the connection."""
    u.wait_eof(10)
    assert u.lines() and u.lines()[-1] == "system: server shutting down", \
        "%s: last lines %r" % (u.name, u.lines()[-4:])
    assert u.buf.endswith(b"\n"), u.buf[-80:]


def test_sigterm_tells_line_users_before_closing():
    with Daemon(workers=2) as d:
        pids = d.worker_pids()
        users = [Line(d) for _ in range(8)]
        owners = d.line_owners([u.port for u in users])
        assert len(set(owners)) == 2, owners
        try:
            t0 = time.monotonic()
            d.proc.send_signal(signal.SIGTERM)
            for u in users:
                expect_shutdown_line(u)
                u.close()
            expect_graceful_exit(d, "SIGTERM", t0, pids)
        finally:
            for u in users:
                u.close()


def test_drain_timeout_tells_line_users_before_closing():
    # After a reload the old worker keeps its line users until they leave
    # or drain_timeout passes; then they are told, as WebSocket users get
    # close 1001.  The new worker's users stay.
    with tempfile.TemporaryDirectory() as tmp:
        conf = os.path.join(tmp, "drain.conf")
        with open(conf, "w") as f:
            f.write("drain_timeout 1\n")
        with Daemon(workers=1, args=["-c", conf]) as d:
            old = Line(d)
            os.kill(d.proc.pid, signal.SIGHUP)
            wait_for(lambda: "retiring" in d.log(), what="the reload")
            # Until the old worker has read its retirement (slow under
            # valgrind), it may still accept from the shared listener.
            owner = d.line_owners([old.port])
            strays = []
            while True:
                new = Line(d)
                if d.line_owners([new.port]) != owner:
                    break
                strays.append(new)
                assert len(strays) < 50, "the old worker still accepts"
                time.sleep(0.1)
            expect_shutdown_line(old)
            wait_for(lambda: "drain_timeout: stopping" in d.log(),
                     what="the drain_timeout log line")
            new.wait_line("[%s]%s: offline" % (old.name, old.name))
            new.send("still here\n")
            new.wait_line("[%s]%s: still here" % (new.name, new.name))
            assert not new.eof
            old.close()
            new.close()
            for u in strays:
                u.close()


def test_sigint_closes_websockets_with_1001():
    with Daemon(workers=2) as d:
        pids = d.worker_pids()

        async def go():
            uri = "ws://127.0.0.1:%d/echo" % d.port
            clients = [await websockets.connect(uri) for _ in range(10)]
            for i, ws in enumerate(clients):
                await ws.send("m%d" % i)
                assert await ws.recv() == "m%d" % i
            t0 = time.monotonic()
            d.proc.send_signal(signal.SIGINT)

            async def closed(ws):
                try:
                    got = await asyncio.wait_for(ws.recv(), 5)
                except websockets.ConnectionClosed:
                    return ws.close_code
                raise AssertionError("message %r instead of a close" % got)
            codes = await asyncio.gather(*(closed(ws) for ws in clients))
            return t0, codes
        t0, codes = wstest.run_async(go(), 20)
        assert codes == [1001] * 10, codes
        expect_graceful_exit(d, "SIGINT", t0, pids)


# ---------------------------------------------------------------- command line


def test_unknown_key_is_refused():
    rc, out = run_cmd(SAFE + ["-o", "nosuchkey=1"])
    assert rc != 0, (rc, out)
    assert "nosuchkey" in out, out


def test_bad_number_is_refused():
    rc, out = run_cmd(SAFE + ["-o", "max_message_size=abc"])
    assert rc != 0, (rc, out)
    assert "max_message_size" in out, out
    rc, out = run_cmd(SAFE + ["-w", "65"])
    assert rc != 0, (rc, out)
    assert "workers" in out, out


def test_zero_workers_means_one_per_cpu():
    ncpu = min(os.sysconf("SC_NPROCESSORS_ONLN"), 64)
    with Daemon(workers=0, line=False) as d:
        wait_for(lambda: len(d.worker_pids()) == ncpu,
                 what="%d workers" % ncpu)
        wait_for(lambda: len(re.findall(r"worker \d+: started",
                                         d.log())) == ncpu,
                 what="%d workers started" % ncpu)
        assert "starting %d workers" % ncpu in d.log(), d.log()
        assert len(d.worker_pids()) == ncpu, d.worker_pids()


def test_config_test_ok():
    # -f: a foreground run, with no pidfile to check.
    rc, out = run_cmd(["-t", "-f", "-o", "webroot=www"], cwd=wstest.SRCDIR)
    assert rc == 0, (rc, out)
    assert "configuration ok" in out, out


def test_config_test_bad_webroot():
    rc, out = run_cmd(["-t", "-o", "webroot=/nonexistent/wschatd-www"])
    assert rc != 0, (rc, out)
    assert "/nonexistent/wschatd-www" in out, out


def test_version():
    rc, out = run_cmd(["-v"])
    assert rc == 0, (rc, out)
    assert out.strip() == "wschatd 0.1.0", out


def test_help_and_usage():
    rc, out = run_cmd(["-h"])
    assert rc == 0 and "usage:" in out, (rc, out)
    rc, out = run_cmd(["-Z"])
    assert rc != 0 and "usage:" in out, (rc, out)
    rc, out = run_cmd(SAFE + ["extra-argument"])
    assert rc != 0 and "usage:" in out, (rc, out)


def test_config_file_error_names_file_and_line():
    with tempfile.TemporaryDirectory(prefix="wschatd-conf-") as tmp:
        conf = os.path.join(tmp, "bad.conf")
        with open(conf, "w") as f:
            f.write("# a comment\nmax_message_size 2m\nno_such_key 1\n"
                    "echo on\n")
        for extra in (["-t"], SAFE):
            rc, out = run_cmd(extra + ["-c", conf, "-o",
                                       "webroot=" + tmp])
            assert rc != 0, (rc, out)
            assert "%s:3:" % conf in out, out
            assert "no_such_key" in out, out
        with open(conf, "w") as f:
            f.write("\n\n\nmax_message_size lots\n")
        rc, out = run_cmd(["-t", "-c", conf, "-o", "webroot=" + tmp])
        assert rc != 0 and "%s:4:" % conf in out, (rc, out)
        good = os.path.join(tmp, "good.conf")
        with open(good, "w") as f:
            f.write("# ok\nmax_message_size 2m\necho off\nworkers 2\n")
        rc, out = run_cmd(["-t", "-f", "-c", good, "-o", "webroot=" + tmp])
        assert rc == 0 and "configuration ok" in out, (rc, out)


def test_line_listener_off():
    with Daemon(workers=1, line=False) as d:
        assert d.line_port is None
        assert "http listening on" in d.log(), d.log()
        assert "line listening" not in d.log(), d.log()
        raw = wstest.http_raw(d.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                              b"Connection: close\r\n\r\n")
        st, _, body = wstest.parse_response(raw)
        assert (st, body) == (200, b"ok\n"), (st, body)


def test_port_in_use_fails():
    blocker = socket.socket()
    try:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        rc, out = run_cmd(["-f", "-w", "1", "-l", "127.0.0.1:%d" % port,
                           "-L", "off", "-o", "pidfile=", "-o",
                           "webroot=" + os.path.join(wstest.SRCDIR, "www")])
        assert rc != 0, (rc, out)
        assert str(port) in out and "in use" in out.lower(), out
    finally:
        blocker.close()


def test_second_instance_on_same_port_fails():
    # SO_REUSEPORT must not let a second daemon join the first one's
    # socket group and silently split the clients between two chats.
    with wstest.Daemon(workers=1, line=False) as d:
        rc, out = run_cmd(["-f", "-w", "1", "-l", "127.0.0.1:%d" % d.port,
                           "-L", "off", "-o", "pidfile=", "-o",
                           "webroot=" + os.path.join(wstest.SRCDIR, "www")])
        assert rc != 0, (rc, out)
        assert "in use" in out.lower(), out
        raw = wstest.http_raw(d.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                              b"Connection: close\r\n\r\n")
        assert wstest.parse_response(raw)[0] == 200


if __name__ == "__main__":
    wstest.main()
