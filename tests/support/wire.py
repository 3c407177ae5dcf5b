"""The wire protocol spoken directly (docs/protocol.md), from any loopback address.

Linux routes all of 127.0.0.0/8 to loopback, so a test can be several clients on
several addresses (127.0.0.2, 127.0.0.3 …) to show that limits are per address.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support.server import ServerProcess

DATA = bytes([1, 0, 0, 0, 0, 0]) + bytes(28)  # a broadcast with an all-zero payload


def unicast(target: int) -> bytes:
    return bytes([1, 1]) + target.to_bytes(4, "big") + bytes(28)


def http_from(source: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=10)


def create(server: ServerProcess, source: str = "127.0.0.1", **body: Any) -> httpx.Response:
    with http_from(source) as client:
        return client.post(
            f"{server.http_url}/api/v1/sessions",
            content=json.dumps(body),  # ASCII escapes carry even a lone surrogate
            headers={"content-type": "application/json"},
        )


def created(server: ServerProcess, source: str = "127.0.0.1", **body: Any) -> dict[str, Any]:
    response = create(server, source, **body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def open_socket(
    server: ServerProcess, session_id: str, source: str = "127.0.0.1"
) -> ClientConnection:
    url = f"ws://127.0.0.1:{server.http_port}/ws/v1/sessions/{session_id}"
    return await connect(url, local_addr=(source, 0), open_timeout=5, max_size=None)


async def say_hello(ws: ClientConnection, **hello: Any) -> dict[str, Any]:
    await ws.send(json.dumps({"type": "hello", "role": "guest", "name": "Bob", **hello}))
    return await next_control(ws)


async def next_control(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    """The next control frame (data frames are skipped)."""
    while True:
        raw = await asyncio.wait_for(ws.recv(), timeout)
        if isinstance(raw, str):
            return dict(json.loads(raw))


async def host(
    server: ServerProcess, source: str = "127.0.0.1", **options: Any
) -> tuple[str, ClientConnection]:
    """A new session and its host, welcomed; returns (session id, socket)."""
    session = created(server, source, **options)
    ws = await open_socket(server, session["session_id"], source)
    welcome = await say_hello(ws, role="host", name="Ada", host_secret=session["host_secret"])
    assert welcome["type"] == "welcome", welcome
    return session["session_id"], ws


async def closed_with(ws: ClientConnection, timeout: float = 5.0) -> tuple[int, list[Any]]:
    """Read until the server closes; returns the close code and the control frames seen."""
    frames: list[Any] = []
    try:
        async with asyncio.timeout(timeout):
            while True:
                raw = await ws.recv()
                if isinstance(raw, str):
                    frames.append(json.loads(raw))
    except ConnectionClosed:
        pass
    except TimeoutError:
        raise AssertionError(f"not closed within {timeout} s; saw {frames}") from None
    assert ws.close_code is not None
    return ws.close_code, frames
