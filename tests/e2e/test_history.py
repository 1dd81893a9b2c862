#!/usr/bin/env python3
"""End-to-end tests of history and resume (docs/PROTOCOL.md, "History"
and "Resume"), against the real daemon, its history process and a real
SQLite file: history on join during a flood with neither gap nor
duplicate, resume after a cut TCP connection, expiry, the gap a lapped
history process leaves, kill -9 of the history process and of the whole
daemon, pages from the store, and the line port's history command."""

import asyncio
import bisect
import json
import os
import signal
import socket
import sqlite3
import time

import chatclient
import wstest
from wstest import Daemon, main, wait_for

V2J = "wschat.v2.json"
FAST = {"command_rate": 1000000, "message_rate": 0, "idle_timeout": 0}


def users(c, since=0, sender=None):
    return [m for m in c.msgs[since:] if m["type"] == "user" and
            (sender is None or m["from"] == sender)]


def metric(d, name):
    raw = wstest.http_raw(d.port, wstest.request(
        "/metrics", extra="Connection: close\r\n"))
    for ln in raw.decode().split("\n"):
        if ln.startswith(name + " "):
            return float(ln.split()[1])
    raise AssertionError("no %s in /metrics" % name)


async def v2(d, name=None):
    c = await chatclient.connect(d, subprotocol=V2J)
    if name:
        await c.login(name)
        await c.find(type="history")
    return c


async def flood(c, n, tag, delay=0.0):
    for i in range(n):
        await c.send({"type": "user", "content": "%s %d" % (tag, i)})
        if delay:
            await asyncio.sleep(delay)
        elif i % 50 == 49:
            await asyncio.sleep(0)


# ------------------------------------------------------------ history


def test_history_after_login_and_join_then_pages_from_the_store():
    # 300 messages in a room; a new v2 client gets the last 50 after its
    # login, oldest first, each once; scrolling back pages through the
    # rest, and the first page says there is no more.  With
    # history_recent 20 most of it comes from the store.
    opts = dict(FAST, history_recent=20)
    with Daemon(workers=2, opts=opts) as d:
        async def go():
            a = await v2(d, "alice")
            await a.send({"type": "join", "room": "den"})
            await a.find(type="history", room="den")
            await flood(a, 300, "m")
            await a.count(300, type="user", room="den")
            sent = [m["id"] for m in users(a)]
            assert sent == sorted(sent) and len(set(sent)) == 300
            # Committed: the store has them all.
            wait_for(lambda: metric(d, "wschatd_history_committed_id") >=
                     sent[-1], what="the commit")
            b = await v2(d, "bob")
            await b.send({"type": "join", "room": "den"})
            h = await b.find(type="history", room="den")
            assert [m["id"] for m in h["messages"]] == sent[-50:], h
            assert h["more"] is True
            assert all(m["type"] == "user" and m["room"] == "den" and
                       m["epoch"] == h["epoch"] for m in h["messages"])
            got = h["messages"]
            while True:
                since = len(b.msgs)
                await b.send({"type": "history", "room": "den",
                              "before": got[0]["id"], "limit": 100})
                p = await b.find(since=since, type="history")
                got = p["messages"] + got
                if not p["more"]:
                    break
                assert p["messages"], p
            assert [m["id"] for m in got] == sent, (len(got), len(sent), sorted(set(sent) - {m["id"] for m in got})[:5], [m["id"] for m in got][:3], sent[:3])
            assert [m["content"] for m in got] == \
                ["m %d" % i for i in range(300)]
            for c in (a, b):
                await c.close()
        wstest.run_async(go(), timeout=120)


def test_a_history_reply_never_outgrows_max_pending():
    # 100 messages of 4,000 control characters (6 bytes each in JSON):
    # a page of them all would be 2.4 MB, ten times max_pending, which
    # would cut off a client that reads it slowly.  The reply holds what
    # fits, says there is more, and the asker stays.
    opts = dict(FAST, max_pending="256k")
    with Daemon(workers=1, opts=opts) as d:
        async def go():
            a = await v2(d, "a")
            for i in range(100):
                await a.send({"type": "user", "content": "\x01" * 3996 +
                              "%04d" % i})
            await a.count(100, type="user", timeout=30)
            since = len(a.msgs)
            await a.send({"type": "history", "limit": 100})
            h = await a.find(since=since, type="history")
            assert 0 < len(h["messages"]) < 100 and h["more"], \
                (len(h["messages"]), h["more"])
            assert h["messages"][-1]["content"].endswith("0099")
            await a.send({"type": "user", "content": "still here"})
            await a.find(type="user", content="still here")
            await a.close()
        wstest.run_async(go())


def test_join_during_a_flood_has_neither_gap_nor_duplicate():
    # 10 senders at full speed in a room; a client joins it in the middle,
    # 100 times.  Its history plus its live messages, id by id, must be
    # exactly the room's messages from some point on: the senders' own
    # copies say which ids the room had.
    with Daemon(workers=2, opts=FAST) as d:
        async def go():
            senders = [await v2(d, "s%d" % i) for i in range(10)]
            for s in senders:
                await s.send({"type": "join", "room": "busy"})
                await s.find(type="history", room="busy")
            stop = asyncio.Event()
            slow = wstest.UNDER_VALGRIND

            async def send(s, k):
                i = 0
                while not stop.is_set():
                    await s.send({"type": "user",
                                  "content": "%d/%d" % (k, i)})
                    i += 1
                    # As fast as ten python clients can while they also
                    # read everything (some 4,000 messages a second): the
                    # test's own CPU is what bounds it.  A daemon under
                    # valgrind gets a tenth of that.
                    if i % (1 if slow else 4) == 0:
                        await asyncio.sleep(0.01 if slow else 0.002)
            tasks = [asyncio.ensure_future(send(s, k))
                     for k, s in enumerate(senders)]
            ref = senders[0]
            seen = []

            def room_ids(c):
                # Incrementally: the lists grow by thousands a round.
                while room_ids.pos < len(c.msgs):
                    m = c.msgs[room_ids.pos]
                    room_ids.pos += 1
                    if m["type"] == "user" and m.get("room") == "busy":
                        seen.append(m["id"])
                return seen
            room_ids.pos = 0
            try:
                # 100 rounds; 10 under valgrind, which is 20 times slower.
                for rep in range(10 if wstest.UNDER_VALGRIND else 100):
                    j = await v2(d, "j%d" % rep)
                    since = len(j.msgs)
                    await j.send({"type": "join", "room": "busy"})
                    h = await j.find(since=since, type="history",
                                     room="busy", timeout=60)
                    await asyncio.sleep(0.05)
                    hi = j.msgs.index(h)
                    live = [m["id"] for m in j.msgs[hi + 1:]
                            if m["type"] == "user"]
                    mine = [m["id"] for m in h["messages"]] + live
                    assert mine == sorted(set(mine)), \
                        "round %d: not increasing, or twice" % rep
                    # Every id of the room from mine[0] to mine[-1]: what
                    # the first sender, in the room throughout, saw.
                    await j.close()
                    if mine:
                        await ref.until(lambda c: room_ids(c) and
                                        room_ids(c)[-1] >= mine[-1],
                                        what="the room's messages")
                        ids = room_ids(ref)
                        lo = bisect.bisect_left(ids, mine[0])
                        hi = bisect.bisect_right(ids, mine[-1])
                        assert mine == ids[lo:hi], \
                            "round %d: %d ids, the room had %d" % (
                                rep, len(mine), hi - lo)
            finally:
                stop.set()
                await asyncio.gather(*tasks, return_exceptions=True)
                for s in senders:
                    await s.close()
        wstest.run_async(go(), timeout=600)


def test_line_history_command():
    with Daemon(workers=2, opts=FAST) as d:
        async def go():
            a = await v2(d, "alice")
            await flood(a, 30, "hello")
            await a.count(30, type="user")
            r, w = await asyncio.open_connection("127.0.0.1", d.line_port)
            me = "127.0.0.1:%d" % w.get_extra_info("sockname")[1]
            await asyncio.wait_for(r.readuntil(
                ("[%s]%s: online\n" % (me, me)).encode()), 10)
            w.write(b"history 5\n")
            lines = [(await asyncio.wait_for(r.readline(), 10)).decode()
                     for _ in range(5)]
            assert [ln.split(": ", 1)[1] for ln in lines] == \
                ["hello %d\n" % i for i in range(25, 30)], lines
            assert all("]alice: " in ln for ln in lines), lines
            w.write(b"history x\n")
            ln = (await asyncio.wait_for(r.readline(), 10)).decode()
            assert "history" in ln and ln.startswith("error"), ln
            w.close()
            await a.close()
        wstest.run_async(go())


def test_history_survives_a_restart_with_the_same_epoch():
    with Daemon(workers=2, opts=FAST) as d0:
        path = os.path.join(d0.tmp.name, "keep.db")
        opts = dict(FAST, history_file=path)
        with Daemon(workers=2, opts=opts) as d:
            async def one():
                a = await v2(d, "alice")
                await flood(a, 10, "before")
                await a.count(10, type="user")
                await a.close()
                return [m["id"] for m in users(a)], \
                    users(a)[0]["epoch"]
            ids, epoch = wstest.run_async(one())
        with Daemon(workers=2, opts=opts) as d:
            async def two():
                b = await v2(d, "bob")
                h = [m for m in b.msgs if m["type"] == "history"][0]
                assert h["epoch"] == epoch
                assert [m["id"] for m in h["messages"]] == ids, h
                await flood(b, 1, "after")
                m = await b.find(type="user", content="after 0")
                assert m["id"] > ids[-1], (m, ids)
                await b.close()
            wstest.run_async(two())


# ------------------------------------------------------------- resume


def test_resume_after_a_cut_connection_misses_nothing():
    # A flood in the lobby; the victim's TCP connection is cut (no close
    # frame) in the middle, and it comes back with its session: it gets
    # every message exactly once, in order; nobody saw it leave; and its
    # name could not be taken while it was away.
    with Daemon(workers=2, opts=FAST) as d:
        async def go():
            src = await v2(d, "src")
            obs = await v2(d, "obs")
            vic = await v2(d, "vic")
            token = (await vic.find(type="system", code="logged_in"))
            assert token["resume_timeout"] == 30, token
            task = asyncio.ensure_future(flood(src, 2000, "f",
                                               delay=0.0005))
            await vic.until(lambda c: len(users(c, sender="src")) >= 300,
                            what="300 messages")
            vic.ws.transport.abort()        # no close frame
            before = [m["id"] for m in users(vic, sender="src")]
            # The name is held meanwhile.
            thief = await v2(d)
            await thief.send({"type": "login", "content": "vic"})
            m = await thief.find(type="system", code="name_taken")
            assert m
            await asyncio.sleep(0.3)
            back = await chatclient.connect(d, subprotocol=V2J)
            await back.send({"type": "resume", "session": token["session"],
                             "since": {"lobby": before[-1]}})
            r = await back.find(type="resumed")
            assert r["user"] == "vic" and r["room"] == "lobby", r
            await task
            await obs.count(2000, type="user", **{"from": "src"})
            await back.until(lambda c: len(users(c, sender="src")) +
                             len(before) >= 2000, what="the rest")
            after = [m["id"] for m in users(back, sender="src")]
            want = [m["id"] for m in users(obs, sender="src")]
            assert before + after == want, \
                "%d + %d ids, %d sent" % (len(before), len(after), len(want))
            assert not back.find_all(type="system", code="history_gap")
            for c in (obs, src, thief):
                assert not [m for m in c.msgs if m["type"] == "logout" and
                            m.get("user") == "vic"], c
            # Nor come back: its one login is the first one.
            assert len(obs.find_all(type="login", user="vic")) == 1
            # It is vic again: a private message reaches it.
            await obs.send({"type": "private", "to": "vic",
                            "content": "welcome back"})
            await back.find(type="private", content="welcome back")
            for c in (src, obs, back, thief):
                await c.close()
        wstest.run_async(go(), timeout=120)


def test_resume_replays_private_messages_of_the_session_only():
    with Daemon(workers=2, opts=FAST) as d:
        async def go():
            a = await v2(d, "amy")
            b = await v2(d, "ben")
            tok = (await b.find(type="system", code="logged_in"))["session"]
            await a.send({"type": "private", "to": "ben", "content": "p1"})
            m1 = await b.find(type="private", content="p1")
            b.ws.transport.abort()
            await asyncio.sleep(0.3)
            await a.send({"type": "private", "to": "ben", "content": "p2"})
            await a.find(type="private", content="p2")  # its own copy
            await a.send({"type": "user", "content": "c1"})
            await a.find(type="user", content="c1")
            nb = await chatclient.connect(d, subprotocol=V2J)
            await nb.send({"type": "resume", "session": tok,
                           "since": {"lobby": m1["id"]}})
            await nb.find(type="resumed")
            await nb.find(type="private", content="p2")
            await nb.find(type="user", content="c1")
            got = [m.get("content") for m in nb.msgs
                   if m["type"] in ("private", "user")]
            assert got == ["p2", "c1"], got
            # A new login as ben (after a logout) gets no private replay.
            await nb.send({"type": "logout"})
            await nb.wait_closed()
            c = await v2(d, "ben")
            await asyncio.sleep(0.3)
            assert not c.find_all(type="private"), c.msgs
            for x in (a, c):
                await x.close()
        wstest.run_async(go())


def test_chat_right_after_a_login_is_not_refused():
    # A client that talks at once, before its login came back: its
    # messages go to the lobby, which it enters when the login is back,
    # so it hears them live, after its history.
    with Daemon(workers=2, opts=FAST) as d:
        async def go():
            obs = await v2(d, "obs")
            for k in range(10):
                c = await chatclient.connect(d, subprotocol=V2J)
                await c.send({"type": "login", "content": "quick%d" % k})
                for i in range(3):
                    await c.send({"type": "user", "content": "q%d.%d" %
                                  (k, i)})
                await c.count(3, type="user", what="its own three")
                assert not c.find_all(type="system", code="not_logged_in")
                h = c.msgs.index(c.find_all(type="history")[0])
                assert all(c.msgs.index(m) > h for m in users(c))
                await c.close()
            await obs.count(30, type="user")
            await obs.close()
        wstest.run_async(go())


def test_resume_since_0_is_no_gap_when_nothing_was_missed():
    with Daemon(workers=2, opts=FAST) as d:
        async def go():
            v = await v2(d, "fresh")
            tok = (await v.find(type="system", code="logged_in"))["session"]
            v.ws.transport.abort()
            await asyncio.sleep(0.2)
            c = await chatclient.connect(d, subprotocol=V2J)
            await c.send({"type": "resume", "session": tok,
                          "since": {"lobby": 0}})
            await c.find(type="resumed")
            await asyncio.sleep(0.3)
            assert not c.find_all(type="system", code="history_gap"), c.msgs
            await c.close()
        wstest.run_async(go())


def test_a_session_expires_after_resume_timeout():
    with Daemon(workers=2, opts=dict(FAST, resume_timeout=2)) as d:
        async def go():
            obs = await v2(d, "obs")
            v = await v2(d, "gone")
            tok = (await v.find(type="system", code="logged_in"))["session"]
            v.ws.transport.abort()
            t0 = time.monotonic()
            await obs.find(type="logout", user="gone", timeout=10)
            assert time.monotonic() - t0 >= 1.5
            c = await chatclient.connect(d, subprotocol=V2J)
            await c.send({"type": "resume", "session": tok, "since": {}})
            await c.find(type="system", code="resume_failed")
            await c.login("gone")           # the name is free
            await c.send({"type": "resume", "session": "nonsense"})
            await c.find(type="system", code="resume_failed")
            for x in (obs, c):
                await x.close()
        wstest.run_async(go())


def test_a_close_frame_ends_the_session_at_once():
    with Daemon(workers=2, opts=FAST) as d:
        async def go():
            obs = await v2(d, "obs")
            v = await v2(d, "polite")
            tok = (await v.find(type="system", code="logged_in"))["session"]
            await v.close()
            await obs.find(type="logout", user="polite", timeout=5)
            c = await chatclient.connect(d, subprotocol=V2J)
            await c.send({"type": "resume", "session": tok, "since": {}})
            await c.find(type="system", code="resume_failed")
            for x in (obs, c):
                await x.close()
        wstest.run_async(go())


def test_resume_from_a_worker_killed_with_sigkill():
    # The worker holding the connection dies: the session is kept and
    # resumes on another worker, with what it missed.
    with Daemon(workers=2, opts=FAST) as d:
        async def go():
            pool = []
            while len({c.worker for c in pool}) < 2:
                pool.append(await chatclient.connect(d, subprotocol=V2J))
                chatclient.owners_of(d, pool)
            vic = pool[0]
            src = [c for c in pool if c.worker != vic.worker][0]
            await src.login("src")
            await vic.login("vic")
            tok = (await vic.find(type="system", code="logged_in"))[
                "session"]
            await src.send({"type": "user", "content": "one"})
            m1 = await vic.find(type="user", content="one")
            os.kill(vic.worker, signal.SIGKILL)
            await src.send({"type": "user", "content": "two"})
            await src.find(type="user", content="two")
            back = await chatclient.connect(d, subprotocol=V2J)
            await back.send({"type": "resume", "session": tok,
                             "since": {"lobby": m1["id"]}})
            await back.find(type="resumed")
            await back.find(type="user", content="two")
            assert not src.find_all(type="logout", user="vic")
            for c in pool + [back]:
                await c.close()
        wstest.run_async(go())


def test_resume_reports_a_gap_when_the_history_process_was_lapped():
    # A tiny ring, little in memory, and the history process stopped:
    # the ring laps it, so what memory dropped is in no store.  Resume
    # says history_gap, then delivers what is kept.
    opts = dict(FAST, bus_ring_size="64k", history_recent=10)
    with Daemon(workers=2, opts=opts) as d:
        async def go():
            a = await v2(d, "a")
            v = await v2(d, "v")
            tok = (await v.find(type="system", code="logged_in"))["session"]
            await a.send({"type": "user", "content": "first"})
            m1 = await v.find(type="user", content="first")
            hp = d.history_pid()
            assert hp
            os.kill(hp, signal.SIGSTOP)
            try:
                v.ws.transport.abort()
                await flood(a, 1500, "x" * 100)
                await a.until(lambda c: len(users(c)) >= 1501,
                              what="its own copies")
                c = await chatclient.connect(d, subprotocol=V2J)
                await c.send({"type": "resume", "session": tok,
                              "since": {"lobby": m1["id"]}})
                await c.find(type="resumed")
                await c.find(type="system", code="history_gap")
                await c.until(lambda x: len(users(x)) >= 10,
                              what="the kept messages")
                gi = c.msgs.index(c.find_all(type="system",
                                             code="history_gap")[0])
                assert all(c.msgs.index(m) > gi for m in users(c))
                kept = [m["id"] for m in users(c)]
                assert kept == [m["id"] for m in users(a)][-len(kept):]
                await c.close()
            finally:
                os.kill(hp, signal.SIGCONT)
            await a.close()
        wstest.run_async(go(), timeout=120)


def test_history_recent_0_serves_every_page_from_the_store():
    with Daemon(workers=2, opts=dict(FAST, history_recent=0)) as d:
        async def go():
            a = await v2(d, "a")
            await flood(a, 20, "s")
            await a.count(20, type="user")
            ids = [m["id"] for m in users(a)]
            wait_for(lambda: metric(d, "wschatd_history_committed_id") >=
                     ids[-1], what="the commit")
            b = await v2(d, "b")
            h = [m for m in b.msgs if m["type"] == "history"][0]
            assert [m["id"] for m in h["messages"]] == ids, h
            assert h["more"] is False
            for c in (a, b):
                await c.close()
        wstest.run_async(go())


def test_version_2_chat_before_login_is_refused_and_not_kept():
    with Daemon(workers=1, opts=FAST) as d:
        async def go():
            c = await chatclient.connect(d, subprotocol=V2J)
            await c.send({"type": "user", "content": "nobody hears"})
            await c.find(type="system", code="not_logged_in")
            await c.login("late")
            await c.send({"type": "user", "content": "now"})
            m = await c.find(type="user", content="now")
            wait_for(lambda: metric(d, "wschatd_history_committed_id") >=
                     m["id"], what="the commit")
            await c.close()
        wstest.run_async(go())
        db = sqlite3.connect(os.path.join(d.tmp.name, "history.db"))
        rows = list(db.execute("SELECT room, content FROM messages"))
        db.close()
        assert rows == [("lobby", "now")], rows


def test_the_history_process_is_respawned_after_a_reload():
    with Daemon(workers=1, opts=FAST) as d:
        hp = d.history_pid()
        d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reloading" in d.log(), what="the reload")
        time.sleep(0.5)
        os.kill(hp, signal.SIGKILL)
        wait_for(lambda: d.history_pid() not in (None, hp), timeout=15,
                 what="a new history process")


def test_a_lapped_history_process_records_the_gap_while_all_is_quiet():
    # Lapped, then nothing more on the bus: the gap is recorded, and the
    # committed id reaches the last message, without waiting for another.
    opts = dict(FAST, bus_ring_size="64k")
    with Daemon(workers=1, opts=opts) as d:
        async def go():
            a = await v2(d, "a")
            hp = d.history_pid()
            os.kill(hp, signal.SIGSTOP)
            try:
                await flood(a, 1500, "y" * 100)
                await a.until(lambda c: len(users(c)) >= 1500,
                              what="its own copies")
            finally:
                os.kill(hp, signal.SIGCONT)
            last = users(a)[-1]["id"]
            wait_for(lambda: metric(d, "wschatd_history_committed_id") >=
                     last, timeout=10, what="the gap recorded")
            assert metric(d, "wschatd_history_lost_total") > 0
            await a.close()
        wstest.run_async(go())


# -------------------------------------------------------------- crash


def store_ids(path):
    """The ids a store file holds, in order, and its gaps."""
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        ids = [r[0] for r in db.execute("SELECT id FROM messages "
                                        "ORDER BY id")]
        gaps = list(db.execute("SELECT first, last FROM gaps"))
    finally:
        db.close()
    return ids, gaps


def test_kill_9_loses_nothing_acknowledged():
    # Kill -9 the history process under load (the master respawns it and
    # it catches up from the ring), then, still under load, the whole
    # daemon.  After a restart the store holds every message that was
    # acknowledged (id at most wschatd_history_committed_id, read just
    # before the kill), each once; what was not acknowledged may be
    # missing, and new ids never reuse it.
    with Daemon(workers=2, opts=FAST) as d0:
        path = os.path.join(d0.tmp.name, "crash.db")
    opts = dict(FAST, history_file=path)
    d = Daemon(workers=2, opts=opts)
    try:
        async def go():
            ss = [await v2(d, "k%d" % i) for i in range(4)]
            tasks = [asyncio.ensure_future(flood(s, 3000, "k", 0.0005))
                     for s in ss]
            await asyncio.sleep(0.5)
            hp = d.history_pid()
            os.kill(hp, signal.SIGKILL)
            wait_for(lambda: d.history_pid() not in (None, hp),
                     timeout=20, what="a new history process")
            await asyncio.sleep(0.5)
            # Still sending: the acknowledged point, then kill -9 all.
            acked = metric(d, "wschatd_history_committed_id")
            for p in d.worker_pids() + [d.history_pid()]:
                os.kill(p, signal.SIGKILL)
            d.proc.kill()
            assert not all(t.done() for t in tasks), "the load had ended"
            await asyncio.sleep(0.2)
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            return [m["id"] for m in users(ss[0])], acked
        ids, acked = wstest.run_async(go(), timeout=180)
        d.proc.wait()
    finally:
        d.stop(signal.SIGKILL)
    stored, gaps = store_ids(path)
    assert len(stored) == len(set(stored))
    want = [i for i in ids if i <= acked]
    assert len(want) > 1000, (len(want), len(ids))
    missing = sorted(set(want) - set(stored))
    assert not missing, "%d acknowledged messages lost (gaps %r)" % (
        len(missing), gaps[:5])
    d2 = Daemon(workers=2, opts=opts)
    try:
        async def after():
            c = await v2(d2, "late")
            h = [m for m in c.msgs if m["type"] == "history"][0]
            assert [m["id"] for m in h["messages"]] == stored[-50:]
            await c.send({"type": "user", "content": "new"})
            m = await c.find(type="user", content="new")
            assert m["id"] > max(ids), "an id came again"
            await c.close()
        wstest.run_async(after())
    finally:
        d2.stop()


def test_a_damaged_store_is_refused_with_the_reason_and_kept():
    with Daemon(workers=1, opts=FAST) as d0:
        path = os.path.join(d0.tmp.name, "bad.db")
        with open(path, "wb") as f:
            f.write(b"this is not a database, but someone's file\n" * 100)
        before = open(path, "rb").read()
        import subprocess
        empty = os.path.join(d0.tmp.name, "empty.conf")
        open(empty, "w").close()
        p = subprocess.run([wstest.WSCHATD, "-f", "-w", "1", "-l",
                            "127.0.0.1:0", "-L", "off", "-c", empty,
                            "-o", "history_file=" + path,
                            "-o", "webroot=" + os.path.join(wstest.SRCDIR, "www"), "-o",
                            "pidfile=" + os.path.join(d0.tmp.name, "x.pid")],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode != 0
        assert path in p.stderr and "history" in p.stderr, p.stderr
        assert open(path, "rb").read() == before


if __name__ == "__main__":
    main()
