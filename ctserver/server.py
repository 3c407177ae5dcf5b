"""Serve the ASGI application on the HTTP and HTTPS ports with uvicorn.

uvicorn rather than daphne: with the relay's in-process fan-out it sustains about
twice daphne's deliveries per second on one core (docs/benchmarks.md). Both
listeners share one event loop, so relay rooms span them. SIGINT and SIGTERM
stop both gracefully.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn

from ctserver.config import ALL_INTERFACES, Config
from ctserver.tls import TlsMaterial
from relay.cluster import close_cluster
from relay.rooms import ROOMS

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


def tls13_context(tls: TlsMaterial) -> ssl.SSLContext:
    """TLS 1.3 and nothing older: older handshakes fail."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(tls.cert_path, tls.key_path)
    context.set_alpn_protocols(["http/1.1"])
    return context


class Listener(uvicorn.Server):
    """One port. Signals are handled once for both listeners, by ``serve``."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def listener_config(
    application: Any,
    config: Config,
    port: int,
    ssl_factory: Callable[[uvicorn.Config, Callable[[], ssl.SSLContext]], ssl.SSLContext]
    | None = None,
) -> uvicorn.Config:
    relay = config.relay
    # Let frames somewhat over the relay's limit reach it, so they are refused
    # with the protocol's 4009 rather than the WebSocket layer's bare 1009.
    ws_message_limit = 2 * max(relay.max_frame_bytes, relay.max_control_bytes) + 65536
    return uvicorn.Config(
        application,
        host=config.bind_address,
        port=port,
        ws="websockets-sansio",
        ws_max_size=ws_message_limit,
        ws_ping_interval=relay.ping_interval,
        ws_ping_timeout=relay.ping_timeout,
        ws_per_message_deflate=False,  # ciphertext does not compress
        lifespan="off",
        log_config=None,  # Django's LOGGING (stdout and server.log) applies
        access_log=False,
        server_header=False,
        proxy_headers=config.proxy_headers,
        forwarded_allow_ips="*" if config.proxy_headers else None,
        ssl_context_factory=ssl_factory,
    )


class PortUnavailable(Exception):
    pass


async def _run(listener: Listener) -> bool:
    """Serve one port; False when it could not be opened (uvicorn exits on that)."""
    try:
        await listener.serve()
    except SystemExit:
        return False
    return True


async def serve(application: Any, config: Config, tls: TlsMaterial, license_state: str) -> None:
    """Serve until SIGINT or SIGTERM. Raises PortUnavailable if a port cannot be opened."""
    https_context = tls13_context(tls)
    listeners = [
        Listener(listener_config(application, config, config.http_port)),
        Listener(
            listener_config(application, config, config.https_port, lambda _c, _d: https_context)
        ),
    ]
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for listener in listeners:
            listener.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    tasks = [asyncio.create_task(_run(listener)) for listener in listeners]
    while not all(listener.started for listener in listeners):
        if any(task.done() for task in tasks):
            stop()  # one port failed: do not serve half
            break
        await asyncio.sleep(0.05)
    else:
        Listening(config, license_state).announce()
    served = await asyncio.gather(*tasks)
    await ROOMS.close()  # save the rooms, release their sessions to other servers
    await close_cluster()
    if not all(served):
        raise PortUnavailable("a port could not be opened (see the error above)")
