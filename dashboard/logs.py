"""Reading the server's logs for /logs: the tail of one, searched, and the files
an operator may download.

Only the names below are ever opened: a request picks one of them, it never
supplies a path. The tail is read from the end and bounded, so a log of any size
costs the page at most ``TAIL_BYTES`` of reading.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

# server.log: settings.LOGGING; sessions.log: relay/audit.py; usage.log: dashboard/usage.py.
LOG_NAMES = ("server.log", "sessions.log", "usage.log")
TAIL_BYTES = 256 * 1024
TAIL_LINES = 1000
MAX_QUERY = 200  # characters of a search; longer ones are cut
CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class LogFile:
    name: str  # "server.log", or a rotated one: "server.log.1" (newest) .. ".N"
    size: int
    modified: datetime


@dataclass(frozen=True)
class Tail:
    name: str
    lines: tuple[str, ...]  # oldest first, at most TAIL_LINES
    query: str  # "" shows every line of the window
    window_bytes: int  # how much of the end of the file was read
    file_bytes: int  # the file's size then (0 when it does not exist yet)
    more_lines: int  # lines of the window left out (not matching, or over the limit)

    @property
    def whole_file(self) -> bool:
        return self.window_bytes >= self.file_bytes


def file_names(backup_count: int) -> tuple[str, ...]:
    """Every name /logs may serve: the three logs and their rotations .1 .. .N."""
    rotated = (f"{name}.{n}" for name in LOG_NAMES for n in range(1, backup_count + 1))
    return (*LOG_NAMES, *rotated)


def known_name(name: str, backup_count: int) -> str | None:
    """The known name equal to ``name``, or None: what the caller opens is ours."""
    return next((known for known in file_names(backup_count) if known == name), None)


def available(directory: Path, backup_count: int) -> list[LogFile]:
    """The log files that exist, in the order of ``file_names``."""
    found = []
    for name in file_names(backup_count):
        try:
            stat = (directory / name).stat()
        except FileNotFoundError:
            continue
        modified = datetime.fromtimestamp(stat.st_mtime, UTC)
        found.append(LogFile(name=name, size=stat.st_size, modified=modified))
    return found


def clean_query(raw: str) -> str:
    """A search as typed, bounded; it is matched as plain text, never as a pattern."""
    return raw.strip()[:MAX_QUERY]


def read_tail(
    path: Path, query: str = "", max_bytes: int = TAIL_BYTES, max_lines: int = TAIL_LINES
) -> Tail:
    """The last lines of ``path`` that contain ``query`` (ignoring case), from at
    most its last ``max_bytes``."""
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            start = max(0, size - max_bytes)
            handle.seek(start)
            window = handle.read(size - start)
    except FileNotFoundError:
        return Tail(path.name, (), query, 0, 0, 0)
    lines = _lines(window, cut=start > 0)
    needle = query.casefold()
    matching = [line for line in lines if needle in line.casefold()] if needle else lines
    kept = matching[-max_lines:]
    return Tail(path.name, tuple(kept), query, len(window), size, len(lines) - len(kept))


def _lines(window: bytes, cut: bool) -> list[str]:
    # A window that starts inside the file starts inside a line: that part is
    # dropped, unless the window holds nothing else.
    if cut and b"\n" in window:
        window = window[window.index(b"\n") + 1 :]
    return window.decode("utf-8", errors="replace").splitlines()


@dataclass(frozen=True)
class OpenLog:
    name: str  # one of file_names(): letters, digits and dots only
    handle: BinaryIO
    size: int  # when opened


def open_log(directory: Path, name: str, backup_count: int) -> OpenLog | None:
    """One of the known files, opened; None if ``name`` is not one or it does not exist."""
    known = known_name(name, backup_count)
    if known is None:
        return None
    try:
        handle = (directory / known).open("rb")
    except FileNotFoundError:
        return None
    return OpenLog(known, handle, os.fstat(handle.fileno()).st_size)


async def chunks(log: OpenLog) -> AsyncIterator[bytes]:
    """The file as it was when opened (lines written meanwhile are for the next
    download; a rotation meanwhile does not matter), read off the event loop."""
    try:
        left = log.size
        while left > 0:
            chunk = await asyncio.to_thread(log.handle.read, min(CHUNK_BYTES, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk
    finally:
        log.handle.close()
