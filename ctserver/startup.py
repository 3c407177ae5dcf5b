"""What happens before the server listens, whichever server runs the application:
``serve`` (uvicorn, production) and ``runserver`` (daphne, development) both call
``prepare``."""

from __future__ import annotations

import logging
import subprocess

from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from dashboard.clients import BadClientSource, build_python_client, build_vscode_client
from dashboard.credentials import ensure_dashboard_account, log_generated_password
from sso.discovery import check_at_startup

logger = logging.getLogger("ctserver")


def prepare() -> None:
    """Check the database, make the dashboard account, build the client downloads."""
    config = settings.CONFIG
    _warn_if_debug()
    if _unapplied_migrations():
        raise CommandError("The database is not migrated: run 'manage.py migrate' first.")
    account = ensure_dashboard_account(config.dashboard_credentials)
    if account.generated_password:
        log_generated_password(account.username, account.generated_password)
    else:
        logger.info("Dashboard user %r (from %s)", account.username, account.source)
    check_at_startup()  # single sign-on: a warning when the provider cannot be reached
    if config.monitoring.noclients:
        logger.info("Client downloads are off (CT_NOCLIENTS): /clients/ answers 404")
        return
    try:
        client = build_python_client(settings.DATA.root / "clients", config.server_url)
        logger.info("Client download ready: /clients/%s/%s", client.client, client.filename)
    except (OSError, subprocess.CalledProcessError) as exc:
        logger.error("Could not build the client download: %s", exc)
    _prepare_vscode_client(config.server_url)


def _prepare_vscode_client(server_url: str) -> None:
    """The VS Code extension's download: one log line says whether there is one."""
    base = settings.VSCODE_CLIENT_BASE
    try:
        client = build_vscode_client(settings.DATA.root / "clients", server_url, base)
    except (OSError, BadClientSource) as exc:
        logger.error("Could not make the VS Code extension's download: %s", exc)
        return
    if client is None:
        logger.info("No VS Code extension to offer: %s is missing (its build makes it)", base)
    else:
        logger.info("Client download ready: /clients/%s/%s", client.client, client.filename)


def _unapplied_migrations() -> bool:
    executor = MigrationExecutor(connection)
    return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def _warn_if_debug() -> None:
    if settings.DEBUG:
        logger.warning(
            "CT_DEBUG is on: error pages show settings, source code and request data to "
            "anyone who can reach this server. Never use it in production."
        )
