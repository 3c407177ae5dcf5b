"""Licenses signed with the tests' own key pair.

The server accepts them only where LICENSE_VERIFY_KEY is the test public key: in
process through pytest-django's ``settings`` fixture (``license_test_key``), in a server
process through ``tests.settings_test_license`` (``TEST_SETTINGS``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from licensing.document import LicenseDocument, sign

# A test key, public on purpose: it signs nothing any real server accepts.
TEST_PRIVATE_KEY = Ed25519PrivateKey.from_private_bytes(
    base64.b64decode("eD+21OBCOCPApGYwlbQ1PSpkp22FfeXsqko+dxxcbOc=")
)
TEST_PUBLIC_KEY = base64.b64encode(
    TEST_PRIVATE_KEY.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
).decode("ascii")
TEST_SETTINGS = "tests.settings_test_license"


def today() -> date:
    return datetime.now(UTC).date()


@pytest.fixture
def license_test_key(settings: Any) -> Iterator[None]:
    """Licenses signed with the test key are genuine here. The state is read again
    from each test's database (and after it, for the next test's)."""
    # Imported here: tests.settings_test_license imports this module before Django's
    # apps are ready, and licensing.state needs them.
    from licensing import state

    settings.LICENSE_VERIFY_KEY = TEST_PUBLIC_KEY  # drops the cached state
    state.daily_warning.last = None
    yield
    state.refresh()


def signed(
    licensee: str = "Example Corp",
    max_connections: int = 25,
    expires: date | None = None,
    **other: Any,
) -> LicenseDocument:
    """A valid license (a year ahead unless told), signed with the test key."""
    expires = expires or today() + timedelta(days=365)
    return sign(TEST_PRIVATE_KEY, licensee, max_connections, expires, **other)


def license_text(**changes: Any) -> str:
    """A signed license file's text, then with ``changes`` applied to its JSON
    fields (a tampered or broken license); a None value removes the field."""
    fields = json.loads(signed().to_json())
    for name, value in changes.items():
        if value is None:
            fields.pop(name)
        else:
            fields[name] = value
    return json.dumps(fields)


def environment(document: LicenseDocument) -> dict[str, str]:
    """The license as the four environment variables."""
    fields = json.loads(document.to_json())
    return {
        "CT_LICENSEE": fields["licensee"],
        "CT_MAXCONNECTIONS": str(fields["max_connections"]),
        "CT_EXPIRATION": fields["expires"],
        "CT_SIGNATURE": fields["signature"],
    }
