"""Checking a submitted license and recording it: a valid one becomes the active
license, a refused one is kept in the history with the reason."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ctserver.config import Config
from licensing.document import LicenseDocument, LicenseError, check, check_dates, parse
from licensing.models import License
from licensing.sources import Submission, configured


def verify(submission: Submission, today: date) -> LicenseDocument:
    """The document, fit to be installed today; raises LicenseError naming the
    field the way its source does (CT_EXPIRATION rather than expires)."""
    if submission.problem is not None:
        raise LicenseError(submission.problem)
    try:
        document = parse(submission.document)
        check(document, settings.LICENSE_VERIFY_KEY)
        check_dates(document, today)
    except LicenseError as exc:
        raise exc.renamed(submission.names) from None
    return document


def install(submission: Submission, today: date | None = None) -> License:
    """Record the submission; a valid one replaces the active license. The row's
    ``refused`` says why not. Every process sees the new license within
    licensing.cache.REFRESH_SECONDS, this one at once."""
    try:
        document = verify(submission, today or timezone.now().date())
    except LicenseError as exc:
        return _record_refused(submission, str(exc))
    return _activate(submission, document)


def install_configured(config: Config, today: date) -> str | None:
    """Install the configured license if it is new; return why it is refused, if it is.

    Each server calls this as it loads the state, so a license given to every
    server is recorded once, and a refused one once, not at every start.
    """
    submission = configured(config)
    if submission is None:
        return None
    if License.objects.filter(document=submission.document, refused="").exists():
        return None  # installed before: its state is the active license's, or a newer one's
    try:
        document = verify(submission, today)
    except LicenseError as exc:
        if not License.objects.filter(document=submission.document, refused=str(exc)).exists():
            _record_refused(submission, str(exc))
        return str(exc)
    _activate(submission, document)
    return None


def _activate(submission: Submission, document: LicenseDocument) -> License:
    try:
        return _replace_active(submission, document)
    except IntegrityError:
        # Two installs at once (two servers starting with a new license) can both
        # find the old license active; the second breaks the one-active constraint.
        # Again, it sees the first one's license, and replaces it.
        return _replace_active(submission, document)


def _replace_active(submission: Submission, document: LicenseDocument) -> License:
    with transaction.atomic():
        License.objects.filter(active=True).update(active=False)
        return _record(submission, document, active=True, refused="")


def _record_refused(submission: Submission, refused: str) -> License:
    """Kept with whatever fields can be read, so the history says whose it was."""
    try:
        shown: LicenseDocument | None = parse(submission.document)
    except LicenseError:
        shown = None
    return _record(submission, shown, active=False, refused=refused)


def _record(
    submission: Submission, shown: LicenseDocument | None, active: bool, refused: str
) -> License:
    return License.objects.create(
        licensee=shown.licensee if shown else "",
        max_connections=shown.max_connections if shown else None,
        expires=shown.expires if shown else None,
        document=submission.document,
        source=submission.source,
        installed_by=submission.installed_by[:300],  # a long file path is cut, not refused
        active=active,
        refused=refused,
    )
