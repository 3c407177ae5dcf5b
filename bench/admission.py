"""Admission benchmark: how many guests per second a server takes through the lobby.

    .venv/bin/python bench/admission.py --guests 600 --concurrency 50
    .venv/bin/python bench/admission.py --database postgresql://postgres@127.0.0.1:5432/postgres

Each guest's whole path costs the server its database writes: ``hello`` (a peer id
allocated, a participant row), the host's ``admit`` (a row update) and the guest's
``leave`` (a row update). The same load runs against the same server build twice
in one run: with database connections kept open (``CT_DATABASE_CONN_MAX_AGE``,
the default) and with a new connection per call (``CT_DATABASE_CONN_MAX_AGE=0``,
the former behaviour), on SQLite and, with ``--database``, on PostgreSQL. Prints
one JSON line: guests per second and the p50/p99 time for one guest's hello to
admitted, per configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.relay import (
    ServerUnderTest,
    create_session,
    drop_database,
    fresh_database,
    quantile,
    start_ctserver,
)


async def recv_control(ws: ClientConnection) -> dict[str, Any]:
    while True:
        raw = await ws.recv()
        if isinstance(raw, str):
            return dict(json.loads(raw))


async def host_loop(ws: ClientConnection) -> None:
    """Admit every guest that asks."""
    while True:
        frame = await recv_control(ws)
        if frame["type"] == "join_request":
            await ws.send(json.dumps({"type": "admit", "peer": frame["peer"]["peer_id"]}))


async def one_guest(url: str, timings: list[float]) -> None:
    async with connect(url, compression=None) as ws:
        started = time.perf_counter()
        await ws.send(json.dumps({"type": "hello", "role": "guest", "name": "bench"}))
        while (await recv_control(ws))["type"] != "admitted":
            pass
        timings.append(time.perf_counter() - started)
        await ws.send(json.dumps({"type": "leave"}))
        await ws.wait_closed()


async def run(server: ServerUnderTest, args: argparse.Namespace) -> dict[str, Any]:
    base = f"ws://127.0.0.1:{server.port}/ws/v1/sessions/"
    hosts, urls = [], []
    for _ in range(args.sessions):
        session = await asyncio.to_thread(create_session, server.port, auto_admit=False)
        ws = await connect(base + session["session_id"], compression=None)
        await ws.send(
            json.dumps(
                {
                    "type": "hello",
                    "role": "host",
                    "name": "host",
                    "host_secret": session["host_secret"],
                }
            )
        )
        await recv_control(ws)  # welcome
        hosts.append((ws, asyncio.create_task(host_loop(ws))))
        urls.append(base + session["session_id"])
    timings: list[float] = []
    gate = asyncio.Semaphore(args.concurrency)

    async def guarded(index: int) -> None:
        async with gate:
            await one_guest(urls[index % len(urls)], timings)

    started = time.perf_counter()
    await asyncio.gather(*(guarded(i) for i in range(args.guests)))
    elapsed = time.perf_counter() - started
    for ws, task in hosts:
        task.cancel()
        await ws.close()
    return {
        "guests_per_second": round(args.guests / elapsed, 1),
        "admitted_p50_ms": round(quantile(sorted(timings), 0.50) * 1000, 1),
        "admitted_p99_ms": round(quantile(sorted(timings), 0.99) * 1000, 1),
    }


def measure(label: str, env: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    server = start_ctserver(cpu=args.server_cpu, open_sessions=max(1000, args.sessions), env=env)
    try:
        return {"config": label, **asyncio.run(run(server, args))}
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--guests", type=int, default=600)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=50, help="guests joining at once")
    parser.add_argument("--database", help="a PostgreSQL maintenance URL, to measure it too")
    parser.add_argument("--server-cpu", type=int, default=0)
    args = parser.parse_args()
    results = []
    for label, age in (("persistent", "600"), ("per-call", "0")):
        results.append(measure(f"sqlite {label}", {"CT_DATABASE_CONN_MAX_AGE": age}, args))
        if args.database:
            url, name = fresh_database(args.database)
            try:
                env = {"CT_DATABASE_URL": url, "CT_DATABASE_CONN_MAX_AGE": age}
                results.append(measure(f"postgresql {label}", env, args))
            finally:
                drop_database(args.database, name)
    print(json.dumps({"guests": args.guests, "concurrency": args.concurrency, "results": results}))


if __name__ == "__main__":
    main()
