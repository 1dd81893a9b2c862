#!/bin/sh
#
# Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
#
# conn-memory.sh: what an idle WebSocket connection costs wschatd.  Starts
# wschatd -f -w 2 on a free 127.0.0.1 port, measures its workers' memory
# (RSS, and Pss/Private_Dirty from smaps_rollup), holds $CONNS connections
# to /echo with wsbench, measures again while they are held (with each
# worker's socket count), then connects them all again and sends 3 messages
# of 64 bytes on each to check they all work, stops the daemon with SIGTERM
# and checks it exits 0.  Prints bytes per connection and wsbench's summary.
# Linux only (/proc).  Everything stays on 127.0.0.1, the run is bounded
# (about 10 s normally, under 2 minutes at worst) and only the processes it
# started are signalled, by PID.
#
# Run from the top of the build tree:  scripts/bench/conn-memory.sh
# Environment: WSCHATD (./wschatd), WSBENCH (scripts/bench/wsbench, built
# from wsbench.c and wsclient.c next to this script if missing), CONNS
# (10000), HOLD (5 s), WEBROOT (www).  Starting, stopping and measuring the
# daemon are in lib.sh.

set -u

CONNS=${CONNS:-10000}
HOLD=${HOLD:-5}
here=$(cd "$(dirname "$0")" && pwd)
WSBENCH=${WSBENCH:-$here/wsbench}
. "$here/lib.sh"
bench_setup conn-memory wsbench
log=$tmp/wschatd.log
failed=0

# TcpExt counter $1 from /proc/net/netstat (the whole network namespace).
tcpext() {
	awk -v k="$1" '$1 == "TcpExt:" {
		if (!n) { for (i = 2; i <= NF; i++) col[$i] = i; n = 1 }
		else print $col[k] }' /proc/net/netstat
}

# Column $2 of sample file $1, summed over the workers.
total() {
	awk -v c="$2" '{ s += $c } END { print s + 0 }' "$1"
}

report_mem() {
	printf '  %-8s RSS %8s kB   Pss %8s kB   Private_Dirty %8s kB' "$1" \
	    "$(total "$2" 2)" "$(total "$2" 3)" "$(total "$2" 4)"
	printf '   sockets %6s\n' "$(total "$2" 5)"
}

per_conn() {
	awk -v a="$(total "$1" "$3")" -v b="$(total "$2" "$3")" -v n="$4" \
	    'BEGIN { if (n > 0) printf "%.0f", (b - a) * 1024 / n
		else printf "-" }'
}

check_setup "$CONNS"
if [ ! -x "$WSBENCH" ]; then
	build_bench wsbench
	WSBENCH=$built
fi

# --- start the daemon and find its workers ---------------------------------
start_daemon 2
set -- $workers		# $1 and $2: the workers, for the socket count below
# One WebSocket round trip proves a worker is serving, not only forked.
wait_for 5 "$WSBENCH" -q -p "$port" -c 2 -m 1 -T 2 >/dev/null ||
    die "wschatd on port $port does not echo"

echo "conn-memory: wschatd pid $pid, workers $workers, port $port," \
    "$CONNS connections"
mem_sample >"$tmp/before"
overflows0=$(tcpext ListenOverflows)

# --- hold the connections and sample while they are held ----------------------
# Time budget, worst case with HOLD=5: 22 s to start, 35 + 5 + 30 s of
# runs, 15 s to stop.
timeout $((HOLD + 30)) "$WSBENCH" -p "$port" -c "$CONNS" -m 0 -d "$HOLD" \
    -T $((HOLD + 20)) \
    >"$tmp/hold.out" 2>&1 &
bpid=$!
held() {
	grep -q '^wsbench: connected' "$tmp/hold.out" ||
	    ! kill -0 "$bpid" 2>/dev/null
}
wait_for $((HOLD + 31)) held || die "wsbench never reported its connections"
if kill -0 "$bpid" 2>/dev/null; then
	# Let the workers finish the last upgrades' bookkeeping.
	sleep 1
	mem_sample >"$tmp/during"
else
	cp "$tmp/before" "$tmp/during"
	failed=1
fi
wait "$bpid"
hold_rc=$?
bpid=
overflows1=$(tcpext ListenOverflows)
wait_for 5 sh -c "[ \$(ls -l /proc/${1}/fd /proc/${2}/fd | grep -c socket:) \
    -le $(total "$tmp/before" 5) ]" ||
    echo "conn-memory: workers still hold sockets 5 s after the hold run"
mem_sample >"$tmp/after"

# --- every connection again, now with messages ------------------------------
timeout 30 "$WSBENCH" -p "$port" -c "$CONNS" -m 3 -s 64 -T 20 \
    >"$tmp/msgs.out" 2>&1 &
bpid=$!
wait "$bpid"
msgs_rc=$?
bpid=
overflows2=$(tcpext ListenOverflows)
mem_sample >"$tmp/after2"

# --- stop the daemon -------------------------------------------------------
term_daemon
stop_rc=$daemon_rc

# --- report ------------------------------------------------------------------
held_n=$(sed -n 's/.*conns=\([0-9]*\).*/\1/p' "$tmp/hold.out" | tail -n 1)
held_n=${held_n:-0}
echo
echo "connections held: $held_n of $CONNS (wsbench exit $hold_rc)"
echo "workers' memory (2 workers; master not counted):"
report_mem before "$tmp/before"
report_mem during "$tmp/during"
report_mem after "$tmp/after"
report_mem "after 2" "$tmp/after2"
echo "  (after: once the held connections closed; after 2: once the message" \
    "run's closed too)"
b=$tmp/before
d=$tmp/during
echo "bytes per held connection: RSS $(per_conn "$b" "$d" 2 "$held_n")," \
    "Pss $(per_conn "$b" "$d" 3 "$held_n")," \
    "Private_Dirty $(per_conn "$b" "$d" 4 "$held_n")"
echo "per-worker split while held (sockets minus the idle count):"
while read -r w rss pss dirty socks; do
	base=$(awk -v w="$w" '$1 == w { print $5 }' "$tmp/before")
	echo "  worker pid $w: $((socks - base)) connections," \
	    "RSS $rss kB, Pss $pss kB, Private_Dirty $dirty kB"
done <"$tmp/during"
echo "listen queue overflows (TcpExt, whole namespace): hold run" \
    "$((overflows1 - overflows0)), message run $((overflows2 - overflows1))"
echo
echo "wsbench, hold run (-c $CONNS -m 0 -d $HOLD):"
sed 's/^/  /' "$tmp/hold.out"
echo "wsbench, message run (-c $CONNS -m 3 -s 64):"
sed 's/^/  /' "$tmp/msgs.out"
echo
warns=$(grep -Eci 'warn|error|fatal|too many|emfile|signal|died|killed' "$log")
echo "daemon: exit status $stop_rc after SIGTERM; log $(wc -l <"$log")" \
    "lines, $warns look like warnings"
if [ "$warns" -gt 0 ]; then
	grep -Ei 'warn|error|fatal|too many|emfile|signal|died|killed' "$log" |
	    head -n 20 | sed 's/^/  /'
fi

[ "$hold_rc" -eq 0 ] || failed=1
[ "$msgs_rc" -eq 0 ] || failed=1
[ "$stop_rc" -eq 0 ] || failed=1
[ "$held_n" -eq "$CONNS" ] || failed=1
if [ $failed -ne 0 ]; then
	echo "conn-memory: FAIL"
	exit 1
fi
echo "conn-memory: ok"
exit 0
