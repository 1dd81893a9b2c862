#!/usr/bin/env python3
"""End-to-end tests of rooms (docs/PROTOCOL.md, 4.4 and 8.2): who for a
room and for everyone, in pages; joins and leaves announced to the room
left and the room joined and to nobody else; rooms with their member
counts across workers; logins seen in every room; join, leave, rooms and
who ROOM on the line port; and a lobby client that never uses rooms,
which sees exactly the frames it always saw.  Every daemon has several
workers, and the clients of a test are spread over them, so that each
case crosses workers."""

import asyncio
import time

import wstest
from test_chat import check_fields, on_distinct_workers, quiesce, with_pool
from test_line import Line, on_two_workers


def daemon(name="rooms", **kw):
    kw.setdefault("workers", 4)
    kw.setdefault("line", True)
    opts = {"command_rate": 1000}
    opts.update(kw.pop("opts", {}))
    return wstest.shared_daemon(name, opts=opts, **kw)


def on_rooms(body, timeout=60, **kw):
    d = daemon(**kw)

    async def go(pool):
        await quiesce(d)
        return await body(pool)
    return with_pool(d, go, timeout)


async def ask(c, msg, **fields):
    """Send msg; the first answer with these fields after it."""
    since = len(c.msgs)
    await c.send(msg)
    return await c.find(since=since, **fields)


async def join(c, room):
    m = await ask(c, {"type": "join", "room": room}, type="system",
                  content="joined", room=room)
    assert "code" not in m, m


async def barrier(sender, clients, room="lobby"):
    """sender chats in its room; once every client of clients has it, the
    sender's earlier events have reached them too (one ring, in order)."""
    text = "barrier %f" % time.monotonic()
    await sender.send({"type": "user", "content": text})
    for c in clients:
        await c.find(type="user", content=text, room=room)


# ---------------------------------------------------------------- who


def test_who_answers_a_room_or_everyone_across_workers():
    async def go(pool):
        a, b, c = await on_distinct_workers(pool, 3)
        for x, n in ((a, "wa"), (b, "Wb"), (c, "wc")):
            await x.login(n)
        line = Line(pool.d)
        try:
            # wc's login may reach the line user after it connected (its
            # worker reads wc's worker's ring in its own time).  A chat
            # from wc comes after it on that ring: once the line user has
            # it, no "wc: online" can come but from who.
            await c.send({"type": "user", "content": "sync"})
            line.wait(lambda ln: ln.endswith("]wc: sync"))
            mark = len(line.lines())
            await join(a, "den")
            await join(b, "den")
            line.send("join den\n")
            line.wait_line("system: joined den")
            # Name order folds ASCII case, as names do.
            everyone = sorted(["wa", "Wb", "wc", line.name], key=str.lower)
            m = await ask(c, {"type": "who"}, type="who")
            # The plain who is today's: no room, no "more".
            assert set(m) == {"type", "user_list"}, m
            assert sorted(m["user_list"], key=str.lower) == everyone, m
            # A room's members, from every worker, in name order (ASCII
            # case folded).
            m = await ask(c, {"type": "who", "room": "den"}, type="who")
            check_fields(m, room="den",
                         user_list=["127.0.0.1:%d" % line.port, "wa", "Wb"])
            assert "more" not in m, m
            m = await ask(a, {"type": "who", "room": "lobby"}, type="who")
            check_fields(m, room="lobby", user_list=["wc"])
            m = await ask(a, {"type": "who", "room": "empty"}, type="who")
            check_fields(m, room="empty", user_list=[])
            # Pages: limit and after.
            m = await ask(c, {"type": "who", "room": "den", "limit": 2},
                          type="who")
            check_fields(m, user_list=everyone[:1] + ["wa"], more=True)
            m = await ask(c, {"type": "who", "room": "den", "limit": 2,
                              "after": "WA"}, type="who")
            check_fields(m, user_list=["Wb"])
            assert "more" not in m, m
            m = await ask(c, {"type": "who", "after": "wb"}, type="who")
            check_fields(m, user_list=["wc"])
            # The server's cap (max_who_page 3) bounds any limit.
            m = await ask(c, {"type": "who", "limit": 100}, type="who")
            check_fields(m, user_list=everyone[:3], more=True)
            # Bad requests are answered, not guessed at.
            m = await ask(c, {"type": "who", "room": "a b"}, type="system")
            check_fields(m, code="bad_room")
            m = await ask(c, {"type": "who", "limit": 0}, type="system")
            check_fields(m, code="bad_message")
            # The line user's who of its room.
            line.send("who den\n")
            for n in ("wa", "Wb"):
                line.wait(lambda ln, n=n: ln.endswith("]%s: online" % n))
            line.send("who nowhere\n")
            line.wait_line("system: nobody is in nowhere")
            assert not [ln for ln in line.lines()[mark:]
                        if "]wc: online" in ln], line.lines()
        finally:
            line.close()
        for x in (a, b, c):
            x.check()
    on_rooms(go, opts={"max_who_page": 3})


# ---------------------------------------------------------------- join/leave


def test_joins_and_leaves_are_announced_to_the_two_rooms_only():
    async def go(pool):
        a, b, c, d = await on_distinct_workers(pool, 4)
        x = await pool.connect()    # a lobby client that never uses rooms
        for cl, n in ((a, "ja"), (b, "jb"), (c, "jc"), (d, "jd"),
                      (x, "jx")):
            await cl.login(n)
        await join(a, "den")
        await join(c, "attic")
        # b uses rooms (asks for them), and stays in the lobby.
        await ask(b, {"type": "rooms"}, type="rooms")

        await join(d, "den")
        m = await a.find(type="join", **{"from": "jd"})
        check_fields(m, room="den")
        m = await b.find(type="leave", **{"from": "jd"})
        check_fields(m, room="lobby")
        m = await d.find(type="join", **{"from": "jd"})
        await barrier(d, [a, d], "den")
        await ask(d, {"type": "leave"}, type="system", content="joined",
                  room="lobby")
        m = await a.find(type="leave", **{"from": "jd"})
        check_fields(m, room="den")
        m = await b.find(type="join", **{"from": "jd"})
        check_fields(m, room="lobby")
        # A join to the room one is in changes nothing, announces nothing.
        await join(d, "lobby")
        await barrier(d, [b, d, x])
        await barrier(c, [c], "attic")
        assert [m for m in c.msgs if m["type"] in ("join", "leave") and
                m["from"] != "jc"] == [], c.msgs
        assert len(b.find_all(type="join", **{"from": "jd"})) == 1, b.msgs
        # Nobody outside the two rooms heard, nor the lobby client that
        # never used rooms.
        assert [m for m in x.msgs if m["type"] in ("join", "leave")] == [], \
            x.msgs
        # Anonymous connections move unannounced: they are in no list.
        anon = await pool.connect()
        await join(anon, "den")
        await barrier(a, [a], "den")
        assert a.find_all(type="join", **{"from": anon.handshake["ip"]}) \
            == [], a.msgs
        for cl in (a, b, c, d, x):
            cl.check()
    on_rooms(go)


def test_logins_reach_every_room():
    async def go(pool):
        a, b = await on_distinct_workers(pool, 2)
        await a.login("la")
        await join(a, "den")
        line = Line(pool.d)
        try:
            line.send("join den\n")
            line.wait_line("system: joined den")
            # Logged in in the lobby, announced in den too.
            await b.login("lb")
            m = await a.find(type="login", user="lb")
            check_fields(m, room="lobby")
            assert "lb" in m["user_list"], m
            line.wait(lambda ln: ln.endswith("]lb: online"))
            # Logged in while in a room: the lobby hears it, with the room.
            e = await pool.connect()
            await join(e, "attic")
            await e.login("le")
            m = await b.find(type="login", user="le")
            check_fields(m, room="attic")
            await e.send({"type": "logout"})
            await a.find(type="logout", user="le")
            line.wait(lambda ln: ln.endswith("]le: offline"))
        finally:
            line.close()
    on_rooms(go)


# ---------------------------------------------------------------- rooms


def test_rooms_counts_the_names_in_each_room_across_workers():
    async def go(pool):
        cs = await on_distinct_workers(pool, 3)
        more = await pool.connect_many(3)
        names = ["r%d" % i for i in range(6)]
        for cl, n in zip(cs + more, names):
            await cl.login(n)
        for cl, room in zip(cs + more, ["b", "a", "b", "b", "lobby",
                                        "a"]):
            if room != "lobby":
                await join(cl, room)
        anon = await pool.connect()     # not counted: no name
        await join(anon, "c")
        line = Line(pool.d)
        try:
            line.send("join a\n")
            line.wait_line("system: joined a")
            want = [{"room": "lobby", "members": 1},
                    {"room": "a", "members": 3},
                    {"room": "b", "members": 3}]
            m = await ask(cs[0], {"type": "rooms"}, type="rooms")
            assert m == {"type": "rooms", "rooms": want}, m
            line.send("rooms\n")
            line.wait_line("room b: 3 online")
            ls = line.lines()
            i = ls.index("room lobby: 1 online")
            assert ls[i:i + 3] == ["room lobby: 1 online",
                                   "room a: 3 online",
                                   "room b: 3 online"], ls
            # Rooms empty of names go from the list.
            for cl in cs + more:
                await ask(cl, {"type": "leave"}, type="system",
                          content="joined", room="lobby")
            line.send("leave\n")
            line.wait_line("system: joined lobby")
            m = await ask(cs[1], {"type": "rooms"}, type="rooms")
            assert m["rooms"] == [{"room": "lobby", "members": 7}], m
        finally:
            line.close()
    on_rooms(go)


def test_max_rooms_bounds_the_rooms_of_a_worker():
    async def go(pool):
        a, b, c = [await pool.connect() for _ in range(3)]
        await join(a, "one")
        await join(b, "two")
        m = await ask(c, {"type": "join", "room": "three"}, type="system",
                      code="server_full")
        assert "2 rooms" in m["content"], m
        await join(c, "one")            # an existing room: fine
        # Whoever empties a room may move to a new one.
        await join(b, "four")
        m = await ask(c, {"type": "rooms"}, type="rooms")
        assert m["rooms"] == [{"room": "lobby", "members": 0}], m
    d = wstest.shared_daemon("rooms1", workers=1, line=False,
                             opts={"max_rooms": 2, "command_rate": 1000})
    with_pool(d, go, 30)


def test_rooms_and_who_agree_after_many_moves_at_once():
    """60 users on four workers move between five rooms at the same time,
    five times each; then rooms and who of each room, asked on any
    worker, match where each one last said it was."""
    async def go(pool):
        cs = await pool.connect_many(60)
        await asyncio.gather(*(c.login("m%02d" % i)
                               for i, c in enumerate(cs)))
        where = {}

        async def wander(i, c):
            for k in range(5):
                room = "q%d" % ((i * 7 + k * 3) % 5)
                await join(c, room)
            where[c.name] = room
        await asyncio.gather(*(wander(i, c) for i, c in enumerate(cs)))
        counts = {}
        for n, r in where.items():
            counts[r] = counts.get(r, 0) + 1
        want = [{"room": "lobby", "members": 0}] + [
            {"room": r, "members": counts[r]} for r in sorted(counts)]
        for c in cs[:4]:
            m = await ask(c, {"type": "rooms"}, type="rooms")
            assert m["rooms"] == want, (m, want)
        for r in counts:
            m = await ask(cs[5], {"type": "who", "room": r}, type="who")
            assert m["user_list"] == sorted(n for n in where
                                            if where[n] == r), (r, m)
        for c in cs:
            c.check()
    on_rooms(go, 90)


# ---------------------------------------------------------------- line port


def test_line_users_join_leave_and_chat_in_rooms():
    d = daemon()
    u, v, rest = on_two_workers(d)
    for r in rest:
        r.close()

    async def go(pool):
        ws = await pool.connect()
        await ws.login("lw")
        await join(ws, "games")
        u.send("help\n")
        u.wait_line("system: join ROOM - move to ROOM (you start in lobby)")
        u.wait_line("system: anything else - chat to everyone in your room")
        u.send("join games\n")
        u.wait_line("system: joined games")
        m = await ws.find(type="join", **{"from": u.name})
        check_fields(m, room="games")
        u.wait_line("[%s]%s: joined games" % (u.name, u.name))
        u.send("in games\n")
        m = await ws.find(type="user", content="in games")
        check_fields(m, room="games")
        u.wait_line("[%s]%s: in games" % (u.name, u.name))
        # v, in the lobby, never used rooms: it hears nothing of games.
        v.send("lobby talk\n")
        v.wait_line("[%s]%s: lobby talk" % (v.name, v.name))
        await ws.send({"type": "user", "content": "from ws"})
        u.wait_line("[127.0.0.1:%d]lw: from ws" % ws.port)
        v.send("join games\n")
        u.wait_line("[%s]%s: joined games" % (v.name, v.name))
        v.send("rooms\n")
        v.wait_line("room games: 3 online")
        u.send("leave\n")
        u.wait_line("system: joined lobby")
        v.wait_line("[%s]%s: left games" % (u.name, u.name))
        await ws.find(type="leave", **{"from": u.name})
        # Bad rooms get the reason, and are never chat.
        u.send("join a b\n")
        u.wait_line("error: a room name may not contain whitespace "
                    "(U+0020 at byte 2)")
        u.send("join\n")
        u.wait_line("error: join needs a room: join ROOM")
        assert not [ln for ln in u.lines() if ln.endswith("]%s: lobby talk" %
                                                         v.name)]
        assert not [ln for ln in v.lines() if ln.endswith("]%s: in games" %
                                                         u.name)]
        assert not [ln for ln in u.lines() if ln.endswith(": join a b")]
    try:
        with_pool(d, go, 60)
    finally:
        u.close()
        v.close()


# ---------------------------------------------------------------- v1 lobby


def test_a_lobby_client_that_never_uses_rooms_sees_what_it_always_did():
    """Everyone in the lobby: the v1 frames of today, exactly; and others'
    rooms add no frame types it does not know."""
    async def go(pool):
        x, y = await on_distinct_workers(pool, 2)
        await x.login("vx")
        await y.login("vy")
        await y.send({"type": "user", "content": "hello"})
        await y.send({"type": "to", "to": "vx", "content": "psst"})
        await y.send({"type": "rename", "content": "vy2"})
        await x.find(type="rename", content="vy2")
        await ask(x, {"type": "who"}, type="who")
        await y.send({"type": "logout"})
        await x.find(type="logout", user="vy2")
        got = [(m["type"], sorted(m)) for m in x.msgs]
        assert got == [
            ("handshake", ["ip", "type", "user_list"]),
            ("login", ["content", "from", "room", "type", "user",
                       "user_list"]),
            ("login", ["content", "from", "room", "type", "user",
                       "user_list"]),
            ("user", ["content", "from", "id", "room", "timestamp",
                      "type"]),
            ("private", ["content", "from", "id", "timestamp", "to",
                         "type"]),
            ("rename", ["content", "from", "type", "user_list"]),
            ("who", ["type", "user_list"]),
            ("logout", ["content", "from", "type", "user", "user_list"]),
        ], x.msgs
        # Others move between rooms: x gets no join or leave.
        z = await pool.connect()
        await z.login("vz")
        await join(z, "den")
        await join(z, "lobby")
        await barrier(z, [x, z])
        types = {m["type"] for m in x.msgs}
        assert types <= {"handshake", "login", "logout", "user", "private",
                         "rename", "who"}, x.msgs
        x.check()
    on_rooms(go)


if __name__ == "__main__":
    wstest.main()
