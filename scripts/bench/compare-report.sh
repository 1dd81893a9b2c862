#!/bin/sh
#
# Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
#
# compare-report.sh DIR: the report of a compare.sh run from DIR/meta and
# DIR/results.csv: DIR/results.md (one table of every run, wschatd as a
# ratio of each peer, the targets of issue 6 with met or missed and by how
# much) and, if gnuplot is there, DIR/latency.png (p50, p99, p99.9 per
# server, one panel per scenario) and DIR/cpu.png (server CPU seconds per
# million deliveries).  A notes.md in DIR, if any, is appended to
# results.md.  Reads and writes DIR only; can be run again on old results.

set -u
dir=${1:?usage: compare-report.sh DIR}
csv=$dir/results.csv
md=$dir/results.md
[ -r "$csv" ] || { echo "compare-report: no $csv" >&2; exit 1; }

meta() {
	sed -n "s/^$1=//p" "$dir/meta" | head -n 1
}

{
	echo "# wschatd against node ws and the gorilla hub: $(meta date), $(meta host)"
	echo
	echo "Made by \`scripts/bench/compare.sh\` (issue 6); the raw output of"
	echo "every run is in [logs/](logs/), every figure in"
	echo "[results.csv](results.csv)."
	echo
	echo "| | |"
	echo "|---|---|"
	for k in cpus memory kernel wschatd node go pinning duration \
	    fd_limit load_start load_end quiet; do
		echo "| $k | $(meta $k) |"
	done
	echo
	echo "node: the ws package's broadcast server (one frame per message);"
	echo "gorilla: the gorilla/websocket hub chat (joins queued messages into"
	echo "one frame, drops a client whose 256-message queue is full);"
	echo "wschatd1/wschatd2: \`wschatd -w 1\`/\`-w 2\`, JSON chat, senders"
	echo "logged in. Every server runs on one CPU, chatbench on the other."
	echo "CPU-s/M: the server's utime + stime from the first send to the last"
	echo "delivery, per million deliveries. Latency: send to each delivery, at"
	echo "every receiver. RSS/conn: the server's RSS growth from before"
	echo "connecting to all ready, per connection; anon/conn: the same for"
	echo "anonymous memory (RssAnon), without the pages of shared memory and"
	echo "files a server touched once (wschatd's presence table is 4 MiB,"
	echo "whatever the connections). server sys %: the kernel's share of the"
	echo "server's CPU (on loopback it includes the receivers' TCP work)."
	echo "msgs/frame above 1: the"
	echo "server batches. gen CPU: chatbench's own CPU over the send phase"
	echo "(100% means the generator, not the server, was the limit)."
	echo
} >"$md"

awk -F, -v md="$md" '
function num(x) { return x == "" ? 0 : x + 0 }
function ms(us) { return sprintf("%.2f", us / 1000) }
# A ratio truncated, never rounded up to 1.
function rat(x) { return sprintf("%.4f", int(x * 10000) / 10000) }
function r2(a, b) { return b > 0 ? sprintf("%.3g", a / b) : "-" }
function valid(s, v) {
	return (s SUBSEP v) in res && R[s, v, "result"] == "ok" &&
	    R[s, v, "missing"] == 0 && R[s, v, "dropped"] == 0
}
# One target: figure f (wschatd over peer) against limit l, at most.
function target(what, s, v, f, l, note,    st) {
	if (!((s SUBSEP v) in res)) {
		printf "| %s | %s | - | %s | not run |\n", what, v, l >> md
		return
	}
	if (f == "") {
		printf "| %s | %s | - | %s | no figure%s |\n", what, v, l, note >> md
		return
	}
	if (!valid(s, v))
		st = "not counted: " v " did not deliver everything"
	else if (f <= l + 1e-12)
		st = "met"
	else
		st = sprintf("missed: %.2fx the limit", f / l)
	printf "| %s | %s | %.3g | %.3g | %s%s |\n", what, v, f, l, st, note >> md
}
function peernote(s, p) {
	if (!((s SUBSEP p) in res))
		return ""
	if (R[s, p, "dropped"] > 0 || R[s, p, "missing"] > 0)
		return sprintf(" (%s dropped %d clients, ratio %s: its figure does not count as faster)",
		    p, R[s, p, "dropped"], rat(R[s, p, "ratio"]))
	return ""
}
NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
{
	s = $col["scenario"]; v = $col["server"]
	if (!(s in seen)) { seen[s] = 1; scn[ns++] = s }
	if (!(v in vseen)) { vseen[v] = 1; srv[nv++] = v }
	res[s, v] = 1
	for (k in col) R[s, v, k] = $col[k]
}
END {
	print "## Every run\n" >> md
	print "| scenario | server | conns | sent | deliveries/s | ratio | msgs/frame | dropped | CPU-s/M | p50 ms | p99 ms | p99.9 ms | max ms | RSS/conn B | anon/conn B | server sys % | gen CPU % | result |" >> md
	print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|" >> md
	for (i = 0; i < ns; i++) for (j = 0; j < nv; j++) {
		s = scn[i]; v = srv[j]
		if (!((s SUBSEP v) in res)) continue
		idle = num(R[s, v, "sent"]) == 0
		mpf = "-"
		if (!idle && num(R[s, v, "frames"]) > 0)
			mpf = sprintf("%.2f", num(R[s, v, "deliveries"]) / num(R[s, v, "frames"]))
		printf "| %s | %s | %d | %d | %s | %s | %s | %d | %s | %s | %s | %s | %s | %d | %d | %s | %s | %s |\n",
		    s, v, num(R[s, v, "conns"]), num(R[s, v, "sent"]),
		    idle ? "-" : sprintf("%.0f", num(R[s, v, "deliveries_per_s"])),
		    idle ? "-" : rat(num(R[s, v, "ratio"])),
		    mpf,
		    num(R[s, v, "dropped"]),
		    idle ? "-" : sprintf("%.3f", num(R[s, v, "cpu_per_M"])),
		    idle ? "-" : ms(R[s, v, "p50_us"]), idle ? "-" : ms(R[s, v, "p99_us"]),
		    idle ? "-" : ms(R[s, v, "p999_us"]), idle ? "-" : ms(R[s, v, "max_us"]),
		    num(R[s, v, "rss_per_conn"]), num(R[s, v, "anon_per_conn"]),
		    idle || num(R[s, v, "srv_cpu_s"]) <= 0 ? "-" : sprintf("%.0f", 100 * num(R[s, v, "srv_sys_s"]) / num(R[s, v, "srv_cpu_s"])),
		    idle ? "-" : sprintf("%.0f", num(R[s, v, "own_cpu_pct"])),
		    R[s, v, "result"] (R[s, v, "exit"] != "" && R[s, v, "exit"] != 0 ? " (exit " R[s, v, "exit"] ")" : "") >> md
	}
	print "\n## wschatd as a ratio of each peer\n" >> md
	print "Below 1: wschatd delivers less per second, costs less CPU, waits less, holds less memory." >> md
	print "\n| scenario | wschatd | peer | deliveries/s | CPU-s/M | p50 | p99 | p99.9 | RSS/conn |" >> md
	print "|---|---|---|---:|---:|---:|---:|---:|---:|" >> md
	for (i = 0; i < ns; i++) for (j = 0; j < nv; j++) for (k = 0; k < nv; k++) {
		s = scn[i]; v = srv[j]; p = srv[k]
		if (v !~ /^wschatd/ || p ~ /^(wschatd|before)/) continue
		if (!((s SUBSEP v) in res) || !((s SUBSEP p) in res)) continue
		if (R[s, v, "result"] ~ /^skipped/ || R[s, p, "result"] ~ /^skipped/) continue
		idle = num(R[s, v, "sent"]) == 0
		printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", s, v, p,
		    idle ? "-" : r2(R[s, v, "deliveries_per_s"], R[s, p, "deliveries_per_s"]),
		    idle ? "-" : r2(R[s, v, "cpu_per_M"], R[s, p, "cpu_per_M"]),
		    idle ? "-" : r2(R[s, v, "p50_us"], R[s, p, "p50_us"]),
		    idle ? "-" : r2(R[s, v, "p99_us"], R[s, p, "p99_us"]),
		    idle ? "-" : r2(R[s, v, "p999_us"], R[s, p, "p999_us"]),
		    r2(R[s, v, "rss_per_conn"], R[s, p, "rss_per_conn"]) >> md
	}
	nb = 0
	for (i = 0; i < ns; i++) for (w = 1; w <= 2; w++)
		if (((scn[i] SUBSEP "before" w) in res) && ((scn[i] SUBSEP "wschatd" w) in res))
			nb++
	if (nb > 0) {
		print "\n## This build over the build before (before1, before2)\n" >> md
		print "Below 1: this build delivers less per second, costs less CPU, waits less, holds less memory." >> md
		print "\n| scenario | workers | deliveries/s | CPU-s/M | p50 | p99 | p99.9 | RSS/conn |" >> md
		print "|---|---:|---:|---:|---:|---:|---:|---:|" >> md
		for (i = 0; i < ns; i++) for (w = 1; w <= 2; w++) {
			s = scn[i]; v = "wschatd" w; p = "before" w
			if (!((s SUBSEP v) in res) || !((s SUBSEP p) in res)) continue
			if (R[s, v, "result"] ~ /^skipped/ || R[s, p, "result"] ~ /^skipped/) continue
			idle = num(R[s, v, "sent"]) == 0
			printf "| %s | %d | %s | %s | %s | %s | %s | %s |\n", s, w,
			    idle ? "-" : r2(R[s, v, "deliveries_per_s"], R[s, p, "deliveries_per_s"]),
			    idle ? "-" : r2(R[s, v, "cpu_per_M"], R[s, p, "cpu_per_M"]),
			    idle ? "-" : r2(R[s, v, "p50_us"], R[s, p, "p50_us"]),
			    idle ? "-" : r2(R[s, v, "p99_us"], R[s, p, "p99_us"]),
			    idle ? "-" : r2(R[s, v, "p999_us"], R[s, p, "p999_us"]),
			    r2(R[s, v, "rss_per_conn"], R[s, p, "rss_per_conn"]) >> md
		}
	}
	print "\n## Targets (issue 6)\n" >> md
	print "Figures are wschatd over the peer (CPU-s/M, p99) unless said. A target counts only if wschatd delivered everything to everyone (ratio 1, none dropped).\n" >> md
	print "| target | wschatd | figure | limit | verdict |" >> md
	print "|---|---|---:|---:|---|" >> md
	for (w = 1; w <= 2; w++) {
		v = "wschatd" w
		c = "cpu_per_M"
		f = r2(R["a", v, c], R["a", "node", c])
		target("a: CPU-s/M vs node", "a", v, f == "-" ? "" : f, 1/20, peernote("a", "node"))
		f = r2(R["a", v, c], R["a", "gorilla", c])
		target("a: CPU-s/M vs gorilla", "a", v, f == "-" ? "" : f, 1/3, peernote("a", "gorilla"))
		f = r2(R["b", v, c], R["b", "node", c])
		target("b: CPU-s/M vs node", "b", v, f == "-" ? "" : f, 1/8, peernote("b", "node"))
		f = r2(R["b", v, c], R["b", "gorilla", c])
		target("b: CPU-s/M vs gorilla", "b", v, f == "-" ? "" : f, 1.5, peernote("b", "gorilla"))
		f = r2(R["c", v, c], R["c", "gorilla", c])
		target("c: CPU-s/M vs gorilla", "c", v, f == "-" ? "" : f, 1, peernote("c", "gorilla"))
		f = r2(R["c", v, "p99_us"], R["c", "gorilla", "p99_us"])
		target("c: p99 vs gorilla", "c", v, f == "-" ? "" : f, 1/5, peernote("c", "gorilla"))
		f = r2(R["d", v, c], R["d", "node", c])
		target("d: CPU-s/M vs node", "d", v, f == "-" ? "" : f, 1/2, peernote("d", "node"))
		f = r2(R["d", v, c], R["d", "gorilla", c])
		target("d: CPU-s/M vs gorilla", "d", v, f == "-" ? "" : f, 2/5, peernote("d", "gorilla"))
		f = r2(R["d", v, "p99_us"], R["d", "node", "p99_us"])
		target("d: p99 vs node (below)", "d", v, f == "-" ? "" : f, 0.9999, peernote("d", "node"))
		f = r2(R["d", v, "p99_us"], R["d", "gorilla", "p99_us"])
		target("d: p99 vs gorilla (below)", "d", v, f == "-" ? "" : f, 0.9999, peernote("d", "gorilla"))
		for (t = 0; t < 2; t++) {
			s = t ? "idle100k" : "idle10k"
			if (!((s SUBSEP v) in res)) continue
			# User-space memory: anonymous pages.  RSS adds the
			# shared presence table touched once (fixed, 4 MiB).
			f = num(R[s, v, "anon_per_conn"])
			st = f <= 2048 ? "met" : sprintf("missed: %.2fx the limit", f / 2048)
			if (R[s, v, "result"] != "ok")
				st = "not counted: " R[s, v, "result"]
			printf "| %s: user-space (anonymous) memory per idle connection, bytes (RSS: %d) | %s | %d | 2048 | %s |\n",
			    s, num(R[s, v, "rss_per_conn"]), v, f, st >> md
		}
		s = "idle100k"
		if ((s SUBSEP v) in res) {
			st = "missed: " R[s, v, "result"]
			if (R[s, v, "result"] == "ok")
				st = "met"
			printf "| idle100k: connections held | %s | %d | 100000 | %s |\n", v,
			    num(R[s, v, "conns"]), st >> md
		}
	}
	for (i = 0; i < ns; i++) {
		s = scn[i]
		if (!(s ~ /^[a-d]$/) || !((s SUBSEP "wschatd1") in res) ||
		    !((s SUBSEP "wschatd2") in res)) continue
		f = r2(R[s, "wschatd2", "cpu_per_M"], R[s, "wschatd1", "cpu_per_M"])
		target("bus " s ": CPU-s/M, 2 workers over 1", s, "wschatd2", f == "-" ? "" : f, 1.1,
		    valid(s, "wschatd1") ? "" : " (1 worker did not deliver everything)")
	}
}' "$csv"

if [ -r "$dir/notes.md" ]; then
	echo >>"$md"
	cat "$dir/notes.md" >>"$md"
fi

command -v gnuplot >/dev/null 2>&1 || exit 0

# Data for gnuplot: one block per scenario a-d, one line per server.
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
$col["scenario"] ~ /^[a-d]$/ && $col["sent"] > 0 {
	print $col["scenario"], $col["server"], $col["p50_us"] / 1000,
	    $col["p99_us"] / 1000, $col["p999_us"] / 1000, $col["cpu_per_M"]
}' "$csv" >"$dir/.plot.dat"
[ -s "$dir/.plot.dat" ] || { rm -f "$dir/.plot.dat"; exit 0; }
servers=$(awk '{ print $2 }' "$dir/.plot.dat" | awk '!s[$0]++' | tr '\n' ' ')
scns=$(awk '{ print $1 }' "$dir/.plot.dat" | awk '!s[$0]++' | tr '\n' ' ')

# cpu.dat: a row per scenario, a column per server.
awk -v servers="$servers" 'BEGIN { n = split(servers, sv, " ") }
{ v[$1, $2] = $6; if (!($1 in seen)) { seen[$1] = 1; order[m++] = $1 } }
END {
	printf "scenario"; for (i = 1; i <= n; i++) printf " %s", sv[i]; print ""
	for (j = 0; j < m; j++) {
		printf "%s", order[j]
		for (i = 1; i <= n; i++)
			printf " %s", ((order[j] SUBSEP sv[i]) in v) ? v[order[j], sv[i]] : "?"
		print ""
	}
}' "$dir/.plot.dat" >"$dir/.cpu.dat"

nsrv=$(echo $servers | wc -w)
{
	echo "set terminal pngcairo size 1000,700 noenhanced"
	echo "set output '$dir/cpu.png'"
	echo "set title 'Server CPU seconds per million deliveries (lower is better)'"
	echo "set style data histograms"
	echo "set style histogram clustered gap 1"
	echo "set style fill solid 0.8 border -1"
	echo "set logscale y"
	echo "set grid ytics"
	echo "set ylabel 'CPU-s per 10^6 deliveries'"
	echo "set key top left"
	echo "set datafile missing '?'"
	printf "plot"
	i=2
	for s in $servers; do
		printf " '%s' using %d:xtic(1) title columnheader" \
		    "$dir/.cpu.dat" "$i"
		[ "$i" -le "$nsrv" ] && printf ","
		i=$((i + 1))
	done
	echo
	echo "set output '$dir/latency.png'"
	echo "set terminal pngcairo size 1200,900 noenhanced"
	echo "set multiplot layout 2,2 title 'Latency, send to each delivery (ms, log scale)'"
	echo "set ylabel 'ms'"
	for s in $scns; do
		awk -v s="$s" '$1 == s { print $2, $3, $4, $5 }' \
		    "$dir/.plot.dat" >"$dir/.lat-$s.dat"
		echo "set title 'scenario $s'"
		echo "plot '$dir/.lat-$s.dat' using 2:xtic(1) title 'p50'," \
		    "'' using 3 title 'p99', '' using 4 title 'p99.9'"
	done
	echo "unset multiplot"
} >"$dir/.plot.gp"
gnuplot "$dir/.plot.gp" || echo "compare-report: gnuplot failed" >&2
rm -f "$dir"/.plot.dat "$dir"/.cpu.dat "$dir"/.lat-*.dat "$dir/.plot.gp"
{
	echo
	echo "![CPU cost](cpu.png)"
	echo
	echo "![Latency](latency.png)"
} >>"$md"
exit 0
