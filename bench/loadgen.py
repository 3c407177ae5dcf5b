"""One load generator process for bench/relay.py: many WebSocket peers, little CPU.

Built on the Sans-I/O ``websockets`` protocol over raw asyncio transports on uvloop,
so a frame costs the generator a parse and a counter, not a task wake-up, a queue and
a future as it would through an asyncio client library. That keeps the generator
out of the measurement: it drives more deliveries per second than the reference
relay can carry (docs/benchmarks.md).

bench/relay.py starts it and speaks JSON lines on its stdin: first the description
of its peers, then commands, each answered with one line on stdout. Commands:
``connect`` (open every peer; with ctserver, until each is admitted; with
``resume``, every peer again with the credentials its last welcome gave, as clients
do after a server failure), ``run`` (send at a rate from a given moment, report
what arrived), ``close``.

Every data frame is ``HEADER + STAMP + padding``: the stamp carries the send time
(CLOCK_MONOTONIC, the same clock in every process on the machine) and the number of
the run whose measured window it was sent in (0 outside any), so receivers measure
latency and count deliveries, and a late frame of an earlier run is never counted.
"""

from __future__ import annotations

import asyncio
import gc
import json
import struct
import sys
import time
from dataclasses import dataclass
from typing import Any

import uvloop
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

STAMP = struct.Struct(">dI")  # send time, the run measuring it (0: none)
HEADER = b"\x01\x00\x00\x00\x00\x00"  # version 1, broadcast, target 0 (docs/protocol.md §6)
STAMP_AT = len(HEADER)
HISTOGRAM_STEP = 0.00005  # 50 µs buckets ...
HISTOGRAM_SIZE = 200_000  # ... up to 10 s; anything later lands in the last one
TICK = 0.002  # seconds between two rounds of sends
FINAL_BINARY = 0x82  # FIN + opcode 2, in the first byte of a frame


@dataclass
class Window:
    """The run in progress, shared by every peer of this process."""

    run: int = 0  # the run being counted; frames stamped with another are not
    received: int = 0
    histogram: list[int] | None = None


class Peer(asyncio.Protocol):
    """One WebSocket client. With ctserver it says hello and waits for admission."""

    def __init__(
        self,
        spec: dict[str, Any],
        index: int,
        window: Window,
        credentials: tuple[int, str] | None = None,
    ) -> None:
        self.spec = spec
        self.index = index  # 0 is the session's host
        self.credentials = credentials  # (peer id, secret) of the last welcome
        self.window = window
        self.ws = ClientProtocol(parse_uri(spec["url"]), max_size=None)
        self.transport: asyncio.Transport | None = None
        self.ready = asyncio.get_running_loop().create_future()
        self.session: dict[str, Any] = spec  # the session as bench/relay.py gave it
        self.lost = False
        self.opened = False  # the handshake is over: frames take the fast path
        self.pending = b""  # the start of a frame not yet wholly received

    # asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's TCPTransport
        request = self.ws.connect()
        request.headers["ctstickiness"] = self.spec["session_id"]
        self.ws.send_request(request)
        self._flush()

    def data_received(self, data: bytes) -> None:
        if not self.opened:  # the handshake, and whatever follows it in the same read
            self._to_websockets(data)
            return
        # The hot path. The server's frames are unmasked and each binary one is a
        # whole message, so a complete binary frame is counted right here; any other
        # frame (text, ping, close, a fragment, a malformed one) goes, whole, to
        # websockets, whose parser therefore always starts at a frame boundary.
        buffer = self.pending + data if self.pending else data
        end, at = len(buffer), 0
        arrived = time.perf_counter()  # every frame of this read arrived now
        window = self.window
        while end - at >= 2:
            length = buffer[at + 1]
            if length < 126:
                start = at + 2
            elif length == 126:
                if end - at < 4:
                    break
                length, start = (buffer[at + 2] << 8) | buffer[at + 3], at + 4
            else:  # 127, or a masked frame (length byte >= 128): websockets decides
                length, start = (int.from_bytes(buffer[at + 2 : at + 10]), at + 10)
                if end - at < 10:
                    break
            stop = start + length
            if stop > end:
                break
            if buffer[at] == FINAL_BINARY:
                sent_at, run = STAMP.unpack_from(buffer, start + STAMP_AT)
                if run == window.run and window.histogram is not None:
                    window.received += 1
                    bucket = int((arrived - sent_at) / HISTOGRAM_STEP)
                    window.histogram[bucket if bucket < HISTOGRAM_SIZE else -1] += 1
            else:
                self._to_websockets(buffer[at:stop])
            at = stop
        self.pending = buffer[at:]

    def _to_websockets(self, data: bytes) -> None:
        ws = self.ws
        ws.receive_data(data)
        for event in ws.events_received():
            if isinstance(event, Response):
                self.opened = True
                self._opened(event)
            elif not isinstance(event, Frame):
                continue
            elif event.opcode is Opcode.TEXT:
                self._control(json.loads(bytes(event.data)))
            elif event.opcode is Opcode.BINARY:  # before the fast path took over
                pass
            else:  # a ping or a close: send the pong or the closing handshake queued
                self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"peer {self.index} lost: {exc!r}"))

    # ------------------------------------------------------------------------------

    def _flush(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(self.ws.data_to_send()))

    def _opened(self, response: Response) -> None:
        if response.status_code != 101:
            self._fail(f"handshake answered {response.status_code}")
        elif self.spec["kind"] != "ctserver":  # a bare relay: open is admitted
            self.ready.set_result(time.perf_counter())
        else:
            hello: dict[str, Any] = {"type": "hello", "name": f"peer{self.index}"}
            if self.index == 0:
                hello.update(role="host", host_secret=self.spec["host_secret"])
            else:
                hello.update(role="guest")
                if self.credentials is not None:
                    peer_id, secret = self.credentials
                    hello.update(resume={"peer_id": peer_id, "peer_secret": secret})
            self.ws.send_text(json.dumps(hello).encode())
            self._flush()

    def _control(self, message: dict[str, Any]) -> None:
        if self.ready.done():
            return  # presence events and the like: nothing to measure
        kind = message.get("type")
        if kind == "welcome":
            self.credentials = (message["peer_id"], message["peer_secret"])
        admitted = (kind == "welcome" and message.get("state") == "admitted") or kind == "admitted"
        if admitted:
            self.ready.set_result(time.perf_counter())
        elif kind == "error":
            self._fail(f"refused: {message}")

    def _fail(self, why: str) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"peer {self.index}: {why}"))
        if self.transport is not None:
            self.transport.close()

    def send(self, frame: bytes) -> None:
        ws, transport = self.ws, self.transport
        if transport is None or self.lost:
            return
        ws.send_binary(frame)
        writes = ws.data_to_send()
        transport.write(writes[0] if len(writes) == 1 else b"".join(writes))


class Generator:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.window = Window()
        self.peers: list[Peer] = []

    async def connect(self, concurrency: int, resume: bool = False) -> dict[str, Any]:
        """Open every peer, at most ``concurrency`` handshakes in flight at once; with
        ``resume``, the same peers again (their old connections closed first)."""
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(concurrency)
        times: list[float] = []
        failures: list[str] = []
        if resume:
            seats = [(peer.session, peer.index, peer.credentials) for peer in self.peers]
            self.close()
            self.peers = []
        else:
            seats = [
                (session, index, None)
                for session in self.spec["sessions"]
                for index in range(self.spec["peers"])
            ]

        async def one(session: dict[str, Any], index: int, credentials: Any) -> None:
            async with gate:
                started = time.perf_counter()
                host, port, url = session["endpoints"][index % len(session["endpoints"])]
                spec = {**session, "url": url, "kind": self.spec["kind"]}
                try:
                    _, peer = await loop.create_connection(
                        lambda: Peer(spec, index, self.window, credentials), host, port
                    )
                    peer.session = session
                    self.peers.append(peer)
                    times.append(await asyncio.wait_for(peer.ready, 120) - started)
                except (OSError, ConnectionError, TimeoutError) as exc:
                    failures.append(repr(exc))

        began = time.perf_counter()
        await asyncio.gather(*(one(*seat) for seat in seats))
        return {
            "connected": len(times),
            "failures": failures[:5],
            "failed": len(failures),
            "began": began,
            "ended": time.perf_counter(),
            "admit_seconds": sorted(times),
        }

    async def run(self, rate: float, start_at: float, warmup: float, duration: float,
                  drain: float) -> dict[str, Any]:  # fmt: skip
        """Send ``rate`` frames a second from each peer, spread evenly over peers and
        time, counting those sent in [start_at + warmup, start_at + warmup + duration)."""
        window = self.window
        window.histogram = [0] * HISTOGRAM_SIZE
        window.received = 0
        window.run += 1
        peers = [p for p in self.peers if not p.lost]
        padding = bytes(max(0, self.spec["size"] - STAMP_AT - STAMP.size))
        per_second = rate * len(peers)
        measure_from, stop_at = start_at + warmup, start_at + warmup + duration
        await asyncio.sleep(max(0.0, start_at - time.perf_counter()))
        sent = counted_sent = 0
        next_peer = 0
        late = 0.0  # how far behind its schedule the generator fell, at worst
        pack, perf_counter, count = STAMP.pack, time.perf_counter, len(peers)
        while (now := perf_counter()) < stop_at:
            due = int((now - start_at) * per_second) - sent
            if due > per_second * 0.05:  # more than 50 ms of frames owed
                late = max(late, due / per_second)
            counting = measure_from <= now
            run = window.run if counting else 0
            for _ in range(due):
                peers[next_peer].send(HEADER + pack(perf_counter(), run) + padding)
                next_peer = next_peer + 1 if next_peer + 1 < count else 0
            sent += due
            if counting:
                counted_sent += due
            await asyncio.sleep(TICK)
        await asyncio.sleep(drain)
        histogram, window.histogram = window.histogram, None
        return {
            "sent": counted_sent,
            "received": window.received,
            "histogram": {str(i): n for i, n in enumerate(histogram) if n},
            "lost": sum(p.lost for p in self.peers),
            "worst_lag_s": round(late, 3),
        }

    def close(self) -> None:
        for peer in self.peers:
            if peer.transport is not None:
                peer.transport.close()


async def serve_commands() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 30)  # the first line lists every peer
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    generator = Generator(json.loads(await reader.readline()))
    while line := await reader.readline():
        command = json.loads(line)
        name = command.pop("cmd")
        if name == "connect":
            answer = await generator.connect(**command)
        elif name == "run":
            answer = await generator.run(**command)
        else:
            generator.close()
            await asyncio.sleep(0.2)
            answer = {"closed": True}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
        if name == "close":
            return


def main() -> None:
    # Frames and events make no reference cycles: collections would only cost time.
    gc.disable()
    uvloop.run(serve_commands())


if __name__ == "__main__":
    main()
