#!/usr/bin/env bash
# The wheels the Python client needs, downloaded once (outside the repository) so
# that the test installing the server's client download never needs the package
# index. Prints the folder. Refreshed when the client's or the venv's pins change.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${CTSERVER_WHEELHOUSE:-${XDG_CACHE_HOME:-$HOME/.cache}/ctserver/wheelhouse}
pins=$(.venv/bin/python -m pip freeze --exclude-editable)
stamp="$dest/.ready-$( { cat clients/python/pyproject.toml; echo "$pins"; } | sha256sum | cut -c1-16)"
if [ ! -e "$stamp" ]; then
    mkdir -p "$dest"
    constraints=$(mktemp)
    trap 'rm -f "$constraints"' EXIT
    echo "$pins" > "$constraints"
    .venv/bin/python -m pip download --quiet --dest "$dest" --only-binary :all: \
        --constraint "$constraints" ./clients/python >&2
    rm -f "$dest"/.ready-*
    touch "$stamp"
fi
echo "$dest"
