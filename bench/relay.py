"""Relay benchmark: ctserver beside a bare websockets relay, measured in the same run.

    .venv/bin/python bench/relay.py --sessions 500 --peers 5 --rate 1 --duration 20
    .venv/bin/python bench/relay.py --sessions 50 --peers 5 --rate 100 --duration 15
    .venv/bin/python bench/relay.py --idle 20000 --target ctserver

Each server runs in its own process pinned to CPU 0 (``--server-cpu``); the load
generator runs on CPU 1. Every peer sends ``--size``-byte frames ``--rate`` times a
second to the other peers of its session; frames carry their send time, so the
receivers measure latency. Prints one JSON line: per target the deliveries per
second, p50/p95/p99 latency, loss, the server's CPU use and RSS, and the ratio of
ctserver's throughput to the reference's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.support.server import licensed_by_default  # noqa: E402

STAMP = struct.Struct(">d?")  # send time, sent while measuring
HEADER = b"\x01\x00\x00\x00\x00\x00"  # version 1, broadcast, target 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port}")


@dataclass
class ServerUnderTest:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    data_dir: Path | None = None

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def pinned(cpu: int | None) -> list[str]:
    return ["taskset", "-c", str(cpu)] if cpu is not None and shutil.which("taskset") else []


def start_ctserver(
    cpu: int | None, sessions: int, server_kind: str, shared: dict[str, str] | None = None
) -> ServerUnderTest:
    port, data_dir = free_port(), Path(tempfile.mkdtemp(prefix="ctbench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CT_")}
    env.update(licensed_by_default({}))  # a licensed deployment: the trial allows 5
    env.update(shared or {})
    env.update(
        CT_DATA_DIR=str(data_dir),
        CT_HTTP_PORT=str(port),
        CT_HTTPS_PORT=str(free_port()),
        CT_BIND_ADDRESS="127.0.0.1",
        CT_SERVER_URL=f"http://127.0.0.1:{port}",
        CT_MAX_OPEN_SESSIONS=str(max(1000, 2 * sessions)),
        CT_PEER_RATE_FRAMES="100000",
        CT_PEER_RATE_BYTES="1000000000",
        # The whole load comes from one address: lift the per-address limits.
        CT_MAX_CONNECTIONS="1000000",
        CT_MAX_CONNECTIONS_PER_ADDRESS="999999",
        CT_MAX_SOCKETS_PER_ADDRESS="1000000",
        CT_MAX_OPEN_SESSIONS_PER_ADDRESS="1000000",
        CT_SESSION_CREATE_RATE="1000000",
        CT_KNOCK_RATE="1000000",
        CT_MAX_LOBBY_PER_ADDRESS="10000",
        CT_LOG_LEVEL="WARNING",
    )
    python = sys.executable
    subprocess.run(
        [python, "manage.py", "migrate", "--noinput", "-v0"], cwd=REPO, env=env, check=True
    )
    command = [python, "manage.py", "serve"]  # uvicorn, as deployed
    if server_kind == "daphne":  # the same ASGI application under daphne, HTTP only
        command = [python, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                   "ctserver.asgi:application"]  # fmt: skip
    process = subprocess.Popen(
        [*pinned(cpu), *command],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port)
    return ServerUnderTest("ctserver", port, process, data_dir)


def start_reference(cpu: int | None) -> ServerUnderTest:
    port = free_port()
    process = subprocess.Popen(
        [*pinned(cpu), sys.executable, str(REPO / "bench" / "reference_relay.py"), str(port)],
        stdout=subprocess.DEVNULL,
    )
    wait_for_port(port)
    return ServerUnderTest("reference", port, process)


def create_session(port: int, auto_admit: bool = True) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/sessions",
        data=json.dumps({"auto_admit": auto_admit}).encode(),
        headers={"Content-Type": "application/json", "ctstickiness": "bench"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return dict(json.load(response))


@dataclass
class Tally:
    sent: int = 0
    received: int = 0
    latencies: list[float] = field(default_factory=list)


async def open_peer(
    server: ServerUnderTest, session: dict[str, Any], index: int
) -> ClientConnection:
    sid = session["session_id"]
    ws = await connect(
        f"ws://127.0.0.1:{server.port}/ws/v1/sessions/{sid}",
        additional_headers={"ctstickiness": sid},
        compression=None,
        proxy=None,
        max_size=None,
        open_timeout=120,
        ping_interval=None,
    )
    if server.name == "ctserver":
        hello: dict[str, Any] = {"type": "hello", "name": f"peer{index}", "role": "guest"}
        if index == 0:
            hello.update(role="host", host_secret=session["host_secret"])
        await ws.send(json.dumps(hello))
        welcome = json.loads(await ws.recv())
        assert welcome["type"] == "welcome", welcome
        if index != 0:
            assert (
                welcome["state"] == "admitted" or json.loads(await ws.recv())["type"] == "admitted"
            )
    return ws


async def receive(ws: ClientConnection, tally: Tally, measuring: list[bool]) -> None:
    with contextlib.suppress(Exception):
        async for message in ws:
            if isinstance(message, bytes):
                sent_at, counted = STAMP.unpack_from(message, len(HEADER))
                if counted:
                    tally.received += 1
                    tally.latencies.append(time.perf_counter() - sent_at)


async def send(ws: ClientConnection, index: int, args: argparse.Namespace, tally: Tally,
               measuring: list[bool], stop_at: float) -> None:  # fmt: skip
    padding = bytes(max(0, args.size - len(HEADER) - STAMP.size))
    interval = 1.0 / args.rate
    next_at = time.perf_counter() + interval * (index % 97) / 97  # spread the peers out
    while (now := time.perf_counter()) < stop_at:
        if now < next_at:
            await asyncio.sleep(next_at - now)
        next_at += interval
        counted = measuring[0]
        await ws.send(HEADER + STAMP.pack(time.perf_counter(), counted) + padding)
        tally.sent += counted


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def run_load(servers: list[ServerUnderTest], args: argparse.Namespace) -> dict[str, Any]:
    first = servers[0]
    sessions = [
        create_session(first.port) if first.name == "ctserver" else {"session_id": f"room{i}"}
        for i in range(args.sessions)
    ]
    # With two servers, each session's peers alternate between them (the host on
    # the first), so frames cross through Redis as a rehashed deployment's would.
    peers = [
        await open_peer(servers[i % len(servers)], session, i)
        for session in sessions
        for i in range(args.peers)
    ]
    tally, measuring = Tally(), [False]
    warmup_end = time.perf_counter() + args.warmup
    stop_at = warmup_end + args.duration
    receivers = [asyncio.create_task(receive(ws, tally, measuring)) for ws in peers]
    senders = [
        asyncio.create_task(send(ws, i, args, tally, measuring, stop_at))
        for i, ws in enumerate(peers)
    ]
    await asyncio.sleep(args.warmup)
    measuring[0] = True
    cpu_before, started = sum(s.cpu_seconds() for s in servers), time.perf_counter()
    await asyncio.gather(*senders)
    elapsed = time.perf_counter() - started
    cpu = sum(s.cpu_seconds() for s in servers) - cpu_before
    await asyncio.sleep(args.drain)
    rss = sum(s.rss_mib() for s in servers)
    expected = tally.sent * (args.peers - 1)
    for task in receivers:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws in peers), return_exceptions=True)
    return {
        "connections": len(peers),
        "sent_per_s": round(tally.sent / elapsed),
        "delivered_per_s": round(tally.received / elapsed),
        "p50_ms": round(percentile(tally.latencies, 0.50), 2),
        "p95_ms": round(percentile(tally.latencies, 0.95), 2),
        "p99_ms": round(percentile(tally.latencies, 0.99), 2),
        "loss": round(1 - tally.received / expected, 5) if expected else 0.0,
        "servers": len(servers),
        "server_cpu_pct": round(100 * cpu / elapsed, 1),
        "server_rss_mib": round(rss, 1),
    }


async def run_idle(server: ServerUnderTest, args: argparse.Namespace) -> dict[str, Any]:
    per_session = args.peers
    rss_before = server.rss_mib()
    peers: list[ClientConnection] = []
    for start in range(0, args.idle, per_session):
        session = (
            create_session(server.port)
            if server.name == "ctserver"
            else {"session_id": f"room{start}"}
        )
        for i in range(min(per_session, args.idle - start)):
            peers.append(await open_peer(server, session, i))
    await asyncio.sleep(args.drain)
    rss = server.rss_mib()
    await asyncio.gather(*(ws.close() for ws in peers), return_exceptions=True)
    return {
        "idle_connections": len(peers),
        "server_rss_mib": round(rss, 1),
        "rss_per_connection_kib": round((rss - rss_before) * 1024 / max(1, len(peers)), 1),
    }


def fresh_database(maintenance_url: str) -> tuple[str, str]:
    """A new empty PostgreSQL database for the split run; returns (url, name)."""
    import psycopg

    name = f"ctbench_{os.getpid()}_{int(time.time())}"
    with psycopg.connect(maintenance_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return maintenance_url.rsplit("/", 1)[0] + f"/{name}", name


def drop_database(maintenance_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(maintenance_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def measure(name: str, args: argparse.Namespace) -> dict[str, Any]:
    if name != "ctserver":
        servers = [start_reference(args.server_cpu)]
    elif not args.split:
        servers = [start_ctserver(args.server_cpu, args.idle or args.sessions, args.server)]
    else:
        database_url, database = fresh_database(args.postgres_url)
        shared = {
            "CT_DATABASE_URL": database_url,
            "CT_REDIS_URL": args.redis_url,
            "CT_SECRET_KEY": "bench-" + "s" * 50,
        }
        servers = [
            start_ctserver(args.server_cpu, args.sessions, args.server, shared) for _ in range(2)
        ]
    try:
        if args.idle:
            return asyncio.run(run_idle(servers[0], args))
        return asyncio.run(run_load(servers, args))
    finally:
        for server in servers:
            server.stop()
        if name == "ctserver" and args.split:
            drop_database(args.postgres_url, database)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=["both", "ctserver", "reference"], default="both")
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--peers", type=int, default=5, help="peers per session")
    parser.add_argument("--size", type=int, default=256, help="frame size in bytes")
    parser.add_argument("--rate", type=float, default=1.0, help="frames per second per peer")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--drain", type=float, default=2.0, help="seconds to wait for stragglers")
    parser.add_argument("--idle", type=int, default=0, help="only open this many idle peers")
    parser.add_argument(
        "--server",
        choices=["uvicorn", "daphne"],
        default="uvicorn",
        help="the ASGI server ctserver runs under (uvicorn is what 'serve' runs)",
    )
    parser.add_argument(
        "--split",
        action="store_true",
        help="two ctserver processes sharing PostgreSQL and Redis, each session's peers split",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a maintenance database; --split creates and drops its own database there",
    )
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    args = parser.parse_args()
    # Many connections need many descriptors: take the hard limit (servers inherit it).
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.client_cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.client_cpu})
    targets = ["ctserver", "reference"] if args.target == "both" else [args.target]
    results: dict[str, Any] = {
        "scenario": {k: v for k, v in vars(args).items() if k not in ("target",)},
    }
    for name in targets:
        results[name] = measure(name, args)
    if "ctserver" in results and "reference" in results and not args.idle:
        ours, ref = results["ctserver"], results["reference"]
        results["ratio_delivered"] = round(
            ours["delivered_per_s"] / max(1, ref["delivered_per_s"]), 3
        )
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
