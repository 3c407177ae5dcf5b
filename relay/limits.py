"""Per-connection budgets and the relay's configurable limits."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RelayLimits:
    """Every relay limit, read from CT_* variables in ctserver/config.py."""

    max_frame_bytes: int = 1024 * 1024
    max_control_bytes: int = 16 * 1024
    rate_frames: float = 200.0
    rate_bytes: float = 4 * 1024 * 1024
    send_queue_bytes: int = 8 * 1024 * 1024
    max_peers: int = 50
    max_lobby: int = 20
    max_open_sessions: int = 1000
    hello_timeout: float = 10.0
    reconnect_grace: float = 60.0
    no_guest_timeout: float = 90 * 60.0
    empty_timeout: float = 45 * 60.0
    idle_timeout: float = 90 * 60.0
    sweep_interval: float = 5.0
    ping_interval: float = 20.0
    ping_timeout: float = 30.0
    owner_lease: float = 15.0


class TokenBucket:
    """Allows ``rate`` units per second with bursts up to ``burst``.

    Time is passed in, so the bucket has no clock of its own and tests can drive it.
    """

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = now

    def take(self, amount: float, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if amount > self.tokens:
            return False
        self.tokens -= amount
        return True


class ConnectionBudget:
    """The frame and byte budgets of one connection (docs/protocol.md §7)."""

    __slots__ = ("bytes", "frames")

    def __init__(self, limits: RelayLimits, now: float) -> None:
        self.frames = TokenBucket(limits.rate_frames, 2 * limits.rate_frames, now)
        byte_burst = max(2 * limits.rate_bytes, float(limits.max_frame_bytes))
        self.bytes = TokenBucket(limits.rate_bytes, byte_burst, now)

    def allow(self, size: int, now: float) -> bool:
        return self.frames.take(1, now) and self.bytes.take(size, now)
