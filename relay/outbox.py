"""A connection's bounded send queue: the room enqueues, one writer task sends.

Fan-out never awaits a receiver: it only appends here. A receiver whose queued
bytes would pass the limit is closed with 4008 (too slow) and its queue dropped,
so one slow peer never stalls the sender or the other receivers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from relay.protocol import CloseCode

Send = Callable[[dict[str, Any]], Awaitable[None]]

CLOSE = object()


class Outbox:
    def __init__(self, send: Send, limit_bytes: int) -> None:
        self._send = send
        self._limit = limit_bytes
        self._queue: deque[Any] = deque()
        self._queued_bytes = 0
        self._wake = asyncio.Event()
        self._close_code: CloseCode | None = None
        self._writer: asyncio.Task[None] | None = None

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    @property
    def closing(self) -> bool:
        return self._close_code is not None

    def start(self) -> None:
        self._writer = asyncio.get_running_loop().create_task(self._run())

    # The Link interface (relay/room.py) ------------------------------------------

    def deliver(self, frame: bytes) -> None:
        if self._close_code is not None:
            return
        if self._queued_bytes + len(frame) > self._limit:
            self._overflow()
            return
        self._queue.append(frame)
        self._queued_bytes += len(frame)
        self._wake.set()

    def post(self, text: str) -> None:
        if self._close_code is None:
            self._queue.append(text)
            self._wake.set()

    def close(self, code: CloseCode) -> None:
        if self._close_code is None:
            self._close_code = code
            self._queue.append(CLOSE)
            self._wake.set()

    # ----------------------------------------------------------------------------------

    def _overflow(self) -> None:
        self._queue.clear()
        self._queued_bytes = 0
        self.close(CloseCode.TOO_SLOW)
        if self._writer is not None:  # it may be stuck in a send the peer does not drain
            self._writer.cancel()
            self._writer = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        queue = self._queue
        while True:
            await self._wake.wait()
            self._wake.clear()
            while queue:
                item = queue.popleft()
                if item is CLOSE:
                    await self._send(
                        {"type": "websocket.close", "code": int(self._close_code or 1000)}
                    )
                    return
                if isinstance(item, bytes):
                    self._queued_bytes -= len(item)
                    await self._send({"type": "websocket.send", "bytes": item})
                else:
                    await self._send({"type": "websocket.send", "text": item})

    async def stop(self) -> None:
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
