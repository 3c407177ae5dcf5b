"""Redis between ctserver processes, for sessions whose peers are on several servers.

Each session has one owner server, which holds its room; the owner is recorded
in Redis under a lease the owner keeps renewing. A server whose peer belongs to
a session owned elsewhere forwards that peer's frames to the owner and delivers
what the owner sends back (relay/cluster.py). Messages travel on one pub/sub inbox
channel per server, batched: everything addressed to one server during one
event-loop turn goes out as one PUBLISH, encoded with msgpack.

The messages are the typed records below (docs/protocol.md §9), checked on
arrival: a malformed one is refused with one log line and costs only itself.

Pub/sub keeps nothing for a subscriber that is away, so the bus supervises its
reader and its publisher: after a failure it reconnects with back-off, reports
the outage (``problem``, for readiness), and tells the cluster when an outage
starts and ends, since messages may have been lost in between.

With stickiness working, a session's peers all reach one server, and none of
this is on their path: it carries the exceptions (a load balancer rehashing,
a server failing over).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any, ClassVar, TypeAlias, get_type_hints

import msgpack
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from relay.protocol import CloseCode

logger = logging.getLogger("ctserver.relay.bus")

OWNER_KEY = "ctserver:owner:{}"
INBOX = "ctserver:inbox:{}"
# Renew or release only a lease this server still holds.
RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"  # noqa: E501
RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"  # noqa: E501
# Reconnecting after a failure: the first retry at once, then doubling up to a cap.
RETRY_FIRST = 0.1
RETRY_MAX = 2.0

# -- messages between servers (docs/protocol.md §9) -----------------------------------
# On the wire each is a msgpack array: its kind, then its fields in the order below.


@dataclass(frozen=True, slots=True)
class Open:
    """Proxy to owner: a socket for the session arrived at ``server_id``."""

    kind: ClassVar[str] = "open"
    session_id: str
    key: str  # names the socket in every later message, both ways
    server_id: str  # where the owner sends its answers
    address: str  # the client's, for the per-address limits
    # Who signed in, with single sign-on (relay/identity.py); "" and 0 without it.
    name: str
    email: str
    subject: str
    verification: int


@dataclass(frozen=True, slots=True)
class Text:
    """Proxy to owner: a text frame the socket received."""

    kind: ClassVar[str] = "text"
    session_id: str
    key: str
    text: str


@dataclass(frozen=True, slots=True)
class Bytes:
    """Proxy to owner: a binary frame the socket received, exactly (even empty)."""

    kind: ClassVar[str] = "bytes"
    session_id: str
    key: str
    frame: bytes


@dataclass(frozen=True, slots=True)
class Lost:
    """Proxy to owner: the socket closed; always the last message about it."""

    kind: ClassVar[str] = "lost"
    session_id: str
    key: str


@dataclass(frozen=True, slots=True)
class Deliver:
    """Owner to proxy: send this data frame on the socket."""

    kind: ClassVar[str] = "deliver"
    key: str
    frame: bytes


@dataclass(frozen=True, slots=True)
class Post:
    """Owner to proxy: send this control frame on the socket."""

    kind: ClassVar[str] = "post"
    key: str
    text: str


@dataclass(frozen=True, slots=True)
class Close:
    """Owner to proxy: close the socket with this code (docs/protocol.md §8)."""

    kind: ClassVar[str] = "close"
    key: str
    code: CloseCode


ProxyMessage: TypeAlias = Open | Text | Bytes | Lost
OwnerMessage: TypeAlias = Deliver | Post | Close
Message: TypeAlias = ProxyMessage | OwnerMessage

RECORDS: dict[str, type[Message]] = {
    record.kind: record for record in (Open, Text, Bytes, Lost, Deliver, Post, Close)
}
# Each record's field names and types, in wire order.
SHAPES: dict[type[Message], tuple[tuple[str, type], ...]] = {
    record: tuple((f.name, get_type_hints(record)[f.name]) for f in fields(record))
    for record in RECORDS.values()
}
# Each record's field values, for encode() on the data path (a tuple: every record
# has at least two fields).
FIELDS = {record: attrgetter(*(name for name, _ in shape)) for record, shape in SHAPES.items()}
CLOSE_CODES = frozenset(int(code) for code in CloseCode)


class BadMessage(ValueError):
    """A message between servers that is not one of the records above."""


def encode(message: Message) -> list[Any]:
    return [message.kind, *FIELDS[type(message)](message)]


def decode(raw: object) -> Message:
    """The record a decoded msgpack value holds; raises BadMessage for anything else."""
    if not isinstance(raw, list):
        raise BadMessage(f"not an array but a {type(raw).__name__}")
    if not raw:
        raise BadMessage("an empty array")
    record = RECORDS.get(raw[0]) if isinstance(raw[0], str) else None
    if record is None:
        raise BadMessage(f"unknown kind {raw[0]!r:.40}")
    shape, values = SHAPES[record], raw[1:]
    if len(values) != len(shape):
        raise BadMessage(f"{record.kind} has {len(shape)} fields, not {len(values)}")
    checked = (
        _field(record.kind, name, kind, value)
        for (name, kind), value in zip(shape, values, strict=True)
    )
    return record(*checked)


def _field(record: str, name: str, kind: type, value: object) -> Any:
    # Exact types: msgpack gives str, bytes and int, and a bool is not a close code.
    if kind is CloseCode and type(value) is int and value in CLOSE_CODES:
        return CloseCode(value)
    if type(value) is kind:
        return value
    raise BadMessage(f"{record}.{name} is not a {kind.__name__}: {type(value).__name__}")


# -- the bus ----------------------------------------------------------------------------


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
        # No silent reconnection for the subscriber: messages published while it
        # is away are lost, so every disconnection must reach _read_forever.
        self._subscriber = Redis.from_url(
            url,
            socket_timeout=None,
            socket_connect_timeout=5,
            health_check_interval=30,
            retry=Retry(NoBackoff(), 0),
        )
        self._renew = self._redis.register_script(RENEW)
        self._release = self._redis.register_script(RELEASE)
        self._outgoing: dict[str, list[Message]] = {}
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._failing: dict[str, str] = {}  # part of the bus -> why it fails
        self._down_since = 0.0
        self._on_outage: Callable[[], None] = lambda: None

    async def start(
        self, on_message: Callable[[Message], None], on_outage: Callable[[], None]
    ) -> None:
        """Subscribe, then serve for ever. ``on_outage`` runs when an outage starts
        and again when it ends: messages may have been lost in between."""
        pubsub = await self._subscribe()  # raises while Redis is out: the caller retries
        self._on_outage = on_outage
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._read_forever(pubsub, on_message)),
            loop.create_task(self._publish_forever()),
        ]

    @property
    def problem(self) -> str | None:
        """Why the bus cannot carry messages now, or None while it can."""
        if not self._failing:
            return None
        down_for = time.monotonic() - self._down_since
        return f"{'; '.join(self._failing.values())} (for {down_for:.0f} s)"

    # -- receiving --------------------------------------------------------------------

    async def _subscribe(self) -> PubSub:
        pubsub = self._subscriber.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(INBOX.format(self.server_id))
        except BaseException:
            await pubsub.aclose()
            raise
        return pubsub

    async def _read_forever(
        self, pubsub: PubSub | None, on_message: Callable[[Message], None]
    ) -> None:
        """Read the inbox; after a failure, subscribe again with back-off."""
        failures = 0
        while True:
            try:
                if pubsub is None:
                    pubsub = await self._subscribe()
                self._working("subscriber")
                async for item in pubsub.listen():
                    self.receive(item["data"], on_message)
            except Exception as exc:
                failures = 0 if self._failed("subscriber", exc) else failures + 1
            if pubsub is not None:
                await pubsub.aclose()
                pubsub = None
            await asyncio.sleep(_backoff(failures))

    def receive(self, data: bytes, on_message: Callable[[Message], None]) -> None:
        """Handle one published batch; never raises, and a bad message costs only itself."""
        try:
            batch = msgpack.unpackb(data, raw=False)
        except Exception as exc:  # msgpack's errors share no base class but Exception
            logger.warning("Refused an undecodable bus batch of %d bytes: %r", len(data), exc)
            return
        if not isinstance(batch, list):
            logger.warning("Refused a bus batch that is not an array")
            return
        for raw in batch:
            try:
                message = decode(raw)
            except BadMessage as exc:
                logger.warning("Refused a bus message: %s", exc)
                continue
            try:
                on_message(message)
            except Exception:
                logger.exception("Handling a bus %s message failed", message.kind)

    # -- sending ----------------------------------------------------------------------

    def send(self, server_id: str, message: Message) -> None:
        """Queue a message for another server; sent with this loop turn's batch."""
        self._outgoing.setdefault(server_id, []).append(message)
        self._wake.set()

    async def _publish_forever(self) -> None:
        """Publish each loop turn's batches. After a failure (its batches are lost),
        try again with back-off even if nothing is queued, so the outage can end."""
        failures = 0
        while True:
            if "publisher" in self._failing:
                await asyncio.sleep(_backoff(failures))
            else:
                await self._wake.wait()
            self._wake.clear()
            outgoing, self._outgoing = self._outgoing, {}
            try:
                await self._publish(outgoing)
                self._working("publisher")
            except Exception as exc:
                failures = 0 if self._failed("publisher", exc) else failures + 1

    async def _publish(self, outgoing: dict[str, list[Message]]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for server_id, batch in outgoing.items():
                pipe.publish(INBOX.format(server_id), msgpack.packb([encode(m) for m in batch]))
            if not outgoing:
                pipe.ping()  # a probe while failing: nothing else proves Redis is back
            await pipe.execute()

    # -- outages ----------------------------------------------------------------------

    def _failed(self, part: str, exc: Exception) -> bool:
        """Record a failure of the subscriber or publisher; True if it was working."""
        if part in self._failing:
            return False
        self._failing[part] = f"{part}: {exc.__class__.__name__}: {exc}"
        if len(self._failing) == 1:
            self._down_since = time.monotonic()
            logger.error("Redis bus down, reconnecting: %s", self._failing[part])
            self._outage_changed()
        return True

    def _working(self, part: str) -> None:
        if self._failing.pop(part, None) is not None and not self._failing:
            down_for = time.monotonic() - self._down_since
            logger.warning("Redis bus works again after %.1f s", down_for)
            self._outage_changed()

    def _outage_changed(self) -> None:
        try:  # the reader and publisher must outlive anything the cluster does here
            self._on_outage()
        except Exception:
            logger.exception("Restarting the cross-server connections failed")

    # -- session ownership ------------------------------------------------------------

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


def _backoff(failures: int) -> float:
    return min(RETRY_MAX, RETRY_FIRST * 2.0**failures)
