#!/usr/bin/env python3
"""Reload storm: new HTTP connections from 4 threads (GET /healthz, one
request each) while wschatd gets SIGHUP every 0.25 s for DURATION seconds.
Prints the reloads done and the requests that succeeded or failed: with
reloads that keep the listening sockets, none may fail.

    WSCHATD=./wschatd WEBROOT=www scripts/bench/reload-storm.py [DURATION]
"""
import os, re, signal, socket, subprocess, sys, tempfile, threading, time
W = os.environ.get("WSCHATD", "./wschatd")
tmp = tempfile.mkdtemp(prefix="reload-storm-")
conf, logp = os.path.join(tmp, "e.conf"), os.path.join(tmp, "log")
open(conf, "w").close()
p = subprocess.Popen([W, "-f", "-w", "2", "-l", "127.0.0.1:0", "-L", "off", "-c", conf,
                      "-o", "webroot=" + os.environ.get("WEBROOT", "www"), "-o", "pidfile="], stderr=open(logp,"w"))
deadline = time.time() + 10
while "http listening" not in open(logp).read():
    assert time.time() < deadline and p.poll() is None, open(logp).read()
    time.sleep(0.05)
port = int(re.search(r"listening on 127.0.0.1:(\d+)", open(logp).read()).group(1))
stop = False; ok = fail = 0; errs = {}
def hammer():
    global ok, fail
    while not stop:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                d = s.recv(4096)
                if not d: break
                data += d
            s.close()
            if data.startswith(b"HTTP/1.1 200"): ok += 1
            else:
                fail += 1; errs[repr(data[:40])] = errs.get(repr(data[:40]),0)+1
        except Exception as e:
            fail += 1; errs[type(e).__name__] = errs.get(type(e).__name__,0)+1
ts = [threading.Thread(target=hammer) for _ in range(4)]
for t in ts: t.start()
n = 0
t0 = time.time()
while time.time() - t0 < float(sys.argv[1] if len(sys.argv) > 1 else 10):
    time.sleep(0.25); p.send_signal(signal.SIGHUP); n += 1
time.sleep(1)
stop = True
for t in ts: t.join()
p.send_signal(signal.SIGTERM); p.wait()
log = open(logp).read()
print("reloads sent", n, "done", log.count("reload: configuration"), "refused", log.count("reload refused"), "requests ok", ok, "failed", fail, errs)
