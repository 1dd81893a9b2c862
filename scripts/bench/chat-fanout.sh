#!/bin/sh
#
# Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
#
# chat-fanout.sh: what a chat broadcast costs wschatd.  For each message
# size (64 B, then 1 KiB) and each worker count (1, then 2) it starts
# wschatd -f on a free 127.0.0.1 port, reads its workers' CPU time
# (utime + stime from /proc), runs chatbench: $CONNS connections in the
# lobby, the first $SENDERS of them sending $MSGS raw text messages each,
# every message broadcast to every connection, sender included, order and
# completeness checked at every receiver.  It reads the CPU time again,
# stops the daemon with SIGTERM, checks it exits 0 and looks through its
# log for lost bus records and dropped slow consumers.  Prints each run,
# then a table: deliveries/s and the workers' CPU seconds per million
# deliveries.  Linux only (/proc).  Everything stays on 127.0.0.1, each run
# is bounded (about 5-10 s normally, $DEADLINE + 40 s at worst) and only
# the processes it started are signalled, by PID.
#
# Run from the top of the build tree:  scripts/bench/chat-fanout.sh
# Environment: WSCHATD (./wschatd), CHATBENCH (scripts/bench/chatbench,
# built from chatbench.c and wsclient.c next to this script if missing),
# WORKERS ("1 2"), CONNS (500), SENDERS (10), MSGS (3000, 64 B runs),
# BIG_MSGS (1000, 1 KiB runs), SIZES ("64 1024"), WINDOW (8), RATE (0:
# windowed), DEADLINE (60 s per run), WEBROOT (www).  Starting, stopping
# and measuring the daemon are in lib.sh.

set -u

WORKERS=${WORKERS:-1 2}
CONNS=${CONNS:-500}
SENDERS=${SENDERS:-10}
MSGS=${MSGS:-3000}
BIG_MSGS=${BIG_MSGS:-1000}
SIZES=${SIZES:-64 1024}
WINDOW=${WINDOW:-8}
RATE=${RATE:-0}
DEADLINE=${DEADLINE:-60}
here=$(cd "$(dirname "$0")" && pwd)
CHATBENCH=${CHATBENCH:-$here/chatbench}
. "$here/lib.sh"
bench_setup chat-fanout chatbench
failed=0
hz=$(getconf CLK_TCK 2>/dev/null || echo 100)

# Field NAME=value $2 of chatbench's last line in file $1.
field() {
	tail -n 1 "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

check_setup "$CONNS"
if [ ! -x "$CHATBENCH" ]; then
	build_bench chatbench
	CHATBENCH=$built
fi

# One run: $1 workers, $2 bytes per message, $3 messages per sender.
# Appends a row to $tmp/table.
run() {
	nw=$1
	size=$2
	msgs=$3
	tag=w$nw-z$size
	log=$tmp/$tag.log
	out=$tmp/$tag.out

	start_daemon "$nw" -o idle_timeout=0 -o max_text_length=1g

	echo "== $nw worker(s), $size-byte messages: wschatd pid $pid," \
	    "workers $workers, port $port"
	cmd="chatbench -p $port -c $CONNS -s $SENDERS -m $msgs -z $size"
	cmd="$cmd -w $WINDOW -r $RATE -d $DEADLINE"
	echo "   $cmd"
	c0=$(cpu_ticks)
	timeout $((DEADLINE + 20)) "$CHATBENCH" -p "$port" -c "$CONNS" \
	    -s "$SENDERS" -m "$msgs" -z "$size" -w "$WINDOW" -r "$RATE" \
	    -d "$DEADLINE" >"$out" 2>&1 &
	bpid=$!
	wait "$bpid"
	brc=$?
	bpid=
	c1=$(cpu_ticks)
	sed 's/^/   /' "$out"

	term_daemon
	drc=$daemon_rc

	# Events, not the counters a worker logs when it exits.
	pat='bus: lost|bus: fell behind|slow consumer:|undecodable|'
	pat="${pat}killed by|exited with|warn|error|fatal"
	nwarn=$(grep -Ev ': exiting: ' "$log" | grep -Eci "$pat")
	echo "   daemon: exit status $drc after SIGTERM; log" \
	    "$(wc -l <"$log") lines, $nwarn worth a look"
	grep ': exiting: ' "$log" | sed 's/^[^]]*]: /     /'
	if [ "$nwarn" -gt 0 ]; then
		grep -Ev ': exiting: ' "$log" | grep -Ei "$pat" | head -n 20 |
		    sed 's/^/     /'
		if [ "$nwarn" -gt 20 ]; then
			echo "     ... and $((nwarn - 20)) more;" \
			    "slow consumers: $(grep -c 'slow consumer:' "$log")"
		fi
	fi

	dps=$(field "$out" deliveries_per_s)
	dlv=$(field "$out" deliveries)
	expd=$(field "$out" expected)
	miss=$(field "$out" missing)
	dis=$(field "$out" disorder)
	p50=$(field "$out" p50_us)
	p99=$(field "$out" p99_us)
	ccpu=$(sed -n 's/^cpu: .* total \([0-9.]*\) s.*/\1/p' "$out")
	awk -v nw="$nw" -v size="$size" -v dps="${dps:-0}" \
	    -v dlv="${dlv:-0}" -v expd="${expd:-0}" -v miss="${miss:--}" \
	    -v dis="${dis:--}" -v p50="${p50:-0}" -v p99="${p99:-0}" \
	    -v ticks=$((c1 - c0)) -v hz="$hz" -v ccpu="${ccpu:-0}" \
	    -v brc="$brc" -v drc="$drc" -v nwarn="$nwarn" 'BEGIN {
		cpu = ticks / hz
		perm = dlv > 0 ? cpu * 1e6 / dlv : 0
		printf "%5s %7s %10d %10s %7s %9s %10.0f %9.1f %9.1f " \
		    "%7.2f %9.3f %6.2f %4s %4s %4s\n", size, nw, dlv, expd,
		    miss, dis, dps, p50 / 1000, p99 / 1000, cpu, perm, ccpu,
		    brc, drc, nwarn
	    }' >>"$tmp/table"
	[ "$brc" -eq 0 ] || failed=1
	[ "$drc" -eq 0 ] || failed=1
	echo
}

echo "chat-fanout: $CONNS connections, $SENDERS senders, window $WINDOW," \
    "rate $RATE (0: windowed); $(nproc 2>/dev/null || echo ?) CPUs"
echo
for size in $SIZES; do
	m=$MSGS
	[ "$size" -ge 1024 ] && m=$BIG_MSGS
	for nw in $WORKERS; do
		run "$nw" "$size" "$m"
	done
done

echo "size: content bytes; p50/p99: send to each delivery, ms;" \
    "cpu: the workers' user+sys s;"
echo "cpu/M: worker CPU s per million deliveries; client: chatbench's" \
    "CPU s; rc: chatbench, daemon; log: lines worth a look"
printf '%5s %7s %10s %10s %7s %9s %10s %9s %9s %7s %9s %6s %4s %4s %4s\n' \
    size workers deliveries expected missing disorder deliv/s p50_ms \
    p99_ms cpu_s cpu/M client bench wsd log
cat "$tmp/table"
if [ $failed -ne 0 ]; then
	echo "chat-fanout: FAIL"
	exit 1
fi
echo "chat-fanout: ok"
exit 0
