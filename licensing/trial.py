"""The free trial: TRIAL_DAYS days at TRIAL_CONNECTIONS simultaneous connections,
from the first start, recorded in the database so that neither a restart nor a new
data dir on the same database starts it again. Installing a license ends it for
good: when that license expires, new connections are refused (docs/licensing.md)."""

from __future__ import annotations

from datetime import datetime, timedelta

from licensing.models import Trial

TRIAL_DAYS = 45
TRIAL_CONNECTIONS = 5


def touch(now: datetime) -> Trial:
    """The trial, started now if it never was, with ``last_seen`` moved up to ``now``.

    ``last_seen`` never moves back: it is the latest time any server saw, which
    is what the days are counted from when the clock is set back.
    """
    trial, _ = Trial.objects.get_or_create(pk=1, defaults={"started_at": now, "last_seen": now})
    if trial.last_seen < now:
        # Conditional, so that a server with a slower clock cannot move it back.
        Trial.objects.filter(pk=1, last_seen__lt=now).update(last_seen=now)
        trial.last_seen = now
    return trial


def trial_end(started_at: datetime) -> datetime:
    return started_at + timedelta(days=TRIAL_DAYS)
