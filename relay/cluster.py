"""Sessions across servers: who owns a session, and the two sides of a proxied peer.

- On the **owner**, a peer connected to another server is a ``Connection`` whose
  link is a ``RemoteLink``: what the room posts, delivers or closes goes back
  over the bus to the server holding the socket.
- On the **proxy** (the server holding the socket), the socket's frames are
  forwarded to the owner untouched, and what comes back goes into the socket's
  outbox.

When the owner's lease passes to another server (it failed, or lost Redis), the
proxy closes its sockets with 1012 (service restart); their clients resume, and
the first server a resume reaches loads the session from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from dataclasses import dataclass, field

from django.conf import settings

from relay.bus import Bus, Message
from relay.connection import Connection
from relay.outbox import Outbox
from relay.protocol import CloseCode
from relay.rooms import ROOMS

logger = logging.getLogger("ctserver.relay.cluster")


class RemoteLink:
    """The owner's handle on a socket held by another server (the Link interface)."""

    __slots__ = ("bus", "closing", "key", "server_id")

    def __init__(self, bus: Bus, server_id: str, key: str) -> None:
        self.bus, self.server_id, self.key = bus, server_id, key
        self.closing = False

    def deliver(self, frame: bytes) -> None:
        if not self.closing:
            self.bus.send(self.server_id, ["deliver", self.key, frame])

    def post(self, text: str) -> None:
        if not self.closing:
            self.bus.send(self.server_id, ["post", self.key, text])

    def close(self, code: CloseCode) -> None:
        if not self.closing:
            self.closing = True
            self.bus.send(self.server_id, ["close", self.key, int(code)])


@dataclass
class RemotePeer:
    """Owner side: a proxied socket's connection, fed in order by one task."""

    connection: Connection
    inbox: asyncio.Queue[Message] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None


@dataclass
class ProxiedSocket:
    """Proxy side: a local socket whose session is owned by another server."""

    session_id: str
    owner: str
    outbox: Outbox


class Cluster:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self._remote: dict[str, RemotePeer] = {}
        self._proxied: dict[str, ProxiedSocket] = {}
        self._numbers = itertools.count(1)
        self._watcher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.bus.start(self.on_message)
        self._watcher = asyncio.get_running_loop().create_task(self._watch_owners())

    # -- proxy side ----------------------------------------------------------------------

    def open_proxy(self, session_id: str, owner: str, outbox: Outbox) -> str:
        key = f"{self.bus.server_id}:{next(self._numbers)}"
        self._proxied[key] = ProxiedSocket(session_id, owner, outbox)
        self.bus.send(owner, ["open", session_id, key, self.bus.server_id])
        return key

    def forward(self, key: str, kind: str, payload: str | bytes | None = None) -> None:
        socket = self._proxied.get(key)
        if socket is not None:
            self.bus.send(socket.owner, [kind, socket.session_id, key, payload])
            if kind == "lost":
                del self._proxied[key]

    async def _watch_owners(self) -> None:
        """Close proxied sockets whose session changed owner; their clients resume."""
        while True:
            await asyncio.sleep(settings.CONFIG.relay.sweep_interval)
            try:
                sessions = {s.session_id: s.owner for s in self._proxied.values()}
                for session_id, owner in sessions.items():
                    if await self.bus.owner(session_id) != owner:
                        self._restart(session_id)
            except Exception:
                logger.exception("Checking session owners failed; retrying next interval")

    def _restart(self, session_id: str) -> None:
        for socket in self._proxied.values():
            if socket.session_id == session_id:
                socket.outbox.close(CloseCode.SERVICE_RESTART)

    # -- owner side ------------------------------------------------------------------------

    def _open_remote(self, session_id: str, key: str, server_id: str) -> None:
        link = RemoteLink(self.bus, server_id, key)
        peer = RemotePeer(Connection(session_id, link, settings.CONFIG.relay))
        peer.task = asyncio.get_running_loop().create_task(self._serve_remote(key, peer))
        self._remote[key] = peer

    async def _serve_remote(self, key: str, peer: RemotePeer) -> None:
        connection = peer.connection
        try:
            await connection.open()
            while True:
                kind, payload = await peer.inbox.get()
                if kind == "bytes":
                    connection.receive_bytes(payload)
                elif kind == "text":
                    await connection.receive_text(payload)
                else:
                    await connection.lost()
                    return
        finally:
            self._remote.pop(key, None)

    # -- both ------------------------------------------------------------------------------

    def on_message(self, message: Message) -> None:
        kind = message[0]
        if kind == "open":
            _, session_id, key, server_id = message
            self._open_remote(session_id, key, server_id)
        elif kind in ("text", "bytes", "lost"):
            _, _session_id, key, payload = message
            remote = self._remote.get(key)
            if remote is not None:
                remote.inbox.put_nowait([kind, payload])
        else:  # deliver, post or close, for a socket held here
            _, key, payload = message
            socket = self._proxied.get(key)
            if socket is None:
                return
            if kind == "deliver":
                socket.outbox.deliver(payload)
            elif kind == "post":
                socket.outbox.post(payload)
            elif kind == "close":
                socket.outbox.close(CloseCode(payload))

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        await self.bus.close()


_cluster: Cluster | None = None
_starting = asyncio.Lock()


async def get_cluster() -> Cluster | None:
    """This process's cluster membership, or None on the single-server default."""
    global _cluster
    url = settings.CONFIG.redis_url
    if url is None:
        return None
    async with _starting:
        if _cluster is None:
            cluster = Cluster(Bus(url, settings.CONFIG.relay.owner_lease))
            await cluster.start()
            ROOMS.attach(cluster.bus)
            _cluster = cluster
    return _cluster


async def close_cluster() -> None:
    global _cluster
    if _cluster is not None:
        await _cluster.close()
        _cluster = None
