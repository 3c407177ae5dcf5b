"""The server's own watch over itself, running beside the relay on its event loop:

- the event-loop lag probe (relay/stats.py);
- this server's status row every CT_STATUS_INTERVAL (the dashboard's per-server
  health and load, and the lag every dashboard shows);
- a usage sample every CT_USAGE_INTERVAL: a row for the charts and a line in
  ``usage.log`` (dashboard/usage.py);
- StatsD every CT_METRICS_STATSD_INTERVAL when CT_METRICS_STATSD_HOST is set;
- the history purge once a day when CT_HISTORY_DAYS is not 0.

``serve`` starts it with the server; the development server (runserver) at the
first WebSocket. Every step survives a database or network outage: it logs once
and tries again at its next turn.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from dashboard import events, usage
from dashboard.figures import LiveFigures, live_figures
from dashboard.statsd import StatsdPublisher

logger = logging.getLogger("ctserver.dashboard")

DAY = 86400.0


class Monitor:
    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []
        self._failing: set[str] = set()
        self.started_at: datetime | None = None

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    def start(self) -> None:
        """Idempotent: the first call on an event loop starts every task."""
        loop = asyncio.get_running_loop()
        if self._tasks and self._tasks[0].get_loop() is loop:
            return
        from relay.stats import STATS  # the relay's numbers, read here, never written

        self.started_at = timezone.now()
        monitoring = settings.CONFIG.monitoring
        work: list[Awaitable[None]] = [
            STATS.watch_loop(),
            # At once, so the dashboard lists a server as soon as it serves.
            self._every(
                monitoring.status_interval,
                "Writing this server's status",
                self._status,
                first_after=0.0,
            ),
            self._every(monitoring.usage_interval, "Taking a usage sample", self._sample),
        ]
        if monitoring.statsd is not None:
            publisher = StatsdPublisher(monitoring.statsd)
            work.append(
                self._every(
                    monitoring.statsd.interval,
                    "Sending StatsD metrics",
                    lambda: self._publish(publisher),
                )
            )
        if monitoring.history_days:
            from dashboard.retention import apply_retention

            days = monitoring.history_days
            work.append(
                self._every(
                    DAY,
                    "Purging old history",
                    lambda: database_sync_to_async(apply_retention)(days),
                    first_after=60.0,
                )
            )
        self._tasks = [loop.create_task(item) for item in work]  # type: ignore[arg-type]

    async def close(self) -> None:
        """Shutdown: stop, and take this server off the dashboard's list."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if tasks:
            await self._step("Removing this server's status", usage.remove_status())

    async def _every(
        self,
        interval: float,
        what: str,
        step: Callable[[], Awaitable[object]],
        first_after: float | None = None,
    ) -> None:
        await asyncio.sleep(interval if first_after is None else first_after)
        while True:
            await self._step(what, step())
            await asyncio.sleep(interval)

    async def _status(self) -> None:
        assert self.started_at is not None
        await usage.write_status(self.started_at)
        events.changed()  # the lag and per-server figures moved

    async def _sample(self) -> None:
        await usage.take_sample()

    async def _publish(self, publisher: StatsdPublisher) -> None:
        interval = settings.CONFIG.monitoring.status_interval
        figures: LiveFigures = await database_sync_to_async(live_figures)(interval)
        await asyncio.to_thread(publisher.publish, figures)  # a TCP connect may block

    async def _step(self, what: str, work: Awaitable[object]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if what not in self._failing:
                self._failing.add(what)
                logger.error("%s failed, retrying: %r", what, exc)
        else:
            if what in self._failing:
                self._failing.discard(what)
                logger.warning("%s works again", what)


MONITOR = Monitor()
