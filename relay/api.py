"""Validation of the HTTP API's request bodies (docs/protocol.md §3), with no I/O."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from relay.inputs import InputError, clean_text, parse_json
from relay.protocol import NAME_MAX

MAX_BODY_BYTES = 16 * 1024
CREATE_FIELDS = frozenset({"name", "auto_admit"})


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> bytes:
        """The error body every refusal of the HTTP API uses (docs/protocol.md §3)."""
        return json.dumps({"error": {"code": self.code, "message": self.message}}).encode()


@dataclass(frozen=True)
class CreateRequest:
    name: str
    auto_admit: bool


def parse_create(body: bytes) -> CreateRequest:
    if len(body) > MAX_BODY_BYTES:
        raise ApiError(413, "too_large", f"the body is limited to {MAX_BODY_BYTES} bytes")
    try:
        data: Any = parse_json(body or b"{}")
    except InputError as exc:
        raise ApiError(400, "bad_request", f"the body must be a JSON object: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad_request", "the body must be a JSON object")
    unknown = set(data) - CREATE_FIELDS
    if unknown:
        raise ApiError(400, "bad_request", f"unknown field(s): {', '.join(sorted(unknown))}")
    try:
        name = clean_text(data.get("name", "Host"), "name", NAME_MAX)
    except InputError as exc:
        raise ApiError(400, "bad_request", str(exc)) from None
    auto_admit = data.get("auto_admit", False)
    if not isinstance(auto_admit, bool):
        raise ApiError(400, "bad_request", "'auto_admit' must be true or false")
    return CreateRequest(name, auto_admit)
