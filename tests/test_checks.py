from __future__ import annotations

import datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.core.checks import CheckMessage
from django.test import override_settings

from ctserver.checks import check_public_url_uses_https, check_scale_out, check_tls_files
from ctserver.config import load_config
from ctserver.tls import generate_self_signed


def _ids(messages: list[CheckMessage]) -> set[str | None]:
    return {message.id for message in messages}


def _with(**env: str) -> override_settings:
    return override_settings(CONFIG=load_config(env))


def test_embedded_default_passes() -> None:
    with _with():
        assert check_scale_out() == [] and check_tls_files() == []


def test_redis_with_sqlite_and_no_shared_secret_is_an_error() -> None:
    with _with(CT_REDIS_URL="redis://127.0.0.1:6379/0"):
        assert _ids(check_scale_out()) == {"ctserver.E001", "ctserver.E002"}


def test_full_scale_out_configuration_passes() -> None:
    with _with(
        CT_REDIS_URL="redis://127.0.0.1:6379/0",
        CT_DATABASE_URL="postgresql://u:p@db/ct",
        CT_SECRET_KEY="scale-out-test-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    ):
        assert check_scale_out() == []


def test_shared_database_without_redis_warns() -> None:
    with _with(CT_DATABASE_URL="postgresql://u:p@db/ct"):
        messages = check_scale_out()
    assert _ids(messages) == {"ctserver.W001"}
    assert "CT_REDIS_URL" in (messages[0].hint or "")


def test_unreadable_operator_certificate_is_an_error(tmp_path: Path) -> None:
    with _with(CT_TLS_CERT=str(tmp_path / "c.pem"), CT_TLS_KEY=str(tmp_path / "k.pem")):
        assert _ids(check_tls_files()) == {"ctserver.E003"}


def test_expired_operator_certificate_is_an_error(tmp_path: Path) -> None:
    long_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=3 * 365)
    certificate, key = generate_self_signed(["localhost"], long_ago)
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with _with(CT_TLS_CERT=str(cert_path), CT_TLS_KEY=str(key_path)):
        assert _ids(check_tls_files()) == {"ctserver.E004"}


def test_plain_http_server_url_warns_on_deploy() -> None:
    with _with(CT_SERVER_URL="http://ct.example.com"):
        assert _ids(check_public_url_uses_https()) == {"ctserver.W002"}
    assert settings.CONFIG.server_scheme == "https"
