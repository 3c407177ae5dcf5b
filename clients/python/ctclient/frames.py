"""The server's control frames (docs/protocol.md §5.2), checked before anything uses them.

A frame that is not what the protocol says (not JSON, not an object, a member
missing or of the wrong type) is a ``BadFrame``: the peer closes the connection
rather than guess. Members the client does not use are not checked, and a
``type`` this version does not know is ignored (§11 lets servers add some).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ctclient.errors import CtClientError

Check = Callable[[Any], bool]
MAX_PEER_ID = 2**32 - 1  # a data frame's header holds it in four bytes (§7)


class BadFrame(CtClientError):
    """A frame from the server that breaks the protocol."""


def _text(value: Any) -> bool:
    return isinstance(value, str)


def _flag(value: Any) -> bool:
    return isinstance(value, bool)


def _peer_id(value: Any) -> bool:
    return type(value) is int and 1 <= value <= MAX_PEER_ID


def _state(value: Any) -> bool:
    return value in ("lobby", "admitted", "away")


PEER_MEMBERS: dict[str, Check] = {
    "peer_id": _peer_id,
    "name": _text,
    "role": lambda value: value in ("host", "guest"),
    "state": _state,
    "read_only": _flag,
}


def _peer(value: Any) -> bool:
    return isinstance(value, dict) and all(
        check(value.get(name)) for name, check in PEER_MEMBERS.items()
    )


def _peers(value: Any) -> bool:
    return isinstance(value, list) and all(map(_peer, value))


MEMBERS: dict[str, dict[str, Check]] = {
    "welcome": {
        "peer_id": _peer_id,
        "peer_secret": _text,
        "state": lambda value: value in ("lobby", "admitted"),
        "resumed": _flag,
        "peers": _peers,
    },
    "admitted": {"peers": _peers},
    "join_request": {"peer": _peer},
    "presence": {"event": _text, "peer": _peer},
    "error": {"code": _text, "message": _text},
    "ended": {"reason": _text},
}


def parse_control(raw: str) -> tuple[str, dict[str, Any]] | None:
    """A control frame's type and members; None for a type this client does not know."""
    try:
        frame = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BadFrame(f"a text frame that is not JSON ({exc})") from None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise BadFrame("a text frame that is not an object with a string 'type'")
    kind = frame.pop("type")
    members = MEMBERS.get(kind)
    if members is None:
        return None
    for name, check in members.items():
        if not check(frame.get(name)):
            raise BadFrame(f"{name!r} missing or malformed in a frame of type {kind!r}")
    return kind, frame
