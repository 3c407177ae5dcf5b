"""TLS material for the HTTPS port: load the operator's certificate or make one.

With ``CT_TLS_CERT``/``CT_TLS_KEY`` unset, a self-signed certificate is generated on
first start and kept in ``CT_DATA_DIR/tls``; it is made again only when it expires
soon, no longer names the host of ``CT_SERVER_URL`` or is a CA certificate (as older
versions made). Either way the SHA-256 fingerprint is logged so clients can pin it.

A file that cannot be used stops startup with a ``ConfigError`` naming it: a kept pair
is never silently replaced, since clients may have pinned its fingerprint.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ctserver.config import ConfigError

logger = logging.getLogger("ctserver.tls")

SELF_SIGNED_DAYS = 825
RENEW_BEFORE = datetime.timedelta(days=30)


@dataclass(frozen=True)
class TlsMaterial:
    cert_path: Path
    key_path: Path
    fingerprint: str
    not_after: datetime.datetime
    self_signed: bool


def fingerprint_sha256(certificate: x509.Certificate) -> str:
    digest = certificate.fingerprint(hashes.SHA256())
    return ":".join(f"{byte:02X}" for byte in digest)


class UnusableFile(Exception):
    """A certificate or key file that cannot be used; the message names it and says why."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UnusableFile(path, f"cannot read {path}: {exc.strerror}") from exc


def load_certificate_chain(path: Path) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(_read(path))
    except ValueError as exc:
        raise UnusableFile(path, f"{path} holds no PEM certificate") from exc


def load_private_key(path: Path) -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(_read(path), password=None)
    except (ValueError, TypeError) as exc:
        raise UnusableFile(path, f"{path} holds no unencrypted PEM private key") from exc


def _public_der(certificate_or_key: x509.Certificate | PrivateKeyTypes) -> bytes:
    public = certificate_or_key.public_key()
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _load_pair(cert_path: Path, key_path: Path) -> x509.Certificate:
    """The leaf certificate, once the key is known to be its own."""
    leaf = load_certificate_chain(cert_path)[0]
    if _public_der(load_private_key(key_path)) != _public_der(leaf):
        raise UnusableFile(
            key_path, f"{key_path} is not the private key of the certificate in {cert_path}"
        )
    return leaf


def load_operator_material(cert_path: Path, key_path: Path) -> TlsMaterial:
    """Validate the operator's pair: readable, matching, and not expired."""
    try:
        leaf = _load_pair(cert_path, key_path)
    except UnusableFile as exc:
        variable = "CT_TLS_CERT" if exc.path == cert_path else "CT_TLS_KEY"
        raise ConfigError(f"{variable}: {exc}") from exc
    return TlsMaterial(
        cert_path=cert_path,
        key_path=key_path,
        fingerprint=fingerprint_sha256(leaf),
        not_after=leaf.not_valid_after_utc,
        self_signed=False,
    )


def _subject_alt_names(hostnames: list[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for name in dict.fromkeys(hostnames):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(name.strip("[]"))))
        except ValueError:
            names.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(names)


def generate_self_signed(
    hostnames: list[str], now: datetime.datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=SELF_SIGNED_DAYS))
        .add_extension(_subject_alt_names(hostnames), critical=False)
        # A leaf, not a CA: trusting it (ctclient --ca-file) lets it vouch for this
        # server only, never sign certificates for other hosts.
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        # Clients in strict verification mode (Python 3.13+, browsers) want these.
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def _covers(certificate: x509.Certificate, hostnames: list[str]) -> bool:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    present = {str(v) for v in san.get_values_for_type(x509.DNSName)}
    present |= {str(v) for v in san.get_values_for_type(x509.IPAddress)}
    return all(name.strip("[]") in present for name in hostnames)


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _why_replace(
    certificate: x509.Certificate, hostnames: list[str], now: datetime.datetime
) -> str | None:
    """Why the kept self-signed certificate must be made again, or None to keep it."""
    if _is_ca(certificate):
        return "it is a CA certificate, as older versions made; a server's must be a leaf"
    if certificate.not_valid_after_utc - RENEW_BEFORE <= now:
        return f"it expires on {certificate.not_valid_after_utc:%Y-%m-%d}"
    if not _covers(certificate, hostnames):
        return f"it does not name all of {', '.join(hostnames)}"
    return None


def _load_kept_pair(cert_path: Path, key_path: Path) -> x509.Certificate:
    try:
        return _load_pair(cert_path, key_path)
    except UnusableFile as exc:
        raise ConfigError(
            f"CT_DATA_DIR: {exc}; delete {cert_path} and {key_path} to have a new "
            "self-signed certificate made at the next start"
        ) from exc


def ensure_self_signed(tls_dir: Path, hostnames: list[str]) -> TlsMaterial:
    """Reuse the kept self-signed pair, or make a new one when it no longer fits."""
    cert_path, key_path = tls_dir / "selfsigned-cert.pem", tls_dir / "selfsigned-key.pem"
    now = datetime.datetime.now(datetime.UTC)
    if cert_path.exists() and key_path.exists():
        current = _load_kept_pair(cert_path, key_path)
        reason = _why_replace(current, hostnames, now)
        if reason is None:
            return TlsMaterial(
                cert_path, key_path, fingerprint_sha256(current), current.not_valid_after_utc, True
            )
        logger.warning("Replacing the self-signed certificate in %s: %s", tls_dir, reason)
    certificate, key = generate_self_signed(hostnames, now)
    _write_private(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    _write_private(cert_path, certificate.public_bytes(serialization.Encoding.PEM))
    logger.info("Generated a self-signed TLS certificate in %s", tls_dir)
    return TlsMaterial(
        cert_path, key_path, fingerprint_sha256(certificate), certificate.not_valid_after_utc, True
    )


def _write_private(path: Path, content: bytes) -> None:
    """Write atomically with owner-only permissions."""
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    os.replace(temporary, path)


def tls_material(
    cert_path: Path | None, key_path: Path | None, tls_dir: Path, server_host: str
) -> TlsMaterial:
    if cert_path is not None and key_path is not None:
        return load_operator_material(cert_path, key_path)
    return ensure_self_signed(tls_dir, [server_host, "localhost", "127.0.0.1", "::1"])
