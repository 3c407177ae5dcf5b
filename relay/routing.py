"""WebSocket routes of the relay (the protocol arrives with the relay issue)."""

from __future__ import annotations

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
