"""The HTTPS listener: a Twisted endpoint that speaks TLS 1.3 and nothing older.

Daphne builds its listeners from Twisted endpoint strings, and Twisted's own
``ssl:`` endpoint cannot raise the minimum protocol version. So ctserver registers
an endpoint type of its own, ``ctserver-tls13:``, through Twisted's documented
plugin mechanism (``twisted/plugins/ctserver_tls13.py`` at the repository root).
"""

from __future__ import annotations

from pathlib import Path

from OpenSSL import crypto
from twisted.internet import ssl
from twisted.internet.endpoints import SSL4ServerEndpoint, quoteStringArgument
from twisted.internet.interfaces import IReactorSSL

from ctserver.tls import load_certificate_chain, load_private_key

ENDPOINT_PREFIX = "ctserver-tls13"


def tls13_context_factory(cert_path: Path, key_path: Path) -> ssl.CertificateOptions:
    chain = load_certificate_chain(cert_path)
    return ssl.CertificateOptions(
        privateKey=crypto.PKey.from_cryptography_key(load_private_key(key_path)),  # type: ignore[arg-type]
        certificate=crypto.X509.from_cryptography(chain[0]),
        extraCertChain=[crypto.X509.from_cryptography(c) for c in chain[1:]],
        raiseMinimumTo=ssl.TLSVersion.TLSv1_3,
    )


def tls13_server_endpoint(
    reactor: IReactorSSL,
    port: str,
    cert: str,
    key: str,
    interface: str = "",
    backlog: str = "50",
) -> SSL4ServerEndpoint:
    return SSL4ServerEndpoint(
        reactor,
        int(port),
        tls13_context_factory(Path(cert), Path(key)),
        backlog=int(backlog),
        interface=interface,
    )


def tls13_endpoint_description(port: int, interface: str, cert: Path, key: Path) -> str:
    """The endpoint string daphne is given for the HTTPS port."""
    fields = {"port": str(port), "interface": interface, "cert": str(cert), "key": str(key)}
    quoted = ":".join(f"{name}={quoteStringArgument(value)}" for name, value in fields.items())
    return f"{ENDPOINT_PREFIX}:{quoted}"


def tcp_endpoint_description(port: int, interface: str) -> str:
    return f"tcp:port={port}:interface={quoteStringArgument(interface)}"
