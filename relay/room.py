"""One session's live state on this server, and the rules of docs/protocol.md §5.

A ``Room`` has no I/O of its own: it talks to connections through the ``Link``
interface (which only enqueues) and records what must be persisted in
``pending`` for relay/store.py to write. Everything here runs on the event loop
without awaiting, so each method is atomic with respect to the others.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass, field
from typing import Any, Protocol

from relay.identity import PeerIdentity
from relay.limits import RelayLimits, TokenBucket
from relay.protocol import (
    KIND_BROADCAST,
    CloseCode,
    Command,
    Hello,
    ProtocolError,
    control,
    error_frame,
    fatal,
    stamp_sender,
)
from relay.stats import STATS

HOST_PEER_ID = 1
MAX_DENY_BACKOFF = 3600.0


class Places(Protocol):
    """Which peers hold one of the license's places (relay/places.py takes them,
    before the room admits anyone)."""

    def holds(self, peer_id: int) -> bool: ...


class Unlimited:
    """Every peer has a place: a room on its own, as in the room's unit tests."""

    def holds(self, peer_id: int) -> bool:
        return True


class Link(Protocol):
    """A live connection, as the room uses it. Every method only enqueues."""

    def deliver(self, frame: bytes) -> None: ...
    def post(self, text: str) -> None: ...
    def close(self, code: CloseCode) -> None: ...


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, digest: str) -> bool:
    return hmac.compare_digest(secret_digest(secret), digest)


@dataclass(eq=False)
class Peer:
    peer_id: int
    name: str
    role: str
    state: str  # "lobby" or "admitted"
    read_only: bool
    secret_hash: str  # of the newest secret, sent in its last welcome
    client: str = ""
    # Of the secret it last resumed with: still accepted, in case that welcome was
    # lost in transit (docs/protocol.md §5.3). Empty until its first resume.
    proven_secret_hash: str = ""
    address: str = ""  # the client address it last connected from
    link: Link | None = None
    away_since: float | None = None
    waiting_since: float | None = None  # when it entered the lobby
    asked_through: Link | None = None  # the host connection last asked to admit it
    frames_sent: int = 0
    bytes_sent: int = 0
    admitted_at: float | None = None  # when it was first let in (epoch seconds)
    # With single sign-on (relay/identity.py): verified or not, its address and
    # subject at the provider. None: the server does not use single sign-on.
    verified: bool | None = None
    email: str = ""
    subject: str = ""

    @property
    def is_host(self) -> bool:
        return self.role == "host"

    def describe(self, state: str | None = None, private: bool = False) -> dict[str, Any]:
        """The peer object of docs/protocol.md §5.2 (``state`` overrides the live one)."""
        described = {
            "peer_id": self.peer_id,
            "name": self.name,
            "role": self.role,
            "state": state or ("away" if self.link is None else self.state),
            "read_only": self.read_only,
        }
        if self.verified is not None:  # single sign-on: who this is, as the provider says
            described["verified"] = self.verified
            described["email"] = "" if private else self.email
        return described

    def who(self) -> dict[str, Any]:
        """The identity fields of its history and sessions.log lines (none without SSO)."""
        if self.verified is None:
            return {}
        return {"email": self.email, "subject": self.subject, "verified": self.verified}

    def take_identity(self, identity: PeerIdentity | None) -> None:
        if identity is not None:
            self.verified = identity.verified
            self.email, self.subject = identity.email, identity.subject


@dataclass
class Pending:
    """What happened since the last flush, for relay/store.py to persist."""

    peers: dict[int, tuple[str, Peer]] = field(default_factory=dict)  # id -> (state, peer)
    audit: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    session_dirty: bool = False

    def __bool__(self) -> bool:
        return bool(self.peers or self.audit or self.session_dirty)

    def merged_with(self, newer: Pending) -> Pending:
        """These changes followed by ``newer`` ones: a peer's newer state wins."""
        return Pending(
            peers={**self.peers, **newer.peers},
            audit=[*self.audit, *newer.audit],
            session_dirty=self.session_dirty or newer.session_dirty,
        )


class Room:
    def __init__(
        self,
        session_id: str,
        host_secret_hash: str,
        auto_admit: bool,
        limits: RelayLimits,
        created_at: float,
        now: float,
    ) -> None:
        self.session_id = session_id
        self.host_secret_hash = host_secret_hash
        self.auto_admit = auto_admit
        self.limits = limits
        self.created_at = created_at
        self.last_activity = now
        self.first_guest_at: float | None = None
        self.last_guest_left_at: float | None = None
        self.peers: dict[int, Peer] = {}
        self.receivers: tuple[Peer, ...] = ()  # admitted peers with a live link
        # Per client address: how often the host denied a guest from it, and when last;
        # and the addresses of removed guests, whom only the host may let in again.
        self.denials: dict[str, tuple[int, float]] = {}
        self.removed_addresses: set[str] = set()
        # With single sign-on: who created the session (relay/models.py), else "".
        self.host_subject = ""
        self.knocks: dict[str, TokenBucket] = {}  # new guests per address (CT_KNOCK_RATE)
        self.places: Places = Unlimited()
        self.released: list[int] = []  # peers gone for good: their places go back
        self.detached = False  # given up by this server (relay/rooms.py): saves nothing
        self.ended_reason: str | None = None
        self.peak_peers = 0
        self.frames_relayed = 0
        self.bytes_relayed = 0
        self.pending = Pending()

    # -- membership -------------------------------------------------------------

    @property
    def host(self) -> Peer | None:
        return self.peers.get(HOST_PEER_ID)

    def _refresh_receivers(self) -> None:
        self.receivers = tuple(
            p for p in self.peers.values() if p.state == "admitted" and p.link is not None
        )
        self.peak_peers = max(self.peak_peers, len(self.receivers))
        self.pending.session_dirty = True

    def _admitted(self) -> list[Peer]:
        return [p for p in self.peers.values() if p.state == "admitted"]

    def _announce(
        self, event: str, peer: Peer, *, to_host_only: bool = False, state: str | None = None
    ) -> None:
        text = control("presence", event=event, peer=peer.describe(state))
        targets = [self.host] if to_host_only else self._admitted()
        for other in targets:
            if other is not None and other is not peer and other.link is not None:
                other.link.post(text)

    def _welcome(self, peer: Peer, secret: str | None, resumed: bool) -> str:
        host = self.host
        return control(
            "welcome",
            peer_id=peer.peer_id,
            peer_secret=secret,
            role=peer.role,
            state=peer.state,
            resumed=resumed,
            session={
                "session_id": self.session_id,
                "auto_admit": self.auto_admit,
                "host_present": host is not None and host.link is not None,
            },
            # A guest still in the lobby (maybe a stranger the host will deny) learns
            # who is there, not their addresses.
            peers=[p.describe(private=peer.state == "lobby") for p in self._admitted()],
        )

    def _attach(self, peer: Peer, link: Link) -> None:
        if peer.link is not None and peer.link is not link:
            peer.link.close(CloseCode.REPLACED)
        peer.link = link
        peer.away_since = None

    def _connect(
        self, peer: Peer, link: Link, new_secret: str, resumed: bool, address: str, now: float
    ) -> None:
        """Give a known peer its (new) connection and fresh resume credentials."""
        peer.secret_hash = secret_digest(new_secret)  # resuming() set the proven one
        peer.address = address
        self._attach(peer, link)
        self._save(peer)
        self._refresh_receivers()
        self.last_activity = now
        link.post(self._welcome(peer, new_secret, resumed))

    def _save(self, peer: Peer, state: str | None = None) -> None:
        self.pending.peers[peer.peer_id] = (state or peer.state, peer)

    def _audit(self, event: str, **fields: Any) -> None:
        self.pending.audit.append((event, fields))

    def check_host_secret(self, secret: str | None) -> None:
        if secret is None or not secret_matches(secret, self.host_secret_hash):
            raise fatal(CloseCode.NOT_AUTHENTICATED, "wrong host secret")

    def join_host(
        self,
        hello: Hello,
        link: Link,
        new_secret: str,
        now: float,
        address: str = "",
        identity: PeerIdentity | None = None,
    ) -> Peer:
        """The host says hello: first time, or again after a drop (host secret suffices)."""
        self.check_host_secret(hello.host_secret)
        host = self.host
        resumed = host is not None
        was_away = host is not None and host.link is None
        if host is None:
            host = Peer(HOST_PEER_ID, hello.name, "host", "admitted", False, "", hello.client)
            host.take_identity(identity)
            host.admitted_at = now
            self.peers[HOST_PEER_ID] = host
        self._connect(host, link, new_secret, resumed, address, now)
        if not resumed:  # guests admitted before it came (auto-admit) learn it is here
            self._announce("host_joined", host)
        elif was_away:
            self._announce("host_back", host)
        for waiting in [p for p in self.peers.values() if p.state == "lobby"]:
            self._ask_host(waiting, now)  # guests who knocked while it was away
        return host

    def knock(self, address: str, now: float) -> None:
        """A new guest from ``address`` wants in: raise if it may not knock now.

        Called before a peer id is spent on it; ``join_guest`` checks again.
        """
        refusal = self.guest_refusal(address, now)
        if refusal is not None:
            raise refusal
        knocks = self.knocks.get(address)
        if knocks is None:
            rate = self.limits.knock_rate
            knocks = self.knocks[address] = TokenBucket(rate / 60.0, rate, now)
        if not knocks.take(1, now):
            raise fatal(
                CloseCode.RETRY_LATER,
                f"too many guests from your address knocked; try again in "
                f"{math.ceil(knocks.wait(1))} s",
            )

    def guest_refusal(self, address: str, now: float) -> ProtocolError | None:
        """Why a new guest from ``address`` may not join the lobby now, if it may not."""
        denied, last = self.denials.get(address, (0, 0.0))
        if denied:
            backoff = self.limits.deny_backoff * 2.0 ** min(denied - 1, 20)
            wait = min(backoff, MAX_DENY_BACKOFF) - (now - last)
            if wait > 0:
                return fatal(
                    CloseCode.RETRY_LATER,
                    f"the host denied a guest from your address; try again in {math.ceil(wait)} s",
                )
        waiting = sum(p.state == "lobby" and p.address == address for p in self.peers.values())
        if waiting >= self.limits.max_lobby_per_address:
            return fatal(
                CloseCode.TOO_MANY_CONNECTIONS,
                "too many guests from your address are waiting in this lobby",
            )
        return None

    def join_guest(
        self,
        hello: Hello,
        peer_id: int,
        secret: str,
        link: Link,
        now: float,
        address: str = "",
        identity: PeerIdentity | None = None,
    ) -> Peer:
        """A new guest: into the lobby, or admitted at once when the session auto-admits."""
        if len(self.peers) >= self.limits.max_peers:
            raise fatal(CloseCode.SESSION_FULL, "the session is full")
        if sum(p.state == "lobby" for p in self.peers.values()) >= self.limits.max_lobby:
            raise fatal(CloseCode.SESSION_FULL, "too many guests are waiting for admission")
        refusal = self.guest_refusal(address, now)
        if refusal is not None:
            raise refusal
        guest = Peer(peer_id, hello.name, "guest", "lobby", False, secret_digest(secret))
        guest.client = hello.client
        guest.address = address
        guest.take_identity(identity)
        guest.waiting_since = now
        self.peers[peer_id] = guest
        self._attach(guest, link)
        self._audit(
            "join_requested", peer=peer_id, name=guest.name, client=guest.client, **guest.who()
        )
        self._save(guest)
        self.last_activity = now
        link.post(self._welcome(guest, secret, False))
        self._ask_host(guest, now)
        return guest

    def resuming(self, hello: Hello) -> Peer:
        """The guest a resuming ``hello`` proves to be, or the refusal (4003).

        Two secrets resume: the newest (its last welcome's) and the one it last
        resumed with, since a welcome can be lost with its connection. The one
        presented becomes the proven one; anything older no longer works.
        """
        peer = self.peers.get(hello.resume_peer_id or 0)
        secret = hello.resume_secret
        if peer is None or peer.is_host or secret is None:
            raise fatal(CloseCode.NOT_AUTHENTICATED, "unknown or expired peer credentials")
        for known in (peer.secret_hash, peer.proven_secret_hash):
            if known and secret_matches(secret, known):
                peer.proven_secret_hash = known
                return peer
        raise fatal(CloseCode.NOT_AUTHENTICATED, "unknown or expired peer credentials")

    def resume(
        self, hello: Hello, link: Link, new_secret: str, now: float, address: str = ""
    ) -> Peer:
        """A guest comes back within its grace, with its peer credentials."""
        peer = self.resuming(hello)
        was_away = peer.link is None
        self._connect(peer, link, new_secret, True, address, now)
        if peer.state == "lobby":
            self._ask_host(peer, now)
        elif was_away:
            self._announce("back", peer)
        return peer

    def would_admit(self, address: str, verified: bool | None = None) -> bool:
        """Whether a guest from ``address`` is admitted without asking the host: the
        session auto-admits, except an address the host removed someone from, and a
        guest without a single sign-on account (the host always decides on those)."""
        if verified is False:
            return False
        return self.auto_admit and address not in self.removed_addresses

    def _admits_itself(self, guest: Peer) -> bool:
        return self.would_admit(guest.address, guest.verified) and self.places.holds(guest.peer_id)

    def _ask_host(self, guest: Peer, now: float) -> None:
        """Admit the guest, or ask the host: once per host connection, however often
        the guest reconnects (so a guest cannot flood the host with questions)."""
        host = self.host
        if self._admits_itself(guest):
            self._admit(guest, now)
        elif host is not None and host.link is not None and guest.asked_through is not host.link:
            guest.asked_through = host.link
            host.link.post(control("join_request", peer=guest.describe()))

    def _admit(self, guest: Peer, now: float) -> None:
        guest.state = "admitted"
        if guest.admitted_at is None:
            guest.admitted_at = now
        if self.first_guest_at is None:
            self.first_guest_at = now
        self.last_guest_left_at = None
        self._refresh_receivers()
        self._save(guest)
        self._audit("admitted", peer=guest.peer_id, name=guest.name, **guest.who())
        if guest.link is not None:
            guest.link.post(control("admitted", peers=[p.describe() for p in self._admitted()]))
        self._announce("admitted", guest)

    def _drop(
        self, peer: Peer, state: str, event: str, code: CloseCode | None, now: float, **why: str
    ) -> None:
        """Take a peer out of the session for good."""
        del self.peers[peer.peer_id]
        self.released.append(peer.peer_id)
        was_admitted_guest = peer.state == "admitted" and not peer.is_host
        self._remember(peer, state, now)
        self._save(peer, state)
        self._audit(event, peer=peer.peer_id, name=peer.name, **why, **peer.who())
        self._refresh_receivers()
        if peer.link is not None and code is not None:
            peer.link.close(code)
        peer.link = None
        # The peer object says where it was (lobby or admitted), not "away".
        self._announce(event, peer, to_host_only=peer.state == "lobby", state=peer.state)
        if was_admitted_guest and not any(not p.is_host for p in self._admitted()):
            self.last_guest_left_at = now

    def _remember(self, peer: Peer, state: str, now: float) -> None:
        """What a denial or a removal means for later guests from the same address."""
        if not peer.address:
            return
        if state == "denied":
            denied, _ = self.denials.get(peer.address, (0, 0.0))
            self.denials[peer.address] = (denied + 1, now)
        elif state == "removed":
            self.removed_addresses.add(peer.address)

    # -- commands ------------------------------------------------------------------

    def command(self, peer: Peer, command: Command, now: float) -> None:
        self.last_activity = now
        if command.type == "leave":
            if peer.is_host:
                self.end("host_left")
            else:
                self._drop(peer, "left", "left", CloseCode.NORMAL, now)
            return
        if command.type == "end":
            self.end("host_ended")
            return
        if command.type == "set_auto_admit":
            self.auto_admit = bool(command.flag)
            self.pending.session_dirty = True
            for waiting in [p for p in self.peers.values() if p.state == "lobby"]:
                if self._admits_itself(waiting):
                    self._admit(waiting, now)
            return
        target = self.peers.get(command.peer or 0)
        if target is None or target.is_host:
            raise ProtocolError("bad_request", f"no guest with peer id {command.peer}")
        if command.type == "admit":
            if target.state == "lobby":
                if not self.places.holds(target.peer_id):
                    raise ProtocolError("license_full", "every place the license allows is taken")
                self._admit(target, now)
        elif command.type == "deny":
            if target.state != "lobby":
                raise ProtocolError("bad_request", "only a guest in the lobby can be denied")
            self._drop(target, "denied", "denied", CloseCode.DENIED, now)
        elif command.type == "remove":
            self._drop(target, "removed", "removed", CloseCode.REMOVED, now)
        elif command.type == "set_read_only":
            target.read_only = bool(command.flag)
            self._save(target)
            self._announce("read_only", target)
            if target.link is not None:
                target.link.post(control("presence", event="read_only", peer=target.describe()))

    def link_lost(self, peer: Peer, link: Link, now: float) -> None:
        """A connection closed without 'leave': the peer may resume within its grace."""
        if peer.link is not link or peer.peer_id not in self.peers:
            return  # replaced by a newer connection, or already gone
        peer.link = None
        peer.away_since = now
        self._refresh_receivers()
        if peer.state == "lobby":  # nobody admitted it yet: a lobby guest just goes
            self._drop(peer, "left", "left", None, now)
        else:
            self._announce("host_away" if peer.is_host else "away", peer)

    def end(self, reason: str, *, recorded: bool = False) -> None:
        """End the session for everyone; ``recorded`` when its row already says so."""
        if self.ended_reason is not None:
            return
        self.ended_reason = reason
        self.pending.session_dirty = True
        if not recorded:
            self._audit("ended", reason=reason)
        text = control("ended", reason=reason)
        for peer in self.peers.values():
            self._save(peer, "left")
            self.released.append(peer.peer_id)
            if peer.link is not None:
                peer.link.post(text)
                peer.link.close(CloseCode.SESSION_ENDED)
                peer.link = None
        self.receivers = ()

    # -- time ------------------------------------------------------------------------

    def sweep(self, now: float) -> None:
        """Expire reconnect graces and session timeouts (docs/protocol.md §5.3)."""
        limits = self.limits
        if self.host is None and now - self.created_at >= limits.host_timeout:
            self.end("host_never_joined")
            return
        for address, knocks in list(self.knocks.items()):
            if knocks.has(knocks.burst, now):  # full again: nothing to remember
                del self.knocks[address]
        for peer in list(self.peers.values()):
            if peer.away_since is not None and now - peer.away_since >= limits.reconnect_grace:
                if peer.is_host:
                    self.end("host_left")
                    return
                self._drop(peer, "left", "left", None, now)
            elif (
                peer.state == "lobby"
                and peer.waiting_since is not None
                and now - peer.waiting_since >= limits.lobby_timeout
            ):
                self._lobby_timed_out(peer, now)
        if self.first_guest_at is None and now - self.created_at >= limits.no_guest_timeout:
            self.end("no_guest_joined")
        elif (
            self.last_guest_left_at is not None
            and now - self.last_guest_left_at >= limits.empty_timeout
        ):
            self.end("last_guest_left")
        elif now - self.last_activity >= limits.idle_timeout:
            self.end("idle")

    def _lobby_timed_out(self, peer: Peer, now: float) -> None:
        if peer.link is not None:
            seconds = f"{self.limits.lobby_timeout:g}"
            refusal = fatal(CloseCode.LOBBY_TIMEOUT, f"nobody admitted you within {seconds} s")
            peer.link.post(error_frame(refusal))
        self._drop(peer, "left", "left", CloseCode.LOBBY_TIMEOUT, now, reason="lobby_timeout")

    # -- the hot path ----------------------------------------------------------------

    def relay(self, sender: Peer, kind: int, target: int, frame: bytes, now: float) -> None:
        """Deliver one data frame; raises a non-fatal ProtocolError for a bad target."""
        if sender.state != "admitted":
            raise ProtocolError("not_admitted", "wait for the host to admit you")
        if sender.read_only and (kind == KIND_BROADCAST or target != HOST_PEER_ID):
            raise ProtocolError("read_only", "a read-only guest may send only to the host")
        stamped = stamp_sender(frame, kind, sender.peer_id)
        sender.frames_sent += 1
        sender.bytes_sent += len(frame)
        self.last_activity = now
        if kind == KIND_BROADCAST:
            delivered = 0
            for peer in self.receivers:
                if peer is not sender and peer.link is not None:
                    peer.link.deliver(stamped)
                    delivered += 1
        else:
            if target == sender.peer_id:
                raise ProtocolError("bad_target", "a peer cannot send a frame to itself")
            receiver = self.peers.get(target)
            if receiver is None or receiver.state != "admitted":
                raise ProtocolError("unknown_peer", f"no admitted peer with id {target}")
            delivered = 0
            if receiver.link is not None:  # away: dropped, it resynchronises on resume
                receiver.link.deliver(stamped)
                delivered = 1
        self.frames_relayed += delivered
        self.bytes_relayed += delivered * len(stamped)
        if STATS.relayed(delivered, len(stamped)):  # one frame in 64: time it
            if kind == KIND_BROADCAST:
                STATS.probe(p.link for p in self.receivers if p is not sender)
            else:
                STATS.probe([self.peers[target].link])
