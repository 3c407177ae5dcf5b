"""Simultaneous connections counted against the license, through real servers:
exactly the limit admitted, on one server and across two; a reconnecting peer keeps
its place; a lobby guest takes none; a server without a license takes nobody new;
a killed server's places come back."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection

from tests.support.licenses import TEST_SETTINGS, environment, signed
from tests.support.server import ServerProcess, plain_http_env
from tests.support.wire import closed_with, created, next_control, open_socket, say_hello

StartServer = Callable[..., ServerProcess]


def licensed(limit: int, **env: str) -> dict[str, str]:
    """A license for ``limit`` connections; the crowd comes from one address, so the
    per-address limits are lifted."""
    document = signed(licensee="Limit Corp", max_connections=limit)
    crowd = {
        "CT_MAX_CONNECTIONS_PER_ADDRESS": "1000",
        "CT_MAX_SOCKETS_PER_ADDRESS": "2000",
        "CT_KNOCK_RATE": "100000",
    }
    return {"DJANGO_SETTINGS_MODULE": TEST_SETTINGS, **environment(document), **crowd, **env}


async def hosting(server: ServerProcess, auto_admit: bool = True) -> tuple[str, ClientConnection]:
    session = created(server, auto_admit=auto_admit)
    ws = await open_socket(server, session["session_id"])
    welcome = await say_hello(ws, role="host", name="Ada", host_secret=session["host_secret"])
    assert welcome["type"] == "welcome", welcome
    return session["session_id"], ws


async def attempt(server: ServerProcess, session_id: str) -> tuple[str, ClientConnection]:
    """A guest in an auto-admit session: 'admitted', or the close code it got."""
    ws = await open_socket(server, session_id)
    await ws.send(json.dumps({"type": "hello", "role": "guest", "name": "Bob"}))
    while True:
        frame = await next_control(ws, timeout=20)
        if frame["type"] == "admitted":
            return "admitted", ws
        if frame["type"] == "error":
            code, _ = await closed_with(ws)
            assert frame["code"] == "license_full" and code == 4017, (frame, code)
            return "full", ws


async def exactly_the_limit(
    servers: list[ServerProcess], limit: int
) -> tuple[list[str], list[ClientConnection]]:
    """4 hosts, then 196 guests at once, spread over the servers: 200 attempts.
    Returns the sessions and everyone admitted (hosts first)."""
    hosts = [await hosting(servers[0]) for _ in range(4)]
    outcomes = await asyncio.gather(
        *(attempt(servers[n % len(servers)], hosts[n % len(hosts)][0]) for n in range(196))
    )
    admitted = [ws for outcome, ws in outcomes if outcome == "admitted"]
    assert len(admitted) + len(hosts) == limit
    return [session for session, _ in hosts], [ws for _, ws in hosts] + admitted


async def test_one_server_admits_exactly_its_license(start_server: StartServer) -> None:
    server = start_server(**plain_http_env(**licensed(25)))
    sessions, everyone = await exactly_the_limit([server], 25)
    # Someone leaves: its place is free again, for the next guest.
    leaving = everyone.pop()
    await leaving.send(json.dumps({"type": "leave"}))
    await closed_with(leaving)
    for _ in range(50):
        outcome, ws = await attempt(server, sessions[0])
        if outcome == "admitted":
            break
        await asyncio.sleep(0.05)  # the place comes back once the leave is saved
    assert outcome == "admitted"
    for socket in [*everyone, ws]:
        await socket.close()


async def test_two_servers_admit_exactly_the_license_between_them(
    start_server: StartServer, tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    shared = licensed(
        25,
        CT_DATABASE_URL=postgres_url,
        CT_REDIS_URL=redis_url,
        CT_SECRET_KEY="license-limit-test-key-0123456789-abcdefghijklmnopqrstuv",
        CT_SERVER_URL="http://127.0.0.1",
    )
    first = start_server(tmp_path / "a", **shared)
    second = start_server(tmp_path / "b", **shared)
    _, everyone = await exactly_the_limit([first, second], 25)
    for ws in everyone:
        await ws.close()


async def test_a_reconnecting_peer_keeps_its_place_and_a_lobby_guest_takes_none(
    start_server: StartServer,
) -> None:
    server = start_server(**plain_http_env(**licensed(2, CT_RECONNECT_GRACE="30")))
    session_id, host = await hosting(server, auto_admit=False)
    bob = await open_socket(server, session_id)
    welcome = await say_hello(bob, name="Bob")
    request = await next_control(host)
    await host.send(json.dumps({"type": "admit", "peer": request["peer"]["peer_id"]}))
    assert (await next_control(bob))["type"] == "admitted"
    # Full: a third may still knock, but the host cannot admit it.
    eve = await open_socket(server, session_id)
    assert (await say_hello(eve, name="Eve"))["state"] == "lobby"
    while (request := await next_control(host))["type"] != "join_request":
        pass
    await host.send(json.dumps({"type": "admit", "peer": request["peer"]["peer_id"]}))
    while (answer := await next_control(host))["type"] != "error":
        pass
    assert answer["code"] == "license_full"
    # Bob's network drops; his place waits for him, so Eve still cannot have it.
    bob.transport.abort()
    while (await next_control(host)).get("event") != "away":
        pass
    await host.send(json.dumps({"type": "admit", "peer": request["peer"]["peer_id"]}))
    while (answer := await next_control(host))["type"] != "error":
        pass
    assert answer["code"] == "license_full"
    back = await open_socket(server, session_id)
    resume = {"peer_id": welcome["peer_id"], "peer_secret": welcome["peer_secret"]}
    assert (await say_hello(back, name="Bob", resume=resume))["resumed"] is True
    # Bob leaves for good: now Eve can be admitted.
    await back.send(json.dumps({"type": "leave"}))
    await closed_with(back)
    for _ in range(50):
        await host.send(json.dumps({"type": "admit", "peer": request["peer"]["peer_id"]}))
        reply = await next_control(host)
        if reply.get("event") == "admitted":
            break
        await asyncio.sleep(0.05)
    assert (await next_control(eve))["type"] == "admitted"
    for ws in (eve, host):
        await ws.close()


async def test_without_a_license_or_trial_nobody_new_connects(
    start_server: StartServer, tmp_path: Path
) -> None:
    env = plain_http_env(DJANGO_SETTINGS_MODULE=TEST_SETTINGS)  # no license at all
    server = start_server(tmp_path / "data", **env)
    await hosting(server)  # the trial: 5 places
    server.stop()
    ended = (datetime.now(UTC) - timedelta(days=46)).isoformat()
    with sqlite3.connect(tmp_path / "data" / "ctserver.sqlite3") as db:
        db.execute("UPDATE licensing_trial SET started_at = ?", (ended,))
    server = start_server(tmp_path / "data", **env)
    session = created(server)  # pages and the API still work
    ws = await open_socket(server, session["session_id"])
    await ws.send(
        json.dumps(
            {"type": "hello", "role": "host", "name": "Ada", "host_secret": session["host_secret"]}
        )
    )
    code, frames = await closed_with(ws)
    assert code == 4018 and frames[-1]["code"] == "no_license"


async def test_a_killed_servers_places_come_back(
    start_server: StartServer, tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    shared: dict[str, Any] = licensed(
        2,
        CT_DATABASE_URL=postgres_url,
        CT_REDIS_URL=redis_url,
        CT_SECRET_KEY="license-limit-test-key-0123456789-abcdefghijklmnopqrstuv",
        CT_SERVER_URL="http://127.0.0.1",
        CT_OWNER_LEASE="2",
        CT_SWEEP_INTERVAL="0.3",
    )
    doomed = start_server(tmp_path / "a", **shared)
    survivor = start_server(tmp_path / "b", **shared)
    for _ in range(2):  # both places, held by the server about to die
        await hosting(doomed)
    session = created(survivor)
    refused = await open_socket(survivor, session["session_id"])
    hello = {"role": "host", "name": "Ada", "host_secret": session["host_secret"]}
    await refused.send(json.dumps({"type": "hello", **hello}))
    assert (await closed_with(refused))[0] == 4017
    assert doomed.process is not None
    doomed.process.send_signal(signal.SIGKILL)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while True:
        ws = await open_socket(survivor, session["session_id"])
        answer = await say_hello(ws, **hello)
        if answer["type"] == "welcome":
            break
        assert loop.time() < deadline, "the killed server's places never came back"
        await asyncio.sleep(0.5)
    await ws.close()
