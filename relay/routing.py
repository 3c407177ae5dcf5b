"""WebSocket routes of the relay (docs/protocol.md §4)."""

from __future__ import annotations

from django.urls import URLPattern, re_path

from relay.consumers import RelayConsumer
from sso.gate import require_signed_in_websockets

websocket_urlpatterns: list[URLPattern] = [
    re_path(
        r"^ws/v1/sessions/(?P<session_id>[A-Za-z0-9_-]{1,32})$",
        require_signed_in_websockets(RelayConsumer.as_asgi()),
    ),
]
