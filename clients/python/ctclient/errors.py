from __future__ import annotations


class CtClientError(Exception):
    """Anything ctclient reports to its caller."""


class BadLink(CtClientError):
    """A join link that is not https://server/join/<session>#<key>."""


class DecryptError(CtClientError):
    """A frame that does not decrypt with the session key (wrong key, or tampered)."""


class ServerError(CtClientError):
    """The server refused an HTTP request; ``code`` is the protocol's error code, and
    ``retry_after`` the seconds its ``Retry-After`` header asks a client to wait."""

    def __init__(
        self, status: int, code: str, message: str, retry_after: int | None = None
    ) -> None:
        super().__init__(f"{message} ({code}, HTTP {status})")
        self.status = status
        self.code = code
        self.retry_after = retry_after


class SessionClosed(CtClientError):
    """The connection ended for good; ``code`` is the WebSocket close code."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"session closed: {reason or 'no reason given'} (code {code})")
        self.code = code
        self.reason = reason
