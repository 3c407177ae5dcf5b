"""A verified identity from an OpenID provider's claims, whatever the provider.

Providers differ in where they put a user's address, name and groups (docs/sso.md):
AD FS and Entra ID often give no ``email`` but a ``upn`` or ``preferred_username``;
Auth0 wants custom claims under a namespace URL (``CT_SSO_GROUPS_CLAIM``). Claims
come from outside like everything else, so names are cleaned to the relay's text
rules before anything shows or stores them.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from ctserver.config import Sso
from relay.inputs import REFUSED_CATEGORIES

MAX_NAME_CHARS = 64  # the relay's display-name limit (docs/protocol.md §3)
MAX_EMAIL_CHARS = 254


class ClaimsRefused(ValueError):
    """The provider's claims cannot identify a user."""


@dataclass(frozen=True)
class VerifiedIdentity:
    subject: str
    email: str  # "" when the provider gives none
    name: str
    groups: tuple[str, ...]
    admin: bool  # in CT_SSO_ADMIN_GROUP


def _clean(value: Any, limit: int) -> str:
    if not isinstance(value, str):
        return ""
    kept = "".join(c for c in value if unicodedata.category(c) not in REFUSED_CATEGORIES)
    return " ".join(kept.split())[:limit]


def _email(claims: dict[str, Any]) -> str:
    for name in ("email", "preferred_username", "upn", "unique_name"):
        value = _clean(claims.get(name), MAX_EMAIL_CHARS)
        if "@" in value and " " not in value:
            return value
    return ""


def _name(claims: dict[str, Any], email: str, subject: str) -> str:
    given = " ".join(_clean(claims.get(k), MAX_NAME_CHARS) for k in ("given_name", "family_name"))
    for candidate in (claims.get("name"), given, claims.get("preferred_username"), email):
        text = _clean(candidate, MAX_NAME_CHARS)
        if text:
            return text
    return _clean(subject, MAX_NAME_CHARS) or "Unnamed user"


def _groups(claims: dict[str, Any], claim: str) -> tuple[str, ...]:
    value = claims.get(claim)
    if isinstance(value, str):  # AD FS sends one group as a string
        value = [value]
    if not isinstance(value, list):
        return ()
    return tuple(g for g in (_clean(v, 255) for v in value[:1000]) if g)


def identity_from_claims(claims: dict[str, Any], sso: Sso) -> VerifiedIdentity:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise ClaimsRefused("the provider gave no usable subject ('sub' claim)")
    email = _email(claims)
    groups = _groups(claims, sso.groups_claim)
    return VerifiedIdentity(
        subject=subject,
        email=email,
        name=_name(claims, email, subject),
        groups=groups,
        admin=sso.admin_group is not None and sso.admin_group in groups,
    )
