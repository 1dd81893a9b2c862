#!/usr/bin/env python3
"""End-to-end tests of a worker's output path (src/conn_out.c,
src/conn_uring.c), run once with each way of writing: `io_uring on` (the
default: the writes of a loop iteration go to the kernel in batches) and
`io_uring off` (a writev per connection).  Each test first checks, from
the worker's descriptors in /proc, that the worker really writes the way
the test says, so that neither path can pass in the other's place.

What they prove: a broadcast reaches every connection, more of them
than one batch holds; a client whose socket is full, so that part of a
frame waits in the server's buffer, gets every byte in order once it
reads again, while the others are not held up; and queued output still
goes out before a close."""

import asyncio
import os
import socket
import time

import wstest
from chatclient import connect
from wstest import Daemon, wait_for

MODES = ("on", "off")


def uring_fds(pid):
    """How many io_uring instances process pid holds."""
    n = 0
    d = "/proc/%d/fd" % pid
    for fd in os.listdir(d):
        try:
            if os.readlink(os.path.join(d, fd)) == "anon_inode:[io_uring]":
                n += 1
        except OSError:
            pass
    return n


def daemon(mode, line=False):
    d = Daemon(workers=1, line=line, opts={"io_uring": mode})
    d.__enter__()
    try:
        (pid,) = d.worker_pids()
        n = uring_fds(pid)
        if mode == "off":
            assert n == 0, "io_uring off, but the worker holds %d" % n
        elif n == 0:
            # Built without liburing, or the kernel refuses it: the
            # worker says so, and the test runs the plain path.
            assert "io_uring:" in d.log(), d.log()[-2000:]
            print("# io_uring unavailable here: %s" % [
                line for line in d.log().splitlines()
                if "io_uring:" in line][-1])
    except BaseException:
        d.__exit__(None, None, None)
        raise
    return d


def broadcast_reaches_more_connections_than_a_batch(mode):
    nconn, nmsg = 300, 20
    with daemon(mode) as d:
        async def go():
            cs = await asyncio.gather(*[connect(d) for _ in range(nconn)])
            try:
                sender = cs[0]
                await sender.login("sender")
                for k in range(nmsg):
                    await sender.send({"type": "user",
                                       "content": "m%03d" % k})
                want = ["m%03d" % k for k in range(nmsg)]
                for c in cs:
                    await c.until(
                        lambda c: c.ntype.get("user", 0) >= nmsg, 30,
                        "%d messages" % nmsg)
                    got = [m["content"] for m in c.find_all(type="user")]
                    assert got == want, got
                    c.check()
            finally:
                await asyncio.gather(*[c.close() for c in cs])

        wstest.run_async(go(), 120)


def full_socket_gets_every_byte_in_order(mode):
    pad = "y" * 3000
    with open("/proc/sys/net/ipv4/tcp_wmem") as f:
        wmem_max = int(f.read().split()[2])
    # Enough that the kernel cannot hold it all for the stalled client
    # (test_limits), well under max_pending (4m).
    n = min(1200, max(400, wmem_max * 3 // 2 // len(pad) + 1))
    with daemon(mode) as d:
        stalled = wstest.SlowWS(d.port)
        stalled.buf = b""       # the 101 head it read

        async def go():
            sender, reader = await connect(d), await connect(d)
            try:
                await sender.login("sender")
                window = 16
                for k in range(n):
                    if reader.ntype.get("user", 0) <= k - window:
                        await reader.until(
                            lambda c: c.ntype.get("user", 0) > k - window,
                            10, "message %d" % (k - window))
                    await sender.send({"type": "user",
                                       "content": "%05d %s" % (k, pad)})
                # The others were not held up by the stalled one.
                await reader.until(lambda c: c.ntype.get("user", 0) >= n,
                                   30, "%d messages" % n)
                got = [m["content"][:5] for m in reader.find_all(
                    type="user")]
                assert got == ["%05d" % k for k in range(n)]
            finally:
                await sender.close()
                await reader.close()

        try:
            wstest.run_async(go(), 120)
            # Now it reads: everything, in order, each frame whole.
            k = 0
            deadline = time.time() + 60
            while k < n and time.time() < deadline:
                op, data = stalled.recv_message(timeout=10)
                assert op == 1, op
                text = data.decode()
                if '"type":"user"' not in text:
                    continue
                assert '"content":"%05d %s"' % (k, pad) in text, \
                    (k, text[:120])
                k += 1
            assert k == n, "%d of %d" % (k, n)
        finally:
            stalled.close()
        assert "slow consumer" not in d.log(), d.log()[-2000:]


def queued_output_goes_out_before_a_close(mode):
    """A line user who sends 40 bad commands and quit in one go gets the
    40 error lines, then the goodbye, then the close: what was queued
    for it goes out, in order, before the connection is flushed."""
    with daemon(mode, line=True) as d:
        s = wstest.tcp_connect(d.line_port)
        try:
            s.sendall(b"to\n" * 40 + b"quit\n")
            data = b""
            deadline = time.time() + 10
            while time.time() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            else:
                raise AssertionError("no close: %r" % data[-200:])
        finally:
            s.close()
        lines = data.decode().splitlines()
        errors = [i for i, l in enumerate(lines) if l.startswith("error:")]
        assert len(errors) == 40, lines
        assert "goodbye" in lines[-1] and errors[-1] < len(lines) - 1, lines


def _per_mode(fn):
    for mode in MODES:
        def t(fn=fn, mode=mode):
            fn(mode)
        t.__name__ = "test_%s_io_uring_%s" % (fn.__name__, mode)
        globals()[t.__name__] = t


for _f in (broadcast_reaches_more_connections_than_a_batch,
           full_socket_gets_every_byte_in_order,
           queued_output_goes_out_before_a_close):
    _per_mode(_f)


if __name__ == "__main__":
    wstest.main()
