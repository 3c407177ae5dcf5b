"""What the state is worked out from, read from the database in one go.

licensing.state keeps the latest snapshot in memory and evaluates it against the
clock at every call; this is the part that costs queries, done at most every
REFRESH_SECONDS per process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from licensing.document import LicenseDocument, LicenseError, check, parse
from licensing.install import install_configured
from licensing.models import License
from licensing.trial import touch

NO_LICENSE = "no license installed"


@dataclass(frozen=True)
class Snapshot:
    license: LicenseDocument | None  # the active license, verified again
    licensed: bool  # a license was installed: the trial is over for good
    problem: str | None  # why there is no active license, when there is none
    configured_problem: str | None  # why the configured license is refused, if it is
    trial_started: datetime
    last_seen: datetime  # the latest time any server saw (licensing.trial)


def load(now: datetime) -> Snapshot:
    configured_problem = install_configured(settings.CONFIG, now.date())
    licensed, document, active_problem = _active_license()
    trial = touch(now)
    return Snapshot(
        license=document,
        licensed=licensed,
        problem=None if document else configured_problem or active_problem or NO_LICENSE,
        configured_problem=configured_problem,
        trial_started=trial.started_at,
        last_seen=trial.last_seen,
    )


def _active_license() -> tuple[bool, LicenseDocument | None, str | None]:
    """Whether a license was ever installed (only an accepted license is ever made
    active, and it stays so until another replaces it), and the active one, checked
    again from its document: the row's other columns are for display, and a row
    edited in the database must grant nothing."""
    row = License.objects.filter(active=True).first()
    if row is None:
        return False, None, None
    try:
        document = parse(row.document)
        check(document, settings.LICENSE_VERIFY_KEY)
    except LicenseError as exc:
        return True, None, f"the installed license (history #{row.pk}) is refused: {exc}"
    return True, document, None
