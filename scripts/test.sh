#!/bin/sh
# Install the build dependencies, build wschatd, and run the whole test
# suite three ways: a warnings-as-errors build (and its e2e tests again
# under valgrind memcheck), an ASan+UBSan build, and make distcheck (which
# builds from the tarball and tests that too); then the fuzz targets under
# libFuzzer, WSCHATD_FUZZ_SECONDS (20) each.
# Prints "N passed, N failed" over every test case at the end.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)

scripts/install-deps.sh
./autogen.sh >/dev/null 2>&1

status=0
run() {	# run DIR CONFIGURE-ARGS...: configure, build, make check
	dir=$1; shift
	rm -rf "$dir" && mkdir -p "$dir"
	echo "=== $dir: configure $*"
	(cd "$dir" && "$top/configure" -q "$@" && make -s -j"$jobs" &&
	    make -s check -j"$jobs") || status=1
}
run build/plain --enable-debug --enable-werror
# The e2e suite once more with every daemon process under valgrind.
echo "=== build/plain: scripts/memcheck.sh"
scripts/memcheck.sh build/plain || status=1
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run build/asan --enable-debug --enable-werror --enable-sanitizers
if [ "${WSCHATD_SKIP_DISTCHECK:-}" = "" ]; then
	echo "=== build/plain: make distcheck"
	(cd build/plain && make -s distcheck -j"$jobs" >/dev/null) || {
		echo "make distcheck failed"
		# Its test logs stay behind when a test failed: say which.
		for log in build/plain/wschatd-*/_build/sub/test-suite.log; do
			[ -f "$log" ] || continue
			grep -E '^(FAIL|ERROR):' "$log" | head -20
			scripts/test-summary.sh "$(dirname "$log")" | head -40
		done
		status=1
	}
fi
fuzz_secs=${WSCHATD_FUZZ_SECONDS:-20}
if [ "$fuzz_secs" -gt 0 ]; then
	echo "=== build/fuzz: scripts/fuzz.sh $fuzz_secs"
	scripts/fuzz.sh "$fuzz_secs" || { echo "fuzzing failed"; status=1; }
fi
scripts/test-summary.sh build/plain build/asan || status=1
exit $status
