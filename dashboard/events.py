"""Telling open dashboards that the figures changed.

The relay calls ``changed()`` when a session or a connection changes (never per
data frame). Calls within ``COALESCE_SECONDS`` become one message to the
``dashboard`` group of the channel layer: channels-redis when servers share a
Redis, so every server's changes reach every dashboard; the in-memory layer on the
embedded default. The message carries no figures: each dashboard consumer reads
them from the database (dashboard/figures.py), which is where they are true.
"""

from __future__ import annotations

import asyncio
import logging

from channels.layers import get_channel_layer

logger = logging.getLogger("ctserver.dashboard")

GROUP = "dashboard"
CHANGED = "dashboard.changed"
COALESCE_SECONDS = 0.5


class ChangeNotifier:
    def __init__(self, delay: float = COALESCE_SECONDS) -> None:
        self.delay = delay
        self._pending: asyncio.Task[None] | None = None
        self._failing = False

    def changed(self) -> None:
        """Cheap and non-blocking; outside an event loop (a management command), a no-op."""
        if self._pending is not None and not self._pending.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._pending = loop.create_task(self._send_later())

    async def _send_later(self) -> None:
        await asyncio.sleep(self.delay)
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            await layer.group_send(GROUP, {"type": CHANGED})
        except Exception as exc:  # Redis out: dashboards still refresh on their timer
            if not self._failing:
                self._failing = True
                logger.warning("Cannot tell dashboards about changes: %r", exc)
        else:
            self._failing = False


NOTIFIER = ChangeNotifier()
changed = NOTIFIER.changed
