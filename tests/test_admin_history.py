"""The session history, download counts and purges in the admin: searchable,
filterable, read-only, and never showing a secret hash."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from dashboard.models import DownloadCount, PurgeRecord
from licensing.models import License
from relay.models import Participant, Session

pytestmark = pytest.mark.django_db

HOST_SECRET = "h0st5ecret" * 6  # stand-ins for the digests: easy to spot in a page
GUEST_SECRET = "gu3st5ecret" * 5
SESSIONS = "/admin/relay/session/"
PARTICIPANTS = "/admin/relay/participant/"
DOWNLOADS = "/admin/dashboard/downloadcount/"


@pytest.fixture
def manager(client: Client) -> Client:
    client.force_login(User.objects.create_superuser("manager", password="unused"))
    return client


def _session(session_id: str, host: str, ended: bool, reason: str = "") -> Session:
    now = timezone.now()
    session = Session.objects.create(
        session_id=session_id,
        host_secret_hash=HOST_SECRET,
        created_by="198.51.100.7",
        last_activity=now,
        ended=now if ended else None,
        end_reason=reason,
    )
    Participant.objects.create(
        session=session,
        peer_id=1,
        display_name=host,
        role="host",
        state="admitted",
        secret_hash=HOST_SECRET,
    )
    Participant.objects.create(
        session=session,
        peer_id=2,
        display_name=f"guest of {host}",
        role="guest",
        state="left",
        secret_hash=GUEST_SECRET,
        client="vscode",
    )
    return session


@pytest.fixture
def history() -> None:
    _session("open-by-ada", "Ada", ended=False)
    _session("ended-by-grace", "Grace", ended=True, reason="host_ended")
    _session("expired-by-linus", "Linus", ended=True, reason="idle")


def _page(browser: Client, url: str, **query: str) -> str:
    response = browser.get(url, query, secure=True)
    assert response.status_code == 200, url
    return response.content.decode()


def _listed(page: str, *session_ids: str) -> set[str]:
    return {session_id for session_id in session_ids if f">{session_id}<" in page}


ALL = ("open-by-ada", "ended-by-grace", "expired-by-linus")


@pytest.mark.usefixtures(history.__name__)
def test_sessions_are_searched_by_id_host_or_guest_name(manager: Client) -> None:
    assert _listed(_page(manager, SESSIONS), *ALL) == set(ALL)
    assert _listed(_page(manager, SESSIONS, q="grace"), *ALL) == {"ended-by-grace"}
    assert _listed(_page(manager, SESSIONS, q="guest of linus"), *ALL) == {"expired-by-linus"}
    assert _listed(_page(manager, SESSIONS, q="open-by"), *ALL) == {"open-by-ada"}


@pytest.mark.usefixtures(history.__name__)
def test_sessions_are_filtered_by_state_and_end_reason(manager: Client) -> None:
    assert _listed(_page(manager, SESSIONS, open="yes"), *ALL) == {"open-by-ada"}
    ended = {"ended-by-grace", "expired-by-linus"}
    assert _listed(_page(manager, SESSIONS, open="no"), *ALL) == ended
    assert _listed(_page(manager, SESSIONS, end_reason="idle"), *ALL) == {"expired-by-linus"}


@pytest.mark.usefixtures(history.__name__)
def test_participants_are_searched_and_filtered(manager: Client) -> None:
    page = _page(manager, PARTICIPANTS, q="grace")
    assert "guest of Grace" in page and "Linus" not in page
    page = _page(manager, PARTICIPANTS, role__exact="host")
    assert "Ada" in page and "guest of" not in page
    page = _page(manager, PARTICIPANTS, state__exact="left")
    assert page.count("guest of") == 3


@pytest.mark.usefixtures(history.__name__)
def test_no_page_shows_or_finds_a_secret_hash(manager: Client) -> None:
    guest = Participant.objects.get(session_id="ended-by-grace", peer_id=2)
    pages = [
        _page(manager, SESSIONS),
        _page(manager, f"{SESSIONS}ended-by-grace/change/"),
        _page(manager, PARTICIPANTS),
        _page(manager, f"{PARTICIPANTS}{guest.pk}/change/"),
    ]
    for page in pages:
        assert HOST_SECRET not in page and GUEST_SECRET not in page
        assert "secret" not in page.lower()
    # The session page shows the rest, its participants included.
    assert "198.51.100.7" in pages[1] and "guest of Grace" in pages[1]
    for url in (SESSIONS, PARTICIPANTS):
        assert "0 results" in _page(manager, url, q=HOST_SECRET[:20])


@pytest.mark.usefixtures(history.__name__)
def test_the_history_cannot_be_changed_or_deleted_in_the_admin(manager: Client) -> None:
    guest = Participant.objects.get(session_id="ended-by-grace", peer_id=2)
    forbidden = [
        f"{SESSIONS}add/",
        f"{SESSIONS}ended-by-grace/delete/",
        f"{PARTICIPANTS}add/",
        f"{PARTICIPANTS}{guest.pk}/delete/",
    ]
    for url in forbidden:
        assert manager.get(url, secure=True).status_code == 403, url
    change = {"end_reason": "forged", "_save": "Save"}
    manager.post(f"{SESSIONS}ended-by-grace/change/", change, secure=True)
    assert Session.objects.get(session_id="ended-by-grace").end_reason == "host_ended"
    delete: dict[str, Any] = {
        "action": "delete_selected",
        "_selected_action": ["ended-by-grace"],
        "post": "yes",
    }
    manager.post(SESSIONS, delete, secure=True)
    assert Session.objects.count() == 3 and Participant.objects.count() == 6
    assert "delete_selected" not in _page(manager, SESSIONS)


def test_downloads_are_searched_and_filtered(manager: Client) -> None:
    today = date.today()
    DownloadCount.objects.create(client="python", version="1.2.0", day=today, count=7)
    DownloadCount.objects.create(client="vscode", version="0.9.1", day=today, count=3)
    DownloadCount.objects.create(
        client="python", version="1.1.0", day=today - timedelta(days=40), count=2
    )
    assert _page(manager, DOWNLOADS).count('class="field-client"') == 3
    page = _page(manager, DOWNLOADS, q="0.9")
    assert page.count('class="field-client"') == 1 and '"field-client">vscode<' in page
    assert _page(manager, DOWNLOADS, client="python").count('class="field-client"') == 2
    assert manager.get(f"{DOWNLOADS}add/", secure=True).status_code == 403


def test_purges_are_listed_read_only(manager: Client) -> None:
    PurgeRecord.objects.create(
        older_than=timezone.now(), sessions=4, participants=9, samples=12, reason="CT_X=1"
    )
    assert "CT_X=1" in _page(manager, "/admin/dashboard/purgerecord/")
    assert manager.get("/admin/dashboard/purgerecord/add/", secure=True).status_code == 403


def test_licenses_have_search_and_filters(manager: Client) -> None:
    license_admin = admin.site._registry[License]
    assert license_admin.search_fields and license_admin.list_filter
    License.objects.create(licensee="Searchable Corp", document="{}", source="admin")
    License.objects.create(licensee="Other Corp", document="{}", source="admin")
    page = _page(manager, "/admin/licensing/license/", q="searchable")
    assert "Searchable Corp" in page and "Other Corp" not in page
