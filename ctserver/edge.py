"""ASGI wrappers that refuse requests before the application sees them.

- Request bodies: Django reads a whole body into memory or a temporary file before
  any view can refuse it. Here a body over its limit is refused by its
  ``Content-Length``, unread, with the protocol's JSON ``413 too_large``; a body
  without a length (chunked) is read only up to the limit.
- WebSockets on the plain-HTTP port, when pages redirect to HTTPS: refused at the
  handshake, before a client could send its host secret in clear.
- WebSockets to a path nothing serves: a 404 at the handshake (Channels' router
  would raise, and log a traceback for every such request).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from relay.api import MAX_BODY_BYTES as API_MAX_BODY_BYTES
from relay.api import ApiError

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

API_PREFIX = "/api/"


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            return int(value)  # the HTTP layer has already refused a malformed one
    return None


def body_limit(path: str, default: int) -> int:
    """The session API takes small JSON bodies; every other form gets ``default``."""
    return API_MAX_BODY_BYTES if path.startswith(API_PREFIX) else default


async def _too_large(send: Send, limit: int) -> None:
    body = ApiError(413, "too_large", f"the request body is limited to {limit} bytes").body()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                # The rest of the body is never read: the connection cannot be reused.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def limit_request_bodies(app: Any, default_limit: int) -> ASGIApp:
    async def limited(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        limit = body_limit(scope["path"], default_limit)
        length = _content_length(scope["headers"])
        if length is not None:
            if length > limit:
                await _too_large(send, limit)
            else:
                await app(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            if len(body) > limit:
                await _too_large(send, limit)
                return
            if not message.get("more_body", False):
                break
        await app(scope, _replay(bytes(body), receive), send)

    return limited


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the body read ahead, then what comes next."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


async def refuse_handshake(receive: Receive, send: Send, refusal: ApiError) -> None:
    await receive()  # websocket.connect
    await send(
        {
            "type": "websocket.http.response.start",
            "status": refusal.status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "websocket.http.response.body", "body": refusal.body()})


def require_tls_websockets(app: Any, required: bool) -> Any:
    if not required:
        return app

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope.get("scheme") == "ws":
            refusal = ApiError(403, "https_required", "connect with wss:// to the HTTPS address")
            await refuse_handshake(receive, send, refusal)
        else:
            await app(scope, receive, send)

    return guarded


async def websocket_not_found(scope: Scope, receive: Receive, send: Send) -> None:
    refusal = ApiError(404, "not_found", "no WebSocket is served at this path")
    await refuse_handshake(receive, send, refusal)
