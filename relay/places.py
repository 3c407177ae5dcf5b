"""The relay's side of licensing: a peer takes one of the license's places as it
enters a session, and gives it back when it leaves for good (licensing/slots.py).

Places are taken at three moments, never per frame: the host's ``hello``, a guest's
admission (by the host, or at once in an auto-admit session), and a resume on a
server that does not yet count the peer (after a failover). A lobby guest takes
none: knocking must not use up the license.
"""

from __future__ import annotations

import asyncio
import logging

from django.conf import settings
from redis.asyncio import Redis

from licensing import state as license_state
from licensing.slots import LocalSlots, RedisSlots, SlotPool, server_identity
from licensing.state import current_state
from relay.protocol import CloseCode, ProtocolError, fatal

logger = logging.getLogger("ctserver.licensing")

_pool: SlotPool | None = None
_starting = asyncio.Lock()


async def get_places() -> SlotPool:
    """This process's pool: in Redis when servers share one, else in memory."""
    global _pool
    async with _starting:
        if _pool is None:
            config = settings.CONFIG
            if config.redis_url is None:
                _pool = LocalSlots()
            else:
                redis = Redis.from_url(config.redis_url, socket_timeout=10)
                identity = server_identity(settings.DATA.root)
                pool = RedisSlots(redis, identity, config.relay.owner_lease)
                await pool.renew()  # a restarted server starts again from zero
                _pool = pool
            license_state.use_counter = _pool.in_use  # for the dashboard and admin
    return _pool


async def close_places() -> None:
    global _pool
    if _pool is not None:
        try:
            await _pool.close()
        except Exception as exc:  # Redis is gone: the lease lapses by itself
            logger.warning("Could not give the license places back at once: %r", exc)
        _pool = None


def place_key(session_id: str, peer_id: int) -> str:
    return f"{session_id}:{peer_id}"


class SessionPlaces:
    """A room's view of the pool (relay/room.py ``Places``)."""

    def __init__(self, pool: SlotPool, session_id: str) -> None:
        self.pool = pool
        self.session_id = session_id

    def holds(self, peer_id: int) -> bool:
        return self.pool.holds(place_key(self.session_id, peer_id))


async def take_place(session_id: str, peer_id: int) -> None:
    """Take the peer's place, or raise the refusal: 4018 without a valid license or
    trial, 4017 when every place is taken."""
    state = current_state()
    if state.limit <= 0:
        raise fatal(CloseCode.NO_LICENSE, f"this server has no valid license: {state.problem}")
    pool = await get_places()
    if not await pool.acquire(place_key(session_id, peer_id), state.limit):
        raise fatal(
            CloseCode.LICENSE_FULL,
            f"the license allows {state.limit} simultaneous connections and all are in use",
        )


async def give_back(session_id: str, peer_ids: list[int]) -> None:
    if peer_ids:
        pool = await get_places()
        await pool.release([place_key(session_id, peer_id) for peer_id in peer_ids])


def as_error(refusal: ProtocolError) -> ProtocolError:
    """A refusal for the host that asked to admit someone: said, not closed."""
    code = "license_full" if refusal.close == CloseCode.LICENSE_FULL else "no_license"
    return ProtocolError(code, refusal.message)
