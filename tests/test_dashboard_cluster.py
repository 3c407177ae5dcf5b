"""Dashboards across servers: events from every server reach every dashboard through
channels-redis, and each server reports its own health and load."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ctclient import Peer, ReconnectPolicy, create_session
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from tests.support.portal import cookie_header, signed_in
from tests.support.server import ServerProcess

StartServer = Callable[..., ServerProcess]
USER, PASSWORD = "operator", "Cluster-portal-password-4471"
FAST = ReconnectPolicy(first_delay=0.05, max_delay=0.2)


async def next_figures(ws: ClientConnection, timeout: float) -> dict[str, Any]:
    message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    assert message["type"] == "figures"
    return dict(message["figures"])


async def test_a_session_on_one_server_updates_the_dashboard_on_another(
    start_server: StartServer, tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    shared = {
        "CT_DATABASE_URL": postgres_url,
        "CT_REDIS_URL": redis_url,
        "CT_SECRET_KEY": "cluster-portal-" + "k" * 50,
        "CT_SERVER_URL": "http://127.0.0.1",
        "CT_DASHBOARD_USER": USER,
        "CT_DASHBOARD_PASSWORD": PASSWORD,
        # Far longer than the test: every update it sees is an event, not a tick.
        "CT_STATUS_INTERVAL": "60",
    }
    watched = start_server(tmp_path / "a", **shared)
    busy = start_server(tmp_path / "b", **shared)
    client = signed_in(watched, USER, PASSWORD)
    url = f"ws://127.0.0.1:{watched.http_port}/dashboard/live/"
    origin = f"http://127.0.0.1:{watched.http_port}"
    headers = {"Cookie": cookie_header(client), "Origin": origin}
    async with connect(url, additional_headers=headers, open_timeout=5) as ws:
        first = await next_figures(ws, 5)
        assert first["active_sessions"] == 0
        # Each server reported itself when it started.
        assert len(first["servers"]) == 2 and not any(s["silent"] for s in first["servers"])
        link, secret = await create_session(busy.http_url, name="Ada")
        host = await Peer(link, name="Ada", host_secret=secret, policy=FAST).start()
        guest = await Peer(link, name="Grace", policy=FAST).start()
        request = await host.wait_for("join_request")
        await host.admit(request.data["peer"]["peer_id"])
        await guest.wait_for("admitted")
        figures = await next_figures(ws, 5)
        while figures["users_online"] < 2:  # a join and its admission may come apart
            figures = await next_figures(ws, 5)
        assert (figures["active_sessions"], figures["connections"]) == (1, 2)
        await host.end()
        while figures["active_sessions"]:
            figures = await next_figures(ws, 5)
    client.close()


async def test_the_live_socket_refuses_a_visitor_who_is_not_signed_in(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = start_server(tmp_path / "a", CT_SERVER_URL="http://127.0.0.1")
    url = f"ws://127.0.0.1:{server.http_port}/dashboard/live/"
    try:
        async with connect(url, open_timeout=5):
            raise AssertionError("an anonymous dashboard socket was accepted")
    except InvalidStatus as refused:
        assert refused.response.status_code == 403
