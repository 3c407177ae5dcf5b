"""Two real servers sharing PostgreSQL and Redis: a session whose peers are split
between them, and a session surviving the loss of the server that held it."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from ctclient import AppMessage, JoinLink, Peer, create_session

from tests.support.peers import FAST, message
from tests.support.proxy import TcpProxy
from tests.support.server import ServerProcess

StartServer = Callable[..., ServerProcess]


@pytest.fixture
def pair(
    start_server: StartServer,
    tmp_path: Path,
    redis_url: str,
    postgres_url: str,
    request: pytest.FixtureRequest,
) -> tuple[ServerProcess, ServerProcess]:
    lease = getattr(request, "param", "2")
    shared = {
        "CT_DATABASE_URL": postgres_url,
        "CT_REDIS_URL": redis_url,
        "CT_SECRET_KEY": "cluster-test-" + "k" * 50,
        "CT_SERVER_URL": "http://127.0.0.1",
        "CT_OWNER_LEASE": lease,
        "CT_SWEEP_INTERVAL": "0.3",
        "CT_RECONNECT_GRACE": "30",
    }
    first = start_server(tmp_path / "a", **shared)
    second = start_server(tmp_path / "b", **shared)
    return first, second


def on(server: ServerProcess, link: JoinLink) -> JoinLink:
    return JoinLink(server.http_url, link.session_id, link.key)


async def test_peers_on_two_servers_share_a_session(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    first, second = pair
    link, secret = await create_session(first.http_url, name="Ada")
    host = await Peer(on(first, link), name="Ada", host_secret=secret, policy=FAST).start()
    guest = await Peer(on(second, link), name="Bob", policy=FAST).start()
    assert guest.state == "lobby"
    request = await host.wait_for("join_request")
    await host.admit(request.data["peer"]["peer_id"])
    await guest.wait_for("admitted")
    await host.send(message("across servers"))
    assert (await guest.wait_for("message")).message.fields["text"] == "across servers"
    await guest.send(AppMessage("message", {"text": "back"}, b"\x01" * 1000), to=1)
    answer = await host.wait_for("message")
    assert answer.message is not None and answer.message.body == b"\x01" * 1000
    await host.end()
    assert (await guest.wait_for("closed")).data["code"] == 4005


@pytest.mark.parametrize(
    ("pair", "how"),
    [
        # Stopped cleanly, the server hands its sessions back at once: a lease of
        # a minute would otherwise hold them for a minute.
        pytest.param("60", signal.SIGTERM, id="stopped"),
        # Killed, it cannot: its sessions move once the short lease runs out.
        pytest.param("2", signal.SIGKILL, id="killed"),
    ],
    indirect=["pair"],
)
async def test_session_survives_the_loss_of_its_server(
    pair: tuple[ServerProcess, ServerProcess], how: signal.Signals
) -> None:
    first, second = pair
    balancer = await TcpProxy(first.http_port).start()
    try:
        link, secret = await create_session(first.http_url, name="Ada")
        via_balancer = JoinLink(f"http://127.0.0.1:{balancer.port}", link.session_id, link.key)
        host = await Peer(via_balancer, name="Ada", host_secret=secret, policy=FAST).start()
        guest = await Peer(on(second, link), name="Bob", policy=FAST).start()
        await host.admit((await host.wait_for("join_request")).data["peer"]["peer_id"])
        await guest.wait_for("admitted")
        guest_id = guest.peer_id
        await asyncio.sleep(0.5)  # the owner saves the admission (a crash sooner: see below)

        balancer.retarget(second.http_port)
        first.stop(how)  # the server holding the session goes away

        await host.wait_for("resumed", timeout=20)
        resumed = await guest.wait_for("resumed", timeout=20)
        assert resumed.data["peer_id"] == guest_id and resumed.data["state"] == "admitted"
        await host.send(message("after failover"))
        got = await guest.wait_for("message", timeout=10)
        assert got.message is not None and got.message.fields["text"] == "after failover"
        await host.end()
    finally:
        await balancer.close()
