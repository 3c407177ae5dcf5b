"""Simultaneous connections: the places a license allows, taken and given back.

A place is held per peer (``<session id>:<peer id>``), from the moment the peer is
in the session (the host's first ``hello``, a guest's admission) until it leaves
for good: a peer within its reconnect grace keeps its place, so nobody can take it
meanwhile. Places are taken at those moments only, never per frame.

- ``LocalSlots``: one server (the embedded default). The count lives in this
  process, as the connections do; taking a place is atomic on the event loop.
- ``RedisSlots``: several servers. Each server's count is a field of one Redis
  hash, valid while that server's lease key lives (renewed by the sweeper); a Lua
  script sums the live servers' counts and takes a place only under the limit, in
  one atomic step, so 200 simultaneous attempts against 25 places admit exactly 25.
  A server that dies stops renewing: its places return when its lease lapses
  (``CT_OWNER_LEASE``). A server restarted with the same data dir keeps its id and
  starts again from zero, so nothing is counted twice.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from redis import Redis as SyncRedis
from redis.asyncio import Redis

SLOTS_KEY = "ctserver:license:slots"
LEASE_KEY = "ctserver:license:alive:{}"

# Sum the live servers' counts (dropping dead servers' fields) and take one place if
# the total is under the limit. KEYS[1]: the hash. ARGV: server id, limit, lease in
# ms, lease key prefix. Returns the total after taking, or -1 when full.
ACQUIRE = """
local total = 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  if redis.call('EXISTS', ARGV[4] .. fields[i]) == 1 or fields[i] == ARGV[1] then
    total = total + tonumber(fields[i + 1])
  else
    redis.call('HDEL', KEYS[1], fields[i])
  end
end
if total >= tonumber(ARGV[2]) then return -1 end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('SET', ARGV[4] .. ARGV[1], '1', 'PX', ARGV[3])
return total + 1
"""
# Keep this server's lease and set its count to what it really holds (self-healing
# after a lost release); return the live total. ARGV: server id, count, lease ms,
# lease key prefix.
RENEW = """
redis.call('SET', ARGV[4] .. ARGV[1], '1', 'PX', ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local total = 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  if redis.call('EXISTS', ARGV[4] .. fields[i]) == 1 then
    total = total + tonumber(fields[i + 1])
  end
end
return total
"""


@dataclass
class Tally:
    """What happened since the usage was last written (licensing.usage)."""

    peak: int = 0
    refusals: int = 0


class SlotPool(Protocol):
    tally: Tally

    async def acquire(self, key: str, limit: int) -> bool: ...
    async def release(self, keys: list[str]) -> None: ...
    async def renew(self) -> None: ...
    async def close(self) -> None: ...
    def holds(self, key: str) -> bool: ...
    def in_use(self) -> int: ...


@dataclass
class LocalSlots:
    """The places of one server."""

    held: set[str] = field(default_factory=set)
    tally: Tally = field(default_factory=Tally)

    async def acquire(self, key: str, limit: int) -> bool:
        if key in self.held:
            return True
        if len(self.held) >= limit:
            self.tally.refusals += 1
            return False
        self.held.add(key)
        self.tally.peak = max(self.tally.peak, len(self.held))
        return True

    async def release(self, keys: list[str]) -> None:
        self.held.difference_update(keys)

    async def renew(self) -> None:
        return None

    async def close(self) -> None:
        self.held.clear()

    def holds(self, key: str) -> bool:
        return key in self.held

    def in_use(self) -> int:
        return len(self.held)


class RedisSlots:
    """The places of every server sharing one Redis."""

    def __init__(self, redis: Redis, server_id: str, lease_seconds: float) -> None:
        self.redis = redis
        self.server_id = server_id
        self.lease_ms = int(lease_seconds * 1000)
        self.held: set[str] = set()
        self.tally = Tally()
        self._total = 0
        # Renewing writes this server's count from ``held``: taking a place and
        # renewing must not interleave, or the count would miss the new place.
        self._lock = asyncio.Lock()
        self._acquire = redis.register_script(ACQUIRE)
        self._renew = redis.register_script(RENEW)

    def _args(self, value: int) -> list[str | int]:
        return [self.server_id, value, self.lease_ms, LEASE_KEY.format("")]

    async def acquire(self, key: str, limit: int) -> bool:
        async with self._lock:
            if key in self.held:
                return True
            total = int(await self._acquire(keys=[SLOTS_KEY], args=self._args(limit)))
            if total < 0:
                self.tally.refusals += 1
                return False
            self.held.add(key)
            self._total = total
            self.tally.peak = max(self.tally.peak, total)
            return True

    async def release(self, keys: list[str]) -> None:
        async with self._lock:
            gone = [key for key in keys if key in self.held]
            if gone:
                self.held.difference_update(gone)
                await self.redis.hincrby(SLOTS_KEY, self.server_id, -len(gone))

    async def renew(self) -> None:
        async with self._lock:
            args = self._args(len(self.held))
            self._total = int(await self._renew(keys=[SLOTS_KEY], args=args))

    async def close(self) -> None:
        """A clean stop gives every place back at once."""
        self.held.clear()
        await self.redis.hdel(SLOTS_KEY, self.server_id)
        await self.redis.delete(LEASE_KEY.format(self.server_id))

    def holds(self, key: str) -> bool:
        return key in self.held

    def in_use(self) -> int:
        return self._total


def live_total(redis: SyncRedis) -> int:
    """The places every live server holds now, read without changing anything: what
    the portal shows, from any process (a blocking client: it runs in a thread)."""
    total = 0
    for server, count in redis.hgetall(SLOTS_KEY).items():
        name = server.decode() if isinstance(server, bytes) else server
        if redis.exists(LEASE_KEY.format(name)):
            total += int(count)
    return total


def server_identity(data_dir: Path) -> str:
    """This server's lasting id, kept in its data dir (see the module docstring)."""
    path = data_dir / "server_id"
    if not path.exists():
        path.write_text(secrets.token_hex(8))
    return path.read_text().strip()
