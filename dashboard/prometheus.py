"""/metrics: the dashboard's figures and this server's relay counters in Prometheus'
text format, with CT_PROMETHEUS_ENABLED (off: 404). Names, units and set-up in
docs/metrics.md.

Everything is read when Prometheus scrapes, never kept up to date on the relay's
path: the relay already counts its frames as plain integers (relay/stats.py).
The live figures come from the database in a worker thread; the relay's numbers
are copied on the event loop, which is the thread that writes them.

Never anonymous. Accepted, in this order:

- ``Authorization: Bearer <CT_METRICS_TOKEN>``, when that token is set (the cheap
  way: a constant-time comparison);
- ``Authorization: Basic`` with the user name and password of an active staff
  account, so Prometheus' ``basic_auth`` works without a token. These count as
  sign-ins: failures are logged and locked out like the sign-in page's;
- without an Authorization header, a signed-in staff session (a browser).

Anything else answers 401 with a ``WWW-Authenticate`` challenge.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import authenticate
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.utils import floatToGoString

from dashboard.figures import LiveFigures, live_figures
from relay.consumers import CONNECTIONS
from relay.stats import STATS, Histogram

CHALLENGE = 'Bearer realm="ctserver metrics", Basic realm="ctserver metrics", charset="UTF-8"'


@dataclass(frozen=True)
class RelayNumbers:
    """This process's relay counters at one instant."""

    frames: int
    bytes: int
    refusals: dict[str, int]
    closes: dict[int, int]
    relay_lag: Histogram
    loop_lag: Histogram
    server_lag: float  # seconds
    websockets: int

    @classmethod
    def now(cls) -> RelayNumbers:
        """To be called on the event loop: the relay changes these between awaits only."""
        return cls(
            frames=STATS.frames_relayed,
            bytes=STATS.bytes_relayed,
            refusals=dict(STATS.refusals),
            closes=dict(STATS.closes),
            relay_lag=STATS.relay_lag.histogram(),
            loop_lag=STATS.loop_lag.histogram(),
            server_lag=STATS.server_lag(),
            websockets=CONNECTIONS.total,
        )


def _histogram(name: str, documentation: str, histogram: Histogram) -> HistogramMetricFamily:
    buckets = [(floatToGoString(bound), count) for bound, count in histogram.buckets]
    buckets.append(("+Inf", histogram.count))
    return HistogramMetricFamily(name, documentation, buckets, histogram.total, unit="seconds")


class ScrapeCollector:
    """One scrape's metrics (prometheus_client calls ``collect`` as it renders them)."""

    def __init__(self, figures: LiveFigures, relay: RelayNumbers) -> None:
        self.figures, self.relay = figures, relay

    def collect(self) -> Iterator[Metric]:
        yield from self._deployment()
        yield from self._server()

    def _deployment(self) -> Iterator[Metric]:
        """The dashboard's figures: the whole deployment, the same on every server."""
        f = self.figures
        yield GaugeMetricFamily(
            "ctserver_users_online",
            "Different display names among hosts and admitted guests of open sessions",
            f.users_online,
        )
        yield GaugeMetricFamily(
            "ctserver_sessions_active", "Open sessions whose host joined", f.active_sessions
        )
        yield GaugeMetricFamily(
            "ctserver_connections_active",
            "Connections holding a license place (hosts and admitted guests)",
            f.connections,
        )
        yield GaugeMetricFamily(
            "ctserver_connections_licensed",
            "Simultaneous connections the license (or the trial) allows",
            f.connection_limit,
        )
        yield GaugeMetricFamily(
            "ctserver_lag_average_seconds",
            "Average server lag: the mean over the servers reporting now",
            f.average_lag_ms / 1000,
            unit="seconds",
        )
        yield CounterMetricFamily(
            "ctserver_sessions_hosted",
            "Sessions whose host joined, since the deployment began",
            f.sessions_hosted,
        )
        yield CounterMetricFamily(
            "ctserver_downloads", "Client downloads from /clients/, every client", f.downloads
        )

    def _server(self) -> Iterator[Metric]:
        """This server process's relay: sum them over the servers."""
        r = self.relay
        yield GaugeMetricFamily(
            "ctserver_relay_websockets", "WebSockets open on this server", r.websockets
        )
        yield CounterMetricFamily(
            "ctserver_relay_frames",
            "Data frames relayed: one frame to three receivers counts three",
            r.frames,
        )
        yield CounterMetricFamily(
            "ctserver_relay_bytes", "Bytes of data frames relayed, counted like frames", r.bytes
        )
        refusals = CounterMetricFamily(
            "ctserver_relay_refusals",
            "Errors sent to clients, by code (docs/protocol.md)",
            labels=["reason"],
        )
        for reason, count in sorted(r.refusals.items()):
            refusals.add_metric([reason], count)
        yield refusals
        closes = CounterMetricFamily(
            "ctserver_relay_closes",
            "WebSockets the relay closed, by close code (docs/protocol.md)",
            labels=["code"],
        )
        for code, count in sorted(r.closes.items()):
            closes.add_metric([str(code)], count)
        yield closes
        yield GaugeMetricFamily(
            "ctserver_server_lag_seconds",
            "This server's average lag: mean relay lag over 60 s, else event-loop lag",
            r.server_lag,
            unit="seconds",
        )
        yield _histogram(
            "ctserver_relay_lag",
            "Relay lag of sampled frames (1 in 64), from read to the last local receiver's write",
            r.relay_lag,
        )
        yield _histogram(
            "ctserver_event_loop_lag",
            "How late a 0.25 s timer fires on this server's event loop",
            r.loop_lag,
        )


def exposition(figures: LiveFigures, relay: RelayNumbers, accept: str) -> tuple[bytes, str]:
    """The page's body and content type, in the format ``accept`` asks for."""
    registry = CollectorRegistry()  # its own: nothing else in the process registers here
    registry.register(ScrapeCollector(figures, relay))
    ProcessCollector(registry=registry)  # process_*: CPU, memory, open files
    encode, content_type = choose_encoder(accept)
    return encode(registry), content_type


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def token_matches(given: str) -> bool:
    """In constant time, whatever the lengths (both sides are hashed first)."""
    token = settings.CONFIG.monitoring.metrics_token
    return token is not None and hmac.compare_digest(_digest(given), _digest(token))


def _basic_credentials(value: str) -> tuple[str, str] | None:
    try:
        decoded = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, colon, password = decoded.partition(":")
    return (username, password) if colon else None


def authorized(request: HttpRequest) -> bool:
    """The module's docstring says who. Synchronous: it may check a password (in a
    worker thread, through the sign-in throttle) and read the session."""
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer":
        return token_matches(value.strip())
    if scheme.lower() == "basic":
        credentials = _basic_credentials(value.strip())
        if credentials is None:
            return False
        user = authenticate(request, username=credentials[0], password=credentials[1])
        return _staff(user)
    return not scheme and _staff(request.user)  # another scheme: refused


def _staff(user: object) -> bool:
    return bool(getattr(user, "is_active", False) and getattr(user, "is_staff", False))


def refused() -> HttpResponse:
    response = HttpResponse(
        "/metrics needs CT_METRICS_TOKEN as a bearer token, or a staff account "
        "(basic auth or signed in).\n",
        status=401,
        content_type="text/plain; charset=utf-8",
    )
    response["WWW-Authenticate"] = CHALLENGE
    return response


@never_cache
@require_GET
async def metrics(request: HttpRequest) -> HttpResponse:
    monitoring = settings.CONFIG.monitoring
    if not monitoring.prometheus_enabled:
        raise Http404("CT_PROMETHEUS_ENABLED is off")
    if not await sync_to_async(authorized)(request):
        return refused()
    figures = await database_sync_to_async(live_figures)(monitoring.status_interval)
    body, content_type = exposition(figures, RelayNumbers.now(), request.headers.get("Accept", ""))
    return HttpResponse(body, content_type=content_type)


# ctserver/urls.py includes these at /metrics, Prometheus' default path.
urlpatterns = [path("", metrics, name="metrics")]
