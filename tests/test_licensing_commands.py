"""manage.py issue_license (the vendor's), install_license and license_status."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.management import CommandError, call_command

from licensing import state
from licensing.document import check, parse
from licensing.keys import VENDOR_PUBLIC_KEY
from licensing.models import License
from tests.support.licenses import (
    TEST_PRIVATE_KEY,
    TEST_PUBLIC_KEY,
    license_test_key,
    license_text,
    signed,
    today,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures(license_test_key.__name__)]

DAY = timedelta(days=1)


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "signing-key.pem"
    path.write_bytes(
        TEST_PRIVATE_KEY.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _issue(key: Path, *extra: str, **options: str) -> tuple[str, str]:
    """Run issue_license; returns (stdout, stderr)."""
    values = {"licensee": "Example Corp", "max_connections": "25", "expires": "", **options}
    values["expires"] = values["expires"] or str(today() + 365 * DAY)
    out, err = io.StringIO(), io.StringIO()
    arguments = [f"--{name.replace('_', '-')}={value}" for name, value in values.items()]
    call_command("issue_license", *arguments, f"--key={key}", *extra, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_an_issued_license_installs(key_file: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "license.json"
    printed, warned = _issue(key_file, f"--out={out_file}", licensee="Issued Corp")
    assert printed.startswith(f"Wrote {out_file}: Issued Corp, 25 simultaneous connections")
    assert warned == ""  # the key the settings verify with
    check(parse(out_file.read_text()), TEST_PUBLIC_KEY)
    installed = io.StringIO()
    call_command("install_license", str(out_file), stdout=installed)
    assert installed.getvalue().startswith(
        "License installed. Valid license installed: Issued Corp, 25 simultaneous connections"
    )
    row = License.objects.get(active=True)
    assert row.source == License.Source.COMMAND
    assert row.installed_by.endswith(f"(manage.py install_license {out_file})")


def test_issue_license_prints_the_file_without_out(key_file: Path) -> None:
    printed, _ = _issue(key_file, max_connections="7")
    fields = json.loads(printed)
    assert (fields["max_connections"], fields["product"], fields["version"]) == (7, "ctserver", 1)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"expires": "2020-01-01"}, "License not issued: expires: 2020-01-01 is already past"),
        ({"expires": "2020-13-01"}, "License not issued: expires: must be a date written"),
        ({"max_connections": "0"}, "License not issued: max_connections: must be a whole"),
        ({"licensee": "Two\nLines"}, "License not issued: licensee: must be printable"),
    ],
)
def test_issue_license_refuses_what_a_server_would_refuse(
    key_file: Path, options: dict[str, str], message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        _issue(key_file, **options)


def test_issue_license_refuses_a_far_future_expiry(key_file: Path) -> None:
    far = str(today() + 3700 * DAY)
    with pytest.raises(CommandError, match="more than 10 years ahead"):
        _issue(key_file, expires=far)


def test_issue_license_needs_an_ed25519_private_key(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"cannot read .*missing\.pem: No such file"):
        _issue(tmp_path / "missing.pem")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    with pytest.raises(CommandError, match="is not an unencrypted PEM private key"):
        _issue(garbage)
    other = tmp_path / "rsa.pem"
    other.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(CommandError, match="holds a RSAPrivateKey, not an Ed25519 private key"):
        _issue(other)


def test_issue_license_warns_when_servers_verify_with_another_key(
    key_file: Path, settings: Any
) -> None:
    settings.LICENSE_VERIFY_KEY = VENDOR_PUBLIC_KEY
    _, warned = _issue(key_file)
    assert "not the key this server version verifies with" in warned


def test_install_license_refuses_in_words(tmp_path: Path) -> None:
    path = tmp_path / "license.json"
    path.write_text(license_text(licensee="Tampered Corp"))
    with pytest.raises(CommandError, match="License refused: signature: does not match"):
        call_command("install_license", str(path))
    assert License.objects.get().refused.startswith("signature: does not match")
    with pytest.raises(CommandError, match=r"cannot read .*nothing\.json: No such file"):
        call_command("install_license", str(tmp_path / "nothing.json"))


def test_license_status_prints_state_use_and_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    expires = today() + 5 * DAY
    call_command("license_status", stdout=(before := io.StringIO()))
    assert before.getvalue().splitlines() == [
        f"No valid license: no license installed. Trial: 5 simultaneous connections until "
        f"{today() + 45 * DAY} (45 days left)",
        "In use: 0 of 5 simultaneous connections",
    ]
    License.objects.create(
        licensee="Example Corp",
        document=signed(expires=expires).to_json(),
        source="admin",
        installed_by="alice",
        active=True,
    )
    state.refresh()
    monkeypatch.setattr(state, "use_counter", lambda: 11)
    call_command("license_status", stdout=(after := io.StringIO()))
    assert after.getvalue().splitlines() == [
        f"Valid license installed: Example Corp, 25 simultaneous connections, expires "
        f"{expires} (5 days left)",
        "In use: 11 of 25 simultaneous connections",
        f"Warning: The license for Example Corp expires on {expires} (5 days left): install a "
        "renewal (admin, Licensing) or new connections will be refused",
    ]
