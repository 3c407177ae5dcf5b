"""A session peer: one WebSocket kept alive across drops, with encryption built in.

``Peer`` speaks docs/protocol.md: it says hello (or resumes with its peer
credentials after a drop), reports what the server and the other peers say as
``Event`` objects, and encrypts every application message it sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import secrets
import ssl
import struct
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from ctclient.auth import ServerAuth
from ctclient.crypto import SessionCipher, new_key
from ctclient.errors import CtClientError, DecryptError, ServerError, SessionClosed
from ctclient.frames import BadFrame, parse_control
from ctclient.links import SESSION_ID, JoinLink
from ctclient.messages import AppMessage

HEADER = struct.Struct(">BBI")
VERSION = 1
USER_AGENT = "ctclient/0.1"
# Close codes after which reconnecting cannot help (docs/protocol.md §8). Not 4008
# (too slow: the next connection may keep up), nor 1013 (try again later: retried
# with back-off during a session, final at the first connection like any close).
# 1002, 1007 and 1009 close a connection that broke the WebSocket or ctserver
# protocol, either way (this client closes with them when the server's frames do).
FINAL_CLOSE_CODES = frozenset(
    {1000, 1002, 1007, 1008, 1009, *range(4000, 4008), *range(4009, 4019)}
)
PROTOCOL_ERROR = 1002
# No ctserver relays a frame over 64 MiB (the largest CT_MAX_FRAME_BYTES it accepts).
MAX_FRAME_BYTES = 64 * 1024 * 1024
# The close code of a ``closed`` event for a failure inside ctclient itself.
CLIENT_FAILURE = 1011
# The close code of a ``closed`` event when the server refused the handshake because
# nobody is signed in (401: sign_in_required, token_invalid; docs/protocol.md §4).
# No connection was made, so no close frame exists: 1008 is "policy violation".
SIGN_IN_CLOSE = 1008


@dataclass(frozen=True)
class ReconnectPolicy:
    first_delay: float = 0.2
    max_delay: float = 5.0
    give_up_after: float = 60.0  # the server's default CT_RECONNECT_GRACE
    # How long a connection may wait for its ``welcome``: a server that accepts the
    # WebSocket and then says nothing must not hold ``start()`` forever.
    welcome_timeout: float = 30.0

    def delay(self, attempt: int) -> float:
        backoff = min(self.max_delay, self.first_delay * 2.0**attempt)
        return backoff * random.uniform(0.8, 1.2)  # noqa: S311 (jitter, not secrecy)


@dataclass(frozen=True)
class Event:
    """``kind`` is a control frame's type (welcome, admitted, join_request, presence,
    error, ended) or one of: message, resumed, reconnecting, decrypt_error, closed."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    message: AppMessage | None = None


def _http_json(
    method: str,
    url: str,
    body: dict[str, Any] | None,
    context: ssl.SSLContext | None,
    sticky: str,
    auth: ServerAuth | None = None,
) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 (the caller's server URL)
        url,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "ctstickiness": sticky,
            "User-Agent": USER_AGENT,
            **(auth.headers() if auth is not None else {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=15, context=context) as response:  # noqa: S310
            return dict(json.load(response))
    except urllib.error.HTTPError as exc:
        raise _server_error(exc) from None
    except urllib.error.URLError as exc:
        raise CtClientError(f"cannot reach {url}: {exc.reason}") from None


def _server_error(exc: urllib.error.HTTPError) -> ServerError:
    """The protocol's error body (§3), or the bare status when something else answered."""
    try:
        error = json.load(exc)["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        code, message = "http_error", str(exc.reason)
    return ServerError(exc.code, code, message, _seconds(exc.headers.get("Retry-After")))


def _handshake_refusal(exc: InvalidStatus) -> ServerError | None:
    """A 401 handshake refusal as the protocol's error (§4), else None."""
    response = exc.response
    if response.status_code != 401:
        return None
    try:
        error = json.loads(response.body or b"")["error"]
        return ServerError(401, str(error["code"]), str(error["message"]))
    except (ValueError, KeyError, TypeError):
        return ServerError(401, "sign_in_required", "the server asks to sign in")


def _seconds(retry_after: str | None) -> int | None:
    """A ``Retry-After`` in seconds (the server never sends the HTTP-date form)."""
    try:
        seconds = int(retry_after or "")
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


async def create_session(
    server_url: str,
    *,
    name: str = "Host",
    auto_admit: bool = False,
    ssl_context: ssl.SSLContext | None = None,
    auth: ServerAuth | None = None,
) -> tuple[JoinLink, str]:
    """Create a session; returns the join link (with a fresh key) and the host secret.
    ``auth``: this server's token, when it uses single sign-on (ctclient.auth)."""
    server_url = server_url.rstrip("/")
    created = await asyncio.to_thread(
        _http_json,
        "POST",
        f"{server_url}/api/v1/sessions",
        {"name": name, "auto_admit": auto_admit},
        ssl_context,
        secrets.token_hex(8),
        auth,
    )
    session_id = str(created.get("session_id"))
    if not SESSION_ID.fullmatch(session_id):  # it goes into URLs and the printed link
        raise CtClientError(f"the server answered with a malformed session id: {session_id}")
    return JoinLink(server_url, session_id, new_key()), created["host_secret"]


def _close_of(exc: ConnectionClosed) -> tuple[int, str]:
    """The close code and reason of a connection that ended with an exception: the
    server's close, or the one this side sent (a frame over the size limit, text
    that is not UTF-8)."""
    close = exc.rcvd or exc.sent
    if close is None:
        return 1006, "connection lost"
    return close.code, close.reason


class Peer:
    def __init__(
        self,
        link: JoinLink,
        *,
        name: str,
        host_secret: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        policy: ReconnectPolicy | None = None,
        client: str = USER_AGENT,
        auth: ServerAuth | None = None,
    ) -> None:
        self.link = link
        self.auth = auth
        self.name = name
        self.host_secret = host_secret
        self.role = "host" if host_secret else "guest"
        self.policy = policy or ReconnectPolicy()
        self.client = client
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.peer_id = 0
        self.state = "connecting"
        self.peers: dict[int, dict[str, Any]] = {}
        self._ssl = ssl_context
        self._cipher = SessionCipher(link.key, link.session_id)
        self._peer_secret: str | None = None
        self._ws: ClientConnection | None = None
        self._welcomed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed: SessionClosed | None = None
        self._leaving = False
        # The message of an error frame when it is the last frame received: the
        # server sends one before every fatal close, whose own reason may be empty.
        self._last_error = ""

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> Peer:
        """Connect and say hello; returns once welcomed (in the lobby or admitted).

        Raises ``SessionClosed`` when the peer ends before that, whatever the cause.
        """
        self._task = asyncio.create_task(self._run())
        welcomed = asyncio.create_task(self._welcomed.wait())
        await asyncio.wait({welcomed, self._task}, return_when=asyncio.FIRST_COMPLETED)
        welcomed.cancel()
        if self._closed is not None:
            raise self._closed
        return self

    async def close(self) -> None:
        """Drop the connection without leaving (as a network failure would, minus retries)."""
        self._leaving = True
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, SessionClosed):
                await self._task

    async def __aenter__(self) -> Peer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def closed(self) -> SessionClosed | None:
        return self._closed

    async def _run(self) -> None:
        try:
            await self._stay_connected()
        except Exception as exc:  # whatever fails, the peer must end in `closed`
            self._finish(CLIENT_FAILURE, f"ctclient failed: {type(exc).__name__}: {exc}")

    async def _stay_connected(self) -> None:
        attempt, dropped_at, ever_welcomed = 0, None, False
        while True:
            self._last_error = ""
            code, reason = await self._connect_once()
            reason = reason or self._last_error
            if self._welcomed.is_set():  # this connection worked: a fresh drop
                ever_welcomed, attempt, dropped_at = True, 0, None
            self._welcomed.clear()
            self._ws = None
            if self._leaving or code in FINAL_CLOSE_CODES or not ever_welcomed:
                self._finish(code, reason)
                return
            dropped_at = dropped_at or time.monotonic()
            if time.monotonic() - dropped_at > self.policy.give_up_after:
                self._finish(code, f"could not reconnect within {self.policy.give_up_after:g} s")
                return
            await self.events.put(Event("reconnecting", {"code": code, "attempt": attempt}))
            await asyncio.sleep(self.policy.delay(attempt))
            attempt += 1

    def _finish(self, code: int, reason: str) -> None:
        self.state = "closed"
        self._ws = None
        self._closed = SessionClosed(code, reason)
        self.events.put_nowait(Event("closed", {"code": code, "reason": reason}))

    async def _connect_once(self) -> tuple[int, str]:
        """One connection, from handshake to close: its close code and reason."""
        for renewed in (False, True):
            try:
                headers = await asyncio.to_thread(self.auth.headers) if self.auth else {}
            except ServerError as exc:  # the refresh token no longer works
                return SIGN_IN_CLOSE, f"{exc} (sign in with: ctclient login --server URL)"
            except CtClientError as exc:  # renewing failed for now: back off, retry
                return 1006, str(exc)
            try:
                return await self._converse_once(headers)
            except InvalidStatus as exc:
                refusal = _handshake_refusal(exc)
                if refusal is None:
                    return 1006, f"cannot reach {self.link.server_url}: {exc}"
                if refusal.code == "token_expired" and self.auth and not renewed:
                    await asyncio.to_thread(self.auth.renew)  # clocks differ: renew, retry
                    continue
                return SIGN_IN_CLOSE, f"{refusal} (sign in with: ctclient login --server URL)"
        raise AssertionError("unreachable")

    async def _converse_once(self, headers: dict[str, str]) -> tuple[int, str]:
        try:
            async with connect(
                self.link.websocket_url,
                additional_headers={"ctstickiness": self.link.session_id, **headers},
                user_agent_header=USER_AGENT,
                ssl=self._ssl if self.link.websocket_url.startswith("wss:") else None,
                compression=None,  # ciphertext does not compress
                proxy=None,
                max_size=MAX_FRAME_BYTES,
                open_timeout=10,
            ) as ws:
                self._ws = ws
                await ws.send(json.dumps(self._hello()))
                return await self._converse(ws)
        except ConnectionClosed as exc:
            return _close_of(exc)
        except InvalidStatus:
            raise
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            return 1006, f"cannot reach {self.link.server_url}: {exc}"

    async def _converse(self, ws: ClientConnection) -> tuple[int, str]:
        """Handle the server's frames until the connection closes."""
        try:
            async with asyncio.timeout(self.policy.welcome_timeout) as unanswered:
                async for raw in ws:
                    self._handle(raw)
                    if self._welcomed.is_set():
                        unanswered.reschedule(None)
        except TimeoutError:
            await ws.close()
            waited = self.policy.welcome_timeout
            return 1006, f"{self.link.server_url} did not answer hello within {waited:g} s"
        except BadFrame as exc:
            await ws.close(PROTOCOL_ERROR, "malformed frame")
            return PROTOCOL_ERROR, f"the server sent a malformed frame: {exc}"
        return ws.close_code or 1006, ws.close_reason or ""

    def _hello(self) -> dict[str, Any]:
        hello: dict[str, Any] = {
            "type": "hello",
            "role": self.role,
            "name": self.name,
            "client": self.client,
        }
        if self.host_secret:
            hello["host_secret"] = self.host_secret
        if self._peer_secret and self.peer_id:
            hello["resume"] = {"peer_id": self.peer_id, "peer_secret": self._peer_secret}
        return hello

    # -- receiving ----------------------------------------------------------------------

    def _handle(self, raw: str | bytes) -> None:
        if isinstance(raw, bytes):
            self._handle_data(raw)
            return
        parsed = parse_control(raw)
        if parsed is None:
            return  # a type this version does not know: ignored (docs/protocol.md §11)
        kind, frame = parsed
        self._last_error = frame["message"] if kind == "error" else ""
        if kind == "welcome":
            self.peer_id = frame["peer_id"]
            self._peer_secret = frame["peer_secret"]
            self.state = frame["state"]
            self.peers = {p["peer_id"]: p for p in frame["peers"]}
            self._welcomed.set()
            if frame["resumed"]:
                self.events.put_nowait(Event("resumed", frame))
        elif kind == "admitted":
            self.state = "admitted"
            self.peers = {p["peer_id"]: p for p in frame["peers"]}
        elif kind == "presence":
            peer = frame["peer"]
            if frame["event"] in ("left", "removed", "denied"):
                self.peers.pop(peer["peer_id"], None)
            elif peer["state"] != "lobby":
                self.peers[peer["peer_id"]] = peer
        self.events.put_nowait(Event(kind, frame))

    def _handle_data(self, raw: bytes) -> None:
        self._last_error = ""
        if len(raw) < HEADER.size:
            raise BadFrame(f"a data frame of {len(raw)} bytes, shorter than its header")
        version, _kind, sender = HEADER.unpack_from(raw)
        if version != VERSION:
            return
        try:
            plaintext = self._cipher.decrypt(sender, raw[HEADER.size :])
            message = AppMessage.decode(plaintext, sender)
        except (DecryptError, ValueError, RecursionError) as exc:
            self.events.put_nowait(Event("decrypt_error", {"sender": sender, "error": str(exc)}))
            return
        self.events.put_nowait(Event("message", {"sender": sender}, message))

    async def wait_for(
        self, kind: str, timeout: float = 10.0, where: Callable[[Event], bool] | None = None
    ) -> Event:
        """The next event of ``kind`` (matching ``where``); events before it are discarded."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self.events.get()
                if event.kind == kind and (where is None or where(event)):
                    return event
                if event.kind == "closed" and kind != "closed":
                    raise SessionClosed(event.data["code"], event.data["reason"])

    # -- sending ------------------------------------------------------------------------

    async def _connected(self, timeout: float) -> ClientConnection:
        async with asyncio.timeout(timeout):
            while True:
                if self._closed is not None:
                    raise self._closed
                ws = self._ws
                if ws is not None and self._welcomed.is_set():
                    return ws
                await asyncio.sleep(0.02)

    async def send(self, message: AppMessage, to: int | None = None, timeout: float = 30.0) -> None:
        """Encrypt and send to every admitted peer, or to peer ``to``.

        While reconnecting, waits up to ``timeout`` seconds for the connection.
        """
        ws = await self._connected(timeout)
        payload = self._cipher.encrypt(self.peer_id, message.encode())
        header = HEADER.pack(VERSION, 0 if to is None else 1, to or 0)
        await ws.send(header + payload)

    async def _control(self, kind: str, **members: Any) -> None:
        ws = await self._connected(30.0)
        await ws.send(json.dumps({"type": kind, **members}))

    async def admit(self, peer_id: int) -> None:
        await self._control("admit", peer=peer_id)

    async def deny(self, peer_id: int) -> None:
        await self._control("deny", peer=peer_id)

    async def remove(self, peer_id: int) -> None:
        await self._control("remove", peer=peer_id)

    async def set_read_only(self, peer_id: int, read_only: bool) -> None:
        await self._control("set_read_only", peer=peer_id, read_only=read_only)

    async def set_auto_admit(self, auto_admit: bool) -> None:
        await self._control("set_auto_admit", auto_admit=auto_admit)

    async def end(self) -> None:
        """Host only: end the session for everyone."""
        await self._control("end")
        await self._await_close()

    async def leave(self) -> None:
        """Leave for good (a host leaving ends the session)."""
        self._leaving = True
        await self._control("leave")
        await self._await_close()

    async def _await_close(self) -> None:
        if self._task is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), 10)
