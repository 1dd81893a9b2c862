#!/bin/sh
# Install what wschatd needs to build and test on Debian 12.
set -eu
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
	build-essential autoconf automake pkg-config \
	libevent-dev libmsgpack-dev libssl-dev libjansson-dev libcriterion-dev \
	python3 python3-websockets python3-msgpack tmux >/dev/null
