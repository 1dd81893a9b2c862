#!/usr/bin/python3
"""A login storm, version 1 against version 2: N WebSocket clients connect
to a fresh wschatd -w 2, then all log in at once; each counts the bytes of
presence it receives (its handshake message excluded) and the logins among
them.  Prints one line per run: bytes per client (min, average, max), the
clients dropped (slow consumers: their unsent data passed max_pending) and
the time the storm took.  A benchmark, not a test: figures, no verdicts
(tests/e2e/test_v2.py has the test of version 2).

Usage, from a build tree:
    WSCHATD=./wschatd WSCHATD_SRCDIR=/path/to/src \\
        /usr/bin/python3 scripts/bench/presence-storm.py [N ...]
N defaults to 1000 2000.  Each N runs version 1 (no subprotocol, as the
seed pages), wschat.v2.json and wschat.v2.msgpack with the default
limits; and for N up to 1000, version 1 once more with max_pending 64m,
so that its full cost shows where the default drops most clients (BIG=0
skips it; at N=2000 it would move some 72 GB through loopback)."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "e2e"))

import storm    # noqa: E402
import wstest   # noqa: E402


def one(n, subprotocol, opts=None):
    with wstest.Daemon(workers=2, opts=opts) as d:
        s = storm.Storm(d.port, n, subprotocol)
        res = wstest.run_async(s.run(timeout=600), timeout=900)
    line = storm.report(res)
    if opts:
        line += " [%s]" % ", ".join("%s %s" % kv for kv in opts.items())
    print(line, flush=True)
    return res


def main():
    ns = [int(a) for a in sys.argv[1:]] or [1000, 2000]
    big = os.environ.get("BIG", "1") != "0"
    for n in ns:
        for proto in (None, "wschat.v2.json", "wschat.v2.msgpack"):
            one(n, proto)
        if big and n <= 1000:
            one(n, None, {"max_pending": "64m",
                          "max_pending_total": "16g"})


if __name__ == "__main__":
    main()
