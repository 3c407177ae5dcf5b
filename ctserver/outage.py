"""When the database cannot be reached: a clear 503, not a server error.

A request that needs the database while it is down (PostgreSQL restarting, a
network cut) gets ``503 database_unavailable`` with ``Retry-After`` from the API,
or a page saying so, and one log line per outage, not a traceback per request.
Health answers before Django (ctserver/health.py) and reports it on readiness.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

logger = logging.getLogger("ctserver")

RETRY_AFTER_SECONDS = 5
QUIET_SECONDS = 60  # one log line per this long while the outage lasts
CODE = "database_unavailable"
MESSAGE = "the server cannot reach its database; try again in a few seconds"


class _Reported:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0.0

    def due(self) -> bool:
        with self._lock:
            now = time.monotonic()
            if now - self._last < QUIET_SECONDS:
                return False
            self._last = now
            return True


_REPORTED = _Reported()


class DatabaseOutage:
    """Django middleware: turns a lost database into 503 (see the module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        if _REPORTED.due():
            logger.error("The database cannot be reached (%s); answering 503", exception)
        if request.path.startswith("/api/"):
            response: HttpResponse = JsonResponse(
                {"error": {"code": CODE, "message": MESSAGE}}, status=503
            )
        else:
            response = render(request, "database_unavailable.html", status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
