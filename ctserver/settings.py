"""Django settings for ctserver.

Every value an operator may change comes from a ``CT_*`` environment variable,
parsed once by ``ctserver.config.load_config`` (see README, "Configuration").
Nothing below reads the environment directly.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ctserver.config import load_config
from ctserver.datadir import load_or_create_secret_key, prepare_data_dir

BASE_DIR = Path(__file__).resolve().parent.parent

CONFIG = load_config()
DATA = prepare_data_dir(CONFIG.data_dir)

SECRET_KEY = CONFIG.secret_key or load_or_create_secret_key(DATA)
DEBUG = CONFIG.debug

ALLOWED_HOSTS = [CONFIG.server_host, "localhost", "127.0.0.1", "[::1]", *CONFIG.extra_allowed_hosts]
CSRF_TRUSTED_ORIGINS = [CONFIG.server_url]

INSTALLED_APPS = [
    "ctserver.apps.CtserverConfig",
    "relay",
    "licensing",
    "dashboard",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if CONFIG.proxy_headers else None
X_FRAME_OPTIONS = "DENY"

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "line": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "line",
        },
        "file": {
            "class": "logging.handlers.RotatingFileHandler",
            "filename": DATA.logs / "server.log",
            "maxBytes": CONFIG.log_max_bytes,
            "backupCount": CONFIG.log_backup_count,
            "encoding": "utf-8",
            "formatter": "line",
        },
    },
    "root": {"handlers": ["stdout", "file"], "level": CONFIG.log_level},
}
