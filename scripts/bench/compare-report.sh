#!/bin/sh
#
# Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
#
# compare-report.sh DIR: the report of a compare.sh run from DIR/meta and
# DIR/results.csv: DIR/results.md (one table of every run with the
# generator's own CPU beside each figure, wschatd as a ratio of each peer,
# the ladder's highest rate sustained per server, every server as a
# multiple of the floor, 2 workers against 1, the targets of issues 6 and
# 15 with met or missed and by how much) and, if gnuplot is there,
# DIR/latency.png (p50, p99, p99.9 per server, one panel per scenario),
# DIR/cpu.png (server CPU seconds per million deliveries) and
# DIR/ladder.png (p99 per offered rate).  A notes.md in DIR, if any, is
# appended to results.md.  Reads and writes DIR only; can be run again on
# old results.  A server that did not run is left out of every table.

set -u
dir=${1:?usage: compare-report.sh DIR}
csv=$dir/results.csv
md=$dir/results.md
[ -r "$csv" ] || { echo "compare-report: no $csv" >&2; exit 1; }

meta() {
	sed -n "s/^$1=//p" "$dir/meta" | head -n 1
}

{
	echo "# wschatd against its peers: $(meta date), $(meta host)"
	echo
	echo "Made by \`scripts/bench/compare.sh\` (issues 6 and 15); the raw output of"
	echo "every run is in [logs/](logs/), every figure in"
	echo "[results.csv](results.csv)."
	echo
	echo "| | |"
	echo "|---|---|"
	# The usual keys in this order, then any other compare.sh wrote.
	keys="cpus memory kernel wschatd node go pinning duration fd_limit \
	    load_start load_end quiet"
	for k in $keys $(sed -n 's/^\([a-z_0-9]*\)=.*/\1/p' "$dir/meta" |
	    grep -vx -e date -e host $(printf ' -e %s' $keys)); do
		[ -n "$(meta $k)" ] && echo "| $k | $(meta $k) |"
	done
	echo
	echo "floor: \`peers/floor.c\`, the least work a broadcast can do on this"
	echo "kernel (one epoll loop, each frame built once, one writev per"
	echo "connection per iteration, no chat); bun: \`Bun.serve\` with"
	echo "\`server.publish\` (uWebSockets' pub/sub);"
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
	echo "server batches. gen CPU: chatbench's own CPU over the send phase,"
	echo "% of its one core; at 90% or more the row says \"(generator"
	echo "saturated)\": the generator, not the server, was the limit, and a"
	echo "saturated generator reads in large batches, which lets the server"
	echo "write in large ones too and flatters its CPU-s/M. The peers get the"
	echo "room in the upgrade URL (\`/ws?room=r7\`), wschatd a \`join\`."
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
# The CPU of the generator over the send phase, % of its core, and
# whether it was the limit: a saturated generator reads in large batches,
# so the server writes in large ones, which flatters the server.
function genpct(s, v) { return num(R[s, v, "own_cpu_pct"]) }
function saturated(s, v) { return genpct(s, v) >= 90 }
function gen(s, v) {
	if (!((s SUBSEP v) in res) || num(R[s, v, "sent"]) == 0)
		return "-"
	return sprintf("%.0f%s", genpct(s, v),
	    saturated(s, v) ? " (generator saturated)" : "")
}
# Both runs of a comparison: "gen(v) / gen(p)".
function gen2(s, v, p) { return gen(s, v) " / " gen(s, p) }
function hdr6() {
	if (h6++)
		return
	print "\n## Targets (issue 6)\n" >> md
	print "Figures are wschatd over the peer (CPU-s/M, p99) unless said. A target counts only if wschatd delivered everything to everyone (ratio 1, none dropped). gen CPU: the generator\047s, in the run of wschatd / of the peer.\n" >> md
	print "| target | wschatd | figure | limit | verdict | gen CPU % |" >> md
	print "|---|---|---:|---:|---|---|" >> md
}
# One target: figure f (wschatd over peer p) against limit l, at most.
function target(what, s, v, p, f, l, note,    st) {
	if (!((s SUBSEP v) in res) || !((s SUBSEP p) in res))
		return
	hdr6()
	if (f == "") {
		printf "| %s | %s | - | %s | no figure%s | %s |\n", what, v, l,
		    note, gen2(s, v, p) >> md
		return
	}
	if (!valid(s, v))
		st = "not counted: " v " did not deliver everything"
	else if (f <= l + 1e-12)
		st = "met"
	else
		st = sprintf("missed: %.2fx the limit", f / l)
	printf "| %s | %s | %.3g | %.3g | %s%s | %s |\n", what, v, f, l, st,
	    note, gen2(s, v, p) >> md
}
# The ladder: the rate a rung offers, deliveries/s, from its name
# (ladder250k, ladder1m, ladder1500k).
function ladrate(s,    x) {
	x = substr(s, 7)
	if (x ~ /k$/) return (x + 0) * 1000
	if (x ~ /m$/) return (x + 0) * 1000000
	return x + 0
}
function rate(r) {
	if (r >= 1000000)
		return sprintf("%gM", r / 1000000)
	return sprintf("%gk", r / 1000)
}
# A rung sustained: everything delivered (ratio 1, none missing or
# dropped, run ok) with p99 at most 100 ms.
function sustains(s, v) {
	return valid(s, v) && num(R[s, v, "ratio"]) >= 1 &&
	    num(R[s, v, "p99_us"]) <= 100000
}
# Why rung s was not sustained by v.
function why(s, v,    w) {
	if (!((s SUBSEP v) in res))
		return "not run"
	if (R[s, v, "result"] ~ /^skipped/)
		return R[s, v, "result"]
	w = ""
	if (num(R[s, v, "missing"]) > 0 || num(R[s, v, "ratio"]) < 1)
		w = "ratio " rat(num(R[s, v, "ratio"]))
	if (num(R[s, v, "dropped"]) > 0)
		w = w (w == "" ? "" : ", ") num(R[s, v, "dropped"]) " dropped"
	if (num(R[s, v, "p99_us"]) > 100000)
		w = w (w == "" ? "" : ", ") "p99 " ms(R[s, v, "p99_us"]) " ms"
	if (w == "" && R[s, v, "result"] != "ok")
		w = "result " R[s, v, "result"]
	return w
}
# The highest rung v sustains, climbing from the lowest and stopping at
# the first it does not (0: not even the lowest); the first rung missed
# in failed[v].
function ladder(v,    i) {
	failed[v] = ""
	for (i = 0; i < nl; i++)
		if (!sustains(lad[i], v)) {
			failed[v] = lad[i]
			return i > 0 ? ladrate(lad[i - 1]) : 0
		}
	return nl > 0 ? ladrate(lad[nl - 1]) : 0
}
# What ladder() returned, as a rate.
function reached(r) {
	if (r > 0)
		return rate(r)
	return "below " rate(ladrate(lad[0]))
}
function ran_ladder(v,    i) {
	for (i = 0; i < nl; i++)
		if ((lad[i] SUBSEP v) in res)
			return 1
	return 0
}
# An issue 15 target: wschatd1 figure a against bun figure b, at most
# (dir 1) or at least (dir -1).
function t15(what, s, a, b, dir, fmt, w, p,    st, note) {
	if (!((s SUBSEP w) in res) || !((s SUBSEP p) in res)) {
		printf "| %s | %s | %s | not run | - |\n", what,
		    (s SUBSEP w) in res ? sprintf(fmt, a) : "-",
		    (s SUBSEP p) in res ? sprintf(fmt, b) : "-" >> md
		return
	}
	note = ""
	if (s !~ /^ladder/ && !valid(s, p))
		note = " (" p " did not deliver everything: its figure does not count as faster)"
	if (s !~ /^ladder/ && !valid(s, w))
		st = "not counted: " w " did not deliver everything"
	else if (dir * a <= dir * b)
		st = "met"
	else
		st = b > 0 ? sprintf("not met: %.2fx %s", a / b, p) : "not met"
	printf "| %s | %s | %s | %s%s | %s |\n", what, sprintf(fmt, a),
	    sprintf(fmt, b), st, note, s ~ /^ladder/ ? "-" : gen2(s, w, p) >> md
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
		    gen(s, v),
		    R[s, v, "result"] (R[s, v, "exit"] != "" && R[s, v, "exit"] != 0 ? " (exit " R[s, v, "exit"] ")" : "") >> md
	}

	# The ladder: its rungs by offered rate.
	nl = 0
	for (i = 0; i < ns; i++)
		if (scn[i] ~ /^ladder[0-9.]+[km]?$/)
			lad[nl++] = scn[i]
	for (i = 1; i < nl; i++)
		for (j = i; j > 0 && ladrate(lad[j - 1]) > ladrate(lad[j]); j--) {
			t = lad[j]; lad[j] = lad[j - 1]; lad[j - 1] = t
		}
	if (nl > 0) {
		print "\n## The ladder: the highest rate sustained\n" >> md
		printf "Scenario c\047s shape (5000 connections, 1 sender) at fixed offered rates of %s", rate(ladrate(lad[0])) >> md
		for (i = 1; i < nl; i++)
			printf "%s%s", i == nl - 1 ? " and " : ", ", rate(ladrate(lad[i])) >> md
		print " deliveries/s. A rung is sustained when everything was delivered (ratio 1, none missing or dropped) with p99 at most 100 ms; the figure is the highest rung reached climbing from the lowest, stopping at the first missed. Look at the generator\047s CPU on the rung missed: a saturated generator reads late, and its latency is partly its own.\n" >> md
		print "| server | highest rate sustained | first rung missed | why | gen CPU % there |" >> md
		print "|---|---:|---|---|---|" >> md
		for (j = 0; j < nv; j++) {
			v = srv[j]
			if (!ran_ladder(v)) continue
			r = ladder(v)
			f = failed[v]
			printf "| %s | %s | %s | %s | %s |\n", v, reached(r),
			    f == "" ? "-" : rate(ladrate(f)), f == "" ? "-" : why(f, v),
			    f == "" ? "-" : gen(f, v) >> md
		}
		print "\n| server | offered | deliveries/s | ratio | p50 ms | p99 ms | CPU-s/M | gen CPU % | sustained |" >> md
		print "|---|---:|---:|---:|---:|---:|---:|---|---|" >> md
		for (j = 0; j < nv; j++) for (i = 0; i < nl; i++) {
			v = srv[j]; s = lad[i]
			if (!((s SUBSEP v) in res)) continue
			if (R[s, v, "result"] ~ /^skipped/) {
				printf "| %s | %s | - | - | - | - | - | - | no: %s |\n", v,
				    rate(ladrate(s)), R[s, v, "result"] >> md
				continue
			}
			printf "| %s | %s | %.0f | %s | %s | %s | %.3f | %s | %s |\n", v,
			    rate(ladrate(s)), num(R[s, v, "deliveries_per_s"]),
			    rat(num(R[s, v, "ratio"])), ms(R[s, v, "p50_us"]),
			    ms(R[s, v, "p99_us"]), num(R[s, v, "cpu_per_M"]), gen(s, v),
			    sustains(s, v) ? "yes" : "no: " why(s, v) >> md
		}
	}

	# Every server as a multiple of the floor, where the floor ran.
	hf = 0
	for (i = 0; i < ns; i++) for (j = 0; j < nv; j++) {
		s = scn[i]; v = srv[j]; p = "floor"
		if (v == p || !((s SUBSEP v) in res) || !((s SUBSEP p) in res)) continue
		if (num(R[s, p, "sent"]) == 0 || num(R[s, v, "sent"]) == 0 ||
		    num(R[s, p, "cpu_per_M"]) <= 0) continue
		if (!hf++) {
			print "\n## Every server as a multiple of the floor\n" >> md
			print "x floor: the server\047s CPU-s/M over the floor\047s in the same scenario (1: as cheap as a broadcast can be on this kernel). A figure of a run that did not deliver everything does not count as cheaper; a saturated generator flatters both.\n" >> md
			print "| scenario | server | CPU-s/M | floor CPU-s/M | x floor | gen CPU % (server / floor) | note |" >> md
			print "|---|---|---:|---:|---:|---|---|" >> md
		}
		note = ""
		if (!valid(s, v))
			note = v " did not deliver everything (ratio " rat(num(R[s, v, "ratio"])) ", " num(R[s, v, "dropped"]) " dropped)"
		if (!valid(s, p))
			note = note (note == "" ? "" : "; ") "floor did not deliver everything"
		printf "| %s | %s | %.3f | %.3f | %.2f | %s | %s |\n", s, v,
		    num(R[s, v, "cpu_per_M"]), num(R[s, p, "cpu_per_M"]),
		    num(R[s, v, "cpu_per_M"]) / num(R[s, p, "cpu_per_M"]),
		    gen2(s, v, p), note >> md
	}

	# Issue 15: wschatd with one worker against Bun.
	w = "wschatd1"; p = "bun"
	h15 = 0
	for (i = 0; i < ns; i++)
		if (((scn[i] SUBSEP w) in res) && ((scn[i] SUBSEP p) in res))
			h15 = 1
	if (h15) {
		print "\n## Targets (issue 15): wschatd -w 1 against Bun\n" >> md
		print "Each target counts only if wschatd delivered everything (ratio 1, none dropped). The ladder\047s figure is the highest rate sustained (above). Memory: anonymous memory per idle connection at 10,000 connections, at most 1,700 bytes (1.7 KB).\n" >> md
		print "| target | " w " | " p " | verdict | gen CPU % (" w " / " p ") |" >> md
		print "|---|---:|---:|---|---|" >> md
		split("a b c d kib rooms", t15s, " ")
		for (k = 1; k <= 6; k++) {
			s = t15s[k]
			if (!((s SUBSEP w) in res) && !((s SUBSEP p) in res)) continue
			t15(s ": CPU-s/M at or below Bun\047s", s, num(R[s, w, "cpu_per_M"]),
			    num(R[s, p, "cpu_per_M"]), 1, "%.3f", w, p)
		}
		for (k = 3; k <= 4; k++) {
			s = t15s[k]
			if (!((s SUBSEP w) in res) && !((s SUBSEP p) in res)) continue
			t15(s ": p99 (ms) at or below Bun\047s", s, num(R[s, w, "p99_us"]) / 1000,
			    num(R[s, p, "p99_us"]) / 1000, 1, "%.2f", w, p)
		}
		if (nl > 0 && (ran_ladder(w) || ran_ladder(p))) {
			a = ran_ladder(w) ? ladder(w) : 0
			b = ran_ladder(p) ? ladder(p) : 0
			if (!ran_ladder(w) || !ran_ladder(p))
				printf "| ladder: highest rate sustained at or above Bun\047s | %s | %s | not run | - |\n",
				    ran_ladder(w) ? rate(a) : "-", ran_ladder(p) ? rate(b) : "-" >> md
			else
				printf "| ladder: highest rate sustained at or above Bun\047s | %s | %s | %s | - |\n",
				    reached(a), reached(b), (a >= b) ? "met" : "not met" >> md
		}
		s = "idle10k"
		if ((s SUBSEP w) in res) {
			f = num(R[s, w, "anon_per_conn"])
			st = f <= 1700 ? "met" : sprintf("not met: %.2fx the limit", f / 1700)
			if (R[s, w, "result"] != "ok")
				st = "not counted: " R[s, w, "result"]
			printf "| idle10k: anonymous memory per idle connection, bytes, at most 1700 | %d | %s | %s | - |\n",
			    f, (s SUBSEP p) in res ? sprintf("%d", num(R[s, p, "anon_per_conn"])) : "-", st >> md
		}
	}

	# Issue 15: two workers must not cost more per delivery than one.
	hw = 0
	split("a c rooms", wss, " ")
	for (k = 1; k <= 3; k++) {
		s = wss[k]
		if (!((s SUBSEP "wschatd1") in res) || !((s SUBSEP "wschatd2") in res)) continue
		if (!hw++) {
			print "\n## Two workers against one (issue 15)\n" >> md
			print "wschatd -w 2 over -w 1, CPU-s/M, both on the one server CPU: at most 1 (two workers must not cost more per delivery than one). The generator runs on the machine\047s other core: its share is beside each figure.\n" >> md
			print "| scenario | wschatd1 CPU-s/M | wschatd2 CPU-s/M | 2 over 1 | verdict | gen CPU % (wschatd1 / wschatd2) |" >> md
			print "|---|---:|---:|---:|---|---|" >> md
		}
		a = num(R[s, "wschatd1", "cpu_per_M"]); b = num(R[s, "wschatd2", "cpu_per_M"])
		if (!valid(s, "wschatd2") || !valid(s, "wschatd1"))
			st = "not counted: a run did not deliver everything"
		else if (a > 0 && b <= a)
			st = "met"
		else
			st = "not met"
		printf "| %s | %.3f | %.3f | %s | %s | %s |\n", s, a, b, r2(b, a), st,
		    gen2(s, "wschatd1", "wschatd2") >> md
	}
	print "\n## wschatd as a ratio of each peer\n" >> md
	print "Below 1: wschatd delivers less per second, costs less CPU, waits less, holds less memory." >> md
	print "\n| scenario | wschatd | peer | deliveries/s | CPU-s/M | p50 | p99 | p99.9 | RSS/conn | gen CPU % (wschatd / peer) | note |" >> md
	print "|---|---|---|---:|---:|---:|---:|---:|---:|---|---|" >> md
	for (i = 0; i < ns; i++) for (j = 0; j < nv; j++) for (k = 0; k < nv; k++) {
		s = scn[i]; v = srv[j]; p = srv[k]
		if (v !~ /^wschatd/ || p ~ /^(wschatd|before)/) continue
		if (!((s SUBSEP v) in res) || !((s SUBSEP p) in res)) continue
		if (R[s, v, "result"] ~ /^skipped/ || R[s, p, "result"] ~ /^skipped/) continue
		idle = num(R[s, v, "sent"]) == 0
		note = ""
		if (!idle && !valid(s, v))
			note = v " did not deliver everything"
		if (!idle && !valid(s, p))
			note = note (note == "" ? "" : "; ") p " did not deliver everything"
		printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", s, v, p,
		    idle ? "-" : r2(R[s, v, "deliveries_per_s"], R[s, p, "deliveries_per_s"]),
		    idle ? "-" : r2(R[s, v, "cpu_per_M"], R[s, p, "cpu_per_M"]),
		    idle ? "-" : r2(R[s, v, "p50_us"], R[s, p, "p50_us"]),
		    idle ? "-" : r2(R[s, v, "p99_us"], R[s, p, "p99_us"]),
		    idle ? "-" : r2(R[s, v, "p999_us"], R[s, p, "p999_us"]),
		    r2(R[s, v, "rss_per_conn"], R[s, p, "rss_per_conn"]),
		    idle ? "-" : gen2(s, v, p), note >> md
	}
	nb = 0
	for (i = 0; i < ns; i++) for (w = 1; w <= 2; w++)
		if (((scn[i] SUBSEP "before" w) in res) && ((scn[i] SUBSEP "wschatd" w) in res))
			nb++
	if (nb > 0) {
		print "\n## This build over the build before (before1, before2)\n" >> md
		print "Below 1: this build delivers less per second, costs less CPU, waits less, holds less memory." >> md
		print "\n| scenario | workers | deliveries/s | CPU-s/M | p50 | p99 | p99.9 | RSS/conn | gen CPU % (this / before) |" >> md
		print "|---|---:|---:|---:|---:|---:|---:|---:|---|" >> md
		for (i = 0; i < ns; i++) for (w = 1; w <= 2; w++) {
			s = scn[i]; v = "wschatd" w; p = "before" w
			if (!((s SUBSEP v) in res) || !((s SUBSEP p) in res)) continue
			if (R[s, v, "result"] ~ /^skipped/ || R[s, p, "result"] ~ /^skipped/) continue
			idle = num(R[s, v, "sent"]) == 0
			printf "| %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", s, w,
			    idle ? "-" : r2(R[s, v, "deliveries_per_s"], R[s, p, "deliveries_per_s"]),
			    idle ? "-" : r2(R[s, v, "cpu_per_M"], R[s, p, "cpu_per_M"]),
			    idle ? "-" : r2(R[s, v, "p50_us"], R[s, p, "p50_us"]),
			    idle ? "-" : r2(R[s, v, "p99_us"], R[s, p, "p99_us"]),
			    idle ? "-" : r2(R[s, v, "p999_us"], R[s, p, "p999_us"]),
			    r2(R[s, v, "rss_per_conn"], R[s, p, "rss_per_conn"]),
			    idle ? "-" : gen2(s, v, p) >> md
		}
	}
	for (w = 1; w <= 2; w++) {
		v = "wschatd" w
		c = "cpu_per_M"
		f = r2(R["a", v, c], R["a", "node", c])
		target("a: CPU-s/M vs node", "a", v, "node", f == "-" ? "" : f, 1/20, peernote("a", "node"))
		f = r2(R["a", v, c], R["a", "gorilla", c])
		target("a: CPU-s/M vs gorilla", "a", v, "gorilla", f == "-" ? "" : f, 1/3, peernote("a", "gorilla"))
		f = r2(R["b", v, c], R["b", "node", c])
		target("b: CPU-s/M vs node", "b", v, "node", f == "-" ? "" : f, 1/8, peernote("b", "node"))
		f = r2(R["b", v, c], R["b", "gorilla", c])
		target("b: CPU-s/M vs gorilla", "b", v, "gorilla", f == "-" ? "" : f, 1.5, peernote("b", "gorilla"))
		f = r2(R["c", v, c], R["c", "gorilla", c])
		target("c: CPU-s/M vs gorilla", "c", v, "gorilla", f == "-" ? "" : f, 1, peernote("c", "gorilla"))
		f = r2(R["c", v, "p99_us"], R["c", "gorilla", "p99_us"])
		target("c: p99 vs gorilla", "c", v, "gorilla", f == "-" ? "" : f, 1/5, peernote("c", "gorilla"))
		f = r2(R["d", v, c], R["d", "node", c])
		target("d: CPU-s/M vs node", "d", v, "node", f == "-" ? "" : f, 1/2, peernote("d", "node"))
		f = r2(R["d", v, c], R["d", "gorilla", c])
		target("d: CPU-s/M vs gorilla", "d", v, "gorilla", f == "-" ? "" : f, 2/5, peernote("d", "gorilla"))
		f = r2(R["d", v, "p99_us"], R["d", "node", "p99_us"])
		target("d: p99 vs node (below)", "d", v, "node", f == "-" ? "" : f, 0.9999, peernote("d", "node"))
		f = r2(R["d", v, "p99_us"], R["d", "gorilla", "p99_us"])
		target("d: p99 vs gorilla (below)", "d", v, "gorilla", f == "-" ? "" : f, 0.9999, peernote("d", "gorilla"))
		for (t = 0; t < 2; t++) {
			s = t ? "idle100k" : "idle10k"
			if (!((s SUBSEP v) in res)) continue
			# User-space memory: anonymous pages.  RSS adds the
			# shared presence table touched once (fixed, 4 MiB).
			f = num(R[s, v, "anon_per_conn"])
			st = f <= 2048 ? "met" : sprintf("missed: %.2fx the limit", f / 2048)
			if (R[s, v, "result"] != "ok")
				st = "not counted: " R[s, v, "result"]
			hdr6()
			printf "| %s: user-space (anonymous) memory per idle connection, bytes (RSS: %d) | %s | %d | 2048 | %s | - |\n",
			    s, num(R[s, v, "rss_per_conn"]), v, f, st >> md
		}
		s = "idle100k"
		if ((s SUBSEP v) in res) {
			st = "missed: " R[s, v, "result"]
			if (R[s, v, "result"] == "ok")
				st = "met"
			hdr6()
			printf "| idle100k: connections held | %s | %d | 100000 | %s | - |\n", v,
			    num(R[s, v, "conns"]), st >> md
		}
	}
	for (i = 0; i < ns; i++) {
		s = scn[i]
		if (!(s ~ /^[a-d]$/) || !((s SUBSEP "wschatd1") in res) ||
		    !((s SUBSEP "wschatd2") in res)) continue
		f = r2(R[s, "wschatd2", "cpu_per_M"], R[s, "wschatd1", "cpu_per_M"])
		target("bus " s ": CPU-s/M, 2 workers over 1", s, "wschatd2", "wschatd1", f == "-" ? "" : f, 1.1,
		    valid(s, "wschatd1") ? "" : " (1 worker did not deliver everything)")
	}
}' "$csv"

if [ -r "$dir/notes.md" ]; then
	echo >>"$md"
	cat "$dir/notes.md" >>"$md"
fi

command -v gnuplot >/dev/null 2>&1 || exit 0

# Data for gnuplot: one block per fixed scenario (a-d, kib, rooms), one
# line per server.
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
$col["scenario"] ~ /^([a-d]|kib|rooms)$/ && $col["sent"] > 0 {
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
# The latency panels: 2 x 2 for a-d, 3 columns past 4.
npanel=$(echo $scns | wc -w)
pcols=2
[ "$npanel" -gt 4 ] && pcols=3
prows=$(((npanel + pcols - 1) / pcols))
# The ladder: a line per server, p99 against the rate offered.
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
$col["scenario"] ~ /^ladder[0-9.]+[km]?$/ && $col["sent"] > 0 {
	x = substr($col["scenario"], 7)
	r = x ~ /k$/ ? (x + 0) / 1000 : x ~ /m$/ ? x + 0 : (x + 0) / 1000000
	print $col["server"], r, $col["p99_us"] / 1000
}' "$csv" >"$dir/.ladder.dat"
lservers=$(awk '{ print $1 }' "$dir/.ladder.dat" | awk '!s[$0]++' |
    tr '\n' ' ')
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
	echo "set key outside right top"
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
	echo "set terminal pngcairo size $((600 * pcols)),$((450 * prows)) noenhanced"
	echo "set multiplot layout $prows,$pcols title 'Latency, send to each delivery (ms, log scale)'"
	echo "set ylabel 'ms'"
	for s in $scns; do
		awk -v s="$s" '$1 == s { print $2, $3, $4, $5 }' \
		    "$dir/.plot.dat" >"$dir/.lat-$s.dat"
		echo "set title 'scenario $s'"
		echo "plot '$dir/.lat-$s.dat' using 2:xtic(1) title 'p50'," \
		    "'' using 3 title 'p99', '' using 4 title 'p99.9'"
	done
	echo "unset multiplot"
	if [ -n "$lservers" ]; then
		echo "reset"
		echo "set terminal pngcairo size 1000,700 noenhanced"
		echo "set output '$dir/ladder.png'"
		echo "set title 'The ladder: p99 at each offered rate (sustained: at most 100 ms, everything delivered)'"
		echo "set logscale y"
		echo "set grid"
		echo "set xrange [0:$(awk 'BEGIN { m = 0 } $2 > m { m = $2 }
		    END { print m * 1.1 }' "$dir/.ladder.dat")]"
		echo "set yrange [1:*]"
		echo "set xlabel 'offered, million deliveries/s'"
		echo "set ylabel 'p99, ms'"
		echo "set key top left"
		printf "plot 100 title '100 ms' dashtype 2 lc rgb 'gray'"
		for s in $lservers; do
			awk -v s="$s" '$1 == s { print $2, $3 }' \
			    "$dir/.ladder.dat" | sort -g >"$dir/.ladder-$s.dat"
			printf ", '%s' using 1:2 with linespoints title '%s'" \
			    "$dir/.ladder-$s.dat" "$s"
		done
		echo
	fi
} >"$dir/.plot.gp"
gnuplot "$dir/.plot.gp" || echo "compare-report: gnuplot failed" >&2
rm -f "$dir"/.plot.dat "$dir"/.cpu.dat "$dir"/.lat-*.dat "$dir/.plot.gp" \
    "$dir"/.ladder*.dat
{
	echo
	echo "![CPU cost](cpu.png)"
	echo
	echo "![Latency](latency.png)"
	[ -z "$lservers" ] || printf '\n![The ladder](ladder.png)\n'
} >>"$md"
exit 0
