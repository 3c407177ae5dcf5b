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


async def test_a_client_gone_mid_send_ends_the_writer_quietly() -> None:
    """uvicorn raises ClientDisconnected (an OSError) into a send to a vanished
    client; the writer must end without an exception nobody retrieves."""

    async def send(message: dict[str, Any]) -> None:
        raise ConnectionResetError("client disconnected")

    outbox = Outbox(send, limit_bytes=1024)
    outbox.start()
    writer = outbox._writer
    assert writer is not None
    outbox.deliver(b"abc")
    await asyncio.sleep(0.01)
    assert writer.done() and writer.exception() is None
    assert outbox.queued_bytes == 0
    await outbox.stop()


async def test_control_texts_count_towards_the_queue_limit() -> None:
    """A client that never reads cannot grow its queue with the errors it provokes."""
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def send(message: dict[str, Any]) -> None:
        await never

    outbox = Outbox(send, limit_bytes=1000)
    outbox.start()
    for _ in range(20):
        outbox.post("x" * 100)
    assert outbox.closing
    await outbox.stop()
