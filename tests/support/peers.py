"""SDK helpers shared by the relay tests."""

from __future__ import annotations

from ctclient import AppMessage, ReconnectPolicy

# Reconnect quickly: the tests cut connections on purpose.
FAST = ReconnectPolicy(first_delay=0.05, max_delay=0.5, give_up_after=10)


def message(text: str, body: bytes = b"") -> AppMessage:
    return AppMessage("message", {"text": text}, body)
