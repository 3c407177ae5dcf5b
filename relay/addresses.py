"""The client address every per-address limit counts under.

uvicorn has already replaced the TCP peer's address with the one a trusted proxy
forwarded (CT_TRUSTED_PROXIES), and only then; nothing here reads forwarded
headers again, or anyone could pick the address they are counted under.

An IPv6 client usually holds a whole /64 network (2^64 addresses), so limits
count an IPv6 client by its /64; an IPv4-mapped IPv6 address counts as the IPv4
address it maps.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

IPV6_CLIENT_PREFIX = 64


@lru_cache(maxsize=65536)
def client_key(address: str) -> str:
    """``address`` as the limits count it: itself for IPv4, its /64 for IPv6."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address  # not an IP (a Unix socket): counted as given
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_CLIENT_PREFIX), strict=False))
    return str(ip)


def scope_client(scope: dict[str, Any]) -> str:
    """An ASGI connection's client, as the limits count it ("" when unknown)."""
    client = scope.get("client")
    return client_key(str(client[0])) if client else ""


def request_client(meta: dict[str, Any]) -> str:
    """A Django request's client, as the limits count it ("" when unknown)."""
    address = meta.get("REMOTE_ADDR")
    return client_key(str(address)) if address else ""
