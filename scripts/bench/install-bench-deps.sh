#!/bin/sh
#
# Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
#
# install-bench-deps.sh: what scripts/bench/compare.sh needs beyond the
# build (scripts/install-deps.sh): Go and the packaged gorilla/websocket
# for the Go hub peer, Node.js and npm for the node ws and Bun peers, a C
# compiler and libssl-dev (SHA-1 and base64 from libcrypto) for the floor
# peer, gnuplot for the plots, valgrind and strace for the closing notes.
# Debian 12.  Not part of CI: benchmarks never run there.  The npm
# packages, ws and Bun (@oven/bun-linux-x64, a prebuilt binary, version
# pinned), are installed by compare.sh into its build directory (npm ci
# from peers/package-lock.json): Bun comes through npm, not from here.
set -eu
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
pkgs="golang-go golang-github-gorilla-websocket-dev gcc libc6-dev libssl-dev
    gnuplot-nox valgrind strace"
# nodesource's nodejs bundles npm and conflicts with Debian's npm package.
command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs"
command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm"
$SUDO apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
