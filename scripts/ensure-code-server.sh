#!/usr/bin/env bash
# The VS Code extension's tests (tests/test_vscode.py) run it in a real VS Code:
# code-server from the npm registry, installed once outside the repository. Its own
# post-install step downloads ripgrep from a host a closed network cannot reach, so
# the steps run here by hand, with Debian's ripgrep. Prints code-server's entry point.
set -euo pipefail
version=4.100.3
dir=${CTSERVER_CODE_SERVER:-${XDG_CACHE_HOME:-$HOME/.cache}/ctserver-tests/code-server}
entry="$dir/node_modules/code-server/out/node/entry.js"
stamp="$dir/.ready-$version"
if [ ! -e "$stamp" ]; then
    packages=(libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev pkg-config ripgrep)
    missing=()
    for package in "${packages[@]}"; do dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package"); done
    "$(dirname "$0")/install-debian-packages.sh" "the VS Code tests" ${missing[@]+"${missing[@]}"}
    echo "Installing code-server $version into $dir (once)" >&2
    mkdir -p "$dir"
    cd "$dir"
    [ -f package.json ] || echo '{"private": true}' > package.json
    export npm_config_yes=true npm_config_cache="${XDG_CACHE_HOME:-$HOME/.cache}/ctserver-tests/npm"
    npm install --no-audit --no-fund --ignore-scripts "code-server@$version" >/dev/null
    npm rebuild argon2 >/dev/null
    cd node_modules/code-server/lib/vscode
    npm install --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null
    npm rebuild @parcel/watcher node-pty @vscode/spdlog @vscode/deviceid native-watchdog kerberos >/dev/null
    mkdir -p node_modules/@vscode/ripgrep/bin
    ln -sf "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
    [ -e node_modules.asar ] || ln -s node_modules node_modules.asar
    (cd extensions && npm install --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null)
    touch "$stamp"
fi
echo "$entry"
