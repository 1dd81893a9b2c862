#!/usr/bin/env python3
"""The chat page (www/) in a real browser: starts wschatd on a fixed free
port and runs tests/browser/chat.test.mjs (Debian's chromium driven by
playwright-core from npm), restarting the daemon on the same port when the
script asks, for its reconnect case (on the same history file, which must
outlive the restart), and a second one with a short
ws_idle_timeout for the case of a page that was kicked, and a third that
keeps little history (a 64 KB bus ring, 10 messages a room in memory)
whose history process the script has stopped and continued, for its case
of a resume with a gap.  The script's
"ok"/"not ok" lines and its "N passed, N failed" line are this test's
output.

playwright-core comes from tests/browser/node_modules if that is installed
at the version of package-lock.json; otherwise `npm ci` installs it into
tests/browser-deps/ of the build directory (the source tree may be read-only
under make distcheck).  Screenshots go to tests/browser-artifacts/ there."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

import wstest

SRC = os.path.join(wstest.SRCDIR, "tests", "browser")
BUILD = os.path.join(os.getcwd(), "tests")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
TIMEOUT = 240


def locked_version(d):
    with open(os.path.join(d, "package-lock.json")) as f:
        lock = json.load(f)
    return lock["packages"]["node_modules/playwright-core"]["version"]


def installed_version(d):
    try:
        with open(os.path.join(d, "node_modules", "playwright-core",
                               "package.json")) as f:
            return json.load(f)["version"]
    except (OSError, ValueError, KeyError):
        return None


def playwright_modules():
    """A node_modules directory holding the locked playwright-core."""
    want = locked_version(SRC)
    if installed_version(SRC) == want:
        return os.path.join(SRC, "node_modules")
    deps = os.path.join(BUILD, "browser-deps")
    if installed_version(deps) != want:
        os.makedirs(deps, exist_ok=True)
        for f in ("package.json", "package-lock.json"):
            shutil.copyfile(os.path.join(SRC, f), os.path.join(deps, f))
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund",
                        "--prefer-offline", "--loglevel=error"],
                       cwd=deps, check=True, stdout=sys.stdout,
                       stderr=subprocess.STDOUT, timeout=300)
    return os.path.join(deps, "node_modules")


def start(port, history):
    return wstest.Daemon(workers=2, args=["-l", "127.0.0.1:%d" % port,
                                          "-o", "history_file=" + history])


def answer(node, word, value):
    node.stdin.write("@@%s %s\n" % (word, json.dumps(value)))
    node.stdin.flush()


def run():
    for what, path in (("node", shutil.which("node")), ("chromium", CHROMIUM)):
        if not path or not os.access(path, os.X_OK):
            raise AssertionError("no %s: scripts/install-deps.sh installs it"
                                 % what)
    modules = playwright_modules()
    artifacts = os.path.join(BUILD, "browser-artifacts")
    os.makedirs(artifacts, exist_ok=True)
    port = wstest.free_port()
    keep = tempfile.TemporaryDirectory(prefix="wschatd-browser-")
    history = os.path.join(keep.name, "history.db")
    daemons = [start(port, history)]
    idle = wstest.Daemon(workers=1, line=False, opts={"ws_idle_timeout": "3"})
    gap = wstest.Daemon(workers=1, opts={"bus_ring_size": "64k",
                                         "history_recent": "10"})
    env = dict(os.environ, PLAYWRIGHT_MODULES=modules, CHROMIUM=CHROMIUM)
    node = subprocess.Popen(
        ["node", os.path.join(SRC, "chat.test.mjs"), str(port),
         str(daemons[0].line_port), artifacts, str(idle.port), str(gap.port),
         str(gap.line_port)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, env=env)
    watchdog = threading.Timer(TIMEOUT, node.kill)
    watchdog.start()
    summary = None
    try:
        for line in node.stdout:
            if line.strip() == "@@restart":
                daemons[-1].stop()
                daemons.append(start(port, history))
                answer(node, "restart", True)
                continue
            if line.strip() in ("@@histstop", "@@histcont"):
                os.kill(gap.history_pid(), signal.SIGSTOP
                        if line.strip() == "@@histstop" else signal.SIGCONT)
                answer(node, line.strip()[2:], True)
                continue
            if line.strip() == "@@notfound":
                answer(node, "notfound", [
                    l for d in daemons + [idle, gap]
                    for l in d.log().splitlines()
                    if " http 404: " in l])
                continue
            sys.stdout.write(line)
            sys.stdout.flush()
            if re.match(r"^\d+ passed, \d+ failed$", line.strip()):
                summary = line
        rc = node.wait()
    finally:
        watchdog.cancel()
        if node.poll() is None:
            node.kill()
            node.wait()
        for d in daemons + [idle, gap]:
            d.__exit__(None, None, None)
        keep.cleanup()
    if summary is None:
        print("not ok - chat.test.mjs ended without a summary (exit %s)" % rc)
        print("0 passed, 1 failed")
        return 1
    return rc


def main():
    try:
        rc = run()
    except Exception as e:
        print("not ok - setup: %s" % e)
        print("0 passed, 1 failed")
        rc = 1
    sys.exit(1 if rc else 0)


if __name__ == "__main__":
    main()
