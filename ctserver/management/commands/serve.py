from __future__ import annotations

import gc
import logging
from typing import Any

import uvloop
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ctserver.server import PortUnavailable, serve
from ctserver.startup import prepare
from ctserver.tls import tls_material
from licensing.state import startup_lines

logger = logging.getLogger("ctserver")


class Command(BaseCommand):
    help = (
        "Serve ctserver: HTTP on CT_HTTP_PORT, HTTPS (TLS 1.3 only) on CT_HTTPS_PORT, "
        "until SIGINT or SIGTERM."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        config = settings.CONFIG
        tls = tls_material(config.tls_cert, config.tls_key, settings.DATA.tls, config.server_host)
        logger.info(
            "TLS certificate %s, SHA-256 fingerprint %s, valid until %s",
            "self-signed" if tls.self_signed else str(tls.cert_path),
            tls.fingerprint,
            f"{tls.not_after:%Y-%m-%d}",
        )
        prepare()

        from ctserver.asgi import application

        # Everything loaded so far lives as long as the process: keep the cyclic
        # garbage collector from scanning it again and again, and let it run less
        # often, since its full passes over thousands of connections are what
        # shows up as relay latency spikes.
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)

        try:
            # uvloop: the event loop uvicorn runs on when it can; its transports and
            # callbacks cost the relay far less per frame (docs/benchmarks.md).
            uvloop.run(serve(application, config, tls, startup_lines()))
        except PortUnavailable as exc:
            raise CommandError(str(exc)) from exc
        logger.info("ctserver stopped")
