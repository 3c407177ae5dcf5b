"""How a ctclient run ends: exit codes, and closes said in words."""

from __future__ import annotations

import sys
from typing import Any

EXIT_CODES = {
    0: "the session ended, or you left it",
    1: "an unexpected error",
    2: "bad arguments or join link",
    3: "the server could not be reached or trusted",
    4: "the host denied or removed you",
    5: "the session does not exist or has ended",
    6: "the session or server is full",
}
CLOSE_EXIT = {4006: 4, 4007: 4, 4004: 5, 4011: 6, 1006: 3}
CLOSE_REASONS = {
    1000: "you left",
    4004: "the session does not exist or has ended",
    4005: "the host ended the session",
    4006: "the host denied you",
    4007: "the host removed you",
    4011: "the session is full",
    4013: "the same peer connected again elsewhere",
}


def closed_because(data: dict[str, Any]) -> str:
    code = data["code"]
    return CLOSE_REASONS.get(code) or data["reason"] or f"connection closed ({code})"


WATCH_DEBOUNCE_MS = 100


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
