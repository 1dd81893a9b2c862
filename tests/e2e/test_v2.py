#!/usr/bin/env python3
"""End-to-end tests of protocol version 2 on /ws (docs/PROTOCOL.md,
"Protocol version 2"): the subprotocols wschat.v2.json and
wschat.v2.msgpack and what they change, presence without user lists,
against version 1 (no subprotocol, as the seed pages) in the same chat;
a login storm whose cost per client is linear; and the order of one
name's events when a worker is killed and its names are taken again at
once from another worker."""

import asyncio
import json
import os
import re
import signal
import socket
import time

import chatclient
import storm
import wstest
from wstest import Daemon, main, wait_for

V2J = "wschat.v2.json"
V2M = "wschat.v2.msgpack"
PRESENCE_V2 = ["type", "from", "user", "content", "room", "online"]


def upgrade(d, offer):
    """The subprotocol the server answers an offer with (None: none)."""
    extra = "Sec-WebSocket-Protocol: %s\r\n" % offer if offer else ""
    ws = wstest.RawWS(d.port, "/ws", extra_headers=extra)
    ws.close()
    return ws.headers.get("sec-websocket-protocol")


def keys(raw):
    """The keys of a JSON object in the order the server wrote them."""
    return [k for k, _ in json.loads(raw, object_pairs_hook=list)]


def test_negotiation():
    with Daemon(workers=1, line=False) as d:
        assert upgrade(d, V2J) == V2J
        assert upgrade(d, V2M) == V2M
        # The client's order decides (RFC 6455, 4.2.2: the server picks
        # one of those offered); names it does not know are passed over.
        assert upgrade(d, "x.unknown, %s, wschat.json" % V2M) == V2M
        assert upgrade(d, "wschat.json, " + V2J) == "wschat.json"
        # Nothing it speaks, or nothing offered: no header, version 1.
        assert upgrade(d, "wschat.v3.json, chat") is None
        assert upgrade(d, None) is None


def test_v2_presence_has_no_list_and_v1_is_unchanged():
    async def go(d):
        v1 = await chatclient.connect(d)
        # The seed page's handshake, byte for byte, with nobody online.
        assert v1.raws[0] == ('{"type":"handshake","ip":"%s","user_list":[]}'
                              % v1.handshake["ip"]), v1.raws[0]
        unknown = await chatclient.connect(d, subprotocol="wschat.v3.json")
        assert unknown.ws.subprotocol is None
        assert "user_list" in unknown.handshake, unknown.handshake
        v1mp = await chatclient.connect(d, mp=True)
        j = await chatclient.connect(d, subprotocol=V2J)
        m = await chatclient.connect(d, subprotocol=V2M)
        assert j.ws.subprotocol == V2J and m.ws.subprotocol == V2M
        for c in (j, m):
            assert c.handshake == {"type": "handshake",
                                   "ip": c.handshake["ip"], "online": 0}, \
                c.handshake
        assert isinstance(m.raws[0], bytes) and isinstance(j.raws[0], str)

        await v1.login("bob")
        await j.find(type="login", user="bob")
        # Version 1: the same bytes as before version 2 existed.
        assert v1.raws[-1] == ('{"type":"login","from":"bob","user":"bob",'
                               '"content":"bob","room":"lobby",'
                               '"user_list":["bob"]}'), v1.raws[-1]
        await j.login("alice")
        for c in (j, m):
            got = await c.find(type="login", user="alice")
            assert got == {"type": "login", "from": "alice",
                           "user": "alice", "content": "alice",
                           "room": "lobby", "online": 2}, got
        # (Its own login is followed by logged_in and the history.)
        jl = j.msgs.index(j.find_all(type="login", user="alice")[0])
        assert keys(j.raws[jl]) == PRESENCE_V2, j.raws[jl]
        got = await v1.find(type="login", user="alice")
        assert sorted(got["user_list"]) == ["alice", "bob"], got
        assert keys(v1.raws[-1]) == ["type", "from", "user", "content",
                                     "room", "user_list"], v1.raws[-1]
        got = await v1mp.find(type="login", user="alice")
        assert sorted(got["user_list"]) == ["alice", "bob"], got
        assert "online" not in got, got

        # A rename: v2 says the new name as user too, with room and count.
        await j.send({"type": "rename", "content": "carol"})
        for c in (j, m):
            got = await c.find(type="rename")
            assert got == {"type": "rename", "from": "alice",
                           "user": "carol", "content": "carol",
                           "room": "lobby", "online": 2}, got
        got = await v1.find(type="rename")
        assert keys(v1.raws[-1]) == ["type", "from", "content",
                                     "user_list"], v1.raws[-1]
        assert sorted(got["user_list"]) == ["bob", "carol"], got
        # A respelling is a rename too.
        await j.send({"type": "rename", "content": "Carol"})
        got = await m.find(type="rename", user="Carol")
        assert got["from"] == "carol" and got["online"] == 2, got

        # who keeps its list in version 2.
        got = await m.who()
        assert sorted(got["user_list"]) == ["Carol", "bob"], got
        assert set(got) == {"type", "user_list"}, got

        await v1.close()
        got = await j.find(type="logout", user="bob")
        assert got == {"type": "logout", "from": "bob", "user": "bob",
                       "content": "bob", "room": "lobby", "online": 1}, got
        got = await v1mp.find(type="logout", user="bob")
        assert got["user_list"] == ["Carol"] and "online" not in got, got
        for c in (unknown, v1mp, j, m):
            c.check()
            await c.close()

    with Daemon(workers=2, line=False) as d:
        wstest.run_async(go(d))


def test_v2_logout_of_a_killed_workers_user_says_its_room():
    async def go(d):
        pool = []
        try:
            while len({c.worker for c in pool}) < 2:
                assert len(pool) < 40, "every connection on one worker"
                pool.append(await chatclient.connect(d, subprotocol=V2J))
                chatclient.owners_of(d, pool)
            victim = pool[0]
            obs = [c for c in pool if c.worker != victim.worker]
            await victim.send({"type": "join", "room": "den"})
            await victim.find(type="system", content="joined")
            await victim.login("vic")
            await obs[0].find(type="login", user="vic", room="den")
            os.kill(victim.worker, signal.SIGKILL)
            # Its session is kept for resume_timeout (1 s here), then
            # the master announces the logout.
            got = await obs[0].find(type="logout", user="vic", timeout=15)
            assert got["room"] == "den", got
        finally:
            for c in pool:
                await c.close()

    with Daemon(workers=2, line=False, opts={"resume_timeout": 1}) as d:
        wstest.run_async(go(d))


def test_v2_login_storm_is_linear():
    # 2,000 version 2 clients connect, then all log in at once: each must
    # get all 2,000 logins, none may be dropped, and what each receives
    # grows with N, not N^2 (version 1: some 18 MB each at this N, see
    # scripts/bench/presence-storm.py).  workers 2; no connection limits
    # (0 is none; the harness's ulimit -n is 20,000); sources spread over
    # 127.0.0.1-4 all the same.
    n = 2000
    opts = {"max_connections": 0, "max_connections_per_ip": 0,
            "max_users": 4096}
    with Daemon(workers=2, line=False, opts=opts) as d:
        s = storm.Storm(d.port, n, V2J, sources=4)
        res = wstest.run_async(s.run(timeout=60), timeout=90)
        print("# " + storm.report(res))
        assert res["negotiated"] == [V2J], res
        assert res["dropped"] == 0 and res["short"] == 0, res
        # One login frame is under 100 bytes here (names of 6).
        assert res["bytes_max"] <= 100 * n, res
        assert res["handshake_bytes_max"] < 100, res
        assert "slow consumer" not in d.log(), "a client was dropped"


def v2_state(c, names, since=0):
    """Online or not, per name, as a client that keeps its list from the
    events (version 2 has no lists) would have it, and the events of each
    name from the since'th message on, in the order they came."""
    state = {}
    seen = {n: [] for n in names}
    for m in c.msgs[since:]:
        t = m.get("type")
        if t == "login" and m["user"] in seen:
            state[m["user"]] = True
            seen[m["user"]].append("login")
        elif t == "logout" and m["user"] in seen:
            state[m["user"]] = False
            seen[m["user"]].append("logout")
        elif t == "rename":
            for who, on in ((m["from"], False), (m["user"], True)):
                if who in seen:
                    state[who] = on
                    seen[who].append("rename")
    return state, seen


async def claim(c, name, timeout=10.0):
    """Ask for name over and over until we have it: no pause between a
    freed name and our claim."""
    since = len(c.msgs)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    frame = json.dumps({"type": "login", "content": name})
    while True:
        for m in c.msgs[since:]:
            if m.get("type") == "login" and m.get("user") == name:
                c.name = name
                return
        assert loop.time() < deadline, "%r: no %s: %r" % (c, name, c.last())
        assert not c.closed, c.last()
        for _ in range(10):
            await c.ws.send(frame)
        await asyncio.sleep(0)


class LineObserver:
    """A line user that only reads: the line port keeps no list either,
    and its users read "X: online" and "X: offline" in the order they
    come."""

    def __init__(self, d):
        self.sock = socket.create_connection(("127.0.0.1", d.line_port),
                                             timeout=5)
        self.port = self.sock.getsockname()[1]
        self.sock.setblocking(False)
        self.buf = b""

    def pump(self):
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return
                self.buf += data
        except BlockingIOError:
            pass

    def lines(self):
        return self.buf.decode().split("\n")[:-1]

    def events(self, names, since):
        """Per name, "online"/"offline" from the since'th line on."""
        seen = {n: [] for n in names}
        for ln in self.lines()[since:]:
            m = re.match(r"^\[[^]]*\]([^:]+): (online|offline)$", ln)
            if m and m.group(1) in seen:
                seen[m.group(1)].append(m.group(2))
        return seen

    def close(self):
        self.sock.close()


def test_v2_name_order_after_a_worker_is_killed():
    # A worker holding names is killed; clients on the other workers take
    # those names at once, while the master is still announcing their
    # logouts.  The logins travel on the claimants' workers' rings, the
    # logouts on the master's: an observer can read them either way
    # round.  Whatever it reads, the last event of each name must leave
    # it online, as it is; a v2 client must never see "logout X" after
    # the login of X's new holder.  Nor may a line user read "X: offline"
    # after "X: online".
    rounds, per_round = 5, 8
    # Sessions off: a killed worker's names are free at once, not kept
    # for resume (test_history.py tests that).
    opts = {"command_rate": 1000000, "idle_timeout": 0,
            "resume_timeout": 0}
    with Daemon(workers=3, opts=opts) as d:
        async def one_round(r):
            wait_for(lambda: len(d.worker_pids()) == 3, timeout=40,
                     what="3 workers")
            pool, lines = [], []
            try:
                while True:
                    more = [await chatclient.connect(d, subprotocol=V2J)
                            for _ in range(12)]
                    pool += more
                    chatclient.owners_of(d, pool)
                    by = {}
                    for c in pool:
                        by.setdefault(c.worker, []).append(c)
                    if len(by) == 3:
                        victim = max(by, key=lambda p: len(by[p]))
                        others = [c for c in pool if c.worker != victim]
                        obs = {p: by[p][0] for p in by if p != victim}
                        rest = [c for c in others
                                if c not in obs.values()]
                        if len(by[victim]) >= per_round and \
                                len(rest) >= per_round:
                            break
                    assert len(pool) < 200, {p: len(v)
                                             for p, v in by.items()}
                # A line observer on each worker but the victim.
                lobs = {}
                while len(lobs) < 2:
                    lo = LineObserver(d)
                    lines.append(lo)
                    owner = wait_for(lambda: d.line_owners([lo.port])[0],
                                     what="the line user's worker")
                    if owner != victim and owner not in lobs:
                        lobs[owner] = lo
                    assert len(lines) < 40, "no line user on two workers"
                names = ["r%dn%d" % (r, i) for i in range(per_round)]
                holders = by[victim][:per_round]
                claimants = rest[:per_round]
                for c, name in zip(holders, names):
                    await c.login(name)
                for o in obs.values():
                    for name in names:
                        await o.find(type="login", user=name)
                for lo in lobs.values():
                    deadline = time.monotonic() + 10
                    while not all(lo.events(names, 0)[n] for n in names):
                        assert time.monotonic() < deadline, lo.lines()[-5:]
                        await asyncio.sleep(0.05)
                        lo.pump()
                marks = {p: len(o.msgs) for p, o in obs.items()}
                lmarks = {p: len(lo.lines()) for p, lo in lobs.items()}
                os.kill(victim, signal.SIGKILL)
                await asyncio.gather(*[claim(c, name) for c, name in
                                       zip(claimants, names)])
                for p, o in obs.items():
                    for name in names:
                        await o.find(since=marks[p], type="login",
                                     user=name)
                # Time for any overtaken logout still on its way.
                await asyncio.sleep(0.5)
                who = set((await claimants[0].who())["user_list"])
                bad = []
                for p, o in obs.items():
                    o.check()
                    state, seen = v2_state(o, names, marks[p])
                    for name in names:
                        assert name in who, (name, who)
                        # In order: the old holder's logout, then the new
                        # holder's login, and nothing after that.
                        if not state.get(name) or \
                                seen[name] != ["logout", "login"]:
                            bad.append((p, name, seen[name]))
                for p, lo in lobs.items():
                    lo.pump()
                    seen = lo.events(names, lmarks[p])
                    for name in names:
                        if seen[name] != ["offline", "online"]:
                            bad.append(("line", p, name, seen[name]))
                return bad
            finally:
                for c in pool:
                    await c.close()
                for lo in lines:
                    lo.close()

        async def go():
            bad = []
            for r in range(rounds):
                bad += await one_round(r)
            assert not bad, ("names whose events after the kill are out of "
                             "order (observer pid, name, events): %r" % bad)

        wstest.run_async(go(), timeout=150)
        assert d.log().count("killed by signal 9") == rounds


if __name__ == "__main__":
    main()
