#!/usr/bin/env python3
"""End-to-end chaos test of the chat hub: a worker is killed with SIGKILL
while logged-in clients on every worker chat.  Clients on the surviving
workers must lose nothing that senders on surviving workers sent (per
sender sequence numbers: no gap, no duplicate), see exactly one logout
for every user the killed worker held, and nothing else; the master
must log the death and respawn the worker, which then serves new clients
that may take the freed names and chat with everyone.

Clients are chatclient.Client, as in test_chat.py (python3-websockets
with a reader task each); which worker holds a connection is read from
/proc, as test_process.py does."""

import asyncio
import json
import os
import re
import signal

import websockets

import wstest
from chatclient import connect, owners_of
from wstest import Daemon, wait_for


# ---------------------------------------------------------------- helpers


def seqs(c, sender):
    """The sequence numbers c received from sender, in arrival order."""
    out = []
    for m in c.msgs:
        if m["type"] == "user" and m.get("from") == sender and \
                not m["content"].startswith("end|"):
            tag, name, k = m["content"].split("|")
            assert tag == "seq" and name == sender, m
            out.append(int(k))
    return out


# ---------------------------------------------------------------- the test


def chaos(nvictims, nclients=80, before_kill=40, after_kill=40):
    """Chat on 4 workers with one sender per worker, SIGKILL nvictims of
    them at once (each holding a sender), and check what the survivors
    see, the respawn, the log, and the new workers' service."""
    with Daemon(workers=4, line=False) as d:
        before = wait_for(lambda: len(d.worker_pids()) == 4 and
                          d.worker_pids(), what="4 workers")

        async def go():
            clients = []
            fresh = []
            tasks = []
            stop = asyncio.Event()
            try:
                clients = list(await asyncio.gather(
                    *(connect(d) for _ in range(nclients))))
                owners = owners_of(d, clients)
                counts = {p: owners.count(p) for p in before}
                assert all(counts.values()), \
                    "connections per worker %r" % counts
                names = ["c%02d" % i for i in range(nclients)]
                await asyncio.gather(*(c.login(n) for c, n in
                                       zip(clients, names)))
                allnames = set(names)
                await asyncio.gather(*(c.until(
                    lambda c: {m["user"] for m in c.msgs
                               if m["type"] == "login"} == allnames, 20,
                    "every login") for c in clients))

                # One sender per worker; each victim holds one of them.
                senders = []
                for pid in before:
                    senders.append(next(c for c in clients
                                        if c.worker == pid))
                victims = {s.worker for s in senders[:nvictims]}
                dead = [c for c in clients if c.worker in victims]
                live = [c for c in clients if c.worker not in victims]
                live_senders = [s for s in senders
                                if s.worker not in victims]
                dead_senders = [s for s in senders if s.worker in victims]
                assert live and dead and live_senders

                sent = {}

                async def chatter(s):
                    k = 0
                    try:
                        while not stop.is_set():
                            await s.send({"type": "user", "content":
                                          "seq|%s|%d" % (s.name, k)})
                            sent[s.name] = k
                            k += 1
                            # A steady stream, not a flood: 80 Python
                            # readers share the CPUs with the daemon.
                            await asyncio.sleep(0.02)
                    except websockets.ConnectionClosed:
                        if s.worker not in victims:
                            raise
                tasks += [asyncio.ensure_future(chatter(s))
                          for s in senders]

                def got_from(snames, n):
                    return lambda c: all(len(seqs(c, s)) >= n
                                         for s in snames)
                # Traffic flows from every sender to every client.
                await asyncio.gather(*(c.until(got_from(
                    [s.name for s in senders], before_kill), 20,
                    "traffic") for c in clients))

                for pid in victims:
                    os.kill(pid, signal.SIGKILL)

                for c in dead:
                    await c.until(lambda c: c.closed, 10,
                                  "the killed worker's connection to drop",
                                  closed_ok=True)
                dead_names = {c.name for c in dead}
                worker_of = {c.name: c.worker for c in clients}
                live_names = sorted(c.name for c in live)
                for c in live:
                    await c.until(lambda c: dead_names <= {
                        m["user"] for m in c.msgs if m["type"] ==
                        "logout"}, 10, "the killed workers' logouts")
                # Survivors keep chatting after the kill.
                marks = {c: {s.name: len(seqs(c, s.name))
                             for s in live_senders} for c in live}
                for c in live:
                    await c.until(lambda c: all(
                        len(seqs(c, s.name)) >= marks[c][s.name] +
                        after_kill for s in live_senders), 20,
                        "traffic after the kill")
                stop.set()
                await asyncio.wait_for(asyncio.gather(*tasks), 10)
                for s in live_senders:
                    await s.send({"type": "user",
                                  "content": "end|%s" % s.name})
                for c in live:
                    await c.until(lambda c: all(
                        c.find_all(type="user", content="end|%s" % s.name)
                        for s in live_senders), 20, "the senders' ends")
                # Let a duplicate that would follow arrive (bounded).
                await asyncio.sleep(0.3)

                for c in live:
                    c.check()
                    for s in live_senders:
                        got = seqs(c, s.name)
                        want = list(range(sent[s.name] + 1))
                        assert got == want, \
                            "%r from %s (live): %d messages, want %d; " \
                            "first difference at #%d" % (
                                c, s.name, len(got), len(want),
                                next((i for i, (a, b) in enumerate(
                                    zip(got, want)) if a != b),
                                    min(len(got), len(want))))
                        assert len(c.find_all(content="end|%s" %
                                              s.name)) == 1
                    # What a dead sender's worker had published before it
                    # died: a prefix, in order, the same for everyone.
                    for s in dead_senders:
                        got = seqs(c, s.name)
                        assert got == list(range(len(got))), \
                            "%r from %s (killed): %r" % (c, s.name, got)
                        assert len(got) == len(seqs(live[0], s.name)), \
                            "%r saw %d of %s's, %r saw %d" % (
                                c, len(got), s.name, live[0],
                                len(seqs(live[0], s.name)))
                    logouts = c.find_all(type="logout")
                    assert sorted(m["user"] for m in logouts) == \
                        sorted(dead_names), \
                        "%r: logouts for %r, killed workers held %r" % (
                            c, sorted(m["user"] for m in logouts),
                            sorted(dead_names))
                    for m in logouts:
                        assert m["from"] == m["user"] == m["content"], m
                        # Everyone alive is listed; of the dead, only
                        # those of another killed worker the master may
                        # not have reaped yet (lists are read at delivery).
                        ul = m["user_list"]
                        others = {x.name for x in dead if x.worker !=
                                  worker_of[m["user"]]}
                        assert len(ul) == len(set(ul)) and \
                            set(live_names) <= set(ul) <= \
                            set(live_names) | others, \
                            "%r: logout of %s lists %r" % (
                                c, m["user"], sorted(ul))
                    assert len(c.find_all(type="login")) == nclients, \
                        "%r: %d logins" % (c, len(c.find_all(type="login")))
                    assert not c.closed, "%r lost its connection" % c

                # The master respawned the workers...
                after = await asyncio.get_running_loop().run_in_executor(
                    None, lambda: wait_for(
                        lambda: len(d.worker_pids()) == 4 and not
                        victims & set(d.worker_pids()) and d.worker_pids(),
                        10, what="the workers to be respawned"))
                new = set(after) - set(before)
                assert len(new) == nvictims, (before, after)

                # ...which serve new clients, which may take the freed
                # names and chat with everyone.
                onnew = {}
                for _ in range(60):
                    c = await connect(d)
                    fresh.append(c)
                    pid = owners_of(d, [c])[0]
                    if pid in new and pid not in onnew:
                        onnew[pid] = c
                        if len(onnew) == nvictims:
                            break
                assert len(onnew) == nvictims, \
                    "%d new connections, respawned workers hold %d" % (
                        len(fresh), len(onnew))
                freed = sorted(dead_names)
                watcher = live_senders[0]
                for c in fresh:
                    assert sorted(c.msgs[0]["user_list"]) == live_names, \
                        "handshake after the kill: %r" % c.msgs[0]
                for c, name in zip(onnew.values(), freed):
                    await c.login(name)
                    await watcher.find(type="login", user=name)
                    await c.send({"type": "user", "content": "reborn " +
                                  name})
                    for x in live + list(onnew.values()):
                        m = await x.find(type="user",
                                         content="reborn " + name)
                        assert m["from"] == name, m
                    await c.send({"type": "to", "to": watcher.name,
                                  "content": "dm " + name})
                    await watcher.find(type="private",
                                       content="dm " + name)
                await watcher.send({"type": "user", "content": "welcome"})
                for c in onnew.values():
                    m = await c.find(type="user", content="welcome")
                    assert m["from"] == watcher.name, m
                    w = await c.who()
                    want = sorted(live_names + [x.name for x in fresh
                                                 if x.name])
                    assert sorted(w["user_list"]) == want, (w, want)
                return victims, new, {pid: len([c for c in dead
                                                if c.worker == pid])
                                      for pid in victims}
            finally:
                stop.set()
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await asyncio.gather(*(c.close() for c in clients + fresh))

        victims, new, ndead = wstest.run_async(go(), 60)
        log = d.log()
        for pid in victims:
            m = re.search(r"worker (\d+) \(pid %d\) killed by signal 9" %
                          pid, log)
            assert m, "the log does not name the killed worker %d:\n%s" % (
                pid, log[-3000:])
            idx = m.group(1)
            assert re.search(r"worker %s: %d users logged out" % (
                idx, ndead[pid]), log), log[-3000:]
            assert re.search(r"worker %s started, pid (%s)" % (
                idx, "|".join(str(p) for p in new)), log), log[-3000:]
        assert "fell behind" not in log and "lost " not in log, log[-3000:]


def test_one_worker_killed_mid_chat():
    chaos(1)


def test_two_workers_killed_at_once():
    chaos(2)


def test_every_user_of_a_killed_worker_is_logged_out():
    # More users than fit one batch of the master's reap (256 once): each
    # must get its logout.  The users are raw sockets that joined a room
    # of their own before logging in, so that their logins go to nobody
    # else; they never read, and their queued logouts fit max_pending.
    with Daemon(workers=2, line=False, opts={"idle_timeout": 0}) as d:
        raws = []
        try:
            for i in range(640):
                ws = wstest.RawWS(d.port, "/ws")
                ws.send(ws.frame(1, json.dumps({"type": "join",
                                                "room": "own%d" % i})) +
                        ws.frame(1, json.dumps({"type": "login",
                                                "content": "raw%d" % i})))
                raws.append(ws)
            owners = d.owners([r.sock.getsockname()[1] for r in raws])
            assert None not in owners, owners
            counts = {p: owners.count(p) for p in set(owners)}
            victim = max(counts, key=counts.get)
            assert counts[victim] > 256, counts
            gone = {"raw%d" % i for i, o in enumerate(owners) if o == victim}

            async def observer():
                """A client on the other worker, once all 640 are in."""
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 20
                while True:
                    obs = await websockets.connect(
                        "ws://127.0.0.1:%d/ws" % d.port, max_size=None,
                        ping_interval=None)
                    hs = json.loads(await asyncio.wait_for(obs.recv(), 10))
                    port = obs.transport.get_extra_info("sockname")[1]
                    if d.owners([port])[0] != victim and \
                            len(hs["user_list"]) == 640:
                        return obs
                    await obs.close()
                    assert loop.time() < deadline, len(hs["user_list"])

            async def go():
                obs = await observer()
                try:
                    os.kill(victim, signal.SIGKILL)
                    seen = set()
                    while seen != gone:
                        m = json.loads(await asyncio.wait_for(obs.recv(),
                                                              20))
                        if m["type"] == "logout":
                            assert m["user"] in gone, m["user"]
                            assert m["user"] not in seen, m["user"]
                            seen.add(m["user"])
                    assert len(m["user_list"]) == 640 - len(gone)
                finally:
                    await obs.close()
            wstest.run_async(go())
            assert "%d users logged out" % len(gone) in d.log()
        finally:
            for r in raws:
                r.close()


if __name__ == "__main__":
    wstest.main()
