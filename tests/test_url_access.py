"""Every URL of the project refuses anonymous visitors unless it is listed below as
public, with the reason.

The test walks every pattern Django knows (the admin's included), makes a concrete
URL for each, and asks for it without signing in: GET, and POST as well where GET
is not allowed. A pattern that answers 2xx and is not in PUBLIC fails the test, so
a page added without a login check is caught the day it is added.

Answered before Django, and so not patterns here: the health endpoints
(``/ct-health/``, ``/ct-health/ready/``, ctserver/health.py) and static files
(WhiteNoise); the WebSocket routes are checked by their own tests.
"""

from __future__ import annotations

import dataclasses
import re
import types
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import (
    URLPattern,
    URLResolver,
    get_resolver,
    path,
    resolve,
)
from django.urls.converters import (
    IntConverter,
    PathConverter,
    SlugConverter,
    StringConverter,
    UUIDConverter,
)
from django.urls.resolvers import RegexPattern, RoutePattern

from ctserver import urls as project_urls
from ctserver.datadir import DataDir
from dashboard.models import DownloadCount
from relay.models import Participant, Session

# Public patterns, by their full route, each with why it is public.
PUBLIC = {
    # The relay's session API: clients create sessions and read their state
    # without an account (relay/views.py; refusals and limits are its own tests).
    "api/v1/sessions": "session API: create",
    "api/v1/sessions/<str:session_id>": "session API: status",
    # The page a guest's invitation link opens.
    "join/<str:session_id>": "join page",
    # Client downloads: anyone about to join a session needs a client.
    "clients/": "client downloads",
    "clients/<str:client>/": "client downloads",
    "clients/<str:client>/<str:filename>": "client downloads",
    # The sign-in pages.
    "dashboard/login/": "sign-in",
    "admin/login/": "sign-in",
    # Single sign-on (sso/): the signed-out page, and the page that returns a
    # browser to where it was after signing in (neither shows anything of anyone).
    "sso/logout": "single sign-on: signed out",
    "sso/return": "single sign-on: back after sign-in",
}

OBJECT_ID = "1"  # every model below has a row with this primary key
SAMPLES: dict[type, str] = {
    IntConverter: OBJECT_ID,
    StringConverter: OBJECT_ID,
    SlugConverter: OBJECT_ID,
    PathConverter: OBJECT_ID,
    UUIDConverter: str(uuid.UUID(int=1)),
}
# Parameters whose plausible value is not an object id, by name.
NAMED_SAMPLES = {"name": "server.log"}  # /logs/files/<name>: the fixture writes it
PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
ALTERNATIVE = re.compile(r"\(\?P<\w+>([\w-]+)(?:\|[\w|-]+)?\)")
ANYTHING = re.compile(r"\(\?P<\w+>\.\*\)")


@dataclass(frozen=True)
class Found:
    route: str  # the full route, as in PUBLIC
    url: str  # a concrete URL that resolves to it
    pattern: URLPattern


def _route_and_url(
    pattern: RoutePattern | RegexPattern, url_prefix: str, route_prefix: str
) -> tuple[str, str]:
    text = str(pattern)
    if isinstance(pattern, RoutePattern):
        url = PARAMETER.sub(lambda m: _sample(pattern, m["name"]), text)
        return route_prefix + text, url_prefix + url
    # The admin's regular expressions: its app list (^(?P<app_label>auth|...)/$) and
    # its catch-all ((?P<url>.*)$). Anything else fails in _walk, asking to be taught.
    bare = text.removeprefix("^").removesuffix("$")
    url = ANYTHING.sub(OBJECT_ID, ALTERNATIVE.sub(r"\1", bare))
    return route_prefix + bare, url_prefix + url


def _sample(pattern: RoutePattern, name: str) -> str:
    if name in NAMED_SAMPLES:
        return NAMED_SAMPLES[name]
    converter = pattern.converters[name]
    if type(converter) not in SAMPLES:
        raise AssertionError(f"no sample value for converter {converter!r}: add one to SAMPLES")
    return SAMPLES[type(converter)]


def walk(
    resolver: URLResolver | None = None, url_prefix: str = "/", route_prefix: str = ""
) -> list[Found]:
    """Every pattern under ``resolver`` (the project's by default), with a URL for it."""
    resolver = resolver or get_resolver()
    found = []
    for entry in resolver.url_patterns:
        route, url = _route_and_url(entry.pattern, url_prefix, route_prefix)  # type: ignore[arg-type]
        if isinstance(entry, URLResolver):
            found += walk(entry, url, route)
            continue
        match = resolve(url)
        if match.func is not entry.callback:
            raise AssertionError(
                f"{url} was made for {route!r} but resolves to {match.route!r}: "
                "teach _route_and_url this kind of pattern"
            )
        found.append(Found(route, url, entry))
    return found


def open_to_anonymous(client: Client) -> dict[str, str]:
    """Route -> what answered 2xx to an anonymous request, for every pattern."""
    opened = {}
    for found in walk():
        for method in ("get", "post"):
            response = getattr(client, method)(found.url, secure=True)
            if 200 <= response.status_code < 300:
                opened[found.route] = f"{method.upper()} {found.url}: {response.status_code}"
                break
            if response.status_code != 405:
                break  # POST only where GET is not allowed
    return opened


@pytest.fixture
def rows(settings: Any, tmp_path: Path) -> None:
    """A row with primary key 1 in the history tables and users, and a log file, so
    that a detail page or download left open would answer 200 rather than 404.
    /metrics is on (it is a 404 otherwise), with a token the walk does not send."""
    monitoring = dataclasses.replace(
        settings.CONFIG.monitoring, prometheus_enabled=True, metrics_token="t" * 32
    )
    settings.CONFIG = dataclasses.replace(settings.CONFIG, monitoring=monitoring)
    settings.DATA = DataDir(tmp_path)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "server.log").write_text("a log line\n")
    User.objects.create_superuser("1", password="unused")
    session = Session.objects.create(session_id=OBJECT_ID, last_activity="2026-01-01T00:00Z")
    Participant.objects.create(
        session=session, peer_id=1, display_name="Ada", role="host", state="admitted"
    )
    DownloadCount.objects.create(client="python", version="1", day="2026-01-01", count=1)


@pytest.mark.django_db
@pytest.mark.usefixtures(rows.__name__)
def test_every_url_but_the_public_ones_refuses_anonymous_visitors(client: Client) -> None:
    opened = open_to_anonymous(client)
    unexpected = {route: answer for route, answer in opened.items() if route not in PUBLIC}
    assert unexpected == {}, "open to anyone, and not in PUBLIC"


@pytest.mark.django_db
def test_the_public_list_names_only_patterns_that_exist() -> None:
    routes = {found.route for found in walk()}
    assert set(PUBLIC) <= routes, "PUBLIC lists a route that no longer exists"


def test_the_walk_reaches_the_portal_the_logs_and_the_admin() -> None:
    routes = {found.route for found in walk()}
    expected = {
        "dashboard/",
        "dashboard/sessions/<str:session_id>/",
        "logs",
        "logs/",
        "logs/files/<str:name>",
        "metrics",
        "admin/",
        "admin/relay/session/<path:object_id>/change/",
        "admin/licensing/license/install/",
    }
    assert expected <= routes
    assert any(route.startswith("admin/(?P<app_label>") for route in routes)


def _open_view(request: HttpRequest, n: int) -> HttpResponse:
    return HttpResponse("anyone can read this")


@pytest.mark.django_db
def test_a_new_page_without_a_login_check_is_caught(client: Client, settings: Any) -> None:
    urlconf = types.ModuleType("urls_with_an_open_page")
    urlconf.urlpatterns = [  # type: ignore[attr-defined]
        path("dashboard/forgotten/<int:n>/", _open_view),
        *project_urls.urlpatterns,
    ]
    settings.ROOT_URLCONF = urlconf
    opened = open_to_anonymous(client)
    assert opened["dashboard/forgotten/<int:n>/"] == "GET /dashboard/forgotten/1/: 200"
