"""Who a peer is, when the server uses single sign-on.

The WebSocket gate (sso/gate.py) puts a ``PeerIdentity`` in the connection's scope;
the relay then shows the verified name, never the one a ``hello`` chose, and the
lobby, presence, history and ``sessions.log`` carry the email and subject with it.
Without single sign-on there is no identity (None) and names are the peers' own.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Verification(IntEnum):
    """On the bus between servers (docs/protocol.md §9.1) as an integer."""

    NONE = 0  # the server does not use single sign-on
    UNVERIFIED = 1  # a guest without an SSO account, let in by CT_SSO_ALLOW_UNVERIFIED_GUESTS
    VERIFIED = 2


@dataclass(frozen=True, slots=True)
class PeerIdentity:
    verified: bool
    name: str = ""  # the verified display name ("" when unverified: hello's is used)
    email: str = ""
    subject: str = ""  # the provider's subject; "local:<user>" for a break-glass account


UNVERIFIED = PeerIdentity(verified=False)


def to_wire(identity: PeerIdentity | None) -> tuple[str, str, str, int]:
    if identity is None:
        return "", "", "", Verification.NONE
    state = Verification.VERIFIED if identity.verified else Verification.UNVERIFIED
    return identity.name, identity.email, identity.subject, int(state)


def from_wire(name: str, email: str, subject: str, state: int) -> PeerIdentity | None:
    if state == Verification.VERIFIED:
        return PeerIdentity(True, name, email, subject)
    if state == Verification.UNVERIFIED:
        return UNVERIFIED
    return None
