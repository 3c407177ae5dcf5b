"""This process's rooms, loaded on demand from the database, and their sweeper."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable

from channels.db import database_sync_to_async
from django.conf import settings

from dashboard import events
from licensing import usage
from licensing.slots import SlotPool, Tally
from licensing.state import daily_warning
from relay import store
from relay.batching import Grouped
from relay.bus import Bus
from relay.places import SessionPlaces, get_places, give_back
from relay.protocol import CloseCode
from relay.room import Pending, Room

logger = logging.getLogger("ctserver.relay")

COUNTER_FLUSH_SECONDS = 60.0


class NotOwner(Exception):
    """Another server owns this session (relay/cluster.py)."""


def _load_rooms(session_ids: list[str]) -> list[Room | None]:
    return store.load_rooms(session_ids, settings.CONFIG.relay, time.time())


class Rooms:
    def __init__(self) -> None:
        self._rooms: dict[str, Room] = {}
        self._loading: dict[str, asyncio.Lock] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._bus: Bus | None = None
        self._store_down = False  # logged once per outage, not once per flush
        self._failing: set[str] = set()  # sweep steps failing now (logged once)
        # Hellos and flushes from many connections at once share trips to the
        # database thread (relay/batching.py).
        self.allocate_peer_id: Grouped[str, int] = Grouped(store.allocate_peer_ids)
        self._flush_rooms: Grouped[Room, str | None] = Grouped(store.flush_rooms)
        self._load_rooms: Grouped[str, Room | None] = Grouped(_load_rooms)

    def start(self) -> None:
        """Sweep from the server's start: sessions nobody ever connects to expire too."""
        self._ensure_sweeper()

    def held(self) -> list[Room]:
        """The open rooms this process serves now."""
        return [room for room in self._rooms.values() if room.ended_reason is None]

    def attach(self, bus: Bus) -> None:
        """Several servers: hold a session's room only while owning its lease."""
        self._bus = bus

    async def get(self, session_id: str) -> Room | None:
        """The open session's room, or None for an unknown or ended session.

        Raises NotOwner when another server holds the session.
        """
        room = self._rooms.get(session_id)
        if room is not None:  # ended but not yet saved: still ended
            return room if room.ended_reason is None else None
        lock = self._loading.setdefault(session_id, asyncio.Lock())
        async with lock:
            room = self._rooms.get(session_id)
            if room is not None and room.ended_reason is not None:
                room = None
            elif room is None:
                if self._bus is not None:
                    owner = await self._bus.claim(session_id)
                    if owner != self._bus.server_id:
                        raise NotOwner(owner)
                room = await self._load_rooms(session_id)
                if room is None:
                    self._rooms.pop(session_id, None)
                    if self._bus is not None:
                        await self._bus.release(session_id)
                else:
                    room.places = SessionPlaces(await get_places(), session_id)
                    self._rooms[session_id] = room
        self._loading.pop(session_id, None)
        self._ensure_sweeper()
        return room

    async def flush(self, room: Room) -> None:
        """Save the room's changes and give back the places of peers gone for good.
        Never raises: a database outage leaves the changes in the room for the
        sweeper to retry, and the room stays here until they are saved."""
        if room.detached:
            room.pending, room.released = Pending(), []
            return
        if room.released:
            gone, room.released = room.released, []
            await self._step("Giving license places back", give_back(room.session_id, gone))
        if room.pending:
            try:
                ended_elsewhere = await self._flush_rooms(room)
            except store.StoreUnavailable as exc:
                if not self._store_down:
                    self._store_down = True
                    logger.error("Cannot save sessions, retrying until it works: %s", exc)
                return
            if self._store_down:
                self._store_down = False
                logger.warning("Saving sessions works again")
            events.changed()  # dashboards read the figures from what was just saved
            if ended_elsewhere is not None:
                room.end(ended_elsewhere, recorded=True)
                await self.flush(room)
                return
        if (
            room.ended_reason is not None
            and not room.pending
            and self._rooms.get(room.session_id) is room
        ):
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
                    await self.flush(room)  # never raises: an outage keeps the changes
                if self._bus is not None:
                    await self._step("Renewing session leases", self._keep_leases(self._bus))
                places = await get_places()
                await self._step("Renewing license places", places.renew())
                # Sessions no room serves: created and never used, or their server died.
                unserved = database_sync_to_async(store.end_unserved_sessions)(limits)
                await self._step("Ending unserved sessions", unserved)
                if time.monotonic() - last_counter_flush >= COUNTER_FLUSH_SECONDS:
                    last_counter_flush = time.monotonic()
                    rooms = list(self._rooms.values())
                    counters = database_sync_to_async(store.flush_counters)(rooms)
                    await self._step("Saving session counters", counters)
                    await self._step("Saving license use", self._save_license_use(places))
            except Exception:  # a bug: the sweeper must outlive it
                logger.exception("Room sweep failed; retrying next interval")

    async def _save_license_use(self, places: SlotPool) -> None:
        """Today's peak and refusals (the peak counts who is still connected too, so a
        day's row says how busy it was even when nobody joined that day)."""
        tally, places.tally = places.tally, Tally()
        peak = max(tally.peak, places.in_use())
        await database_sync_to_async(usage.record)(peak, tally.refusals)
        warning = daily_warning()
        if warning is not None:
            logger.warning(warning)

    async def _step(self, what: str, work: Awaitable[object]) -> None:
        """One part of a sweep. While Redis or the database is out it fails every
        sweep: say so once when it starts failing and once when it works again,
        and never let it keep the other parts from running."""
        try:
            await work
        except Exception as exc:
            if what not in self._failing:
                self._failing.add(what)
                logger.error("%s failed, retrying every sweep: %r", what, exc)
        else:
            if what in self._failing:
                self._failing.discard(what)
                logger.warning("%s works again", what)

    async def _keep_leases(self, bus: Bus) -> None:
        """Renew the leases of the rooms held here. A room whose lease lapsed is given
        up, even when nobody else holds the session now: meanwhile another server may
        have served it (after a Redis outage, say) and changed what the database
        holds, so this copy may be stale. Its peers reconnect and resume, and the
        room is rebuilt from the database wherever they land."""
        for session_id in await bus.renew(list(self._rooms)):
            room = self._rooms.pop(session_id, None)
            if room is None:
                continue
            # From now on this copy changes nothing (relay/connection.py checks), so
            # nothing it says can differ from what the database will hold.
            room.detached = True
            logger.warning("Session %s lost its lease here; its peers reconnect", session_id)
            for peer in room.peers.values():
                if peer.link is not None:
                    peer.link.close(CloseCode.SERVICE_RESTART)
                    peer.link = None
            await self._save_detached(room)

    async def _save_detached(self, room: Room) -> None:
        """What a given-up room knew and the database did not, and its places back:
        wherever its peers resume takes them again."""
        if room.pending:
            try:
                await database_sync_to_async(store.flush)(room)
            except store.StoreUnavailable as exc:
                logger.error("Session %s: changes made here are lost: %s", room.session_id, exc)
        await self._step("Giving license places back", give_back(room.session_id, list(room.peers)))

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
            await self.flush(room)
        if rooms:
            await self._step(
                "Handing sessions back",
                database_sync_to_async(store.hand_back)([room.session_id for room in rooms]),
            )
        for room in rooms:
            if self._bus is not None:
                await self._bus.release(room.session_id)


ROOMS = Rooms()
