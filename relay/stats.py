"""What this process's relay has done, kept as plain numbers that the portal reads
when it needs them (the dashboard, StatsD, Prometheus at scrape time).

The per-frame cost is two integer additions and a countdown: one frame in
``SAMPLE_EVERY`` carries a lag probe (below), the others nothing.

Server lag, as the dashboard and the metrics report it (docs/monitoring.md):

- **relay lag**: from the moment the relay takes a data frame from its sender's
  socket to the moment the last of its local receivers' sockets has been handed it
  (the end of that receiver's send queue's write), measured on sampled frames;
- **event-loop lag**: how late a timer that should fire every
  ``LOOP_TICK`` seconds fires; every frame and request waits at least that long.

"Average server lag" is the mean relay lag of the frames sampled in the last
``WINDOW`` seconds, or the mean event-loop lag in that window when no frame was
relayed (an idle server's lag is the wait any frame would meet).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

SAMPLE_EVERY = 64  # one frame in this many is timed to its last delivery
WINDOW = 60.0  # seconds over which "average" lags are taken
LOOP_TICK = 0.25  # seconds between two event-loop lag measurements
# The latency histogram's upper bounds, in seconds (Prometheus' buckets).
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@runtime_checkable
class Probed(Protocol):
    def probe(self, probe: Probe) -> None: ...


class Probe:
    """Rides each receiver's send queue behind one sampled frame; the last receiver
    to write it records the frame's relay lag."""

    __slots__ = ("meter", "remaining", "started")

    def __init__(self, meter: LagWindow, started: float, receivers: int) -> None:
        self.meter, self.started, self.remaining = meter, started, receivers

    def delivered(self) -> None:
        self.remaining -= 1
        if self.remaining == 0:
            self.meter.record(time.perf_counter() - self.started)


@dataclass(frozen=True)
class Histogram:
    """Cumulative counts per upper bound, as Prometheus exposes them."""

    buckets: tuple[tuple[float, int], ...]  # (upper bound, count of samples <= it)
    count: int
    total: float  # seconds


class LagWindow:
    """Lag samples: their mean over the last ``WINDOW`` seconds, and a histogram
    since the process started."""

    def __init__(self, window: float = WINDOW) -> None:
        self.window = window
        self._recent: deque[tuple[float, float]] = deque(maxlen=10_000)  # (when, seconds)
        self._counts = [0] * (len(BUCKETS) + 1)  # the last one: above every bound
        self._count = 0
        self._total = 0.0
        self.maximum = 0.0

    def record(self, seconds: float, now: float | None = None) -> None:
        self._recent.append((time.monotonic() if now is None else now, seconds))
        for index, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self._counts[index] += 1
                break
        else:
            self._counts[-1] += 1
        self._count += 1
        self._total += seconds
        self.maximum = max(self.maximum, seconds)

    def mean(self, now: float | None = None) -> float | None:
        """Mean seconds over the window, or None when nothing was sampled in it."""
        since = (time.monotonic() if now is None else now) - self.window
        recent = self._recent
        while recent and recent[0][0] < since:
            recent.popleft()
        if not recent:
            return None
        return sum(seconds for _when, seconds in recent) / len(recent)

    def histogram(self) -> Histogram:
        running, cumulative = 0, []
        for bound, count in zip(BUCKETS, self._counts, strict=False):
            running += count
            cumulative.append((bound, running))
        return Histogram(tuple(cumulative), self._count, self._total)


class RelayStats:
    def __init__(self) -> None:
        self.frames_relayed = 0  # deliveries: one frame to three receivers counts three
        self.bytes_relayed = 0
        self.refusals: Counter[str] = Counter()  # error codes sent (docs/protocol.md)
        self.closes: Counter[int] = Counter()  # close codes the relay closed with
        self.relay_lag = LagWindow()
        self.loop_lag = LagWindow()
        self._countdown = SAMPLE_EVERY

    def relayed(self, deliveries: int, size: int) -> bool:
        """Called by the room for each data frame it relayed: True when this frame
        is to be sampled (the room then calls ``probe`` with its receivers)."""
        self.frames_relayed += deliveries
        self.bytes_relayed += deliveries * size
        self._countdown -= 1
        if self._countdown:
            return False
        self._countdown = SAMPLE_EVERY
        return True

    def probe(self, receivers: Iterable[object]) -> None:
        """Time the frame just queued to ``receivers`` to its last write. Links that
        cannot carry a probe (a peer on another server) are left out."""
        local = [link for link in receivers if isinstance(link, Probed)]
        if local:
            probe = Probe(self.relay_lag, time.perf_counter(), len(local))
            for link in local:
                link.probe(probe)

    def server_lag(self, now: float | None = None) -> float:
        """The "average server lag" in seconds (see the module's docstring)."""
        relay = self.relay_lag.mean(now)
        if relay is not None:
            return relay
        return self.loop_lag.mean(now) or 0.0

    async def watch_loop(self, tick: float = LOOP_TICK) -> None:
        """Measure event-loop lag until cancelled (dashboard/monitor.py runs it)."""
        while True:
            expected = time.perf_counter() + tick
            await asyncio.sleep(tick)
            self.loop_lag.record(max(0.0, time.perf_counter() - expected))


STATS = RelayStats()
