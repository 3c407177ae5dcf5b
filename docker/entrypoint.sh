#!/bin/sh
# Container entrypoint (also run directly by the tests): migrate, then serve.
# PYTHON picks the interpreter; the image puts its virtualenv first on PATH.
set -eu
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
"$PYTHON" manage.py migrate --noinput
exec "$PYTHON" manage.py serve
