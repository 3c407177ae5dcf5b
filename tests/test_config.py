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


def test_edge_defaults_are_safe() -> None:
    config = load_config({})
    assert config.trusted_proxies == ("127.0.0.1", "::1")
    assert config.hsts_seconds == 31536000  # https URL: HSTS on
    assert load_config({"CT_SERVER_URL": "http://ct.example.com"}).hsts_seconds == 0
    assert (config.request_timeout, config.max_header_bytes) == (10.0, 16384)
    assert (config.max_request_bytes, config.max_sockets_per_address) == (1048576, 256)
    relay = config.relay
    assert (relay.max_connections, relay.max_connections_per_address) == (10000, 100)
    assert (relay.session_create_rate, relay.max_open_sessions_per_address) == (20, 20)
    assert (relay.host_timeout, relay.lobby_timeout, relay.deny_backoff) == (300, 600, 30)


def test_trusted_proxies_are_addresses_or_networks() -> None:
    config = load_config({"CT_TRUSTED_PROXIES": "10.0.0.5, 10.1.0.0/16,fd00::/8"})
    assert config.trusted_proxies == ("10.0.0.5", "10.1.0.0/16", "fd00::/8")
    assert load_config({"CT_TRUSTED_PROXIES": "none"}).trusted_proxies == ()
    with pytest.raises(ConfigError, match=r"CT_TRUSTED_PROXIES must list IP addresses.*'proxy'"):
        load_config({"CT_TRUSTED_PROXIES": "10.0.0.5,proxy"})


def test_the_old_trust_everyone_switch_is_refused_with_its_replacement() -> None:
    with pytest.raises(ConfigError, match="CT_PROXY_HEADERS is replaced by CT_TRUSTED_PROXIES"):
        load_config({"CT_PROXY_HEADERS": "true"})


def test_socket_limit_must_leave_room_for_the_websocket_limit() -> None:
    with pytest.raises(ConfigError, match=r"CT_MAX_SOCKETS_PER_ADDRESS .* must be larger"):
        load_config({"CT_MAX_SOCKETS_PER_ADDRESS": "50", "CT_MAX_CONNECTIONS_PER_ADDRESS": "50"})


def test_monitoring_defaults() -> None:
    monitoring = load_config({}).monitoring
    assert monitoring.statsd is None and not monitoring.prometheus_enabled
    assert monitoring.metrics_token is None and not monitoring.noclients
    assert (monitoring.status_interval, monitoring.usage_interval) == (10.0, 300.0)
    assert monitoring.history_days == 365


def test_statsd_target_from_the_seeds_variables() -> None:
    statsd = load_config(
        {
            "CT_METRICS_STATSD_HOST": "statsd.internal",
            "CT_METRICS_STATSD_PORT": "9125",
            "CT_METRICS_STATSD_PROTOCOL": "tcp",
            "CT_METRICS_STATSD_PREFIX": "ct.prod",
        }
    ).monitoring.statsd
    assert statsd is not None
    assert (statsd.host, statsd.port, statsd.protocol, statsd.prefix) == (
        "statsd.internal",
        9125,
        "tcp",
        "ct.prod",
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CT_METRICS_STATSD_PORT": "8125"}, "needs CT_METRICS_STATSD_HOST"),
        ({"CT_METRICS_STATSD_HOST": "h", "CT_METRICS_STATSD_PROTOCOL": "quic"}, "UDP, TCP"),
        ({"CT_METRICS_STATSD_HOST": "h", "CT_METRICS_STATSD_PREFIX": "a b"}, "PREFIX must"),
        ({"CT_METRICS_TOKEN": "short"}, "at least 16 characters"),
        ({"CT_HISTORY_DAYS": "-1"}, "CT_HISTORY_DAYS"),
        ({"CT_NOCLIENTS": "maybe"}, "CT_NOCLIENTS must be true or false"),
    ],
)
def test_bad_monitoring_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(env)


def _variables_read() -> set[str]:
    """Every CT_* name the server's code mentions (ctserver/config.py reads them)."""
    import re

    root = Path(__file__).resolve().parents[1]
    source = (root / "ctserver" / "config.py").read_text()
    names = set(re.findall(r'"(CT_[A-Z0-9_]+)"', source))
    # CT_X_FILE is documented once for all; CT_PROXY_HEADERS is retired (it stops
    # startup with a message naming its replacement).
    return {name for name in names if not name.endswith("_FILE")} - {"CT_PROXY_HEADERS"}


@pytest.mark.parametrize("document", ["README.md", ".env.example"])
def test_every_variable_is_documented(document: str) -> None:
    text = (Path(__file__).resolve().parents[1] / document).read_text()
    missing = sorted(name for name in _variables_read() if name not in text)
    assert not missing, f"{document} does not document {missing}"


def test_a_lease_shorter_than_three_sweeps_stops_startup() -> None:
    with pytest.raises(ConfigError, match="at least three CT_SWEEP_INTERVALs"):
        load_config({"CT_SWEEP_INTERVAL": "5", "CT_OWNER_LEASE": "6"})
    limits = load_config({}).relay
    assert (limits.sweep_interval, limits.owner_lease) == (2.0, 6.0)
