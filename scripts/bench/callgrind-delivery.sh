#!/bin/sh
#
# Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
#
# callgrind-delivery.sh: instructions a wschatd worker spends per chat
# delivery, counted by callgrind, for one or more builds.  Instruction
# counts do not depend on what else the machine does, so two builds can
# be compared on a busy machine where CPU seconds cannot.  For each build
# it runs wschatd -w 1 under callgrind twice, with chatbench sending M1
# and then M2 messages (JSON chat, one sender, CONNS receivers, window
# 16), and prints (Ir(M2) - Ir(M1)) / (deliveries(M2) - deliveries(M1)):
# the start-up, the connections and the logins cancel out.
#
#     scripts/bench/callgrind-delivery.sh BUILD_DIR [BUILD_DIR ...]
#
# Each BUILD_DIR holds wschatd and scripts/bench/chatbench.  Environment:
# CONNS (200), M1 (2000), M2 (4000), WEBROOT (www), OPTS (more options
# for every build's wschatd, e.g. "-o history=off", or "-o
# history_file=/tmp/x.db" for history on with its store out of the way).
# Loopback only; every run is bounded (chatbench -d) and the daemon is
# stopped by its PID.
set -u
CONNS=${CONNS:-200}
M1=${M1:-2000}
M2=${M2:-4000}
WEBROOT=${WEBROOT:-www}
OPTS=${OPTS:-}
tmp=$(mktemp -d) || exit 1
dpid=
cleanup() {
	[ -n "$dpid" ] && kill -TERM "$dpid" 2>/dev/null && wait "$dpid"
	rm -rf "$tmp"
}
trap cleanup EXIT

# One run: build $1, $2 messages.  Prints "instructions deliveries".
one() {
	_out=$tmp/cg.%p
	rm -f "$tmp"/cg.* "$tmp/log"
	valgrind --tool=callgrind --trace-children=yes \
	    --callgrind-out-file="$_out" "$1/wschatd" -f -w 1 \
	    -l 127.0.0.1:0 -L off -o "webroot=$WEBROOT" -o pidfile= \
	    $OPTS >"$tmp/log" 2>&1 &
	dpid=$!
	_i=0
	while ! grep -q 'http listening on' "$tmp/log" 2>/dev/null; do
		_i=$((_i + 1))
		[ $_i -gt 300 ] && { echo "no daemon" >&2; exit 1; }
		sleep 0.1
	done
	_port=$(sed -n 's/.*http listening on [^ ]*:\([0-9]*\).*/\1/p' \
	    "$tmp/log" | head -n 1)
	"$1/scripts/bench/chatbench" -q -p "$_port" -M chat -l 1 \
	    -c "$CONNS" -s 1 -w 16 -m "$2" -d 300 >"$tmp/bench" 2>&1
	kill -TERM "$dpid"
	wait "$dpid"
	dpid=
	_d=$(tail -n 1 "$tmp/bench" | tr ' ' '\n' | sed -n 's/^deliveries=//p')
	# The worker's file, by the PID its log line gives: with history on,
	# the history process may count more instructions than the worker.
	_w=$(sed -n 's/.*worker 0: started, pid \([0-9]*\).*/\1/p' \
	    "$tmp/log" | head -n 1)
	_ir=$(sed -n 's/^summary: //p' "$tmp/cg.$_w")
	echo "$_ir $_d"
}

for b in "$@"; do
	set -- $(one "$b" "$M1")
	ir1=$1 d1=$2
	set -- $(one "$b" "$M2")
	ir2=$1 d2=$2
	echo "$b: $(( (ir2 - ir1) / (d2 - d1) )) instructions per delivery," \
	    "$(( (ir2 - ir1) / (M2 - M1) )) per message" \
	    "($ir1 Ir / $d1, $ir2 Ir / $d2)${OPTS:+ with $OPTS}"
done
