"""Wait for something to become true, instead of sleeping a fixed time and hoping."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def eventually(check: Callable[[], object], timeout: float = 5.0, what: str = "") -> None:
    """Return as soon as ``check()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout:g} s: {what or check}")
        await asyncio.sleep(0.02)


def until(check: Callable[[], object], timeout: float = 5.0, what: str = "") -> None:
    """``eventually`` for synchronous tests."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout:g} s: {what or check}")
        time.sleep(0.02)
