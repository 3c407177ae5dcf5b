"""Redis between ctserver processes, for sessions whose peers are on several servers.

Each session has one owner server, which holds its room; the owner is recorded
in Redis under a lease the owner keeps renewing. A server whose peer belongs to
a session owned elsewhere forwards that peer's frames to the owner and delivers
what the owner sends back (relay/proxy.py). Messages travel on one pub/sub inbox
channel per server, batched: everything addressed to one server during one
event-loop turn goes out as one PUBLISH, encoded with msgpack.

With stickiness working, a session's peers all reach one server, and none of
this is on their path: it carries the exceptions (a load balancer rehashing,
a server failing over).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from typing import Any

import msgpack
from redis.asyncio import BlockingConnectionPool, Redis

logger = logging.getLogger("ctserver.relay.bus")

OWNER_KEY = "ctserver:owner:{}"
INBOX = "ctserver:inbox:{}"
# Renew or release only a lease this server still holds.
RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"  # noqa: E501
RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"  # noqa: E501

Message = list[Any]


class Bus:
    def __init__(self, url: str, lease_seconds: float) -> None:
        self.server_id = secrets.token_hex(8)
        self.lease_ms = int(lease_seconds * 1000)
        # A bounded pool that waits for a free connection instead of raising
        # (redis-py's default pool raises past its limit), and timeouts long
        # enough for a loaded Redis; the subscriber's reads block, so it has none.
        pool = BlockingConnectionPool.from_url(
            url, max_connections=16, timeout=10, socket_timeout=10, socket_connect_timeout=5
        )
        self._redis = Redis(connection_pool=pool)
        self._subscriber = Redis.from_url(
            url, socket_timeout=None, socket_connect_timeout=5, health_check_interval=30
        )
        self._renew = self._redis.register_script(RENEW)
        self._release = self._redis.register_script(RELEASE)
        self._outgoing: dict[str, list[Message]] = {}
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, on_message: Callable[[Message], None]) -> None:
        pubsub = self._subscriber.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(INBOX.format(self.server_id))
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._read(pubsub, on_message)),
            loop.create_task(self._flush_forever()),
        ]

    async def _read(self, pubsub: Any, on_message: Callable[[Message], None]) -> None:
        async for item in pubsub.listen():
            try:
                batch = msgpack.unpackb(item["data"], raw=False)
            except Exception:
                logger.warning("Dropped an undecodable bus message")
                continue
            for message in batch:
                try:
                    on_message(message)
                except Exception:
                    logger.exception("Bus message %r failed", message[:1])

    def send(self, server_id: str, message: Message) -> None:
        """Queue a message for another server; sent with this loop turn's batch."""
        self._outgoing.setdefault(server_id, []).append(message)
        self._wake.set()

    async def _flush_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            outgoing, self._outgoing = self._outgoing, {}
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for server_id, batch in outgoing.items():
                        pipe.publish(INBOX.format(server_id), msgpack.packb(batch))
                    await pipe.execute()
            except Exception:
                logger.exception("Publishing %d bus batches failed", len(outgoing))

    # -- session ownership -------------------------------------------------------------

    async def claim(self, session_id: str) -> str:
        """The session's owner: this server if nobody held it, else the holder."""
        key = OWNER_KEY.format(session_id)
        while True:
            if await self._redis.set(key, self.server_id, nx=True, px=self.lease_ms):
                return self.server_id
            owner = await self._redis.get(key)
            if owner is not None:
                return owner.decode() if isinstance(owner, bytes) else str(owner)

    async def owner(self, session_id: str) -> str | None:
        owner = await self._redis.get(OWNER_KEY.format(session_id))
        return owner.decode() if isinstance(owner, bytes) else owner

    async def renew(self, session_ids: list[str]) -> list[str]:
        """Extend this server's leases; returns the sessions it no longer owns."""
        lost = []
        for session_id in session_ids:
            key = OWNER_KEY.format(session_id)
            if not await self._renew(keys=[key], args=[self.server_id, self.lease_ms]):
                lost.append(session_id)
        return lost

    async def release(self, session_id: str) -> None:
        await self._release(keys=[OWNER_KEY.format(session_id)], args=[self.server_id])

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._redis.aclose()
        await self._subscriber.aclose()
