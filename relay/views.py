from __future__ import annotations

import logging
from urllib.parse import urlsplit

from csp.constants import NONCE, SELF
from csp.decorators import csp_update
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from relay import store
from relay.addresses import request_client
from relay.api import ApiError, parse_create
from relay.protocol import VERSION
from sso.gate import identity_of

logger = logging.getLogger("ctserver.relay")


def _error(exc: ApiError) -> HttpResponse:
    return HttpResponse(exc.body(), status=exc.status, content_type="application/json")


def _session_urls(session_id: str) -> dict[str, str]:
    base = settings.CONFIG.server_url
    parts = urlsplit(base)
    ws_scheme = "wss" if parts.scheme == "https" else "ws"
    return {
        "join_url": f"{base}/join/{session_id}",
        "websocket_url": f"{ws_scheme}://{parts.netloc}/ws/v1/sessions/{session_id}",
    }


@csrf_exempt  # a JSON API for clients holding no cookies; nothing to forge
@require_POST
def create_session(request: HttpRequest) -> HttpResponse:
    try:
        wanted = parse_create(request.body)
    except ApiError as exc:
        return _error(exc)
    limits = settings.CONFIG.relay
    address = request_client(request.META)
    # With single sign-on the session history names who created it, as verified.
    signed_in = settings.CONFIG.sso is not None and request.user.is_authenticated
    host = identity_of(request.user) if signed_in else None
    name = host.name if host is not None else wanted.name
    try:
        created = store.create_session(wanted.auto_admit, name, address, limits, host)
    except store.TooManySessions:
        return _error(ApiError(503, "too_many_sessions", "the server has too many open sessions"))
    except store.TooManyFromAddress:
        message = "your address has too many open sessions; end one first"
        return _error(ApiError(429, "too_many_sessions_from_address", message))
    except store.CreatingTooFast as exc:
        message = f"too many sessions created from your address; try again in {exc.retry_after} s"
        response = _error(ApiError(429, "rate_limited", message))
        response["Retry-After"] = str(exc.retry_after)
        return response
    logger.info("Session %s created by %s", created.session_id, address)
    body = {
        "protocol": VERSION,
        "session_id": created.session_id,
        "host_secret": created.host_secret,
        **_session_urls(created.session_id),
        "limits": {
            "max_frame_bytes": limits.max_frame_bytes,
            "max_peers": limits.max_peers,
            "reconnect_grace_seconds": limits.reconnect_grace,
        },
    }
    return JsonResponse(body, status=201)


@require_GET
def session_status(request: HttpRequest, session_id: str) -> HttpResponse:
    if not store.session_is_open(session_id):
        return _error(ApiError(404, "session_not_found", "unknown or ended session"))
    return JsonResponse({"protocol": VERSION, "session_id": session_id, "state": "open"})


# The web client's page (clients/web, built into static/web/): its own scripts only,
# WebSockets back to this server only, and CodeMirror's style elements carry the
# page's nonce (EditorView.cspNonce); the rest comes from CONTENT_SECURITY_POLICY.
WEB_CLIENT_CSP = {
    "script-src": [SELF],
    "style-src": [SELF, NONCE],
    "connect-src": [SELF],
    "img-src": [SELF, "data:"],
    "font-src": [SELF],
}
# Browsers cannot set a WebSocket header: a load balancer routes on this cookie
# instead (docs/protocol.md §2), set to the session id by the page that joins it.
STICKINESS_COOKIE = "ctstickiness"


@require_GET
@csp_update(WEB_CLIENT_CSP)  # type: ignore[arg-type]  # its annotation: views without URL arguments
def join_page(request: HttpRequest, session_id: str) -> HttpResponse:
    if not store.session_is_open(session_id):
        return render(request, "relay/session_missing.html", status=404)
    response = render(request, "relay/join.html", {"session_id": session_id})
    response.set_cookie(
        STICKINESS_COOKIE,
        session_id,
        max_age=24 * 3600,
        secure=request.is_secure(),
        httponly=True,  # only the browser's own WebSocket handshake needs it
        samesite="Lax",
    )
    return response
