"""One client must not take the server, a session or another client down (issue 7).

A real server, with its limits set low; each test acts from its own loopback
addresses, so that one abusive address is refused while another is served.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from collections.abc import Callable, Iterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.support.server import ServerProcess, plain_http_env
from tests.support.waiting import until
from tests.support.wire import (
    DATA,
    closed_with,
    create,
    created,
    host,
    http_from,
    next_control,
    open_socket,
    say_hello,
    unicast,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(
        tmp_path_factory.mktemp("abuse"),
        **plain_http_env(),
        CT_SWEEP_INTERVAL="0.2",
        CT_SESSION_CREATE_RATE="3",
        CT_MAX_OPEN_SESSIONS_PER_ADDRESS="2",
        CT_MAX_CONNECTIONS="12",
        CT_MAX_CONNECTIONS_PER_ADDRESS="6",
        CT_MAX_LOBBY_PER_ADDRESS="2",
        CT_LOBBY_TIMEOUT="3",
        CT_DENY_BACKOFF="30",
        CT_SESSION_HOST_TIMEOUT="3",
    ).start()
    yield process
    process.stop()


def server_log(server: ServerProcess) -> str:
    return (server.data_dir / "logs" / "server.log").read_text()


def audit_log(server: ServerProcess) -> list[dict[str, object]]:
    lines = (server.data_dir / "logs" / "sessions.log").read_text().splitlines()
    return [json.loads(line) for line in lines]


# -- input at the edge ----------------------------------------------------------------------


HOSTILE = ["\ud800x", "Mallory\x1b[2K\x1b]0;pwned\x07", "a\u202eb", "<b>\x00"]


@pytest.mark.parametrize(("number", "name"), list(enumerate(HOSTILE)))
async def test_hostile_names_are_refused_and_the_session_goes_on(
    server: ServerProcess, number: int, name: str
) -> None:
    source = f"127.0.1.{number + 1}"
    refused = create(server, source, name=name)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "bad_request"
    session_id, host_ws = await host(server, source, auto_admit=True)
    guest = await open_socket(server, session_id, source)
    await guest.send(json.dumps({"type": "hello", "role": "guest", "name": name}))
    code, frames = await closed_with(guest)
    assert code == 4000 and frames[-1]["type"] == "error" and frames[-1]["code"] == "bad_frame"
    for field in ("client", "name"):
        sneaky = await open_socket(server, session_id, source)
        await sneaky.send(
            json.dumps({"type": "hello", "role": "guest", "name": "Bob", field: name})
        )
        assert (await closed_with(sneaky))[0] == 4000
    # The host was never disturbed, and a well-named guest still gets in.
    fine = await open_socket(server, session_id, source)
    assert (await say_hello(fine, name="Zoë 李"))["type"] == "welcome"
    assert (await next_control(host_ws))["event"] == "admitted"
    await host_ws.send(json.dumps({"type": "end"}))
    assert (await closed_with(host_ws))[0] == 4005
    await fine.close()
    assert all(entry.get("name") != name for entry in audit_log(server))


async def test_deep_json_is_a_400_or_a_4000_never_a_crash(server: ServerProcess) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    with http_from("127.0.0.12") as client:
        response = client.post(
            f"{server.http_url}/api/v1/sessions",
            content=deep[:8000] + deep[-8000:],
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_request"
    session_id, host_ws = await host(server, "127.0.0.12")
    ws = await open_socket(server, session_id, "127.0.0.12")
    await ws.send(
        '{"type":"hello","role":"guest","name":"x","extra":' + "[" * 4000 + "]" * 4000 + "}"
    )
    assert (await closed_with(ws))[0] == 4000
    await host_ws.send(json.dumps({"type": "end"}))
    await closed_with(host_ws)
    assert "Traceback" not in server_log(server)


def _raw_request(port: int, head: bytes, timeout: float = 10.0) -> bytes:
    """One request on a raw socket (for heads no HTTP client would send); the whole
    response, read by its Content-Length."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head)
        answer = b""
        while True:
            start, _, body = answer.partition(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length: *(\d+)", start)
            if length and len(body) >= int(length[1]):
                return answer
            chunk = sock.recv(65536)
            if not chunk:
                return answer
            answer += chunk


@pytest.mark.parametrize("path", ["/api/v1/sessions", "/dashboard/login/", "/admin/login/"])
def test_a_huge_body_is_refused_by_its_length_before_it_is_read(
    server: ServerProcess, path: str
) -> None:
    started = time.monotonic()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: 50000000\r\n\r\n"
    ).encode()
    answer = _raw_request(server.http_port, head)  # not one byte of the body is sent
    assert time.monotonic() - started < 2
    status, _, body = answer.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 413")
    assert json.loads(body)["error"]["code"] == "too_large"


def test_a_chunked_body_is_read_only_up_to_the_limit(server: ServerProcess) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(32):  # 32 KiB, over the API's 16 KiB, never announced
            yield b" " * 1024

    with http_from("127.0.0.13") as client:
        response = client.post(f"{server.http_url}/api/v1/sessions", content=chunks())
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"


# -- limits on anonymous use ----------------------------------------------------------------


async def test_session_creation_is_limited_per_address(server: ServerProcess) -> None:
    first = created(server, "127.0.0.21")
    created(server, "127.0.0.21")
    full = create(server, "127.0.0.21")
    assert full.status_code == 429
    assert full.json()["error"]["code"] == "too_many_sessions_from_address"
    created(server, "127.0.0.22")  # another address is served meanwhile
    # Ending one frees a place; the third creation of the minute is the last.
    ws = await open_socket(server, first["session_id"], "127.0.0.21")
    await say_hello(ws, role="host", name="Ada", host_secret=first["host_secret"])
    await ws.send(json.dumps({"type": "end"}))
    await closed_with(ws)
    created(server, "127.0.0.21")
    limited = create(server, "127.0.0.21")
    assert (
        limited.status_code == 429
        and limited.json()["error"]["code"] == "too_many_sessions_from_address"
    )
    log = server_log(server)
    assert f"Session {first['session_id']} created by 127.0.0.21" in log
    created_events = [e for e in audit_log(server) if e["session"] == first["session_id"]]
    assert created_events[0]["address"] == "127.0.0.21"


async def test_too_many_creations_in_a_minute_are_rate_limited(server: ServerProcess) -> None:
    for _ in range(2):
        _, ws = await host(server, "127.0.0.23")
        await ws.send(json.dumps({"type": "end"}))
        await closed_with(ws)
    created(server, "127.0.0.23")
    limited = create(server, "127.0.0.23")
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert create(server, "127.0.0.24").status_code == 201


async def test_a_session_whose_host_never_comes_ends_within_the_host_timeout(
    server: ServerProcess,
) -> None:
    session = created(server, "127.0.0.25")
    url = f"{server.http_url}/api/v1/sessions/{session['session_id']}"
    with http_from("127.0.0.25") as client:
        assert client.get(url).status_code == 200
        deadline = time.monotonic() + 8
        while client.get(url).status_code == 200:
            assert time.monotonic() < deadline, "the session was never ended"
            await asyncio.sleep(0.2)
    ended = [e for e in audit_log(server) if e["session"] == session["session_id"]][-1]
    assert ended["event"] == "ended" and ended["reason"] == "host_never_joined"


async def test_websockets_are_limited_per_address_and_in_total(server: ServerProcess) -> None:
    session_id, host_ws = await host(server, "127.0.0.31")
    held = [await open_socket(server, session_id, "127.0.0.31") for _ in range(5)]
    extra = await open_socket(server, session_id, "127.0.0.31")
    code, frames = await closed_with(extra)
    assert code == 4014 and frames[-1]["code"] == "too_many_connections"
    held += [await open_socket(server, session_id, "127.0.0.32") for _ in range(6)]
    # 12 open in all (the host among them): the server is full for everyone.
    busy = await open_socket(server, session_id, "127.0.0.33")
    code, frames = await closed_with(busy)
    assert code == 1013 and frames[-1]["code"] == "try_again_later"
    await held.pop().close()  # a place is free once the server has seen the close
    while True:
        fine = await open_socket(server, session_id, "127.0.0.33")
        answer = await say_hello(fine, name="Eve")
        if answer["type"] == "welcome":
            break
        assert answer["code"] == "try_again_later"
        await asyncio.sleep(0.05)
    for ws in [*held, fine, host_ws]:
        await ws.close()


async def test_idle_knocks_from_one_address_cannot_fill_the_lobby(server: ServerProcess) -> None:
    session_id, host_ws = await host(server, "127.0.0.41")
    knocks = [await open_socket(server, session_id, "127.0.0.42") for _ in range(3)]
    assert (await say_hello(knocks[0]))["state"] == "lobby"
    assert (await say_hello(knocks[1]))["state"] == "lobby"
    await knocks[2].send(json.dumps({"type": "hello", "role": "guest", "name": "Bob"}))
    code, frames = await closed_with(knocks[2])
    assert code == 4014 and "waiting in this lobby" in frames[-1]["message"]
    real = await open_socket(server, session_id, "127.0.0.43")
    assert (await say_hello(real, name="Eve"))["state"] == "lobby"
    # Nobody admits them: after CT_LOBBY_TIMEOUT they are closed, with the reason.
    for ws in (knocks[0], knocks[1], real):
        code, frames = await closed_with(ws, timeout=6)
        assert code == 4015 and frames[-1]["code"] == "lobby_timeout"
    await host_ws.close()


async def test_a_denied_address_must_wait_before_knocking_again(server: ServerProcess) -> None:
    session_id, host_ws = await host(server, "127.0.0.51")
    knock = await open_socket(server, session_id, "127.0.0.52")
    peer_id = (await say_hello(knock))["peer_id"]
    assert (await next_control(host_ws))["type"] == "join_request"
    await host_ws.send(json.dumps({"type": "deny", "peer": peer_id}))
    assert (await closed_with(knock))[0] == 4006
    again = await open_socket(server, session_id, "127.0.0.52")
    await again.send(json.dumps({"type": "hello", "role": "guest", "name": "Bob"}))
    code, frames = await closed_with(again)
    assert code == 4016 and "try again in" in frames[-1]["message"]
    other = await open_socket(server, session_id, "127.0.0.53")
    assert (await say_hello(other, name="Eve"))["state"] == "lobby"
    for ws in (other, host_ws):
        await ws.close()


async def test_a_removed_guest_cannot_walk_back_into_an_auto_admit_session(
    server: ServerProcess,
) -> None:
    session_id, host_ws = await host(server, "127.0.0.61", auto_admit=True)
    guest = await open_socket(server, session_id, "127.0.0.62")
    welcome = await say_hello(guest, name="Mallory")
    assert (await next_control(guest))["type"] == "admitted"
    assert (await next_control(host_ws))["event"] == "admitted"
    await host_ws.send(json.dumps({"type": "remove", "peer": welcome["peer_id"]}))
    assert (await closed_with(guest))[0] == 4007
    assert (await next_control(host_ws))["event"] == "removed"
    back = await open_socket(server, session_id, "127.0.0.62")
    assert (await say_hello(back, name="Mallory"))["state"] == "lobby"
    request = await next_control(host_ws)
    assert request["type"] == "join_request" and request["peer"]["name"] == "Mallory"
    for ws in (back, host_ws):
        await ws.close()


async def test_a_read_only_guest_may_only_talk_to_the_host(server: ServerProcess) -> None:
    session_id, host_ws = await host(server, "127.0.0.71", auto_admit=True)
    reader = await open_socket(server, session_id, "127.0.0.72")
    reader_id = (await say_hello(reader, name="Reader"))["peer_id"]
    other = await open_socket(server, session_id, "127.0.0.72")
    other_id = (await say_hello(other, name="Other"))["peer_id"]
    await host_ws.send(json.dumps({"type": "set_read_only", "peer": reader_id, "read_only": True}))
    while (await next_control(reader)).get("event") != "read_only":
        pass
    await reader.send(DATA)
    assert (await next_control(reader))["code"] == "read_only"
    await reader.send(unicast(other_id))
    assert (await next_control(reader))["code"] == "read_only"
    await reader.send(unicast(1))
    while not isinstance(frame := await asyncio.wait_for(host_ws.recv(), 5), bytes):
        pass
    assert frame[2:6] == reader_id.to_bytes(4, "big")
    with pytest.raises(TimeoutError):  # the other guest got nothing of it
        while True:
            if isinstance(await asyncio.wait_for(other.recv(), 0.5), bytes):
                break
    for ws in (reader, other, host_ws):
        await ws.close()


# -- addresses behind a proxy, and log hygiene ----------------------------------------------


def test_forwarded_addresses_are_believed_only_from_trusted_proxies(server: ServerProcess) -> None:
    forwarded = {"X-Forwarded-For": "10.20.30.40"}
    with http_from("127.0.0.1") as proxy:  # loopback is trusted by default
        trusted = proxy.post(f"{server.http_url}/api/v1/sessions", json={}, headers=forwarded)
    with http_from("127.0.0.81") as stranger:
        spoofed = stranger.post(f"{server.http_url}/api/v1/sessions", json={}, headers=forwarded)
    log = server_log(server)
    assert f"Session {trusted.json()['session_id']} created by 10.20.30.40" in log
    assert f"Session {spoofed.json()['session_id']} created by 127.0.0.81" in log


def test_a_bad_host_header_is_one_log_line(server: ServerProcess) -> None:
    before = server_log(server).splitlines()
    with http_from("127.0.0.91") as client:
        for _ in range(20):
            response = client.get(f"{server.http_url}/dashboard/", headers={"Host": "evil.example"})
            assert response.status_code == 400
    escaped = _raw_request(server.http_port, b"GET / HTTP/1.1\r\nHost: evil\x1b[2J\r\n\r\n")
    assert escaped.startswith(b"HTTP/1.1 400")
    until(lambda: len(server_log(server).splitlines()) >= len(before) + 21, what="21 lines")
    time.sleep(0.2)  # and no more come
    added = server_log(server).splitlines()[len(before) :]
    assert len(added) == 21, added
    assert "Traceback" not in "\n".join(added)
    assert not any("\x1b" in line for line in added)


async def test_clients_that_vanish_leave_no_warnings(server: ServerProcess) -> None:
    session_id, host_ws = await host(server, "127.0.0.92", auto_admit=True)
    before = len(server_log(server).splitlines())
    big = DATA + bytes(60_000)
    for _ in range(3):
        guest = await open_socket(server, session_id, "127.0.0.93")
        await say_hello(guest)
        for _ in range(60):  # more than the sockets buffer: the server is mid-send
            await host_ws.send(big)
        await asyncio.sleep(0.2)
        guest.transport.abort()  # gone without a close frame, without reading
    await host_ws.close()
    await asyncio.sleep(0.5)
    added = server_log(server).splitlines()[before:]
    noisy = [
        line
        for line in added
        if " WARNING " in line or " ERROR " in line or "Task exception" in line
    ]
    assert noisy == []


async def test_knocking_and_leaving_in_a_loop_cannot_flood_the_host(server: ServerProcess) -> None:
    session_id, host_ws = await host(server, "127.0.0.55")
    refused = 0
    for _ in range(15):
        knock = await open_socket(server, session_id, "127.0.0.56")
        await knock.send(json.dumps({"type": "hello", "role": "guest", "name": "Bob"}))
        answer = await next_control(knock)
        if answer["type"] == "error":
            assert answer["code"] == "retry_later"
            refused += 1
        await knock.close()
    assert refused == 5  # CT_KNOCK_RATE: 10 a minute, in a burst of 10
    questions = 0
    with pytest.raises(TimeoutError):
        while True:
            questions += (await next_control(host_ws, timeout=0.5))["type"] == "join_request"
    assert questions == 10
    await host_ws.close()


async def test_a_websocket_to_an_unknown_path_is_a_404_and_no_traceback(
    server: ServerProcess,
) -> None:
    for path in ("/ws/v2/sessions/abc", "/ws/v1/sessions/" + "a" * 40, "/elsewhere"):
        with pytest.raises(InvalidStatus) as refused:
            await connect(f"ws://127.0.0.1:{server.http_port}{path}")
        assert refused.value.response.status_code == 404
        assert json.loads(refused.value.response.body or b"")["error"]["code"] == "not_found"
    log = server_log(server)
    assert "Traceback" not in log and "without completing handshake" not in log


def test_an_ipv6_client_counts_by_its_64(server: ServerProcess) -> None:
    """Through a trusted proxy (loopback): two addresses of one /64 share the limits."""
    with http_from("127.0.0.1") as proxy:
        for address in ("2001:db8:5:6::1", "2001:db8:5:6::2", "2001:db8:5:6:ffff::3"):
            response = proxy.post(
                f"{server.http_url}/api/v1/sessions",
                json={},
                headers={"X-Forwarded-For": address},
            )
        assert response.status_code == 429  # CT_MAX_OPEN_SESSIONS_PER_ADDRESS is 2
        other = proxy.post(
            f"{server.http_url}/api/v1/sessions",
            json={},
            headers={"X-Forwarded-For": "2001:db8:5:7::1"},
        )
    assert other.status_code == 201
    assert "created by 2001:db8:5:6::/64" in server_log(server)


async def test_the_sweeper_runs_from_the_start_without_any_websocket(
    start_server: Callable[..., ServerProcess],
) -> None:
    """Sessions nobody ever connects to expire too: nothing but the server's start
    runs the sweeper here."""
    fresh = start_server(**plain_http_env(), CT_SESSION_HOST_TIMEOUT="1", CT_SWEEP_INTERVAL="0.2")
    session = created(fresh, "127.0.0.57")
    url = f"{fresh.http_url}/api/v1/sessions/{session['session_id']}"
    deadline = time.monotonic() + 5
    with http_from("127.0.0.57") as client:
        while client.get(url).status_code == 200:
            assert time.monotonic() < deadline, "the session was never ended"
            await asyncio.sleep(0.2)
