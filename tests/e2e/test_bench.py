#!/usr/bin/env python3
"""The benchmark load generator cannot rot: scripts/bench/chatbench runs a
couple of seconds against the real daemon (no peers, no timing asserted)
and must connect everyone, deliver everything (ratio 1.000000) and print
its whole report, server figures included."""

import asyncio
import os
import re
import subprocess
import threading

import websockets

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



class FaultyBroadcast:
    """A broadcast server of the test's own (python3-websockets) that
    never sends sender 0's message 3 and sends its message 4 twice: what
    is tested is the generator's accounting, which must report the loss
    and the duplicate, not take the one for the other."""

    def __init__(self):
        self.port = wstest.free_port()
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(10), "fake server did not start"

    def _run(self):
        asyncio.set_event_loop(self.loop)
        clients = set()

        async def handler(ws, path=None):
            clients.add(ws)
            try:
                async for m in ws:
                    n = 0 if m.startswith("S0:3:") else \
                        2 if m.startswith("S0:4:") else 1
                    for c in list(clients):
                        for _ in range(n):
                            try:
                                await c.send(m)
                            except websockets.ConnectionClosed:
                                pass
            finally:
                clients.discard(ws)

        async def main():
            self.stop = asyncio.Event()
            async with websockets.serve(handler, "127.0.0.1", self.port):
                self.ready.set()
                await self.stop.wait()
        self.loop.run_until_complete(main())

    def close(self):
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(10)


def test_raw_mode_tells_a_loss_from_a_duplicate():
    srv = FaultyBroadcast()
    try:
        conns = 5
        p = subprocess.run([BENCH, "-p", str(srv.port), "-u", "/", "-M",
                            "raw", "-c", str(conns), "-s", "1", "-m", "10",
                            "-R", "50", "-t", "2", "-d", "30"],
                           capture_output=True, text=True, timeout=60)
    finally:
        srv.close()
    out = p.stdout
    last = dict(kv.split("=", 1) for kv in
                out.strip().splitlines()[-1].split()[1:])
    # Each receiver missed message 3 and got message 4 twice.
    assert last["missing"] == str(conns), out + p.stderr
    assert last["deliveries"] == str(9 * conns), out    # each counted once
    assert last["frames"] == str(10 * conns), out
    m = re.search(r"order: (\d+) gaps, (\d+) late, (\d+) duplicates", out)
    assert m and m.groups() == (str(conns), "0", str(conns)), out
    assert last["result"] != "ok" and p.returncode != 0, out


if __name__ == "__main__":
    wstest.main()
