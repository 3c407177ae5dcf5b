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
from django.core.exceptions import ObjectDoesNotExist
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.crypto import constant_time_compare
from django.utils.module_loading import import_string

from ctserver import outage
from ctserver.edge import refuse_handshake
from relay.api import ApiError
from relay.identity import UNVERIFIED, PeerIdentity
from sso.tokens import TOKEN_EXPIRED, TOKEN_INVALID, bearer_token, check_access_token

# Reachable without signing in: the sign-in pages, what they load, the break-glass
# password form, /metrics, which has its own token (CT_METRICS_TOKEN), and the
# token endpoints clients call before they have a token (sso/tokens.py).
OPEN_PREFIXES = (
    *("/sso/", "/static/", "/dashboard/login/", "/admin/login/", "/metrics"),
    *("/oauth/token/", "/oauth/revoke_token/", "/oauth/device-authorization/"),
)

SIGN_IN_REQUIRED = "sign_in_required"
SIGN_IN_MESSAGE = "sign in first: this server admits only users of its single sign-on"


def sign_in_required(get_response: Callable[[HttpRequest], Any]) -> Callable[[HttpRequest], Any]:
    """Django middleware, after AuthenticationMiddleware."""

    def middleware(request: HttpRequest) -> Any:
        if settings.CONFIG.sso is None:
            return get_response(request)
        if not request.user.is_authenticated:
            token = bearer_token(request.headers.get("Authorization", ""))
            # A client's token is for hosting and joining (the API, the relay) and
            # downloads; never the dashboard, logs or admin. /metrics reads a bearer
            # token of its own (CT_METRICS_TOKEN).
            if token is not None and request.path.startswith(TOKEN_PATHS):
                check = check_access_token(token)
                if check.user is None:
                    return refusal(request, check.refusal)
                # Looked up here rather than through Django's authenticate(): a
                # token is not a sign-in, and must not count as a failed one.
                request.user = check.user
        if (
            request.user.is_authenticated
            or request.path.startswith(OPEN_PREFIXES)
            or _unverified_guest(request)
        ):
            return get_response(request)
        return refusal(request)

    return middleware


def token_refusal(refusal: str | None) -> ApiError:
    """Why a request or handshake that is not signed in is refused: its token's
    refusal (``TokenCheck.refusal``), if it brought one, says which (a client renews
    an expired one, signs in again else)."""
    if refusal == TOKEN_EXPIRED:
        return ApiError(401, TOKEN_EXPIRED, "the access token has expired: renew it")
    if refusal == TOKEN_INVALID:
        return ApiError(401, TOKEN_INVALID, "the access token is unknown or revoked: sign in again")
    return ApiError(401, SIGN_IN_REQUIRED, SIGN_IN_MESSAGE)


def sso_in_use() -> bool:
    """For templates: whether single sign-on is on (a callable: read per request)."""
    return settings.CONFIG.sso is not None


TOKEN_PATHS = ("/api/", "/clients/")

GUEST_CHOICE = "unverified"  # ?as=unverified on a join page (sign_in_first.html)


def unverified_guests_allowed() -> bool:
    sso = settings.CONFIG.sso
    return sso is not None and sso.allow_unverified_guests


def _unverified_guest(request: HttpRequest) -> bool:
    """A join page asked for without signing in, where the server lets hosts admit
    guests who have no SSO account (CT_SSO_ALLOW_UNVERIFIED_GUESTS)."""
    return (
        unverified_guests_allowed()
        and request.method in ("GET", "HEAD")
        and request.path.startswith("/join/")
        and request.GET.get("as") == GUEST_CHOICE
    )


def refusal(request: HttpRequest, token_problem: str | None = None) -> HttpResponse:
    """``token_problem``: the request's token already looked up (sign_in_required)."""
    authorization = request.headers.get("Authorization", "")
    if authorization or request.path.startswith("/api/") or request.method not in ("GET", "HEAD"):
        if token_problem is None and (token := bearer_token(authorization)) is not None:
            token_problem = check_access_token(token).refusal
        refused = token_refusal(token_problem)
        response = JsonResponse(
            {"error": {"code": refused.code, "message": refused.message}}, status=401
        )
        response["WWW-Authenticate"] = 'Bearer realm="ctserver"'
        return response
    # A page: 401 too, with a page whose script goes to /sso/login and back (or,
    # for a join page where that is allowed, offers to join without signing in).
    choice = unverified_guests_allowed() and request.path.startswith("/join/")
    return render(request, "sso/sign_in_first.html", {"guest_choice": choice}, status=401)


@sync_to_async
def _handshake_identity(session_key: str | None, authorization: str) -> PeerIdentity | ApiError:
    """Who a handshake comes from (its token, else its session cookie), or the
    refusal when it comes from nobody (unless unverified guests are allowed)."""
    token = bearer_token(authorization)
    if token is not None:
        check = check_access_token(token)
        if check.user is None:
            return token_refusal(check.refusal)
        return identity_of(check.user)
    user = _session_user(session_key) if session_key else None
    if user is not None:
        return identity_of(user)
    sso = settings.CONFIG.sso
    if sso is not None and sso.allow_unverified_guests:
        return UNVERIFIED  # a guest only: relay/connection.py refuses such a host
    return token_refusal(None)


def identity_of(user: Any) -> PeerIdentity:
    """A signed-in user as the relay shows them: the provider's identity, or for a
    break-glass account (the environment's credentials) its user name."""
    try:
        sso = user.sso_identity
    except ObjectDoesNotExist:
        return PeerIdentity(True, user.get_username()[:64], user.email, f"local:{user.pk}")
    return PeerIdentity(True, sso.name, sso.email, sso.subject)


def _session_user(session_key: str) -> Any:
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


def _header(scope: dict[str, Any], name: bytes, cookie: str | None = None) -> str | None:
    """A header's value, or with ``cookie`` that cookie's value from the Cookie header."""
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for header, value in headers:
        if header != name:
            continue
        text = value.decode("latin-1")
        if cookie is None:
            return text
        for part in text.split(";"):
            key, _, content = part.strip().partition("=")
            if key == cookie and content:
                return content
    return None


def require_signed_in_websockets(app: Any) -> Any:
    """Refuse a WebSocket handshake from nobody in particular while SSO is on; who
    it comes from is put in the scope (``ct_identity``, relay/identity.py)."""

    async def gate(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if settings.CONFIG.sso is None:
            await app(scope, receive, send)
            return
        session_key = _header(scope, b"cookie", settings.SESSION_COOKIE_NAME)
        try:
            identity = await _handshake_identity(
                session_key, _header(scope, b"authorization") or ""
            )
        except (OperationalError, InterfaceError):  # who it is cannot be looked up now
            identity = ApiError(503, outage.CODE, outage.MESSAGE)
        if isinstance(identity, ApiError):
            await refuse_handshake(receive, send, identity)
            return
        await app({**scope, "ct_identity": identity}, receive, send)

    return gate
