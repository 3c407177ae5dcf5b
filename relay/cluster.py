"""Sessions across servers: who owns a session, and the two sides of a proxied peer.

- On the **owner**, a peer connected to another server is a ``Connection`` whose
  link is a ``RemoteLink``: what the room posts, delivers or closes goes back
  over the bus to the server holding the socket.
- On the **proxy** (the server holding the socket), the socket's frames are
  forwarded to the owner exactly as they arrived, and what comes back goes into
  the socket's outbox.

When the owner's lease passes to another server (it failed, or lost Redis), the
proxy closes its sockets with 1012 (service restart); their clients resume, and
the first server a resume reaches loads the session from the database. A Redis
outage does the same to every cross-server connection, when it starts and when
it ends: pub/sub may have lost their messages in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from dataclasses import dataclass, field

from django.conf import settings

from relay.bus import (
    Bus,
    Bytes,
    Close,
    Deliver,
    Lost,
    Message,
    Open,
    Post,
    ProxyMessage,
    Text,
)
from relay.connection import Connection
from relay.identity import PeerIdentity
from relay.identity import from_wire as identity_from_wire
from relay.identity import to_wire as identity_to_wire
from relay.outbox import Outbox
from relay.protocol import CloseCode, fatal
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
            self.bus.send(self.server_id, Deliver(self.key, frame))

    def post(self, text: str) -> None:
        if not self.closing:
            self.bus.send(self.server_id, Post(self.key, text))

    def close(self, code: CloseCode) -> None:
        if not self.closing:
            self.closing = True
            self.bus.send(self.server_id, Close(self.key, code))


@dataclass
class RemotePeer:
    """Owner side: a proxied socket's connection, fed in order by one task."""

    connection: Connection
    inbox: asyncio.Queue[ProxyMessage] = field(default_factory=asyncio.Queue)
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
        await self.bus.start(self.on_message, self._restart_links)
        self._watcher = asyncio.get_running_loop().create_task(self._watch_owners())

    # -- proxy side ----------------------------------------------------------------------

    def open_proxy(
        self,
        session_id: str,
        owner: str,
        outbox: Outbox,
        address: str,
        identity: PeerIdentity | None = None,
    ) -> str:
        key = f"{self.bus.server_id}:{next(self._numbers)}"
        self._proxied[key] = ProxiedSocket(session_id, owner, outbox)
        who = identity_to_wire(identity)
        self.bus.send(owner, Open(session_id, key, self.bus.server_id, address, *who))
        return key

    def forward(self, key: str, kind: str, payload: str | bytes | None = None) -> None:
        """Send the owner a frame the socket received ("text", "bytes") or its loss."""
        socket = self._proxied.get(key)
        if socket is None:
            return
        message: ProxyMessage
        if kind == "bytes" and isinstance(payload, bytes):
            message = Bytes(socket.session_id, key, payload)
        elif kind == "text" and isinstance(payload, str):
            message = Text(socket.session_id, key, payload)
        elif kind == "lost":
            message = Lost(socket.session_id, key)
            del self._proxied[key]
        else:
            raise TypeError(f"cannot forward {kind!r} with a {type(payload).__name__}")
        self.bus.send(socket.owner, message)

    async def _watch_owners(self) -> None:
        """Close proxied sockets whose session changed owner; their clients resume."""
        while True:
            await asyncio.sleep(settings.CONFIG.relay.sweep_interval)
            if self.bus.problem is not None:
                continue  # the outage restarts every proxied socket itself
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

    def _open_remote(self, message: Open) -> None:
        link = RemoteLink(self.bus, message.server_id, message.key)
        limits = settings.CONFIG.relay
        identity = identity_from_wire(
            message.name, message.email, message.subject, message.verification
        )
        peer = RemotePeer(Connection(message.session_id, link, limits, message.address, identity))
        peer.inbox.put_nowait(message)
        peer.task = asyncio.get_running_loop().create_task(self._serve_remote(message.key, peer))
        self._remote[message.key] = peer

    async def _serve_remote(self, key: str, peer: RemotePeer) -> None:
        """Feed the connection its socket's messages in order, up to the socket's loss."""
        message: ProxyMessage | None = None
        while not isinstance(message, Lost):
            message = await peer.inbox.get()
            await self._step(key, peer.connection, message)
        self._remote.pop(key, None)

    @staticmethod
    async def _step(key: str, connection: Connection, message: ProxyMessage) -> None:
        """One message of a proxied peer. Whatever fails closes that peer as the consumer
        does when it cannot serve (1013), and never ends its task: the loss still comes."""
        try:
            match message:
                case Bytes(frame=frame):
                    connection.receive_bytes(frame)
                case Text(text=text):
                    await connection.receive_text(text)
                case Open():
                    await connection.open()
                case Lost():
                    await connection.lost()
        except Exception:
            logger.exception(
                "Proxied peer %s failed on a %s message; closing it", key, message.kind
            )
            connection.refuse(
                fatal(CloseCode.TRY_AGAIN_LATER, "the server cannot serve this session now")
            )

    # -- both ------------------------------------------------------------------------------

    def on_message(self, message: Message) -> None:
        match message:
            case Open():
                self._open_remote(message)
            case Text() | Bytes() | Lost():
                remote = self._remote.get(message.key)
                if remote is not None:  # else the socket was lost already
                    remote.inbox.put_nowait(message)
            case Deliver(key=key, frame=frame):
                if (outbox := self._outbox(key)) is not None:
                    outbox.deliver(frame)
            case Post(key=key, text=text):
                if (outbox := self._outbox(key)) is not None:
                    outbox.post(text)
            case Close(key=key, code=code):
                if (outbox := self._outbox(key)) is not None:
                    outbox.close(code)

    def _outbox(self, key: str) -> Outbox | None:
        socket = self._proxied.get(key)
        return None if socket is None else socket.outbox

    def _restart_links(self) -> None:
        """The bus went down or came back, and messages may have been lost: restart
        every cross-server connection. Proxied sockets close with 1012 and their
        clients resume; the owner closes its remote peers the same way (the close
        reaches a proxy whose Redis still works) and loses them without waiting for
        a loss message that may never come."""
        for socket in self._proxied.values():
            socket.outbox.close(CloseCode.SERVICE_RESTART)
        for key, remote in self._remote.items():
            remote.connection.link.close(CloseCode.SERVICE_RESTART)
            remote.inbox.put_nowait(Lost(remote.connection.session_id, key))

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


def running_bus() -> Bus | None:
    """This process's bus once a cross-server session has started it (readiness)."""
    return None if _cluster is None else _cluster.bus


async def close_cluster() -> None:
    global _cluster
    if _cluster is not None:
        await _cluster.close()
        _cluster = None
