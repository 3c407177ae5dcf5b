"""Sign-in protection around django-axes (configured in ``ctserver/settings.py``).

axes counts failed sign-ins per client address and per user name, in the database,
and refuses both once either reaches ``CT_LOGIN_FAILURE_LIMIT`` within
``CT_LOGIN_LOCKOUT_MINUTES``. This module gives it the client address, the page a
locked-out client sees, and writes one log line per failure and per refusal.
"""

from __future__ import annotations

import logging
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

logger = logging.getLogger("ctserver.signin")


def client_address(request: HttpRequest) -> str | None:
    """The address uvicorn reports. It already took the client's address from
    forwarded headers when, and only when, the connection came from
    CT_TRUSTED_PROXIES; reading those headers again here would let anyone pick
    the address they are counted under."""
    return request.META.get("REMOTE_ADDR")


class SignInThrottle(AxesStandaloneBackend):  # type: ignore[misc]
    """axes' backend, except for ``authenticate()`` calls without a request: axes
    refuses those with an exception, but they come from code running on the
    server (a management command, the shell, a test), with no client to count."""

    def authenticate(self, request: HttpRequest | None, **credentials: Any) -> None:
        if request is not None:
            super().authenticate(request, **credentials)


def locked_out(request: HttpRequest, *_ignored: Any) -> HttpResponse:
    """The response to a refused sign-in (``AXES_LOCKOUT_CALLABLE``). It is the
    same whatever the user name, so it never tells whether that user exists.
    (axes also passes its own response and the credentials, in an order that
    differs between its sync and async paths; neither is needed.)"""
    minutes = settings.CONFIG.login_lockout_minutes
    response = render(request, "dashboard/locked_out.html", {"minutes": minutes}, status=429)
    # Refused attempts do not count, so the lockout ends within this time.
    response["Retry-After"] = str(minutes * 60)
    return response


# One line per failed sign-in: INFO while it only counts, WARNING once it is refused
# for a lockout. The user name is whatever the client typed: %r escapes newlines,
# ESC, NUL and bidi controls, so it can neither forge a log line nor hide part of one.


@receiver(user_login_failed)
def log_failed_sign_in(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **_: Any
) -> None:
    # axes' receiver ran first (connected when axes.signals was imported above) and
    # has flagged a refused attempt, which log_lockout reports.
    username = credentials.get("username")
    if request is None:
        logger.info("Failed sign-in as %r, by code on the server (no request)", username)
    elif not getattr(request, "axes_locked_out", False):
        logger.info("Failed sign-in from %s as %r on %s", _address(request), username, request.path)


@receiver(user_locked_out)
def log_lockout(sender: Any, request: HttpRequest, username: str | None, **_: Any) -> None:
    logger.warning(
        "Sign-in from %s as %r on %s refused: locked out after %d failed sign-ins from "
        "that address or as that user name within %d minutes",
        _address(request),
        username,
        request.path,
        settings.CONFIG.login_failure_limit,
        settings.CONFIG.login_lockout_minutes,
    )


def _address(request: HttpRequest) -> str:
    return client_address(request) or "an unknown address"
