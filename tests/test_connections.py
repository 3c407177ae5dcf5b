"""Database connections made for pages do not outlive them (ctserver/connections.py)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.support.server import ServerProcess, plain_http_env


def _database_files_open(pid: int, data_dir: Path) -> int:
    """How many descriptors of the process point at the SQLite database's files: each
    open connection holds the database and its write-ahead log."""
    database = str(data_dir.resolve() / "ctserver.sqlite3")
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        count += target.startswith(database)
    return count


def test_page_requests_leave_no_database_connection_open(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = start_server(
        tmp_path / "data",
        **plain_http_env(CT_MAX_OPEN_SESSIONS_PER_ADDRESS="500", CT_SESSION_CREATE_RATE="500"),
    )
    assert server.process is not None
    with httpx.Client(base_url=server.http_url, timeout=10) as client:
        client.post("/api/v1/sessions", json={}).raise_for_status()
        settled = _database_files_open(server.process.pid, server.data_dir)
        for _ in range(60):  # each on a thread of its own, with a connection of its own
            client.post("/api/v1/sessions", json={}).raise_for_status()
    assert settled > 0  # the count does see the database's files
    assert _database_files_open(server.process.pid, server.data_dir) <= settled + 2
