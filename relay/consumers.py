"""The relay's WebSocket consumer: a thin bridge from a socket to a ``Connection``."""

from __future__ import annotations

import logging
import threading
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from dashboard import events
from relay.addresses import scope_client
from relay.cluster import Cluster, get_cluster
from relay.connection import Connection
from relay.identity import PeerIdentity
from relay.limits import ConnectionCounts
from relay.outbox import Outbox
from relay.protocol import CloseCode, ProtocolError, error_frame, fatal

logger = logging.getLogger("ctserver.relay")

# get_channel_layer() returns None for an alias that is not configured: the relay
# fans out in process (docs/protocol.md), so its consumers join no channel layer.
NO_CHANNEL_LAYER = "ctserver.relay.no-channel-layer"

# The WebSockets this process holds, for CT_MAX_CONNECTIONS(_PER_ADDRESS).
CONNECTIONS = ConnectionCounts()
# Set while connections cannot be served (Redis or the database out).
OUTAGE = threading.Event()


def _watch_server() -> None:
    """The server's monitor, started by ``serve``; under the development server,
    by the first WebSocket (it needs a running event loop)."""
    from dashboard.monitor import MONITOR  # dashboard imports the relay: import late

    MONITOR.start()


class BusUnavailable(Exception):
    """The Redis bus cannot carry a proxied peer's frames now (one of its parts is
    reconnecting): a welcome sent back through it could be lost, so the client is
    told to retry instead."""


class RelayConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    channel_layer_alias = NO_CHANNEL_LAYER

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Channels' consumer loop without its channel-layer half: the relay joins no
        layer, and ``await_many_dispatch`` would cost every frame a new task and an
        ``asyncio.wait``; here a frame is one ``await receive()``."""
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels' dispatch closes stale DB connections (a thread hop) before every
        # handler; here every database call goes through database_sync_to_async,
        # which does that itself, so frames skip the hop.
        if message["type"] == "websocket.receive":  # the data path: straight to it
            await self.receive(message.get("text"), message.get("bytes"))
            return
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        limits = settings.CONFIG.relay
        self.outbox = Outbox(self.base_send, limits.send_queue_bytes)
        session_id = self.scope["url_route"]["kwargs"]["session_id"]
        self.address = scope_client(self.scope)
        # Who signed in, with single sign-on (sso/gate.py); None without it.
        self.identity: PeerIdentity | None = self.scope.get("ct_identity")
        self.counted = False
        self.connection: Connection | None = None
        self.proxy: tuple[Cluster, str] | None = None
        await self.accept()
        _watch_server()
        refusal = CONNECTIONS.refusal(self.address, limits)
        if refusal is None:
            CONNECTIONS.add(self.address)
            self.counted = True  # from here on, disconnect() gives the place back
            refusal = await self._attach(session_id)
        if refusal is not None and refusal.close is not None:
            self.outbox.post(error_frame(refusal))
            self.outbox.close(refusal.close)
        events.changed()

    async def _attach(self, session_id: str) -> ProtocolError | None:
        """Serve the session here, or through the server that holds it."""
        limits = settings.CONFIG.relay
        try:
            cluster = await get_cluster()
            if cluster is not None:
                owner = await cluster.bus.claim(session_id)
                if owner != cluster.bus.server_id:  # another server holds the room
                    problem = cluster.bus.problem
                    if problem is not None:  # the owner's answers could not reach us
                        raise BusUnavailable(problem)
                    key = cluster.open_proxy(
                        session_id, owner, self.outbox, self.address, self.identity
                    )
                    self.proxy = cluster, key
            if self.proxy is None:
                self.connection = Connection(
                    session_id, self.outbox, limits, self.address, self.identity
                )
                await self.connection.open()
        except Exception as exc:  # Redis or the database is out: the client retries later
            if not OUTAGE.is_set():  # once per outage, not once per reconnect attempt
                OUTAGE.set()
                logger.warning("Cannot serve sessions now (%r); clients are told to retry", exc)
            return fatal(CloseCode.TRY_AGAIN_LATER, "the server cannot serve this session now")
        if OUTAGE.is_set():
            OUTAGE.clear()
            logger.warning("Serving sessions again")
        return None

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.connection is not None:
            if bytes_data is not None:
                self.connection.receive_bytes(bytes_data)
            elif text_data is not None:
                await self.connection.receive_text(text_data)
        elif self.proxy is not None:
            cluster, key = self.proxy
            # Exactly what arrived, as above: an empty frame is a frame (closed 4000).
            if bytes_data is not None:
                cluster.forward(key, "bytes", bytes_data)
            elif text_data is not None:
                cluster.forward(key, "text", text_data)

    async def disconnect(self, code: int) -> None:
        if self.counted:
            CONNECTIONS.remove(self.address)
            self.counted = False
        if self.connection is not None:
            await self.connection.lost()
        elif self.proxy is not None:
            cluster, key = self.proxy
            cluster.forward(key, "lost")
        await self.outbox.stop()
        events.changed()
