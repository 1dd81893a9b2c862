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
# from wsbench.c next to this script if missing), CONNS (10000), HOLD (5 s),
# WEBROOT (www).

set -u

WSCHATD=${WSCHATD:-./wschatd}
CONNS=${CONNS:-10000}
HOLD=${HOLD:-5}
WEBROOT=${WEBROOT:-www}
here=$(cd "$(dirname "$0")" && pwd)
WSBENCH=${WSBENCH:-$here/wsbench}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/conn-memory.XXXXXX") || exit 1
log=$tmp/wschatd.log
pid=
bpid=
workers=
failed=0

# Signal a process we started, if it still is the one we started.
ours() {
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null &&
	    tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q "$2"
}

cleanup() {
	trap - EXIT INT TERM HUP
	if ours "$bpid" wsbench; then
		kill -TERM "$bpid" 2>/dev/null
	fi
	if ours "$pid" wschatd; then
		kill -TERM "$pid" 2>/dev/null
		n=0
		while kill -0 "$pid" 2>/dev/null && [ $n -lt 50 ]; do
			sleep 0.1
			n=$((n + 1))
		done
		ours "$pid" wschatd && kill -KILL "$pid" 2>/dev/null
	fi
	for w in $workers; do
		ours "$w" wschatd && kill -KILL "$w" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

die() {
	echo "conn-memory: $*" >&2
	if [ -s "$log" ]; then
		echo "conn-memory: last lines of the daemon's log:" >&2
		tail -n 20 "$log" >&2
	fi
	exit 1
}

# Poll every 0.1 s until the command in $2.. succeeds; give up after $1 s.
wait_for() {
	end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.1
	done
	return 0
}

# TcpExt counter $1 from /proc/net/netstat (the whole network namespace).
tcpext() {
	awk -v k="$1" '$1 == "TcpExt:" {
		if (!n) { for (i = 2; i <= NF; i++) col[$i] = i; n = 1 }
		else print $col[k] }' /proc/net/netstat
}

# One line per worker: pid rss_kB pss_kB private_dirty_kB sockets
sample() {
	for w in $workers; do
		rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$w/status")
		set -- $(awk '/^Pss:/ { p = $2 } /^Private_Dirty:/ { d = $2 }
		    END { print p + 0, d + 0 }' "/proc/$w/smaps_rollup")
		socks=$(ls -l "/proc/$w/fd" 2>/dev/null | grep -c 'socket:')
		echo "$w $rss $1 $2 $socks"
	done
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

[ -x "$WSCHATD" ] || die "$WSCHATD: not executable (set WSCHATD)"
[ -d "$WEBROOT" ] || die "$WEBROOT: no such directory (set WEBROOT)"
if [ ! -x "$WSBENCH" ]; then
	echo "conn-memory: building $WSBENCH"
	WSBENCH=$tmp/wsbench
	${CC:-cc} -O2 -o "$WSBENCH" "$here/wsbench.c" \
	    $(pkg-config --cflags --libs libevent_core libcrypto) -lm ||
	    die "cannot build wsbench"
fi
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt $((CONNS + 64)) ]; then
	die "fd hard limit $hard is too low for $CONNS connections"
fi

# --- start the daemon and find its workers ---------------------------------
"$WSCHATD" -f -w 2 -l 127.0.0.1:0 -L off -o "webroot=$WEBROOT" >"$log" 2>&1 &
pid=$!
wait_for 10 grep -q 'http listening on' "$log" ||
    die "no \"http listening on\" line within 10 s"
port=$(sed -n 's/.*http listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' \
    "$log" | head -n 1)
[ -n "$port" ] || die "cannot parse the port"
ready() {
	[ "$(grep -c 'worker [0-9]*: started' "$log")" -ge 2 ]
}
wait_for 5 ready || die "workers not started within 5 s"
kill -0 "$pid" 2>/dev/null || die "wschatd exited"
workers=$(echo $(cat "/proc/$pid/task/$pid/children" 2>/dev/null))
[ -n "$workers" ] || workers=$(ps -o pid= --ppid "$pid")
set -- $workers
[ $# -eq 2 ] || die "expected 2 workers, found: $workers"
# One WebSocket round trip proves a worker is serving, not only forked.
wait_for 5 "$WSBENCH" -q -p "$port" -c 2 -m 1 -T 2 >/dev/null ||
    die "wschatd on port $port does not echo"

echo "conn-memory: wschatd pid $pid, workers $workers, port $port," \
    "$CONNS connections"
sample >"$tmp/before"
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
	sample >"$tmp/during"
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
sample >"$tmp/after"

# --- every connection again, now with messages ------------------------------
timeout 30 "$WSBENCH" -p "$port" -c "$CONNS" -m 3 -s 64 -T 20 \
    >"$tmp/msgs.out" 2>&1 &
bpid=$!
wait "$bpid"
msgs_rc=$?
bpid=
overflows2=$(tcpext ListenOverflows)
sample >"$tmp/after2"

# --- stop the daemon -------------------------------------------------------
kill -TERM "$pid"
wait_for 15 sh -c "! kill -0 $pid 2>/dev/null" ||
    die "wschatd still running 15 s after SIGTERM"
wait "$pid"
stop_rc=$?
pid=

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
