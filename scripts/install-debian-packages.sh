#!/usr/bin/env bash
# Installs Debian packages a test needs, when root on Debian; otherwise says what to
# install and fails. Usage: install-debian-packages.sh "WHAT NEEDS THEM" PACKAGE...
set -euo pipefail
purpose=$1; shift
[ $# -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "$@" >/dev/null 2>&1 \
        || { apt-get update -qq && apt-get install -y -qq "$@" >/dev/null; }
else
    echo "$purpose needs $* (Debian: sudo apt-get install $*)" >&2
    exit 1
fi
