#!/usr/bin/env python3
"""End-to-end tests of how history and resume look on the wire
(issue 16): the shapes the codecs write for the real daemon in JSON and
MessagePack, version 1 and 2 alike, and the requests they refuse, with
their reasons.  What the hub keeps and replays is test_v2.py's."""

import json
import re

import msgpack

import chatclient
from wstest import Daemon, main, run_async

V2J = "wschat.v2.json"
V2M = "wschat.v2.msgpack"
HISTORY_KEYS = ["type", "room", "epoch", "messages", "more"]


def keys(raw):
    """The keys of an object in the order the server wrote them."""
    if isinstance(raw, bytes):
        return [k for k, _ in msgpack.unpackb(raw, raw=False,
                                              object_pairs_hook=list)]
    return [k for k, _ in json.loads(raw, object_pairs_hook=list)]


async def ask(c, req, **fields):
    """Send req; the first answer with these fields after it, and its
    bytes as they came."""
    since = len(c.msgs)
    await c.send(req)
    await c.find(since=since, **fields)
    i = next(i for i in range(since, len(c.msgs))
             if all(c.msgs[i].get(k) == v for k, v in fields.items()))
    return c.msgs[i], c.raws[i]


def test_a_history_is_the_messages_as_they_came_live():
    async def go(d):
        room = "wire"
        a = await chatclient.connect(d)
        b = await chatclient.connect(d, mp=True)
        await a.login("ann")
        for c in (a, b):
            await ask(c, {"type": "join", "room": room}, type="system",
                      content="joined")
        live = []
        for text in ("one", "two\n\"2\""):
            m, _ = await ask(a, {"type": "user", "content": text},
                             type="user", content=text)
            live.append(m)
        # The room's page: the keys in this order, "more" either way.
        for c in (a, b):
            m, raw = await ask(c, {"type": "history", "room": room},
                               type="history")
            assert keys(raw) == HISTORY_KEYS, raw
            assert m["room"] == room
            assert re.fullmatch(r"[0-9a-f]{16}", m["epoch"]), m
            assert m["messages"] == live, m
            assert m["more"] is False
        # A page of one: the latest, and older ones exist.
        m, _ = await ask(a, {"type": "history", "limit": 1},
                         type="history")
        assert m["messages"] == live[1:] and m["more"] is True, m
        # Before the latest's id: the one before.
        m, _ = await ask(b, {"type": "history", "room": room,
                             "before": live[1]["id"]}, type="history")
        assert m["messages"] == live[:1] and m["more"] is False, m
        # "before" 0: as if absent.
        m, _ = await ask(a, {"type": "history", "before": 0},
                         type="history")
        assert m["messages"] == live, m
        for c in (a, b):
            c.check()
            await c.close()

    with Daemon(workers=1, line=False) as d:
        run_async(go(d))


def test_version_2_gets_a_session_and_epochs():
    async def go(d):
        for proto in (V2J, V2M):
            c = await chatclient.connect(d, subprotocol=proto)
            name = "v2" + proto[-4:]
            since = len(c.msgs)
            await c.send({"type": "login", "content": name})
            li = await c.find(since=since, type="system", code="logged_in")
            raw = c.raws[c.msgs.index(li)]
            k = keys(raw)
            assert k[-2:] == ["session", "resume_timeout"], raw
            assert isinstance(li["session"], str) and \
                1 <= len(li["session"]) <= 128, li
            assert isinstance(li["resume_timeout"], int), li
            h = await c.find(since=since, type="history")
            assert keys(c.raws[c.msgs.index(h)]) == HISTORY_KEYS
            # Chat in v2 carries the epoch, last.
            m, raw = await ask(c, {"type": "user", "content": "e"},
                               type="user", content="e")
            assert keys(raw)[-2:] == ["id", "epoch"], raw
            assert m["epoch"] == h["epoch"], (m, h)
            # And a history's messages are the live ones, epoch and all.
            hm, _ = await ask(c, {"type": "history"}, type="history")
            assert hm["messages"][-1] == m, (hm, m)
            c.check()
            await c.close()

    with Daemon(workers=1, line=False) as d:
        run_async(go(d))


# Requests refused, and a word of the reason each must name.
BAD = [
    ({"type": "history", "before": -1}, '"before"'),
    ({"type": "history", "before": "7"}, '"before"'),
    ({"type": "history", "before": 1.5}, '"before"'),
    ({"type": "history", "limit": 0}, '"limit"'),
    ({"type": "history", "limit": [3]}, '"limit"'),
    ({"type": "resume"}, '"session"'),
    ({"type": "resume", "session": ""}, '"session"'),
    ({"type": "resume", "session": "k" * 129}, '"session"'),
    ({"type": "resume", "session": "t", "since": []}, '"since"'),
    ({"type": "resume", "session": "t", "since": {"a": -1}}, '"since"'),
    ({"type": "resume", "session": "t",
      "since": {"r%d" % i: i for i in range(65)}}, '"since"'),
]


def test_bad_history_and_resume_requests_say_why():
    async def go(d):
        for proto in (None, V2J, V2M):
            c = await chatclient.connect(d, subprotocol=proto)
            for req, word in BAD:
                m, _ = await ask(c, req, type="system", code="bad_message")
                assert word in m["content"], (proto, req, m)
            # Still open, and still answering.
            await ask(c, {"type": "history"}, type="history")
            c.check()
            await c.close()

    with Daemon(workers=1, line=False) as d:
        run_async(go(d))


if __name__ == "__main__":
    main()
