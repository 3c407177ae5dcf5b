"""This server's figures, written where the portal reads them: its status row (now)
and its usage samples (history, and one JSON line each in ``usage.log``).

The figures come from this process (its open WebSockets, the rooms it serves, the
relay's counters) and are written by dashboard/monitor.py on its timers, never
from the relay's path.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import socket
from dataclasses import asdict, dataclass
from datetime import datetime

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from ctserver import __version__
from dashboard.models import ServerStatus, UsageSample
from licensing.slots import server_identity
from licensing.state import current_state
from relay.consumers import CONNECTIONS, OUTAGE
from relay.rooms import ROOMS
from relay.stats import STATS

_usage_log = logging.getLogger("ctserver.usage")


def server_id() -> str:
    """This server's lasting id (kept in its data dir), as in the license leases."""
    return server_identity(settings.DATA.root)


@dataclass(frozen=True)
class LocalFigures:
    connections: int  # open WebSockets on this server
    sessions: int  # open sessions this server serves
    users: int  # distinct names among their hosts and admitted guests
    relay_lag_ms: float | None  # None when no frame was sampled in the window
    loop_lag_ms: float


def local_figures() -> LocalFigures:
    rooms = ROOMS.held()
    names = {
        peer.name for room in rooms for peer in room.peers.values() if peer.state == "admitted"
    }
    relay = STATS.relay_lag.mean()
    return LocalFigures(
        connections=CONNECTIONS.total,
        sessions=len(rooms),
        users=len(names),
        relay_lag_ms=None if relay is None else round(relay * 1000, 3),
        loop_lag_ms=round((STATS.loop_lag.mean() or 0.0) * 1000, 3),
    )


def problems() -> str:
    """What keeps this server from serving fully, in words, or ''."""
    found = []
    if OUTAGE.is_set():
        found.append("cannot serve sessions: Redis or the database is out")
    if current_state().kind == "none":
        found.append("no valid license: new connections are refused")
    return "; ".join(found)


async def write_status(started_at: datetime) -> None:
    figures = local_figures()
    trouble = problems()
    await database_sync_to_async(_save_status)(started_at, figures, trouble)


def _save_status(started_at: datetime, figures: LocalFigures, trouble: str) -> None:
    ServerStatus.objects.update_or_create(
        server_id=server_id(),
        defaults={
            "hostname": socket.gethostname()[:255],
            "version": __version__,
            "started_at": started_at,
            "updated_at": timezone.now(),
            "connections": figures.connections,
            "sessions": figures.sessions,
            "relay_lag_ms": figures.relay_lag_ms,
            "loop_lag_ms": figures.loop_lag_ms,
            "problems": trouble[:255],
        },
    )


async def remove_status() -> None:
    await database_sync_to_async(ServerStatus.objects.filter(server_id=server_id()).delete)()


class _Counters:
    """The relay's totals at the previous sample, for the deltas of the next."""

    frames = 0
    bytes = 0


async def take_sample() -> UsageSample:
    figures = local_figures()
    frames, size = STATS.frames_relayed, STATS.bytes_relayed
    sample = UsageSample(
        server_id=server_id(),
        taken_at=timezone.now(),
        connections=figures.connections,
        peak_connections=CONNECTIONS.take_peak(),
        sessions=figures.sessions,
        users=figures.users,
        relay_lag_ms=figures.relay_lag_ms,
        loop_lag_ms=figures.loop_lag_ms,
        frames_relayed=frames - _Counters.frames,
        bytes_relayed=size - _Counters.bytes,
        license_limit=current_state().limit,
    )
    _Counters.frames, _Counters.bytes = frames, size
    await database_sync_to_async(sample.save)()
    write_usage_line(sample)
    return sample


def write_usage_line(sample: UsageSample) -> None:
    """One JSON object per line in ``usage.log``, rotated like the other logs."""
    if not _usage_log.handlers:
        handler = logging.handlers.RotatingFileHandler(
            settings.DATA.logs / "usage.log",
            maxBytes=settings.CONFIG.log_max_bytes,
            backupCount=settings.CONFIG.log_backup_count,
            encoding="utf-8",
        )
        handler.setFormatter(logging.Formatter("%(message)s"))
        _usage_log.addHandler(handler)
        _usage_log.setLevel(logging.INFO)
        _usage_log.propagate = False
    line = asdict(
        UsageLine(
            time=sample.taken_at.isoformat(),
            server=sample.server_id,
            connections=sample.connections,
            peak_connections=sample.peak_connections,
            sessions=sample.sessions,
            users=sample.users,
            relay_lag_ms=sample.relay_lag_ms,
            loop_lag_ms=sample.loop_lag_ms,
            frames_relayed=sample.frames_relayed,
            bytes_relayed=sample.bytes_relayed,
            license_limit=sample.license_limit,
        )
    )
    _usage_log.info(json.dumps(line, separators=(",", ":")))


@dataclass(frozen=True)
class UsageLine:
    """A line of ``usage.log`` (docs/logs.md lists its fields)."""

    time: str
    server: str
    connections: int
    peak_connections: int
    sessions: int
    users: int
    relay_lag_ms: float | None
    loop_lag_ms: float
    frames_relayed: int
    bytes_relayed: int
    license_limit: int
