from __future__ import annotations

import asyncio
from typing import Any

from relay.outbox import Outbox
from relay.protocol import CloseCode


async def test_frames_and_texts_are_sent_in_order() -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    outbox = Outbox(send, limit_bytes=1024)
    outbox.start()
    outbox.post("hello")
    outbox.deliver(b"abc")
    outbox.close(CloseCode.SESSION_ENDED)
    outbox.deliver(b"after close")  # dropped
    await asyncio.sleep(0.01)
    assert sent == [
        {"type": "websocket.send", "text": "hello"},
        {"type": "websocket.send", "bytes": b"abc"},
        {"type": "websocket.close", "code": 4005},
    ]
    assert outbox.queued_bytes == 0


async def test_a_receiver_that_does_not_drain_is_closed_as_too_slow() -> None:
    sent: list[dict[str, Any]] = []
    stuck = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "websocket.send" and not stuck.is_set():
            stuck.set()
            await asyncio.sleep(3600)  # a peer whose socket never drains
        sent.append(message)

    outbox = Outbox(send, limit_bytes=100)
    outbox.start()
    outbox.deliver(bytes(10))
    await stuck.wait()
    for _ in range(20):  # the sender is never blocked, whatever the receiver does
        outbox.deliver(bytes(10))
    await asyncio.sleep(0.01)
    assert outbox.closing
    assert sent == [{"type": "websocket.close", "code": CloseCode.TOO_SLOW}]
    await outbox.stop()
