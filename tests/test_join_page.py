"""The page a join link opens: the web client's shell under a strict
Content-Security-Policy, the stickiness cookie, and a styled page for a session
that is not open. (The client itself: tests/test_web_client.py.)"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.utils import timezone

from relay import store
from relay.limits import RelayLimits
from relay.models import Session

pytestmark = pytest.mark.django_db


@pytest.fixture
def session_id() -> str:
    return store.create_session(False, "Ada", "127.0.0.1", RelayLimits()).session_id


def _directives(header: str) -> dict[str, list[str]]:
    parts = (part.strip().split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in parts}


def test_the_page_loads_the_web_client_and_nothing_else(client: Client, session_id: str) -> None:
    page = client.get(f"/join/{session_id}", secure=True)
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-session-id="{session_id}"' in html
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts == ['<script type="module" src="/static/web/app.js">']  # no inline script
    assert "<style" not in html and " style=" not in html


def test_a_strict_content_security_policy_with_a_nonce_for_styles(
    client: Client, session_id: str
) -> None:
    page = client.get(f"/join/{session_id}", secure=True)
    policy = _directives(page["Content-Security-Policy"])
    nonce = re.search(r'<meta name="ct-csp-nonce" content="([^"]+)">', page.content.decode())
    assert nonce is not None
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'", f"'nonce-{nonce[1]}'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert "unsafe" not in page["Content-Security-Policy"]
    again = client.get(f"/join/{session_id}", secure=True)
    assert nonce[1] not in again["Content-Security-Policy"]  # a new nonce per page


def test_the_stickiness_cookie_is_the_session_id(client: Client, session_id: str) -> None:
    page = client.get(f"/join/{session_id}", secure=True)
    cookie = page.cookies["ctstickiness"]
    assert cookie.value == session_id
    assert cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"


@pytest.mark.parametrize("ended", [False, True])
def test_a_session_that_is_not_open_gets_a_styled_page(client: Client, ended: bool) -> None:
    session_id = "A" * 22
    if ended:
        session_id = store.create_session(False, "Ada", "127.0.0.1", RelayLimits()).session_id
        Session.objects.filter(session_id=session_id).update(
            ended=timezone.now(), end_reason="host_ended"
        )
    page = client.get(f"/join/{session_id}", secure=True)
    assert page.status_code == 404
    html = page.content.decode()
    assert "This session is not open" in html and "ctserver/dashboard.css" in html
    assert "ctstickiness" not in page.cookies


def test_other_missing_pages_are_styled_too(client: Client) -> None:
    page = client.get("/no/such/page", secure=True)
    assert page.status_code == 404
    assert "ctserver/dashboard.css" in page.content.decode()


@pytest.mark.parametrize("path", ["/static/web/app.js", "/static/web/app.css"])
def test_the_bundle_is_served_compressed(client: Client, path: str) -> None:
    """The build writes a .gz beside each file (clients/web/build.mjs); WhiteNoise
    serves it to browsers that accept gzip, a third of the bytes."""
    plain = client.get(path, secure=True)
    packed = client.get(path, secure=True, headers={"Accept-Encoding": "gzip"})
    assert packed.status_code == plain.status_code == 200
    assert packed["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in plain
    size = int(packed["Content-Length"])
    assert size < int(plain["Content-Length"]) / 2
