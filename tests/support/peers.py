"""SDK helpers shared by the relay and client tests, and stand-in servers.

The stand-ins play what the real server will not send on demand: a display name
it now refuses, a limit's close code, a refusal of a read-only guest's broadcast.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ctclient import AppMessage, JoinLink, Peer, ReconnectPolicy, create_session
from ctclient.crypto import SessionCipher, new_key
from ctclient.peer import HEADER
from websockets.asyncio.server import Server, ServerConnection, serve

# Reconnect quickly: the tests cut connections on purpose.
FAST = ReconnectPolicy(first_delay=0.05, max_delay=0.5, give_up_after=10)
SESSION_ID = "x3Jb0pQ1sW9mZk2Lr7yTvA"


@asynccontextmanager
async def admitted_pair(server_url: str) -> AsyncIterator[tuple[Peer, Peer]]:
    """A session on a real server hosted by Ada, with Grace admitted: (host, guest).
    Both close at the end (the session stays open unless the test ends it)."""
    link, secret = await create_session(server_url, name="Ada")
    async with (
        Peer(link, name="Ada", host_secret=secret, policy=FAST) as host,
        Peer(link, name="Grace", policy=FAST) as guest,
    ):
        request = await host.wait_for("join_request")
        await host.admit(request.data["peer"]["peer_id"])
        await guest.wait_for("admitted")
        yield host, guest


async def relay_messages(sender: Peer, receiver: Peer, count: int) -> None:
    """``count`` messages from ``sender``, each received by ``receiver``."""
    for number in range(count):
        await sender.send(AppMessage("message", {"n": number}))
    for _ in range(count):
        await receiver.wait_for("message")


def message(text: str, body: bytes = b"") -> AppMessage:
    return AppMessage("message", {"text": text}, body)


def control(kind: str, **members: Any) -> str:
    return json.dumps({"type": kind, **members})


def peer_object(
    peer_id: int, name: str, role: str = "guest", state: str = "admitted", read_only: bool = False
) -> dict[str, Any]:
    return {"peer_id": peer_id, "name": name, "role": role, "state": state, "read_only": read_only}


def welcome(you: dict[str, Any], *others: dict[str, Any], resumed: bool = False) -> str:
    """The server's answer to a hello, for the peer ``you``."""
    return control(
        "welcome",
        peer_id=you["peer_id"],
        peer_secret="s" * 43,
        role=you["role"],
        state=you["state"],
        resumed=resumed,
        session={"session_id": SESSION_ID, "auto_admit": False, "host_present": True},
        peers=[you, *others] if you["state"] == "admitted" else list(others),
    )


Script = Callable[[ServerConnection], Awaitable[None]]


class FakeRelay:
    """A WebSocket server on a free port that plays ``script`` on every connection."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.key = new_key()
        self.cipher = SessionCipher(self.key, SESSION_ID)
        self._server: Server | None = None

    async def __aenter__(self) -> FakeRelay:
        self._server = await serve(self._play, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _play(self, ws: ServerConnection) -> None:
        self.connections += 1
        await self.script(ws)

    @property
    def link(self) -> JoinLink:
        assert self._server is not None
        port = next(iter(self._server.sockets)).getsockname()[1]
        return JoinLink(f"http://127.0.0.1:{port}", SESSION_ID, self.key)

    def data_frame(self, sender: int, app: AppMessage) -> bytes:
        """A frame as the relay delivers it: stamped with the sender, encrypted by it."""
        return HEADER.pack(1, 1, sender) + self.cipher.encrypt(sender, app.encode())

    def read(self, sender: int, frame: str | bytes) -> tuple[int, int, AppMessage]:
        """A data frame a client sent: (kind, target, the message in it)."""
        assert isinstance(frame, bytes), f"a control frame where data was expected: {frame}"
        _, kind, target = HEADER.unpack_from(frame)
        plaintext = self.cipher.decrypt(sender, frame[HEADER.size :])
        return kind, target, AppMessage.decode(plaintext, sender)


@contextmanager
def fake_session_api(status: int, body: dict[str, Any], **headers: str) -> Iterator[str]:
    """An HTTP server whose every POST gets ``status`` and ``body``; yields its URL."""

    class Answer(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass  # keep the test output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
