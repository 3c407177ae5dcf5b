"""Run daphne on the HTTP and HTTPS ports and say so in the seeds' words.

Importing this module installs Twisted's asyncio reactor (daphne does it on
import), so only the ``serve`` command imports it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from daphne.server import Server
from django.conf import settings
from twisted.internet import reactor

from ctserver.config import ALL_INTERFACES, Config
from ctserver.tls import TlsMaterial
from ctserver.tls_endpoint import tcp_endpoint_description, tls13_endpoint_description

logger = logging.getLogger("ctserver")


@dataclass
class Listening:
    """What the server reports once every port listens."""

    config: Config
    license_state: str

    def announce(self) -> None:
        c = self.config
        logger.info(
            "ctserver services now available on port %d (HTTP) and %d (SSL)",
            c.http_port,
            c.https_port,
        )
        logger.info(self.license_state)
        host = c.bind_address if c.bind_address not in (ALL_INTERFACES, "::") else "localhost"
        host = f"[{host}]" if ":" in host else host
        logger.info("HTTP:  http://%s:%d/", host, c.http_port)
        logger.info("HTTPS: https://%s:%d/  (dashboard at /dashboard/)", host, c.https_port)
        logger.info("Clients use CT_SERVER_URL: %s", c.server_url)


class CtDaphneServer(Server):  # type: ignore[misc]  # daphne ships no type hints
    """Daphne, plus a callback once all endpoints listen and a flag when one fails."""

    def __init__(self, *args: Any, on_listening: Listening, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_listening = on_listening
        self.failed = False

    def listen_success(self, port: Any) -> None:
        super().listen_success(port)
        if len(self.listening_addresses) == len(self.endpoints):
            # Announce once the reactor runs, i.e. once its SIGINT/SIGTERM handlers
            # are in place: whoever waits for this line may stop us right after it.
            reactor.callWhenRunning(self.on_listening.announce)

    def listen_error(self, failure: Any) -> None:
        self.failed = True
        super().listen_error(failure)


def endpoints(config: Config, tls: TlsMaterial) -> list[str]:
    return [
        tcp_endpoint_description(config.http_port, config.bind_address),
        tls13_endpoint_description(
            config.https_port, config.bind_address, tls.cert_path, tls.key_path
        ),
    ]


def serve(application: Any, tls: TlsMaterial, license_state: str) -> bool:
    """Serve until SIGINT/SIGTERM. False when a port could not be opened."""
    config: Config = settings.CONFIG
    proxy = config.proxy_headers
    relay = config.relay
    # Let frames somewhat over the relay's limit reach it, so they are refused
    # with the protocol's 4009 rather than the WebSocket layer's bare 1009.
    ws_message_limit = 2 * max(relay.max_frame_bytes, relay.max_control_bytes) + 65536
    server = CtDaphneServer(
        application=application,
        endpoints=endpoints(config, tls),
        on_listening=Listening(config, license_state),
        proxy_forwarded_address_header="X-Forwarded-For" if proxy else None,
        proxy_forwarded_port_header="X-Forwarded-Port" if proxy else None,
        proxy_forwarded_proto_header="X-Forwarded-Proto" if proxy else None,
        server_name="ctserver",
        ping_interval=relay.ping_interval,
        ping_timeout=relay.ping_timeout,
        # Sessions last as long as their timeouts allow; daphne must not cut
        # WebSockets after its default 24 hours.
        websocket_timeout=-1,
        websocket_max_message_size=ws_message_limit,
        websocket_max_frame_size=ws_message_limit,
    )
    server.run()
    return not server.failed
