"""This process's rooms, loaded on demand from the database, and their sweeper."""

from __future__ import annotations

import asyncio
import logging
import time

from channels.db import database_sync_to_async
from django.conf import settings

from relay import store
from relay.bus import Bus
from relay.protocol import CloseCode
from relay.room import Room

logger = logging.getLogger("ctserver.relay")

COUNTER_FLUSH_SECONDS = 60.0


class NotOwner(Exception):
    """Another server owns this session (relay/cluster.py)."""


class Rooms:
    def __init__(self) -> None:
        self._rooms: dict[str, Room] = {}
        self._loading: dict[str, asyncio.Lock] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._bus: Bus | None = None

    def attach(self, bus: Bus) -> None:
        """Several servers: hold a session's room only while owning its lease."""
        self._bus = bus

    async def get(self, session_id: str) -> Room | None:
        """The open session's room, or None for an unknown or ended session.

        Raises NotOwner when another server holds the session.
        """
        room = self._rooms.get(session_id)
        if room is not None and room.ended_reason is None:
            return room
        lock = self._loading.setdefault(session_id, asyncio.Lock())
        async with lock:
            room = self._rooms.get(session_id)
            if room is None or room.ended_reason is not None:
                if self._bus is not None:
                    owner = await self._bus.claim(session_id)
                    if owner != self._bus.server_id:
                        raise NotOwner(owner)
                room = await database_sync_to_async(store.load_room)(
                    session_id, settings.CONFIG.relay, time.time()
                )
                if room is None:
                    self._rooms.pop(session_id, None)
                    if self._bus is not None:
                        await self._bus.release(session_id)
                else:
                    self._rooms[session_id] = room
        self._loading.pop(session_id, None)
        self._ensure_sweeper()
        return room

    async def flush(self, room: Room) -> None:
        if room.pending:
            await database_sync_to_async(store.flush)(room)
        if room.ended_reason is not None and self._rooms.get(room.session_id) is room:
            del self._rooms[room.session_id]
            if self._bus is not None:
                await self._bus.release(room.session_id)

    def _ensure_sweeper(self) -> None:
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        limits = settings.CONFIG.relay
        last_counter_flush = time.monotonic()
        while True:
            await asyncio.sleep(limits.sweep_interval)
            try:
                now = time.time()
                for room in list(self._rooms.values()):
                    room.sweep(now)
                    await self.flush(room)
                if self._bus is not None:
                    await self._keep_leases(self._bus)
                if time.monotonic() - last_counter_flush >= COUNTER_FLUSH_SECONDS:
                    last_counter_flush = time.monotonic()
                    rooms = list(self._rooms.values())
                    await database_sync_to_async(store.flush_counters)(rooms)
                    await database_sync_to_async(store.end_abandoned_sessions)(limits)
            except Exception:  # the sweeper must outlive any one failure
                logger.exception("Room sweep failed; retrying next interval")

    async def _keep_leases(self, bus: Bus) -> None:
        """Renew the leases of the rooms held here; give up rooms another server took."""
        for session_id in await bus.renew(list(self._rooms)):
            if await bus.claim(session_id) == bus.server_id:
                continue  # it had only expired: held again
            room = self._rooms.pop(session_id)
            logger.warning("Session %s moved to another server; its peers reconnect", session_id)
            for peer in room.peers.values():
                if peer.link is not None:
                    peer.link.close(CloseCode.SERVICE_RESTART)
                    peer.link = None

    async def close(self) -> None:
        """Shutdown: stop sweeping, save every room, and hand its session back, so
        another server can take it at once instead of after the lease runs out."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        rooms, self._rooms = list(self._rooms.values()), {}
        if rooms:
            await database_sync_to_async(store.flush_counters)(rooms)
        for room in rooms:
            if room.pending:
                await database_sync_to_async(store.flush)(room)
            if self._bus is not None:
                await self._bus.release(room.session_id)


ROOMS = Rooms()
