"""The server's monitor on a real server: its status row (written at start,
removed at a clean stop) and its usage samples in the database and usage.log."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable

from dashboard.usage import UsageLine
from tests.support.peers import admitted_pair, relay_messages
from tests.support.server import ServerProcess, plain_http_env
from tests.support.waiting import eventually

StartServer = Callable[..., ServerProcess]


def _rows(server: ServerProcess, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(server.data_dir / "ctserver.sqlite3") as db:
        return db.execute(query).fetchall()


def _usage_lines(server: ServerProcess) -> list[dict[str, object]]:
    path = server.data_dir / "logs" / "usage.log"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_status_rows_and_usage_samples_follow_a_session(start_server: StartServer) -> None:
    server = start_server(**plain_http_env(CT_STATUS_INTERVAL="0.3", CT_USAGE_INTERVAL="0.5"))
    await eventually(
        lambda: _rows(server, "SELECT connections FROM dashboard_serverstatus") == [(0,)],
        what="a status row at start",
    )
    async with admitted_pair(server.http_url) as (host, guest):
        await relay_messages(host, guest, 128)  # one frame in 64 is timed
        await eventually(
            lambda: (
                _rows(
                    server,
                    "SELECT connections, sessions, relay_lag_ms IS NOT NULL "
                    "FROM dashboard_serverstatus",
                )
                == [(2, 1, 1)]
            ),
            what="the status row counting the session and its relay lag",
        )
        await eventually(
            lambda: any(line["users"] == 2 for line in _usage_lines(server)),
            what="a usage sample counting two users",
        )
    lines = _usage_lines(server)
    assert set(lines[0]) == set(UsageLine.__dataclass_fields__)
    assert sum(int(str(line["frames_relayed"])) for line in lines) >= 128
    assert max(int(str(line["peak_connections"])) for line in lines) == 2
    [(count, peak)] = _rows(
        server, "SELECT COUNT(*), MAX(peak_connections) FROM dashboard_usagesample"
    )
    assert count != 0 and peak == 2
    assert server.stop() == 0
    assert _rows(server, "SELECT * FROM dashboard_serverstatus") == []  # a clean stop
