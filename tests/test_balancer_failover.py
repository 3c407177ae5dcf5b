"""A server lost or restarted behind the balancer: ctclient host and guest, their
folders compared on disk, keep every edit while their server is killed (-9) or
while all three servers restart one after another (SIGTERM); license places come
back and the session history records the takeover."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.support.balancer import Cluster, running_cluster
from tests.support.ctclients import content, ctclient, stop
from tests.support.server import ServerProcess
from tests.support.wire import closed_with, next_control

StartServer = Callable[..., ServerProcess]
PLACES = 4
# Both run on the default leases (CT_OWNER_LEASE 6 s): a failover takes about that
# plus the clients' backoff (docs/deploy.md), within the 10 s allowed.
DEFAULTS = {"CT_SHUTDOWN_TIMEOUT": "5"}


@pytest.fixture(params=[DEFAULTS], ids=["default leases"])
def cluster(
    start_server: StartServer,
    tmp_path: Path,
    redis_url: str,
    postgres_url: str,
    request: pytest.FixtureRequest,
) -> Iterator[Cluster]:
    with running_cluster(
        start_server, tmp_path, redis_url, postgres_url, places=PLACES, env=request.param
    ) as started:
        yield started


async def converged(host: Path, guest: Path, expected: str, within: float) -> float:
    """Seconds until both files hold ``expected``; fails after ``within``."""
    start = time.monotonic()
    while not (content(host) == expected and content(guest) == expected):
        if time.monotonic() - start > within:
            raise AssertionError(
                f"not converged in {within} s: {content(host)!r} / {content(guest)!r}"
            )
        await asyncio.sleep(0.1)
    return time.monotonic() - start


def holder(cluster: Cluster, session_id: str) -> ServerProcess:
    """The server the balancer sends this session's peers to."""
    answer = httpx.get(f"{cluster.url}/ct-health/", headers={"ctstickiness": session_id})
    return cluster.by_id(answer.headers["ct-server"])


@pytest.fixture
def shared_folder(tmp_path: Path) -> tuple[Path, Path]:
    host_dir, guest_dir = tmp_path / "host", tmp_path / "guest"
    host_dir.mkdir()
    (host_dir / "notes.md").write_text("start\n")
    return host_dir, guest_dir


async def start_pair(
    cluster: Cluster, host_dir: Path, guest_dir: Path
) -> tuple[subprocess.Popen[str], subprocess.Popen[str], str]:
    hosting = ctclient(
        "host", str(host_dir), "--server", cluster.url, "--auto-admit", "--name", "Ada"
    )
    assert hosting.stdout is not None
    link = (await asyncio.to_thread(hosting.stdout.readline)).strip()
    joining = ctclient("join", link, str(guest_dir), "--open", "notes.md", "--name", "Bob")
    await converged(host_dir / "notes.md", guest_dir / "notes.md", "start\n", 15)
    return hosting, joining, link.split("/join/")[1].split("#")[0]


async def test_a_killed_server_loses_no_edit_and_gives_its_places_back(
    cluster: Cluster, shared_folder: tuple[Path, Path], postgres_url: str
) -> None:
    host_dir, guest_dir = shared_folder
    hosting, joining, session_id = await start_pair(cluster, host_dir, guest_dir)
    try:
        lost = holder(cluster, session_id)
        lost_id = cluster.id_of(lost)
        lost.stop(signal.SIGKILL)
        # Both edit while their server is gone.
        (host_dir / "notes.md").write_text("start\nhost after the crash\n")
        (guest_dir / "notes.md").write_text("guest after the crash\nstart\n")
        expected = "guest after the crash\nstart\nhost after the crash\n"
        took = await converged(host_dir / "notes.md", guest_dir / "notes.md", expected, 10)
        print(f"converged {took:.1f} s after the kill")

        # The lost server's two places came back: two more peers fit, a third does not.
        url = f"{cluster.url.replace('http', 'ws', 1)}/ws/v1/sessions/{session_id}"
        extra: list[ClientConnection] = []
        for _ in range(PLACES - 2):
            ws = await connect(url, open_timeout=10)
            await ws.send(json.dumps({"type": "hello", "role": "guest", "name": "Extra"}))
            extra.append(ws)
            welcome = await next_control(ws, timeout=10)
            if welcome.get("state") == "lobby":
                assert (await next_control(ws, timeout=10))["type"] == "admitted"
        over = await connect(url, open_timeout=10)
        await over.send(json.dumps({"type": "hello", "role": "guest", "name": "Over"}))
        code, _ = await closed_with(over, timeout=10)
        assert code == 4017
        for ws in extra:
            await ws.close()

        # The history: served elsewhere now, one move.
        with psycopg.connect(postgres_url) as db:
            served_by, moves = db.execute(
                "SELECT served_by, moves FROM relay_session WHERE session_id = %s", [session_id]
            ).fetchone() or ("", 0)
        assert served_by in cluster.ids() - {lost_id} and moves == 1
    finally:
        await asyncio.to_thread(stop, joining)
        await asyncio.to_thread(stop, hosting)


async def test_restarting_every_server_in_turn_loses_no_session_and_no_edit(
    cluster: Cluster, shared_folder: tuple[Path, Path]
) -> None:
    host_dir, guest_dir = shared_folder
    hosting, joining, _ = await start_pair(cluster, host_dir, guest_dir)
    expected = "start\n"
    try:
        for turn, server in enumerate(list(cluster.servers)):
            started = time.monotonic()
            assert server.stop(signal.SIGTERM) == 0
            stopped_in = time.monotonic() - started
            assert stopped_in < 5 + 5, f"SIGTERM took {stopped_in:.1f} s"
            expected += f"edit {turn} while a server restarts\n"
            (host_dir / "notes.md").write_text(expected)
            took = await converged(host_dir / "notes.md", guest_dir / "notes.md", expected, 10)
            print(f"restart {turn}: converged {took:.1f} s after the server stopped")
            server.start()  # back on its port and data, before the next one goes
        assert hosting.poll() is None and joining.poll() is None  # the session never ended
    finally:
        print(f"--- nginx's errors:\n{cluster.nginx.error_log.read_text()}")
        await asyncio.to_thread(stop, joining)
        await asyncio.to_thread(stop, hosting)
