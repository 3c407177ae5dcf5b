"""WebSocket origin checking that lets non-browser clients in.

Browsers always send ``Origin``; a WebSocket from another site is refused as
Channels' ``AllowedHostsOriginValidator`` does. IDE plugins and ``ctclient`` send
none, and are admitted: nothing in a WebSocket without an Origin rides on a
browser's ambient cookies, which is what origin checks defend against.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import ParseResult

from channels.security.websocket import OriginValidator
from django.conf import settings


class BrowserOriginValidator(OriginValidator):  # type: ignore[misc]
    def valid_origin(self, parsed_origin: ParseResult | None) -> bool:
        if parsed_origin is None:
            return True
        return bool(super().valid_origin(parsed_origin))


def browser_origin_validator(application: Any) -> BrowserOriginValidator:
    hosts = settings.ALLOWED_HOSTS
    return BrowserOriginValidator(application, ["*"] if settings.DEBUG and not hosts else hosts)
