#!/bin/sh
# Build the libFuzzer targets in tests/fuzz/ with clang, ASan and UBSan, and
# run each for SECONDS (default 30) on a copy of its seed corpus, after
# replaying every crash found before (tests/fuzz/regressions/TARGET/).
# Fails if a target crashes, leaks or trips UBSan; the crash input is
# copied to tests/fuzz/regressions/TARGET/ (commit it with the fix: make
# check replays it from then on) and its path printed.
#
#   scripts/fuzz.sh [SECONDS]     FUZZ_TARGETS="http ws" to run only some
#
# Needs clang and libFuzzer's runtime (Debian: clang, libclang-rt-14-dev).
# Builds in build/fuzz (FUZZ_BUILD), by hand: the codecs are a few files,
# and a second autotools tree with a different compiler is more to go wrong.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
secs=${1:-30}
out=${FUZZ_BUILD:-$top/build/fuzz}
cc=${FUZZ_CC:-clang}
targets=${FUZZ_TARGETS:-"http ws chat_json chat_msgpack env cfg line ws_client"}
codecs="http ws utf8 cfg log now xmalloc chat chat_line chat_name buf bucket ws_client"

if ! command -v "$cc" >/dev/null; then
	echo "fuzz: $cc not found (apt-get install clang libclang-rt-14-dev)"
	exit 1
fi
msgpack=msgpack-c
pkg-config --exists $msgpack || msgpack=msgpack
pkgs="libcrypto jansson $msgpack"
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
cflags="-g -O1 -fno-omit-frame-pointer $san -D_GNU_SOURCE \
    -I$top/src -I$top/shm -I$top/tests/fuzz $(pkg-config --cflags $pkgs)"
libs=$(pkg-config --libs $pkgs)

rm -rf "$out" && mkdir -p "$out/obj"
echo "=== fuzz: build in $out ($($cc --version | head -n 1))"
for c in $codecs; do
	$cc $cflags -fsanitize=fuzzer-no-link -c "src/$c.c" \
	    -o "$out/obj/$c.o" || exit 1
done
for t in $targets; do
	extra=
	case $t in chat_*) extra=tests/fuzz/fuzz_chat.c ;; esac
	# shellcheck disable=SC2086
	$cc $cflags -fsanitize=fuzzer -o "$out/fuzz_$t" \
	    "tests/fuzz/fuzz_$t.c" $extra "$out"/obj/*.o $libs || exit 1
done

# Leaks count: the targets free everything they make.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
for t in $targets; do
	bin=$out/fuzz_$t log=$out/$t.log reg=tests/fuzz/regressions/$t
	mkdir -p "$out/corpus/$t" "$out/crash/$t"
	cp tests/fuzz/corpus/$t/* "$out/corpus/$t/"
	found=
	# A replay is the binary run on the files: each once, no fuzzing.
	set -- $(find "$reg" -type f ! -name 'README' ! -name '.*' \
	    2>/dev/null | sort)
	nreg=$#
	if [ $# -gt 0 ] && ! "$bin" "$@" >"$out/$t.replay.log" 2>&1; then
		echo "fuzz $t: a regression input fails again:"
		grep -E '^(Running|==[0-9]+==ERROR|SUMMARY)' \
		    "$out/$t.replay.log" | tail -n 5
		status=1
		continue
	fi
	if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$out/crash/$t/" \
	    "$out/corpus/$t" >"$log" 2>&1; then
		found=$(ls "$out/crash/$t/" 2>/dev/null | head -n 1)
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 |
	    sed -n 's/.*\(cov: [0-9]* ft: [0-9]* corp: [0-9/a-zA-Z]*\).*/\1/p')
	echo "fuzz $t: ${execs:-?} runs in ${secs}s, ${rate:-?}/s," \
	    "${cov:-?}, $nreg regressions replayed"
	if [ -n "$found" ] || ! grep -q '^Done [0-9]* runs' "$log"; then
		status=1
		mkdir -p "$reg"
		[ -n "$found" ] && cp "$out/crash/$t/$found" "$reg/"
		echo "fuzz $t: FAILED; log: $log"
		grep -E '==[0-9]+==ERROR|^SUMMARY|assertion failed|runtime error' \
		    "$log" | head -n 5
		[ -n "$found" ] && echo "fuzz $t: reproducer:" \
		    "$out/crash/$t/$found, copied to $reg/$found;" \
		    "rerun: $bin $reg/$found"
	fi
done
exit $status
