"""The reference: a bare ``websockets`` broadcast relay, with no protocol at all.

Every binary message on ``/ws/v1/sessions/<room>`` goes to the room's other
connections. It bounds what any Python relay can reach on this machine; bench/relay.py
reports ctserver's figures as a ratio of it.

    python bench/reference_relay.py PORT
"""

from __future__ import annotations

import asyncio
import sys
from collections import defaultdict

import uvloop
from websockets.asyncio.server import ServerConnection, broadcast, serve

rooms: defaultdict[str, set[ServerConnection]] = defaultdict(set)


async def relay(ws: ServerConnection) -> None:
    room = rooms[ws.request.path if ws.request else "/"]
    room.add(ws)
    try:
        async for message in ws:
            broadcast([other for other in room if other is not ws], message)
    finally:
        room.discard(ws)


async def main(port: int) -> None:
    # uvicorn's listen backlog, so a burst of connections meets the same queue.
    serving = serve(relay, "127.0.0.1", port, compression=None, max_size=None, backlog=2048)
    async with serving:
        print(f"reference relay on {port}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    # The event loop ctserver's uvicorn runs on (uvloop), so both relays stand on it.
    uvloop.run(main(int(sys.argv[1])))
