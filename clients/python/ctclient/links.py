"""Join links: ``https://server/join/<session_id>#<key>``; the key never leaves the client."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from ctclient.errors import BadLink

KEY_BYTES = 32
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{16,32}$")


def encode_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).rstrip(b"=").decode()


def decode_key(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]{43}", text):
        raise BadLink("the key after '#' must be 43 base64url characters")
    return base64.urlsafe_b64decode(text + "=")


@dataclass(frozen=True)
class JoinLink:
    server_url: str  # scheme://host[:port], no trailing slash
    session_id: str
    key: bytes

    def __str__(self) -> str:
        return f"{self.server_url}/join/{self.session_id}#{encode_key(self.key)}"

    @property
    def websocket_url(self) -> str:
        scheme = "wss" if self.server_url.startswith("https:") else "ws"
        return f"{scheme}:{self.server_url.split(':', 1)[1]}/ws/v1/sessions/{self.session_id}"

    @classmethod
    def parse(cls, text: str) -> JoinLink:
        try:
            parts = urlsplit(text.strip())
            parts.port  # noqa: B018 (raises ValueError for a port that is not 0-65535)
        except ValueError:
            raise BadLink("the server in the join link is not a host name and port") from None
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise BadLink("a join link starts with https:// (or http://)")
        if "@" in parts.netloc:  # nothing ctserver asks for, and a way to mislead
            raise BadLink("a join link has no user name or password before the server")
        match = re.fullmatch(r"/join/([^/]+)/?", parts.path)
        if match is None or not SESSION_ID.match(match[1]):
            raise BadLink("a join link looks like https://server/join/<session>#<key>")
        if not parts.fragment:
            raise BadLink("the join link has no key after '#': copy the whole link")
        return cls(f"{parts.scheme}://{parts.netloc}", match[1], decode_key(parts.fragment))
