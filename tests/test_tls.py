from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
from cryptography import x509

from ctserver.config import ConfigError
from ctserver.tls import ensure_self_signed, load_operator_material

HOSTS = ["ct.example.com", "localhost", "127.0.0.1", "::1"]


def test_self_signed_certificate_is_made_once_and_reused(tmp_path: Path) -> None:
    first = ensure_self_signed(tmp_path, HOSTS)
    again = ensure_self_signed(tmp_path, HOSTS)
    assert first.fingerprint == again.fingerprint
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", first.fingerprint)
    assert oct(first.key_path.stat().st_mode & 0o777) == "0o600"
    certificate = x509.load_pem_x509_certificate(first.cert_path.read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "ct.example.com" in names.get_values_for_type(x509.DNSName)
    assert first.not_after > datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=365)


def test_self_signed_certificate_is_replaced_when_the_host_changes(tmp_path: Path) -> None:
    first = ensure_self_signed(tmp_path, HOSTS)
    moved = ensure_self_signed(tmp_path, ["ct.other.example", *HOSTS[1:]])
    assert moved.fingerprint != first.fingerprint


def test_operator_certificate_is_loaded_and_checked(tmp_path: Path) -> None:
    pair = ensure_self_signed(tmp_path, HOSTS)
    material = load_operator_material(pair.cert_path, pair.key_path)
    assert material.fingerprint == pair.fingerprint and not material.self_signed


def test_mismatched_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = ensure_self_signed(tmp_path / "a", HOSTS)
    other = ensure_self_signed(tmp_path / "b", HOSTS)
    with pytest.raises(ConfigError, match=r"CT_TLS_KEY: .* is not the private key"):
        load_operator_material(one.cert_path, other.key_path)


def test_missing_certificate_file_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CT_TLS_CERT: cannot read"):
        load_operator_material(tmp_path / "nope.pem", tmp_path / "nope.key")
