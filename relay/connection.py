"""One peer connection's side of the protocol, whatever carries its frames.

A ``Connection`` turns frames into room actions and answers through its link. A
local WebSocket (relay/consumers.py) and a WebSocket held by another server
(relay/cluster.py) both drive one. The data path (``receive_bytes``) awaits nothing.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import replace
from typing import Any, Protocol

from django.db import DatabaseError

from relay.identity import PeerIdentity
from relay.limits import ConnectionBudget, RelayLimits
from relay.places import as_error, take_place
from relay.protocol import (
    CloseCode,
    Command,
    Hello,
    ProtocolError,
    error_frame,
    fatal,
    parse_command,
    parse_control,
    parse_data_header,
    parse_hello,
)
from relay.room import HOST_PEER_ID, Link, Peer, Room
from relay.rooms import ROOMS, NotOwner


class Detached(Exception):
    """The room was given up while this connection awaited (relay/rooms.py)."""


class ClosableLink(Link, Protocol):
    @property
    def closing(self) -> bool: ...


class Connection:
    def __init__(
        self,
        session_id: str,
        link: ClosableLink,
        limits: RelayLimits,
        address: str = "",
        identity: PeerIdentity | None = None,
    ) -> None:
        self.session_id = session_id
        self.address = address  # the client's, for the per-address limits
        self.identity = identity  # with single sign-on: who signed in (relay/identity.py)
        self.link = link
        self.limits = limits
        self.peer: Peer | None = None
        self.room: Room | None = None
        self.budget = ConnectionBudget(limits, time.monotonic())
        self._hello_timer: asyncio.TimerHandle | None = None

    async def open(self) -> None:
        try:
            self.room = await ROOMS.get(self.session_id)
        except NotOwner:  # the session just moved: the client reconnects and resumes
            self.link.close(CloseCode.SERVICE_RESTART)
            return
        if self.room is None:
            self.refuse(fatal(CloseCode.SESSION_NOT_FOUND, "unknown or ended session"))
            return
        self._hello_timer = asyncio.get_running_loop().call_later(
            self.limits.hello_timeout, self._hello_timed_out
        )

    def _hello_timed_out(self) -> None:
        if self.peer is None:
            self.refuse(fatal(CloseCode.HELLO_TIMEOUT, "no hello in time"))

    def refuse(self, exc: ProtocolError, ref: str | None = None) -> None:
        self.link.post(error_frame(exc, ref))
        if exc.close is not None:
            self.link.close(exc.close)

    def receive_bytes(self, frame: bytes) -> None:
        peer, room = self.peer, self.room
        if self.link.closing or room is None:
            return
        if room.detached:
            self.link.close(CloseCode.SERVICE_RESTART)  # the session is served elsewhere now
            return
        try:
            if peer is None:
                raise fatal(CloseCode.PROTOCOL_VIOLATION, "send 'hello' first")
            kind, target = parse_data_header(frame, self.limits.max_frame_bytes)
            if not self.budget.allow(len(frame), time.monotonic()):
                raise fatal(CloseCode.RATE_LIMITED, "over the frame or byte budget")
            room.relay(peer, kind, target, frame, time.time())
        except ProtocolError as exc:
            self.refuse(exc)

    async def receive_text(self, text: str) -> None:
        room = self.room
        if self.link.closing or room is None:
            return
        if room.detached:
            self.link.close(CloseCode.SERVICE_RESTART)  # the session is served elsewhere now
            return
        ref = None
        try:
            frame = parse_control(text, self.limits.max_control_bytes)
            ref = frame["type"]
            if not self.budget.allow(len(text), time.monotonic()):
                raise fatal(CloseCode.RATE_LIMITED, "over the frame or byte budget")
            if self.peer is None:
                await self._hello(room, frame)
            else:
                command = parse_command(frame, self.peer.is_host)
                refusal = await self._places_for(room, command)
                self._check_still_served(room)
                room.command(self.peer, command, time.time())
                if refusal is not None:
                    raise refusal
        except ProtocolError as exc:
            self.refuse(exc, ref)
        except Detached:
            self.link.close(CloseCode.SERVICE_RESTART)
        await ROOMS.flush(room)

    def _signed_in(self, hello: Hello) -> Hello:
        """With single sign-on, the verified name replaces the one ``hello`` chose; a
        host must have signed in (a guest may not have, when the server allows it)."""
        identity = self.identity
        if identity is None:
            return hello
        if not identity.verified:
            if hello.role == "host":
                raise fatal(CloseCode.NOT_AUTHENTICATED, "a host must sign in")
            return hello
        return replace(hello, name=identity.name)

    def _same_person(self, peer: Peer | None) -> None:
        """Resuming a peer, or the host, takes the identity it had: another signed-in
        user holding its secrets is refused."""
        identity = self.identity
        if peer is None or identity is None or peer.verified is None:
            return
        if (identity.verified, identity.subject) != (peer.verified, peer.subject):
            raise fatal(CloseCode.NOT_AUTHENTICATED, "these credentials belong to someone else")

    def _creator(self, room: Room) -> None:
        """With single sign-on only who created the session hosts it, from its first
        hello on: the host secret alone, passed on or leaked, is not enough."""
        identity = self.identity
        if identity is not None and room.host_subject and identity.subject != room.host_subject:
            raise fatal(CloseCode.NOT_AUTHENTICATED, "only who created the session may host it")

    async def _hello(self, room: Room, frame: dict[str, Any]) -> None:
        hello = self._signed_in(parse_hello(frame))
        secret = secrets.token_urlsafe(32)
        if hello.role == "host":
            room.check_host_secret(hello.host_secret)
            self._same_person(room.host)
            self._creator(room)
            await self._place(room, HOST_PEER_ID)
            self._check_still_served(room)
            self.peer = room.join_host(
                hello, self.link, secret, time.time(), self.address, self.identity
            )
        elif hello.resume_peer_id is not None:
            peer = room.resuming(hello)
            self._same_person(peer)
            if peer.state == "admitted" or room.would_admit(peer.address, peer.verified):
                await self._place(room, peer.peer_id)  # counted elsewhere before a failover
            self._check_still_served(room)
            self.peer = room.resume(hello, self.link, secret, time.time(), self.address)
        else:
            room.knock(self.address, time.time())  # refused before a peer id is spent
            try:
                peer_id = await ROOMS.allocate_peer_id(self.session_id)
            except LookupError:
                peer_id = 0
            except DatabaseError:  # an outage: this guest may try again, nobody else is hurt
                raise fatal(
                    CloseCode.TRY_AGAIN_LATER, "the server cannot reach its database"
                ) from None
            if peer_id == 0 or room.ended_reason is not None:
                raise fatal(CloseCode.SESSION_NOT_FOUND, "unknown or ended session")
            verified = None if self.identity is None else self.identity.verified
            if room.would_admit(self.address, verified):
                await self._place(room, peer_id)
            self._check_still_served(room)
            self.peer = room.join_guest(
                hello, peer_id, secret, self.link, time.time(), self.address, self.identity
            )
        if self._hello_timer is not None:
            self._hello_timer.cancel()

    def _check_still_served(self, room: Room) -> None:
        """After an await: this server may have given the room up meanwhile (its lease
        lapsed). Then nothing may change in this copy: the peer goes and resumes."""
        if room.detached:
            raise Detached

    async def _place(self, room: Room, peer_id: int) -> None:
        if not room.places.holds(peer_id):
            await take_place(self.session_id, peer_id)

    async def _places_for(self, room: Room, command: Command) -> ProtocolError | None:
        """Take the places a host's command admits guests into; the refusal to tell
        the host, if a guest could not have one (it stays in the lobby)."""
        if command.type == "admit":
            waiting = [room.peers.get(command.peer or 0)]
        elif command.type == "set_auto_admit" and command.flag:
            removed = room.removed_addresses
            waiting = [p for p in room.peers.values() if p.address not in removed]
        else:
            return None
        refusal = None
        for guest in waiting:
            if guest is not None and guest.state == "lobby":
                try:
                    await self._place(room, guest.peer_id)
                except ProtocolError as exc:
                    refusal = as_error(exc)
        return refusal

    async def lost(self) -> None:
        """The transport closed (either side): the peer may resume within its grace."""
        if self._hello_timer is not None:
            self._hello_timer.cancel()
        if self.room is not None and self.peer is not None:
            self.room.link_lost(self.peer, self.link, time.time())
            await ROOMS.flush(self.room)
