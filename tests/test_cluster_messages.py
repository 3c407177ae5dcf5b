"""The messages between servers (relay/bus.py, docs/protocol.md §9) in process: each
kind through its wire form, malformed ones refused, and both sides of a proxied
peer driven through them by two clusters joined in memory instead of by Redis."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, cast

import msgpack
import pytest

from relay import cluster
from relay.bus import (
    BadMessage,
    Bus,
    Bytes,
    Close,
    Deliver,
    Lost,
    Message,
    Open,
    Post,
    Text,
    decode,
    encode,
)
from relay.cluster import Cluster
from relay.connection import Connection
from relay.outbox import Outbox
from relay.protocol import CloseCode

NOWHERE = "redis://127.0.0.1:1/0"  # never connected: these buses do not start

EVERY_KIND = [
    (
        Open("s1", "p:1", "p", "192.0.2.7", "", "", "", 0),
        ["open", "s1", "p:1", "p", "192.0.2.7", "", "", "", 0],
    ),
    (
        Open("s1", "p:2", "p", "192.0.2.7", "Ada", "ada@example.com", "sub-1", 2),
        ["open", "s1", "p:2", "p", "192.0.2.7", "Ada", "ada@example.com", "sub-1", 2],
    ),
    (Text("s1", "p:1", '{"type":"hello"}'), ["text", "s1", "p:1", '{"type":"hello"}']),
    (Bytes("s1", "p:1", b""), ["bytes", "s1", "p:1", b""]),
    (Lost("s1", "p:1"), ["lost", "s1", "p:1"]),
    (Deliver("p:1", b"\x01\x00"), ["deliver", "p:1", b"\x01\x00"]),
    (Post("p:1", '{"type":"welcome"}'), ["post", "p:1", '{"type":"welcome"}']),
    (Close("p:1", CloseCode.BAD_FRAME), ["close", "p:1", 4000]),
]


def wire(message: Message) -> bytes:
    """A batch of one message, as a PUBLISH carries it."""
    return bytes(msgpack.packb([encode(message)]))


@pytest.mark.parametrize(("message", "array"), EVERY_KIND, ids=lambda v: type(v).__name__)
def test_every_kind_is_the_documented_array_and_decodes_to_itself(
    message: Message, array: list[Any]
) -> None:
    assert encode(message) == array
    (raw,) = msgpack.unpackb(wire(message), raw=False)
    assert decode(raw) == message


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param({"kind": "lost"}, id="not a list"),
        pytest.param("lost", id="a string"),
        pytest.param([], id="empty"),
        pytest.param([7, "s1", "p:1"], id="kind not a string"),
        pytest.param(["hello", "s1", "p:1"], id="unknown kind"),
        pytest.param(["lost", "s1"], id="missing field"),
        pytest.param(["open", "s1", "p:1", "p"], id="open without address"),
        pytest.param(["lost", "s1", "p:1", None], id="extra field"),
        pytest.param(["bytes", "s1", "p:1", None], id="bytes without a frame"),
        pytest.param(["bytes", "s1", "p:1", "text"], id="bytes as text"),
        pytest.param(["text", "s1", "p:1", b"bytes"], id="text as bytes"),
        pytest.param(["open", "s1", 1, "p", "192.0.2.7"], id="key not a string"),
        pytest.param(["close", "p:1", "4000"], id="code as text"),
        pytest.param(["close", "p:1", True], id="code as bool"),
        pytest.param(["close", "p:1", 1234], id="code not in the protocol"),
    ],
)
def test_malformed_messages_are_refused(raw: object) -> None:
    with pytest.raises(BadMessage):
        decode(raw)


def test_a_bad_message_in_a_batch_costs_only_itself(caplog: pytest.LogCaptureFixture) -> None:
    handled: list[Message] = []
    good = [encode(Lost("s1", "p:1")), encode(Lost("s1", "p:2"))]
    batch = msgpack.packb([good[0], ["bytes", "s1", "p:3", None], good[1]])
    Bus(NOWHERE, 2).receive(batch, handled.append)
    assert handled == [Lost("s1", "p:1"), Lost("s1", "p:2")]
    assert [r.getMessage() for r in caplog.records] == [
        "Refused a bus message: bytes.frame is not a bytes: NoneType"
    ]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\xc1", id="not msgpack"),
        pytest.param(msgpack.packb({"open": 1}), id="not an array"),
        pytest.param(b"\x91\xa1\xff", id="bad utf-8"),
    ],
)
def test_an_undecodable_batch_is_refused_with_one_line(
    data: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    handled: list[Message] = []
    Bus(NOWHERE, 2).receive(data, handled.append)
    assert handled == []
    assert len(caplog.records) == 1 and caplog.records[0].levelno == logging.WARNING


def test_a_failing_handler_never_reaches_the_reader(caplog: pytest.LogCaptureFixture) -> None:
    handled: list[Message] = []

    def handler(message: Message) -> None:
        handled.append(message)
        raise RuntimeError("a bug")

    batch = msgpack.packb([encode(Lost("s1", "p:1")), encode(Lost("s1", "p:2"))])
    Bus(NOWHERE, 2).receive(batch, handler)
    assert len(handled) == 2 and len(caplog.records) == 2


# -- both sides of a proxied peer ---------------------------------------------------


class Recorder(Connection):
    """The owner's Connection without the room: it records what reaches it, and
    fails on the text "boom" as a bug would."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.seen: list[object] = []
        self.gone = asyncio.Event()

    async def open(self) -> None:
        self.seen.append("open")

    def receive_bytes(self, frame: bytes) -> None:
        self.seen.append(frame)

    async def receive_text(self, text: str) -> None:
        if text == "boom":
            raise RuntimeError("a bug")
        self.seen.append(text)

    async def lost(self) -> None:
        self.seen.append("lost")
        self.gone.set()


class Socket:
    """A proxied socket's outbox: records what the owner sends it."""

    def __init__(self) -> None:
        self.got: list[object] = []
        self.closed = asyncio.Event()

    def deliver(self, frame: bytes) -> None:
        self.got.append(frame)

    def post(self, text: str) -> None:
        self.got.append(json.loads(text)["code"])

    def close(self, code: CloseCode) -> None:
        self.got.append(code)
        self.closed.set()


class Servers:
    """A proxy and an owner whose buses hand each batch to the other's reader."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.connections: list[Recorder] = []
        monkeypatch.setattr(cluster, "Connection", self._connection)
        self.proxy, self.owner = Cluster(Bus(NOWHERE, 2)), Cluster(Bus(NOWHERE, 2))
        by_id = {c.bus.server_id: c for c in (self.proxy, self.owner)}
        for each in by_id.values():

            def send(server_id: str, message: Message) -> None:
                to = by_id[server_id]
                to.bus.receive(wire(message), to.on_message)

            monkeypatch.setattr(each.bus, "send", send)

    def _connection(self, *args: Any) -> Recorder:
        self.connections.append(Recorder(*args))
        return self.connections[-1]

    def open(self, address: str = "192.0.2.7") -> tuple[str, Socket]:
        socket = Socket()
        outbox = cast(Outbox, socket)
        return self.proxy.open_proxy("s1", self.owner.bus.server_id, outbox, address), socket


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch) -> Servers:
    return Servers(monkeypatch)


async def test_a_proxied_socket_feeds_its_connection_in_order(servers: Servers) -> None:
    key, _ = servers.open()
    servers.proxy.forward(key, "bytes", b"")
    servers.proxy.forward(key, "text", "hi")
    servers.proxy.forward(key, "bytes", b"\x01")
    servers.proxy.forward(key, "lost")
    servers.proxy.forward(key, "text", "after the loss")  # the socket is gone: not sent
    (connection,) = servers.connections
    await asyncio.wait_for(connection.gone.wait(), 1)
    assert connection.seen == ["open", b"", "hi", b"\x01", "lost"]
    assert (connection.session_id, connection.address) == ("s1", "192.0.2.7")
    servers.owner.on_message(Text("s1", key, "late"))  # for a peer the owner forgot
    assert connection.seen[-1] == "lost"


async def test_the_owner_answers_through_the_proxied_socket(servers: Servers) -> None:
    _, socket = servers.open()
    (connection,) = servers.connections
    connection.link.deliver(b"\x01\x00")
    connection.link.post('{"type": "error", "code": "not_admitted"}')
    connection.link.close(CloseCode.SESSION_ENDED)
    connection.link.deliver(b"after the close")  # never sent
    assert socket.got == [b"\x01\x00", "not_admitted", CloseCode.SESSION_ENDED]
    servers.proxy.on_message(Deliver("elsewhere:1", b"x"))  # a socket that is gone


async def test_a_failing_message_closes_only_its_peer_which_is_still_served_to_its_end(
    servers: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    (failing, failing_socket), (other, other_socket) = servers.open(), servers.open()
    servers.proxy.forward(failing, "text", "boom")
    servers.proxy.forward(other, "text", "fine")
    await asyncio.wait_for(failing_socket.closed.wait(), 1)
    servers.proxy.forward(failing, "lost")
    servers.proxy.forward(other, "lost")
    first, second = servers.connections
    await asyncio.wait_for(asyncio.gather(first.gone.wait(), second.gone.wait()), 1)
    assert failing_socket.got == ["try_again_later", CloseCode.TRY_AGAIN_LATER]
    assert first.seen == ["open", "lost"] and second.seen == ["open", "fine", "lost"]
    assert other_socket.got == []
    assert [r.levelno for r in caplog.records] == [logging.ERROR]


async def test_an_outage_restarts_every_cross_server_connection(servers: Servers) -> None:
    _, socket = servers.open()
    (connection,) = servers.connections
    servers.owner._restart_links()  # what the owner's bus calls as an outage starts or ends
    await asyncio.wait_for(connection.gone.wait(), 1)
    assert socket.got == [CloseCode.SERVICE_RESTART] and connection.seen == ["open", "lost"]

    _, unreachable = servers.open()
    servers.proxy._restart_links()  # the proxy's side, when the owner cannot be told
    assert unreachable.got == [CloseCode.SERVICE_RESTART]
