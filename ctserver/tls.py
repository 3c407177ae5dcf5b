"""TLS material for the HTTPS port: load the operator's certificate or make one.

With ``CT_TLS_CERT``/``CT_TLS_KEY`` unset, a self-signed certificate is generated on
first start and kept in ``CT_DATA_DIR/tls``; it is made again only when it expires
soon or no longer names the host of ``CT_SERVER_URL``. Either way the SHA-256
fingerprint is logged so clients can pin it.
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


def load_certificate_chain(path: Path) -> list[x509.Certificate]:
    try:
        chain = x509.load_pem_x509_certificates(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"CT_TLS_CERT: cannot read {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise ConfigError(f"CT_TLS_CERT: {path} holds no PEM certificate") from exc
    return chain


def load_private_key(path: Path) -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise ConfigError(f"CT_TLS_KEY: cannot read {path}: {exc.strerror}") from exc
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"CT_TLS_KEY: {path} holds no unencrypted PEM private key ({exc})"
        ) from exc


def load_operator_material(cert_path: Path, key_path: Path) -> TlsMaterial:
    """Validate the operator's pair: readable, matching, and not expired."""
    leaf = load_certificate_chain(cert_path)[0]
    key = load_private_key(key_path)
    public = key.public_key()
    if public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise ConfigError(
            f"CT_TLS_KEY: {key_path} is not the private key of the certificate in {cert_path}"
        )
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
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        # Clients in strict verification mode (Python 3.13+, browsers) want these.
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
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


def ensure_self_signed(tls_dir: Path, hostnames: list[str]) -> TlsMaterial:
    """Reuse the kept self-signed pair, or make a new one when it no longer fits."""
    cert_path, key_path = tls_dir / "selfsigned-cert.pem", tls_dir / "selfsigned-key.pem"
    now = datetime.datetime.now(datetime.UTC)
    if cert_path.exists() and key_path.exists():
        current = load_certificate_chain(cert_path)[0]
        if current.not_valid_after_utc - RENEW_BEFORE > now and _covers(current, hostnames):
            return TlsMaterial(
                cert_path, key_path, fingerprint_sha256(current), current.not_valid_after_utc, True
            )
        logger.warning(
            "Replacing the self-signed certificate: it expires soon or names other hosts"
        )
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
