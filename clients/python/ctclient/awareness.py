"""Cursors (docs/protocol.md §10.2): where each peer is, as ``awareness`` messages.

ctclient has no editor, so its cursor is where its user last changed a file on
disk: the end of the last edit it shared. That is enough for a browser or IDE
guest to follow the host to the file and line being worked on. Received cursors
are validated and kept per peer; ``ctclient status`` shows which file each is in.
Their positions are not resolved here: ctclient draws no cursor, and pycrdt
aborts with a panic on a position naming an item the document lacks, which a
hostile peer could send.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from ctclient.files import BadPath, check_path
from ctclient.messages import AppMessage
from ctclient.outcomes import UNSAFE_CATEGORIES

COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
MAX_POSITION_CHARS = 1024
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")


def colour_for(peer_id: int) -> str:
    """A stable colour per peer id, so one peer looks the same in every client."""
    return PALETTE[peer_id % len(PALETTE)]


@dataclass(frozen=True)
class Cursor:
    """A peer's cursor: in ``path``, from ``anchor`` to ``head`` (Yjs relative
    positions, encoded), or no cursor at all when ``path`` is None."""

    path: str | None
    name: str
    colour: str
    anchor: bytes = b""
    head: bytes = b""

    def message(self) -> AppMessage:
        fields: dict[str, Any] = {"path": self.path, "name": self.name, "colour": self.colour}
        if self.path is not None:
            fields["anchor"] = base64.b64encode(self.anchor).decode()
            fields["head"] = base64.b64encode(self.head).decode()
        return AppMessage("awareness", fields)


class BadCursor(ValueError):
    pass


def _position(value: Any) -> bytes:
    if not isinstance(value, str) or not value or len(value) > MAX_POSITION_CHARS:
        raise BadCursor("a position must be base64 of at most 1,024 characters")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadCursor("a position must be base64 with '+', '/' and '=' padding") from None


def _name(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 64:
        raise BadCursor("a name must have 1 to 64 characters")
    # §3's text rules: the characters ctclient would escape before a terminal.
    if any(unicodedata.category(c) in UNSAFE_CATEGORIES for c in value):
        raise BadCursor("a name must not hold control or format characters")
    return value


def parse(message: AppMessage) -> Cursor:
    """The cursor an ``awareness`` message describes; BadCursor if it breaks §10.2
    (then it is ignored whole and the peer's previous cursor stays)."""
    fields = message.fields
    colour = fields.get("colour")
    if not isinstance(colour, str) or not COLOUR.fullmatch(colour):
        raise BadCursor("a colour must be # and six hexadecimal digits")
    name = _name(fields.get("name"))
    path = fields.get("path")
    if path is None:
        return Cursor(None, name, colour)
    if not isinstance(path, str):
        raise BadCursor("path must be a string or null")
    try:
        path = check_path(path)
    except BadPath as exc:
        raise BadCursor(str(exc)) from None
    anchor, head = _position(fields.get("anchor")), _position(fields.get("head"))
    return Cursor(path, name, colour, anchor, head)


class Cursors:
    """The latest cursor of each other peer, by the peer id the server stamped."""

    def __init__(self, own_peer_id: int = 0) -> None:
        self.own_peer_id = own_peer_id
        self.by_peer: dict[int, Cursor] = {}

    def receive(self, message: AppMessage) -> None:
        """Keep a valid cursor; raises BadCursor for one that is not."""
        if message.sender == self.own_peer_id:
            return
        cursor = parse(message)
        if cursor.path is None:
            self.by_peer.pop(message.sender, None)
        else:
            self.by_peer[message.sender] = cursor

    def forget(self, peer_id: int) -> None:
        """The peer left or was removed: its cursor goes too."""
        self.by_peer.pop(peer_id, None)
