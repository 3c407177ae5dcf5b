"""``sessions.log``: one JSON line per session event, for operators and auditors.

It names sessions, peers and display names; it never holds anything a peer sent.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

EVENTS = frozenset(
    {"created", "join_requested", "admitted", "denied", "left", "removed", "ended", "moved"}
)

_logger = logging.getLogger("ctserver.sessions")


def _ensure_handler() -> None:
    if _logger.handlers:
        return
    handler = logging.handlers.RotatingFileHandler(
        settings.DATA.logs / "sessions.log",
        maxBytes=settings.CONFIG.log_max_bytes,
        backupCount=settings.CONFIG.log_backup_count,
        encoding="utf-8",
    )
    handler.setFormatter(logging.Formatter("%(message)s"))
    _logger.addHandler(handler)
    _logger.setLevel(logging.INFO)
    _logger.propagate = False


def record(event: str, session_id: str, **fields: Any) -> None:
    record_all([(event, session_id, fields)])


def record_all(events: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Several events (a group of flushed rooms, relay/store.py), one line each,
    written to the file at once."""
    lines = []
    for event, session_id, fields in events:
        if event not in EVENTS:
            raise ValueError(f"unknown audit event {event!r}")
        line = {"time": datetime.now(UTC).isoformat(), "event": event, "session": session_id}
        lines.append(json.dumps({**line, **fields}, separators=(",", ":"), sort_keys=False))
    if lines:
        _ensure_handler()
        _logger.info("\n".join(lines))
