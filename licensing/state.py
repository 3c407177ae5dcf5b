"""The license state: the one thing the rest of the server asks about licensing.

``current_state()`` is called at every connection attempt, so it reads no database:
it evaluates an in-memory snapshot (licensing.snapshot) against the clock, which
is how a license that expires while the server runs stops new connections at that
moment. The snapshot is read again every licensing.cache.REFRESH_SECONDS, and at
once in this process when a license is recorded.

The relay calls it from the event loop, where Django forbids database queries:
licensing.cache reads the database on a worker thread there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from django.core.signals import setting_changed
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from licensing.cache import SnapshotCache
from licensing.models import License
from licensing.snapshot import NO_LICENSE, Snapshot
from licensing.trial import TRIAL_CONNECTIONS, trial_end

logger = logging.getLogger("ctserver.licensing")

WARNING_DAYS = 14


@dataclass(frozen=True)
class LicenseState:
    kind: Literal["license", "trial", "none"]
    limit: int  # simultaneous connections allowed now; 0 when none
    licensee: str | None
    # The license's expiry day, or the trial's last day; for "none", the day the trial
    # ran out, or None when installing a license ended it.
    expires: date | None
    problem: str | None  # why there is no valid license
    days_left: int  # whole days after today until ``expires``

    def describe(self) -> str:
        """One line for the dashboard and ``license_status``."""
        if self.kind == "license":
            return self.license_line()
        return f"No valid license: {self.problem}. {self.trial_line()}"

    def license_line(self) -> str:
        return (
            f"Valid license installed: {self.licensee}, {self.limit} simultaneous "
            f"connections, expires {self.expires} ({_days(self.days_left)})"
        )

    def trial_line(self) -> str:
        if self.kind == "trial":
            return (
                f"Trial: {self.limit} simultaneous connections until {self.expires} "
                f"({_days(self.days_left)})"
            )
        if self.expires is None:
            return "The trial ended when a license was installed: new connections are refused"
        return f"The trial ended on {self.expires}: new connections are refused"

    def warning(self) -> str | None:
        """What an operator must act on soon, or now."""
        if self.kind == "none":
            return self.describe()
        if self.days_left > WARNING_DAYS:
            return None
        if self.kind == "license":
            return (
                f"The license for {self.licensee} expires on {self.expires} "
                f"({_days(self.days_left)}): install a renewal (admin, Licensing) or new "
                "connections will be refused"
            )
        return (
            f"The trial ends on {self.expires} ({_days(self.days_left)}): install a license "
            "(admin, Licensing) or new connections will be refused"
        )


def _days(days: int) -> str:
    return "last day" if days == 0 else f"{days} day{'s' if days != 1 else ''} left"


def evaluate(snap: Snapshot, now: datetime) -> LicenseState:
    # Never earlier than any server has seen: setting the clock back gives no days back.
    now = max(now, snap.last_seen)
    today = now.astimezone(UTC).date()
    document = snap.license
    if document is not None and not document.expired(today):
        days_left = (document.expires - today).days
        return LicenseState(
            kind="license",
            limit=document.max_connections,
            licensee=document.licensee,
            expires=document.expires,
            problem=None,
            days_left=days_left,
        )
    problem = (
        f"the license for {document.licensee} expired on {document.expires}"
        if document is not None
        else snap.problem
    )
    if snap.licensed:  # the trial is for trying, before a license
        return LicenseState("none", 0, None, None, problem, 0)
    end = trial_end(snap.trial_started)
    last_day = end.astimezone(UTC).date()
    if now < end:
        return LicenseState(
            "trial", TRIAL_CONNECTIONS, None, last_day, problem, (last_day - today).days
        )
    return LicenseState("none", 0, None, last_day, problem, 0)


_cache = SnapshotCache()


def current_state(now: datetime | None = None) -> LicenseState:
    """The state now (or at ``now``): cheap, no database query in the common case."""
    return evaluate(_cache.get(), now or timezone.now())


def refresh() -> None:
    """Read the database again at the next call (a license was recorded)."""
    _cache.refresh()


@receiver(post_save, sender=License)
def _license_recorded(**kwargs: Any) -> None:
    # Now for this thread, and again at commit: a load by another thread in between
    # would read the database without the new license and be kept.
    refresh()
    transaction.on_commit(refresh)


@receiver(setting_changed)
def _settings_changed(setting: str, **kwargs: Any) -> None:
    if setting in ("LICENSE_VERIFY_KEY", "CONFIG"):
        refresh()


def _no_use() -> int:
    return 0


# The relay sets this to its count of simultaneous connections (relay/places.py).
use_counter = _no_use


def current_use() -> int:
    """Simultaneous connections now, as the relay counts them (0 until it says)."""
    return use_counter()


class _DailyWarning:
    """Each warning once a day, and again at once when the state's kind changes
    (a license expiring while the server runs)."""

    def __init__(self) -> None:
        self.last: tuple[date, str] | None = None

    def __call__(self, now: datetime | None = None) -> str | None:
        state = current_state(now)
        text = state.warning()
        key = ((now or timezone.now()).astimezone(UTC).date(), state.kind)
        if text is None or key == self.last:
            return None
        self.last = key
        return text


daily_warning = _DailyWarning()


def startup_lines() -> list[tuple[int, str]]:
    """The log lines (level, text) ``serve`` writes as it starts listening: the
    license, or exactly why there is none and what the trial allows."""
    snap = _cache.get()
    state = evaluate(snap, timezone.now())
    lines: list[tuple[int, str]] = []
    if snap.configured_problem and snap.configured_problem != state.problem:
        lines.append((logging.WARNING, f"Configured license refused: {snap.configured_problem}"))
    if state.kind == "license":
        lines.append((logging.INFO, state.license_line()))
    else:
        level = logging.INFO if state.problem == NO_LICENSE else logging.WARNING
        lines.append((level, f"No valid license: {state.problem}"))
        trial_level = logging.INFO if state.kind == "trial" else logging.WARNING
        lines.append((trial_level, state.trial_line()))
    warning = daily_warning()
    if warning is not None and state.kind != "none":  # "none" was just said
        lines.append((logging.WARNING, warning))
    return lines
