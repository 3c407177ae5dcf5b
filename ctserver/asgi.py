"""ASGI entry point: HTTP goes to the health app or Django, WebSockets to the relay."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ctserver.settings")
# Django must be set up before anything below imports models.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from ctserver.health import with_health_endpoints  # noqa: E402
from ctserver.origin import browser_origin_validator  # noqa: E402
from relay.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": with_health_endpoints(django_asgi_app),
        "websocket": browser_origin_validator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
