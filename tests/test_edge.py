"""Below and around HTTP: slow and idle sockets, floods from one address, oversized
heads and bodies, and the transport rules (HSTS, CSP, TLS for WebSockets)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import select
import socket
import ssl
import time
from collections.abc import Iterator

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.support.server import ServerProcess, plain_http_env
from tests.support.waiting import until

# They measure time (latency under 100 ms, timeouts to the second): run alone, not
# beside the other tests' servers (make test runs them after the parallel part).
pytestmark = pytest.mark.serial


@pytest.fixture
def secure_server(default_server: ServerProcess) -> ServerProcess:
    """Defaults: https CT_SERVER_URL, so HTTPS redirection and HSTS are on."""
    return default_server


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(
        tmp_path_factory.mktemp("strict"),
        **plain_http_env(),
        CT_REQUEST_TIMEOUT="2",
        CT_MAX_SOCKETS_PER_ADDRESS="20",
        CT_MAX_CONNECTIONS_PER_ADDRESS="10",
    ).start()
    yield process
    process.stop()


def tcp_from(source: str, port: int) -> socket.socket:
    sock = socket.socket()
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


def is_closed_by_server(sock: socket.socket) -> bool:
    if not select.select([sock], [], [], 0)[0]:
        return False
    try:
        while chunk := sock.recv(65536):  # a 408 answer may come first
            del chunk
    except BlockingIOError:
        return False
    except ConnectionResetError:
        pass
    return True


def health_seconds(port: int, source: str = "127.0.0.1") -> float:
    """How long the liveness check takes, connection included (a raw socket: an
    HTTP client's own set-up would be measured too)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0)) as s:
        s.sendall(b"GET /ct-health/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer
    return time.monotonic() - started


def test_half_open_sockets_are_closed_and_health_answers_throughout(
    secure_server: ServerProcess,
) -> None:
    """200 sockets that never finish a request: 100 stop mid-head on the HTTP port,
    100 never start their TLS handshake on the HTTPS port. CT_REQUEST_TIMEOUT (10 s
    by default) closes them all; meanwhile the health endpoint answers in < 100 ms."""
    sockets = []
    for _ in range(100):
        partial = tcp_from("127.0.0.5", secure_server.http_port)
        partial.send(b"GET /ct-health/ HTTP/1.1\r\nHost: localhost\r\n")
        sockets.append(partial)
        sockets.append(tcp_from("127.0.0.5", secure_server.https_port))
    open_since = time.monotonic()
    slowest, closed_at = 0.0, {}
    while time.monotonic() - open_since < 20:
        slowest = max(slowest, health_seconds(secure_server.http_port, "127.0.0.6"))
        for sock in sockets:
            if sock not in closed_at and is_closed_by_server(sock):
                closed_at[sock] = time.monotonic() - open_since
        time.sleep(0.25)
    for sock in sockets:
        sock.close()
    assert len(closed_at) == 200, f"{200 - len(closed_at)} sockets were never closed"
    assert min(closed_at.values()) >= 9, "closed before CT_REQUEST_TIMEOUT"
    assert slowest < 0.1, f"the health endpoint took {slowest * 1000:.0f} ms"


def test_a_request_whose_body_trickles_is_answered_408(strict_server: ServerProcess) -> None:
    sock = socket.create_connection(("127.0.0.1", strict_server.http_port), timeout=10)
    sock.sendall(
        b"POST /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
    )
    started = time.monotonic()
    answer = b""
    for _ in range(10):  # a byte a second keeps an idle-timeout happy, not this one
        try:
            sock.sendall(b" ")
        except OSError:
            break
        time.sleep(0.5)
    while chunk := sock.recv(65536):
        answer += chunk
    sock.close()
    assert answer.startswith(b"HTTP/1.1 408")
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"]["code"] == "request_timeout"
    assert 1.5 < time.monotonic() - started < 4


def _served(port: int, source: str) -> bool:
    try:
        return health_seconds(port, source) < 0.5
    except (OSError, AssertionError):  # closed at once: still over its share
        return False


def test_one_address_cannot_hold_more_sockets_than_its_share(strict_server: ServerProcess) -> None:
    held = [tcp_from("127.0.0.7", strict_server.http_port) for _ in range(20)]
    assert health_seconds(strict_server.http_port, "127.0.0.8") < 0.5  # all 20 are accepted
    assert not any(is_closed_by_server(sock) for sock in held)
    extra = tcp_from("127.0.0.7", strict_server.http_port)
    until(lambda: is_closed_by_server(extra), what="the 21st socket of one address closed")
    assert health_seconds(strict_server.http_port, "127.0.0.8") < 0.5  # others are served
    for sock in held[:5]:
        sock.close()
    until(lambda: _served(strict_server.http_port, "127.0.0.7"), what="the address served again")
    for sock in [*held[5:], extra]:
        sock.close()


@pytest.mark.parametrize("upgrade", [False, True])
def test_an_oversized_request_head_is_refused_at_once(
    strict_server: ServerProcess, upgrade: bool
) -> None:
    head = b"GET /ws/v1/sessions/abc HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if upgrade:
        head += (
            b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        )
    head += b"X-Padding: " + b"a" * 100_000 + b"\r\n\r\n"
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", strict_server.http_port), timeout=5) as sock:
        with contextlib.suppress(OSError):  # closed while we were still sending: refused too
            sock.sendall(head)
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"]["code"] == "too_large"
    assert time.monotonic() - started < 1


def test_pages_carry_hsts_and_a_content_security_policy(secure_server: ServerProcess) -> None:
    context = ssl.create_default_context(cafile=secure_server.certificate)
    with httpx.Client(verify=context) as client:
        for path in ("/dashboard/login/", "/admin/login/", "/clients/"):
            response = client.get(f"{secure_server.https_url}{path}")
            assert response.status_code == 200, path
            assert response.headers["strict-transport-security"] == "max-age=31536000"
            policy = response.headers["content-security-policy"]
            assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    plain = httpx.get(f"{secure_server.http_url}/dashboard/login/")
    assert plain.status_code == 301 and plain.headers["location"].startswith("https://")


async def test_websockets_on_the_plain_port_are_refused_when_https_is_required(
    secure_server: ServerProcess,
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await connect(f"ws://127.0.0.1:{secure_server.http_port}/ws/v1/sessions/abc")
    response = refused.value.response
    assert response.status_code == 403
    assert json.loads(response.body or b"")["error"]["code"] == "https_required"
    context = ssl.create_default_context(cafile=secure_server.certificate)
    async with connect(
        f"wss://localhost:{secure_server.https_port}/ws/v1/sessions/abc", ssl=context
    ) as ws:
        await asyncio.wait_for(ws.wait_closed(), 5)
        assert ws.close_code == 4004  # served over TLS: the usual answer
