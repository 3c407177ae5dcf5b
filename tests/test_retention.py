"""Retention: what ended before the cut-off goes with its participants, usage
samples too, and expired sign-ins; open sessions never go; each purge is recorded
and the total of sessions hosted still counts what went."""

from __future__ import annotations

from datetime import datetime, timedelta
from importlib import import_module
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session as SignIn
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from dashboard import figures
from dashboard.models import PurgeRecord, UsageSample
from dashboard.retention import apply_retention, expired, purge_history
from relay.models import Participant, Session

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def _session(
    session_id: str, created_days_ago: int, ended_days_ago: int | None, guests: int = 1
) -> Session:
    now = timezone.now()
    session = Session.objects.create(
        session_id=session_id,
        last_activity=now,
        ended=None if ended_days_ago is None else now - ended_days_ago * DAY,
    )
    # auto_now_add fields are set on save; the test moves them into the past.
    Session.objects.filter(pk=session_id).update(created=now - created_days_ago * DAY)
    roles = ["host"] + ["guest"] * guests
    for peer_id, role in enumerate(roles, start=1):
        Participant.objects.create(
            session=session, peer_id=peer_id, display_name=f"p{peer_id}", role=role, state="left"
        )
    return session


def _sample(days_ago: int) -> UsageSample:
    return UsageSample.objects.create(
        server_id="s1",
        taken_at=timezone.now() - days_ago * DAY,
        connections=1,
        peak_connections=1,
        sessions=1,
        users=1,
        loop_lag_ms=0.1,
        frames_relayed=0,
        bytes_relayed=0,
        license_limit=5,
    )


def _sign_in(expires: datetime) -> str:
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store["who"] = "operator"
    store.set_expiry(expires)
    store.create()
    return str(store.session_key)


@pytest.fixture
def history() -> None:
    _session("old-ended", created_days_ago=400, ended_days_ago=399, guests=2)
    _session("old-open", created_days_ago=400, ended_days_ago=None)
    _session("recent-ended", created_days_ago=10, ended_days_ago=9)
    _session("recent-open", created_days_ago=1, ended_days_ago=None)
    # Created long ago, ended just now: it is the end that counts.
    _session("long-lived", created_days_ago=500, ended_days_ago=0)
    # A host who never joined: purged, but no "hosted" session.
    Session.objects.create(
        session_id="never-hosted",
        last_activity=timezone.now(),
        ended=timezone.now() - 398 * DAY,
        end_reason="host_never_joined",
    )
    for days_ago in (500, 366, 364, 1):
        _sample(days_ago)


def _kept() -> set[str]:
    return set(Session.objects.values_list("session_id", flat=True))


@pytest.mark.usefixtures(history.__name__)
def test_sessions_that_ended_before_the_cut_off_go_with_their_participants() -> None:
    hosted_before = figures.sessions_hosted()
    record = apply_retention(365)
    assert _kept() == {"old-open", "recent-ended", "recent-open", "long-lived"}
    assert not Participant.objects.filter(session_id="old-ended").exists()
    assert Participant.objects.count() == 8  # 2 each in the four kept sessions
    assert [s.taken_at.date() for s in UsageSample.objects.all()] == [
        (timezone.now() - days * DAY).date() for days in (1, 364)
    ]
    assert (record.sessions, record.participants, record.samples) == (1, 3, 2)
    assert record.reason == "CT_HISTORY_DAYS=365"
    assert abs(record.older_than - (timezone.now() - 365 * DAY)) < timedelta(minutes=1)
    assert figures.sessions_hosted() == hosted_before == 5


@pytest.mark.usefixtures(history.__name__)
def test_open_sessions_are_never_purged_however_old() -> None:
    purge_history(timezone.now() + DAY, "everything that ended")
    assert _kept() == {"old-open", "recent-open"}
    assert Participant.objects.filter(session_id="old-open").count() == 2


@pytest.mark.usefixtures(history.__name__)
def test_sessions_hosted_keeps_counting_across_purges() -> None:
    assert figures.sessions_hosted() == 5
    purge_history(timezone.now() - 100 * DAY, "first")
    purge_history(timezone.now() - 5 * DAY, "second")
    purge_history(timezone.now() - 5 * DAY, "again, nothing left to purge")
    assert _kept() == {"old-open", "recent-open", "long-lived"}
    assert [r.sessions for r in PurgeRecord.objects.order_by("id")] == [1, 1, 0]
    assert figures.sessions_hosted() == 5


@pytest.mark.usefixtures(history.__name__)
def test_expired_counts_what_a_purge_would_delete_and_deletes_nothing() -> None:
    going = expired(timezone.now() - 365 * DAY)
    assert (going.sessions, going.hosted, going.participants, going.samples) == (2, 1, 3, 2)
    assert len(_kept()) == 6 and UsageSample.objects.count() == 4


def test_expired_sign_ins_are_cleared_and_live_ones_kept() -> None:
    stale = _sign_in(timezone.now() - timedelta(minutes=1))
    live = _sign_in(timezone.now() + timedelta(hours=1))
    apply_retention(30)
    assert set(SignIn.objects.values_list("session_key", flat=True)) == {live}
    assert stale != live


def test_retention_of_less_than_a_day_is_refused() -> None:
    # CT_HISTORY_DAYS=0 means "keep everything": applied, it would delete everything.
    with pytest.raises(ValueError, match="at least 1 day"):
        apply_retention(0)
    assert not PurgeRecord.objects.exists()


# --- manage.py purge_history -------------------------------------------------------------


def _command(*args: str) -> str:
    out = StringIO()
    call_command("purge_history", *args, stdout=out)
    return out.getvalue()


@pytest.mark.usefixtures(history.__name__)
def test_dry_run_says_what_would_go_and_keeps_it() -> None:
    said = _command("--older-than", "365", "--dry-run")
    assert said.startswith(
        "Would delete 2 ended sessions (1 hosted), 3 participants and 2 usage samples from before "
    )
    assert "Nothing deleted." in said
    assert len(_kept()) == 6 and not PurgeRecord.objects.exists()


@pytest.mark.usefixtures(history.__name__)
def test_the_command_purges_and_records_it() -> None:
    said = _command("--older-than", "30")
    assert said.startswith(
        "Deleted 2 ended sessions (1 hosted), 3 participants and 3 usage samples from before "
    )
    assert _kept() == {"old-open", "recent-ended", "recent-open", "long-lived"}
    record = PurgeRecord.objects.get()
    assert (record.reason, record.sessions) == ("purge_history --older-than 30", 1)
    assert figures.sessions_hosted() == 5


@pytest.mark.parametrize("days", ["0", "-3"])
def test_the_command_refuses_less_than_a_day(days: str) -> None:
    with pytest.raises(CommandError, match=f"--older-than must be at least 1 day, got {days}"):
        _command("--older-than", days)
    assert not PurgeRecord.objects.exists()


def test_the_command_needs_a_number_of_days() -> None:
    with pytest.raises(CommandError, match="--older-than"):
        _command()
    with pytest.raises(CommandError, match="invalid int value: 'soon'"):
        _command("--older-than", "soon")
