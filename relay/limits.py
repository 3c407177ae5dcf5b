"""Per-connection budgets and the relay's configurable limits."""

from __future__ import annotations

from dataclasses import dataclass

from relay.protocol import CloseCode, ProtocolError, fatal


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
    # Anonymous use, per client address (docs/security.md).
    max_open_sessions_per_address: int = 20
    session_create_rate: int = 20  # creations per address per minute
    max_connections: int = 10_000  # WebSockets on this server
    max_connections_per_address: int = 100  # WebSockets from one address
    max_lobby_per_address: int = 3  # guests from one address waiting in one lobby
    knock_rate: float = 10.0  # new guests per address per session per minute
    lobby_timeout: float = 600.0
    deny_backoff: float = 30.0  # doubles with each further denial, up to an hour
    hello_timeout: float = 10.0
    reconnect_grace: float = 60.0
    host_timeout: float = 300.0  # a session whose host never says hello
    no_guest_timeout: float = 90 * 60.0
    empty_timeout: float = 45 * 60.0
    idle_timeout: float = 90 * 60.0
    # Also how often leases are renewed: three renewals fit in one owner_lease.
    sweep_interval: float = 2.0
    ping_interval: float = 20.0
    ping_timeout: float = 30.0
    # How long a failed server's sessions and places stay its own: with the
    # clients' backoff, a failover takes about this plus a second or two.
    owner_lease: float = 6.0


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
        if not self.has(amount, now):
            return False
        self.tokens -= amount
        return True

    def has(self, amount: float, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return amount <= self.tokens

    def wait(self, amount: float) -> float:
        """Seconds until ``amount`` is available (as of the last ``has``/``take``)."""
        return max(0.0, (amount - self.tokens) / self.rate)


class ConnectionBudget:
    """The frame and byte budgets of one connection (docs/protocol.md §7)."""

    __slots__ = ("bytes", "frames")

    def __init__(self, limits: RelayLimits, now: float) -> None:
        self.frames = TokenBucket(limits.rate_frames, 2 * limits.rate_frames, now)
        byte_burst = max(2 * limits.rate_bytes, float(limits.max_frame_bytes))
        self.bytes = TokenBucket(limits.rate_bytes, byte_burst, now)

    def allow(self, size: int, now: float) -> bool:
        return self.frames.take(1, now) and self.bytes.take(size, now)


class ConnectionCounts:
    """Open WebSockets on this server, in total and per client address.

    A cache of live sockets, not durable state: it dies with the process, as they do.
    """

    def __init__(self) -> None:
        self.total = 0
        self.peak = 0  # the most at once since the last usage sample (dashboard/usage.py)
        self._by_address: dict[str, int] = {}

    def refusal(self, address: str, limits: RelayLimits) -> ProtocolError | None:
        """Why one more connection from ``address`` is refused, if it is."""
        if self.total >= limits.max_connections:
            return fatal(CloseCode.TRY_AGAIN_LATER, "the server has too many connections")
        if self._by_address.get(address, 0) >= limits.max_connections_per_address:
            return fatal(CloseCode.TOO_MANY_CONNECTIONS, "too many connections from your address")
        return None

    def add(self, address: str) -> None:
        self.total += 1
        self.peak = max(self.peak, self.total)
        self._by_address[address] = self._by_address.get(address, 0) + 1

    def take_peak(self) -> int:
        """The peak since the last call; the next one starts from those open now."""
        peak, self.peak = self.peak, self.total
        return peak

    def remove(self, address: str) -> None:
        self.total -= 1
        left = self._by_address[address] - 1
        if left:
            self._by_address[address] = left
        else:
            del self._by_address[address]
