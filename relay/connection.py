"""One peer connection's side of the protocol, whatever carries its frames.

A ``Connection`` turns frames into room actions and answers through its link. A
local WebSocket (relay/consumers.py) and a WebSocket held by another server
(relay/proxy.py) both drive one. The data path (``receive_bytes``) awaits nothing.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any, Protocol

from channels.db import database_sync_to_async

from relay import store
from relay.limits import ConnectionBudget, RelayLimits
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
from relay.room import Link, Peer, Room
from relay.rooms import ROOMS, NotOwner


class ClosableLink(Link, Protocol):
    @property
    def closing(self) -> bool: ...


class Connection:
    def __init__(self, session_id: str, link: ClosableLink, limits: RelayLimits) -> None:
        self.session_id = session_id
        self.link = link
        self.limits = limits
        self.peer: Peer | None = None
        self.room: Room | None = None
        self.budget = ConnectionBudget(limits, time.monotonic())
        self._hello_timer: asyncio.TimerHandle | None = None

    async def open(self) -> None:
        try:
            self.room = await ROOMS.get(self.session_id)
        except NotOwner:  # the session just moved: the client reconnects and resumes
            self.link.close(CloseCode.SERVICE_RESTART)
            return
        if self.room is None:
            self.refuse(fatal(CloseCode.SESSION_NOT_FOUND, "unknown or ended session"))
            return
        self._hello_timer = asyncio.get_running_loop().call_later(
            self.limits.hello_timeout, self._hello_timed_out
        )

    def _hello_timed_out(self) -> None:
        if self.peer is None:
            self.refuse(fatal(CloseCode.HELLO_TIMEOUT, "no hello in time"))

    def refuse(self, exc: ProtocolError, ref: str | None = None) -> None:
        self.link.post(error_frame(exc, ref))
        if exc.close is not None:
            self.link.close(exc.close)

    def receive_bytes(self, frame: bytes) -> None:
        peer, room = self.peer, self.room
        if self.link.closing or room is None:
            return
        try:
            if peer is None:
                raise fatal(CloseCode.PROTOCOL_VIOLATION, "send 'hello' first")
            kind, target = parse_data_header(frame, self.limits.max_frame_bytes)
            if not self.budget.allow(len(frame), time.monotonic()):
                raise fatal(CloseCode.RATE_LIMITED, "over the frame or byte budget")
            room.relay(peer, kind, target, frame, time.time())
        except ProtocolError as exc:
            self.refuse(exc)

    async def receive_text(self, text: str) -> None:
        room = self.room
        if self.link.closing or room is None:
            return
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
            self.refuse(exc, ref)
        await ROOMS.flush(room)

    async def _hello(self, room: Room, frame: dict[str, Any]) -> None:
        hello = parse_hello(frame)
        secret = secrets.token_urlsafe(32)
        if hello.role == "host":
            self.peer = room.join_host(hello, self.link, secret, time.time())
        elif hello.resume_peer_id is not None:
            self.peer = room.resume(hello, self.link, secret, time.time())
        else:
            try:
                peer_id = await database_sync_to_async(store.allocate_peer_id)(self.session_id)
            except LookupError:
                peer_id = 0
            if peer_id == 0 or room.ended_reason is not None:
                raise fatal(CloseCode.SESSION_NOT_FOUND, "unknown or ended session")
            self.peer = room.join_guest(hello, peer_id, secret, self.link, time.time())
        if self._hello_timer is not None:
            self._hello_timer.cancel()

    async def lost(self) -> None:
        """The transport closed (either side): the peer may resume within its grace."""
        if self._hello_timer is not None:
            self._hello_timer.cancel()
        if self.room is not None and self.peer is not None:
            self.room.link_lost(self.peer, self.link, time.time())
            await ROOMS.flush(self.room)
