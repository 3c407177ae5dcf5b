"""ASGI entry point: HTTP goes to the health app or Django, WebSockets to the relay."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ctserver.settings")
# Django must be set up before anything below imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import re_path  # noqa: E402

from ctserver.edge import (  # noqa: E402
    limit_request_bodies,
    require_tls_websockets,
    websocket_not_found,
)
from ctserver.health import with_health_endpoints  # noqa: E402
from ctserver.origin import browser_origin_validator  # noqa: E402
from dashboard.routing import websocket_urlpatterns as dashboard_websockets  # noqa: E402
from relay.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": with_health_endpoints(
            limit_request_bodies(django_asgi_app, settings.CONFIG.max_request_bytes)
        ),
        "websocket": require_tls_websockets(
            # No AuthMiddlewareStack around the relay: nothing there reads a Django
            # user, and it would cost every handshake a database trip on the sync
            # thread; only the dashboard's route has it (dashboard/routing.py).
            browser_origin_validator(
                URLRouter(
                    # Channels routes ASGI apps; django-stubs expects views here.
                    [
                        *websocket_urlpatterns,
                        *dashboard_websockets,
                        re_path(r"", websocket_not_found),  # type: ignore[arg-type]
                    ]
                )
            ),
            required=settings.SECURE_SSL_REDIRECT,
        ),
    }
)
