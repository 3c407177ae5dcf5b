"""Sign-in protection: lockouts per address and per user name, their log lines, and
the password rules for configured dashboard credentials.

In-process tests drive the login views with Django's test client; the real-server
tests sign in over HTTP from several loopback addresses (Linux routes all of
127.0.0.0/8 to the loopback interface).
"""

from __future__ import annotations

import datetime
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.db.models import F
from django.test import Client, RequestFactory, override_settings

from ctserver.checks import check_dashboard_password
from ctserver.config import ConfigError, Credentials, load_config
from dashboard.credentials import ensure_dashboard_account
from dashboard.signin import log_failed_sign_in
from tests.support.server import REPO, ServerProcess, plain_http_env

PASSWORD = "correct horse battery staple"
DASHBOARD = "/dashboard/login/"
ADMIN = "/admin/login/"
FORGED_NAMES = ["evil\n2026-01-01 ctserver INFO forged", "\x1b[2J"]
NASTY_NAMES = [*FORGED_NAMES, "nul\x00byte", "\u202egnp.exe"]


def _limit() -> int:
    return int(settings.AXES_FAILURE_LIMIT)


# --- configuration ---------------------------------------------------------------------


def test_limits_default_to_five_failures_and_fifteen_minutes() -> None:
    config = load_config({})
    assert (config.login_failure_limit, config.login_lockout_minutes) == (5, 15)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CT_LOGIN_FAILURE_LIMIT", "0"),
        ("CT_LOGIN_FAILURE_LIMIT", "many"),
        ("CT_LOGIN_LOCKOUT_MINUTES", "0"),
        ("CT_LOGIN_LOCKOUT_MINUTES", "1.5"),
    ],
)
def test_bad_limits_are_refused_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_config({variable: value})


def _check_with(**env: str) -> list[Any]:
    with override_settings(CONFIG=load_config(env)):
        return check_dashboard_password()


@pytest.mark.parametrize("password", ["a", "password", "12345678", "operator"])
def test_weak_configured_password_is_an_error_naming_the_variable(password: str) -> None:
    messages = _check_with(CT_DASHBOARD_USER="operator", CT_DASHBOARD_PASSWORD=password)
    assert [m.id for m in messages] == ["ctserver.E005"]
    assert messages[0].msg.startswith("CT_DASHBOARD_PASSWORD is too weak: ")
    assert "CT_DASHBOARD_USER" in messages[0].hint


def test_weak_logs_password_is_an_error_naming_its_variable() -> None:
    messages = _check_with(CT_LOGS_USER="ops", CT_LOGS_PASSWORD="ops")
    assert "CT_LOGS_PASSWORD" in messages[0].msg
    assert "similar to the username" in messages[0].msg


def test_strong_or_generated_passwords_pass() -> None:
    assert _check_with() == []
    assert _check_with(CT_DASHBOARD_USER="operator", CT_DASHBOARD_PASSWORD=PASSWORD) == []
    # The one `make deploy-check` uses.
    deploy = {"CT_DASHBOARD_USER": "operator", "CT_DASHBOARD_PASSWORD": "deploy-check-password"}
    assert _check_with(**deploy) == []


# --- lockouts, in process --------------------------------------------------------------


@pytest.fixture
def operator(db: None) -> str:
    ensure_dashboard_account(Credentials("operator", PASSWORD, "CT_DASHBOARD_USER"))
    return "operator"


def _sign_in(
    client: Client, username: str, password: str, address: str, path: str = DASHBOARD
) -> Any:
    data = {"username": username, "password": password}
    return client.post(path, data, REMOTE_ADDR=address, secure=True)


def _fail(client: Client, usernames: list[str], address: str, path: str = DASHBOARD) -> list[int]:
    return [_sign_in(client, name, "wrong", address, path).status_code for name in usernames]


def _guesses(count: int) -> list[str]:
    return [f"guess-{n}" for n in range(count)]


def test_an_address_is_locked_out_even_with_the_right_password(
    client: Client, operator: str
) -> None:
    statuses = _fail(client, _guesses(_limit()), "10.0.0.1")
    assert statuses == [200] * (_limit() - 1) + [429]
    assert _sign_in(client, operator, PASSWORD, "10.0.0.1").status_code == 429
    assert _sign_in(client, operator, PASSWORD, "10.0.0.2").status_code == 302


def test_a_user_name_is_locked_out_from_every_address(client: Client, operator: str) -> None:
    get_user_model().objects.create_user("other", password=PASSWORD)
    addresses = [f"10.0.1.{n}" for n in range(_limit())]
    statuses = [_sign_in(client, operator, "wrong", a).status_code for a in addresses]
    assert statuses == [200] * (_limit() - 1) + [429]
    assert _sign_in(client, operator, PASSWORD, "10.0.1.200").status_code == 429
    assert _sign_in(client, "other", PASSWORD, "10.0.1.200").status_code == 302


def test_admin_sign_in_counts_and_is_refused_too(client: Client, operator: str) -> None:
    statuses = _fail(client, _guesses(_limit()), "10.0.2.1", path=ADMIN)
    assert statuses[-1] == 429
    assert _sign_in(client, operator, PASSWORD, "10.0.2.1", path=DASHBOARD).status_code == 429
    assert _sign_in(client, operator, PASSWORD, "10.0.2.1", path=ADMIN).status_code == 429


def test_a_successful_sign_in_resets_the_count(client: Client, operator: str) -> None:
    almost = [operator] * (_limit() - 1)
    _fail(client, almost, "10.0.3.1")
    assert _sign_in(client, operator, PASSWORD, "10.0.3.1").status_code == 302
    client.logout()
    assert _fail(client, almost, "10.0.3.1") == [200] * len(almost)


def _age_attempts(minutes: float) -> None:
    """Move every recorded failure into the past, as if that much time went by."""
    AccessAttempt.objects.update(
        attempt_time=F("attempt_time") - datetime.timedelta(minutes=minutes)
    )


def test_the_lockout_ends_after_the_lockout_time(client: Client, operator: str) -> None:
    _fail(client, _guesses(_limit()), "10.0.4.1")
    lockout = settings.CONFIG.login_lockout_minutes
    _age_attempts(lockout - 1)
    assert _sign_in(client, operator, PASSWORD, "10.0.4.1").status_code == 429
    _age_attempts(1.1)
    assert _sign_in(client, operator, PASSWORD, "10.0.4.1").status_code == 302


def test_attempts_refused_during_a_lockout_do_not_extend_it(client: Client, operator: str) -> None:
    _fail(client, _guesses(_limit()), "10.0.5.1")
    lockout = settings.CONFIG.login_lockout_minutes
    _age_attempts(lockout / 2)
    assert _fail(client, _guesses(3), "10.0.5.1") == [429] * 3
    _age_attempts(lockout / 2 + 0.1)
    assert _sign_in(client, operator, PASSWORD, "10.0.5.1").status_code == 302


def test_the_lockout_page_says_why_and_how_long_whoever_asks(client: Client, operator: str) -> None:
    _fail(client, _guesses(_limit()), "10.0.6.1")
    existing = _sign_in(client, operator, PASSWORD, "10.0.6.1")
    unknown = _sign_in(client, "nobody-here", "whatever", "10.0.6.1")
    assert existing.status_code == unknown.status_code == 429
    assert existing.content == unknown.content
    minutes = settings.CONFIG.login_lockout_minutes
    page = existing.content.decode()
    assert "Too many failed sign-ins" in page and f"{minutes} minutes" in page
    assert existing["Retry-After"] == str(minutes * 60)
    assert "dashboard.css" in page  # the dashboard's own layout


def test_the_address_counted_is_the_one_uvicorn_reports(client: Client, operator: str) -> None:
    # A client cannot move its failures to other addresses with a forwarded header.
    for n in range(_limit()):
        client.post(
            DASHBOARD,
            {"username": f"guess-{n}", "password": "wrong"},
            REMOTE_ADDR="10.0.7.1",
            secure=True,
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
        )
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"10.0.7.1"}


# --- log lines ----------------------------------------------------------------------


@pytest.fixture
def signin_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="ctserver.signin")
    return caplog


def _signin_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "ctserver.signin"]


def test_sign_ins_without_a_request_are_not_throttled_but_logged(
    operator: str, signin_log: pytest.LogCaptureFixture
) -> None:
    # Code on the server (a command, the shell) has no client address to count.
    for _ in range(_limit() + 1):
        assert authenticate(username=operator, password="wrong") is None
    assert authenticate(username=operator, password=PASSWORD) is not None
    assert _signin_records(signin_log)[0].getMessage() == (
        "Failed sign-in as 'operator', by code on the server (no request)"
    )


def test_every_failed_sign_in_is_one_line_with_address_and_user_name(
    client: Client, operator: str, signin_log: pytest.LogCaptureFixture
) -> None:
    _fail(client, [operator, *FORGED_NAMES], "10.0.8.1")
    messages = [r.getMessage() for r in _signin_records(signin_log)]
    assert messages == [
        f"Failed sign-in from 10.0.8.1 as {name!r} on {DASHBOARD}"
        for name in [operator, *FORGED_NAMES]
    ]


@pytest.mark.parametrize("username", NASTY_NAMES)
def test_user_names_cannot_forge_or_hide_log_lines(
    username: str, signin_log: pytest.LogCaptureFixture
) -> None:
    request = RequestFactory().post(DASHBOARD, REMOTE_ADDR="10.0.9.1")
    log_failed_sign_in(sender=None, credentials={"username": username}, request=request)
    (message,) = [r.getMessage() for r in _signin_records(signin_log)]
    assert message.isprintable()  # no newline, ESC, NUL or bidi control
    assert repr(username) in message


def test_a_lockout_is_logged_as_a_warning(
    client: Client, operator: str, signin_log: pytest.LogCaptureFixture
) -> None:
    _fail(client, [*_guesses(_limit()), "operator"], "10.0.10.1")
    records = _signin_records(signin_log)
    levels = [r.levelname for r in records]
    assert levels == ["INFO"] * (_limit() - 1) + ["WARNING", "WARNING"]  # one line each
    assert records[-2].getMessage() == (
        f"Sign-in from 10.0.10.1 as 'guess-{_limit() - 1}' on {DASHBOARD} refused: locked out "
        f"after {_limit()} failed sign-ins from that address or as that user name within "
        f"{settings.CONFIG.login_lockout_minutes} minutes"
    )
    assert records[-1].getMessage().startswith("Sign-in from 10.0.10.1 as 'operator' on ")


# --- a real server ---------------------------------------------------------------------

LIMIT = 3
LOCKOUT_MINUTES = 7


@pytest.fixture(scope="module")
def signin_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = plain_http_env(
        CT_DASHBOARD_USER="operator",
        CT_DASHBOARD_PASSWORD=PASSWORD,
        CT_LOGIN_FAILURE_LIMIT=str(LIMIT),
        CT_LOGIN_LOCKOUT_MINUTES=str(LOCKOUT_MINUTES),
    )
    server = ServerProcess(tmp_path_factory.mktemp("signin"), **env).start()
    yield server
    server.stop()


def _from(address: str, server: ServerProcess) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=server.http_url, transport=transport, timeout=10)


def _post_sign_in(
    client: httpx.Client, username: str, password: str, path: str = DASHBOARD, **headers: str
) -> httpx.Response:
    form = client.get(path)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert token, form.text
    data = {"csrfmiddlewaretoken": token[1], "username": username, "password": password}
    return client.post(path, data=data, headers=headers)


def _server_log(server: ServerProcess) -> str:
    return (server.data_dir / "logs" / "server.log").read_text(encoding="utf-8")


def test_real_server_locks_out_an_address_on_dashboard_and_admin(
    signin_server: ServerProcess,
) -> None:
    spoofed = {"X-Forwarded-For": "203.0.113.9"}  # from an untrusted peer: ignored
    with _from("127.0.0.2", signin_server) as attacker:
        names = [*FORGED_NAMES, "guess"]
        statuses = [_post_sign_in(attacker, n, "wrong", **spoofed).status_code for n in names]
        assert statuses == [200] * (LIMIT - 1) + [429]
        refused = _post_sign_in(attacker, "operator", PASSWORD)
        assert refused.status_code == 429
        assert f"{LOCKOUT_MINUTES} minutes" in refused.text
        assert refused.headers["Retry-After"] == str(LOCKOUT_MINUTES * 60)
        assert _post_sign_in(attacker, "operator", PASSWORD, ADMIN).status_code == 429
    with _from("127.0.0.3", signin_server) as operator:
        signed_in = _post_sign_in(operator, "operator", PASSWORD)
        assert (signed_in.status_code, signed_in.headers["location"]) == (302, "/dashboard/")
        assert operator.get("/dashboard/").status_code == 200

    log = _server_log(signin_server)
    for name in FORGED_NAMES:
        assert f"INFO Failed sign-in from 127.0.0.2 as {name!r} on {DASHBOARD}\n" in log
    assert f"WARNING Sign-in from 127.0.0.2 as 'guess' on {DASHBOARD} refused: " in log
    assert f"WARNING Sign-in from 127.0.0.2 as 'operator' on {ADMIN} refused: " in log
    assert not any(line.startswith("2026-01-01") for line in log.splitlines())
    assert "\x1b" not in log and "203.0.113.9" not in log


def test_real_server_locks_out_a_user_name_from_any_address(
    signin_server: ServerProcess,
) -> None:
    _create_account(signin_server, "second")
    statuses = []
    for n in (4, 5, 6):
        with _from(f"127.0.0.{n}", signin_server) as client:
            statuses.append(_post_sign_in(client, "second", "wrong").status_code)
    assert statuses == [200] * (LIMIT - 1) + [429]
    with _from("127.0.0.7", signin_server) as fresh:
        assert _post_sign_in(fresh, "second", PASSWORD).status_code == 429
        assert _post_sign_in(fresh, "operator", PASSWORD).status_code == 302

    log = _server_log(signin_server)
    assert f"INFO Failed sign-in from 127.0.0.5 as 'second' on {DASHBOARD}\n" in log
    assert f"WARNING Sign-in from 127.0.0.7 as 'second' on {DASHBOARD} refused: " in log


def _create_account(server: ServerProcess, username: str) -> None:
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "createsuperuser",
            "--noinput",
            "--username",
            username,
            "--email",
            "",
        ],
        cwd=REPO,
        env={**server.env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD},
        check=True,
        capture_output=True,
    )


def test_weak_dashboard_password_stops_startup(tmp_path: Path) -> None:
    env = plain_http_env(CT_DASHBOARD_USER="operator", CT_DASHBOARD_PASSWORD="password")
    server = ServerProcess(tmp_path / "data", **env)
    with pytest.raises(RuntimeError, match="server did not start"):
        server.start()
    assert server.process is not None and server.process.returncode not in (0, None)
    assert "(ctserver.E005) CT_DASHBOARD_PASSWORD is too weak" in server.output
