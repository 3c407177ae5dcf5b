"""PostgreSQL gone for 30 s under two servers behind nginx: the session under way
goes on, the servers say clearly what they cannot do (readiness, 503
database_unavailable, 1013 for a new guest), and everything works again once the
database is back, without a restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from ctclient.messages import AppMessage
from ctclient.peer import Peer, ReconnectPolicy, create_session
from websockets.asyncio.client import connect

from tests.support.balancer import Cluster, running_cluster
from tests.support.server import ServerProcess
from tests.support.services import PostgresServer, create_database, restartable_postgres
from tests.support.wire import closed_with

StartServer = Callable[..., ServerProcess]
OUTAGE_SECONDS = 30
PATIENT = ReconnectPolicy(first_delay=0.1, max_delay=1.0, give_up_after=120)


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    with restartable_postgres() as server:
        yield server


@pytest.fixture
def cluster(
    start_server: StartServer, tmp_path: Path, redis_url: str, postgres: PostgresServer
) -> Iterator[Cluster]:
    database = create_database(postgres.url)
    with running_cluster(
        start_server, tmp_path, redis_url, database, servers=2, env={"CT_SWEEP_INTERVAL": "0.5"}
    ) as started:
        yield started


def readiness(server: ServerProcess) -> tuple[int, str]:
    answer = httpx.get(f"{server.http_url}/ct-health/ready/", timeout=10)
    return answer.status_code, str(answer.json()["checks"]["database"])


async def say(sender: Peer, receiver: Peer, text: str) -> None:
    await sender.send(AppMessage("note", {"text": text}))
    got = await receiver.wait_for("message", timeout=10)
    assert got.message is not None and got.message.fields["text"] == text


async def test_a_database_outage_of_30_seconds(cluster: Cluster, postgres: PostgresServer) -> None:
    link, secret = await create_session(cluster.url, name="Ada", auto_admit=True)
    host = await Peer(link, name="Ada", host_secret=secret, policy=PATIENT).start()
    guest = await Peer(link, name="Bob", policy=PATIENT).start()
    await guest.wait_for("admitted")
    await say(host, guest, "before")

    postgres.stop()
    back_at = time.monotonic() + OUTAGE_SECONDS
    # What works: the session under way, frames never touch the database.
    await say(host, guest, "during")
    await say(guest, host, "during, back")
    # What does not, said clearly.
    for server in cluster.servers:
        status, database = await asyncio.to_thread(readiness, server)
        assert status == 503 and database.startswith("error:"), database
    refused = httpx.post(f"{cluster.url}/api/v1/sessions", json={}, timeout=10)
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "database_unavailable"
    assert refused.headers["Retry-After"] == "5"
    url = f"{cluster.url.replace('http', 'ws', 1)}/ws/v1/sessions/{link.session_id}"
    newcomer = await connect(url, open_timeout=10)
    await newcomer.send('{"type": "hello", "role": "guest", "name": "Late"}')
    code, frames = await closed_with(newcomer, timeout=15)
    assert code == 1013, frames  # try again later
    await say(host, guest, "still during")

    await asyncio.sleep(max(0.0, back_at - time.monotonic()))
    postgres.start(new_port_on_failure=False)

    # Back by themselves: readiness, new sessions, new guests, the old session.
    deadline = time.monotonic() + 30
    for server in cluster.servers:
        while (await asyncio.to_thread(readiness, server))[0] != 200:
            assert time.monotonic() < deadline, "readiness did not come back"
            await asyncio.sleep(0.5)
    created = httpx.post(f"{cluster.url}/api/v1/sessions", json={}, timeout=10)
    assert created.status_code == 201, created.text
    late = await Peer(link, name="Late", policy=PATIENT).start()
    await late.wait_for("admitted")
    await say(host, late, "after")
    await say(host, guest, "after")
    for peer in (late, guest, host):
        await peer.close()
