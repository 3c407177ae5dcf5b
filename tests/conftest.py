from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import ServerProcess, plain_http_env
from tests.support.services import create_database, postgres_server, redis_server


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """In-process tests hash with MD5 for speed; server processes keep the real hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start real server processes (each stopped at the end of the test)."""
    started: list[ServerProcess] = []

    def start(data_dir: Path | None = None, **env: str) -> ServerProcess:
        server = ServerProcess(data_dir or tmp_path / "data", **env).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def default_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server with no configuration at all (https URL: redirects, HSTS), shared by
    the whole run: for tests that only read what it serves and change nothing."""
    server = ServerProcess(tmp_path_factory.mktemp("default")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server per test module, reached over plain HTTP."""
    server = ServerProcess(tmp_path_factory.mktemp("server"), **plain_http_env()).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """One Redis for the test run: servers' keys and channels carry random ids, so
    tests sharing it never meet (a test that stops Redis starts its own)."""
    with redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_cluster: str) -> str:
    """A fresh database per test, on the session's private cluster."""
    return create_database(postgres_cluster)
