"""A server (or a library) that misbehaves never hangs or crashes a peer: every failure
ends in a ``closed`` event with a reason in words, and ``start()`` always returns or
raises."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ctclient import JoinLink, Peer, ReconnectPolicy, SessionClosed
from ctclient.crypto import new_key
from ctclient.peer import Event
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from tests.support.peers import (
    FAST,
    SESSION_ID,
    FakeRelay,
    control,
    message,
    peer_object,
    welcome,
)

BOB = peer_object(2, "Bob")
HOST = peer_object(1, "Ada", "host")
QUICK = ReconnectPolicy(first_delay=0.05, max_delay=0.5, give_up_after=10, welcome_timeout=2)
MALFORMED = "the server sent a malformed frame: "


def welcome_frame(**changed: Any) -> str:
    frame = json.loads(welcome(BOB, HOST))
    frame.update(changed)
    return json.dumps({key: value for key, value in frame.items() if value is not None})


BROKEN_FRAMES: list[tuple[str | bytes, str]] = [
    ("{not json", "a text frame that is not JSON"),
    ("[1, 2]", "a text frame that is not an object with a string 'type'"),
    ('{"type": 7}', "a text frame that is not an object with a string 'type'"),
    ("[" * 100_000 + "]" * 100_000, "a text frame that is not JSON"),
    (welcome_frame(peers=None), "'peers' missing or malformed in a frame of type 'welcome'"),
    (welcome_frame(peer_id="2"), "'peer_id' missing or malformed in a frame of type 'welcome'"),
    (welcome_frame(peer_id=2**32), "'peer_id' missing or malformed"),
    (control("presence", event="left", peer={"peer_id": 3}), "'peer' missing or malformed"),
    (control("error", code="x"), "'message' missing or malformed in a frame of type 'error'"),
    (b"\x01\x00\x00", "a data frame of 3 bytes, shorter than its header"),
]


async def closed_event(peer: Peer) -> Event:
    return await peer.wait_for("closed", timeout=5)


@pytest.mark.parametrize(("frame", "said"), BROKEN_FRAMES)
async def test_a_malformed_frame_before_welcome_makes_start_raise(
    frame: str | bytes, said: str
) -> None:
    async def broken(ws: ServerConnection) -> None:
        await ws.recv()  # hello
        await ws.send(frame)
        await ws.wait_closed()
        closes.append(ws.close_code)

    closes: list[int | None] = []
    async with FakeRelay(broken) as relay:
        with pytest.raises(SessionClosed) as closed:
            await asyncio.wait_for(Peer(relay.link, name="Bob", policy=QUICK).start(), 5)
    assert closed.value.code == 1002
    assert closed.value.reason.startswith(MALFORMED + said)
    assert closes == [1002]  # the peer closed as WebSocket says for a protocol error
    assert relay.connections == 1  # and did not try again


@pytest.mark.parametrize(("frame", "said"), BROKEN_FRAMES)
async def test_a_malformed_frame_after_welcome_ends_in_closed(
    frame: str | bytes, said: str
) -> None:
    async def broken(ws: ServerConnection) -> None:
        await ws.recv()  # hello
        await ws.send(welcome(BOB, HOST))
        await ws.send(frame)
        await ws.wait_closed()

    async with FakeRelay(broken) as relay:
        peer = await Peer(relay.link, name="Bob", policy=QUICK).start()
        closed = await closed_event(peer)
    assert closed.data["code"] == 1002
    assert closed.data["reason"].startswith(MALFORMED + said)
    assert relay.connections == 1


async def test_text_that_is_not_utf8_ends_in_closed() -> None:
    async def broken(ws: ServerConnection) -> None:
        await ws.recv()
        await ws.send(welcome(BOB, HOST))
        await ws.send(b"\xff\xfe", text=True)
        await ws.wait_closed()

    async with FakeRelay(broken) as relay:
        peer = await Peer(relay.link, name="Bob", policy=QUICK).start()
        closed = await closed_event(peer)
    assert closed.data["code"] == 1007  # the WebSocket library's close for bad UTF-8
    assert relay.connections == 1


async def test_a_server_that_never_welcomes_does_not_hold_start() -> None:
    async def silent(ws: ServerConnection) -> None:
        await ws.recv()
        await ws.wait_closed()

    policy = ReconnectPolicy(welcome_timeout=0.3)
    async with FakeRelay(silent) as relay:
        server = relay.link.server_url
        with pytest.raises(SessionClosed) as closed:
            await asyncio.wait_for(Peer(relay.link, name="Bob", policy=policy).start(), 5)
    assert closed.value.code == 1006
    assert closed.value.reason == f"{server} did not answer hello within 0.3 s"


async def test_a_connect_failure_nobody_foresaw_makes_start_raise() -> None:
    # A user name in the URL is refused by websockets with InvalidURI, which the
    # connect loop does not expect (JoinLink.parse refuses such links; the SDK
    # lets a caller build any link).
    link = JoinLink("http://user@127.0.0.1:9", SESSION_ID, new_key())
    with pytest.raises(SessionClosed) as closed:
        await asyncio.wait_for(Peer(link, name="Bob", policy=QUICK).start(), 5)
    assert closed.value.code == 1011
    assert closed.value.reason.startswith("ctclient failed: InvalidURI: ")


async def test_a_library_that_rejects_an_argument_ends_in_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def websockets_14(*args: object, **kwargs: object) -> None:
        raise TypeError("create_connection() got an unexpected keyword argument 'proxy'")

    monkeypatch.setattr("ctclient.peer.connect", websockets_14)
    link = JoinLink("http://127.0.0.1:9", SESSION_ID, new_key())
    peer = Peer(link, name="Bob", policy=QUICK)
    with pytest.raises(SessionClosed) as closed:
        await asyncio.wait_for(peer.start(), 5)
    assert closed.value.reason == (
        "ctclient failed: TypeError: create_connection() got an unexpected keyword argument 'proxy'"
    )
    assert (await closed_event(peer)).data == {"code": 1011, "reason": closed.value.reason}


def run_join(link: str, folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ctclient.cli", "join", link, str(folder)],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("CT_")},
        timeout=30,
    )


async def test_ctclient_join_exits_1_with_words_after_a_malformed_frame(tmp_path: Path) -> None:
    async def broken(ws: ServerConnection) -> None:
        await ws.recv()
        await ws.send(welcome(BOB, HOST))
        await ws.recv()  # hello_app
        await ws.send(b"\x01")
        await ws.wait_closed()

    async with FakeRelay(broken) as relay:
        result = await asyncio.to_thread(run_join, str(relay.link), tmp_path / "guest")
    assert result.returncode == 1, result.stderr
    assert (
        "Session closed: the server sent a malformed frame: a data frame of 1 bytes,"
        " shorter than its header\n"
    ) in result.stderr


# -- fuzzing: whatever a hostile server sends ------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)
KNOWN = ["welcome", "admitted", "join_request", "presence", "error", "ended", "surprise"]
PEER = st.fixed_dictionaries(
    {"peer_id": st.integers(-1, 2**33) | JSON, "name": st.text(max_size=5) | JSON},
    optional={"role": st.sampled_from(["host", "guest", "x"]), "state": JSON, "read_only": JSON},
)


MEMBERS = st.sampled_from(
    ["peer", "peers", "event", "code", "message", "reason", "peer_id", "peer_secret", "state"]
)


@st.composite
def near_valid(draw: st.DrawFn) -> str:
    """A control frame of a known type whose members may be missing or wrong."""
    values = PEER | st.lists(PEER, max_size=2) | JSON
    members = draw(st.dictionaries(MEMBERS, values, max_size=6))
    return json.dumps({"type": draw(st.sampled_from(KNOWN)), **members})


GOOD_PEER = st.builds(
    peer_object,
    st.integers(1, 2**32 - 1),
    st.text(max_size=5),
    st.sampled_from(["host", "guest"]),
    st.sampled_from(["lobby", "admitted", "away"]),
    st.booleans(),
)
WELL_FORMED = st.one_of(
    st.builds(lambda peers: control("admitted", peers=peers), st.lists(GOOD_PEER, max_size=2)),
    st.builds(lambda peer: control("join_request", peer=peer), GOOD_PEER),
    st.builds(
        lambda event, peer: control("presence", event=event, peer=peer),
        st.sampled_from(["admitted", "left", "removed", "away", "back", "read_only", "new"]),
        GOOD_PEER,
    ),
    st.builds(lambda text: control("error", code=text, message=text), st.text(max_size=5)),
    st.builds(lambda text: control("ended", reason=text), st.text(max_size=5)),
    st.builds(
        lambda extra: json.dumps({**extra, "type": "surprise"}),
        st.dictionaries(st.text(max_size=4), JSON, max_size=3),
    ),
)
FRAMES = st.lists(
    WELL_FORMED
    | st.text(max_size=20)
    | JSON.map(json.dumps)
    | near_valid()
    | st.binary(max_size=40)
    | st.binary(max_size=5).map(lambda data: b"\x01" + data),
    max_size=4,
)
SENTINEL = peer_object(7, "Sentinel-zz")


async def hostile_session(frames: list[str | bytes], welcomed_first: bool) -> list[Event]:
    """A peer against a server that sends ``frames``, then (if the peer is still
    there) a welcome, a presence event and the end: the peer's events."""

    async def hostile(ws: ServerConnection) -> None:
        await ws.recv()  # hello
        with contextlib.suppress(ConnectionClosed):  # the peer may have closed already
            if welcomed_first:
                await ws.send(welcome(BOB, HOST))
            for frame in frames:
                await ws.send(frame)
            if not welcomed_first:
                await ws.send(welcome(BOB, HOST))
            await ws.send(control("presence", event="admitted", peer=SENTINEL))
            await ws.send(control("ended", reason="host_ended"))
            await ws.close(4005)

    events: list[Event] = []
    async with FakeRelay(hostile) as relay, asyncio.timeout(10):
        peer = Peer(relay.link, name="Bob", policy=FAST)
        with contextlib.suppress(SessionClosed):  # closed before its welcome: said below
            await peer.start()
        while not events or events[-1].kind != "closed":
            events.append(await peer.events.get())
    return events


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(FRAMES, st.booleans())
def test_a_hostile_server_cannot_hang_or_crash_a_peer(
    frames: list[str | bytes], welcomed_first: bool
) -> None:
    events = asyncio.run(hostile_session(frames, welcomed_first))
    closed = events[-1].data
    if closed["code"] == 1002:  # refused a frame, and said which
        assert closed["reason"].startswith(MALFORMED)
        return
    # Nothing was malformed: the peer went on as if nothing had happened.
    assert closed == {"code": 4005, "reason": ""}
    seen = [event.data.get("peer") for event in events if event.kind == "presence"]
    assert SENTINEL in seen


async def never_served(ws: ServerConnection) -> None:
    """A relay that is never started: only its key is used."""


def test_a_data_frame_that_does_not_decrypt_is_reported_not_fatal() -> None:
    """A peer could send one (it has the key, the server does not): the peer reports
    it and goes on."""
    other_session = FakeRelay(never_served)  # another key: its frames do not decrypt
    frame = other_session.data_frame(1, message("hi"))
    events = asyncio.run(hostile_session([frame], True))
    assert "decrypt_error" in [event.kind for event in events]
    assert events[-1].data == {"code": 4005, "reason": ""}
