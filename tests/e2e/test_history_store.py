#!/usr/bin/env python3
"""End-to-end tests of the history process and its store (src/history.c,
src/store.c) against the real daemon and a real SQLite file, looked at
with Python's sqlite3: a lapped history process records the gap in the
store and keeps everything after it, each once; a full disk (a 1 MiB
tmpfs, mounted in a private mount namespace: root only, skipped
otherwise) stops history but not chat, says so once in the log and in
/metrics, and once there is room again the lost ids are a gap and the
new messages are kept."""

import asyncio
import ctypes
import os
import shutil
import signal
import subprocess
import tempfile

import wstest
from wstest import Daemon, main, wait_for
from test_history import FAST, flood, metric, users, v2
from test_history import store_ids as store


def in_gap(i, gaps):
    return any(a <= i <= b for a, b in gaps)


def check_kept_or_gap(sent, path):
    """Each id sent is in the store once, or in a recorded gap."""
    ids, gaps = store(path)
    assert len(ids) == len(set(ids)), "duplicates in the store"
    kept = set(ids)
    unexplained = [i for i in sent if i not in kept and not in_gap(i, gaps)]
    assert not unexplained, (len(unexplained), unexplained[:5], gaps)
    return kept, gaps


def test_a_lapped_history_process_leaves_a_gap_in_the_store():
    # A 64 KiB ring and the history process stopped: the bus laps it.
    # Once it runs again the ids it never saw are a gap in the store,
    # and what is sent after is kept, each once.
    opts = dict(FAST, bus_ring_size="64k")
    with Daemon(workers=2, opts=opts) as d:
        path = os.path.join(d.tmp.name, "history.db")

        async def go():
            a = await v2(d, "a")
            await a.send({"type": "user", "content": "first"})
            await a.find(type="user", content="first")
            first = users(a)[0]["id"]
            wait_for(lambda: metric(d, "wschatd_history_committed_id") >=
                     first, what="the first commit")
            hp = d.history_pid()
            os.kill(hp, signal.SIGSTOP)
            try:
                await flood(a, 1500, "x" * 100)
                await a.until(lambda c: len(users(c)) >= 1501,
                              what="its own copies")
            finally:
                os.kill(hp, signal.SIGCONT)
            # A lapped reader skips to the head: let it look first.
            await asyncio.sleep(0.5)
            n = len(a.msgs)
            await flood(a, 20, "after")
            await a.until(lambda c: len(users(c, n)) >= 20, what="after")
            return [m["id"] for m in users(a)], [m["id"] for m in
                                                 users(a, n)]
        sent, after = wstest.run_async(go(), timeout=120)
        wait_for(lambda: metric(d, "wschatd_history_committed_id") >=
                 sent[-1], timeout=20, what="everything committed")
        assert metric(d, "wschatd_history_lost_total") > 0
        assert metric(d, "wschatd_history_state") == 1
        kept, gaps = check_kept_or_gap(sent, path)
        assert gaps, "no gap recorded"
        assert sent[0] in kept
        assert all(i in kept for i in after)
        assert not any(in_gap(i, gaps) for i in after)
        assert "fell a lap behind" in d.log()


def private_tmpfs(size):
    """A tmpfs of size, in a mount namespace of this process's own (and
    its children's, the daemon's); None if that cannot be done."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x00020000) != 0:          # CLONE_NEWNS
        return None
    if subprocess.run(["mount", "--make-rprivate", "/"]).returncode != 0:
        return None
    d = tempfile.mkdtemp(prefix="wschatd-full-")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size,
                       "tmpfs", d]).returncode != 0:
        return None
    return d


def test_a_full_disk_stops_history_not_chat_then_recovers():
    top = private_tmpfs("1m")
    if top is None:
        print("# skipped: needs root and a private tmpfs mount")
        return
    path = os.path.join(top, "h", "history.db")
    filler = os.path.join(top, "filler")
    with open(filler, "wb") as f:
        f.write(b"f" * (300 << 10))
    try:
        with Daemon(workers=2, opts=dict(FAST, history_file=path)) as d:
            async def go():
                a = await v2(d, "a")
                b = await v2(d, "b")
                # Big messages until the store is full; chat goes on.
                full = False
                for _ in range(60):
                    n = len(b.msgs)
                    await flood(a, 50, "y" * 2000)
                    await b.until(lambda c: len(users(c, n)) >= 50,
                                  what="chat while filling")
                    await asyncio.sleep(0.05)
                    if metric(d, "wschatd_history_state") == 2:
                        full = True
                        break
                assert full, "the store never filled"
                n = len(b.msgs)
                await flood(a, 30, "lost")
                await b.until(lambda c: len(users(c, n)) >= 30,
                              what="chat while full")
                os.unlink(filler)
                wait_for(lambda: metric(d, "wschatd_history_state") == 1,
                         timeout=15, what="history back")
                n = len(a.msgs)
                await flood(a, 20, "later")
                await a.until(lambda c: len(users(c, n)) >= 20,
                              what="later")
                return ([m["id"] for m in users(a)],
                        [m["id"] for m in users(a, n)])
            try:
                sent, later = wstest.run_async(go(), timeout=120)
            except BaseException:
                print("\n".join("# " + ln for ln in d.log().splitlines()
                                if "history" in ln))
                raise
            wait_for(lambda: metric(d, "wschatd_history_committed_id") >=
                     sent[-1], timeout=20, what="everything committed")
            assert metric(d, "wschatd_history_errors_total") > 0
            assert metric(d, "wschatd_history_lost_total") > 0
            log = d.log()
            assert log.count("database or disk is full; chat goes on") \
                == 1, log
            assert "works again" in log
            # Trims had nothing to delete: they wrote nothing, so never
            # failed on the full disk.
            assert "trim:" not in log, log
            kept, gaps = check_kept_or_gap(sent, path)
            assert gaps, "no gap recorded"
            assert all(i in kept for i in later)
            assert sent[0] in kept
    finally:
        subprocess.run(["umount", "-l", top])
        os.rmdir(top)


if __name__ == "__main__":
    main()
