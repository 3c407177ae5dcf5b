from __future__ import annotations

from pathlib import Path

import pytest

from ctserver.config import ConfigError, load_config


def test_defaults_are_the_embedded_single_server() -> None:
    config = load_config({})
    assert (config.http_port, config.https_port) == (1080, 1443)
    assert config.server_url == "https://localhost:1443"
    assert config.database is None and config.redis_url is None
    assert config.dashboard_credentials is None
    assert config.data_dir == Path("data").absolute()
    assert config.https_redirect is True


@pytest.mark.parametrize("value", ["abc", "0", "65536", "-1", "80.5"])
def test_bad_port_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match=r"CT_HTTP_PORT must be a TCP port number.*") as info:
        load_config({"CT_HTTP_PORT": value})
    assert repr(value) in str(info.value)


def test_ports_must_differ() -> None:
    with pytest.raises(ConfigError, match="must differ"):
        load_config({"CT_HTTP_PORT": "2000", "CT_HTTPS_PORT": "2000"})


def test_server_url_sets_host_and_scheme() -> None:
    config = load_config({"CT_SERVER_URL": "http://ct.example.com:8080/"})
    assert config.server_url == "http://ct.example.com:8080"
    assert (config.server_host, config.server_scheme) == ("ct.example.com", "http")
    assert config.https_redirect is False


@pytest.mark.parametrize("value", ["ct.example.com", "ftp://x", "https://x/path", "https://"])
def test_bad_server_url_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="CT_SERVER_URL"):
        load_config({"CT_SERVER_URL": value})


def test_booleans_are_strict() -> None:
    assert load_config({"CT_DEBUG": "yes"}).debug is True
    with pytest.raises(ConfigError, match="CT_DEBUG must be true or false"):
        load_config({"CT_DEBUG": "maybe"})


def test_dashboard_credentials_fall_back_to_logs_credentials() -> None:
    logs = load_config({"CT_LOGS_USER": "ops", "CT_LOGS_PASSWORD": "pw"}).dashboard_credentials
    assert logs is not None and (logs.username, logs.source) == ("ops", "CT_LOGS_USER")
    both = load_config(
        {
            "CT_LOGS_USER": "ops",
            "CT_LOGS_PASSWORD": "pw",
            "CT_DASHBOARD_USER": "boss",
            "CT_DASHBOARD_PASSWORD": "pw2",
        }
    ).dashboard_credentials
    assert both is not None and (both.username, both.password) == ("boss", "pw2")


def test_half_configured_credentials_are_refused() -> None:
    with pytest.raises(ConfigError, match="CT_DASHBOARD_PASSWORD is not set"):
        load_config({"CT_DASHBOARD_USER": "boss"})


def test_values_can_come_from_files(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("from-a-file\n")
    config = load_config({"CT_DASHBOARD_USER": "boss", "CT_DASHBOARD_PASSWORD_FILE": str(secret)})
    assert config.dashboard_credentials is not None
    assert config.dashboard_credentials.password == "from-a-file"


def test_unreadable_secret_file_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CT_SECRET_KEY_FILE: cannot read"):
        load_config({"CT_SECRET_KEY_FILE": str(tmp_path / "missing")})


def test_database_url_must_be_postgresql() -> None:
    config = load_config({"CT_DATABASE_URL": "postgresql://u:p@db:5432/ct"})
    assert config.database is not None
    assert config.database["ENGINE"] == "django.db.backends.postgresql"
    assert config.database["NAME"] == "ct"
    with pytest.raises(ConfigError, match="CT_DATABASE_URL must be a PostgreSQL URL"):
        load_config({"CT_DATABASE_URL": "mysql://u:p@db/ct"})


def test_bad_redis_url_is_refused_without_echoing_the_password() -> None:
    with pytest.raises(ConfigError, match="CT_REDIS_URL") as info:
        load_config({"CT_REDIS_URL": "http://user:hunter2@redis:6379"})
    assert "hunter2" not in str(info.value)


def test_tls_pair_must_be_complete() -> None:
    with pytest.raises(ConfigError, match="CT_TLS_KEY is not set"):
        load_config({"CT_TLS_CERT": "/etc/cert.pem"})


def test_log_level_is_checked() -> None:
    assert load_config({"CT_LOG_LEVEL": "debug"}).log_level == "DEBUG"
    with pytest.raises(ConfigError, match="CT_LOG_LEVEL must be one of"):
        load_config({"CT_LOG_LEVEL": "loud"})
