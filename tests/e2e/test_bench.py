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


def test_rooms_deliver_to_the_senders_room_only():
    # -G: 10 rooms of 20, one sender each: every message reaches the 20 of
    # its room and no other.  The senders log in, so their joins are
    # announced to their rooms before the run: the quiet wait covers them.
    with Daemon(workers=2, line=False) as d:
        out, last = bench(d, "-M", "chat", "-l", "10", "-c", "200", "-G",
                          "10", "-s", "10", "-D", "1", "-w", "4")
        assert last["rooms"] == "10" and last["result"] == "ok", last
        assert last["ratio"] == "1.000000" and last["missing"] == "0", last
        assert int(last["sent"]) > 0, last
        assert int(last["expected"]) == 20 * int(last["sent"]), last
        assert last["deliveries"] == last["expected"], last
        assert "10 logged in" in out, out
        assert "0 deliveries from a sender of another room" in out, out
        # Anonymous, raw text in (-M text): joined unannounced.
        out, last = bench(d, "-c", "30", "-G", "3", "-s", "3", "-D", "1",
                          "-R", "30")
        assert last["result"] == "ok", out
        assert int(last["expected"]) == 10 * int(last["sent"]), last


def test_a_refused_join_fails_the_connection_not_the_wait():
    # One worker, at most 2 rooms: r2's and r3's joins get server_full.
    # Those connections fail at once; the run goes on without them.
    with Daemon(workers=1, line=False, opts={"max_rooms": 2}) as d:
        pids = [d.proc.pid] + d.worker_pids()
        p = subprocess.run([BENCH, "-p", str(d.port), "-d", "30", "-P",
                            ",".join(map(str, pids)), "-c", "8", "-G",
                            "4", "-s", "2", "-m", "5", "-R", "50"],
                           capture_output=True, text=True, timeout=60)
    last = dict(kv.split("=", 1) for kv in
                p.stdout.strip().splitlines()[-1].split()[1:])
    assert "join refused" in p.stderr and "server_full" in p.stderr, \
        p.stdout + p.stderr
    assert last["failed"] == "4" and last["conns"] == "4", last
    assert last["missing"] == "0" and last["sent"] == "10", last
    assert p.returncode != 0, p.stdout


def test_paced_text_mode_delivers_everything():
    with Daemon(workers=1, line=False) as d:
        out, last = bench(d, "-c", "30", "-s", "1", "-D", "1", "-R", "50")
        assert last["ratio"] == "1.000000" and last["result"] == "ok", last
        assert last["frames"] == last["deliveries"], last



class FaultyBroadcast:
    """A broadcast server of the test's own (python3-websockets) that
    never sends sender 0's message 3 and sends its message 4 twice: what
    is tested is the generator's accounting, which must report the loss
    and the duplicate, not take the one for the other.  faults=False
    leaves those out.  rooms=True sends each message to the clients of the
    upgrade URL's room (/?room=NAME) only, as compare.sh's peers do;
    without, it ignores the room."""

    def __init__(self, faults=True, rooms=False):
        self.faults = faults
        self.rooms = rooms
        self.paths = []
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
            if path is None:
                path = ws.request.path if hasattr(ws, "request") \
                    else ws.path
            self.paths.append(path)
            ws.room = path.partition("?room=")[2] if self.rooms else ""
            clients.add(ws)
            try:
                async for m in ws:
                    n = 1 if not self.faults else \
                        0 if m.startswith("S0:3:") else \
                        2 if m.startswith("S0:4:") else 1
                    for c in list(clients):
                        if c.room != ws.room:
                            continue
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


def raw_rooms(rooms):
    srv = FaultyBroadcast(faults=False, rooms=rooms)
    try:
        p = subprocess.run([BENCH, "-p", str(srv.port), "-u", "/", "-M",
                            "raw", "-c", "12", "-G", "3", "-s", "3", "-m",
                            "5", "-R", "150", "-t", "2", "-d", "30"],
                           capture_output=True, text=True, timeout=60)
    finally:
        srv.close()
    last = dict(kv.split("=", 1) for kv in
                p.stdout.strip().splitlines()[-1].split()[1:])
    return srv.paths, p, last


def test_raw_rooms_ask_for_their_room_in_the_url():
    paths, p, last = raw_rooms(True)
    assert sorted(paths) == sorted(["/?room=r%d" % (i % 3)
                                    for i in range(12)]), paths
    assert last["result"] == "ok" and p.returncode == 0, p.stdout + p.stderr
    assert last["expected"] == str(15 * 4), last   # 5 each, 4 per room
    assert last["deliveries"] == last["expected"], last


def test_raw_rooms_tell_a_message_of_another_room():
    # A server that ignores the room sends everyone everything: the
    # deliveries from other rooms are counted apart and fail the run
    # (which stops within a second; these 0.1 s of sending are through).
    paths, p, last = raw_rooms(False)
    assert "rooms: 120 deliveries from a sender of another room" in \
        p.stdout, p.stdout
    assert last["deliveries"] == last["expected"] == "60", last
    assert last["result"] != "ok" and p.returncode != 0, p.stdout


def test_raw_rooms_stop_when_the_server_ignores_them():
    srv = FaultyBroadcast(faults=False, rooms=False)
    try:
        p = subprocess.run([BENCH, "-p", str(srv.port), "-u", "/", "-M",
                            "raw", "-c", "12", "-G", "3", "-s", "3", "-D",
                            "20", "-R", "150", "-d", "60"],
                           capture_output=True, text=True, timeout=60)
    finally:
        srv.close()
    # Not 20 s of sending: stopped at the next check, within a second.
    assert "the server does not keep to the rooms" in p.stderr, p.stderr
    last = dict(kv.split("=", 1) for kv in
                p.stdout.strip().splitlines()[-1].split()[1:])
    assert int(last["sent"]) < 20 * 150, last
    assert last["result"] != "ok" and p.returncode != 0, p.stdout


if __name__ == "__main__":
    wstest.main()
