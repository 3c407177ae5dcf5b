"""System checks for dangerous configurations, each with a hint saying how to fix it.

They run at every management command, so ``make run`` and the container entrypoint
stop on errors before the server listens.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from ctserver.config import ConfigError
from ctserver.tls import load_operator_material


@register(Tags.compatibility)
def check_scale_out(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    config = settings.CONFIG
    messages: list[CheckMessage] = []
    if config.redis_url and not config.database:
        messages.append(
            Error(
                "CT_REDIS_URL is set but the database is the embedded SQLite file.",
                hint="Several servers cannot share a SQLite file: set CT_DATABASE_URL to a "
                "PostgreSQL database that every server uses, or unset CT_REDIS_URL.",
                id="ctserver.E001",
            )
        )
    if config.redis_url and not config.secret_key:
        messages.append(
            Error(
                "CT_REDIS_URL is set (several servers) but CT_SECRET_KEY is not.",
                hint="Each server would generate its own key, so a dashboard login made on one "
                "server would fail on the next. Set the same CT_SECRET_KEY on every server.",
                id="ctserver.E002",
            )
        )
    if config.database and not config.redis_url:
        messages.append(
            Warning(
                "CT_DATABASE_URL is set but CT_REDIS_URL is not: the relay uses the in-memory "
                "layer, which only reaches peers connected to this same process.",
                hint="Run a single server, or set CT_REDIS_URL on every server that shares "
                "this database.",
                id="ctserver.W001",
            )
        )
    return messages


@register(Tags.security)
def check_tls_files(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    config = settings.CONFIG
    if config.tls_cert is None or config.tls_key is None:
        return []
    try:
        material = load_operator_material(config.tls_cert, config.tls_key)
    except ConfigError as exc:
        return [
            Error(
                str(exc),
                hint="Point CT_TLS_CERT at a PEM certificate (chain) and CT_TLS_KEY at its "
                "unencrypted PEM private key, or unset both for a self-signed certificate.",
                id="ctserver.E003",
            )
        ]
    if material.not_after < datetime.datetime.now(datetime.UTC):
        return [
            Error(
                f"The certificate in CT_TLS_CERT expired on {material.not_after:%Y-%m-%d}.",
                hint="Install a renewed certificate and restart.",
                id="ctserver.E004",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_public_url_uses_https(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.CONFIG.server_scheme == "https":
        return []
    return [
        Warning(
            "CT_SERVER_URL uses http://: clients would reach the server without TLS.",
            hint="Set CT_SERVER_URL to the https:// address clients use (ctserver serves TLS 1.3 "
            "on CT_HTTPS_PORT, or terminate TLS at your load balancer).",
            id="ctserver.W002",
        )
    ]
