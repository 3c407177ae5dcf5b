"""Which server certificates to trust: the system's CAs, a CA file, or one pinned
certificate. Never none: an untrusted server is refused, with its fingerprint
printed so a person can compare it with the one in the server's log."""

from __future__ import annotations

import hashlib
import socket
import ssl
from urllib.parse import urlsplit

from ctclient.errors import CtClientError


class Untrusted(CtClientError):
    """The server's certificate is not one this client may trust."""


def fingerprint(der: bytes) -> str:
    return ":".join(f"{byte:02X}" for byte in hashlib.sha256(der).digest())


def normalise(text: str) -> str:
    hex_digits = text.replace(":", "").replace(" ", "").upper()
    if len(hex_digits) != 64 or any(c not in "0123456789ABCDEF" for c in hex_digits):
        raise Untrusted("a fingerprint is 64 hex digits (colons allowed), as the server logs it")
    return ":".join(hex_digits[i : i + 2] for i in range(0, 64, 2))


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or 443


def presented_certificate(url: str) -> bytes:
    """The certificate the server presents, unverified: only to show or pin it."""
    host, port = _address(url)
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe.check_hostname = False
    probe.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((host, port), timeout=10) as raw,
        probe.wrap_socket(raw, server_hostname=host) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    if der is None:
        raise Untrusted(f"{host}:{port} presented no certificate")
    return der


def pinned_context(url: str, expected: str) -> ssl.SSLContext:
    """Trust exactly the certificate with this fingerprint, and nothing else."""
    der = presented_certificate(url)
    if fingerprint(der) != normalise(expected):
        raise Untrusted(
            f"the server's certificate has fingerprint {fingerprint(der)}, not the one given"
        )
    context = ssl.create_default_context(cadata=ssl.DER_cert_to_PEM_cert(der))
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # the pinned leaf is the anchor
    context.check_hostname = False  # the pin itself names the server
    return context


def context_for(url: str, ca_file: str | None, pin: str | None) -> ssl.SSLContext | None:
    if not url.startswith("https:"):
        return None
    if pin:
        return pinned_context(url, pin)
    context = ssl.create_default_context(cafile=ca_file)
    host, port = _address(url)
    try:
        with (
            socket.create_connection((host, port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname=host),
        ):
            pass
    except ssl.SSLCertVerificationError as exc:
        shown = fingerprint(presented_certificate(url))
        raise Untrusted(
            f"the server's certificate is not trusted ({exc.verify_message}). Its SHA-256 "
            f"fingerprint is {shown}: if the server's log shows the same, run again with "
            f"--fingerprint {shown} (or --ca-file with its certificate)"
        ) from None
    except OSError as exc:
        raise CtClientError(f"cannot reach {host}:{port}: {exc}") from None
    return context
