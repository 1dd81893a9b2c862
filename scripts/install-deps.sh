#!/bin/sh
# Install what wschatd needs to build and test on Debian 12.  The man page
# test lints with groff and mandoc; the init-script test uses dpkg's
# start-stop-daemon and sysvinit-utils' /lib/lsb/init-functions, both
# essential packages.
set -eu
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
	build-essential autoconf automake pkg-config \
	libevent-dev libmsgpack-dev libssl-dev libjansson-dev libcriterion-dev \
	python3 python3-websockets python3-msgpack tmux \
	groff-base mandoc >/dev/null
