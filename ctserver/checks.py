"""System checks for dangerous configurations, each with a hint saying how to fix it.

They run at every management command, so ``make run`` and the container entrypoint
stop on errors before the server listens.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import ValidationError

from ctserver.config import ConfigError
from ctserver.tls import load_operator_material
from licensing.document import LicenseError
from licensing.install import verify
from licensing.sources import configured


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


@register(Tags.security)
def check_dashboard_password(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A configured password meets AUTH_PASSWORD_VALIDATORS; a generated one is random."""
    credentials = settings.CONFIG.dashboard_credentials
    if credentials is None:
        return []
    password_variable = credentials.source.replace("_USER", "_PASSWORD")
    # Unsaved: the validators only compare the password with the user's attributes.
    user = get_user_model()(username=credentials.username)
    try:
        validate_password(credentials.password, user)
    except ValidationError as exc:
        return [
            Error(
                f"{password_variable} is too weak: {' '.join(exc.messages)}",
                hint=f"Set {password_variable} to a stronger password (at least 8 characters, "
                f"not a common one, not only digits, unlike {credentials.source}), or unset "
                f"both variables to have one generated.",
                id="ctserver.E005",
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


@register(Tags.compatibility)
def check_configured_license(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A warning, not an error: without a license the server still serves the dashboard,
    the admin and health, and refuses new connections after the trial."""
    submission = configured(settings.CONFIG)
    if submission is None:
        return []
    try:
        verify(submission, datetime.datetime.now(datetime.UTC).date())
    except LicenseError as exc:
        return [
            Warning(
                f"The configured license is refused: {exc}",
                hint="Fix or unset CT_LICENSEE, CT_MAXCONNECTIONS, CT_EXPIRATION and "
                "CT_SIGNATURE (or CT_LICENSE_FILE) as the license you received says, or "
                "install one in the admin; docs/licensing.md lists every message.",
                id="ctserver.W003",
            )
        ]
    return []
