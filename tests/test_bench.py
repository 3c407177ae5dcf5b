"""The benchmark's own tools (bench/): figures are only as good as what measures them.

The timing is never asserted here (docs/benchmarks.md holds the figures); what is
checked is that the load generator counts every frame it is sent, however the
bytes arrive, and that bench/relay.py runs each of its measures to the end.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from websockets.utils import accept_key

from bench.loadgen import HEADER, HISTOGRAM_SIZE, STAMP, Peer, Window

REPO = Path(__file__).resolve().parent.parent


class Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None: ...


def _server_frame(opcode: int, payload: bytes) -> bytes:
    """A frame as a server sends it: final, unmasked."""
    if len(payload) < 126:
        return bytes([0x80 | opcode, len(payload)]) + payload
    return bytes([0x80 | opcode, 126]) + struct.pack(">H", len(payload)) + payload


async def test_the_generator_counts_every_frame_however_the_bytes_arrive() -> None:
    window = Window(run=3, histogram=[0] * HISTOGRAM_SIZE)
    sent_at = time.perf_counter()
    counted = HEADER + STAMP.pack(sent_at, 3) + bytes(200)  # 16-bit length
    earlier_run = HEADER + STAMP.pack(sent_at, 2) + bytes(10)  # late, from another run
    short = HEADER + STAMP.pack(sent_at, 3)  # 7-bit length
    stream = b"".join(
        [
            _server_frame(2, counted),
            _server_frame(1, json.dumps({"type": "presence", "event": "joined"}).encode()),
            _server_frame(2, earlier_run),
            _server_frame(9, b"ping"),  # answered with a pong through websockets
            _server_frame(2, short),
        ]
    )
    for cut in range(1, len(stream)):
        peer = _open_peer(window)
        transport = peer.transport
        assert isinstance(transport, Transport)
        window.received = 0
        peer.data_received(stream[:cut])
        peer.data_received(stream[cut:])
        assert window.received == 2, cut
        assert peer.pending == b""
        assert transport.written[-1][0] == 0x8A, cut  # a pong (FIN + opcode 10) went back


def _open_peer(window: Window) -> Peer:
    """A generator peer past its WebSocket handshake with a ctserver."""
    peer = Peer({"url": "ws://127.0.0.1/ws", "session_id": "s", "kind": "ctserver"}, 1, window)
    peer.connection_made(Transport())  # type: ignore[arg-type]
    peer.data_received(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept_key(peer.ws.key).encode() + b"\r\n\r\n"
    )
    assert peer.opened
    peer.ready.set_result(0.0)  # admitted: control frames are no longer awaited
    return peer


def _bench(*arguments: str) -> dict[str, Any]:
    finished = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "relay.py"),
            "--server-cpu",
            "-1",
            "--client-cpu",
            "-1",
            *arguments,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return dict(json.loads(finished.stdout.strip().splitlines()[-1]))


def test_the_relay_benchmark_runs_each_measure_to_the_end() -> None:
    result = _bench(
        *("--target", "ctserver", "reference", "--sessions", "2", "--peers", "3"),
        *("--rate", "5", "--warmup", "0.5", "--duration", "1", "--drain", "0.5"),
        *("--measure", "throughput", "idle", "storm", "--idle", "15", "--burst", "15"),
    )
    for target in ("ctserver", "reference"):
        fixed = result[target]["throughput"]["fixed"]
        assert fixed["loss"] == 0 and fixed["lost_connections"] == 0
        assert fixed["delivered_per_s"] > 0 and fixed["p99_ms"] > 0
        assert result[target]["idle"]["idle_connections"] == 15
        storm = result[target]["storm"]
        assert (storm["peers"], storm["failed"]) == (15, 0)  # every peer resumed
    assert set(result["ratio"]) >= {"fixed_rate", "memory_per_idle_connection"}


def test_the_benchmark_runs_behind_a_balancer(redis_url: str, postgres_cluster: str) -> None:
    result = _bench(
        *("--target", "ctserver", "--balanced", "2", "--sessions", "2", "--peers", "3"),
        *("--rate", "5", "--warmup", "0.5", "--duration", "1", "--drain", "0.5"),
        *("--measure", "throughput", "--redis-url", redis_url, "--postgres-url", postgres_cluster),
    )
    fixed = result["ctserver"]["throughput"]["fixed"]
    assert fixed["loss"] == 0 and fixed["lost_connections"] == 0 and fixed["delivered_per_s"] > 0
