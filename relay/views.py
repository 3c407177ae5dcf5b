from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from relay import store
from relay.api import ApiError, parse_create
from relay.protocol import VERSION


def _error(exc: ApiError) -> JsonResponse:
    return JsonResponse({"error": {"code": exc.code, "message": exc.message}}, status=exc.status)


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
def create_session(request: HttpRequest) -> JsonResponse:
    try:
        wanted = parse_create(request.body)
    except ApiError as exc:
        return _error(exc)
    limits = settings.CONFIG.relay
    try:
        created = store.create_session(wanted.auto_admit, wanted.name, limits.max_open_sessions)
    except store.TooManySessions:
        return _error(ApiError(503, "too_many_sessions", "the server has too many open sessions"))
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
def session_status(request: HttpRequest, session_id: str) -> JsonResponse:
    if not store.session_is_open(session_id):
        return _error(ApiError(404, "session_not_found", "unknown or ended session"))
    return JsonResponse({"protocol": VERSION, "session_id": session_id, "state": "open"})


@require_GET
def join_page(request: HttpRequest, session_id: str) -> HttpResponse:
    if not store.session_is_open(session_id):
        raise Http404("unknown or ended session")
    return render(request, "relay/join.html", {"session_id": session_id})
