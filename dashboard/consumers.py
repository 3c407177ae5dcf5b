"""The dashboard's live figures over a WebSocket (``/dashboard/live/``).

A signed-in staff user's page opens it; anyone else is refused at the handshake
(403). The consumer joins the channel layer's ``dashboard`` group
(dashboard/events.py) and, on each change, sends the figures again, read from
the database. Changes closer together than ``MIN_GAP`` seconds are sent once, so
a burst of joins costs a dashboard one query, not hundreds; a refresh every
status interval keeps the lag current when nothing else happens.

Messages (JSON text, server to page only): ``{"type": "figures", "figures": {...}}``
with the fields of ``dashboard.figures.LiveFigures``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from dashboard.events import GROUP
from dashboard.figures import live_figures

MIN_GAP = 1.0  # seconds between two sends to one dashboard


class DashboardConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not (user.is_active and user.is_staff):
            await self.close()  # before accept: the handshake is refused (403)
            return
        self._last_sent = 0.0
        self._scheduled: asyncio.Task[None] | None = None
        await self.channel_layer.group_add(GROUP, self.channel_name)
        await self.accept()
        await self._send_figures()
        interval = settings.CONFIG.monitoring.status_interval
        self._ticker = asyncio.get_running_loop().create_task(self._tick(interval))

    async def disconnect(self, code: int) -> None:
        for task in (getattr(self, "_ticker", None), getattr(self, "_scheduled", None)):
            if task is not None:
                task.cancel()
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """The page sends nothing; whatever comes is ignored."""

    async def dashboard_changed(self, message: dict[str, Any]) -> None:
        """A ``dashboard.changed`` group message: send soon, at most once per gap."""
        if self._scheduled is not None and not self._scheduled.done():
            return
        wait = max(0.0, self._last_sent + MIN_GAP - time.monotonic())
        self._scheduled = asyncio.get_running_loop().create_task(self._send_after(wait))

    async def _send_after(self, wait: float) -> None:
        await asyncio.sleep(wait)
        await self._send_figures()

    async def _tick(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self._send_figures()

    async def _send_figures(self) -> None:
        interval = settings.CONFIG.monitoring.status_interval
        figures = await database_sync_to_async(live_figures)(interval)
        self._last_sent = time.monotonic()
        await self.send_json({"type": "figures", "figures": figures.as_json()})
