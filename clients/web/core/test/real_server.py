"""Start a real ctserver for real-server.test.ts, as the Python tests start theirs
(tests/support/server.py): print its URL, and stop it when stdin closes.

Run from the repository root with the virtualenv's Python and PYTHONPATH=. .
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.support.server import ServerProcess, plain_http_env


def main() -> None:
    with (
        tempfile.TemporaryDirectory(prefix="ctserver-web-test-") as root,
        ServerProcess(Path(root) / "data", **plain_http_env()) as server,
    ):
        print(server.http_url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
