"""Several servers behind a real nginx, routed by deploy/nginx/'s rules, sharing a
real Redis and PostgreSQL: stickiness honoured (a session's peers on one server,
as each response's ct-server header shows) and absent (peers spread, relayed
across Redis), license limits across servers, every server on the dashboard."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.support.balancer import Cluster, running_cluster
from tests.support.server import ServerProcess
from tests.support.wire import closed_with, next_control, unicast

StartServer = Callable[..., ServerProcess]
SERVERS = 3
PLACES = 8  # the license's simultaneous connections
USER, PASSWORD = "operator", "Balancer-test-password-6310"


@pytest.fixture
def cluster(
    start_server: StartServer, tmp_path: Path, redis_url: str, postgres_url: str
) -> Iterator[Cluster]:
    with running_cluster(
        start_server, tmp_path, redis_url, postgres_url, places=PLACES, user=USER, password=PASSWORD
    ) as started:
        yield started


def create(cluster: Cluster, **body: Any) -> dict[str, Any]:
    answer = httpx.post(f"{cluster.url}/api/v1/sessions", json=body, timeout=10)
    assert answer.status_code == 201, answer.text
    assert answer.headers["ct-server"] in cluster.ids()
    return dict(answer.json())


async def peer(
    cluster: Cluster, session_id: str, sticky: bool, **hello: Any
) -> tuple[ClientConnection, str, dict[str, Any]]:
    """A raw WebSocket through nginx: its socket, the server that took it, its welcome."""
    headers = {"ctstickiness": session_id} if sticky else {}
    url = f"{cluster.url.replace('http', 'ws', 1)}/ws/v1/sessions/{session_id}"
    ws = await connect(url, additional_headers=headers, open_timeout=10, max_size=None)
    assert ws.response is not None
    await ws.send(json.dumps({"type": "hello", "role": "guest", "name": "Peer", **hello}))
    return ws, ws.response.headers["ct-server"], await next_control(ws, timeout=10)


@pytest.fixture
async def sockets() -> AsyncIterator[list[ClientConnection]]:
    opened: list[ClientConnection] = []
    yield opened
    await asyncio.gather(*(ws.close() for ws in opened))


async def relays(sender: ClientConnection, receiver: ClientConnection, receiver_id: int) -> None:
    payload = unicast(receiver_id)
    await sender.send(payload)
    while True:
        frame = await asyncio.wait_for(receiver.recv(), 10)
        if isinstance(frame, bytes):
            assert frame[6:] == payload[6:]
            return


@pytest.mark.parametrize("sticky", [True, False], ids=["sticky", "not sticky"])
async def test_sessions_through_the_balancer(
    cluster: Cluster, sockets: list[ClientConnection], sticky: bool
) -> None:
    used: set[str] = set()
    for _ in range(2):  # two sessions, a host and a guest each
        session = create(cluster, auto_admit=True)
        sid = session["session_id"]
        host, host_server, welcome = await peer(
            cluster, sid, sticky, role="host", host_secret=session["host_secret"]
        )
        guest, guest_server, guest_welcome = await peer(cluster, sid, sticky)
        sockets += [host, guest]
        assert welcome["type"] == guest_welcome["type"] == "welcome"
        if sticky:
            assert host_server == guest_server  # the header routed both alike
        used |= {host_server, guest_server}
        if guest_welcome["state"] == "lobby":
            assert (await next_control(guest, timeout=10))["type"] == "admitted"
        await relays(host, guest, guest_welcome["peer_id"])
        await relays(guest, host, 1)
    # Without stickiness, nginx spreads connections (one session's peers on several
    # servers, relayed through Redis); with it, sessions still use several servers.
    ids = cluster.ids()
    assert used <= ids
    if not sticky:
        more = [await peer(cluster, sid, sticky) for _ in range(8)]
        sockets += [ws for ws, _, _ in more]
        used |= {server for _, server, _ in more}
        assert len(used) >= 2, used


async def test_license_places_are_counted_across_servers(
    cluster: Cluster, sockets: list[ClientConnection]
) -> None:
    session = create(cluster, auto_admit=True)
    sid = session["session_id"]
    host, _, _ = await peer(cluster, sid, False, role="host", host_secret=session["host_secret"])
    sockets.append(host)
    servers: set[str] = set()
    for _ in range(PLACES - 1):  # the host holds one place
        ws, server, welcome = await peer(cluster, sid, False)
        sockets.append(ws)
        servers.add(server)
        if welcome["state"] == "lobby":
            assert (await next_control(ws, timeout=10))["type"] == "admitted"
    assert len(servers) >= 2  # the places were taken on several servers
    extra, _, welcome = await peer(cluster, sid, False)
    code, frames = await closed_with(extra, timeout=10)
    assert code == 4017, (code, welcome, frames)


def test_the_dashboard_lists_every_server(cluster: Cluster) -> None:
    with httpx.Client(base_url=cluster.url, timeout=10, follow_redirects=True) as client:
        client.get("/dashboard/login/")
        signed_in = client.post(
            "/dashboard/login/",
            data={
                "username": USER,
                "password": PASSWORD,
                "csrfmiddlewaretoken": client.cookies["csrftoken"],
            },
            headers={"Referer": f"{cluster.url}/dashboard/login/"},
        )
        assert signed_in.status_code == 200
        live = client.get("/dashboard/live.json").json()
    listed = {server["server_id"] for server in live["servers"] if not server["silent"]}
    assert listed == cluster.ids()
