#!/usr/bin/env python3
"""The benchmark load generator cannot rot: scripts/bench/chatbench runs a
couple of seconds against the real daemon (no peers, no timing asserted)
and must connect everyone, deliver everything (ratio 1.000000) and print
its whole report, server figures included."""

import os
import re
import subprocess

import wstest
from wstest import Daemon

BENCH = os.environ.get("CHATBENCH") or os.path.join(
    os.path.dirname(wstest.WSCHATD), "scripts", "bench", "chatbench")

FIELDS = ("conns", "senders", "sent", "deliveries", "expected", "missing",
          "deliveries_per_s", "p50_us", "p99_us", "frames", "ratio",
          "p999_us", "max_us", "srv_cpu_s", "cpu_per_M", "rss_per_conn",
          "own_cpu_pct", "dropped", "result")


def bench(d, *args):
    pids = [d.proc.pid] + d.worker_pids()
    p = subprocess.run([BENCH, "-p", str(d.port), "-d", "30",
                        "-P", ",".join(map(str, pids))] + list(args),
                       capture_output=True, text=True, timeout=60)
    lines = p.stdout.strip().splitlines()
    assert p.returncode == 0, p.stdout + p.stderr
    last = dict(kv.split("=", 1) for kv in lines[-1].split()[1:])
    for k in FIELDS:
        assert k in last, "no %s in %r" % (k, lines[-1])
    return p.stdout, last


def test_chat_mode_logs_in_and_delivers_everything():
    with Daemon(workers=2, line=False) as d:
        out, last = bench(d, "-M", "chat", "-c", "40", "-s", "2", "-D",
                          "1", "-w", "4")
        assert last["conns"] == "40" and last["senders"] == "2", last
        assert last["ratio"] == "1.000000" and last["missing"] == "0", last
        assert int(last["sent"]) > 0 and last["result"] == "ok", last
        assert int(last["deliveries"]) == 40 * int(last["sent"]), last
        assert "40 logged in" in out, out
        assert re.search(r"latency, send to each delivery: p50 ", out), out
        assert re.search(r"server \(3 processes\): [0-9.]+ CPU s", out), out
        assert re.search(r"^cpu: ", out, re.M), out


def test_paced_text_mode_delivers_everything():
    with Daemon(workers=1, line=False) as d:
        out, last = bench(d, "-c", "30", "-s", "1", "-D", "1", "-R", "50")
        assert last["ratio"] == "1.000000" and last["result"] == "ok", last
        assert last["frames"] == last["deliveries"], last


if __name__ == "__main__":
    wstest.main()
