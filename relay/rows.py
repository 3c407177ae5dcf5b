"""The relay's frequent statements, each for many rows at once.

Rooms are loaded, peer ids allocated and participant and session rows written for
whole groups of rooms (relay/batching.py): in a reconnect storm, thousands a second.
Through the ORM each statement cost its compilation in Python (300-500 µs here), and
``bulk_create``/``bulk_update`` prepare every value and build a CASE per column
(about 125 µs per participant and 400 µs per session, more than the rows one by
one). So these few statements are written out, from the models' own table and
column names, in SQL that SQLite and PostgreSQL both speak (``INSERT ... ON
CONFLICT``, ``UPDATE ... RETURNING``), every value a parameter. Everything else the
relay stores goes through the ORM (relay/store.py).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.db import connection, models

from relay.models import Participant, Session

LEAVING = ("left", "removed", "denied")

# What a participant row says, in the order ``_participant_params`` gives it.
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
    "verified",
    "email",
    "subject",
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

# What rebuilding a room reads (relay/store.py load_rooms).
SESSION_LOADED = [
    "session_id",
    "host_secret_hash",
    "auto_admit",
    "created",
    "last_activity",
    "first_guest_at",
    "last_guest_left_at",
    "peak_peers",
    "served_by",
    "host_subject",
]
# A participant's row without what only history reads (its counters, when it joined).
PARTICIPANT_LOADED = [
    c for c in PARTICIPANT_COLUMNS if c not in ("joined", "frames_sent", "bytes_sent")
]
# Columns whose values SQLite returns as text (datetimes) or 0/1 (booleans).
READ_DATETIMES = {
    f.column
    for model in (Session, Participant)
    for f in model._meta.fields
    if isinstance(f, models.DateTimeField)
}
READ_BOOLEANS = {
    f.column
    for model in (Session, Participant)
    for f in model._meta.fields
    if isinstance(f, models.BooleanField)
}


def _q(name: str) -> str:
    return str(connection.ops.quote_name(name))


def _moment(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _read(column: str, value: Any) -> Any:
    """A value as the database gives it, as the model would hold it: SQLite returns
    datetimes as UTC text and booleans as 0 or 1."""
    if column in READ_DATETIMES and isinstance(value, str):
        moment = datetime.fromisoformat(value)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if column in READ_BOOLEANS and value is not None:  # a nullable boolean stays None
        return bool(value)
    return value


def _placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


def _select(
    table: str, columns: list[str], ids: list[str], order: str = ""
) -> list[dict[str, Any]]:
    # Only the models' names and this module's constants: every value is a parameter.
    sql = (
        f"SELECT {', '.join(_q(c) for c in columns)} FROM {_q(table)} "  # noqa: S608
        f"WHERE {_q('session_id')} IN ({_placeholders(len(ids))})"
    )
    if table == Session._meta.db_table:
        sql += f" AND {_q('ended')} IS NULL"
    with connection.cursor() as cursor:
        cursor.execute(sql + order, ids)
        return [{c: _read(c, v) for c, v in zip(columns, row, strict=True)} for row in cursor]


def open_session_rows(session_ids: list[str]) -> list[dict[str, Any]]:
    """What rebuilding these sessions' rooms needs, for those still open."""
    return _select(Session._meta.db_table, SESSION_LOADED, session_ids)


def participant_rows(session_ids: list[str]) -> list[dict[str, Any]]:
    """Every participant of these sessions, session by session, in peer id order."""
    order = f" ORDER BY {_q('session_id')}, {_q('peer_id')}"
    return _select(Participant._meta.db_table, PARTICIPANT_LOADED, session_ids, order)


def serve_here(session_ids: list[str], server_id: str) -> None:
    """These sessions are held by ``server_id`` now; a takeover from a server that
    did not hand them back (``served_by`` another id) is counted in ``moves``."""
    if not session_ids:
        return
    table, served, moves = _q(Session._meta.db_table), _q("served_by"), _q("moves")
    sql = (
        f"UPDATE {table} SET {moves} = {moves} + (CASE WHEN {served} = '' THEN 0 ELSE 1 END), "  # noqa: S608
        f"{served} = %s WHERE {_q('session_id')} IN ({_placeholders(len(session_ids))}) "
        f"AND {served} <> %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [server_id, *session_ids, server_id])


def hand_back(session_ids: list[str], server_id: str) -> None:
    """A clean stop: these sessions are no longer held by ``server_id``."""
    if not session_ids:
        return
    table, served = _q(Session._meta.db_table), _q("served_by")
    sql = (
        f"UPDATE {table} SET {served} = '' "  # noqa: S608
        f"WHERE {_q('session_id')} IN ({_placeholders(len(session_ids))}) AND {served} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*session_ids, server_id])


def add_peer_ids(wanted: dict[str, int]) -> dict[str, int]:
    """Raise each open session's next peer id by the count given for it, in one
    statement; the new value for each session that is still open."""
    table, column = _q(Session._meta.db_table), _q("next_peer_id")
    cases = " ".join(["WHEN %s THEN %s"] * len(wanted))
    # Only the models' names and this module's constants: every value is a parameter.
    sql = (
        f"UPDATE {table} SET {column} = {column} + CASE {_q('session_id')} {cases} END "  # noqa: S608
        f"WHERE {_q('session_id')} IN ({_placeholders(len(wanted))}) AND {_q('ended')} IS NULL "
        f"RETURNING {_q('session_id')}, {column}"
    )
    params: list[Any] = [value for pair in wanted.items() for value in pair] + list(wanted)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {session_id: int(after) for session_id, after in cursor.fetchall()}


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
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    found: set[str] = set()
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        # Only the models' names and this module's constants: every value is a parameter.
        sql = (
            f"SELECT {_q('session_id')} FROM {_q(Session._meta.db_table)} "  # noqa: S608
            f"WHERE {_q('session_id')} IN ({_placeholders(len(part))}) "
            f"AND {_q('ended')} IS NULL{lock}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, part)
            found.update(row[0] for row in cursor.fetchall())
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
