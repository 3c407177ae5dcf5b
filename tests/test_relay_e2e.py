"""The relay through a real server process, driven by the SDK and raw WebSockets."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from ctclient import AppMessage, JoinLink, Peer, ReconnectPolicy, create_session
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support.peers import FAST, message
from tests.support.proxy import TcpProxy
from tests.support.server import ServerProcess, plain_http_env
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
def relay_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(
        tmp_path_factory.mktemp("relay"),
        **plain_http_env(),
        CT_RECONNECT_GRACE="4",
        CT_HELLO_TIMEOUT="1",
        CT_MAX_FRAME_BYTES="65536",
        CT_PEER_RATE_FRAMES="100",
        CT_SWEEP_INTERVAL="0.2",
    ).start()
    yield server
    server.stop()


@pytest.fixture
async def proxy(relay_server: ServerProcess) -> AsyncIterator[TcpProxy]:
    proxy = await TcpProxy(relay_server.http_port).start()
    yield proxy
    await proxy.close()


def via(proxy: TcpProxy, link: JoinLink) -> JoinLink:
    return JoinLink(f"http://127.0.0.1:{proxy.port}", link.session_id, link.key)


async def hosted(server: ServerProcess, auto_admit: bool = False) -> tuple[JoinLink, Peer]:
    link, secret = await create_session(server.http_url, name="Ada", auto_admit=auto_admit)
    host = await Peer(link, name="Ada", host_secret=secret, policy=FAST).start()
    return link, host


async def text_from(peer: Peer) -> str:
    """The text of the next application message ``peer`` receives."""
    event = await peer.wait_for("message")
    assert event.message is not None
    return str(event.message.fields["text"])


async def admitted_guest(host: Peer, link: JoinLink, name: str = "Bob") -> Peer:
    guest = await Peer(link, name=name, policy=FAST).start()
    request = await host.wait_for("join_request", where=lambda e: e.data["peer"]["name"] == name)
    await host.admit(request.data["peer"]["peer_id"])
    await guest.wait_for("admitted")
    return guest


async def test_host_admits_a_guest_and_they_exchange_encrypted_messages(
    relay_server: ServerProcess,
) -> None:
    link, host = await hosted(relay_server)
    guest = await Peer(link, name="Bob", policy=FAST).start()
    assert guest.state == "lobby" and guest.peer_id == 2
    request = await host.wait_for("join_request")
    assert request.data["peer"]["name"] == "Bob"
    await host.admit(2)
    await guest.wait_for("admitted")
    await host.send(message("hello Bob"))
    received = await guest.wait_for("message")
    assert received.message is not None
    assert (received.message.fields["text"], received.message.sender) == ("hello Bob", 1)
    await guest.send(message("hi Ada", b"\x00\xff"), to=1)
    answer = await host.wait_for("message")
    assert answer.message is not None and answer.message.body == b"\x00\xff"
    await host.end()
    await guest.wait_for("closed", where=lambda e: e.data["code"] == 4005)


async def test_a_third_peer_gets_broadcasts_but_not_unicasts(relay_server: ServerProcess) -> None:
    link, host = await hosted(relay_server)
    bob = await admitted_guest(host, link, "Bob")
    carol = await admitted_guest(host, link, "Carol")
    await host.send(message("only Carol"), to=carol.peer_id)
    await host.send(message("everyone"))
    assert await text_from(carol) == "only Carol"
    assert await text_from(bob) == "everyone"
    await host.end()


async def test_denied_guest_is_closed_with_4006(relay_server: ServerProcess) -> None:
    link, host = await hosted(relay_server)
    guest = await Peer(link, name="Mallory", policy=FAST).start()
    request = await host.wait_for("join_request")
    await host.deny(request.data["peer"]["peer_id"])
    closed = await guest.wait_for("closed")
    assert closed.data["code"] == 4006
    await host.end()


async def test_removed_guest_cannot_resume(relay_server: ServerProcess) -> None:
    link, host = await hosted(relay_server)
    guest = await admitted_guest(host, link)
    secret = guest._peer_secret  # what a client would keep to resume
    await host.remove(guest.peer_id)
    assert (await guest.wait_for("closed")).data["code"] == 4007
    async with connect(link.websocket_url) as ws:
        resume = {"peer_id": guest.peer_id, "peer_secret": secret}
        await ws.send(json.dumps({"type": "hello", "role": "guest", "name": "B", "resume": resume}))
        error = json.loads(await ws.recv())
        assert error["code"] == "not_authenticated"
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4003
    await host.end()


async def test_guest_keeps_identity_across_a_network_drop(
    relay_server: ServerProcess, proxy: TcpProxy
) -> None:
    link, host = await hosted(relay_server)
    guest = await Peer(via(proxy, link), name="Bob", policy=FAST).start()
    await host.admit((await host.wait_for("join_request")).data["peer"]["peer_id"])
    await guest.wait_for("admitted")
    peer_id = guest.peer_id
    proxy.cut()
    await host.wait_for("presence", where=lambda e: e.data["event"] == "away")
    resumed = await guest.wait_for("resumed")
    assert resumed.data["peer_id"] == peer_id and resumed.data["state"] == "admitted"
    await host.wait_for("presence", where=lambda e: e.data["event"] == "back")
    await host.send(message("after the drop"))
    assert await text_from(guest) == "after the drop"
    await host.end()


async def test_host_network_blip_does_not_end_the_session(
    relay_server: ServerProcess, proxy: TcpProxy
) -> None:
    link, secret = await create_session(relay_server.http_url, name="Ada")
    host = await Peer(via(proxy, link), name="Ada", host_secret=secret, policy=FAST).start()
    guest = await Peer(link, name="Bob", policy=FAST).start()
    await host.admit((await host.wait_for("join_request")).data["peer"]["peer_id"])
    await guest.wait_for("admitted")
    proxy.cut()
    await guest.wait_for("presence", where=lambda e: e.data["event"] == "host_away")
    await host.wait_for("resumed")
    await guest.wait_for("presence", where=lambda e: e.data["event"] == "host_back")
    await guest.send(message("still here"))
    assert await text_from(host) == "still here"
    await host.end()


async def test_guest_whose_grace_runs_out_has_left(relay_server: ServerProcess) -> None:
    link, host = await hosted(relay_server)
    guest = await admitted_guest(host, link)
    guest.policy = ReconnectPolicy(first_delay=30, give_up_after=0)
    await guest.close()
    await host.wait_for("presence", where=lambda e: e.data["event"] == "away")
    left = await host.wait_for("presence", timeout=10, where=lambda e: e.data["event"] == "left")
    assert left.data["peer"]["peer_id"] == guest.peer_id
    await host.end()


async def test_unknown_and_ended_sessions_get_the_same_answer(relay_server: ServerProcess) -> None:
    link, host = await hosted(relay_server)
    await host.end()
    for session_id in (link.session_id, "AAAAAAAAAAAAAAAAAAAAAA"):
        status = httpx.get(f"{relay_server.http_url}/api/v1/sessions/{session_id}")
        assert status.status_code == 404
        assert status.json()["error"]["code"] == "session_not_found"
        url = f"ws://127.0.0.1:{relay_server.http_port}/ws/v1/sessions/{session_id}"
        async with connect(url) as ws:
            assert json.loads(await ws.recv())["code"] == "session_not_found"
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4004


async def test_open_session_status_and_join_page(relay_server: ServerProcess) -> None:
    link, host = await hosted(relay_server)
    status = httpx.get(f"{relay_server.http_url}/api/v1/sessions/{link.session_id}")
    assert status.json() == {"protocol": 1, "session_id": link.session_id, "state": "open"}
    page = httpx.get(f"{relay_server.http_url}/join/{link.session_id}")
    assert page.status_code == 200 and "ctclient join" in page.text
    await host.end()


def test_bad_create_requests_are_refused(relay_server: ServerProcess) -> None:
    url = f"{relay_server.http_url}/api/v1/sessions"
    bad = httpx.post(url, content=b"[1]", headers={"content-type": "application/json"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"
    assert httpx.get(url).status_code == 405


async def _raw_guest(server: ServerProcess, session_id: str) -> connect:
    return connect(f"ws://127.0.0.1:{server.http_port}/ws/v1/sessions/{session_id}")


async def _close_code(ws: ClientConnection) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


HELLO = json.dumps({"type": "hello", "role": "guest", "name": "Raw"})


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        (["not json"], 4000),
        ([HELLO, '{"type": "dance"}'], 4001),
        ([b"\x01\x00\x00\x00\x00\x00" + bytes(28)], 4002),
        ([HELLO, '{"type": "admit", "peer": 1}'], 4002),
        ([HELLO, "x" * 20000], 4009),
        ([HELLO, b"\x01\x00\x00\x00\x00\x00" + bytes(70000)], 4009),
        ([HELLO, b"\x07\x00\x00\x00\x00\x00" + bytes(28)], 4000),
        ([], 4012),
    ],
    ids=["malformed", "unknown-type", "data-before-hello", "guest-admits", "huge-control",
         "huge-data", "bad-version", "no-hello"],
)  # fmt: skip
async def test_bad_input_is_closed_with_its_code_and_others_carry_on(
    relay_server: ServerProcess, frames: list[str | bytes], code: int
) -> None:
    link, host = await hosted(relay_server, auto_admit=True)
    bob = await Peer(link, name="Bob", policy=FAST).start()
    async with await _raw_guest(relay_server, link.session_id) as ws:
        for frame in frames:
            await ws.send(frame)
        assert await _close_code(ws) == code
    await host.send(message("unaffected"))
    assert await text_from(bob) == "unaffected"
    await host.end()


async def test_lobby_guest_sending_data_gets_not_admitted(relay_server: ServerProcess) -> None:
    link, host = await hosted(relay_server)
    async with await _raw_guest(relay_server, link.session_id) as ws:
        await ws.send(HELLO)
        assert json.loads(await ws.recv())["state"] == "lobby"
        await ws.send(b"\x01\x00\x00\x00\x00\x00" + bytes(28))
        error = json.loads(await ws.recv())
        assert error["type"] == "error" and error["code"] == "not_admitted"
    await host.end()


async def test_flood_is_closed_with_4010_and_others_carry_on(relay_server: ServerProcess) -> None:
    link, host = await hosted(relay_server, auto_admit=True)
    bob = await Peer(link, name="Bob", policy=FAST).start()
    async with await _raw_guest(relay_server, link.session_id) as ws:
        await ws.send(HELLO)
        frame = b"\x01\x00\x00\x00\x00\x00" + bytes(28)
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(1000):
                await ws.send(frame)
                await asyncio.sleep(0)
            await asyncio.wait_for(ws.recv(), 10)
            while True:
                await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4010
    await host.send(message("unaffected"))
    while await text_from(bob) != "unaffected":
        pass
    await host.end()


async def test_history_and_audit_log_record_the_session(relay_server: ServerProcess) -> None:
    link, host = await hosted(relay_server)
    guest = await admitted_guest(host, link)
    await host.send(message("counted"))
    await guest.wait_for("message")
    await host.end()
    db = sqlite3.connect(relay_server.data_dir / "ctserver.sqlite3")
    audit = relay_server.data_dir / "logs" / "sessions.log"
    ended = f'"event":"ended","session":"{link.session_id}"'
    # The audit line is written once the database has the end: wait for it.
    await eventually(lambda: ended in audit.read_text(), what="the end saved and logged")
    row = db.execute(
        "SELECT end_reason, peak_peers, frames_relayed FROM relay_session WHERE session_id = ?",
        (link.session_id,),
    ).fetchone()
    assert row == ("host_ended", 2, 1)
    people = db.execute(
        "SELECT peer_id, display_name, role, state FROM relay_participant p "
        "WHERE p.session_id = ? ORDER BY peer_id",
        (link.session_id,),
    ).fetchall()
    assert people == [(1, "Ada", "host", "left"), (2, "Bob", "guest", "left")]
    events = [
        json.loads(line)["event"]
        for line in (relay_server.data_dir / "logs" / "sessions.log").read_text().splitlines()
        if link.session_id in line
    ]
    assert events == ["created", "join_requested", "admitted", "ended"]


async def test_the_server_never_sees_content_or_the_key(
    relay_server: ServerProcess, proxy: TcpProxy
) -> None:
    marker = "MARKER-7f3c1a-secret-file-contents"
    link, secret = await create_session(relay_server.http_url, name="Ada")
    host = await Peer(via(proxy, link), name="Ada", host_secret=secret, policy=FAST).start()
    guest = await Peer(via(proxy, link), name="Bob", policy=FAST).start()
    await host.admit((await host.wait_for("join_request")).data["peer"]["peer_id"])
    await guest.wait_for("admitted")
    await host.send(
        AppMessage("message", {"text": marker, "path": f"src/{marker}.py"}, marker.encode())
    )
    received = await guest.wait_for("message")
    assert received.message is not None and received.message.fields["text"] == marker
    await host.end()
    await host.wait_for("closed")  # everything the server had to send has been sent
    seen = bytes(proxy.received)
    stored = [p.read_bytes() for p in Path(relay_server.data_dir).rglob("*") if p.is_file()]
    key_text = str(link).split("#", 1)[1].encode()
    for blob in [seen, relay_server.output.encode(), *stored]:
        assert marker.encode() not in blob
        assert link.key not in blob and key_text not in blob
    assert len(seen) > 200  # the proxy did see the traffic


async def test_a_receiver_that_cannot_keep_up_is_dropped_and_others_get_everything(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server(
        **plain_http_env(),
        CT_SEND_QUEUE_BYTES=str(2 * 1024 * 1024),
        CT_PEER_RATE_FRAMES="100000",
        CT_PEER_RATE_BYTES="1000000000",
    )
    link, host = await hosted(server, auto_admit=True)
    fast = await Peer(link, name="Fast", policy=FAST).start()
    async with await _raw_guest(server, link.session_id) as slow:
        await slow.send(HELLO)  # and then never read: its socket and queue fill up
        await host.wait_for("presence", where=lambda e: e.data["peer"]["name"] == "Raw")
        count, chunk = 600, bytes(60_000)  # 36 MB: more than socket buffers and the queue
        for i in range(count):
            await host.send(AppMessage("message", {"i": i}, chunk))
            await asyncio.sleep(0.002)  # a pace the fast peer keeps up with
        for i in range(count):
            got = await fast.wait_for("message", timeout=30)
            assert got.message is not None and got.message.fields["i"] == i
        assert await _close_code(slow) == 4008
    await host.end()


async def test_a_silent_peer_is_noticed_by_keepalive_pings(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server(**plain_http_env(), CT_WS_PING_INTERVAL="1", CT_WS_PING_TIMEOUT="1")
    silent_network = await TcpProxy(server.http_port).start()
    try:
        link, host = await hosted(server, auto_admit=True)
        guest = await Peer(via(silent_network, link), name="Bob", policy=FAST).start()
        await host.wait_for("presence", where=lambda e: e.data["event"] == "admitted")
        silent_network.freeze()  # no close, no reset: the guest just stops answering
        away = await host.wait_for(
            "presence", timeout=15, where=lambda e: e.data["event"] == "away"
        )
        assert away.data["peer"]["peer_id"] == guest.peer_id
        await host.end()
    finally:
        await silent_network.close()


async def test_a_stopping_server_closes_with_1012_and_its_sessions_resume_after(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    """docs/protocol.md §8: a server that stops does not end its sessions."""
    env = plain_http_env(CT_RECONNECT_GRACE="30")
    server = start_server(tmp_path / "kept", **env)
    link, host = await hosted(server)
    guest = await admitted_guest(host, link)
    assert await asyncio.to_thread(server.stop, signal.SIGTERM) == 0
    for peer in (host, guest):
        dropped = await peer.wait_for("reconnecting")
        assert dropped.data["code"] == 1012
    start_server(tmp_path / "kept", **env)  # the same data dir and ports
    for peer in (host, guest):
        assert (await peer.wait_for("resumed", timeout=20)).data["state"] == "admitted"
    await host.send(message("after the restart"))
    assert await text_from(guest) == "after the restart"
    await host.end()
    audit = tmp_path / "kept" / "logs" / "sessions.log"
    async with asyncio.timeout(5):  # the end is saved just after the peers are told
        while '"ended"' not in audit.read_text():
            await asyncio.sleep(0.05)
    ended = [json.loads(line) for line in audit.read_text().splitlines() if '"ended"' in line]
    assert [entry["reason"] for entry in ended] == ["host_ended"]
