"""A TCP proxy between clients and the server, to cut connections and see the bytes.

``cut()`` aborts every open connection as a network failure would (no close
frame). ``received`` holds every byte clients sent towards the server, ``replied``
every byte the server sent back.
"""

from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.received = bytearray()
        self.replied = bytearray()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers |= {client_w, server_w}
        await asyncio.gather(
            self._pipe(client_r, server_w, self.received),
            self._pipe(server_r, client_w, self.replied),
        )

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: bytearray
    ) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                await self._flowing.wait()
                record.extend(data)
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            writer.close()
        self._writers.discard(writer)

    def freeze(self) -> None:
        """Stop carrying bytes either way, closing nothing: a network gone silent."""
        self._flowing.clear()

    def thaw(self) -> None:
        """Carry bytes again after ``freeze``."""
        self._flowing.set()

    def retarget(self, port: int) -> None:
        """Send new connections to another server, as a load balancer fails over."""
        self.target_port = port

    def cut(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
