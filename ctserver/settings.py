"""Django settings for ctserver.

Every value an operator may change comes from a ``CT_*`` environment variable,
parsed once by ``ctserver.config.load_config`` (see README, "Configuration").
Nothing below reads the environment directly.
"""

from __future__ import annotations

import os
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from csp.constants import NONE, SELF

from ctserver.config import load_config
from ctserver.datadir import load_or_create_secret_key, prepare_data_dir
from dashboard.clients import VSCODE_SOURCE
from licensing.keys import VENDOR_PUBLIC_KEY

BASE_DIR = Path(__file__).resolve().parent.parent

CONFIG = load_config()
DATA = prepare_data_dir(CONFIG.data_dir)

SECRET_KEY = CONFIG.secret_key or load_or_create_secret_key(DATA)
DEBUG = CONFIG.debug
# Licenses are verified with the vendor's key, built in; never from the environment.
# Only test settings (tests/settings_test_license.py) put their own key here.
LICENSE_VERIFY_KEY = VENDOR_PUBLIC_KEY
# The VS Code extension's package, as its build commits it, that /clients/vscode/
# offers with this server's URL preset. Only test settings
# (tests/settings_test_vscode.py) put another package here.
VSCODE_CLIENT_BASE = VSCODE_SOURCE

ALLOWED_HOSTS = [CONFIG.server_host, "localhost", "127.0.0.1", "[::1]", *CONFIG.extra_allowed_hosts]
CSRF_TRUSTED_ORIGINS = [CONFIG.server_url]

INSTALLED_APPS = [
    "ctserver.apps.CtserverConfig",
    "relay",
    "licensing",
    "dashboard",
    "sso",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "oauth2_provider",
    "channels",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # A database that cannot be reached: 503 database_unavailable, not a 500.
    "ctserver.outage.DatabaseOutage",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # With CT_SSO_SYSTEM_BASE_URL: a client's own token (ctclient login) signs its
    # requests in, and nothing but the sign-in pages is left to anonymous users.
    "sso.gate.sign_in_required",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "ctserver.urls"
ASGI_APPLICATION = "ctserver.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Embedded default: SQLite in the data dir. CT_DATABASE_URL switches to PostgreSQL.
DATABASES: dict[str, dict[str, Any]] = {
    "default": CONFIG.database
    or {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA.sqlite_database,
        # A relay writes from several coroutines at once; wait for the lock
        # instead of failing with "database is locked".
        # WAL lets readers run beside the writer, and synchronous=NORMAL makes a
        # commit cost no fsync (WAL stays consistent; a power cut may lose the
        # last commits, never corrupt the file).
        "OPTIONS": {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
}
# Keep database connections open between calls (a new PostgreSQL connection costs
# milliseconds, and the relay's calls queue on one thread), checking each one
# before reuse so that a dropped connection is replaced, not failed on.
DATABASES["default"]["CONN_MAX_AGE"] = CONFIG.database_conn_max_age
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Embedded default: the in-memory layer, valid for one process only (system check
# ctserver.W001 says so when that process looks like one of several).
CHANNEL_LAYERS: dict[str, dict[str, Any]] = {
    "default": (
        {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [CONFIG.redis_url]},
        }
        if CONFIG.redis_url
        else {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    )
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "dashboard:login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "dashboard:login"

# Sign-in throttling with django-axes (README, "Sign-in protection"). The throttle
# backend goes first so that a locked-out client is refused before any password check.
AUTHENTICATION_BACKENDS = [
    "dashboard.signin.SignInThrottle",
    "django.contrib.auth.backends.ModelBackend",
    # Single sign-on (docs/sso.md); it signs nobody in while CT_SSO_* is not set.
    "sso.backend.SsoBackend",
]
# Failures are rows in the database: they survive restarts and every server counts
# the same ones. An address and a user name are each locked on their own.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_FAILURE_LIMIT = CONFIG.login_failure_limit
AXES_COOLOFF_TIME = timedelta(minutes=CONFIG.login_lockout_minutes)
AXES_RESET_ON_SUCCESS = True
# Attempts refused during a lockout do not count, so the lockout ends at most
# CT_LOGIN_LOCKOUT_MINUTES after it began, as the 429 page promises.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "dashboard.signin.client_address"
AXES_LOCKOUT_CALLABLE = "dashboard.signin.locked_out"

# mozilla-django-oidc (sso/): the provider's endpoints come from its discovery
# document (sso/discovery.py), the client's values from CT_SSO_*.
if CONFIG.sso is not None:
    OIDC_RP_CLIENT_ID = CONFIG.sso.client_id
    OIDC_RP_CLIENT_SECRET = CONFIG.sso.client_secret
    OIDC_RP_SCOPES = CONFIG.sso.scopes
    OIDC_TIMEOUT = CONFIG.sso.timeout
OIDC_RP_SIGN_ALGO = "RS256"  # sso/backend.py accepts the provider's asymmetric algorithms
OIDC_USE_PKCE = True
OIDC_USE_NONCE = True
OIDC_STORE_ID_TOKEN = True  # the hint for the provider's logout
OIDC_AUTHENTICATION_CALLBACK_URL = "sso:callback"
LOGIN_REDIRECT_URL_FAILURE = "/sso/logout"

# django-oauth-toolkit: with SSO on, this server issues its own short-lived,
# renewable, revocable tokens to its clients (ctclient login), after they sign in
# through the provider; /oauth/ exists only then (ctserver/urls.py, sso/tokens.py).
_SSO = CONFIG.sso
if CONFIG.server_scheme == "http":
    # oauthlib refuses plain-HTTP requests unless told: the operator chose an http://
    # CT_SERVER_URL (manage.py check --deploy warns, ctserver.W002).
    os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
OAUTH2_PROVIDER = {
    "ACCESS_TOKEN_EXPIRE_SECONDS": _SSO.token_lifetime if _SSO else 3600,
    "REFRESH_TOKEN_EXPIRE_SECONDS": _SSO.refresh_lifetime if _SSO else 30 * 86400,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,  # a stolen, already used refresh token revokes all
    "PKCE_REQUIRED": True,
    "SCOPES": {"sessions": "Host and join sessions"},
    "DEFAULT_SCOPES": ["sessions"],
    "OAUTH_DEVICE_VERIFICATION_URI": CONFIG.server_url + "/oauth/device/",
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],  # http: loopback only (the clients)
    # RFC 9700 (the OAuth 2.0 security BCP), which the toolkit's defaults do not
    # follow yet: no implicit or password grant, PKCE S256 only, tokens never in a
    # URL's query, the `iss` authorization-response parameter, tokens stored hashed.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
}
# oauth2_provider.W008 warns of plain-http redirect URIs: the only ones registered
# are the loopback URIs RFC 8252 §7.3 asks for (sso/migrations/0002).
SILENCED_SYSTEM_CHECKS = ["oauth2_provider.W008"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# Serve from the app folders too, so a checkout runs without collectstatic
# (WhiteNoise then warns that STATIC_ROOT does not exist, which is expected).
WHITENOISE_USE_FINDERS = True
warnings.filterwarnings("ignore", message="No directory at: .*staticfiles")

# HTTPS: the external URL decides. Health checks stay reachable over plain HTTP
# so load balancers and the container HEALTHCHECK need no certificate.
_HTTPS = CONFIG.server_scheme == "https"
SECURE_SSL_REDIRECT = CONFIG.https_redirect
SECURE_REDIRECT_EXEMPT = [r"^ct-health/"]
SECURE_SSL_HOST = urlsplit(CONFIG.server_url).netloc if CONFIG.https_redirect else None
SESSION_COOKIE_SECURE = _HTTPS
CSRF_COOKIE_SECURE = _HTTPS
SECURE_HSTS_SECONDS = CONFIG.hsts_seconds
SECURE_HSTS_INCLUDE_SUBDOMAINS = CONFIG.hsts_include_subdomains
SECURE_HSTS_PRELOAD = CONFIG.hsts_preload
# No SECURE_PROXY_SSL_HEADER: uvicorn already takes the scheme and client address
# from forwarded headers, and only when they come from CT_TRUSTED_PROXIES.
X_FRAME_OPTIONS = "DENY"
_SSO_ORIGINS = ["{0.scheme}://{0.netloc}".format(urlsplit(CONFIG.sso.issuer))] if CONFIG.sso else []
# Every page loads only what this server serves: no CDN, no inline script or style.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "base-uri": [SELF],
        # The sign-out form redirects to the provider's logout page.
        "form-action": [SELF, *_SSO_ORIGINS],
        "frame-ancestors": [NONE],
        "object-src": [NONE],
    }
}

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "line": {
            "()": "ctserver.logs.LineFormatter",
            "format": "%(asctime)s %(name)s %(levelname)s %(message)s",
        },
    },
    "filters": {"without_traceback": {"()": "ctserver.logs.WithoutTraceback"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "line",
            "filters": ["without_traceback"],
        },
        "file": {
            "class": "logging.handlers.RotatingFileHandler",
            "filename": DATA.logs / "server.log",
            "maxBytes": CONFIG.log_max_bytes,
            "backupCount": CONFIG.log_backup_count,
            "encoding": "utf-8",
            "formatter": "line",
            "filters": ["without_traceback"],
        },
    },
    "root": {"handlers": ["stdout", "file"], "level": CONFIG.log_level},
    "loggers": {
        # uvicorn says "WebSocket accepted" at INFO for every connection: thousands
        # of lines in a reconnect storm. Its warnings and errors still come through.
        "uvicorn.error": {"level": "WARNING"},
        # django-axes logs every attempt again, in several lines with the values
        # masked; dashboard.signin writes the one line an operator needs.
        "axes": {"level": "ERROR"},
    },
}
