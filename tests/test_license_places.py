"""The license's places: taken atomically, kept through a reconnect, given back,
and returned by a dead server's lapsed lease (licensing/slots.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from licensing.slots import SLOTS_KEY, LocalSlots, RedisSlots


async def test_one_server_admits_up_to_the_limit_and_counts_refusals() -> None:
    pool = LocalSlots()
    taken = await asyncio.gather(*(pool.acquire(f"s:{n}", 25) for n in range(200)))
    assert sum(taken) == 25 and pool.in_use() == 25
    assert (pool.tally.peak, pool.tally.refusals) == (25, 175)
    assert await pool.acquire("s:0", 25)  # a peer that holds a place keeps it
    await pool.release(["s:0", "s:unknown"])
    assert pool.in_use() == 24 and await pool.acquire("s:new", 25)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await client.delete(SLOTS_KEY)
    yield client
    await client.delete(SLOTS_KEY)
    await client.aclose()


async def test_two_servers_admit_exactly_the_limit_between_them(redis: Redis) -> None:
    first, second = RedisSlots(redis, "first", 30), RedisSlots(redis, "second", 30)
    attempts = [pool.acquire(f"session:{n}", 25) for n in range(100) for pool in (first, second)]
    taken = await asyncio.gather(*attempts)
    assert sum(taken) == 25
    assert len(first.held) + len(second.held) == 25
    await first.renew()
    assert first.in_use() == 25
    await first.release(sorted(first.held)[:3])
    await second.renew()
    assert second.in_use() == 22


async def test_a_dead_servers_places_return_when_its_lease_lapses(redis: Redis) -> None:
    dead, alive = RedisSlots(redis, "dead", 0.3), RedisSlots(redis, "alive", 30)
    for n in range(5):
        assert await dead.acquire(f"s:{n}", 5)
    assert not await alive.acquire("s:new", 5)  # full while the other server lives
    await asyncio.sleep(0.4)  # it stopped renewing: killed
    assert await alive.acquire("s:new", 5)


async def test_a_restarted_server_starts_from_zero_and_a_clean_stop_gives_back(
    redis: Redis,
) -> None:
    before = RedisSlots(redis, "kept-id", 30)
    for n in range(4):
        await before.acquire(f"s:{n}", 5)
    after = RedisSlots(redis, "kept-id", 30)  # the same data dir after a crash
    await after.renew()
    assert after.in_use() == 0 and await after.acquire("s:9", 1)
    await after.close()
    other = RedisSlots(redis, "other", 30)
    await other.renew()
    assert other.in_use() == 0
