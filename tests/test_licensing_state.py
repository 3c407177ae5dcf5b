"""The license state: the trial, a license's limit and expiry, the cache, the
warnings and the startup lines."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ctserver.config import load_config
from licensing import cache, state, usage
from licensing.install import install
from licensing.models import License, LicenseUsageDay, Trial
from licensing.sources import from_upload
from licensing.state import current_state, current_use, daily_warning, startup_lines
from tests.support.licenses import environment, license_test_key, license_text, signed, today
from tests.support.waiting import eventually

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures(license_test_key.__name__)]

DAY = timedelta(days=1)


def _now() -> datetime:
    return datetime.now(UTC)


def _install(text: str) -> License:
    return install(from_upload(text.encode(), License.Source.ADMIN, "alice"))


def _trial_started(days_ago: float, last_seen: datetime | None = None) -> None:
    started = _now() - days_ago * DAY
    Trial.objects.create(started_at=started, last_seen=last_seen or started)


def test_the_first_start_begins_a_45_day_trial_of_5_connections() -> None:
    current = current_state()
    assert (current.kind, current.limit, current.problem) == ("trial", 5, "no license installed")
    assert current.expires == today() + 45 * DAY and current.days_left == 45
    assert current.describe() == (
        f"No valid license: no license installed. Trial: 5 simultaneous connections "
        f"until {current.expires} (45 days left)"
    )
    assert Trial.objects.count() == 1


def test_a_restart_or_new_data_dir_does_not_restart_the_trial() -> None:
    _trial_started(days_ago=40)
    assert current_state().days_left == 5
    state.refresh()  # what a restart, or another server on the database, does
    assert current_state().days_left == 5
    trial = Trial.objects.get()
    assert trial.last_seen > _now() - timedelta(minutes=1)  # the latest time seen, kept


def test_a_clock_set_back_gives_no_days_back() -> None:
    # Started 10 days ago, and a server already saw a time 20 days from now: the
    # clock has been set back by 20 days since.
    _trial_started(days_ago=10, last_seen=_now() + 20 * DAY)
    assert current_state().days_left == 15
    assert current_state(_now() - 100 * DAY).days_left == 15
    assert Trial.objects.get().last_seen > _now() + 19 * DAY  # never moved back


def test_after_the_trial_new_connections_are_refused() -> None:
    _trial_started(days_ago=46)
    current = current_state()
    assert (current.kind, current.limit) == ("none", 0)
    assert current.describe() == (
        f"No valid license: no license installed. The trial ended on {today() - DAY}: "
        "new connections are refused"
    )


def test_a_valid_license_gives_its_limit() -> None:
    _install(signed(licensee="Example Corp", max_connections=25).to_json())
    current = current_state()
    assert (current.kind, current.limit, current.licensee) == ("license", 25, "Example Corp")
    assert current.problem is None
    assert current.describe() == (
        f"Valid license installed: Example Corp, 25 simultaneous connections, "
        f"expires {today() + 365 * DAY} (365 days left)"
    )


def test_a_license_that_expires_while_running_stops_new_connections_at_once() -> None:
    expires = today() + 2 * DAY
    _install(signed(licensee="Example Corp", expires=expires).to_json())
    last_moment = datetime.combine(expires, datetime.max.time(), UTC)
    assert current_state(last_moment).limit == 25
    after = current_state(last_moment + timedelta(microseconds=1))
    assert (after.kind, after.limit) == ("none", 0)  # installing a license ended the trial
    assert after.describe() == (
        f"No valid license: the license for Example Corp expired on {expires}. The trial "
        "ended when a license was installed: new connections are refused"
    )


def test_a_license_edited_in_the_database_grants_nothing() -> None:
    row = _install(signed(max_connections=25).to_json())
    tampered = row.document.replace('"max_connections": 25', '"max_connections": 5000')
    License.objects.filter(pk=row.pk).update(document=tampered, max_connections=5000)
    state.refresh()
    current = current_state()
    assert (current.kind, current.limit) == ("none", 0)
    assert current.problem is not None and current.problem.startswith(
        f"the installed license (history #{row.pk}) is refused: signature: does not match"
    )


def test_a_refused_license_leaves_the_trial_running() -> None:
    _install(license_text(max_connections=1000))
    current = current_state()
    assert (current.kind, current.limit) == ("trial", 5)


def test_the_state_is_cached_and_read_again_when_a_license_is_installed(
    django_assert_num_queries: Callable[..., Any],
) -> None:
    assert current_state().kind == "trial"
    with django_assert_num_queries(0):
        assert current_state().kind == "trial"
    _install(signed(max_connections=30).to_json())
    assert current_state().limit == 30


def test_a_change_made_by_another_server_is_seen_within_the_refresh_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert current_state().limit == 5
    _install_elsewhere(max_connections=40)
    assert current_state().limit == 5  # cached
    monkeypatch.setattr(cache, "REFRESH_SECONDS", 0.0)
    assert current_state().limit == 40


def _install_elsewhere(max_connections: int) -> None:
    """A license installed by another server: no signal reaches this process."""
    License.objects.filter(active=True).update(active=False)
    document = signed(max_connections=max_connections).to_json()
    License.objects.bulk_create(
        [License(document=document, source="admin", installed_by="other", active=True)]
    )


@pytest.mark.django_db(transaction=True)
async def test_the_event_loop_never_queries_the_database_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Django raises SynchronousOnlyOperation for a query on the event loop's thread.
    assert current_state().limit == 5  # nothing cached: read once on the worker thread
    await asyncio.to_thread(_install, signed(max_connections=50).to_json())
    assert current_state().limit == 50  # installed: read again at once
    await asyncio.to_thread(_install_elsewhere, 60)
    monkeypatch.setattr(cache, "REFRESH_SECONDS", 0.0)
    assert current_state().limit == 50  # stale: served while the worker reads
    await eventually(lambda: current_state().limit == 60)
    # No read may still run when the test's database is emptied after it.
    monkeypatch.setattr(cache, "REFRESH_SECONDS", 60.0)
    background = state._cache.background
    if background is not None:
        await asyncio.wrap_future(background)


def test_usage_merges_the_peak_by_maximum_and_adds_refusals() -> None:
    usage.record(peak=3, refusals=1)
    usage.record(peak=2, refusals=4)
    usage.record(peak=9, refusals=0, day=today() - DAY)
    row = LicenseUsageDay.objects.get(date=today())
    assert (row.peak, row.refusals) == (3, 5)
    assert LicenseUsageDay.objects.get(date=today() - DAY).peak == 9


def test_current_use_is_what_the_relay_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    assert current_use() == 0
    monkeypatch.setattr(state, "use_counter", lambda: 7)
    assert current_use() == 7


def test_expiry_is_warned_once_a_day_during_the_last_14_days() -> None:
    expires = today() + 15 * DAY
    _install(signed(licensee="Example Corp", expires=expires).to_json())
    assert daily_warning() is None  # 15 days left
    soon = _now() + DAY
    assert daily_warning(soon) == (
        f"The license for Example Corp expires on {expires} (14 days left): install a "
        "renewal (admin, Licensing) or new connections will be refused"
    )
    assert daily_warning(soon + timedelta(hours=1)) is None
    assert daily_warning(soon + DAY) is not None
    expired = datetime.combine(expires + DAY, datetime.min.time(), UTC)
    assert daily_warning(expired) is not None  # the same day, the kind changed
    assert daily_warning(expired + timedelta(hours=1)) is None


def test_the_trial_end_is_warned_too() -> None:
    _trial_started(days_ago=40)
    assert daily_warning() == (
        f"The trial ends on {today() + 5 * DAY} (5 days left): install a license "
        "(admin, Licensing) or new connections will be refused"
    )


def test_startup_says_valid_license_installed(settings: Any) -> None:
    settings.CONFIG = load_config(environment(signed(licensee="Example Corp")))
    assert startup_lines() == [
        (
            logging.INFO,
            f"Valid license installed: Example Corp, 25 simultaneous connections, "
            f"expires {today() + 365 * DAY} (365 days left)",
        )
    ]


def test_startup_says_why_a_license_is_refused_and_what_the_trial_allows(
    settings: Any,
) -> None:
    env = {**environment(signed()), "CT_EXPIRATION": "2031-02-29"}
    settings.CONFIG = load_config(env)
    assert startup_lines() == [
        (
            logging.WARNING,
            "No valid license: CT_EXPIRATION: must be a date written YYYY-MM-DD, got '2031-02-29'",
        ),
        (
            logging.INFO,
            f"Trial: 5 simultaneous connections until {today() + 45 * DAY} (45 days left)",
        ),
    ]


def test_startup_names_a_refused_configuration_beside_the_license_in_use(
    settings: Any,
) -> None:
    _install(signed(licensee="Installed Corp", expires=today() + 10 * DAY).to_json())
    settings.CONFIG = load_config({**environment(signed()), "CT_LICENSEE": "Tampered Corp"})
    levels, lines = zip(*startup_lines(), strict=True)
    assert levels == (logging.WARNING, logging.INFO, logging.WARNING)
    assert lines[0].startswith("Configured license refused: CT_SIGNATURE: does not match")
    assert lines[1].startswith("Valid license installed: Installed Corp")
    assert lines[2].startswith("The license for Installed Corp expires on")
    assert daily_warning() is None  # said at startup: not again today


def test_startup_says_new_connections_are_refused_without_license_or_trial() -> None:
    _trial_started(days_ago=50)
    assert startup_lines() == [
        (logging.INFO, "No valid license: no license installed"),
        (
            logging.WARNING,
            f"The trial ended on {today() - 5 * DAY}: new connections are refused",
        ),
    ]
