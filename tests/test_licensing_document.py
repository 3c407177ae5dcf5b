"""The license document: canonical bytes, parsing and checks, with no database."""

from __future__ import annotations

import base64
import json
from datetime import date, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from licensing.document import (
    LicenseError,
    canonical_bytes,
    check,
    check_dates,
    parse,
    sign,
)
from licensing.keys import VENDOR_PUBLIC_KEY
from tests.support.licenses import TEST_PUBLIC_KEY, license_text, signed, today


def _refusal(text: str) -> str:
    """The message a document is refused with, by parsing or checking."""
    with pytest.raises(LicenseError) as caught:
        check(parse(text), TEST_PUBLIC_KEY)
    return str(caught.value)


def test_canonical_bytes_are_the_documented_form() -> None:
    signed_bytes = canonical_bytes("Zoë & Co", 25, date(2030, 1, 31), "ctserver", 1)
    assert signed_bytes == (
        b"ctserver-license-v1\n"
        b'{"expires":"2030-01-31","licensee":"Zo\\u00eb & Co","max_connections":25,'
        b'"product":"ctserver","version":1}'
    )


def test_a_signed_license_round_trips_and_verifies() -> None:
    document = signed(licensee="Zoë & Co", max_connections=1_000_000)
    again = parse(document.to_json())
    assert again == document
    check(again, TEST_PUBLIC_KEY)
    check_dates(again, today())


def test_a_license_signed_with_another_key_is_refused() -> None:
    stranger = sign(Ed25519PrivateKey.generate(), "Example Corp", 25, today())
    assert "signature: does not match" in _refusal(stranger.to_json())
    with pytest.raises(LicenseError, match="signature: does not match"):
        check(signed(), VENDOR_PUBLIC_KEY)  # a test license on a real server


@pytest.mark.parametrize(
    "changes",
    [
        {"licensee": "Someone Else"},
        {"max_connections": 26},
        {"expires": "2099-12-31"},
    ],
)
def test_a_changed_field_breaks_the_signature(changes: dict[str, Any]) -> None:
    assert "signature: does not match the other fields" in _refusal(license_text(**changes))


def test_a_changed_signature_is_refused() -> None:
    document = signed()
    flipped = bytes([document.signature[0] ^ 1]) + document.signature[1:]
    text = license_text(signature=base64.b64encode(flipped).decode())
    assert "signature: does not match" in _refusal(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not JSON (Expecting value at line 1 column 1)"),
        ("\x89PNG\r\n\x1a\n garbage", "not JSON"),
        ("[1, 2]", "a license is a JSON object with the fields licensee, max_connections"),
        ('{"licensee": NaN}', "not JSON (NaN is not a JSON number)"),
        ("x" * 20000, "the document has 20000 characters; a license has a few hundred"),
    ],
)
def test_garbage_is_refused_as_not_a_license(text: str, message: str) -> None:
    assert message in _refusal(text)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"expires": None}, "the license has no expires field"),
        (
            {"product": None, "signature": None},
            "the license has no product and no signature field",
        ),
        ({"seats": 5}, "seats: unknown field (a license has exactly: licensee,"),
        ({"licensee": 7}, "licensee: must be a string, got 7"),
        ({"licensee": ""}, "licensee: must be 1-200 characters"),
        ({"licensee": " Padded"}, "licensee: must be 1-200 characters without surrounding"),
        ({"licensee": "x" * 201}, "licensee: must be 1-200 characters"),
        ({"licensee": "Evil\nCorp"}, "licensee: must be printable characters only"),
        ({"max_connections": "25"}, "max_connections: must be a whole number from 1 to 1000000"),
        ({"max_connections": 25.0}, "max_connections: must be a whole number"),
        ({"max_connections": True}, "max_connections: must be a whole number"),
        ({"max_connections": 0}, "max_connections: must be a whole number from 1"),
        ({"max_connections": 1_000_001}, "max_connections: must be a whole number"),
        ({"expires": "31/12/2030"}, "expires: must be a date written YYYY-MM-DD, got '31/12/2030'"),
        ({"expires": "2030-02-30"}, "expires: must be a date written YYYY-MM-DD"),
        ({"expires": "20300101"}, "expires: must be a date written YYYY-MM-DD"),
        ({"expires": 20300101}, "expires: must be a string"),
        ({"version": "1"}, "version: must be a whole number"),
        ({"signature": "not base64!"}, "signature: is not base64"),
        ({"signature": "c2hvcnQ="}, "signature: must be 64 bytes (an Ed25519 signature), got 5"),
    ],
)
def test_malformed_fields_are_refused_naming_the_field(
    changes: dict[str, Any], message: str
) -> None:
    assert message in _refusal(license_text(**changes))


def test_a_duplicated_field_is_refused() -> None:
    text = license_text().replace(
        '"max_connections": 25', '"max_connections": 25, "max_connections": 999'
    )
    assert "max_connections: appears more than once" in _refusal(text)


def test_a_license_for_another_product_or_version_is_refused() -> None:
    other = signed(product="ctserver-enterprise")
    assert "product: this license is for 'ctserver-enterprise', not 'ctserver'" in _refusal(
        other.to_json()
    )
    newer = signed(version=2)
    assert _refusal(newer.to_json()) == (
        "version: this license is for ctserver version 2; this server is version 1"
    )


def test_a_past_or_far_future_expiry_cannot_be_installed() -> None:
    now = today()
    check_dates(signed(expires=now), now)  # valid through its last day
    with pytest.raises(LicenseError, match=r"expires: \d{4}-\d\d-\d\d is already past"):
        check_dates(signed(expires=now - timedelta(days=1)), now)
    with pytest.raises(LicenseError, match="more than 10 years ahead; a typo in the year"):
        check_dates(signed(expires=now + timedelta(days=3654)), now)
    check_dates(signed(expires=now + timedelta(days=3653)), now)


def test_expiry_is_the_end_of_the_expiry_day() -> None:
    document = signed(expires=date(2030, 1, 31))
    assert not document.expired(date(2030, 1, 31))
    assert document.expired(date(2030, 2, 1))


def test_the_file_form_is_the_six_fields() -> None:
    fields = json.loads(signed().to_json())
    assert sorted(fields) == [
        "expires",
        "licensee",
        "max_connections",
        "product",
        "signature",
        "version",
    ]
    assert (fields["product"], fields["version"]) == ("ctserver", 1)
