"""The seeds' six figures as StatsD gauges, every CT_METRICS_STATSD_INTERVAL seconds
(dashboard/monitor.py calls ``publish`` in a worker thread; docs/metrics.md).

Each send opens its own client: a UDP socket, or a TCP connection closed once the
batch is written. At one batch every few seconds this costs nothing, and nothing
is left to go stale: a daemon restarted, or moved to another address behind the
same name, gets the next batch. A failure raises; the monitor logs the first one
and the recovery, not every attempt.
"""

from __future__ import annotations

from statsd import StatsClient, TCPStatsClient  # type: ignore[import-untyped]

from ctserver.config import StatsdTarget
from dashboard.figures import LiveFigures

TCP_TIMEOUT = 5.0  # seconds to connect and write; the monitor tries again next turn


def gauges(figures: LiveFigures) -> dict[str, float]:
    """The gauges' names (under the prefix) and values."""
    return {
        "users_online": figures.users_online,
        "sessions_active": figures.active_sessions,
        "connections_active": figures.connections,
        "lag_average_ms": figures.average_lag_ms,
        "sessions_hosted_total": figures.sessions_hosted,
        "downloads_total": figures.downloads,
    }


class StatsdPublisher:
    def __init__(self, target: StatsdTarget) -> None:
        self.target = target

    def _client(self) -> StatsClient | TCPStatsClient:
        target = self.target
        if target.protocol == "tcp":
            return TCPStatsClient(target.host, target.port, target.prefix, timeout=TCP_TIMEOUT)
        # Resolves the host now: a name that does not resolve raises here.
        return StatsClient(target.host, target.port, target.prefix)

    def publish(self, figures: LiveFigures) -> None:
        """Send every gauge in one batch: one datagram (they fit in 512 bytes) or one
        write. UDP cannot tell whether anyone listens; TCP raises when nobody does."""
        client = self._client()
        try:
            with client.pipeline() as batch:
                for name, value in gauges(figures).items():
                    batch.gauge(name, value)
        finally:
            client.close()
