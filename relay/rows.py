"""The relay's two frequent writes as one statement for many rows.

Participant rows (at every hello, admission and departure) and session rows (their
counters) are written for whole groups of rooms at once (relay/batching.py). The ORM's
``bulk_create``/``bulk_update`` prepare every value in Python and, for updates, build
one CASE per column: measured, they cost more than the rows one by one (about 125 µs
per participant and 400 µs per session here, against 10-20 µs with ``executemany``).
So these two statements are written out, from the models' own table and column
names, in SQL that SQLite and PostgreSQL both speak (``INSERT ... ON CONFLICT``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection

from relay.models import Participant, Session

LEAVING = ("left", "removed", "denied")

# What a participant row says, in the order ``participant_values`` gives it.
PARTICIPANT_COLUMNS = [
    "session_id",
    "peer_id",
    "display_name",
    "role",
    "state",
    "read_only",
    "secret_hash",
    "proven_secret_hash",
    "client",
    "address",
    "joined",
    "admitted_at",
    "left_at",
    "frames_sent",
    "bytes_sent",
]
# Kept from the first insert: when the peer joined. ``left_at`` is written only for
# a row that is leaving now (an earlier departure stays as it was otherwise).
NOT_UPDATED = {"session_id", "peer_id", "joined"}

SESSION_COLUMNS = [
    "last_activity",
    "peak_peers",
    "frames_relayed",
    "bytes_relayed",
    "auto_admit",
    "first_guest_at",
    "last_guest_left_at",
]
ENDING_COLUMNS = ["ended", "end_reason"]


def _q(name: str) -> str:
    return str(connection.ops.quote_name(name))


def _moment(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


@functools.cache
def _upsert_sql(leaving: bool) -> str:
    updated = [c for c in PARTICIPANT_COLUMNS if c not in NOT_UPDATED]
    if not leaving:
        updated.remove("left_at")
    # Only the models' names and this module's constants: every value is a parameter.
    return (
        f"INSERT INTO {_q(Participant._meta.db_table)} "  # noqa: S608
        f"({', '.join(_q(c) for c in PARTICIPANT_COLUMNS)}) "
        f"VALUES ({', '.join(['%s'] * len(PARTICIPANT_COLUMNS))}) "
        f"ON CONFLICT ({_q('session_id')}, {_q('peer_id')}) DO UPDATE SET "
        + ", ".join(f"{_q(c)} = excluded.{_q(c)}" for c in updated)
    )


def upsert_participants(rows: Sequence[dict[str, Any]]) -> None:
    """Insert or update these participant rows (``PARTICIPANT_COLUMNS`` each)."""
    for leaving in (True, False):
        group = [row for row in rows if (row["state"] in LEAVING) is leaving]
        if group:
            with connection.cursor() as cursor:
                cursor.executemany(_upsert_sql(leaving), [_participant_params(r) for r in group])


def _participant_params(row: dict[str, Any]) -> list[Any]:
    return [_value(row[c]) for c in PARTICIPANT_COLUMNS]


def _value(value: Any) -> Any:
    return _moment(value) if isinstance(value, datetime) else value


def open_sessions(session_ids: Iterable[str], chunk: int = 500) -> set[str]:
    """Which of these sessions are still open, their rows locked until the commit
    (on PostgreSQL; SQLite's writer holds the whole database anyway)."""
    ids = list(session_ids)
    found: set[str] = set()
    for start in range(0, len(ids), chunk):
        rows = Session.objects.select_for_update().filter(
            session_id__in=ids[start : start + chunk], ended__isnull=True
        )
        found.update(rows.values_list("session_id", flat=True))
    return found


@functools.cache
def _update_sql(ending: bool) -> str:
    columns = SESSION_COLUMNS + (ENDING_COLUMNS if ending else [])
    # Only the models' names and this module's constants: every value is a parameter.
    return (
        f"UPDATE {_q(Session._meta.db_table)} SET "  # noqa: S608
        + ", ".join(f"{_q(c)} = %s" for c in columns)
        + f" WHERE {_q('session_id')} = %s AND {_q('ended')} IS NULL"
    )


def update_sessions(rows: Sequence[dict[str, Any]]) -> None:
    """Write these open sessions' rows (``session_id``, ``SESSION_COLUMNS`` and, for
    the ones ending, ``ENDING_COLUMNS``)."""
    for ending in (True, False):
        group = [row for row in rows if ("ended" in row) is ending]
        if group:
            columns = SESSION_COLUMNS + (ENDING_COLUMNS if ending else [])
            params = [[_value(row[c]) for c in columns] + [row["session_id"]] for row in group]
            with connection.cursor() as cursor:
                cursor.executemany(_update_sql(ending), params)
