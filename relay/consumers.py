"""The relay's WebSocket consumer: it connects one socket to its session's room.

The per-frame path (``receive`` with bytes) awaits nothing: it checks the header
and the budget, then the room appends the stamped frame to each receiver's
outbox. Control frames and connection changes write to the database through
``database_sync_to_async`` (relay/rooms.py).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from relay import store
from relay.limits import ConnectionBudget
from relay.outbox import Outbox
from relay.protocol import (
    CloseCode,
    ProtocolError,
    error_frame,
    fatal,
    parse_command,
    parse_control,
    parse_data_header,
    parse_hello,
)
from relay.room import Peer, Room
from relay.rooms import ROOMS

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
        self.limits = settings.CONFIG.relay
        self.session_id: str = self.scope["url_route"]["kwargs"]["session_id"]
        self.peer: Peer | None = None
        self.room: Room | None = None
        self.outbox = Outbox(self.base_send, self.limits.send_queue_bytes)
        self.budget = ConnectionBudget(self.limits, time.monotonic())
        await self.accept()
        self.outbox.start()
        self.room = await ROOMS.get(self.session_id)
        if self.room is None:
            self._refuse(fatal(CloseCode.SESSION_NOT_FOUND, "unknown or ended session"))
            return
        self.hello_timer = asyncio.get_running_loop().call_later(
            self.limits.hello_timeout, self._hello_timed_out
        )

    def _hello_timed_out(self) -> None:
        if self.peer is None:
            self._refuse(fatal(CloseCode.HELLO_TIMEOUT, "no hello in time"))

    def _refuse(self, exc: ProtocolError, ref: str | None = None) -> None:
        self.outbox.post(error_frame(exc, ref))
        if exc.close is not None:
            self.outbox.close(exc.close)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.outbox.closing or self.room is None:
            return
        if bytes_data is not None:
            self._relay(bytes_data)
        elif text_data is not None:
            await self._control(text_data)

    def _relay(self, frame: bytes) -> None:
        peer, room = self.peer, self.room
        try:
            if peer is None or room is None:
                raise fatal(CloseCode.PROTOCOL_VIOLATION, "send 'hello' first")
            kind, target = parse_data_header(frame, self.limits.max_frame_bytes)
            if not self.budget.allow(len(frame), time.monotonic()):
                raise fatal(CloseCode.RATE_LIMITED, "over the frame or byte budget")
            room.relay(peer, kind, target, frame, time.time())
        except ProtocolError as exc:
            self._refuse(exc)

    async def _control(self, text: str) -> None:
        room = self.room
        assert room is not None
        ref = None
        try:
            frame = parse_control(text, self.limits.max_control_bytes)
            ref = frame["type"]
            if not self.budget.allow(len(text), time.monotonic()):
                raise fatal(CloseCode.RATE_LIMITED, "over the frame or byte budget")
            if self.peer is None:
                await self._hello(room, frame)
            else:
                room.command(self.peer, parse_command(frame, self.peer.is_host), time.time())
        except ProtocolError as exc:
            self._refuse(exc, ref)
        await ROOMS.flush(room)

    async def _hello(self, room: Room, frame: dict[str, Any]) -> None:
        hello = parse_hello(frame)
        secret = secrets.token_urlsafe(32)
        if hello.role == "host":
            self.peer = room.join_host(hello, self.outbox, secret, time.time())
        elif hello.resume_peer_id is not None:
            self.peer = room.resume(hello, self.outbox, secret, time.time())
        else:
            try:
                peer_id = await _allocate_peer_id(self.session_id)
            except LookupError:
                peer_id = 0
            if peer_id == 0 or room.ended_reason is not None:
                raise fatal(CloseCode.SESSION_NOT_FOUND, "unknown or ended session")
            self.peer = room.join_guest(hello, peer_id, secret, self.outbox, time.time())
        self.hello_timer.cancel()

    async def disconnect(self, code: int) -> None:
        timer = getattr(self, "hello_timer", None)
        if timer is not None:
            timer.cancel()
        if self.room is not None and self.peer is not None:
            self.room.link_lost(self.peer, self.outbox, time.time())
            await ROOMS.flush(self.room)
        await self.outbox.stop()


async def _allocate_peer_id(session_id: str) -> int:
    return int(await database_sync_to_async(store.allocate_peer_id)(session_id))
