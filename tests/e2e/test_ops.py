#!/usr/bin/env python3
"""Operating wschatd, end to end against real processes: daemon mode and
the pidfile, a second instance, -t, SIGHUP reload under live connections
(old connections stay, new ones get the new settings, the chat spans both
generations, a bad file is refused), drain_timeout, a change of worker
count and of listen address by reload, SIGUSR1 log reopening, privilege
dropping and the descriptor limit."""

import os
import pwd
import re
import signal
import socket
import struct
import subprocess
import tempfile
import time

import wstest
from wstest import Daemon, RawWS, alive, children, free_port, wait_for
from test_line import Line
from test_metrics import scrape

WWW = os.path.join(wstest.SRCDIR, "www")


def run(args, timeout=15):
    p = subprocess.run([wstest.WSCHATD] + args, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def echo_ok(ws, text):
    ws.send_frame(0x1, text)
    op, data = ws.recv_message()
    assert (op, data) == (0x1, text.encode()), (op, data)


def write_conf(path, lines):
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


class Detached(wstest.Stoppable):
    """A daemonized wschatd (no -f): config file, pidfile and log file in
    a temporary directory.  Always stopped by the pid in its pidfile."""

    def __init__(self, extra=(), workers=2):
        self.tmp = tempfile.TemporaryDirectory(prefix="wschatd-ops-")
        d = self.tmp.name
        self.conf = os.path.join(d, "wschatd.conf")
        self.pidfile = os.path.join(d, "wschatd.pid")
        self.logpath = os.path.join(d, "wschatd.log")
        self.port = free_port()
        self.lines = ["workers %d" % workers,
                      "listen 127.0.0.1:%d" % self.port,
                      "line_listen off", "webroot " + WWW,
                      "pidfile " + self.pidfile, "log " + self.logpath]
        self.lines += list(extra)
        write_conf(self.conf, self.lines)
        self.pid = None

    def worker_pids(self):
        return children(self.pid)

    owners = Daemon.owners

    def start(self):
        rc, out = run(["-c", self.conf])
        if rc == 0:
            # The parent returns only once the pidfile is written.
            with open(self.pidfile) as f:
                self.pid = int(f.read())
        return rc, out

    def log(self):
        with open(self.logpath) as f:
            return f.read()

    def stop(self):
        if self.pid and alive(self.pid):
            os.kill(self.pid, signal.SIGTERM)
            wait_for(lambda: not alive(self.pid), timeout=20,
                     what="the daemon to stop")


# ------------------------------------------------------- daemon, pidfile


def test_daemon_writes_pidfile_and_removes_it_on_stop():
    with Detached() as d:
        rc, out = d.start()
        assert rc == 0, out
        assert alive(d.pid)
        # Detached: the master is not our child, and it leads a session.
        assert os.getsid(d.pid) == d.pid
        wait_for(lambda: len(children(d.pid)) == 2, what="2 workers")
        raw = wstest.http_raw(d.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                              b"Connection: close\r\n\r\n")
        assert wstest.parse_response(raw)[0] == 200
        workers = children(d.pid)
        os.kill(d.pid, signal.SIGTERM)
        wait_for(lambda: not alive(d.pid), what="the master to exit")
        assert not os.path.exists(d.pidfile), "pidfile left behind"
        for w in workers:
            assert not alive(w), "worker %d left" % w
        assert "master: stopped" in d.log()


def test_second_instance_refused_by_pidfile():
    with Detached() as d:
        rc, out = d.start()
        assert rc == 0, out
        # Same pidfile, another port: the pidfile alone refuses it.
        other = d.lines[:]
        other[1] = "listen 127.0.0.1:%d" % free_port()
        conf2 = os.path.join(d.tmp.name, "second.conf")
        write_conf(conf2, other)
        rc, out = run(["-c", conf2])
        assert rc == 1, out
        assert "already running (pid %d" % d.pid in out, out
        assert alive(d.pid)
        with open(d.pidfile) as f:
            assert int(f.read()) == d.pid, "the pidfile was overwritten"


def test_stale_pidfile_is_taken_over():
    with Detached() as d:
        with open(d.pidfile, "w") as f:
            f.write("999999\n")
        rc, out = d.start()
        assert rc == 0, out
        assert d.pid != 999999


def as_nobody():
    """The command that runs what follows it as nobody, or None (and a
    line saying why) where that cannot be: not root, or a wschatd that
    nobody may not run (a build tree out of its reach, a wrapper)."""
    if os.geteuid() != 0:
        print("skipped: not root")
        return None
    nobody = pwd.getpwnam("nobody")
    cmd = ["setpriv", "--reuid=%d" % nobody.pw_uid,
           "--regid=%d" % nobody.pw_gid, "--clear-groups"]
    p = subprocess.run(cmd + [wstest.WSCHATD, "-v"], cwd="/",
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=60)
    if p.returncode != 0:
        print("skipped: nobody cannot run %s: %s" % (wstest.WSCHATD,
                                                     p.stderr.strip()))
        return None
    return cmd


def start_foreground(cmd, logpath):
    """Start cmd, a wschatd -f, with its stderr in logpath; wait until it
    listens.  Returns (process, HTTP port)."""
    with open(logpath, "w") as log:
        proc = subprocess.Popen(cmd, cwd="/", stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log)

    def port():
        text = open(logpath).read()
        assert proc.poll() is None, "exited with %d:\n%s" % (
            proc.returncode, text)
        m = re.search(r"http listening on 127\.0\.0\.1:(\d+)", text)
        return m and int(m.group(1))
    try:
        return proc, wait_for(port, what="wschatd -f to listen")
    except BaseException:
        proc.kill()
        proc.wait()
        raise


def stop_foreground(proc, logpath):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    assert proc.returncode == 0, "exit %d:\n%s" % (proc.returncode,
                                                   open(logpath).read())


def test_foreground_run_has_no_pidfile_unless_configured():
    # A user who may not write the default pidfile's directory could not
    # run wschatd -f at all (issue 14, item 14).  In the foreground, the
    # built-in pidfile is not taken; one set by the file or -o is.
    nobody = as_nobody()
    if nobody is None:
        return
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        conf = os.path.join(tmp, "wschatd.conf")
        logpath = os.path.join(tmp, "stderr.log")
        lines = ["workers 1", "listen 127.0.0.1:0", "line_listen off",
                 "webroot " + WWW]
        write_conf(conf, lines)
        os.chmod(conf, 0o644)
        rc, out = run(["-t", "-d", "-c", conf])
        default = re.search(r'^pidfile "(/.+)"$', out, re.M).group(1)
        existed = os.path.exists(default)
        proc, port = start_foreground(nobody + [wstest.WSCHATD, "-f", "-c",
                                                conf], logpath)
        try:
            raw = wstest.http_raw(port, b"GET /healthz HTTP/1.1\r\n"
                                  b"Host: x\r\nConnection: close\r\n\r\n")
            assert wstest.parse_response(raw)[0] == 200
            assert os.path.exists(default) == existed, default
            # A reload reads the same way: no pidfile, nothing changed.
            os.kill(proc.pid, signal.SIGHUP)
            wait_for(lambda: "generation 1" in open(logpath).read(),
                     what="the reload")
            assert "pidfile changed" not in open(logpath).read()
        finally:
            stop_foreground(proc, logpath)
        # Configured, in the file or with -o: written, and removed at the
        # stop.
        pidfile = os.path.join(tmp, "wschatd.pid")
        write_conf(conf, lines + ["pidfile " + pidfile])
        for extra in ([], ["-o", "pidfile=" + pidfile]):
            if extra:
                write_conf(conf, lines)
            proc, port = start_foreground([wstest.WSCHATD, "-f", "-c", conf]
                                          + extra, logpath)
            try:
                with open(pidfile) as f:
                    assert int(f.read()) == proc.pid, extra
            finally:
                stop_foreground(proc, logpath)
            assert not os.path.exists(pidfile), "pidfile left behind"


def test_sigterm_during_startup_stops_cleanly():
    """SIGTERM as soon as the pidfile exists (an init script's stop right
    after its start), while the master still sets up its sockets and a
    large bus: it must stop as after a full start, exit 0 and remove the
    pidfile, not die of the signal and leave the pidfile behind."""
    for i in range(5):
        with tempfile.TemporaryDirectory() as tmp:
            pidfile = os.path.join(tmp, "wschatd.pid")
            conf = os.path.join(tmp, "wschatd.conf")
            write_conf(conf, ["workers 1", "listen 127.0.0.1:0",
                              "line_listen off", "webroot " + WWW,
                              "bus_ring_size 64m", "pidfile " + pidfile])
            with open(os.path.join(tmp, "stderr.log"), "w+") as log:
                proc = subprocess.Popen([wstest.WSCHATD, "-f", "-c", conf],
                                        stdin=subprocess.DEVNULL,
                                        stdout=log, stderr=log)
                deadline = time.time() + 10
                while not os.path.exists(pidfile) and proc.poll() is None \
                        and time.time() < deadline:
                    pass
                proc.send_signal(signal.SIGTERM)
                rc = proc.wait(30)
                log.seek(0)
                text = log.read()
            assert rc == 0, "exit %d:\n%s" % (rc, text)
            assert not os.path.exists(pidfile), "pidfile left behind"


def test_start_failure_reaches_the_terminal():
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    try:
        with Detached() as d:
            d.lines[1] = "listen 127.0.0.1:%d" % blocker.getsockname()[1]
            write_conf(d.conf, d.lines)
            rc, out = d.start()
            assert rc == 1, out
            assert "Address already in use" in out, out
            # Taken before the listen failed, and removed at the exit.
            assert not os.path.exists(d.pidfile), "pidfile of a failed start"
    finally:
        blocker.close()


def test_bad_config_names_file_and_line():
    with Detached() as d:
        write_conf(d.conf, d.lines + ["# fine", "log_level loud"])
        rc, out = d.start()
        assert rc == 1, out
        assert "%s:%d: log_level" % (d.conf, len(d.lines) + 2) in out, out
        # -t reports every bad line, not only the first.
        write_conf(d.conf, d.lines + ["no_such_key 1", "workers 2",
                                      "max_headers lots"])
        rc, out = run(["-t", "-c", d.conf])
        assert rc == 1, out
        assert "%s:%d: unknown setting" % (d.conf, len(d.lines) + 1) in out
        assert "%s:%d: max_headers: bad number" % (
            d.conf, len(d.lines) + 3) in out, out
        write_conf(d.conf, d.lines + ["user no-such-user-here"])
        rc, out = run(["-t", "-c", d.conf])
        assert rc == 1 and "no such user" in out, out


def test_config_test_reports_port_in_use():
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    try:
        port = blocker.getsockname()[1]
        rc, out = run(["-t", "-l", "127.0.0.1:%d" % port, "-L", "off",
                       "-o", "webroot=" + WWW, "-o", "pidfile="])
        assert rc == 1, out
        assert "listen 127.0.0.1:%d: Address already in use" % port in out
    finally:
        blocker.close()
    # The running instance's own ports are no error: -t before a reload.
    with Detached() as d:
        rc, out = d.start()
        assert rc == 0, out
        rc, out = run(["-t", "-c", d.conf])
        assert rc == 0, out
        assert "in use by the running wschatd (pid %d)" % d.pid in out, out


def test_config_test_names_the_bind_error_with_an_absent_pidfile():
    # Asking the pidfile who holds the port (nobody: no file) clobbered
    # errno, and -t said "No such file or directory" for a port in use.
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    try:
        port = blocker.getsockname()[1]
        with tempfile.TemporaryDirectory() as tmp:
            pidfile = os.path.join(tmp, "wschatd.pid")
            rc, out = run(["-t", "-l", "127.0.0.1:%d" % port, "-L", "off",
                           "-o", "webroot=" + WWW, "-o", "pidfile=" + pidfile])
        assert rc == 1, out
        assert "listen 127.0.0.1:%d: Address already in use" % port in out, \
            out
        assert "No such file" not in out, out
    finally:
        blocker.close()


def test_config_test_reports_a_pidfile_it_cannot_create():
    # As a user who may not create the pidfile, -t said "configuration
    # ok" and the start then failed on it (issue 14, item 14).  -t checks
    # the pidfile of the run it is asked about: the built-in one of the
    # daemon, or with -f only one that is configured.
    nobody = as_nobody()
    if nobody is None:
        return
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        conf = os.path.join(tmp, "wschatd.conf")
        write_conf(conf, ["listen 127.0.0.1:%d" % free_port(),
                          "line_listen off", "webroot " + WWW])
        os.chmod(conf, 0o644)

        def check(*args):
            p = subprocess.run(nobody + [wstest.WSCHATD, "-t", "-c", conf] +
                               list(args), cwd="/", stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=15)
            return p.returncode, p.stdout + p.stderr

        # The built-in pidfile: in a directory only root may write, or in
        # none (not installed).
        rc, out = check()
        assert rc == 1, out
        assert re.search(r"^wschatd: pidfile /\S+: ", out, re.M), out
        assert "configuration ok" not in out, out
        rc, out = check("-f")
        assert rc == 0 and "configuration ok" in out, out
        # Configured: -f takes it too.  No file, or a file of root's.
        pidfile = os.path.join(tmp, "wschatd.pid")
        for extra in ([], ["-f"]):
            rc, out = check("-o", "pidfile=" + pidfile, *extra)
            assert rc == 1, (extra, out)
            assert "pidfile %s: Permission denied" % pidfile in out, out
        open(pidfile, "w").close()
        rc, out = check("-o", "pidfile=" + pidfile, "-f")
        assert rc == 1, out
        assert "pidfile %s: Permission denied" % pidfile in out, out
        os.unlink(pidfile)
        # Every reason, not only the first.
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        try:
            rc, out = check("-o", "pidfile=" + pidfile, "-l",
                            "127.0.0.1:%d" % blocker.getsockname()[1])
        finally:
            blocker.close()
        assert rc == 1, out
        assert "Address already in use" in out, out
        assert "pidfile %s: Permission denied" % pidfile in out, out
        # A directory it may write: fine, and -t creates nothing there.
        rundir = os.path.join(tmp, "run")
        os.mkdir(rundir)
        os.chown(rundir, pwd.getpwnam("nobody").pw_uid, -1)
        rc, out = check("-o", "pidfile=" + os.path.join(rundir, "w.pid"))
        assert rc == 0 and "configuration ok" in out, out
        assert os.listdir(rundir) == [], os.listdir(rundir)
    # The running wschatd's own pidfile is no error (-t before a reload),
    # even where the one checking could not take it.
    with Detached() as d:
        os.chmod(d.tmp.name, 0o755)
        rc, out = d.start()
        assert rc == 0, out
        p = subprocess.run(nobody + [wstest.WSCHATD, "-t", "-c", d.conf],
                           cwd="/", stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=15)
        assert p.returncode == 0, p.stdout + p.stderr


# --------------------------------------------------------------- reload


def conf_daemon(tmp, lines, workers=2, line=False):
    conf = os.path.join(tmp, "reload.conf")
    write_conf(conf, lines)
    return conf, Daemon(workers=workers, line=line, args=["-c", conf])


def expect_close(ws, code, timeout=10):
    fin, op, payload = ws.recv_frame(timeout=timeout)
    assert op == 0x8, (op, payload)
    got = struct.unpack("!H", payload[:2])[0]
    assert got == code, "close %d, expected %d" % (got, code)


def test_reload_keeps_connections_and_applies_to_new_ones():
    with tempfile.TemporaryDirectory() as tmp:
        conf, d = conf_daemon(tmp, ["max_message_size 64k"], line=True)
        with d:
            old_pids = set(d.worker_pids())
            old_ws = [RawWS(d.port) for _ in range(6)]
            for i, ws in enumerate(old_ws):
                echo_ok(ws, "before %d" % i)
            old_line = Line(d)
            write_conf(conf, ["max_message_size 1k"])
            os.kill(d.proc.pid, signal.SIGHUP)
            wait_for(lambda: "reload: configuration %s read; generation 1"
                     % conf in d.log(), what="the reload")
            wait_for(lambda: len(re.findall(r"worker \d+: retiring",
                                            d.log())) == 2,
                     what="both old workers to retire")
            # (An old worker that holds no connection may be gone already.)
            new_pids = wait_for(lambda: len(set(d.worker_pids()) -
                                            old_pids) == 2 and
                                set(d.worker_pids()) - old_pids,
                                what="two new workers")
            assert len(new_pids) == 2, new_pids
            # Old connections: still open, still under the old limit.
            for i, ws in enumerate(old_ws):
                echo_ok(ws, "after %d " % i + "x" * 4000)
            # New connections go to the new workers, with the new limit.
            fresh = RawWS(d.port)
            owner = d.owners([fresh.sock.getsockname()[1]])[0]
            assert owner in new_pids, (owner, new_pids)
            echo_ok(fresh, "small")
            fresh.send_frame(0x1, "y" * 2000)
            expect_close(fresh, 1009)
            fresh.close()
            # The chat spans the generations: same bus, same names.
            new_line = Line(d)
            assert d.line_owners([new_line.port])[0] in new_pids
            old_line.send("from the old generation\n")
            new_line.wait_line("[%s]%s: from the old generation" % (
                old_line.name, old_line.name))
            new_line.send("from the new one\n")
            old_line.wait_line("[%s]%s: from the new one" % (
                new_line.name, new_line.name))
            # The old workers exit once their clients are gone.
            for ws in old_ws:
                ws.send_frame(0x8, struct.pack("!H", 1000))
                ws.close()
            old_line.close()
            wait_for(lambda: not (set(d.worker_pids()) & old_pids),
                     what="the old workers to drain and exit")
            # The master logs each exit when it reaps it, which may come
            # a little after the process is gone.
            wait_for(lambda: len(re.findall(r"drained and exited",
                                            d.log())) == 2,
                     what="the master to log both old workers' exits")
            assert set(d.worker_pids()) == new_pids
            # /metrics: one reload, and only the new workers' slots.
            m = scrape(d)
            assert m.get("wschatd_reloads_total") == 1
            assert m.get("wschatd_workers") == 2
            assert m.workers("wschatd_connections_accepted_total") == \
                sorted(re.findall(r"worker (\d+) started, pid (?:%s)\b" %
                                  "|".join(map(str, new_pids)), d.log()))
            new_line.close()


def test_bad_reload_is_refused_and_changes_nothing():
    with tempfile.TemporaryDirectory() as tmp:
        conf, d = conf_daemon(tmp, ["max_message_size 1k"])
        with d:
            pids = set(d.worker_pids())
            ws = RawWS(d.port)
            echo_ok(ws, "hi")
            write_conf(conf, ["max_message_size 64k", "max_headers many"])
            os.kill(d.proc.pid, signal.SIGHUP)
            wait_for(lambda: "reload refused" in d.log(), what="refusal")
            assert re.search(r"reload refused.*%s:2: max_headers" %
                             re.escape(conf), d.log()), d.log()
            time.sleep(0.3)
            assert set(d.worker_pids()) == pids
            echo_ok(ws, "still here")
            # The old limit still holds for a new connection.
            fresh = RawWS(d.port)
            fresh.send_frame(0x1, "y" * 2000)
            expect_close(fresh, 1009)
            fresh.close()
            ws.close()


def test_drain_timeout_says_goodbye_to_old_clients():
    with tempfile.TemporaryDirectory() as tmp:
        conf, d = conf_daemon(tmp, ["drain_timeout 1"], workers=1)
        with d:
            ws = RawWS(d.port)
            echo_ok(ws, "hi")
            os.kill(d.proc.pid, signal.SIGHUP)
            expect_close(ws, 1001, timeout=10)
            ws.close()
            wait_for(lambda: "drain_timeout: stopping" in d.log(),
                     what="the drain_timeout log line")


def test_reload_changes_the_worker_count():
    with Detached(workers=2) as d:
        rc, out = d.start()
        assert rc == 0, out
        before = set(wait_for(lambda: len(d.worker_pids()) == 2 and
                              d.worker_pids(), what="2 workers"))
        d.lines[0] = "workers 3"
        write_conf(d.conf, d.lines)
        os.kill(d.pid, signal.SIGHUP)
        wait_for(lambda: "generation 1, 3 workers" in d.log(),
                 what="the reload")
        wait_for(lambda: not (set(d.worker_pids()) & before) and
                 len(d.worker_pids()) == 3, what="3 new workers")
        conns = [RawWS(d.port) for _ in range(30)]
        owners = d.owners([c.sock.getsockname()[1] for c in conns])
        assert len(set(owners)) == 3 and None not in owners, owners
        for c in conns:
            c.close()
        # More workers than the instance has slots for: refused.
        d.lines[0] = "workers 9"
        write_conf(d.conf, d.lines)
        os.kill(d.pid, signal.SIGHUP)
        wait_for(lambda: "reload refused" in d.log(), what="the refusal")
        assert "workers 9: this instance has 8 worker slots" in d.log()


def test_reload_moves_the_listen_address():
    port1, port2 = free_port(), free_port()
    with Detached(workers=1) as d:
        d.lines[1] = "listen 127.0.0.1:%d" % port1
        write_conf(d.conf, d.lines)
        rc, out = d.start()
        assert rc == 0, out
        ws = RawWS(port1)
        echo_ok(ws, "on the old port")
        d.lines[1] = "listen 127.0.0.1:%d" % port2
        write_conf(d.conf, d.lines)
        os.kill(d.pid, signal.SIGHUP)
        wait_for(lambda: "http listening on 127.0.0.1:%d" % port2 in d.log(),
                 what="the new listener")
        echo_ok(RawWS(port2), "on the new port")
        echo_ok(ws, "the old connection lives")
        # The old port closes with the old worker's listener.
        wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", port1))
                 != 0, what="the old port to close")
        ws.close()


# --------------------------------------------------------------- SIGUSR1


def test_sigusr1_reopens_the_log():
    with tempfile.TemporaryDirectory() as tmp:
        logfile = os.path.join(tmp, "w.log")
        with Daemon(workers=2, line=False, logfile=logfile,
                    opts={"log_level": "debug"}) as d:
            os.rename(logfile, logfile + ".1")
            os.kill(d.proc.pid, signal.SIGUSR1)
            wait_for(lambda: os.path.exists(logfile) and
                     "SIGUSR1: log reopened" in open(logfile).read(),
                     what="the master to reopen")
            # A worker writes to the new file too: connect and let the
            # debug log say so.
            deadline = time.monotonic() + 10
            while "accepted" not in open(logfile).read():
                assert time.monotonic() < deadline, open(logfile).read()
                RawWS(d.port).close()
                time.sleep(0.1)
            assert re.search(r"worker \d+: conn \d+ .*accepted",
                             open(logfile).read())
            old = open(logfile + ".1").read()
            assert "SIGUSR1" not in old


# ----------------------------------------------------- privileges, limits


def test_workers_drop_privileges_master_keeps_root():
    if os.geteuid() != 0:
        print("skipped: not root")
        return
    nobody = pwd.getpwnam("nobody")
    with Daemon(workers=2, line=False,
                opts={"user": "nobody"}) as d:
        for pid in d.worker_pids():
            with open("/proc/%d/status" % pid) as f:
                st = f.read()
            uids = re.search(r"^Uid:\s+(.*)$", st, re.M).group(1).split()
            gids = re.search(r"^Gid:\s+(.*)$", st, re.M).group(1).split()
            assert uids == [str(nobody.pw_uid)] * 4, uids
            assert gids == [str(nobody.pw_gid)] * 4, gids
            groups = re.search(r"^Groups:\s*(.*)$", st, re.M).group(1)
            assert groups.split() in ([], [str(nobody.pw_gid)]), groups
        assert os.stat("/proc/%d" % d.proc.pid).st_uid == 0
        ws = RawWS(d.port)
        echo_ok(ws, "served by nobody")
        ws.close()


def test_descriptor_limit_follows_max_connections():
    with Daemon(workers=1, line=False,
                opts={"max_connections": "3000"}) as d:
        pid = d.worker_pids()[0]
        with open("/proc/%d/limits" % pid) as f:
            m = re.search(r"Max open files\s+(\d+)", f.read())
        assert int(m.group(1)) >= 3000, m.group(0)


if __name__ == "__main__":
    wstest.main()
