"""Retention: session history, usage samples and expired sign-ins older than a cut-off
go, in one transaction, and the purge is recorded (dashboard.models.PurgeRecord).

Open sessions are never purged, however old: they are live state, not history.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import import_module

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from dashboard.models import PurgeRecord, UsageSample
from relay.models import Participant, Session

logger = logging.getLogger("ctserver.dashboard")


@dataclass(frozen=True)
class Expired:
    """What a purge at ``older_than`` deletes (``purge_history --dry-run`` shows it)."""

    sessions: int  # ended sessions, hosted or not
    hosted: int  # those a host joined: what figures.sessions_hosted counts
    participants: int
    samples: int


def _sessions(older_than: datetime) -> QuerySet[Session]:
    return Session.objects.filter(ended__isnull=False, ended__lt=older_than)


def expired(older_than: datetime) -> Expired:
    sessions = _sessions(older_than)
    return Expired(
        sessions=sessions.count(),
        hosted=sessions.filter(participants__role=Participant.Role.HOST).distinct().count(),
        participants=Participant.objects.filter(session__in=sessions).count(),
        samples=UsageSample.objects.filter(taken_at__lt=older_than).count(),
    )


def purge_history(older_than: datetime, reason: str) -> PurgeRecord:
    """Delete what ended before ``older_than``; expired Django sign-in sessions too."""
    with transaction.atomic():
        # Counted before deleting: "sessions hosted" keeps counting purged ones.
        going = expired(older_than)
        _sessions(older_than).delete()
        UsageSample.objects.filter(taken_at__lt=older_than).delete()
        record = PurgeRecord.objects.create(
            older_than=older_than,
            sessions=going.hosted,
            participants=going.participants,
            samples=going.samples,
            reason=reason,
        )
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
    logger.info(
        "History before %s purged (%s): %d sessions (%d hosted), %d participants, %d usage samples",
        older_than.isoformat(timespec="seconds"),
        reason,
        going.sessions,
        going.hosted,
        going.participants,
        going.samples,
    )
    return record


def apply_retention(days: int) -> PurgeRecord:
    """CT_HISTORY_DAYS, applied daily by dashboard/monitor.py (0 means "keep
    everything", so the monitor never calls this with it)."""
    if days < 1:
        raise ValueError(f"history is kept at least 1 day, not {days}")
    return purge_history(timezone.now() - timedelta(days=days), f"CT_HISTORY_DAYS={days}")
