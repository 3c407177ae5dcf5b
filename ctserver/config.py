"""Read and validate every ``CT_*`` environment variable, once.

``load_config`` turns an environment mapping into a typed, immutable ``Config``;
``ctserver/settings.py`` maps that onto Django settings. Parsing is strict: a bad
value raises ``ConfigError`` naming the variable, so startup stops with a message an
operator can act on instead of a traceback deep inside Django.

Any variable may instead be given as ``CT_X_FILE`` (a path whose content is the
value), which is how container secrets are usually mounted.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from relay.limits import RelayLimits

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# A server in a container must listen beyond loopback; CT_BIND_ADDRESS narrows it.
ALL_INTERFACES = "0.0.0.0"  # noqa: S104
# Forwarded headers are believed only from these unless CT_TRUSTED_PROXIES says otherwise.
LOOPBACK_PROXIES = ("127.0.0.1", "::1")
ONE_YEAR = 365 * 86400
# A license given in the environment (docs/licensing.md); all four, or none.
LICENSE_VARIABLES = ("CT_LICENSEE", "CT_MAXCONNECTIONS", "CT_EXPIRATION", "CT_SIGNATURE")


class ConfigError(ImproperlyConfigured):
    """A ``CT_*`` variable holds a value ctserver cannot use."""


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    source: str  # the variable the username came from


@dataclass(frozen=True)
class StatsdTarget:
    host: str
    port: int
    protocol: str  # "udp" or "tcp"
    prefix: str
    interval: float  # seconds between two sends of every metric


@dataclass(frozen=True)
class Monitoring:
    """The operator portal's figures: how often they are taken, where they go."""

    statsd: StatsdTarget | None
    prometheus_enabled: bool
    metrics_token: str | None
    status_interval: float  # each server writes its live figures this often
    usage_interval: float  # a usage sample (usage.log and the charts) this often
    history_days: int  # session history and samples older than this are purged; 0 keeps all
    noclients: bool  # CT_NOCLIENTS: no /clients/ page nor downloads


# CT_SSO_PROVIDER: which provider's habits to expect (docs/sso.md).
SSO_PROVIDERS = ("GENERIC", "OKTA", "AZURE", "ADFS", "AUTH0", "KEYCLOAK", "ORACLE")
SSO_VARIABLES = (
    "CT_SSO_CLIENT_ID",
    "CT_SSO_CLIENT_SECRET",
    "CT_SSO_TOKEN_ENDPT",
    "CT_SSO_PROVIDER",
    "CT_SSO_ADMIN_GROUP",
    "CT_SSO_GROUPS_CLAIM",
    "CT_SSO_SCOPES",
    "CT_SSO_TIMEOUT",
    "CT_SSO_ALLOW_UNVERIFIED_GUESTS",
    "CT_SSO_TOKEN_LIFETIME",
    "CT_SSO_REFRESH_LIFETIME",
)


@dataclass(frozen=True)
class Sso:
    """Single sign-on with an OpenID Connect provider; None in ``Config`` when off."""

    issuer: str  # CT_SSO_SYSTEM_BASE_URL, without a trailing slash
    client_id: str
    client_secret: str
    token_endpoint: str | None  # CT_SSO_TOKEN_ENDPT: instead of the discovered one
    provider: str  # one of SSO_PROVIDERS, lower case
    admin_group: str | None  # members reach the dashboard, logs and admin
    groups_claim: str  # the claim that lists a user's groups
    scopes: str  # asked of the provider
    timeout: float  # seconds for any call to the provider
    allow_unverified_guests: bool  # a host may admit guests who have no SSO account
    token_lifetime: int  # seconds a client's access token is valid (ctclient login)
    refresh_lifetime: int  # seconds a client may renew it without signing in again


@dataclass(frozen=True)
class Config:
    data_dir: Path
    server_url: str
    server_host: str
    server_scheme: str
    bind_address: str
    http_port: int
    https_port: int
    tls_cert: Path | None
    tls_key: Path | None
    secret_key: str | None
    database: dict[str, Any] | None
    database_conn_max_age: int
    redis_url: str | None
    dashboard_credentials: Credentials | None
    login_failure_limit: int
    login_lockout_minutes: int
    extra_allowed_hosts: tuple[str, ...]
    debug: bool
    https_redirect: bool
    hsts_seconds: int
    hsts_include_subdomains: bool
    hsts_preload: bool
    trusted_proxies: tuple[str, ...]
    request_timeout: float
    max_request_bytes: int
    max_header_bytes: int
    max_sockets_per_address: int
    log_level: str
    log_max_bytes: int
    log_backup_count: int
    health_timeout: float
    shutdown_timeout: float  # seconds a stopping server waits for requests to finish
    # As given: licensing/sources.py checks them, and a bad license refuses
    # connections rather than stopping the server.
    license_variables: dict[str, str]
    license_file: Path | None
    relay: RelayLimits
    monitoring: Monitoring
    sso: Sso | None


class _Reader:
    """Strict typed access to one environment mapping."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = environ.FileAwareEnv()
        self._env.ENVIRON = environ.fileaware_mapping.FileAwareMapping(env=env)

    def raw(self, name: str) -> str | None:
        try:
            value = self._env.ENVIRON[name]
        except KeyError:
            return None
        except OSError as exc:
            raise ConfigError(f"{name}_FILE: cannot read {exc.filename}: {exc.strerror}") from exc
        value = value.strip()
        return value or None

    def string(self, name: str, default: str | None = None) -> str | None:
        value = self.raw(name)
        return default if value is None else value

    def integer(self, name: str, default: int, minimum: int, maximum: int, what: str) -> int:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = int(value, 10)
        except ValueError:
            number = None
        if number is None or not minimum <= number <= maximum:
            raise ConfigError(f"{name} must be {what} ({minimum}-{maximum}), got {value!r}")
        return number

    def number(
        self, name: str, default: float, minimum: float, maximum: float, unit: str = "seconds"
    ) -> float:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not minimum <= number <= maximum:
            raise ConfigError(
                f"{name} must be a number of {unit} ({minimum:g}-{maximum:g}), got {value!r}"
            )
        return number

    def port(self, name: str, default: int) -> int:
        return self.integer(name, default, 1, 65535, "a TCP port number")

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() in TRUE_WORDS:
            return True
        if value.lower() in FALSE_WORDS:
            return False
        raise ConfigError(f"{name} must be true or false (1/0, yes/no, on/off), got {value!r}")

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.raw(name)
        if value is None:
            return default
        if value.upper() not in choices:
            raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
        return value.upper()

    def url(self, name: str, what: str) -> str | None:
        """An absolute https URL; plain http only to this machine (a test provider)."""
        value = self.raw(name)
        if value is None:
            return None
        parts = urlsplit(value)
        loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
        if not parts.hostname or parts.query or parts.fragment:
            raise ConfigError(
                f"{name} must be {what} such as https://sso.example.com, got {value!r}"
            )
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise ConfigError(
                f"{name} must be an https URL (plain http is allowed only to this machine), "
                f"got {value!r}"
            )
        return value.rstrip("/")

    def path(self, name: str) -> Path | None:
        value = self.raw(name)
        return None if value is None else Path(value).expanduser().absolute()

    def networks(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        """Addresses or CIDR networks, comma separated; ``none`` for an empty list."""
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() == "none":
            return ()
        items = tuple(item.strip() for item in value.split(",") if item.strip())
        for item in items:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ConfigError(
                    f"{name} must list IP addresses or networks (10.0.0.5, 10.1.0.0/16), "
                    f"or be 'none'; {item!r} is neither"
                ) from None
        return items

    def database(self, name: str) -> dict[str, Any] | None:
        value = self.raw(name)
        if value is None:
            return None
        scheme = urlsplit(value).scheme
        if scheme not in ("postgres", "postgresql", "pgsql"):
            raise ConfigError(
                f"{name} must be a PostgreSQL URL (postgresql://user:password@host:5432/name), "
                f"got a {scheme or 'schemeless'} URL"
            )
        try:
            return dict(environ.Env.db_url_config(value))
        except Exception as exc:  # django-environ raises a variety of types
            raise ConfigError(f"{name} is not a valid database URL: {exc}") from exc

    def redis_url(self, name: str) -> str | None:
        value = self.raw(name)
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss", "unix") or not (parts.hostname or parts.path):
            raise ConfigError(
                f"{name} must be a Redis URL (redis://host:6379/0, rediss://... or unix://...), "
                f"got {_without_password(value)!r}"
            )
        return value


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def _server_url(reader: _Reader, https_port: int) -> tuple[str, str, str]:
    default = f"https://localhost:{https_port}" if https_port != 443 else "https://localhost"
    url = reader.string("CT_SERVER_URL", default) or default
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"CT_SERVER_URL must be an absolute http(s) URL such as https://ct.example.com, "
            f"got {url!r}"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(
            f"CT_SERVER_URL must not have a path, query or fragment "
            f"(ctserver is served from the root), got {url!r}"
        )
    return url.rstrip("/"), parts.hostname, parts.scheme


def _dashboard_credentials(reader: _Reader) -> Credentials | None:
    """The seeds' order: CT_DASHBOARD_*, else CT_LOGS_*, else None (generated)."""
    for prefix in ("CT_DASHBOARD", "CT_LOGS"):
        user = reader.string(f"{prefix}_USER")
        password = reader.string(f"{prefix}_PASSWORD")
        if user and password:
            return Credentials(username=user, password=password, source=f"{prefix}_USER")
        if user or password:
            missing = f"{prefix}_PASSWORD" if user else f"{prefix}_USER"
            raise ConfigError(
                f"{prefix}_USER and {prefix}_PASSWORD go together: {missing} is not set"
            )
    return None


def weak_secret_key(key: str) -> str | None:
    """Why ``key`` is too weak to sign logins, or None. The bound is Django's own
    (check security.W009): at least 50 characters, at least 5 of them different."""
    length, distinct = len(key), len(set(key))
    if length >= 50 and distinct >= 5:
        return None
    return (
        f"has {length} characters, {distinct} of them different; a secret key needs at "
        "least 50, with at least 5 different"
    )


def _secret_key(reader: _Reader, env: Mapping[str, str]) -> str | None:
    """CT_SECRET_KEY, or None for the generated one. Set but empty is refused too: a key
    lost on its way must not quietly become a different key on each server."""
    path = env.get("CT_SECRET_KEY_FILE")
    if not path and "CT_SECRET_KEY" not in env:
        return None
    key = reader.raw("CT_SECRET_KEY") or ""
    weakness = weak_secret_key(key)
    if weakness:
        source = f"CT_SECRET_KEY_FILE: {path}" if path else "CT_SECRET_KEY"
        raise ConfigError(
            f"{source} {weakness} (make one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
    return key


def load_config(env: Mapping[str, str] | None = None) -> Config:
    """Parse the environment (``os.environ`` by default) into a ``Config``."""
    reader = _Reader(os.environ if env is None else env)
    http_port = reader.port("CT_HTTP_PORT", 1080)
    https_port = reader.port("CT_HTTPS_PORT", 1443)
    if http_port == https_port:
        raise ConfigError(f"CT_HTTP_PORT and CT_HTTPS_PORT must differ, both are {http_port}")
    server_url, server_host, server_scheme = _server_url(reader, https_port)
    tls_cert, tls_key = reader.path("CT_TLS_CERT"), reader.path("CT_TLS_KEY")
    if (tls_cert is None) != (tls_key is None):
        missing = "CT_TLS_KEY" if tls_key is None else "CT_TLS_CERT"
        raise ConfigError(f"CT_TLS_CERT and CT_TLS_KEY go together: {missing} is not set")
    hosts = reader.string("CT_ALLOWED_HOSTS", "") or ""
    if reader.raw("CT_PROXY_HEADERS") is not None:
        raise ConfigError(
            "CT_PROXY_HEADERS is replaced by CT_TRUSTED_PROXIES: list the addresses of your "
            "reverse proxies (default: loopback only)"
        )
    relay = _relay_limits(reader)
    max_sockets = reader.integer(
        "CT_MAX_SOCKETS_PER_ADDRESS", 256, 2, 10**6, "a count of connections"
    )
    if max_sockets <= relay.max_connections_per_address:
        raise ConfigError(
            f"CT_MAX_SOCKETS_PER_ADDRESS ({max_sockets}) must be larger than "
            f"CT_MAX_CONNECTIONS_PER_ADDRESS ({relay.max_connections_per_address}), so that "
            "WebSockets over the limit are refused with a close code instead of cut off"
        )
    return Config(
        data_dir=reader.path("CT_DATA_DIR") or Path("data").absolute(),
        server_url=server_url,
        server_host=server_host,
        server_scheme=server_scheme,
        bind_address=reader.string("CT_BIND_ADDRESS", ALL_INTERFACES) or ALL_INTERFACES,
        http_port=http_port,
        https_port=https_port,
        tls_cert=tls_cert,
        tls_key=tls_key,
        secret_key=_secret_key(reader, os.environ if env is None else env),
        database=reader.database("CT_DATABASE_URL"),
        database_conn_max_age=reader.integer(
            "CT_DATABASE_CONN_MAX_AGE", 600, 0, 86400, "seconds (0: a connection per request)"
        ),
        redis_url=reader.redis_url("CT_REDIS_URL"),
        dashboard_credentials=_dashboard_credentials(reader),
        login_failure_limit=reader.integer(
            "CT_LOGIN_FAILURE_LIMIT", 5, 1, 1000, "a count of failed sign-ins"
        ),
        login_lockout_minutes=reader.integer(
            "CT_LOGIN_LOCKOUT_MINUTES", 15, 1, 7 * 24 * 60, "a number of minutes"
        ),
        extra_allowed_hosts=tuple(h.strip() for h in hosts.split(",") if h.strip()),
        debug=reader.boolean("CT_DEBUG", False),
        https_redirect=reader.boolean("CT_HTTPS_REDIRECT", server_scheme == "https"),
        hsts_seconds=reader.integer(
            "CT_HSTS_SECONDS",
            ONE_YEAR if server_scheme == "https" else 0,
            0,
            10 * ONE_YEAR,
            "seconds",
        ),
        hsts_include_subdomains=reader.boolean("CT_HSTS_INCLUDE_SUBDOMAINS", False),
        hsts_preload=reader.boolean("CT_HSTS_PRELOAD", False),
        trusted_proxies=reader.networks("CT_TRUSTED_PROXIES", LOOPBACK_PROXIES),
        request_timeout=reader.number("CT_REQUEST_TIMEOUT", 10.0, 1, 300),
        max_request_bytes=reader.integer(
            "CT_MAX_REQUEST_BYTES", 1024 * 1024, 1024, 2**30, "a size in bytes"
        ),
        max_sockets_per_address=max_sockets,
        max_header_bytes=reader.integer(
            "CT_MAX_HEADER_BYTES", 16 * 1024, 1024, 1024 * 1024, "a size in bytes"
        ),
        log_level=reader.choice("CT_LOG_LEVEL", "INFO", LOG_LEVELS),
        log_max_bytes=reader.integer(
            "CT_LOG_MAX_BYTES", 10 * 1024 * 1024, 1024, 2**40, "a size in bytes"
        ),
        log_backup_count=reader.integer("CT_LOG_BACKUP_COUNT", 5, 0, 1000, "a file count"),
        health_timeout=reader.number("CT_HEALTH_TIMEOUT", 2.0, 0.1, 60.0),
        shutdown_timeout=reader.number("CT_SHUTDOWN_TIMEOUT", 20.0, 1.0, 600.0),
        license_variables={
            name: value for name in LICENSE_VARIABLES if (value := reader.raw(name)) is not None
        },
        license_file=reader.path("CT_LICENSE_FILE"),
        relay=relay,
        monitoring=_monitoring(reader),
        sso=_sso(reader),
    )


def _sso(reader: _Reader) -> Sso | None:
    """CT_SSO_SYSTEM_BASE_URL turns single sign-on on; the rest then must be whole."""
    issuer = reader.url("CT_SSO_SYSTEM_BASE_URL", "the OpenID provider's issuer URL")
    if issuer is None:
        given = [name for name in SSO_VARIABLES if reader.raw(name) is not None]
        if given:
            raise ConfigError(
                f"{', '.join(given)} set, but not CT_SSO_SYSTEM_BASE_URL (the provider's "
                "issuer URL), which turns single sign-on on"
            )
        return None
    client_id = reader.string("CT_SSO_CLIENT_ID")
    client_secret = reader.string("CT_SSO_CLIENT_SECRET")
    pairs = (("CT_SSO_CLIENT_ID", client_id), ("CT_SSO_CLIENT_SECRET", client_secret))
    missing = [name for name, value in pairs if value is None]
    if missing or client_id is None or client_secret is None:
        raise ConfigError(
            f"Single sign-on is on (CT_SSO_SYSTEM_BASE_URL is set) but {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not: register ctserver with the provider "
            "and give its client id and secret (docs/sso.md)"
        )
    scopes = reader.string("CT_SSO_SCOPES", "openid email profile") or ""
    if "openid" not in scopes.split():
        raise ConfigError(f"CT_SSO_SCOPES must include openid, got {scopes!r}")
    return Sso(
        issuer=issuer,
        client_id=client_id,
        client_secret=client_secret,
        token_endpoint=reader.url("CT_SSO_TOKEN_ENDPT", "the provider's token endpoint URL"),
        provider=reader.choice("CT_SSO_PROVIDER", "GENERIC", SSO_PROVIDERS).lower(),
        admin_group=reader.string("CT_SSO_ADMIN_GROUP"),
        groups_claim=reader.string("CT_SSO_GROUPS_CLAIM", "groups") or "groups",
        scopes=" ".join(scopes.split()),
        timeout=reader.number("CT_SSO_TIMEOUT", 5.0, 0.5, 60.0),
        allow_unverified_guests=reader.boolean("CT_SSO_ALLOW_UNVERIFIED_GUESTS", False),
        token_lifetime=reader.integer("CT_SSO_TOKEN_LIFETIME", 3600, 10, 86400, "seconds"),
        refresh_lifetime=reader.integer(
            "CT_SSO_REFRESH_LIFETIME", 30 * 86400, 60, 365 * 86400, "seconds"
        ),
    )


def _statsd(reader: _Reader) -> StatsdTarget | None:
    host = reader.string("CT_METRICS_STATSD_HOST")
    if host is None:
        for name in ("CT_METRICS_STATSD_PORT", "CT_METRICS_STATSD_PROTOCOL"):
            if reader.raw(name) is not None:
                raise ConfigError(f"{name} needs CT_METRICS_STATSD_HOST, which is not set")
        return None
    protocol = reader.choice("CT_METRICS_STATSD_PROTOCOL", "UDP", ("UDP", "TCP")).lower()
    prefix = reader.string("CT_METRICS_STATSD_PREFIX", "ctserver") or "ctserver"
    if not all(part.replace("_", "").replace("-", "").isalnum() for part in prefix.split(".")):
        raise ConfigError(
            "CT_METRICS_STATSD_PREFIX must be dot-separated names of letters, digits, _ "
            f"and - (ctserver.prod), got {prefix!r}"
        )
    return StatsdTarget(
        host=host,
        port=reader.port("CT_METRICS_STATSD_PORT", 8125),
        protocol=protocol,
        prefix=prefix,
        interval=reader.number("CT_METRICS_STATSD_INTERVAL", 10.0, 1, 3600),
    )


def _monitoring(reader: _Reader) -> Monitoring:
    token = reader.string("CT_METRICS_TOKEN")
    if token is not None and len(token) < 16:
        raise ConfigError(
            f"CT_METRICS_TOKEN must have at least 16 characters, it has {len(token)} "
            "(make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return Monitoring(
        statsd=_statsd(reader),
        prometheus_enabled=reader.boolean("CT_PROMETHEUS_ENABLED", False),
        metrics_token=token,
        status_interval=reader.number("CT_STATUS_INTERVAL", 10.0, 0.2, 600),
        usage_interval=reader.number("CT_USAGE_INTERVAL", 300.0, 0.2, 86400),
        history_days=reader.integer(
            "CT_HISTORY_DAYS", 365, 0, 100 * 365, "a number of days (0: keep everything)"
        ),
        noclients=reader.boolean("CT_NOCLIENTS", False),
    )


def _relay_limits(reader: _Reader) -> RelayLimits:
    limits = _read_relay_limits(reader)
    if limits.owner_lease < 3 * limits.sweep_interval:
        raise ConfigError(
            f"CT_OWNER_LEASE ({limits.owner_lease:g} s) must be at least three "
            f"CT_SWEEP_INTERVALs ({limits.sweep_interval:g} s): leases are renewed every "
            "sweep, and one late renewal must not cost a server its sessions"
        )
    return limits


def _read_relay_limits(reader: _Reader) -> RelayLimits:
    d = RelayLimits()
    minutes = 60.0
    return RelayLimits(
        max_frame_bytes=reader.integer(
            "CT_MAX_FRAME_BYTES", d.max_frame_bytes, 1024, 64 * 1024 * 1024, "a size in bytes"
        ),
        max_control_bytes=reader.integer(
            "CT_MAX_CONTROL_BYTES", d.max_control_bytes, 1024, 1024 * 1024, "a size in bytes"
        ),
        rate_frames=reader.number("CT_PEER_RATE_FRAMES", d.rate_frames, 1, 1e6, "frames/s"),
        rate_bytes=reader.number("CT_PEER_RATE_BYTES", d.rate_bytes, 1024, 1e10, "bytes/s"),
        send_queue_bytes=reader.integer(
            "CT_SEND_QUEUE_BYTES", d.send_queue_bytes, 64 * 1024, 2**34, "a size in bytes"
        ),
        max_peers=reader.integer("CT_MAX_PEERS_PER_SESSION", d.max_peers, 2, 10000, "a count"),
        max_lobby=reader.integer("CT_MAX_LOBBY", d.max_lobby, 1, 10000, "a count"),
        max_open_sessions=reader.integer(
            "CT_MAX_OPEN_SESSIONS", d.max_open_sessions, 1, 10**7, "a count"
        ),
        max_open_sessions_per_address=reader.integer(
            "CT_MAX_OPEN_SESSIONS_PER_ADDRESS", d.max_open_sessions_per_address, 1, 10**7, "a count"
        ),
        session_create_rate=reader.integer(
            "CT_SESSION_CREATE_RATE", d.session_create_rate, 1, 10**6, "sessions per minute"
        ),
        max_connections=reader.integer(
            "CT_MAX_CONNECTIONS", d.max_connections, 1, 10**7, "a count"
        ),
        max_connections_per_address=reader.integer(
            "CT_MAX_CONNECTIONS_PER_ADDRESS", d.max_connections_per_address, 1, 10**6, "a count"
        ),
        max_lobby_per_address=reader.integer(
            "CT_MAX_LOBBY_PER_ADDRESS", d.max_lobby_per_address, 1, 10000, "a count"
        ),
        knock_rate=reader.number("CT_KNOCK_RATE", d.knock_rate, 1, 1e6, "guests per minute"),
        lobby_timeout=reader.number("CT_LOBBY_TIMEOUT", d.lobby_timeout, 1, 7 * 24 * 60 * minutes),
        deny_backoff=reader.number("CT_DENY_BACKOFF", d.deny_backoff, 0, 3600),
        hello_timeout=reader.number("CT_HELLO_TIMEOUT", d.hello_timeout, 0.1, 600),
        reconnect_grace=reader.number("CT_RECONNECT_GRACE", d.reconnect_grace, 0, 86400),
        host_timeout=reader.number(
            "CT_SESSION_HOST_TIMEOUT", d.host_timeout, 1, 30 * 24 * 60 * minutes
        ),
        no_guest_timeout=reader.number(
            "CT_SESSION_NO_GUEST_TIMEOUT", d.no_guest_timeout, 1, 30 * 24 * 60 * minutes
        ),
        empty_timeout=reader.number(
            "CT_SESSION_EMPTY_TIMEOUT", d.empty_timeout, 1, 30 * 24 * 60 * minutes
        ),
        idle_timeout=reader.number(
            "CT_SESSION_IDLE_TIMEOUT", d.idle_timeout, 1, 30 * 24 * 60 * minutes
        ),
        sweep_interval=reader.number("CT_SWEEP_INTERVAL", d.sweep_interval, 0.05, 600),
        ping_interval=reader.number("CT_WS_PING_INTERVAL", d.ping_interval, 1, 3600),
        ping_timeout=reader.number("CT_WS_PING_TIMEOUT", d.ping_timeout, 1, 3600),
        owner_lease=reader.number("CT_OWNER_LEASE", d.owner_lease, 1, 3600),
    )
