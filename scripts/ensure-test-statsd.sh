#!/usr/bin/env bash
# The StatsD tests (tests/test_statsd.py) send to a real StatsD daemon: Etsy's
# statsd from npm, installed once into a cache outside the repository. Prints the
# folder holding stats.js. Needs Node.js and npm.
set -euo pipefail
VERSION=0.9.0
cache="${XDG_CACHE_HOME:-$HOME/.cache}/ctserver-tests/statsd-$VERSION"
daemon="$cache/node_modules/statsd"
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9  # parallel test workers: one installs, the others wait for it
if [ ! -f "$daemon/stats.js" ]; then
    if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
        echo "the StatsD tests need Node.js and npm (Debian: sudo apt-get install nodejs npm)" >&2
        exit 1
    fi
    npm install --prefix "$cache" --no-audit --no-fund --no-save --silent "statsd@$VERSION" >&2
fi
echo "$daemon"
