"""The relay's WebSocket consumer: a thin bridge from a socket to a ``Connection``."""

from __future__ import annotations

from typing import Any

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from relay.cluster import Cluster, get_cluster
from relay.connection import Connection
from relay.outbox import Outbox

# get_channel_layer() returns None for an alias that is not configured: the relay
# fans out in process (docs/protocol.md), so its consumers join no channel layer.
NO_CHANNEL_LAYER = "ctserver.relay.no-channel-layer"


class RelayConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    channel_layer_alias = NO_CHANNEL_LAYER

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels' dispatch closes stale DB connections (a thread hop) before every
        # handler; here every database call goes through database_sync_to_async,
        # which does that itself, so frames skip the hop.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        limits = settings.CONFIG.relay
        self.outbox = Outbox(self.base_send, limits.send_queue_bytes)
        session_id = self.scope["url_route"]["kwargs"]["session_id"]
        self.connection: Connection | None = None
        self.proxy: tuple[Cluster, str] | None = None
        await self.accept()
        self.outbox.start()
        cluster = await get_cluster()
        if cluster is not None:
            owner = await cluster.bus.claim(session_id)
            if owner != cluster.bus.server_id:  # another server holds the room
                self.proxy = cluster, cluster.open_proxy(session_id, owner, self.outbox)
                return
        self.connection = Connection(session_id, self.outbox, limits)
        await self.connection.open()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.connection is not None:
            if bytes_data is not None:
                self.connection.receive_bytes(bytes_data)
            elif text_data is not None:
                await self.connection.receive_text(text_data)
        elif self.proxy is not None:
            cluster, key = self.proxy
            cluster.forward(
                key, "bytes" if bytes_data is not None else "text", bytes_data or text_data
            )

    async def disconnect(self, code: int) -> None:
        if self.connection is not None:
            await self.connection.lost()
        elif self.proxy is not None:
            cluster, key = self.proxy
            cluster.forward(key, "lost")
        await self.outbox.stop()
