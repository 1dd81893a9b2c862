"""The SysV init script against a real install under a temporary prefix.

Copies the distributed sources (make distdir, which works from a read-only
or in-tree-configured source tree too), configures them with
--prefix=$TMP/prefix, installs, and drives $TMP/prefix/etc/init.d/wschatd:
start, status, /healthz, a second start, reload, reopen-logs, stop, a bad
configuration and a port in use.  Whatever it started is stopped by the
pid in the pidfile, and any process left running from the prefix is
killed, when the script ends.
"""

import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

from wstest import WSCHATD, alive, children, free_port, main, wait_for

BUILDDIR = os.path.dirname(os.path.abspath(WSCHATD))
TMP = tempfile.mkdtemp(prefix="wschatd-init-")
PREFIX = os.path.join(TMP, "prefix")
INIT = os.path.join(PREFIX, "etc", "init.d", "wschatd")
CONF = os.path.join(PREFIX, "etc", "wschatd.conf")
PIDFILE = os.path.join(PREFIX, "var", "run", "wschatd.pid")
LOG = os.path.join(TMP, "wschatd.log")
DAEMON = os.path.join(PREFIX, "sbin", "wschatd")


def skip(why):
    print("skipped: " + why)
    print("0 passed, 0 failed")
    sys.exit(77)     # SKIP for automake's test driver


def clean_env():
    """The environment without the parent make's jobserver and DESTDIR."""
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES",
              "DESTDIR", "CFLAGS", "LDFLAGS"):
        env.pop(k, None)
    env["CFLAGS"] = "-O0 -pipe"
    env["LC_ALL"] = "C"
    return env


def sh(cmd, cwd=None, timeout=600):
    p = subprocess.run(cmd, cwd=cwd, env=clean_env(), capture_output=True,
                       text=True, timeout=timeout)
    assert p.returncode == 0, "%s failed (%d):\n%s%s" % (
        " ".join(cmd), p.returncode, p.stdout[-3000:], p.stderr[-3000:])
    return p


def init(action, timeout=60):
    """Run the init script; (exit status, stdout + stderr)."""
    p = subprocess.run([INIT, action], env=clean_env(), capture_output=True,
                       text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout + p.stderr


PORT = free_port()


def write_conf(*extra):
    with open(CONF, "w") as f:
        f.write("# written by test_initscript.py\n"
                "listen 127.0.0.1:%d\n"
                "line_listen off\n"
                "workers 1\n"
                "log %s\n" % (PORT, LOG))
        for line in extra:
            f.write(line + "\n")


def pidfile_pid():
    try:
        with open(PIDFILE) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def exe(pid):
    try:
        return os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return None


def prefix_pids():
    """Every process running a program from the prefix."""
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit() and (exe(int(d)) or "").startswith(PREFIX + "/"):
            pids.append(int(d))
    return pids


def healthz():
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  b"Connection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    return data.decode("latin-1")


def log():
    try:
        with open(LOG) as f:
            return f.read()
    except OSError:
        return ""


@atexit.register
def cleanup():
    pid = pidfile_pid()
    if pid and alive(pid) and exe(pid) == DAEMON:
        os.kill(pid, signal.SIGTERM)
        try:
            wait_for(lambda: not alive(pid), timeout=20,
                     what="the master to stop")
        except AssertionError:
            pass
    for p in prefix_pids():
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass
    shutil.rmtree(TMP, ignore_errors=True)


def setup():
    for tool in ("start-stop-daemon", "make"):
        if shutil.which(tool, path=os.environ.get("PATH", "") +
                        ":/sbin:/usr/sbin") is None:
            skip("%s not installed" % tool)
    src = os.path.join(TMP, "src")
    build = os.path.join(TMP, "build")
    sh(["make", "-s", "distdir", "distdir=" + src], cwd=BUILDDIR)
    os.mkdir(build)
    sh([os.path.join(src, "configure"), "-q", "--prefix=" + PREFIX],
       cwd=build)
    sh(["make", "-s", "-j2"], cwd=build)
    sh(["make", "-s", "install"], cwd=build)


def test_install_layout():
    for path, mode in ((INIT, 0o755), (DAEMON, 0o755),
                       (os.path.join(PREFIX, "bin", "wschat"), 0o755),
                       (CONF, 0o644),
                       (os.path.join(PREFIX, "lib", "systemd", "system",
                                     "wschatd.service"), 0o644),
                       (os.path.join(PREFIX, "share", "man", "man8",
                                     "wschatd.8"), 0o644),
                       (os.path.join(PREFIX, "share", "wschatd", "www",
                                     "index.html"), 0o644)):
        assert os.stat(path).st_mode & 0o777 == mode, path
    with open(INIT) as f:
        text = f.read()
    assert "DAEMON=%s\n" % DAEMON in text
    assert "CONF=%s\n" % CONF in text
    assert not re.search(r"@[a-z_]+@", text), "unsubstituted @...@"
    subprocess.run(["sh", "-n", INIT], check=True)
    # The sample configuration is valid as installed.
    p = subprocess.run([DAEMON, "-t", "-c", CONF], capture_output=True,
                       text=True, timeout=10)
    assert p.returncode == 0, p.stderr


def test_unit_file_verifies():
    unit = os.path.join(PREFIX, "lib", "systemd", "system",
                        "wschatd.service")
    with open(unit) as f:
        text = f.read()
    assert "ExecStart=%s -c ${CONF}" % DAEMON in text
    assert "PIDFile=%s\n" % PIDFILE in text
    if shutil.which("systemd-analyze") is None:
        print("# systemd-analyze not installed: unit not verified")
        return
    p = subprocess.run(["systemd-analyze", "verify", "--man=no", unit],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "wschatd.service" not in p.stderr, p.stderr


def test_start_status_healthz():
    # The defaults file is read: DAEMON_OPTS overrides workers 1.
    os.makedirs(os.path.join(PREFIX, "etc", "default"), exist_ok=True)
    with open(os.path.join(PREFIX, "etc", "default", "wschatd"), "w") as f:
        f.write('DAEMON_OPTS="-o workers=2"\n')
    write_conf()
    assert not os.path.exists(PIDFILE)
    rc, out = init("start")
    assert rc == 0, out
    pid = pidfile_pid()
    assert pid and alive(pid), "no live pid in %s after start" % PIDFILE
    assert exe(pid) == DAEMON, exe(pid)
    wait_for(lambda: len(children(pid)) == 2, what="two workers")
    rc, out = init("status")
    assert rc == 0, out
    assert "running" in out, out
    r = wait_for(lambda: _try(healthz), what="/healthz")
    assert r.startswith("HTTP/1.1 200 ") and r.rstrip().endswith("ok"), r


def _try(fn):
    try:
        return fn()
    except OSError:
        return None


def test_second_start_is_harmless():
    pid = pidfile_pid()
    rc, out = init("start")
    assert rc == 0, out
    assert "already running" in out, out
    assert pidfile_pid() == pid and alive(pid)


def test_reload():
    pid = pidfile_pid()
    old = set(children(pid))
    write_conf("max_message_size 2m")
    before = log()
    rc, out = init("reload")
    assert rc == 0, out
    wait_for(lambda: re.search("reload", log()[len(before):], re.I),
             what="the log to say reloaded")
    # A reload replaces the workers; /healthz once the old ones are gone.
    wait_for(lambda: len(children(pid)) == 2 and
             not old & set(children(pid)), what="a new generation")
    assert pidfile_pid() == pid and alive(pid)
    assert "200" in healthz().split("\r\n")[0]


def test_bad_config_is_not_reloaded():
    pid = pidfile_pid()
    write_conf("max_headers lots")
    rc, out = init("reload")
    assert rc != 0, out
    assert "%s:6:" % CONF in out, out
    assert pidfile_pid() == pid and alive(pid)
    assert "200" in healthz().split("\r\n")[0]
    # restart with a bad file leaves the running daemon alone too.
    rc, out = init("restart")
    assert rc != 0, out
    assert pidfile_pid() == pid and alive(pid)
    write_conf()


def test_reopen_logs():
    pid = pidfile_pid()
    os.rename(LOG, LOG + ".1")
    rc, out = init("reopen-logs")
    assert rc == 0, out
    wait_for(lambda: os.path.exists(LOG), what="a new log file")
    assert alive(pid)


def test_stop():
    pid = pidfile_pid()
    workers = children(pid)
    rc, out = init("stop")
    assert rc == 0, out
    assert not alive(pid), "master still running after stop"
    assert not os.path.exists(PIDFILE), "pidfile left behind"
    wait_for(lambda: not any(alive(w) for w in workers), timeout=5,
             what="the workers to go")
    rc, out = init("status")
    assert rc == 3, (rc, out)
    rc, out = init("stop")
    assert rc == 0, "stop when stopped: %d %s" % (rc, out)


def test_bad_config_fails_start():
    write_conf("max_headers lots")
    rc, out = init("start")
    assert rc != 0, out
    assert "%s:6: max_headers" % CONF in out, out
    assert not os.path.exists(PIDFILE)
    assert not prefix_pids()


def test_port_in_use_fails_start():
    write_conf()
    s = socket.socket()
    # SO_REUSEADDR: the earlier /healthz connections left TIME_WAITs.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", PORT))
    s.listen(1)
    try:
        rc, out = init("start")
    finally:
        s.close()
    assert rc != 0, out
    assert not os.path.exists(PIDFILE)
    wait_for(lambda: not prefix_pids(), timeout=5,
             what="the failed daemon to exit")
    rc, out = init("status")
    assert rc == 3, (rc, out)


def test_start_makes_the_pidfile_directory():
    # wschatd -t checks that the pidfile can be created: the script makes
    # its directory (as on a fresh /run) before that check, and finds the
    # pidfile in the settings although -t fails without the directory.
    rundir = os.path.join(TMP, "run", "wschatd")
    pidfile = os.path.join(rundir, "wschatd.pid")
    write_conf("pidfile " + pidfile)
    assert not os.path.exists(rundir)
    rc, out = init("start")
    try:
        assert rc == 0, out
        with open(pidfile) as f:
            pid = int(f.read())
        assert alive(pid) and exe(pid) == DAEMON
        rc, out = init("status")
        assert rc == 0, out
    finally:
        rc, out = init("stop")
    assert rc == 0, out
    assert not os.path.exists(pidfile), "pidfile left behind"
    wait_for(lambda: not prefix_pids(), timeout=5, what="the daemon to go")
    write_conf()


if __name__ == "__main__":
    t0 = time.monotonic()
    try:
        setup()
    except Exception:
        traceback.print_exc(file=sys.stdout)
        print("not ok - build and install under %s" % PREFIX)
        print("0 passed, 1 failed")
        sys.exit(1)
    print("# built and installed in %.1fs" % (time.monotonic() - t0))
    main()
