"""The relay's durable state: sessions and participants in the database.

Rooms (relay/room.py) are a cache of these rows. Writes happen on control events
and periodic flushes, never per data frame. All functions here are synchronous
ORM code; the consumer calls them through ``database_sync_to_async``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from relay import audit
from relay.limits import RelayLimits
from relay.models import Participant, Session
from relay.room import Peer, Room, secret_digest


@dataclass(frozen=True)
class CreatedSession:
    session_id: str
    host_secret: str


class TooManySessions(Exception):
    pass


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


def create_session(auto_admit: bool, host_name: str, max_open: int) -> CreatedSession:
    if Session.objects.filter(ended__isnull=True).count() >= max_open:
        raise TooManySessions
    session_id = secrets.token_urlsafe(16)
    host_secret = secrets.token_urlsafe(32)
    Session.objects.create(
        session_id=session_id,
        host_secret_hash=secret_digest(host_secret),
        auto_admit=auto_admit,
        last_activity=timezone.now(),
    )
    audit.record("created", session_id, host_name=host_name, auto_admit=auto_admit)
    return CreatedSession(session_id, host_secret)


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
    states = [Participant.State.ADMITTED, Participant.State.LOBBY]
    for part in row.participants.filter(state__in=states):
        room.peers[part.peer_id] = Peer(
            peer_id=part.peer_id,
            name=part.display_name,
            role=part.role,
            state=part.state,
            read_only=part.read_only,
            secret_hash=part.secret_hash,
            client=part.client,
            away_since=now,
        )
    return room


def allocate_peer_id(session_id: str) -> int:
    with transaction.atomic():
        updated = Session.objects.filter(session_id=session_id, ended__isnull=True).update(
            next_peer_id=F("next_peer_id") + 1
        )
        if not updated:
            raise LookupError(session_id)
        return Session.objects.get(session_id=session_id).next_peer_id - 1


@transaction.atomic
def flush(room: Room) -> None:
    """Write what the room recorded since the last flush (one transaction), and its audit lines."""
    pending, room.pending = room.pending, type(room.pending)()
    now = timezone.now()
    for peer_id, (state, peer) in pending.peers.items():
        defaults = {
            "display_name": peer.name,
            "role": peer.role,
            "state": state,
            "read_only": peer.read_only,
            "secret_hash": peer.secret_hash,
            "client": peer.client,
            "frames_sent": peer.frames_sent,
            "bytes_sent": peer.bytes_sent,
        }
        if state in ("left", "removed", "denied"):
            defaults["left_at"] = now
        part, _ = Participant.objects.update_or_create(
            session_id=room.session_id, peer_id=peer_id, defaults=defaults
        )
        if state == "admitted" and part.admitted_at is None:
            Participant.objects.filter(pk=part.pk).update(admitted_at=now)
    if pending.session_dirty or pending.peers:
        fields: dict[str, object] = {
            **_counters(room),
            "auto_admit": room.auto_admit,
            "first_guest_at": _moment(room.first_guest_at),
            "last_guest_left_at": _moment(room.last_guest_left_at),
        }
        if room.ended_reason is not None:
            fields.update(ended=now, end_reason=room.ended_reason)
        Session.objects.filter(session_id=room.session_id, ended__isnull=True).update(**fields)
    for event, details in pending.audit:
        audit.record(event, room.session_id, **details)


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


def end_abandoned_sessions(limits: RelayLimits) -> int:
    """End open sessions no server has touched for the idle timeout (e.g. its server died)."""
    cutoff = timezone.now() - timedelta(seconds=limits.idle_timeout)
    stale = list(
        Session.objects.filter(ended__isnull=True, last_activity__lt=cutoff).values_list(
            "session_id", flat=True
        )
    )
    ended = 0
    for session_id in stale:
        claimed = Session.objects.filter(
            session_id=session_id, ended__isnull=True, last_activity__lt=cutoff
        ).update(ended=timezone.now(), end_reason="idle")
        if claimed:  # another server may have claimed it first
            audit.record("ended", session_id, reason="idle")
            ended += 1
    return ended
