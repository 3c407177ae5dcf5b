"""Application messages (docs/protocol.md §9): a JSON header plus an optional binary body."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any

LENGTH = struct.Struct(">I")


@dataclass(frozen=True)
class AppMessage:
    type: str
    fields: dict[str, Any] = field(default_factory=dict)
    body: bytes = b""
    sender: int = 0  # set on received messages: the peer id the server stamped

    def encode(self) -> bytes:
        header = json.dumps({**self.fields, "type": self.type}, separators=(",", ":")).encode()
        return LENGTH.pack(len(header)) + header + self.body

    @classmethod
    def decode(cls, plaintext: bytes, sender: int) -> AppMessage:
        if len(plaintext) < LENGTH.size:
            raise ValueError("application message too short")
        (length,) = LENGTH.unpack_from(plaintext)
        header = json.loads(plaintext[LENGTH.size : LENGTH.size + length])
        if not isinstance(header, dict) or not isinstance(header.get("type"), str):
            raise ValueError("application message header must be an object with a 'type'")
        kind = header.pop("type")
        return cls(kind, header, plaintext[LENGTH.size + length :], sender)
