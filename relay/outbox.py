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
from relay.stats import STATS, Probe

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
        self._queue.append(item)
        self._queued_bytes += len(item)
        self._wake.set()

    def probe(self, probe: Probe) -> None:
        """Behind the frame just queued: its writer tells the probe once it is sent."""
        if self._close_code is None:
            self._queue.append(probe)

    def close(self, code: CloseCode) -> None:
        if self._close_code is None:
            STATS.closes[int(code)] += 1
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
        try:
            await self._write()
        except OSError:  # the client went away mid-send: its disconnect handler cleans up
            self._queue.clear()
            self._queued_bytes = 0

    async def _write(self) -> None:
        queue = self._queue
        while True:
            await self._wake.wait()
            self._wake.clear()
            while queue:
                item = queue.popleft()
                if isinstance(item, bytes):
                    self._queued_bytes -= len(item)
                    await self._send({"type": "websocket.send", "bytes": item})
                elif isinstance(item, str):
                    self._queued_bytes -= len(item)
                    await self._send({"type": "websocket.send", "text": item})
                elif item is CLOSE:
                    await self._send(
                        {"type": "websocket.close", "code": int(self._close_code or 1000)}
                    )
                    return
                else:
                    item.delivered()  # a lag probe (relay/stats.py)

    async def stop(self) -> None:
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
