"""With single sign-on on, a password sign-in is the break-glass way in: allowed,
and written to the log every time."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from dashboard.signin import client_address
from relay.inputs import printable

logger = logging.getLogger("ctserver.sso")


@receiver(user_logged_in)
def log_break_glass(sender: Any, request: HttpRequest | None, user: Any, **_: Any) -> None:
    if settings.CONFIG.sso is None or user.backend.endswith("SsoBackend"):
        return
    logger.warning(
        "Break-glass sign-in as %r from %s: single sign-on is on, and the environment's "
        "dashboard credentials were used",
        printable(user.get_username()),
        (client_address(request) if request is not None else None) or "an unknown address",
    )
