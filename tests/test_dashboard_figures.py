"""The portal's figures, history, session pages and live consumer, in-process."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dashboard import events, figures, history
from dashboard.downloads import count_download, download_totals
from dashboard.models import DownloadCount, PurgeRecord, ServerStatus, UsageSample
from dashboard.routing import websocket_urlpatterns
from licensing import usage as license_usage
from relay.models import Participant, Session
from relay.stats import BUCKETS, LagWindow, RelayStats

pytestmark = pytest.mark.django_db


def _session(
    session_id: str,
    host: str | None,
    guests: tuple[str, ...] = (),
    ended_after: timedelta | None = None,
    reason: str = "",
    began: timedelta = timedelta(0),
) -> Session:
    created = timezone.now() - began
    session = Session.objects.create(session_id=session_id, last_activity=created)
    Session.objects.filter(pk=session_id).update(
        created=created,
        ended=created + ended_after if ended_after is not None else None,
        end_reason=reason,
    )
    peer_id = 1
    if host is not None:
        Participant.objects.create(
            session=session, peer_id=1, display_name=host, role="host", state="admitted"
        )
    for name in guests:
        peer_id += 1
        Participant.objects.create(
            session=session,
            peer_id=peer_id,
            display_name=name,
            role="guest",
            state="admitted",
            admitted_at=timezone.now(),
        )
    session.refresh_from_db()
    return session


def test_users_online_count_distinct_names_of_open_sessions_only() -> None:
    _session("open1", "Ada", ("Grace", "Linus"))
    _session("open2", "Grace", ("Ada",))  # the same people again: not counted twice
    _session("over", "Ken", ("Dennis",), ended_after=timedelta(minutes=5), reason="host_ended")
    assert figures.users_online() == 3


def test_active_sessions_need_a_host_and_hosted_sessions_survive_purges() -> None:
    _session("open1", "Ada")
    _session("hostless", None)
    _session("over", "Ken", ended_after=timedelta(minutes=5), reason="host_ended")
    PurgeRecord.objects.create(
        older_than=timezone.now(), sessions=7, participants=9, samples=0, reason="test"
    )
    live = figures.live_figures(10.0)
    assert live.active_sessions == 1
    assert live.sessions_hosted == 2 + 7


def test_downloads_are_one_row_per_client_version_and_day() -> None:
    for _ in range(50):
        count_download("python", "0.4.0")
    count_download("python", "0.5.0")
    assert [(t.client, t.version, t.count) for t in download_totals()] == [
        ("python", "0.4.0", 50),
        ("python", "0.5.0", 1),
    ]
    assert DownloadCount.objects.count() == 2


def test_silent_servers_are_marked_and_left_out_of_the_average_lag() -> None:
    now = timezone.now()
    common: dict[str, Any] = {"hostname": "h", "version": "1", "started_at": now}
    ServerStatus.objects.create(server_id="a", updated_at=now, relay_lag_ms=4.0, **common)
    ServerStatus.objects.create(
        server_id="b", updated_at=now, relay_lag_ms=None, loop_lag_ms=2.0, **common
    )
    ServerStatus.objects.create(
        server_id="gone", updated_at=now - timedelta(seconds=31), relay_lag_ms=900.0, **common
    )
    live = figures.live_figures(10.0)
    assert {s.server_id: s.silent for s in live.servers} == {"a": False, "b": False, "gone": True}
    assert live.average_lag_ms == 3.0  # (4 + 2) / 2: the silent one does not count


def test_history_counts_users_sessions_and_peaks_per_day() -> None:
    _session("today1", "Ada", ("Grace",))
    _session("today2", "Ada")
    _session("hostless", None)
    license_usage.record(peak=6, refusals=0)
    UsageSample.objects.create(
        server_id="a",
        taken_at=timezone.now(),
        connections=3,
        peak_connections=9,
        sessions=1,
        users=2,
        relay_lag_ms=1.5,
        loop_lag_ms=0.2,
        frames_relayed=10,
        bytes_relayed=100,
        license_limit=25,
    )
    result = figures.history(days=30)
    assert len(result.days) == 30
    today = result.days[-1]
    assert (today.users, today.sessions, today.peak_connections) == (2, 2, 9)
    assert all(day.sessions == 0 for day in result.days[:-1])
    assert [(p.server_id, p.lag_ms) for p in result.lag] == [("a", 1.5)]
    assert result.as_json()["days"][-1]["day"] == today.day.isoformat()


def test_session_filters() -> None:
    _session("short", "Ada Lovelace", ended_after=timedelta(minutes=3), reason="host_ended")
    _session("long", "Grace", ended_after=timedelta(minutes=90), reason="idle")
    _session(
        "old", "Ada", ended_after=timedelta(minutes=5), reason="idle", began=timedelta(days=10)
    )
    _session("live", "Linus")

    def ids(**query: str) -> list[str]:
        selected = history.SessionFilter.from_query(query)
        assert selected.errors == ()
        return sorted(s.session_id for s in history.sessions(selected))

    assert ids(host="ada") == ["old", "short"]
    assert ids(end_reason="idle") == ["long", "old"]
    assert ids(end_reason="open") == ["live"]
    assert ids(min_minutes="60") == ["long"]
    assert ids(max_minutes="10", end_reason="host_ended") == ["short"]
    today = timezone.now().date().isoformat()
    assert ids(since=today, until=today) == ["live", "long", "short"]
    assert history.end_reasons() == ["host_ended", "idle"]


def test_bad_filter_values_are_reported_not_fatal() -> None:
    selected = history.SessionFilter.from_query({"since": "yesterday", "min_minutes": "-3"})
    assert selected.since is None and selected.min_minutes is None
    assert len(selected.errors) == 2


@pytest.fixture
def staff(client: Client) -> Client:
    client.force_login(User.objects.create_user("op", is_staff=True))
    return client


def test_the_session_pages_show_people_and_never_secrets(staff: Client) -> None:
    session = _session("s1", "<b>Ada</b>", ("Grace",), ended_after=timedelta(minutes=4))
    Session.objects.filter(pk="s1").update(host_secret_hash="f" * 64, end_reason="host_ended")
    listing = staff.get(reverse("dashboard:sessions"), {"host": "ada"}, secure=True)
    assert listing.status_code == 200
    text = listing.content.decode()
    assert "&lt;b&gt;Ada&lt;/b&gt;" in text and "<b>Ada</b>" not in text
    assert "f" * 64 not in text
    detail = staff.get(reverse("dashboard:session", args=[session.session_id]), secure=True)
    page = detail.content.decode()
    assert detail.status_code == 200 and "Grace" in page and "host_ended" in page
    assert staff.get(reverse("dashboard:session", args=["nope"]), secure=True).status_code == 404


def test_the_dashboard_and_its_json_need_staff(client: Client, staff: Client) -> None:
    for name in ("dashboard:home", "dashboard:live", "dashboard:history", "dashboard:sessions"):
        anonymous = Client().get(reverse(name), secure=True)
        assert anonymous.status_code == 302 and "/dashboard/login/" in anonymous["Location"]
        assert staff.get(reverse(name), secure=True).status_code == 200
    live = staff.get(reverse("dashboard:live"), secure=True).json()
    assert set(live) >= {"users_online", "active_sessions", "connections", "average_lag_ms"}
    page = staff.get(reverse("dashboard:home"), secure=True).content.decode()
    assert "vendor/chartjs/chart.umd.min.js" in page
    # Nothing from another host (a CDN): every script, style and link is this server's.
    # (Not a search for "cdn" in the page: its random CSRF token may hold those letters.)
    addresses = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert addresses and not [a for a in addresses if re.match(r"(?i)(?:[a-z]+:)?//", a)]


def test_lag_windows_average_recent_samples_and_bucket_all() -> None:
    window = LagWindow(window=60.0)
    assert window.mean(now=100.0) is None
    window.record(0.002, now=10.0)
    window.record(0.004, now=100.0)
    window.record(5.0, now=100.0)
    assert window.mean(now=100.0) == pytest.approx((0.004 + 5.0) / 2)  # 10.0 is too old
    hist = window.histogram()
    assert hist.count == 3 and hist.buckets[-1] == (BUCKETS[-1], 2)  # 5 s is above every bound
    assert dict(hist.buckets)[0.0025] == 1


class _Link:
    def __init__(self) -> None:
        self.probes: list[Any] = []

    def probe(self, probe: Any) -> None:
        self.probes.append(probe)


def test_one_frame_in_sixty_four_is_timed_to_its_last_delivery() -> None:
    stats = RelayStats()
    links = [_Link(), _Link(), object()]  # the last cannot carry a probe (a remote peer)
    sampled = [n for n in range(1, 129) if stats.relayed(2, 100)]
    assert sampled == [64, 128]
    assert (stats.frames_relayed, stats.bytes_relayed) == (256, 25600)
    stats.probe(links)
    probe = links[0].probes[0]  # type: ignore[attr-defined]
    assert probe is links[1].probes[0]  # type: ignore[attr-defined]
    probe.delivered()
    assert stats.relay_lag.histogram().count == 0  # one receiver still to write it
    probe.delivered()
    assert stats.relay_lag.histogram().count == 1
    assert stats.server_lag() == stats.relay_lag.mean()


# -- the live consumer -----------------------------------------------------------------

with_database = pytest.mark.django_db(transaction=True)


@with_database
async def test_the_live_socket_refuses_anyone_but_staff() -> None:
    not_staff = await database_sync_to_async(User.objects.create_user)("guest")
    for user in (AnonymousUser(), not_staff):
        talk = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/dashboard/live/")
        talk.scope["user"] = user
        connected, _ = await talk.connect()
        assert not connected


@with_database
async def test_the_live_socket_sends_figures_and_coalesces_changes() -> None:
    staff = await database_sync_to_async(User.objects.create_user)("op", is_staff=True)
    talk = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/dashboard/live/")
    talk.scope["user"] = staff
    connected, _ = await talk.connect()
    assert connected
    first = await talk.receive_json_from(timeout=5)
    assert first["type"] == "figures" and first["figures"]["active_sessions"] == 0
    await database_sync_to_async(_session)("new", "Ada", ("Grace",))
    layer = get_channel_layer()
    for _ in range(20):  # a burst of changes
        await layer.group_send(events.GROUP, {"type": events.CHANGED})
    second = await talk.receive_json_from(timeout=5)
    assert second["figures"]["active_sessions"] == 1
    assert second["figures"]["users_online"] == 2
    assert await talk.receive_nothing(timeout=1.5)  # the burst was sent once
    await talk.disconnect()
