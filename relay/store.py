"""The relay's durable state: sessions and participants in the database.

Rooms (relay/room.py) are a cache of these rows. Writes happen on control events
and periodic flushes, never per data frame. All functions here are synchronous
ORM code; the consumer calls them through ``database_sync_to_async``.
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from licensing.slots import server_identity
from relay import audit, rows
from relay.identity import PeerIdentity
from relay.limits import RelayLimits
from relay.models import Participant, Session
from relay.room import Peer, Pending, Room, secret_digest

logger = logging.getLogger("ctserver.relay.store")

CREATE_WINDOW = timedelta(minutes=1)


@dataclass(frozen=True)
class CreatedSession:
    session_id: str
    host_secret: str


class TooManySessions(Exception):
    """The deployment has CT_MAX_OPEN_SESSIONS open sessions."""


class TooManyFromAddress(Exception):
    """The address has CT_MAX_OPEN_SESSIONS_PER_ADDRESS open sessions."""


class CreatingTooFast(Exception):
    """The address created CT_SESSION_CREATE_RATE sessions in the last minute."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class StoreUnavailable(Exception):
    """The database cannot be written now; what was pending is kept for a retry."""


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def _moment(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def _counters(room: Room) -> dict[str, object]:
    """What a session row counts, as the room has it now."""
    return {
        "last_activity": _moment(room.last_activity) or timezone.now(),
        "peak_peers": room.peak_peers,
        "frames_relayed": room.frames_relayed,
        "bytes_relayed": room.bytes_relayed,
    }


def create_session(
    auto_admit: bool,
    host_name: str,
    address: str,
    limits: RelayLimits,
    host: PeerIdentity | None = None,
) -> CreatedSession:
    """A new open session, within the deployment's and the address's limits.

    The limits count rows, so they hold across servers and restarts. (On PostgreSQL
    two creations at the same instant may both pass the last free place.)
    """
    with transaction.atomic():
        _check_creation_limits(address, limits)
        session_id = secrets.token_urlsafe(16)
        host_secret = secrets.token_urlsafe(32)
        Session.objects.create(
            session_id=session_id,
            host_secret_hash=secret_digest(host_secret),
            auto_admit=auto_admit,
            created_by=address,
            last_activity=timezone.now(),
            host_subject=host.subject if host is not None else "",
        )
    # Recorded once the row is committed: the log never names a session that is not.
    who = {} if host is None else {"email": host.email, "subject": host.subject}
    audit.record(
        "created", session_id, host_name=host_name, auto_admit=auto_admit, address=address, **who
    )
    return CreatedSession(session_id, host_secret)


def _check_creation_limits(address: str, limits: RelayLimits) -> None:
    open_sessions = Session.objects.filter(ended__isnull=True)
    if open_sessions.count() >= limits.max_open_sessions:
        raise TooManySessions
    if open_sessions.filter(created_by=address).count() >= limits.max_open_sessions_per_address:
        raise TooManyFromAddress
    since = timezone.now() - CREATE_WINDOW
    recent = Session.objects.filter(created_by=address, created__gte=since).order_by("created")
    if recent.count() >= limits.session_create_rate:
        oldest = recent.values_list("created", flat=True)[0]
        wait = (oldest + CREATE_WINDOW - timezone.now()).total_seconds()
        raise CreatingTooFast(max(1, int(wait + 0.999)))


def session_is_open(session_id: str) -> bool:
    return Session.objects.filter(session_id=session_id, ended__isnull=True).exists()


def load_room(session_id: str, limits: RelayLimits, now: float) -> Room | None:
    """Rebuild an open session's room from its rows (first connection, or after a restart).

    Peers come back as away, with their grace starting now.
    """
    return load_rooms([session_id], limits, now)[0]


LOAD_CHUNK = 500  # session ids per query, well under SQLite's limit on parameters


def load_rooms(session_ids: list[str], limits: RelayLimits, now: float) -> list[Room | None]:
    """``load_room`` for many sessions at once (a reconnect storm after a failover):
    three queries per ``LOAD_CHUNK`` sessions instead of three per session. The
    sessions are marked as served here; one its server held without handing it
    back (that server failed) is a ``moved`` line in sessions.log."""
    rooms: dict[str, Room] = {}
    wanted = list(dict.fromkeys(session_ids))
    here = this_server()
    moved: list[tuple[str, str, dict[str, Any]]] = []
    for start in range(0, len(wanted), LOAD_CHUNK):
        chunk = wanted[start : start + LOAD_CHUNK]
        for row in rows.open_session_rows(chunk):
            rooms[row["session_id"]] = _room_from_row(row, limits)
            before = row["served_by"]
            if before and before != here:  # its server failed without handing it back
                moved.append(("moved", row["session_id"], {"from": before, "to": here}))
        found = [session_id for session_id in chunk if session_id in rooms]
        if found:
            for part in rows.participant_rows(found):
                _add_participant(rooms[part["session_id"]], part, now)
            rows.serve_here(found, here)
    audit.record_all(moved)
    return [rooms.get(session_id) for session_id in session_ids]


@functools.cache
def this_server() -> str:
    """This server's lasting id (licensing/slots.py), as ``served_by`` holds it."""
    return server_identity(settings.DATA.root)


def hand_back(session_ids: list[str]) -> None:
    """On a clean stop: the sessions held here are nobody's until a server loads them."""
    for start in range(0, len(session_ids), LOAD_CHUNK):
        rows.hand_back(session_ids[start : start + LOAD_CHUNK], this_server())


def _room_from_row(row: dict[str, Any], limits: RelayLimits) -> Room:
    room = Room(
        row["session_id"],
        row["host_secret_hash"],
        row["auto_admit"],
        limits,
        created_at=row["created"].timestamp(),
        now=row["last_activity"].timestamp(),
    )
    room.first_guest_at = _epoch(row["first_guest_at"])
    room.last_guest_left_at = _epoch(row["last_guest_left_at"])
    room.peak_peers = row["peak_peers"]
    room.host_subject = row["host_subject"]
    return room


def _add_participant(room: Room, part: dict[str, Any], now: float) -> None:
    # Admitted peers resume as they were; a guest whose admission had not been
    # saved yet resumes into the lobby and is asked about again.
    state, address = part["state"], part["address"]
    if state in (Participant.State.ADMITTED, Participant.State.LOBBY):
        room.peers[part["peer_id"]] = Peer(
            peer_id=part["peer_id"],
            name=part["display_name"],
            role=part["role"],
            state=state,
            read_only=part["read_only"],
            secret_hash=part["secret_hash"],
            proven_secret_hash=part["proven_secret_hash"],
            client=part["client"],
            address=address,
            verified=part["verified"],
            email=part["email"],
            subject=part["subject"],
            admitted_at=_epoch(part["admitted_at"]),
            away_since=now,
            waiting_since=now if state == Participant.State.LOBBY else None,
        )
    elif address and state == Participant.State.REMOVED:
        room.removed_addresses.add(address)
    elif address and state == Participant.State.DENIED:
        denied, last = room.denials.get(address, (0, 0.0))
        when = _epoch(part["left_at"]) or now
        room.denials[address] = (denied + 1, max(last, when))


def allocate_peer_ids(session_ids: list[str]) -> list[int | Exception]:
    """A new peer id for each request, in order (relay/batching.py groups them): one
    statement per ``LOAD_CHUNK`` sessions however many guests each gets.
    LookupError for a session that is unknown or ended."""
    wanted = Counter(session_ids)
    next_id: dict[str, int] = {}
    sessions = list(wanted)
    with transaction.atomic():
        for start in range(0, len(sessions), LOAD_CHUNK):
            chunk = {s: wanted[s] for s in sessions[start : start + LOAD_CHUNK]}
            for session_id, after in rows.add_peer_ids(chunk).items():
                next_id[session_id] = after - wanted[session_id]
    ids: list[int | Exception] = []
    for session_id in session_ids:
        if session_id in next_id:
            ids.append(next_id[session_id])
            next_id[session_id] += 1
        else:
            ids.append(LookupError(session_id))
    return ids


def flush_rooms(rooms: list[Room]) -> list[str | Exception | None]:
    """``flush`` for a group of rooms (relay/batching.py), each room once however often
    it was asked for: one transaction, the participants of every room in one or two
    statements. If something in it cannot be stored, each room is flushed on its own
    (``flush`` then finds the culprit); if the database is out, every room keeps its
    changes and answers StoreUnavailable."""
    unique = list({id(room): room for room in rooms}.values())
    taken = [(room, room.pending) for room in unique]
    for room in unique:
        room.pending = Pending()
    now = timezone.now()
    answers: dict[int, str | Exception | None] = {}
    try:
        with transaction.atomic():
            changes = [
                (room, peer, state)
                for room, pending in taken
                for state, peer in pending.peers.values()
            ]
            _save_participants(changes, now)
            still_open = _save_sessions(taken, now)
    except (OperationalError, InterfaceError) as exc:
        for room, pending in taken:
            room.pending = pending.merged_with(room.pending)
            answers[id(room)] = StoreUnavailable(str(exc))
    except Exception:  # some change cannot be stored: each room alone finds which
        for room, pending in taken:
            room.pending = pending.merged_with(room.pending)
            try:
                answers[id(room)] = flush(room)
            except StoreUnavailable as unavailable:
                answers[id(room)] = unavailable
    else:
        audit.record_all(
            [
                (event, room.session_id, details)
                for room, pending in taken
                for event, details in pending.audit
            ]
        )
        for room, _ in taken:
            as_known = still_open[id(room)] or room.ended_reason is not None
            answers[id(room)] = None if as_known else _end_reason(room.session_id)
    return [answers[id(room)] for room in rooms]


def flush(room: Room) -> str | None:
    """Write what the room recorded since the last flush, then its audit lines.

    One transaction normally. If the database cannot be reached, nothing is lost:
    the changes go back into the room for the next flush (StoreUnavailable). If one
    row cannot be stored at all, every other change is still written, row by row,
    and that row is logged, so one bad value never keeps a session open in the
    database or silences the rest of its history.

    Returns the end reason when the session row turns out to have been ended
    elsewhere (by a sweeper, perhaps on another server), so that the room ends too.
    """
    pending, room.pending = room.pending, Pending()
    now = timezone.now()
    saves: list[tuple[str, Callable[[], object]]] = [
        (f"participant {peer_id}", partial(_save_participant, room, peer, state, now))
        for peer_id, (state, peer) in pending.peers.items()
    ]
    save_session = partial(_save_session, room, pending, now)
    try:
        still_open = _save_all(room.session_id, saves, save_session)
    except (OperationalError, InterfaceError) as exc:
        room.pending = pending.merged_with(room.pending)
        raise StoreUnavailable(str(exc)) from exc
    for event, details in pending.audit:
        audit.record(event, room.session_id, **details)
    return None if still_open or room.ended_reason is not None else _end_reason(room.session_id)


def _save_all(
    session_id: str, saves: list[tuple[str, Callable[[], object]]], save_session: Callable[[], bool]
) -> bool:
    """Every change in one transaction; if that fails for any reason but an outage,
    each change in its own. Returns whether the session row was still open."""
    try:
        with transaction.atomic():
            for _what, save in saves:
                save()
            return save_session()
    except (OperationalError, InterfaceError):
        raise
    except Exception:  # some change cannot be stored: find it, save the others
        for what, save in saves:
            _save_alone(session_id, what, save)
        return _save_alone(session_id, "the session row", save_session) is not False


def _save_alone(session_id: str, what: str, save: Callable[[], object]) -> object:
    """One change in its own transaction; a change that cannot be stored is logged."""
    try:
        with transaction.atomic():
            return save()
    except (OperationalError, InterfaceError):
        raise  # the database went away meanwhile: the caller keeps everything for later
    except Exception as exc:
        logger.error("Session %s: %s could not be saved: %r", session_id, what, exc)
        return None


def _participant_row(room: Room, peer: Peer, state: str, now: datetime) -> dict[str, object]:
    return {
        "session_id": room.session_id,
        "peer_id": peer.peer_id,
        "display_name": peer.name,
        "role": peer.role,
        "state": state,
        "read_only": peer.read_only,
        "secret_hash": peer.secret_hash,
        "proven_secret_hash": peer.proven_secret_hash,
        "client": peer.client,
        "address": peer.address,
        "verified": peer.verified,
        "email": peer.email,
        "subject": peer.subject,
        "joined": now,
        "admitted_at": _moment(peer.admitted_at),
        "left_at": now if state in rows.LEAVING else None,
        "frames_sent": peer.frames_sent,
        "bytes_sent": peer.bytes_sent,
    }


def _save_participants(changes: list[tuple[Room, Peer, str]], now: datetime) -> None:
    rows.upsert_participants(
        [_participant_row(room, peer, state, now) for room, peer, state in changes]
    )


def _save_participant(room: Room, peer: Peer, state: str, now: datetime) -> None:
    """One participant's row on its own (``flush``'s fallback, to find a bad value)."""
    _save_participants([(room, peer, state)], now)


def _session_row(room: Room, now: datetime) -> dict[str, object]:
    row: dict[str, object] = {
        "session_id": room.session_id,
        **_counters(room),
        "auto_admit": room.auto_admit,
        "first_guest_at": _moment(room.first_guest_at),
        "last_guest_left_at": _moment(room.last_guest_left_at),
    }
    if room.ended_reason is not None:
        row.update(ended=now, end_reason=room.ended_reason)
    return row


def _save_sessions(changes: list[tuple[Room, Pending]], now: datetime) -> dict[int, bool]:
    """Write the session rows of the rooms that changed; answers per room (by ``id``)
    whether its row was still open (a room with nothing to write: yes)."""
    dirty = {
        room.session_id: room for room, pending in changes if pending.session_dirty or pending.peers
    }
    still_open = rows.open_sessions(dirty)
    rows.update_sessions([_session_row(dirty[session_id], now) for session_id in still_open])
    return {
        id(room): room.session_id in still_open or room.session_id not in dirty
        for room, _ in changes
    }


def _save_session(room: Room, pending: Pending, now: datetime) -> bool:
    """Write the session row if anything changed; False if it was no longer open."""
    return _save_sessions([(room, pending)], now)[id(room)]


def _end_reason(session_id: str) -> str:
    """Why a session this server still serves was ended elsewhere."""
    reason = Session.objects.filter(session_id=session_id).values_list("end_reason", flat=True)
    return reason.first() or "idle"


@transaction.atomic
def flush_counters(rooms: list[Room]) -> None:
    """Periodic, in one transaction: each open session's counters and last activity.

    Participants' own counters are written when they leave and when the session
    ends, so this costs one UPDATE per room, not one per peer.
    """
    for room in rooms:
        Session.objects.filter(session_id=room.session_id, ended__isnull=True).update(
            **_counters(room)
        )


def end_unserved_sessions(limits: RelayLimits) -> int:
    """End open sessions no server has touched for the idle timeout (e.g. its server
    died), and sessions whose host never came within the host timeout (created and
    left unused: they must not hold their places for long)."""
    now = timezone.now()
    idle = Session.objects.filter(
        ended__isnull=True, last_activity__lt=now - timedelta(seconds=limits.idle_timeout)
    )
    hostless = Session.objects.filter(
        ended__isnull=True, created__lt=now - timedelta(seconds=limits.host_timeout)
    ).exclude(participants__role=Participant.Role.HOST)
    return _end_each(idle, "idle") + _end_each(hostless, "host_never_joined")


def _end_each(stale: QuerySet[Session], reason: str) -> int:
    ended = 0
    for session_id in list(stale.values_list("session_id", flat=True)):
        # Filtered again as one statement: another server may have ended it, or its
        # host arrived, since the list was read.
        if stale.filter(session_id=session_id).update(ended=timezone.now(), end_reason=reason):
            audit.record("ended", session_id, reason=reason)
            ended += 1
    return ended
