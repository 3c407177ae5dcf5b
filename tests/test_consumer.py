"""The relay consumer in-process (Channels' WebsocketCommunicator): what it does
when the services behind it fail."""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from redis.exceptions import ConnectionError as RedisConnectionError

from relay import consumers
from relay.addresses import client_key
from relay.routing import websocket_urlpatterns

# The consumer's database calls run on another thread: they need committed data.
with_database = pytest.mark.django_db(transaction=True)


def communicator(address: str) -> WebsocketCommunicator:
    app = URLRouter(websocket_urlpatterns)
    talk = WebsocketCommunicator(app, "/ws/v1/sessions/abc")
    talk.scope["client"] = (address, 50000)
    return talk


async def told_to_retry(talk: WebsocketCommunicator) -> None:
    """Accepted, then refused: try_again_later and 1013 (the client retries)."""
    connected, _ = await talk.connect()
    assert connected
    error = json.loads(await talk.receive_from())
    assert (error["type"], error["code"]) == ("error", "try_again_later")
    assert (await talk.receive_output())["code"] == 1013
    await talk.disconnect()


@with_database  # Channels tidies database connections on close
async def test_a_connection_that_cannot_be_served_gives_its_place_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def redis_is_down() -> Any:
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(consumers, "get_cluster", redis_is_down)
    before = consumers.CONNECTIONS.total
    for _ in range(3):
        talk = communicator("10.0.0.9")
        await told_to_retry(talk)
    assert consumers.CONNECTIONS.total == before  # nothing leaked


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("not-an-ip", "not-an-ip"),
    ],
)
def test_clients_are_counted_by_ipv4_address_or_ipv6_64(address: str, key: str) -> None:
    assert client_key(address) == key


# -- the protocol's error paths, in-process (docs/protocol.md §5, §7, §8) -------------------


async def open_session(**limits: Any) -> dict[str, str]:
    from asgiref.sync import sync_to_async
    from django.conf import settings

    from relay import store

    created = await sync_to_async(store.create_session)(
        False, "Ada", "10.0.0.1", settings.CONFIG.relay
    )
    return {"session_id": created.session_id, "host_secret": created.host_secret}


async def joined(session: dict[str, str], address: str = "10.0.0.1", **hello: Any) -> Any:
    talk = WebsocketCommunicator(
        URLRouter(websocket_urlpatterns), f"/ws/v1/sessions/{session['session_id']}"
    )
    talk.scope["client"] = (address, 50000)
    connected, _ = await talk.connect()
    assert connected
    if hello:
        await talk.send_to(text_data=json.dumps({"type": "hello", **hello}))
    return talk


async def refused_with(talk: WebsocketCommunicator, code: int, error: str) -> None:
    frame = json.loads(await talk.receive_from())
    assert (frame["type"], frame["code"]) == ("error", error), frame
    assert (await talk.receive_output())["code"] == code
    await talk.disconnect()


@with_database
async def test_an_unknown_session_is_4004() -> None:
    talk = await joined({"session_id": "nosuchsession"})
    await refused_with(talk, 4004, "session_not_found")


@with_database
@pytest.mark.parametrize(
    ("frame", "code", "error"),
    [
        ("not json", 4000, "bad_frame"),
        ('["a list"]', 4000, "bad_frame"),
        ('{"type": "admit", "peer": 2}', 4002, "protocol_violation"),
        ('{"type": "hello", "role": "pilot", "name": "x"}', 4000, "bad_frame"),
        (
            '{"type": "hello", "role": "host", "name": "x", "host_secret": "wrong"}',
            4003,
            "not_authenticated",
        ),
        ('{"type": "hello", "role": "guest", "name": "x\\u0007"}', 4000, "bad_frame"),
    ],
)
async def test_bad_first_frames_close_with_their_codes(frame: str, code: int, error: str) -> None:
    talk = await joined(await open_session())
    await talk.send_to(text_data=frame)
    await refused_with(talk, code, error)


@with_database
async def test_data_before_hello_and_bad_commands_after_it() -> None:
    session = await open_session()
    early = await joined(session)
    await early.send_to(bytes_data=bytes([1, 0, 0, 0, 0, 0]) + bytes(28))
    await refused_with(early, 4002, "protocol_violation")

    guest = await joined(session, role="guest", name="Bob")
    assert json.loads(await guest.receive_from())["state"] == "lobby"
    await guest.send_to(text_data='{"type": "end"}')
    await refused_with(guest, 4002, "protocol_violation")

    other = await joined(session, role="guest", name="Eve")
    await other.receive_from()
    await other.send_to(text_data='{"type": "dance"}')
    await refused_with(other, 4001, "unknown_type")


@with_database
async def test_a_short_data_frame_and_a_lobby_frame_from_a_guest() -> None:
    session = await open_session()
    guest = await joined(session, role="guest", name="Bob")
    await guest.receive_from()  # welcome
    await guest.send_to(bytes_data=bytes([1, 0, 0, 0, 0, 0]) + bytes(28))
    refusal = json.loads(await guest.receive_from())
    assert (refusal["code"], refusal["ref"]) == ("not_admitted", None)  # not closed
    await guest.send_input({"type": "websocket.receive", "bytes": b""})  # empty, not absent
    await refused_with(guest, 4000, "bad_frame")


@with_database
async def test_a_peer_that_never_says_hello_is_closed(settings: Any) -> None:
    import dataclasses

    settings.CONFIG = dataclasses.replace(
        settings.CONFIG, relay=dataclasses.replace(settings.CONFIG.relay, hello_timeout=0.2)
    )
    talk = await joined(await open_session())
    await refused_with(talk, 4012, "hello_timeout")


@with_database
async def test_a_peer_is_not_proxied_while_the_bus_cannot_carry_its_frames(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another server holds the session, and this server's subscriber is still
    reconnecting after a Redis outage: the owner's welcome (and the peer's new
    secret) would be lost on the way back, so the peer is told to retry."""
    opened: list[str] = []

    class Bus:
        server_id = "this-server"

        async def claim(self, session_id: str) -> str:
            return "the-owner"

        problem = "subscriber: ConnectionError: refused (for 3 s)"

    class Cluster:
        bus = Bus()

        def open_proxy(self, *args: object) -> str:
            opened.append("proxy")
            return "key"

    async def cluster() -> Cluster:
        return Cluster()

    monkeypatch.setattr(consumers, "get_cluster", cluster)
    talk = communicator("10.0.0.10")
    await told_to_retry(talk)
    assert opened == []
