"""With single sign-on on, nothing but health (answered before Django) and the
sign-in pages themselves works anonymously.

HTTP: an API request without a signed-in user is answered 401 ``sign_in_required``;
a page request gets a page that sends the browser to sign in and brings it back,
fragment included, without the fragment ever reaching the provider
(static/sso/sign-in.js). WebSocket: ``require_signed_in_websockets`` refuses the
handshake with 401 ``sign_in_required`` (docs/protocol.md §4).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.crypto import constant_time_compare
from django.utils.module_loading import import_string

from ctserver.edge import refuse_handshake
from relay.api import ApiError

# Reachable without signing in: the sign-in pages, what they load, the break-glass
# password form, and /metrics, which has its own token (CT_METRICS_TOKEN).
OPEN_PREFIXES = ("/sso/", "/static/", "/dashboard/login/", "/admin/login/", "/metrics")

SIGN_IN_REQUIRED = "sign_in_required"
SIGN_IN_MESSAGE = "sign in first: this server admits only users of its single sign-on"


def sign_in_required(get_response: Callable[[HttpRequest], Any]) -> Callable[[HttpRequest], Any]:
    """Django middleware, after AuthenticationMiddleware."""

    def middleware(request: HttpRequest) -> Any:
        if (
            settings.CONFIG.sso is None
            or request.user.is_authenticated
            or request.path.startswith(OPEN_PREFIXES)
        ):
            return get_response(request)
        return refusal(request)

    return middleware


def refusal(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/") or request.method not in ("GET", "HEAD"):
        response = JsonResponse(
            {"error": {"code": SIGN_IN_REQUIRED, "message": SIGN_IN_MESSAGE}}, status=401
        )
        response["WWW-Authenticate"] = 'Bearer realm="ctserver"'
        return response
    # A page: 401 too, with a page whose script goes to /sso/login and back.
    return render(request, "sso/sign_in_first.html", status=401)


@sync_to_async
def _signed_in_user(session_key: str) -> Any:
    """The active user a session cookie stands for, as Django's own get_user checks
    it (the session's auth hash included), or None."""
    engine = import_string(settings.SESSION_ENGINE)
    session = engine.SessionStore(session_key)
    try:
        user_id = session[SESSION_KEY]
        backend = import_string(session[BACKEND_SESSION_KEY])()
    except (KeyError, ImportError):
        return None
    user = backend.get_user(user_id)
    if user is None or not user.is_active:
        return None
    stored_hash = session.get(HASH_SESSION_KEY)
    if not stored_hash or not constant_time_compare(stored_hash, user.get_session_auth_hash()):
        return None
    return user


def _cookie(scope: dict[str, Any], name: str) -> str | None:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for header, value in headers:
        if header == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, content = part.strip().partition("=")
                if key == name and content:
                    return content
    return None


def require_signed_in_websockets(app: Any) -> Any:
    """Refuse a WebSocket handshake from nobody in particular while SSO is on; the
    user it comes from is put in the scope (``ct_user``)."""

    async def gate(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if settings.CONFIG.sso is None:
            await app(scope, receive, send)
            return
        session_key = _cookie(scope, settings.SESSION_COOKIE_NAME)
        user = await _signed_in_user(session_key) if session_key else None
        if user is None:
            await refuse_handshake(receive, send, ApiError(401, SIGN_IN_REQUIRED, SIGN_IN_MESSAGE))
            return
        await app({**scope, "ct_user": user}, receive, send)

    return gate
