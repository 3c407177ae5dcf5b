"""A license document: its fields, the bytes its signature covers, and its checks.

Pure: no Django, no I/O. A document is JSON with exactly six fields (docs/licensing.md):
``licensee``, ``max_connections``, ``expires``, ``product``, ``version`` and
``signature``, an Ed25519 signature over ``canonical_bytes`` of the other five.
Every refusal is a ``LicenseError`` whose message names the field and the problem.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PRODUCT = "ctserver"
PRODUCT_VERSION = 1  # this server's major version: licenses name the one they are for
SIGNED_FIELDS = ("licensee", "max_connections", "expires", "product", "version")
FIELDS = (*SIGNED_FIELDS, "signature")
CANONICAL_PREFIX = b"ctserver-license-v1\n"
MAX_LICENSEE_CHARS = 200
MAX_CONNECTIONS = 1_000_000
# A license is a few hundred bytes; anything far larger is not one (and is not read whole).
MAX_DOCUMENT_CHARS = 16 * 1024
# An expiry further ahead than this is a typo (2205 for 2025), not a sale.
MAX_AHEAD = timedelta(days=3653)
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
SIGNATURE_BYTES = 64


class LicenseError(ValueError):
    """Why a license is refused. ``field`` names the field at fault, if one is."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.reason = reason
        self.field = field

    def renamed(self, names: Mapping[str, str]) -> LicenseError:
        """The same refusal naming the field as its source does (an environment variable)."""
        if self.field is None:
            return self
        return LicenseError(self.reason, names.get(self.field, self.field))


@dataclass(frozen=True)
class LicenseDocument:
    licensee: str
    max_connections: int
    expires: date
    product: str
    version: int
    signature: bytes

    def canonical_bytes(self) -> bytes:
        return canonical_bytes(
            self.licensee, self.max_connections, self.expires, self.product, self.version
        )

    def to_json(self) -> str:
        """The license file's form."""
        fields = {
            "licensee": self.licensee,
            "max_connections": self.max_connections,
            "expires": self.expires.isoformat(),
            "product": self.product,
            "version": self.version,
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }
        return json.dumps(fields, indent=2, ensure_ascii=False) + "\n"

    def expired(self, today: date) -> bool:
        """A license is valid through its expiry day (UTC)."""
        return today > self.expires


def canonical_bytes(
    licensee: str, max_connections: int, expires: date, product: str, version: int
) -> bytes:
    signed = {
        "licensee": licensee,
        "max_connections": max_connections,
        "expires": expires.isoformat(),
        "product": product,
        "version": version,
    }
    text = json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return CANONICAL_PREFIX + text.encode("ascii")


def parse(text: str) -> LicenseDocument:
    """A document from its JSON text, with every field's type and range checked."""
    if len(text) > MAX_DOCUMENT_CHARS:
        raise LicenseError(f"the document has {len(text)} characters; a license has a few hundred")
    try:
        fields = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise LicenseError(
            f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    if not isinstance(fields, dict):
        raise LicenseError(f"a license is a JSON object with the fields {', '.join(FIELDS)}")
    return from_fields(fields)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise LicenseError("appears more than once", key)
    return dict(pairs)


def _no_constant(name: str) -> None:
    raise LicenseError(f"not JSON ({name} is not a JSON number)")


def from_fields(fields: Mapping[str, object]) -> LicenseDocument:
    missing = [name for name in FIELDS if name not in fields]
    if missing:
        raise LicenseError(f"the license has no {' and no '.join(missing)} field")
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise LicenseError(
            f"unknown field (a license has exactly: {', '.join(FIELDS)})", unknown[0]
        )
    return LicenseDocument(
        licensee=_licensee(fields["licensee"]),
        max_connections=_whole(fields["max_connections"], "max_connections", 1, MAX_CONNECTIONS),
        expires=parse_date(fields["expires"]),
        product=_text(fields["product"], "product"),
        version=_whole(fields["version"], "version", 1, 10**6),
        signature=_signature(fields["signature"]),
    )


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise LicenseError(f"must be a string, got {_shown(value)}", name)
    return value


def _licensee(value: object) -> str:
    text = _text(value, "licensee")
    if not 1 <= len(text) <= MAX_LICENSEE_CHARS or text.strip() != text:
        raise LicenseError(
            f"must be 1-{MAX_LICENSEE_CHARS} characters without surrounding spaces, "
            f"got {_shown(value)}",
            "licensee",
        )
    if not text.isprintable():
        raise LicenseError(f"must be printable characters only, got {_shown(value)}", "licensee")
    return text


def _whole(value: object, name: str, low: int, high: int) -> int:
    # bool is an int in Python; true is not a connection count.
    if type(value) is not int or not low <= value <= high:
        raise LicenseError(
            f"must be a whole number from {low} to {high}, got {_shown(value)}", name
        )
    return value


def parse_date(value: object) -> date:
    text = _text(value, "expires")
    try:
        if not ISO_DATE.fullmatch(text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise LicenseError(
            f"must be a date written YYYY-MM-DD, got {_shown(value)}", "expires"
        ) from None


def _signature(value: object) -> bytes:
    text = _text(value, "signature")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise LicenseError("is not base64", "signature") from None
    if len(raw) != SIGNATURE_BYTES:
        raise LicenseError(
            f"must be {SIGNATURE_BYTES} bytes (an Ed25519 signature), got {len(raw)}", "signature"
        )
    return raw


def check(document: LicenseDocument, public_key: str) -> None:
    """Product, version and signature: what makes a document a genuine license for this
    server, at any date. ``public_key`` is a base64 raw Ed25519 public key."""
    if document.product != PRODUCT:
        raise LicenseError(
            f"this license is for {_shown(document.product)}, not {PRODUCT!r}", "product"
        )
    if document.version != PRODUCT_VERSION:
        raise LicenseError(
            f"this license is for {PRODUCT} version {document.version}; "
            f"this server is version {PRODUCT_VERSION}",
            "version",
        )
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key))
    try:
        key.verify(document.signature, document.canonical_bytes())
    except InvalidSignature:
        raise LicenseError(
            "does not match the other fields: the license was changed after it was signed, "
            "or was not signed by the ctserver vendor",
            "signature",
        ) from None


def check_dates(document: LicenseDocument, today: date) -> None:
    """What a license must meet to be installed today (not to stay installed: expiry
    while installed is a state, licensing.state)."""
    if document.expired(today):
        raise LicenseError(f"{document.expires} is already past", "expires")
    if document.expires > today + MAX_AHEAD:
        raise LicenseError(
            f"{document.expires} is more than 10 years ahead; a typo in the year?", "expires"
        )


def sign(
    private_key: Ed25519PrivateKey,
    licensee: str,
    max_connections: int,
    expires: date,
    product: str = PRODUCT,
    version: int = PRODUCT_VERSION,
) -> LicenseDocument:
    """A signed document (the vendor's ``issue_license``, and tests with their own key)."""
    signed = canonical_bytes(licensee, max_connections, expires, product, version)
    return LicenseDocument(
        licensee, max_connections, expires, product, version, private_key.sign(signed)
    )
