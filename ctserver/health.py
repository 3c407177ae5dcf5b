"""Health endpoints, answered before Django's middleware so they stay cheap.

``/ct-health/`` says the process serves (liveness); ``/ct-health/ready/`` checks
the database and, when configured, Redis, this server's bus to the others
(relay/bus.py, once a cross-server session started it) and the single sign-on
provider's discovery document (until it has been read once), and answers 503 with the
reasons while any of them fails (readiness). Neither needs authentication or a valid Host
header: load balancers probe by IP address.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection
from redis.asyncio import Redis

from ctserver import __version__
from relay.cluster import running_bus
from sso.discovery import DISCOVERY

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LIVENESS_PATH = "/ct-health/"
READINESS_PATH = "/ct-health/ready/"


@database_sync_to_async
def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


async def _check_redis(url: str, timeout: float) -> None:
    client = Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        await client.ping()
    finally:
        await client.aclose()


async def _outcome(check: Any, timeout: float) -> str:
    try:
        await asyncio.wait_for(check, timeout)
    except TimeoutError:
        return f"error: no answer within {timeout:g} s"
    except Exception as exc:  # any failure means "not ready"; the reason is reported
        return f"error: {exc.__class__.__name__}: {exc}"
    return "ok"


def _bus_outcome() -> str | None:
    """The bus's state without a round trip: its reader and publisher report it."""
    bus = running_bus()
    if bus is None:
        return None
    problem = bus.problem
    return "ok" if problem is None else f"error: {problem}"


async def readiness() -> tuple[int, dict[str, Any]]:
    timeout = settings.CONFIG.health_timeout
    checks = {"database": await _outcome(_check_database(), timeout)}
    if settings.CONFIG.redis_url:
        checks["redis"] = await _outcome(_check_redis(settings.CONFIG.redis_url, timeout), timeout)
    if (bus := _bus_outcome()) is not None:
        checks["bus"] = bus
    if settings.CONFIG.sso is not None:
        # Until the provider's discovery document has been read, nobody can sign in.
        # Once read it is kept, so a provider outage later does not take every server
        # out of its balancer (signed-in users go on working).
        checks["sso"] = await _outcome(asyncio.to_thread(DISCOVERY.endpoints), timeout)
    ready = all(result == "ok" for result in checks.values())
    return (200 if ready else 503), {
        "status": "ready" if ready else "unavailable",
        "checks": checks,
    }


def liveness() -> tuple[int, dict[str, Any]]:
    return 200, {"status": "ok", "version": __version__}


async def health_app(scope: Scope, receive: Receive, send: Send) -> None:
    """A bare ASGI app for the two health paths."""
    if scope["method"] not in ("GET", "HEAD"):
        status, body = 405, {"status": "error", "detail": "use GET"}
    elif scope["path"] == READINESS_PATH:
        status, body = await readiness()
    elif scope["path"] == LIVENESS_PATH:
        status, body = liveness()
    else:
        status, body = 404, {"status": "error", "detail": "not found"}
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send(
        {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else payload}
    )


def with_health_endpoints(app: Any) -> ASGIApp:
    """Answer ``/ct-health/...`` here; pass every other HTTP request to ``app``."""

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"].startswith(LIVENESS_PATH):
            await health_app(scope, receive, send)
        else:
            await app(scope, receive, send)

    return dispatch
