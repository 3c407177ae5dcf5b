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
    outbox.deliver(b"abc")
    writer = outbox._writer
    assert writer is not None
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
    for _ in range(20):
        outbox.post("x" * 100)
    assert outbox.closing
    await outbox.stop()


async def test_an_idle_outbox_holds_no_task_and_no_queue() -> None:
    """Most connections are idle most of the time: they must cost no task or queue."""
    sent: list[dict[str, Any]] = []
    release = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        await release.wait()
        sent.append(message)

    outbox = Outbox(send, limit_bytes=1024)
    assert outbox._writer is None and outbox._queue is None
    outbox.deliver(b"one")
    outbox.deliver(b"two")  # queued behind the first, one writer for both
    writer = outbox._writer
    assert writer is not None and outbox.queued_bytes == 6
    release.set()
    await asyncio.sleep(0.01)
    assert writer.done() and outbox._writer is None and outbox._queue is None
    outbox.post("three")  # a new writer for what comes later
    await asyncio.sleep(0.01)
    assert [m.get("bytes") or m.get("text") for m in sent] == [b"one", b"two", "three"]
    assert outbox._writer is None and outbox.queued_bytes == 0
