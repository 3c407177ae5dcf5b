"""Session history for the portal: filters read from a query string, and the rows
they select. Names, roles, times and traffic only: no session carries content.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import DurationField, ExpressionWrapper, F, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce, Now
from django.utils import timezone

from relay.models import Participant, Session

NAME_LIMIT = 64  # display names are at most this long (relay/inputs.py)


@dataclass(frozen=True)
class SessionFilter:
    host: str = ""
    since: date | None = None
    until: date | None = None
    min_minutes: int | None = None
    max_minutes: int | None = None
    end_reason: str = ""  # "" any, "open" for open sessions, else a recorded reason
    errors: tuple[str, ...] = ()

    @classmethod
    def from_query(cls, query: Any) -> SessionFilter:
        """Read the filter form; a bad field is reported and ignored, never a 500."""
        errors: list[str] = []

        def day(name: str, label: str) -> date | None:
            value = (query.get(name) or "").strip()
            if not value:
                return None
            try:
                return date.fromisoformat(value)
            except ValueError:
                errors.append(f"{label} must be a date such as 2026-12-01")
                return None

        def minutes(name: str, label: str) -> int | None:
            value = (query.get(name) or "").strip()
            if not value:
                return None
            if not value.isdigit() or int(value) > 10**6:
                errors.append(f"{label} must be a whole number of minutes")
                return None
            return int(value)

        return cls(
            host=(query.get("host") or "").strip()[:NAME_LIMIT],
            since=day("since", "From"),
            until=day("until", "To"),
            min_minutes=minutes("min_minutes", "Shortest"),
            max_minutes=minutes("max_minutes", "Longest"),
            end_reason=(query.get("end_reason") or "").strip()[:32],
            errors=tuple(errors),
        )


def _host_names() -> Subquery:
    hosts = Participant.objects.filter(session=OuterRef("pk"), role=Participant.Role.HOST)
    return Subquery(hosts.values("display_name")[:1])


def sessions(selected: SessionFilter) -> QuerySet[Session]:
    """Newest first, each annotated with ``host_name``, ``duration`` and ``peers``."""
    rows = Session.objects.annotate(
        host_name=_host_names(),
        duration=ExpressionWrapper(
            Coalesce(F("ended"), Now()) - F("created"), output_field=DurationField()
        ),
    )
    tz = timezone.get_current_timezone()
    if selected.host:
        rows = rows.filter(host_name__icontains=selected.host)
    if selected.since:
        rows = rows.filter(created__gte=datetime.combine(selected.since, datetime.min.time(), tz))
    if selected.until:
        end = datetime.combine(selected.until + timedelta(days=1), datetime.min.time(), tz)
        rows = rows.filter(created__lt=end)
    if selected.min_minutes is not None:
        rows = rows.filter(duration__gte=timedelta(minutes=selected.min_minutes))
    if selected.max_minutes is not None:
        rows = rows.filter(duration__lte=timedelta(minutes=selected.max_minutes))
    if selected.end_reason == "open":
        rows = rows.filter(ended__isnull=True)
    elif selected.end_reason:
        rows = rows.filter(end_reason=selected.end_reason)
    return rows.order_by("-created")


def end_reasons() -> list[str]:
    """The end reasons recorded so far, for the filter's choices."""
    found = (
        Session.objects.exclude(end_reason="")
        .values_list("end_reason", flat=True)
        .distinct()
        .order_by("end_reason")
    )
    return list(found)


@dataclass(frozen=True)
class ParticipantRow:
    peer_id: int
    name: str
    role: str
    state: str
    read_only: bool
    client: str
    joined: datetime
    admitted_at: datetime | None
    left_at: datetime | None
    frames_sent: int
    bytes_sent: int


def participants(session: Session) -> list[ParticipantRow]:
    return [
        ParticipantRow(
            peer_id=p.peer_id,
            name=p.display_name,
            role=p.role,
            state=p.state,
            read_only=p.read_only,
            client=p.client,
            joined=p.joined,
            admitted_at=p.admitted_at,
            left_at=p.left_at,
            frames_sent=p.frames_sent,
            bytes_sent=p.bytes_sent,
        )
        for p in session.participants.order_by("peer_id")
    ]
