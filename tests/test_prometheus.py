"""/metrics (CT_PROMETHEUS_ENABLED): who may read it, what it exposes, and a real
server's figures and relay counters after a real session, parsed with
prometheus_client's own parser."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.contrib.auth.models import User
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from dashboard.prometheus import RelayNumbers, exposition
from relay.protocol import CloseCode
from relay.stats import Histogram
from tests.support.figures import sample_figures
from tests.support.peers import admitted_pair, relay_messages
from tests.support.portal import signed_in
from tests.support.server import ServerProcess, plain_http_env
from tests.support.waiting import eventually

StartServer = Callable[..., ServerProcess]
TOKEN = "a-metrics-token-of-some-length"
OPERATOR = ("operator", "operator-password-1234")


def _samples(text: str) -> dict[str, list[Sample]]:
    """Samples by metric family name, as Prometheus would read the page."""
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def _value(samples: dict[str, list[Sample]], family: str, **labels: str) -> float:
    matching = [
        s.value
        for s in samples[family]
        if s.name in (family, family + "_total")
        and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(matching) == 1, (family, labels, samples[family])
    return matching[0]


# ---------------------------------------------------------------------------------------
# Who may read it (in process)


@pytest.fixture
def enabled(settings: Any) -> None:
    monitoring = dataclasses.replace(
        settings.CONFIG.monitoring, prometheus_enabled=True, metrics_token=TOKEN
    )
    settings.CONFIG = dataclasses.replace(settings.CONFIG, monitoring=monitoring)


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.mark.django_db
def test_off_by_default_even_for_staff(client: Client) -> None:
    User.objects.create_user("op", password="pw-op-123456", is_staff=True)
    client.login(username="op", password="pw-op-123456")
    assert client.get("/metrics", secure=True).status_code == 404


@pytest.mark.django_db
@pytest.mark.usefixtures(enabled.__name__)
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer wrong-token-wrong-token",
        "Bearer " + TOKEN[:-1],
        "Bearer",
        "Token " + TOKEN,  # another scheme, right token
        _basic("op", "not-the-password"),
        _basic("clerk", "pw-clerk-123456"),  # active, not staff
        _basic("former", "pw-former-123456"),  # staff, no longer active
        "Basic %%%not-base64",
        "Basic " + base64.b64encode(b"no colon").decode(),
    ],
)
def test_refused_without_a_token_or_a_staff_account(
    client: Client, authorization: str | None
) -> None:
    User.objects.create_user("op", password="pw-op-123456", is_staff=True)
    User.objects.create_user("clerk", password="pw-clerk-123456")
    User.objects.create_user("former", password="pw-former-123456", is_staff=True, is_active=False)
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.get("/metrics", secure=True, headers=headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer realm=")
    assert b"ctserver_" not in response.content


@pytest.mark.django_db
@pytest.mark.usefixtures(enabled.__name__)
def test_a_staff_session_does_not_help_a_request_with_a_wrong_token(client: Client) -> None:
    User.objects.create_user("op", password="pw-op-123456", is_staff=True)
    client.login(username="op", password="pw-op-123456")
    headers = {"Authorization": "Bearer wrong-token-wrong-token"}
    assert client.get("/metrics", secure=True, headers=headers).status_code == 401


@pytest.mark.django_db
@pytest.mark.usefixtures(enabled.__name__)
@pytest.mark.parametrize("how", ["bearer", "basic", "session"])
def test_readable_with_the_token_a_staff_password_or_a_staff_session(
    client: Client, how: str
) -> None:
    User.objects.create_user("op", password="pw-op-123456", is_staff=True)
    headers = {}
    if how == "bearer":
        headers["Authorization"] = f"Bearer {TOKEN}"
    elif how == "basic":
        headers["Authorization"] = _basic("op", "pw-op-123456")
    else:
        client.login(username="op", password="pw-op-123456")
    response = client.get("/metrics", secure=True, headers=headers)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "no-cache" in response["Cache-Control"]
    samples = _samples(response.content.decode())
    assert _value(samples, "ctserver_sessions_active") == 0
    assert "process_resident_memory_bytes" in samples


@pytest.mark.django_db
@pytest.mark.usefixtures(enabled.__name__)
def test_wrong_basic_passwords_count_as_failed_sign_ins(client: Client) -> None:
    """Basic auth goes through the sign-in throttle: guessing here locks like the page."""
    User.objects.create_user("op", password="pw-op-123456", is_staff=True)
    wrong = {"Authorization": _basic("op", "guess")}
    answers = [client.get("/metrics", secure=True, headers=wrong).status_code for _ in range(30)]
    assert answers[0] == 401 and answers[-1] == 429  # 429: locked out, as the sign-in page
    assert set(answers) == {401, 429}
    right = {"Authorization": _basic("op", "pw-op-123456")}
    assert client.get("/metrics", secure=True, headers=right).status_code == 429
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/metrics", secure=True, headers=bearer).status_code == 200


@pytest.mark.django_db
@pytest.mark.usefixtures(enabled.__name__)
def test_only_get(client: Client) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post("/metrics", secure=True, headers=headers).status_code == 405


# ---------------------------------------------------------------------------------------
# What it exposes (a pure function)


def _relay() -> RelayNumbers:
    lag = Histogram(buckets=((0.001, 2), (0.01, 5)), count=6, total=0.5)
    return RelayNumbers(
        frames=1000,
        bytes=256_000,
        refusals={"rate_limited": 4, "bad_frame": 1},
        closes={int(CloseCode.BAD_FRAME): 1, 1000: 7},
        relay_lag=lag,
        loop_lag=Histogram(buckets=((0.001, 9), (0.01, 9)), count=9, total=0.002),
        server_lag=0.0021,
        websockets=12,
    )


def test_the_exposition_holds_the_six_figures_and_the_relay_counters() -> None:
    body, content_type = exposition(sample_figures(), _relay(), accept="")
    assert content_type.startswith("text/plain; version=0.0.4")
    samples = _samples(body.decode())
    assert _value(samples, "ctserver_users_online") == 3
    assert _value(samples, "ctserver_sessions_active") == 2
    assert _value(samples, "ctserver_connections_active") == 5
    assert _value(samples, "ctserver_connections_licensed") == 25
    assert _value(samples, "ctserver_lag_average_seconds") == 0.0025
    assert _value(samples, "ctserver_sessions_hosted") == 40
    assert _value(samples, "ctserver_downloads") == 7
    assert _value(samples, "ctserver_relay_websockets") == 12
    assert _value(samples, "ctserver_relay_frames") == 1000
    assert _value(samples, "ctserver_relay_bytes") == 256_000
    assert _value(samples, "ctserver_relay_refusals", reason="rate_limited") == 4
    assert _value(samples, "ctserver_relay_refusals", reason="bad_frame") == 1
    assert _value(samples, "ctserver_relay_closes", code=str(int(CloseCode.BAD_FRAME))) == 1
    assert _value(samples, "ctserver_relay_closes", code="1000") == 7
    assert _value(samples, "ctserver_server_lag_seconds") == 0.0021
    buckets = {
        s.labels["le"]: s.value
        for s in samples["ctserver_relay_lag_seconds"]
        if s.name.endswith("_bucket")
    }
    assert buckets == {"0.001": 2, "0.01": 5, "+Inf": 6}
    sums = {s.name: s.value for s in samples["ctserver_relay_lag_seconds"]}
    assert sums["ctserver_relay_lag_seconds_count"] == 6
    assert sums["ctserver_relay_lag_seconds_sum"] == 0.5
    assert "ctserver_event_loop_lag_seconds" in samples


def test_openmetrics_when_asked() -> None:
    body, content_type = exposition(
        sample_figures(), _relay(), accept="application/openmetrics-text; version=1.0.0"
    )
    assert content_type.startswith("application/openmetrics-text")
    assert body.decode().endswith("# EOF\n")


# ---------------------------------------------------------------------------------------
# A real server


async def test_a_real_server_exposes_its_session_and_relay_counters(
    start_server: StartServer,
) -> None:
    server = start_server(
        **plain_http_env(
            CT_PROMETHEUS_ENABLED="true",
            CT_METRICS_TOKEN=TOKEN,
            CT_DASHBOARD_USER=OPERATOR[0],
            CT_DASHBOARD_PASSWORD=OPERATOR[1],
        )
    )
    url = f"{server.http_url}/metrics"
    bearer = {"Authorization": f"Bearer {TOKEN}"}

    def scrape() -> dict[str, list[Sample]]:
        response = httpx.get(url, headers=bearer, timeout=10)
        assert response.status_code == 200, response.text
        return _samples(response.text)

    assert httpx.get(url, timeout=10).status_code == 401
    before = scrape()
    assert _value(before, "ctserver_relay_frames") == 0
    async with admitted_pair(server.http_url) as (host, guest):
        await relay_messages(host, guest, 128)  # one frame in 64 is timed
        during = scrape()
        assert _value(during, "ctserver_sessions_active") == 1
        assert _value(during, "ctserver_connections_active") == 2
        assert _value(during, "ctserver_users_online") == 2
        assert _value(during, "ctserver_relay_websockets") == 2
        assert _value(during, "ctserver_relay_frames") >= 128
        assert _value(during, "ctserver_relay_bytes") > 128 * 16
        timed = {s.name: s.value for s in during["ctserver_relay_lag_seconds"]}
        assert timed["ctserver_relay_lag_seconds_count"] >= 1
        # A guest doing what only the host may: refused and closed, and counted.
        await guest.admit(99)
        closed = await guest.wait_for("closed")
        assert closed.data["code"] == CloseCode.PROTOCOL_VIOLATION
        await host.end()
    code = str(int(CloseCode.PROTOCOL_VIOLATION))

    await eventually(
        lambda: _value(scrape(), "ctserver_sessions_active") == 0,
        what="the ended session gone from /metrics",
    )
    final = scrape()
    assert _value(final, "ctserver_sessions_hosted") == 1
    assert _value(final, "ctserver_relay_refusals", reason="protocol_violation") == 1
    assert _value(final, "ctserver_relay_closes", code=code) == 1
    # A staff account's password works as basic auth, a browser's session too.
    basic = httpx.get(url, auth=OPERATOR, timeout=10)
    assert basic.status_code == 200 and "ctserver_relay_frames_total" in basic.text
    browser = signed_in(server, *OPERATOR)
    try:
        assert browser.get("/metrics").status_code == 200
    finally:
        browser.close()


def test_docs_metrics_names_every_metric() -> None:
    body, _ = exposition(sample_figures(), _relay(), accept="")
    names = {s.name for family in _samples(body.decode()).values() for s in family}
    ours = {n.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum") for n in names}
    ours = {n for n in ours if n.startswith("ctserver_")}
    document = (Path(__file__).resolve().parents[1] / "docs" / "metrics.md").read_text()
    assert ours and not {n for n in ours if f"`{n}" not in document}
