"""Registers ctserver's TLS-1.3-only endpoint type with Twisted.

Twisted finds endpoint parsers by scanning every ``twisted/plugins`` folder on
``sys.path`` (this folder has no ``__init__.py`` on purpose). The endpoint itself
lives in ``ctserver/tls_endpoint.py``.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.interfaces import IStreamServerEndpointStringParser
from twisted.plugin import IPlugin
from zope.interface import implementer


@implementer(IPlugin, IStreamServerEndpointStringParser)
class _Tls13EndpointParser:
    prefix = "ctserver-tls13"

    def parseStreamServer(self, reactor: Any, *args: str, **kwargs: str) -> Any:
        from ctserver.tls_endpoint import tls13_server_endpoint

        return tls13_server_endpoint(reactor, *args, **kwargs)


parser = _Tls13EndpointParser()
