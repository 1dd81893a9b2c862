#!/usr/bin/env python3
"""End-to-end tests of the line protocol (the nc chat room): raw TCP
line users mixed with WebSocket users in one chat, across workers, and
hostile input on the line port.  Line users are plain sockets, as `nc`
would be; WebSocket users are python3-websockets clients."""

import asyncio
import json
import os
import signal
import socket
import threading
import time

import websockets

import wstest
from wstest import wait_for


def daemon(name="main", **kw):
    kw.setdefault("workers", 2)
    return wstest.shared_daemon(name, **kw)


class Line:
    """A line user: a TCP socket and everything it has received."""

    def __init__(self, d, wait_online=True):
        self.sock = socket.create_connection(("127.0.0.1", d.line_port),
                                             timeout=5)
        self.port = self.sock.getsockname()[1]
        self.name = "127.0.0.1:%d" % self.port
        self.buf = b""
        self.eof = False
        # Until its own "online" arrives, its worker may not have accepted
        # it yet, and events published meanwhile do not reach it.
        if wait_online:
            self.wait_line("[%s]%s: online" % (self.name, self.name))

    def send(self, text):
        self.sock.sendall(text if isinstance(text, bytes) else
                          text.encode())

    def _pump(self, timeout):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
        self.buf += data

    def lines(self):
        return self.buf.decode("utf-8").split("\n")[:-1]

    def wait(self, pred, timeout=10, what="a line"):
        deadline = time.monotonic() + timeout
        while True:
            got = [ln for ln in self.lines() if pred(ln)]
            if got:
                return got[0]
            if self.eof or time.monotonic() > deadline:
                raise AssertionError("%s: no %s; got %r" % (
                    self.name, what, self.lines()[-8:]))
            self._pump(0.2)

    def wait_line(self, line, timeout=10):
        return self.wait(lambda ln: ln == line, timeout, repr(line))

    def wait_eof(self, timeout=10):
        deadline = time.monotonic() + timeout
        while not self.eof:
            if time.monotonic() > deadline:
                raise AssertionError("%s: still open" % self.name)
            self._pump(0.2)

    def close(self):
        self.sock.close()


def on_two_workers(d, n=16):
    """Line users until two of them sit on different workers."""
    users = [Line(d) for _ in range(n)]
    owners = d.line_owners([u.port for u in users])
    first = users[0]
    for u, o in zip(users, owners):
        if o != owners[0]:
            return first, u, [x for x in users if x not in (first, u)]
    raise AssertionError("all %d line users on one worker" % n)


async def ws_connect(d):
    ws = await websockets.connect("ws://127.0.0.1:%d/ws" % d.port,
                                  ping_interval=None)
    hs = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert hs["type"] == "handshake"
    return ws, hs


async def ws_find(ws, pred, timeout=10):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        m = json.loads(await asyncio.wait_for(ws.recv(),
                                              deadline - loop.time()))
        if pred(m):
            return m


def test_line_users_chat_across_workers():
    d = daemon()
    a, b, rest = on_two_workers(d)
    try:
        # a came first: it sees b arrive.
        a.wait_line("[%s]%s: online" % (b.name, b.name))
        a.send("hello from a\r\n")
        b.wait_line("[%s]%s: hello from a" % (a.name, a.name))
        a.wait_line("[%s]%s: hello from a" % (a.name, a.name))
        b.send("rename bob\n")
        a.wait_line("[%s]%s: renamed to bob" % (b.name, b.name))
        a.send("to bob psst\n")
        b.wait_line("%s says to you: psst" % a.name)
        a.send("to nobody hi\n")
        a.wait(lambda ln: ln.startswith("error:") and "nobody" in ln)
    finally:
        for u in [a, b] + rest:
            u.close()


def test_line_and_websocket_users_are_one_chat():
    d = daemon()

    async def go():
        ln = Line(d)
        try:
            ws, hs = await ws_connect(d)
            await ws.send(json.dumps({"type": "login", "content": "webby"}))
            ln.wait_line("[%s]webby: online" % hs["ip"])
            await ws.send("from the web")
            ln.wait_line("[%s]webby: from the web" % hs["ip"])
            ln.send("from the line\n")
            m = await ws_find(ws, lambda m: m["type"] == "user" and
                              m["from"] == ln.name)
            assert m["content"] == "from the line" and m["room"] == "lobby"
            # Private, both ways.
            ln.send("to webby psst\n")
            m = await ws_find(ws, lambda m: m["type"] == "private")
            assert (m["from"], m["to"], m["content"]) == \
                (ln.name, "webby", "psst"), m
            await ws.send(json.dumps({"type": "to", "to": ln.name,
                                      "content": "back"}))
            ln.wait_line("webby says to you: back")
            # who lists everyone, in both formats.
            ln.send("who\n")
            ln.wait_line("[%s]webby: online" % hs["ip"])
            ln.wait_line("[%s]%s: online" % (ln.name, ln.name))
            await ws.send(json.dumps({"type": "who"}))
            m = await ws_find(ws, lambda m: m["type"] == "who")
            assert {"webby", ln.name} <= set(m["user_list"]), m
            # Names are unique across the two kinds.  A line user's
            # default name is not to be had at all: it is an address.
            ws2, _ = await ws_connect(d)
            await ws2.send(json.dumps({"type": "login",
                                       "content": ln.name}))
            m = await ws_find(ws2, lambda m: m["type"] == "system")
            assert m["code"] == "bad_name", m
            ln.send("rename liner\n")
            m = await ws_find(ws, lambda m: m["type"] == "rename")
            assert (m["from"], m["content"]) == (ln.name, "liner"), m
            await ws2.send(json.dumps({"type": "login",
                                       "content": "liner"}))
            m = await ws_find(ws2, lambda m: m["type"] == "system")
            assert m["code"] == "name_taken", m
            ln.send("rename webby\n")
            ln.wait(lambda x: x.startswith("error:") and "taken" in x)
            await ws2.close()
            # A line user leaving is a logout for WebSocket users.
            ln.close()
            m = await ws_find(ws, lambda m: m["type"] == "logout")
            assert m["user"] == "liner", m
            await ws.close()
        finally:
            ln.close()
    wstest.run_async(go(), 60)


def test_nobody_can_send_control_sequences_to_a_terminal():
    # What a user sends reaches other terminals with every control
    # character shown, never acting: not from the line port, not from a
    # WebSocket, not in a name.
    d = daemon()

    async def go():
        reader = Line(d)
        evil = Line(d)
        try:
            reader.wait_line("[%s]%s: online" % (evil.name, evil.name))
            evil.send(b"\033]0;HACKED\007\033[31mred\033[0m\t\x7f\n")
            reader.wait_line("[%s]%s: ^[]0;HACKED^G^[[31mred^[[0m^I^?" %
                             (evil.name, evil.name))
            ws, hs = await ws_connect(d)
            await ws.send("\x1b[2J\u009b2J\u202eevil\u2066x\u0085")
            reader.wait_line("[%s]%s: ^[[2J<U+009B>2J<U+202E>evil"
                             "<U+2066>x<U+0085>" % (hs["ip"], hs["ip"]))
            await ws.close()
            assert b"\x1b" not in reader.buf and b"\x07" not in reader.buf
            assert b"\xc2\x9b" not in reader.buf
            assert b"\xe2\x80\xae" not in reader.buf
        finally:
            evil.close()
            reader.close()
    wstest.run_async(go(), 60)


def test_a_private_message_is_never_broadcast():
    # "to NAME" without a text, and the forms that split on other blanks,
    # reach nobody else: an error line, or the addressee alone.
    d = daemon()
    a, b, c = Line(d), Line(d), Line(d)
    try:
        a.wait_line("[%s]%s: online" % (c.name, c.name))
        for bad in ("to %s" % b.name, "to %s   " % b.name, "to", "to   "):
            a.send(bad + "\n")
            a.wait(lambda ln: ln == "error: to needs a name and a text: "
                   "to NAME text", what="the error for %r" % bad)
            a.buf = b""
        a.send("to\t%s one\n" % b.name)
        a.send("to  %s two\n" % b.name)
        a.send("  to %s\t three  \n" % b.name)
        for text in ("one", "two", "three"):
            b.wait_line("%s says to you: %s" % (a.name, text))
        a.send("rename\n")
        a.wait_line("error: rename needs a name: rename NAME")
        a.send("  who  \n")
        a.wait_line("[%s]%s: online" % (b.name, b.name))
        # A marker after everything: c got no private text and no "to".
        a.send("marker\n")
        c.wait_line("[%s]%s: marker" % (a.name, a.name))
        for ln in c.lines():
            assert "to" not in ln.split(": ", 1)[-1].split()[:1] and \
                "one" not in ln and "two" not in ln and "three" not in ln, ln
    finally:
        for u in (a, b, c):
            u.close()


HELP = [
    "system: who - list everyone online",
    "system: who ROOM - list who is in ROOM",
    "system: rename NAME - change your name to NAME",
    "system: to NAME TEXT - send TEXT to NAME only",
    "system: join ROOM - move to ROOM (you start in lobby)",
    "system: leave - go back to lobby",
    "system: rooms - list the rooms and how many are in each",
    "system: history [N] - show the last N messages of your room",
    "system: help - show this list",
    "system: quit - leave the chat",
    "system: anything else - chat to everyone in your room",
]


def test_help_lists_the_commands():
    # One system line per command, to the asker alone; "help me" is chat.
    d = daemon()
    a, b = Line(d), Line(d)
    try:
        a.wait_line("[%s]%s: online" % (b.name, b.name))
        a.buf = b""
        a.send("  help\t\n")
        a.wait_line(HELP[-1])
        # Others' comings and goings may come between, not other notices.
        got = [ln for ln in a.lines() if not ln.startswith("[")]
        assert got == HELP, a.lines()
        # Every command the document lists is in it.
        for word in ("who", "rename", "to", "history", "help", "quit"):
            assert any(ln.startswith("system: %s " % word) for ln in HELP)
        a.send("help me\n")
        b.wait_line("[%s]%s: help me" % (a.name, a.name))
        assert not [ln for ln in b.lines() if ln.startswith("system:")], \
            b.lines()
    finally:
        a.close()
        b.close()


HISTORY_BAD = ("error: history takes a number of messages, 1 to 1000000: "
               "history [N]")


def mine(u):
    """u's lines but others' comings and goings, which may come between."""
    return [ln for ln in u.lines()
            if not ln.endswith((": online", ": offline"))]


def test_history_shows_the_rooms_last_messages_as_chat_lines():
    # "history [N]": the room's last N messages, oldest first, each the
    # line it was live (escaped the same); none: a line that says so; a
    # bad number or more words: an error, not chat.
    d = daemon()
    a = Line(d)
    room = "hist%d" % a.port
    try:
        a.send("join %s\n" % room)
        a.wait_line("system: joined %s" % room)
        a.send("history\n")
        a.wait_line("system: no messages")
        for text in ("one", "two \x1b[2J", "three"):
            a.send(text + "\n")
        me = "[%s]%s: " % (a.name, a.name)
        a.wait_line(me + "three")
        a.buf = b""
        a.send("history 2\n")
        a.wait_line(me + "three")
        assert mine(a) == [me + "two ^[[2J", me + "three"], a.lines()
        a.buf = b""
        a.send("  history\t\n")
        a.wait_line(me + "three")
        assert mine(a) == [me + "one", me + "two ^[[2J", me + "three"], \
            a.lines()
        for bad in ("history 0", "history 5 6", "history 1000001",
                    "history ten"):
            a.buf = b""
            a.send(bad + "\n")
            a.wait_line(HISTORY_BAD)
            assert mine(a) == [HISTORY_BAD], a.lines()
    finally:
        a.close()


def test_quit_says_goodbye_and_closes():
    # A goodbye line, the last one; then the server closes the connection
    # and everyone sees the user go, as after any logout.
    d = daemon()
    a, b, rest = on_two_workers(d)
    try:
        a.wait_line("[%s]%s: online" % (b.name, b.name))
        b.send("rename quitter\n")
        a.wait_line("[%s]%s: renamed to quitter" % (b.name, b.name))
        b.send("quit now\n")
        a.wait_line("[%s]quitter: quit now" % b.name)
        b.send(" quit \r\nnever sent\n")
        b.wait_eof()
        assert b.lines()[-1] == "system: goodbye", b.lines()[-4:]
        a.wait_line("[%s]quitter: offline" % b.name)
        # Its name is free at once.
        a.send("rename quitter\n")
        a.wait_line("[%s]%s: renamed to quitter" % (a.name, a.name))
        assert not [ln for ln in a.lines() if "never sent" in ln]
    finally:
        for u in [a, b] + rest:
            u.close()


def test_a_line_user_sees_the_private_messages_it_sends():
    # "you -> NAME: text", as wschat shows it, to a line user and to a
    # WebSocket user, on this worker and on another; the addressee's line
    # is unchanged, and a message to oneself comes once.
    d = daemon()

    async def go():
        a, b, rest = on_two_workers(d)
        try:
            a.wait_line("[%s]%s: online" % (b.name, b.name))
            b.send("rename bea\n")
            a.wait_line("[%s]%s: renamed to bea" % (b.name, b.name))
            a.send("to bea  psst \033[2J\n")
            a.wait_line("you -> bea: psst ^[[2J")
            b.wait_line("%s says to you: psst ^[[2J" % a.name)
            assert not [ln for ln in b.lines() if ln.startswith("you ->")]
            owners = d.line_owners([u.port for u in [a] + rest])
            same = [u for u, o in zip(rest, owners[1:]) if o == owners[0]]
            assert same, "nobody else on a's worker"
            same = same[0]
            a.send("to %s same worker\n" % same.name)
            a.wait_line("you -> %s: same worker" % same.name)
            same.wait_line("%s says to you: same worker" % a.name)
            ws, hs = await ws_connect(d)
            await ws.send(json.dumps({"type": "login", "content": "webby"}))
            a.wait_line("[%s]webby: online" % hs["ip"])
            a.send("to webby hi web\n")
            a.wait_line("you -> webby: hi web")
            m = await ws_find(ws, lambda m: m["type"] == "private")
            assert (m["from"], m["to"], m["content"]) == \
                (a.name, "webby", "hi web"), m
            await ws.close()
            a.send("to %s me\n" % a.name)
            a.send("marker\n")
            a.wait_line("[%s]%s: marker" % (a.name, a.name))
            mine = [ln for ln in a.lines() if ln.endswith(": me")]
            assert mine == ["%s says to you: me" % a.name], mine
        finally:
            for u in [a, b] + rest:
                u.close()
    wstest.run_async(go(), 60)


def test_rename_refuses_names_that_break_a_rule_with_the_reason():
    # The rules of /ws, with the reason on the error line; a refused
    # name is nobody's, and an accepted one can be written to.
    d = daemon()
    a, b = Line(d), Line(d)
    try:
        a.wait_line("[%s]%s: online" % (b.name, b.name))
        space = "error: a name may not contain whitespace"
        ctl = "error: a name may not contain control characters"
        fmt = "error: a name may not contain invisible or bidi format " \
            "characters"
        addr = "error: a name may not look like IP:PORT, the name of an " \
            "anonymous user"
        for line, want in (
                ("rename a b c", space + " (U+0020 at byte 2)"),
                ("rename  a\tb", space + " (U+0009 at byte 2)"),
                ("rename nb\u00a0sp", space + " (U+00A0 at byte 3)"),
                ("rename ideo\u3000sp", space + " (U+3000 at byte 5)"),
                ("rename esc\x1b[2J", ctl + " (U+001B at byte 4)"),
                ("rename del\x7f", ctl + " (U+007F at byte 4)"),
                ("rename csi\u009b", ctl + " (U+009B at byte 4)"),
                ("rename \u202eecila", fmt + " (U+202E at byte 1)"),
                ("rename zw\u200bsp", fmt + " (U+200B at byte 3)"),
                ("rename \ufeffbom", fmt + " (U+FEFF at byte 1)"),
                ("rename 127.0.0.1:5000", addr),
                ("rename %s-2" % b.name, addr),
                ("rename [::1]:8888", addr),
                ("rename " + "x" * 33, "error: a name is 1 to 32 bytes of "
                 "UTF-8; this one has 33")):
            a.buf = b""
            a.send(line + "\n")
            a.wait_line(want)
        # The name from the issue, which line users could not address,
        # and the one they can.
        a.send("rename vic \u00fc \U0001f642\n")
        a.wait_line(space + " (U+0020 at byte 4)")
        a.send("rename Zo\u00eb\U0001f642\n")
        b.wait_line("[%s]%s: renamed to Zo\u00eb\U0001f642" %
                    (a.name, a.name))
        b.send("to zo\u00eb\U0001f642 found\n")
        a.wait_line("%s says to you: found" % b.name)
        # b saw none of the refused names.
        renames = [ln for ln in b.lines() if "renamed to" in ln]
        assert renames == ["[%s]%s: renamed to Zo\u00eb\U0001f642" %
                           (a.name, a.name)], renames
    finally:
        a.close()
        b.close()


def test_names_are_one_name_in_any_ascii_case_on_the_line_port():
    d = daemon()

    async def go():
        ln = Line(d)
        try:
            ws, hs = await ws_connect(d)
            await ws.send(json.dumps({"type": "login", "content": "alice"}))
            ln.wait_line("[%s]alice: online" % hs["ip"])
            ln.send("rename Alice\n")
            ln.wait_line("error: the name Alice is taken: alice is online, "
                         "and names that differ only in case are one name")
            ln.send("to ALICE hi\n")
            m = await ws_find(ws, lambda m: m["type"] == "private")
            assert (m["from"], m["to"], m["content"]) == \
                (ln.name, "alice", "hi"), m
            # The sender's copy names her as she writes her name.
            ln.wait_line("you -> alice: hi")
            ln.send("rename Liner\n")
            ln.wait_line("[%s]%s: renamed to Liner" % (ln.name, ln.name))
            await ws.send(json.dumps({"type": "to", "to": "LINER",
                                      "content": "back"}))
            ln.wait_line("alice says to you: back")
            await ws.send(json.dumps({"type": "rename",
                                      "content": "liner"}))
            m = await ws_find(ws, lambda m: m["type"] == "system")
            assert m["code"] == "name_taken", m
            await ws.close()
        finally:
            ln.close()
    wstest.run_async(go(), 60)


def test_empty_lines_are_ignored():
    d = daemon()
    u = Line(d)
    try:
        u.wait_line("[%s]%s: online" % (u.name, u.name))
        u.send("\n\r\n\nafter\n")
        u.wait_line("[%s]%s: after" % (u.name, u.name))
        assert not [ln for ln in u.lines() if ln.endswith(": ")]
    finally:
        u.close()


def test_hostile_input_costs_only_the_sender():
    d = daemon("flood", opts={"max_message_size": 65536})
    bystander, other = Line(d), Line(d)
    try:
        bystander.wait_line("[%s]%s: online" % (other.name, other.name))
        # NUL and invalid UTF-8 cost that line, with an error line.
        other.send(b"a\x00b\n\xff\xfe\xfd\n\xc3\n")
        other.send("still here\n")
        bystander.wait_line("[%s]%s: still here" % (other.name,
                                                      other.name))
        # Its own chat comes back after its errors, in order.
        other.wait_line("[%s]%s: still here" % (other.name, other.name))
        errors = [ln for ln in other.lines() if ln.startswith("error:")]
        assert errors == ["error: NUL byte in the line; ignored"] + \
            ["error: the line is not UTF-8; ignored"] * 2, errors
        assert not [ln for ln in bystander.lines() if "a\x00b" in ln]
        # Binary garbage without a newline past max_line_length: an
        # error, the rest of the line is skipped, and other stays.
        other.send(bytes(range(128, 256)) * 80)
        other.wait(lambda ln: ln.startswith("error: line longer"))
        other.send(b"\nafter the garbage\n")
        bystander.wait_line("[%s]%s: after the garbage" % (other.name,
                                                             other.name))
        # One that goes on past max_message_size is a flood: closed.
        other.send(b"z" * 70000)
        other.wait(lambda ln: ln.startswith("error: line longer") and
                   ln.endswith("closing"))
        other.wait_eof()
        bystander.wait_line("[%s]%s: offline" % (other.name, other.name))
        bystander.send("bystander fine\n")
        bystander.wait_line("[%s]%s: bystander fine" % (bystander.name,
                                                          bystander.name))
    finally:
        bystander.close()
        other.close()


def test_a_line_user_cut_off_leaves_the_chat_at_once():
    # After a line that goes on past max_message_size the server half-closes and waits up to
    # close_timeout for the user's FIN; nc need not send one.  The user
    # is offline (and its name free) from the moment it is cut off.
    d = daemon("linger", opts={"close_timeout": 120,
                               "max_message_size": 4096})
    bystander, other = Line(d), Line(d)
    try:
        bystander.wait_line("[%s]%s: online" % (other.name, other.name))
        other.send(b"y" * 20000)
        other.wait(lambda ln: ln.startswith("error: line longer") and
                   ln.endswith("closing"))
        other.wait_eof()
        # other's socket stays open: no FIN from it.
        bystander.wait_line("[%s]%s: offline" % (other.name, other.name),
                            timeout=30)
    finally:
        bystander.close()
        other.close()


def test_a_line_user_that_never_reads_is_dropped():
    d = daemon("slow", opts={"max_pending": 65536, "command_rate": 1000000})
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", d.line_port))
    talker = Line(d)
    # The talker reads everything it is sent, as a well-behaved user
    # does: one that stopped reading would be paused (the server stops
    # reading from a client that does not take its own output), and
    # then, sitting on the other worker, the slow user might never be
    # sent enough to cross max_pending.
    stop = threading.Event()
    tail = bytearray()
    # A socket object has one timeout: the reader gets a socket of its
    # own, so that its short one does not cut the sender's sendall.
    rsock = talker.sock.dup()
    rsock.settimeout(0.2)
    talker.sock.settimeout(60)

    def drain():
        while not stop.is_set():
            try:
                data = rsock.recv(262144)
            except socket.timeout:
                continue
            except OSError:
                return
            if not data:
                return
            tail.extend(data)
            del tail[:-65536]

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    # The server writes as much as the kernel takes, and the kernel's
    # send buffer grows to tcp_wmem's maximum before max_pending counts:
    # send that much and more.
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            wmem = int(f.read().split()[2])
    except (OSError, ValueError, IndexError):
        wmem = 4194304
    try:
        chunk = ("x" * 3000 + "\n").encode()
        n = 2 * (wmem + 2 * 1024 * 1024) // len(chunk)
        for i in range(n):
            talker.sock.sendall(b"%d " % i + chunk)
            if i % 64 == 0 and "slow consumer" in d.log():
                break
        wait_for(lambda: "slow consumer" in d.log(), 30,
                 what="the slow line user to be dropped")
        assert "127.0.0.1:%d: slow consumer" % slow.getsockname()[1] in \
            d.log(), d.log()[-2000:]
        talker.sock.sendall(b"after\n")
        wait_for(lambda: b": after\n" in tail, 30,
                 what="the talker's own line after the drop")
    finally:
        stop.set()
        reader.join(5)
        rsock.close()
        slow.close()
        talker.close()


def test_a_line_user_that_never_reads_its_errors_is_dropped():
    # Each line over max_line_length gets an error line and the user
    # stays; one that never reads them lets them pile up like any other
    # output, and is a slow consumer past max_pending.  With
    # max_line_length at its least (16), the error line (44 bytes) is
    # longer than the line (18 bytes) that earns it.
    d = daemon("errflood", opts={"max_line_length": 16,
                                 "max_pending": 65536,
                                 "max_message_size": 4096})
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", d.line_port))
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            wmem = int(f.read().split()[2])
    except (OSError, ValueError, IndexError):
        wmem = 4194304
    chunk = b"x" * 17 + b"\n"
    block = chunk * 4096
    try:
        # Three times the kernel's send buffer in error lines, and more.
        for _ in range(3 * wmem // (44 * 4096) + 2):
            slow.sendall(block)
    except OSError:
        pass            # dropped while we still wrote: what we want
    # Now read: the error lines the kernel holds, then the end that the
    # drop made (its log line may fall to log_client_rate: a line too
    # long is logged too).  Not dropped, the socket would stay open.
    slow.settimeout(5)
    try:
        while slow.recv(1 << 20):
            pass
    except ConnectionResetError:
        pass
    except socket.timeout:
        raise AssertionError("a line user that reads no error line is "
                             "never dropped")
    finally:
        slow.close()


def test_one_text_limit_on_every_port():
    # Issue 14, item 15: a line user's 5,000-byte line was an error and a
    # disconnect while a web user's 10,000 characters reached line users.
    # Now max_text_length (4k) holds for both, and nobody is cut off.
    d = daemon("textlimit")
    liner, bystander = Line(d), Line(d)

    async def go():
        ws, hs = await ws_connect(d)
        try:
            await ws.send(json.dumps({"type": "login", "content": "webby"}))
            await ws_find(ws, lambda m: m["type"] == "login")
            for msg in ({"type": "user", "content": "w" * 10000},
                        {"type": "to", "to": liner.name,
                         "content": "p" * 5000},
                        "r" * 4097):
                await ws.send(msg if isinstance(msg, str) else
                              json.dumps(msg))
                m = await ws_find(ws, lambda m: m["type"] == "system")
                assert m["code"] == "text_too_long", m
                assert "4096" in m["content"], m
            # Exactly the limit goes through.
            await ws.send(json.dumps({"type": "user",
                                      "content": "k" * 4096}))
            bystander.wait_line("[%s]webby: %s" % (hs["ip"], "k" * 4096))
        finally:
            await ws.close()
    try:
        wstest.run_async(go(), 30)
        liner.send(b"l" * 5000 + b"\n")
        liner.wait_line("error: text of 5000 bytes is longer than 4096; "
                        "not sent")
        liner.send(b"to " + bystander.name.encode() + b" " + b"q" * 4097
                   + b"\n")
        liner.wait(lambda ln: ln.startswith("error: text of 4097 bytes"))
        # A line over max_line_length (8k): an error, and liner stays.
        liner.send(b"m" * 9000 + b"\n")
        liner.wait(lambda ln: ln.startswith("error: line longer than 8192"))
        liner.send(b"still here\n")
        bystander.wait_line("[%s]%s: still here" % (liner.name, liner.name))
        for u in (liner, bystander):
            long = [ln for ln in u.lines() if len(ln) > 4200]
            assert long == [], [ln[:80] for ln in long]
        assert not liner.eof
    finally:
        liner.close()
        bystander.close()


def test_idle_line_user_is_kicked():
    d = daemon("idle", opts={"idle_timeout": 2})
    u = Line(d)
    try:
        u.wait(lambda ln: ln.startswith("error:") and "no activity" in ln,
               timeout=6)
        u.wait_eof(5)
    finally:
        u.close()


def test_lines_that_are_not_text_keep_nobody_online():
    # A NUL byte or invalid UTF-8 is answered, but is no sign of life:
    # a client cannot stay in the chat by sending junk.
    d = daemon("idle", opts={"idle_timeout": 2})
    u = Line(d)
    try:
        start = time.monotonic()
        kicked = False
        while time.monotonic() - start < 8 and not kicked:
            u.send(b"a\x00b\n" if int(time.monotonic()) % 2 else
                   b"\xff\xfe\n")
            u._pump(0.5)
            kicked = any("no activity" in ln for ln in u.lines())
        assert kicked, u.lines()[-8:]
        assert any("NUL byte" in ln for ln in u.lines())
        u.wait_eof(5)
    finally:
        u.close()


def test_line_users_of_a_killed_worker_go_offline():
    # The master announces them: with their address, like everyone else.
    with wstest.Daemon(workers=2, opts={"idle_timeout": 0}) as d:
        a, b, rest = on_two_workers(d)
        try:
            a.wait_line("[%s]%s: online" % (b.name, b.name))
            victim = d.line_owners([b.port])[0]
            os.kill(victim, signal.SIGKILL)
            a.wait_line("[%s]%s: offline" % (b.name, b.name))
        finally:
            for u in [a, b] + rest:
                u.close()


if __name__ == "__main__":
    wstest.main()
