#!/bin/bash
# idle-many.sh: N idle WebSocket connections on /ws, held by W workers and
# opened by K chatbench processes, for when one process may not have N
# descriptors (RLIMIT_NOFILE's hard limit, which only CAP_SYS_RESOURCE
# raises; 20,000 on the machines this was written on).  Reports how the
# connections spread over the workers, the connect time, and the workers'
# RSS and anonymous memory (RssAnon: without the shared presence table,
# a fixed 4 MiB) per connection, from /proc.
#
#   WSCHATD=./wschatd scripts/bench/idle-many.sh [N [W [K]]]
#
# Defaults: N 100000, W and K enough for 17,000 per process.  Loopback
# only; every process it starts it stops, by PID; bounded by timeouts.
set -u
N=${1:-100000}
per=17000
W=${2:-$(( (N + per - 1) / per ))}
K=${3:-$W}
WSCHATD=${WSCHATD:-./wschatd}
CHATBENCH=${CHATBENCH:-scripts/bench/chatbench}
WEBROOT=${WEBROOT:-www}
HOLD=$((N / 2000 + 20))		# seconds each chatbench holds its share

ulimit -n "$(ulimit -Hn)"
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
: >"$tmp/empty.conf"
"$WSCHATD" -f -w "$W" -l 127.0.0.1:0 -L off -c "$tmp/empty.conf" \
    -o "webroot=$WEBROOT" -o pidfile= -o backlog=4096 >"$tmp/log" 2>&1 &
master=$!
for _ in $(seq 50); do
	port=$(sed -n 's/.*http listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' \
	    "$tmp/log" | head -n 1)
	workers=$(cat /proc/$master/task/$master/children 2>/dev/null)
	[ -n "$port" ] && [ "$(echo $workers | wc -w)" -eq "$W" ] && break
	sleep 0.2
done
[ -n "$port" ] || { cat "$tmp/log"; exit 1; }
# sum KEY: the workers' /proc/PID/status KEY, kB.
sum() {
	for p in $workers; do
		awk -v k="$1:" '$1 == k { print $2 }' /proc/$p/status
	done | awk '{ s += $1 } END { print s + 0 }'
}
fds() {
	for p in $workers; do ls /proc/$p/fd | wc -l; done
}
rss0=$(sum VmRSS)
anon0=$(sum RssAnon)
base=$(fds | awk '{ s += $1 } END { print s }')
t0=$(date +%s.%N)
for i in $(seq "$K"); do
	"$CHATBENCH" -p "$port" -M chat -l 0 -c $((N / K)) -s 0 \
	    -H "$HOLD" -t $((HOLD * 2 + 60)) -k 200 -d $((HOLD * 3 + 120)) \
	    >"$tmp/bench.$i" 2>&1 &
done
want=$(( (N / K) * K ))
held=0
for _ in $(seq $((HOLD * 5))); do
	held=$(( $(fds | awk '{ s += $1 } END { print s }') - base ))
	[ "$held" -ge "$want" ] && break
	sleep 0.2
done
t1=$(date +%s.%N)
sleep 2
rss1=$(sum VmRSS)
anon1=$(sum RssAnon)
echo "idle-many: $want connections wanted, $held held by $W workers" \
    "(descriptors per worker: $(fds | tr '\n' ' '))"
echo "idle-many: connected in $(echo "$t1 - $t0" | bc) s by $K chatbench" \
    "processes"
echo "idle-many: RSS $rss0 -> $rss1 kB, $(( (rss1 - rss0) * 1024 / want ))" \
    "B per connection; anonymous $anon0 -> $anon1 kB," \
    "$(( (anon1 - anon0) * 1024 / want )) B per connection"
wait $(jobs -p | grep -vx "$master")
# Every connection must have been made and held to the end: none failed,
# none dropped by the server.  (With 100,000 closing at once, some closing
# handshakes outlast chatbench's grace period; those are reported, not
# failures of the holding.)
failed=0
for i in $(seq "$K"); do
	sed -n 's/^connections: /idle-many: chatbench '"$i"': /p' \
	    "$tmp/bench.$i"
	grep -q '^connections: .* 0 failed, 0 closed early' "$tmp/bench.$i" ||
	    failed=1
done
kill "$master"
wait "$master"
[ "$held" -ge "$want" ] && [ "$failed" -eq 0 ]
