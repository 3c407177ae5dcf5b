"""Protection below HTTP: slow requests, huge heads, floods of sockets from one address.

uvicorn closes a keep-alive connection that stays idle, but not one that trickles
its request forever (slowloris: one byte every few seconds keeps it open), and it
counts no sockets per address. Its protocols are subclassed here:

- a request, head and body, must arrive whole within ``CT_REQUEST_TIMEOUT`` of its
  first byte (or of the connection); otherwise the answer is 408 and the socket
  closes. A WebSocket handshake is such a request.
- a request head (request line and headers) larger than ``CT_MAX_HEADER_BYTES`` is
  answered 431 and the socket closes, before the parser sees it (httptools sets no
  bound of its own).
- one client (an IPv4 address, an IPv6 /64) holds at most
  ``CT_MAX_SOCKETS_PER_ADDRESS`` sockets, HTTP and WebSocket together; past that,
  new ones are closed at once. A trusted reverse proxy carries everyone's
  connections, so it is exempt (it has limits of its own).
"""

from __future__ import annotations

import asyncio
import http
import ipaddress
import logging
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from relay.addresses import client_key
from relay.api import ApiError

HEAD_END = b"\r\n\r\n"


def _response(refusal: ApiError) -> bytes:
    """A whole HTTP response, written before any request could reach the application."""
    body = refusal.body()
    status = f"{refusal.status} {http.HTTPStatus(refusal.status).phrase}".encode()
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
        b"connection: close\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


TIMEOUT_RESPONSE = _response(ApiError(408, "request_timeout", "the request came too slowly"))
HEAD_TOO_LARGE = _response(ApiError(431, "too_large", "the request head is too large"))


class SocketCounts:
    """Open sockets per client (see ``relay.addresses``), trusted proxies not counted."""

    def __init__(self, per_client: int, exempt: tuple[str, ...]) -> None:
        self.per_client = per_client
        self._exempt = [ipaddress.ip_network(item, strict=False) for item in exempt]
        self._by_client: dict[str, int] = {}

    def slot(self, address: str) -> str | None:
        """The key a socket from ``address`` counts under; None when not counted."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:  # not an IP (a Unix socket): nothing to count
            return None
        if any(ip in network for network in self._exempt):
            return None
        return client_key(address)

    def acquire(self, key: str) -> bool:
        count = self._by_client.get(key, 0)
        if count >= self.per_client:
            return False
        self._by_client[key] = count + 1
        return True

    def release(self, key: str) -> None:
        count = self._by_client[key]
        if count > 1:
            self._by_client[key] = count - 1
        else:
            del self._by_client[key]


class GuardedConfig(uvicorn.Config):
    """uvicorn's settings plus what the guarded protocols need."""

    def __init__(
        self,
        app: Any,
        *,
        sockets: SocketCounts,
        request_timeout: float,
        max_head_bytes: int,
        **options: Any,
    ) -> None:
        options.update(
            http=GuardedHttpProtocol,
            ws=GuardedWebSocketProtocol,
        )
        super().__init__(app, **options)
        self.socket_counts = sockets
        self.request_timeout = request_timeout
        self.max_head_bytes = max_head_bytes


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (the C parser: a WebSocket handshake costs about
    a tenth of h11's pure-Python parse, docs/benchmarks.md) under the guards above."""

    config: GuardedConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._slot: str | None = None  # the key this socket counts under, while it does
        self._awaiting_head = True  # between requests, or inside a request's head
        self._head = b""  # the start of the current request, until its head is complete

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        counts = self.config.socket_counts
        slot = counts.slot(self.client[0]) if self.client else None
        if slot is not None:
            if not counts.acquire(slot):
                transport.abort()  # a flood gets no answer, only a closed socket
                return
            self._slot = slot
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._slot is not None:
            self.config.socket_counts.release(self._slot)
            self._slot = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._awaiting_head:
            if self._deadline is None:
                self._arm()  # the first byte of the next request on a kept-alive connection
            if self._head_too_large(data):
                self._refuse(HEAD_TOO_LARGE)
                return
        super().data_received(data)
        upgraded = self.transport.get_protocol()
        if upgraded is not self:  # the WebSocket protocol now holds the socket and its slot
            self._disarm()
            assert isinstance(upgraded, GuardedWebSocketProtocol)
            upgraded.slot, self._slot = self._slot, None

    # The parser's callbacks, called from within super().data_received.
    def on_headers_complete(self) -> None:
        self._awaiting_head = False
        self._head = b""  # the next request starts afresh
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._awaiting_head = True
        self._disarm()  # the whole request is here
        super().on_message_complete()

    def _head_too_large(self, data: bytes) -> bool:
        limit = self.config.max_head_bytes
        self._head += data[: limit + len(HEAD_END)]
        end = self._head.find(HEAD_END)
        return (end if end >= 0 else len(self._head)) > limit

    def _refuse(self, response: bytes) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(response)
            self.transport.close()

    def _arm(self) -> None:
        self._deadline = self.loop.call_later(self.config.request_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        if self.cycle is None or not self.cycle.response_started:
            self._refuse(TIMEOUT_RESPONSE)
        else:
            self.transport.close()


class GuardedWebSocketProtocol(WebSocketsSansIOProtocol):
    """Made only by ``GuardedHttpProtocol`` on an upgrade: it inherits that slot."""

    config: GuardedConfig
    slot: str | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.logger = _RefusalAwareLogger(self)  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.slot is not None:
            self.config.socket_counts.release(self.slot)
            self.slot = None
        super().connection_lost(exc)

    def start_keepalive(self) -> None:
        """uvicorn calls this once the handshake's response is sent. Its request and
        response, headers and all, are never read again but would be kept as long as
        the connection lives: about 3 KiB each (docs/benchmarks.md)."""
        self.request = self.response = None  # type: ignore[assignment]
        super().start_keepalive()


class _RefusalAwareLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """uvicorn logs "ASGI callable returned without completing handshake" at ERROR
    even after the application answered the handshake with a response of its own
    (ctserver/edge.py refuses handshakes that way). Only that case is dropped: the
    same words after no answer at all still come through. (A logger, not a wrapper
    around ``send``, so that no frame pays for it.)"""

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        super().__init__(protocol.logger, {})
        self.protocol = protocol

    @property
    def level(self) -> int:  # uvicorn reads it to decide on its trace lines
        return int(self.logger.level)

    def error(self, msg: object, *args: Any, **kwargs: Any) -> None:
        answered = self.protocol.initial_response is not None
        if answered and str(msg).startswith("ASGI callable returned without completing"):
            return
        super().error(msg, *args, **kwargs)
