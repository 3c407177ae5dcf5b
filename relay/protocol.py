"""Wire protocol version 1 (docs/protocol.md): frame parsing with no I/O.

Everything here is pure: it turns bytes and text from the network into typed
values, or raises ``ProtocolError`` carrying the documented code.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from relay.inputs import InputError, clean_text, parse_json
from relay.stats import STATS

VERSION = 1
HEADER = struct.Struct(">BBI")  # version, kind, peer id (target in, sender out)
KIND_BROADCAST = 0
KIND_UNICAST = 1
NONCE_BYTES = 12
TAG_BYTES = 16
MIN_DATA_FRAME = HEADER.size + NONCE_BYTES + TAG_BYTES
NAME_MAX = 64
# Host and peer secrets are base64url tokens the server made (docs/protocol.md §2).
SECRET = re.compile(r"[A-Za-z0-9_-]{1,128}")


class CloseCode(IntEnum):
    NORMAL = 1000
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_FRAME = 4000
    UNKNOWN_TYPE = 4001
    PROTOCOL_VIOLATION = 4002
    NOT_AUTHENTICATED = 4003
    SESSION_NOT_FOUND = 4004
    SESSION_ENDED = 4005
    DENIED = 4006
    REMOVED = 4007
    TOO_SLOW = 4008
    FRAME_TOO_LARGE = 4009
    RATE_LIMITED = 4010
    SESSION_FULL = 4011
    HELLO_TIMEOUT = 4012
    REPLACED = 4013
    TOO_MANY_CONNECTIONS = 4014
    LOBBY_TIMEOUT = 4015
    RETRY_LATER = 4016
    LICENSE_FULL = 4017
    NO_LICENSE = 4018


class ProtocolError(Exception):
    """A frame the protocol refuses: fatal ones carry a close code."""

    def __init__(self, code: str, message: str, close: CloseCode | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.close = close


def fatal(close: CloseCode, message: str) -> ProtocolError:
    return ProtocolError(close.name.lower(), message, close)


@dataclass(frozen=True)
class Hello:
    role: str
    name: str
    host_secret: str | None
    resume_peer_id: int | None
    resume_secret: str | None
    client: str


@dataclass(frozen=True)
class Command:
    """A control frame after hello: a host command or ``leave``."""

    type: str
    peer: int | None = None
    flag: bool | None = None


HOST_COMMANDS = frozenset({"admit", "deny", "remove", "set_read_only", "set_auto_admit", "end"})
COMMANDS = HOST_COMMANDS | {"leave"}


def parse_control(text: str, max_bytes: int) -> dict[str, Any]:
    if len(text) > max_bytes or len(text.encode(errors="surrogatepass")) > max_bytes:
        raise fatal(CloseCode.FRAME_TOO_LARGE, f"control frames are limited to {max_bytes} bytes")
    try:
        frame = parse_json(text)
    except InputError as exc:
        raise fatal(CloseCode.BAD_FRAME, f"a control frame must be a JSON object: {exc}") from None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise fatal(CloseCode.BAD_FRAME, "a control frame must be an object with a string 'type'")
    return frame


def _text(value: Any, field: str, *, required: bool = True) -> str:
    """A name or label: storable, printable, at most NAME_MAX characters; else 4000."""
    try:
        return clean_text(value, field, NAME_MAX, required=required)
    except InputError as exc:
        raise fatal(CloseCode.BAD_FRAME, str(exc)) from None


def _peer_id(value: Any, field: str = "peer") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**32:
        raise ProtocolError("bad_request", f"'{field}' must be a peer id (1 to 2^32-1)")
    return value


def _secret(frame: dict[str, Any], field: str) -> str | None:
    value = frame.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or not SECRET.fullmatch(value):
        raise fatal(CloseCode.BAD_FRAME, f"'{field}' must be the base64url token the server gave")
    return value


def parse_hello(frame: dict[str, Any]) -> Hello:
    if frame["type"] != "hello":
        raise fatal(CloseCode.PROTOCOL_VIOLATION, "the first frame must be 'hello'")
    role = frame.get("role")
    if role not in ("host", "guest"):
        raise fatal(CloseCode.BAD_FRAME, "'role' must be 'host' or 'guest'")
    resume = frame.get("resume")
    peer_id = secret = None
    if resume is not None:
        if not isinstance(resume, dict):
            raise fatal(CloseCode.BAD_FRAME, "'resume' must be an object")
        try:
            peer_id = _peer_id(resume.get("peer_id"), "resume.peer_id")
        except ProtocolError as exc:
            raise fatal(CloseCode.BAD_FRAME, exc.message) from None
        secret = _secret(resume, "peer_secret")
        if secret is None:
            raise fatal(CloseCode.BAD_FRAME, "'resume.peer_secret' is required")
    host_secret = _secret(frame, "host_secret")
    if role == "host" and host_secret is None:
        raise fatal(CloseCode.NOT_AUTHENTICATED, "a host must send its 'host_secret'")
    return Hello(
        role=role,
        name=_text(frame.get("name"), "name"),
        host_secret=host_secret,
        resume_peer_id=peer_id,
        resume_secret=secret,
        client=_text(frame.get("client", ""), "client", required=False),
    )


def parse_command(frame: dict[str, Any], is_host: bool) -> Command:
    kind = frame["type"]
    if kind == "hello":
        raise fatal(CloseCode.PROTOCOL_VIOLATION, "'hello' was already sent")
    if kind not in COMMANDS:
        raise fatal(CloseCode.UNKNOWN_TYPE, f"unknown control frame type {kind!r}")
    if kind in HOST_COMMANDS and not is_host:
        raise fatal(CloseCode.PROTOCOL_VIOLATION, f"only the host may send {kind!r}")
    if kind in ("admit", "deny", "remove"):
        return Command(kind, peer=_peer_id(frame.get("peer")))
    if kind == "set_read_only":
        return Command(kind, peer=_peer_id(frame.get("peer")), flag=_flag(frame, "read_only"))
    if kind == "set_auto_admit":
        return Command(kind, flag=_flag(frame, "auto_admit"))
    return Command(kind)


def _flag(frame: dict[str, Any], field: str) -> bool:
    value = frame.get(field)
    if not isinstance(value, bool):
        raise ProtocolError("bad_request", f"'{field}' must be true or false")
    return value


def parse_data_header(frame: bytes, max_bytes: int) -> tuple[int, int]:
    """Return (kind, target) of a client's data frame, or raise the fatal error."""
    if len(frame) > max_bytes:
        raise fatal(CloseCode.FRAME_TOO_LARGE, f"data frames are limited to {max_bytes} bytes")
    if len(frame) < MIN_DATA_FRAME:
        raise fatal(CloseCode.BAD_FRAME, f"a data frame has at least {MIN_DATA_FRAME} bytes")
    version, kind, target = HEADER.unpack_from(frame)
    if version != VERSION:
        raise fatal(CloseCode.BAD_FRAME, f"unsupported data frame version {version}")
    if kind == KIND_BROADCAST:
        if target != 0:
            raise fatal(CloseCode.BAD_FRAME, "a broadcast frame must have target 0")
    elif kind != KIND_UNICAST or target == 0:
        raise fatal(CloseCode.BAD_FRAME, "kind must be 0 (broadcast) or 1 (unicast to a peer)")
    return kind, target


def stamp_sender(frame: bytes, kind: int, sender: int) -> bytes:
    """The frame as receivers get it: the target replaced by the sender's id."""
    return HEADER.pack(VERSION, kind, sender) + frame[HEADER.size :]


def control(type_: str, **members: Any) -> str:
    return json.dumps({"type": type_, **members}, separators=(",", ":"))


def error_frame(exc: ProtocolError, ref: str | None = None) -> str:
    STATS.refusals[exc.code] += 1
    return control("error", code=exc.code, message=exc.message, ref=ref)
