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
import resource
import signal
import ssl
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from django.conf import settings

from ctserver.config import ALL_INTERFACES, Config
from ctserver.sockets import GuardedConfig, SocketCounts
from ctserver.tls import TlsMaterial
from dashboard.monitor import MONITOR
from licensing.slots import server_identity
from relay.cluster import close_cluster
from relay.places import close_places
from relay.rooms import ROOMS

logger = logging.getLogger("ctserver")

SERVER_HEADER = "ct-server"


@dataclass
class Listening:
    """What the server reports once every port listens."""

    config: Config
    license_lines: list[tuple[int, str]]  # (level, text): licensing.state.startup_lines

    def announce(self) -> None:
        c = self.config
        logger.info(
            "ctserver services now available on port %d (HTTP) and %d (SSL)",
            c.http_port,
            c.https_port,
        )
        for level, line in self.license_lines:
            logger.log(level, line)
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

    config: GuardedConfig

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[Any] | None = None) -> None:
        """uvicorn's start for a host and port, plus a TLS handshake deadline.

        uvicorn leaves asyncio's default of 60 s, during which a socket that never
        finishes its handshake holds a file descriptor and is seen by nothing else
        (the HTTP protocol starts only after the handshake).
        """
        config = self.config

        def create_protocol(_loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config,
                server_state=self.server_state,
                app_state=self.lifespan.state,
                _loop=_loop,
            )

        try:
            server = await asyncio.get_running_loop().create_server(
                create_protocol,
                host=config.host,
                port=config.port,
                ssl=config.ssl,
                backlog=config.backlog,
                ssl_handshake_timeout=config.request_timeout if config.ssl else None,
            )
        except OSError as exc:
            logger.error("Cannot listen on port %d: %s", config.port, exc.strerror or exc)
            sys.exit(1)
        self.servers = [server]
        # uvicorn sets its default headers (ours among them) on its first tick, a
        # second after start; responses before that would go without them.
        self.server_state.default_headers = list(config.encoded_headers)
        self.started = True


def listener_config(
    application: Any,
    config: Config,
    port: int,
    sockets: SocketCounts,
    ssl_factory: Callable[[uvicorn.Config, Callable[[], ssl.SSLContext]], ssl.SSLContext]
    | None = None,
) -> GuardedConfig:
    relay = config.relay
    # Let frames somewhat over the relay's limit reach it, so they are refused
    # with the protocol's 4009 rather than the WebSocket layer's bare 1009.
    ws_message_limit = 2 * max(relay.max_frame_bytes, relay.max_control_bytes) + 65536
    return GuardedConfig(
        application,
        sockets=sockets,
        request_timeout=config.request_timeout,
        max_head_bytes=config.max_header_bytes,
        host=config.bind_address,
        port=port,
        ws_max_size=ws_message_limit,
        ws_ping_interval=relay.ping_interval,
        ws_ping_timeout=relay.ping_timeout,
        ws_per_message_deflate=False,  # ciphertext does not compress
        # On SIGTERM: WebSockets are closed at once with 1012 (clients resume on
        # another server), requests under way get this long to finish.
        timeout_graceful_shutdown=config.shutdown_timeout,
        lifespan="off",
        log_config=None,  # Django's LOGGING (stdout and server.log) applies
        access_log=False,
        server_header=False,
        # The client address and scheme come from X-Forwarded-For/-Proto only when
        # the connection comes from a trusted proxy.
        proxy_headers=bool(config.trusted_proxies),
        forwarded_allow_ips=list(config.trusted_proxies),
        # Every response, WebSocket handshakes included, names the server that sent it
        # (its lasting id, as the dashboard lists it): behind a load balancer, that
        # shows where a request was routed (docs/deploy.md).
        headers=[(SERVER_HEADER, server_identity(settings.DATA.root))],
        ssl_context_factory=ssl_factory,
    )


def raise_open_file_limit() -> None:
    """Every connection is a file descriptor; the soft limit is often 1024 while the
    hard one allows far more. Take what the system allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class PortUnavailable(Exception):
    pass


async def _run(listener: Listener) -> bool:
    """Serve one port; False when it could not be opened (uvicorn exits on that)."""
    try:
        await listener.serve()
    except SystemExit:
        return False
    return True


async def serve(
    application: Any, config: Config, tls: TlsMaterial, license_lines: list[tuple[int, str]]
) -> None:
    """Serve until SIGINT or SIGTERM. Raises PortUnavailable if a port cannot be opened."""
    https_context = tls13_context(tls)
    raise_open_file_limit()
    # One count for both ports: an address's sockets add up whichever port they use.
    sockets = SocketCounts(config.max_sockets_per_address, config.trusted_proxies)
    listeners = [
        Listener(listener_config(application, config, config.http_port, sockets)),
        Listener(
            listener_config(
                application, config, config.https_port, sockets, lambda _c, _d: https_context
            )
        ),
    ]
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for listener in listeners:
            listener.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    ROOMS.start()
    MONITOR.start()
    tasks = [asyncio.create_task(_run(listener)) for listener in listeners]
    while not all(listener.started for listener in listeners):
        if any(task.done() for task in tasks):
            stop()  # one port failed: do not serve half
            break
        await asyncio.sleep(0.05)
    else:
        Listening(config, license_lines).announce()
    served = await asyncio.gather(*tasks)
    await MONITOR.close()
    await ROOMS.close()  # save the rooms, release their sessions to other servers
    await close_cluster()
    await close_places()  # give the license places back at once
    if not all(served):
        raise PortUnavailable("a port could not be opened (see the error above)")
