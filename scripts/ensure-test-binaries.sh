#!/usr/bin/env bash
# The tests start private Redis and PostgreSQL servers from the installed binaries,
# drive Debian's Chromium for the portal's browser tests, and run StatsD on Node.js.
# Install what is missing (Debian packages, when root), or say what to install.
set -euo pipefail
need=()
command -v redis-server >/dev/null || need+=(redis-server)
if ! command -v initdb >/dev/null && ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    need+=(postgresql)
fi
command -v chromium >/dev/null || need+=(chromium)
# The load balancers in front of several servers (tests/test_balancer.py, test_deploy_files.py).
command -v nginx >/dev/null || need+=(nginx-light)
command -v haproxy >/dev/null || need+=(haproxy)
# The StatsD tests' daemon (scripts/ensure-test-statsd.sh installs it from npm).
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing ${need[*]} for the tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
else
    echo "make test needs ${need[*]}: install them (Debian: sudo apt-get install ${need[*]})" >&2
    exit 1
fi
