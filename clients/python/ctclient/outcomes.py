"""How ctclient speaks to its user: text made safe for the terminal, exit codes, and
closes and refusals said in words."""

from __future__ import annotations

import sys
import unicodedata
from typing import Any

from ctclient.errors import ServerError

EXIT_CODES = {
    0: "the session ended, or you left it",
    1: "an unexpected error (in ctclient, or a malformed frame from the server), or the server"
    " cut a connection that was too slow or too busy",
    2: "bad arguments or join link",
    3: "the server could not be reached or trusted",
    4: "the host denied or removed you, or nobody admitted you in time",
    5: "the session does not exist or has ended",
    6: "the session or server is full, or a limit for your address was reached",
    7: "the server has no valid license: it takes no new connections",
}
# The exit code after a close, by close code; any other close is exit 1 (an
# unexpected error, in ctclient or from the server, or a close for what it sent).
CLOSE_EXIT = {
    1000: 0,
    1006: 3,
    1013: 6,
    4004: 5,
    4005: 0,
    4006: 4,
    4007: 4,
    4011: 6,
    4014: 6,
    4015: 4,
    4016: 6,
    4017: 6,
    4018: 7,
}
CLOSE_REASONS = {
    1000: "you left",
    1013: "the server has too many connections; try again later",
    4004: "the session does not exist or has ended",
    4005: "the host ended the session",
    4006: "the host denied you",
    4007: "the host removed you",
    4008: "the connection was too slow to keep up with the session",
    4009: "a message was too large for the server",
    4010: "too many messages too fast (rate limited)",
    4011: "the session is full",
    4012: "the connection did not say hello in time",
    4013: "the same peer connected again elsewhere",
    4014: "too many connections, or guests waiting in this lobby, from your network address",
    4015: "nobody admitted you in time",
    4016: "the host denied a guest from your address recently; wait before trying again",
    4017: "every connection the server's license allows is in use; try again when someone leaves",
    4018: "the server has no valid license, so it takes no new connections",
}


def close_exit(code: int) -> int:
    """The exit code of ``ctclient host`` or ``join`` whose session closed with ``code``."""
    return CLOSE_EXIT.get(code, 1)


# HTTP refusals of session creation (docs/protocol.md §3.1), by error code.
REFUSED_EXIT = {
    "rate_limited": 6,
    "too_many_sessions_from_address": 6,
    "too_many_sessions": 6,
    "too_large": 2,
}
REFUSED_REASONS = {
    "rate_limited": "too many sessions were created from your address in the last minute",
    "too_many_sessions_from_address": "too many open sessions were created from your address",
    "too_many_sessions": "the server has too many open sessions; try again later",
    "too_large": "the request was too large (is --name very long?)",
}
# Characters a terminal may act on (controls, escape sequences), or that hide or
# reorder what follows (format characters such as bidi overrides, line and
# paragraph separators), or that cannot be encoded (lone surrogates), or whose
# look nobody can know (private use, unassigned).
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def _escaped(char: str) -> str:
    point = ord(char)
    if point < 0x100:
        return f"\\x{point:02x}"
    if point < 0x10000:
        return f"\\u{point:04x}"
    return f"\\U{point:08x}"


def printable(text: str) -> str:
    """``text`` with every unsafe character written as a Python-style escape.

    Names, paths, reasons and messages come from peers and servers: whatever they
    hold must reach the terminal as visible text, never as a control sequence.
    """
    return "".join(_escaped(c) if unicodedata.category(c) in UNSAFE_CATEGORIES else c for c in text)


def who(peer: dict[str, Any]) -> str:
    """A peer object (docs/protocol.md §5.2) for people: its name, and with single
    sign-on its address, or that nobody vouched for it. Escaped by ``say``."""
    name = str(peer.get("name", "?"))
    if peer.get("verified") is False:
        return f"{name} (unverified: not signed in)"
    email = peer.get("email")
    return f"{name} <{email}>" if isinstance(email, str) and email else name


def closed_because(data: dict[str, Any]) -> str:
    """A close in words; the server's reason (or the error that preceded the close)
    follows in parentheses, as it may say more (how long to wait, which limit)."""
    code, detail = data["code"], data["reason"]
    words = CLOSE_REASONS.get(code)
    if words and detail:
        return f"{words} ({detail})"
    return words or detail or f"connection closed ({code})"


def refused_because(error: ServerError) -> str:
    words = REFUSED_REASONS.get(error.code) or str(error)
    if error.retry_after is not None:
        words += f"; try again in {error.retry_after} s"
    return words


def say(text: str) -> None:
    """One line to the user on stderr; ``text`` must not rely on newlines (escaped)."""
    print(printable(text), file=sys.stderr, flush=True)


def show(text: str) -> None:
    """One line of output on stdout (the join link, ``status``), escaped as ``say``."""
    print(printable(text), flush=True)
