from __future__ import annotations

import datetime
import ipaddress
import logging
import re
import socket
import ssl
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ctserver.config import ConfigError
from ctserver.tls import ensure_self_signed, load_operator_material

HOSTS = ["ct.example.com", "localhost", "127.0.0.1", "::1"]


def _write_ca_pair(tls_dir: Path) -> None:
    """A self-signed CA certificate for HOSTS, as versions before the leaf made."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOSTS[0])])
    now = datetime.datetime.now(datetime.UTC)
    names = [
        x509.DNSName("ct.example.com"),
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=800))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    (tls_dir / "selfsigned-cert.pem").write_bytes(
        certificate.public_bytes(serialization.Encoding.PEM)
    )
    (tls_dir / "selfsigned-key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


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


def test_self_signed_certificate_is_a_leaf_for_the_servers_names(tmp_path: Path) -> None:
    pair = ensure_self_signed(tmp_path, HOSTS)
    extensions = x509.load_pem_x509_certificate(pair.cert_path.read_bytes()).extensions
    constraints = extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and not constraints.value.ca
    usage = extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign and not usage.crl_sign
    purposes = extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(purposes) == [ExtendedKeyUsageOID.SERVER_AUTH]
    names = extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["ct.example.com", "localhost"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]


def _handshake(pair_dir: Path, server_hostname: str) -> str | None:
    """Verify the kept certificate as ctclient --ca-file does, in strict mode as well."""
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(pair_dir / "selfsigned-cert.pem", pair_dir / "selfsigned-key.pem")
    client_side = ssl.create_default_context(cafile=pair_dir / "selfsigned-cert.pem")
    client_side.verify_flags |= ssl.VERIFY_X509_STRICT
    one, other = socket.socketpair()
    accepting = threading.Thread(
        target=lambda: server_side.wrap_socket(one, server_side=True).close(), daemon=True
    )
    accepting.start()
    try:
        with client_side.wrap_socket(other, server_hostname=server_hostname) as tls:
            return tls.version()
    finally:
        accepting.join(5)
        one.close()


@pytest.mark.parametrize("hostname", ["ct.example.com", "localhost", "127.0.0.1"])
def test_python_clients_verify_the_self_signed_certificate(tmp_path: Path, hostname: str) -> None:
    ensure_self_signed(tmp_path, HOSTS)
    assert _handshake(tmp_path, hostname) is not None


def test_kept_ca_certificate_of_an_older_version_is_replaced_by_a_leaf(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _write_ca_pair(tmp_path)
    with caplog.at_level(logging.WARNING, logger="ctserver.tls"):
        pair = ensure_self_signed(tmp_path, HOSTS)
    certificate = x509.load_pem_x509_certificate(pair.cert_path.read_bytes())
    assert not certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert f"Replacing the self-signed certificate in {tmp_path}: it is a CA certificate" in (
        caplog.text
    )
    assert ensure_self_signed(tmp_path, HOSTS).fingerprint == pair.fingerprint


def _garbage_key(tls_dir: Path) -> Path:
    (tls_dir / "selfsigned-key.pem").write_text("not a key\n")
    return tls_dir / "selfsigned-key.pem"


def _garbage_certificate(tls_dir: Path) -> Path:
    (tls_dir / "selfsigned-cert.pem").write_bytes(b"\x00" * 64)
    return tls_dir / "selfsigned-cert.pem"


def _key_of_another_pair(tls_dir: Path) -> Path:
    other = tls_dir / "other"
    other.mkdir()
    (tls_dir / "selfsigned-key.pem").write_bytes(
        ensure_self_signed(other, HOSTS).key_path.read_bytes()
    )
    return tls_dir / "selfsigned-key.pem"


@pytest.mark.parametrize(
    ("spoil", "problem"),
    [
        (_garbage_key, "holds no unencrypted PEM private key"),
        (_garbage_certificate, "holds no PEM certificate"),
        (_key_of_another_pair, "is not the private key of the certificate in"),
    ],
)
def test_unusable_kept_pair_stops_startup_saying_to_delete_it(
    tmp_path: Path, spoil: Callable[[Path], Path], problem: str
) -> None:
    ensure_self_signed(tmp_path, HOSTS)
    spoiled = spoil(tmp_path)
    with pytest.raises(ConfigError) as refused:
        ensure_self_signed(tmp_path, HOSTS)
    message = str(refused.value)
    assert message.startswith(f"CT_DATA_DIR: {spoiled} {problem}")
    assert f"delete {tmp_path / 'selfsigned-cert.pem'} and {tmp_path / 'selfsigned-key.pem'}" in (
        message
    )
    assert "\n" not in message


def test_garbage_operator_key_names_the_variable_and_file(tmp_path: Path) -> None:
    pair = ensure_self_signed(tmp_path, HOSTS)
    garbage = tmp_path / "key.pem"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ConfigError) as refused:
        load_operator_material(pair.cert_path, garbage)
    assert str(refused.value) == f"CT_TLS_KEY: {garbage} holds no unencrypted PEM private key"
