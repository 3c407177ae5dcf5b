"""A connection's bounded send queue: the room enqueues, one writer task sends.

Fan-out never awaits a receiver: it only appends here. A receiver whose queued
bytes would pass the limit is closed with 4008 (too slow) and its queue dropped,
so one slow peer never stalls the sender or the other receivers.

An idle connection (most of them, most of the time) holds no queue and no task: the
writer starts when something is queued and ends when all of it is sent, which saves
every connection about 2 KiB (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from relay.protocol import CloseCode
from relay.stats import STATS, Probe

Send = Callable[[dict[str, Any]], Awaitable[None]]

CLOSE = object()


class Outbox:
    __slots__ = ("_close_code", "_limit", "_queue", "_queued_bytes", "_send", "_writer")

    def __init__(self, send: Send, limit_bytes: int) -> None:
        self._send = send
        self._limit = limit_bytes
        self._queue: deque[Any] | None = None  # made when first needed
        self._queued_bytes = 0
        self._close_code: CloseCode | None = None
        self._writer: asyncio.Task[None] | None = None  # while there is something to send

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    @property
    def closing(self) -> bool:
        return self._close_code is not None

    # The Link interface (relay/room.py) ------------------------------------------

    def deliver(self, frame: bytes) -> None:
        self._enqueue(frame)

    def post(self, text: str) -> None:
        # Control texts count too: a client that never reads could otherwise grow
        # its own queue without end by sending what the relay answers with an error.
        self._enqueue(text)

    def _enqueue(self, item: bytes | str) -> None:
        if self._close_code is not None:
            return
        if self._queued_bytes + len(item) > self._limit:
            self._overflow()
            return
        self._queued_bytes += len(item)
        self._append(item)

    def probe(self, probe: Probe) -> None:
        """Behind the frame just queued: its writer tells the probe once it is sent."""
        if self._close_code is None:
            self._append(probe)

    def close(self, code: CloseCode) -> None:
        if self._close_code is None:
            STATS.closes[int(code)] += 1
            self._close_code = code
            self._append(CLOSE)

    # ----------------------------------------------------------------------------------

    def _append(self, item: Any) -> None:
        queue = self._queue
        if queue is None:
            queue = self._queue = deque()
        queue.append(item)
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._run())

    def _overflow(self) -> None:
        if self._queue is not None:
            self._queue.clear()
        self._queued_bytes = 0
        if self._writer is not None:  # it may be stuck in a send the peer does not drain
            self._writer.cancel()
            self._writer = None
        self.close(CloseCode.TOO_SLOW)

    async def _run(self) -> None:
        try:
            await self._write()
        except OSError:  # the client went away mid-send: its disconnect handler cleans up
            if self._queue is not None:
                self._queue.clear()
            self._queued_bytes = 0
        finally:
            if self._writer is asyncio.current_task():
                self._writer = None
                if not self._queue:
                    self._queue = None  # an idle connection keeps no queue

    async def _write(self) -> None:
        queue = self._queue
        while queue:
            item = queue.popleft()
            if isinstance(item, bytes):
                self._queued_bytes -= len(item)
                await self._send({"type": "websocket.send", "bytes": item})
            elif isinstance(item, str):
                self._queued_bytes -= len(item)
                await self._send({"type": "websocket.send", "text": item})
            elif item is CLOSE:
                queue.clear()  # nothing goes after the close
                await self._send({"type": "websocket.close", "code": int(self._close_code or 1000)})
                return
            else:
                item.delivered()  # a lag probe (relay/stats.py)

    async def stop(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None and not writer.done():
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
