"""The operator's figures, as plain functions over the database and this process.

``live_figures`` is what the dashboard, StatsD and Prometheus show now, for every
server sharing the database; ``history`` is what the charts draw. Both run in a
worker thread (they query the database), never on the relay's path.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from redis import Redis as SyncRedis

from dashboard.downloads import DownloadTotal, download_totals
from dashboard.models import PurgeRecord, ServerStatus, UsageSample
from licensing.models import LicenseUsageDay
from licensing.slots import live_total
from licensing.state import current_state, current_use
from relay.models import Participant, Session

# A server whose status is older than this many status intervals is shown as silent.
SILENT_AFTER_INTERVALS = 3


@dataclass(frozen=True)
class ServerFigures:
    server_id: str
    hostname: str
    version: str
    started_at: datetime
    updated_at: datetime
    connections: int
    sessions: int
    lag_ms: float  # relay lag, or event-loop lag when nothing was relayed
    loop_lag_ms: float
    problems: str
    silent: bool  # no status for SILENT_AFTER_INTERVALS intervals: down or cut off


@dataclass(frozen=True)
class LiveFigures:
    users_online: int
    active_sessions: int
    connections: int  # licensed connections in use (hosts and admitted guests)
    connection_limit: int
    license_kind: str  # "license", "trial" or "none"
    average_lag_ms: float
    sessions_hosted: int
    downloads: int
    downloads_by_version: list[DownloadTotal]
    servers: list[ServerFigures]
    taken_at: datetime = field(default_factory=timezone.now)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["taken_at"] = self.taken_at.isoformat()
        for server in data["servers"]:
            server["started_at"] = server["started_at"].isoformat()
            server["updated_at"] = server["updated_at"].isoformat()
        return data


def _open_sessions() -> Any:
    return Session.objects.filter(ended__isnull=True, participants__role=Participant.Role.HOST)


def users_online() -> int:
    """Distinct display names among the hosts and admitted guests of open sessions."""
    return (
        Participant.objects.filter(session__ended__isnull=True, state=Participant.State.ADMITTED)
        .values("display_name")
        .distinct()
        .count()
    )


def sessions_hosted() -> int:
    """Every session a host ever joined, including those purged from the history."""
    kept = Session.objects.filter(participants__role=Participant.Role.HOST).count()
    purged = PurgeRecord.objects.aggregate(total=Sum("sessions"))["total"] or 0
    return kept + int(purged)


@functools.cache
def _redis(url: str) -> SyncRedis:
    return SyncRedis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def licensed_connections() -> int:
    """Connections holding a license place now, on every server: read from Redis
    when servers share one (this process may serve none of them), else this
    process's own count."""
    url = settings.CONFIG.redis_url
    if url is None:
        return current_use()
    return live_total(_redis(url))


def server_figures(status_interval: float, now: datetime | None = None) -> list[ServerFigures]:
    now = now or timezone.now()
    silent_before = now - timedelta(seconds=status_interval * SILENT_AFTER_INTERVALS)
    return [
        ServerFigures(
            server_id=row.server_id,
            hostname=row.hostname,
            version=row.version,
            started_at=row.started_at,
            updated_at=row.updated_at,
            connections=row.connections,
            sessions=row.sessions,
            lag_ms=row.relay_lag_ms if row.relay_lag_ms is not None else row.loop_lag_ms,
            loop_lag_ms=row.loop_lag_ms,
            problems=row.problems,
            silent=row.updated_at < silent_before,
        )
        for row in ServerStatus.objects.all()
    ]


def live_figures(status_interval: float) -> LiveFigures:
    servers = server_figures(status_interval)
    answering = [server for server in servers if not server.silent]
    lag = sum(s.lag_ms for s in answering) / len(answering) if answering else 0.0
    downloads = download_totals()
    state = current_state()
    return LiveFigures(
        users_online=users_online(),
        active_sessions=_open_sessions().distinct().count(),
        connections=licensed_connections(),
        connection_limit=state.limit,
        license_kind=state.kind,
        average_lag_ms=round(lag, 3),
        sessions_hosted=sessions_hosted(),
        downloads=sum(item.count for item in downloads),
        downloads_by_version=downloads,
        servers=servers,
    )


@dataclass(frozen=True)
class DayFigures:
    day: date
    users: int
    sessions: int
    peak_connections: int


@dataclass(frozen=True)
class LagPoint:
    server_id: str
    taken_at: datetime
    lag_ms: float
    connections: int


@dataclass(frozen=True)
class History:
    days: list[DayFigures]
    connection_limit: int
    lag: list[LagPoint]

    def as_json(self) -> dict[str, Any]:
        return {
            "days": [{**asdict(day), "day": day.day.isoformat()} for day in self.days],
            "connection_limit": self.connection_limit,
            "lag": [
                {**asdict(point), "taken_at": point.taken_at.isoformat()} for point in self.lag
            ],
        }


def history(days: int = 30, lag_hours: int = 24, today: date | None = None) -> History:
    """Per UTC day for ``days`` days (today included), and each server's lag samples
    over the last ``lag_hours`` hours."""
    today = today or timezone.now().date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=timezone.get_current_timezone())
    joined = (
        Participant.objects.filter(joined__gte=since)
        .filter(Q(role=Participant.Role.HOST) | Q(admitted_at__isnull=False))
        .annotate(day=TruncDate("joined"))
        .values("day")
        .annotate(users=Count("display_name", distinct=True))
    )
    users = {row["day"]: row["users"] for row in joined}
    created = (
        Session.objects.filter(created__gte=since, participants__role=Participant.Role.HOST)
        .annotate(day=TruncDate("created"))
        .values("day")
        .annotate(sessions=Count("session_id", distinct=True))
    )
    sessions = {row["day"]: row["sessions"] for row in created}
    peaks = dict(LicenseUsageDay.objects.filter(date__gte=first).values_list("date", "peak"))
    sampled = (
        UsageSample.objects.filter(taken_at__gte=since)
        .annotate(day=TruncDate("taken_at"))
        .values("day")
        .annotate(peak=Max("peak_connections"))
    )
    for row in sampled:  # a server's own peak, where the license days miss one
        peaks[row["day"]] = max(peaks.get(row["day"], 0), row["peak"])
    series = [
        DayFigures(
            day=day,
            users=users.get(day, 0),
            sessions=sessions.get(day, 0),
            peak_connections=peaks.get(day, 0),
        )
        for day in (first + timedelta(days=offset) for offset in range(days))
    ]
    lag_since = timezone.now() - timedelta(hours=lag_hours)
    lag = [
        LagPoint(
            server_id=row.server_id,
            taken_at=row.taken_at,
            lag_ms=row.relay_lag_ms if row.relay_lag_ms is not None else row.loop_lag_ms,
            connections=row.connections,
        )
        for row in UsageSample.objects.filter(taken_at__gte=lag_since).order_by("taken_at")
    ]
    return History(days=series, connection_limit=current_state().limit, lag=lag)
