from __future__ import annotations

import asyncio
import gc
import logging
import subprocess
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from ctserver.server import PortUnavailable, serve
from ctserver.tls import tls_material
from dashboard.clients import build_python_client
from dashboard.credentials import ensure_dashboard_account, log_generated_password
from licensing.state import license_state

logger = logging.getLogger("ctserver")


def _unapplied_migrations() -> bool:
    executor = MigrationExecutor(connection)
    return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))


class Command(BaseCommand):
    help = (
        "Serve ctserver: HTTP on CT_HTTP_PORT, HTTPS (TLS 1.3 only) on CT_HTTPS_PORT, "
        "until SIGINT or SIGTERM."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        config = settings.CONFIG
        if _unapplied_migrations():
            raise CommandError("The database is not migrated: run 'manage.py migrate' first.")
        tls = tls_material(config.tls_cert, config.tls_key, settings.DATA.tls, config.server_host)
        logger.info(
            "TLS certificate %s, SHA-256 fingerprint %s, valid until %s",
            "self-signed" if tls.self_signed else str(tls.cert_path),
            tls.fingerprint,
            f"{tls.not_after:%Y-%m-%d}",
        )
        account = ensure_dashboard_account(config.dashboard_credentials)
        if account.generated_password:
            log_generated_password(account.username, account.generated_password)
        else:
            logger.info("Dashboard user %r (from %s)", account.username, account.source)
        try:
            client = build_python_client(settings.DATA.root / "clients", config.server_url)
            logger.info("Client download ready: /clients/%s/%s", client.client, client.filename)
        except (OSError, subprocess.CalledProcessError) as exc:
            logger.error("Could not build the client download: %s", exc)

        from ctserver.asgi import application

        # Everything loaded so far lives as long as the process: keep the cyclic
        # garbage collector from scanning it again and again, and let it run less
        # often, since its full passes over thousands of connections are what
        # shows up as relay latency spikes.
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)

        try:
            asyncio.run(serve(application, config, tls, license_state()))
        except PortUnavailable as exc:
            raise CommandError(str(exc)) from exc
        logger.info("ctserver stopped")
