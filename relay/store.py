"""The relay's durable state: sessions and participants in the database.

Rooms (relay/room.py) are a cache of these rows. Writes happen on control events
and periodic flushes, never per data frame. All functions here are synchronous
ORM code; the consumer calls them through ``database_sync_to_async``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from relay import audit
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
    auto_admit: bool, host_name: str, address: str, limits: RelayLimits
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
        )
    # Recorded once the row is committed: the log never names a session that is not.
    audit.record("created", session_id, host_name=host_name, auto_admit=auto_admit, address=address)
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
    row = Session.objects.filter(session_id=session_id, ended__isnull=True).first()
    if row is None:
        return None
    room = Room(
        session_id,
        row.host_secret_hash,
        row.auto_admit,
        limits,
        created_at=row.created.timestamp(),
        now=row.last_activity.timestamp(),
    )
    room.first_guest_at = _epoch(row.first_guest_at)
    room.last_guest_left_at = _epoch(row.last_guest_left_at)
    room.peak_peers = row.peak_peers
    # Admitted peers resume as they were; a guest whose admission had not been
    # saved yet resumes into the lobby and is asked about again.
    for part in row.participants.all():
        if part.state in (Participant.State.ADMITTED, Participant.State.LOBBY):
            room.peers[part.peer_id] = Peer(
                peer_id=part.peer_id,
                name=part.display_name,
                role=part.role,
                state=part.state,
                read_only=part.read_only,
                secret_hash=part.secret_hash,
                proven_secret_hash=part.proven_secret_hash,
                client=part.client,
                address=part.address,
                away_since=now,
                waiting_since=now if part.state == Participant.State.LOBBY else None,
            )
        elif part.address and part.state == Participant.State.REMOVED:
            room.removed_addresses.add(part.address)
        elif part.address and part.state == Participant.State.DENIED:
            denied, last = room.denials.get(part.address, (0, 0.0))
            when = _epoch(part.left_at) or now
            room.denials[part.address] = (denied + 1, max(last, when))
    return room


def allocate_peer_id(session_id: str) -> int:
    with transaction.atomic():
        updated = Session.objects.filter(session_id=session_id, ended__isnull=True).update(
            next_peer_id=F("next_peer_id") + 1
        )
        if not updated:
            raise LookupError(session_id)
        return Session.objects.get(session_id=session_id).next_peer_id - 1


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


def _save_participant(room: Room, peer: Peer, state: str, now: datetime) -> None:
    defaults: dict[str, object] = {
        "display_name": peer.name,
        "role": peer.role,
        "state": state,
        "read_only": peer.read_only,
        "secret_hash": peer.secret_hash,
        "proven_secret_hash": peer.proven_secret_hash,
        "client": peer.client,
        "address": peer.address,
        "frames_sent": peer.frames_sent,
        "bytes_sent": peer.bytes_sent,
    }
    if state in ("left", "removed", "denied"):
        defaults["left_at"] = now
    part, _ = Participant.objects.update_or_create(
        session_id=room.session_id, peer_id=peer.peer_id, defaults=defaults
    )
    if state == "admitted" and part.admitted_at is None:
        Participant.objects.filter(pk=part.pk).update(admitted_at=now)


def _save_session(room: Room, pending: Pending, now: datetime) -> bool:
    """Write the session row if anything changed; False if it was no longer open."""
    if not (pending.session_dirty or pending.peers):
        return True
    fields: dict[str, object] = {
        **_counters(room),
        "auto_admit": room.auto_admit,
        "first_guest_at": _moment(room.first_guest_at),
        "last_guest_left_at": _moment(room.last_guest_left_at),
    }
    if room.ended_reason is not None:
        fields.update(ended=now, end_reason=room.ended_reason)
    rows = Session.objects.filter(session_id=room.session_id, ended__isnull=True)
    return bool(rows.update(**fields))


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
