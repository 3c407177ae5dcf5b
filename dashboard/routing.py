"""WebSocket routes of the portal: the dashboard's live figures."""

from __future__ import annotations

from typing import Any

from channels.auth import AuthMiddlewareStack
from django.urls import re_path

from dashboard.consumers import DashboardConsumer

# Only here does a WebSocket need the signed-in user (a database read per
# handshake); the relay's routes go without (ctserver/asgi.py).
websocket_urlpatterns: list[Any] = [
    re_path(r"^dashboard/live/$", AuthMiddlewareStack(DashboardConsumer.as_asgi())),
]
