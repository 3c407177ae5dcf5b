"""Private Redis and PostgreSQL instances on free ports, from the installed binaries.

A missing binary fails the test with what to install (``make test`` installs them
first where it can): a skipped test would not prove anything.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from tests.support.ports import free_port, wait_for_port


def find_binary(name: str, package: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        pytest.fail(f"{name} is not installed: install the Debian package {package!r}")
    return found


@contextmanager
def _running(process: subprocess.Popen[bytes], port: int) -> Iterator[None]:
    """Wait until the server listens; stop it afterwards."""
    try:
        wait_for_port(port, 30)
        yield
    finally:
        process.terminate()
        process.wait(30)


class RedisServer:
    """A private redis-server; a test may stop it and start it again on the same port."""

    def __init__(self, workdir: str) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._command = [
            find_binary("redis-server", "redis-server"),
            *("--port", str(self.port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", workdir),
        ]
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        self._process = subprocess.Popen(self._command, stdout=subprocess.DEVNULL)
        try:
            wait_for_port(self.port, 30)
        except TimeoutError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(30)
            self._process = None


@contextmanager
def restartable_redis() -> Iterator[RedisServer]:
    with tempfile.TemporaryDirectory() as workdir:
        server = RedisServer(workdir).start()
        try:
            yield server
        finally:
            server.stop()


@contextmanager
def redis_server() -> Iterator[str]:
    with restartable_redis() as server:
        yield server.url


def _as_postgres_user() -> list[str]:
    """initdb refuses to run as root: drop to the 'postgres' account when we are root."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


class PostgresServer:
    """A throwaway cluster of its own; a test may stop it and start it again on the
    same port and data (an outage)."""

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="ctserver-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.workdir, "postgres", "postgres")
        self.data = self.workdir / "data"
        self.log = self.workdir / "postgres.log"
        self.port = free_port()
        self._run_as = _as_postgres_user()
        self._postgres = find_binary("postgres", "postgresql")
        initdb = find_binary("initdb", "postgresql")
        options = ["-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync"]
        subprocess.run(
            [*self._run_as, initdb, *options],
            check=True,
            capture_output=True,
        )
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The superuser's maintenance database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self, new_port_on_failure: bool = True) -> PostgresServer:
        # A start can fail for reasons outside the tests (a port taken between
        # free_port() and the bind, a slow machine): try a new port (not after an
        # outage: servers know this one), then give up showing the server's log.
        for attempt in range(3):
            if attempt and new_port_on_failure:
                self.port = free_port()
            with self.log.open("ab") as output:
                # As the postgres user itself, not through runuser: signals then
                # reach the server (runuser passes SIGINT, its fast shutdown, on
                # to nobody).
                self._process = subprocess.Popen(
                    [
                        *(self._postgres, "-D", str(self.data), "-p", str(self.port)),
                        *("-k", str(self.workdir), "-c", "listen_addresses=127.0.0.1"),
                        *("-c", "fsync=off"),
                    ],
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    user="postgres" if os.geteuid() == 0 else None,
                )
            try:
                wait_for_port(self.port, 30)
                return self
            except TimeoutError:
                self.stop()
        text = self.log.read_text(errors="replace")
        raise AssertionError(f"PostgreSQL did not start in three tries; its log:\n{text}")

    def stop(self) -> None:
        """Fast shutdown: every connection is cut, as when the database goes away."""
        if self._process is not None:
            self._process.send_signal(signal.SIGINT)
            self._process.wait(30)
            self._process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


@contextmanager
def postgres_server() -> Iterator[str]:
    """A throwaway cluster; yields the URL of its superuser's maintenance database."""
    with restartable_postgres() as server:
        yield server.url


@contextmanager
def restartable_postgres() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.remove()


def create_database(server_url: str) -> str:
    """A new, empty database on the cluster; returns its URL."""
    name = f"ct_{uuid.uuid4().hex[:12]}"
    deadline = time.monotonic() + 10
    while True:
        try:
            with psycopg.connect(server_url, autocommit=True) as connection:
                connection.execute(f'CREATE DATABASE "{name}"')
            break
        except psycopg.OperationalError:  # still starting up
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    return server_url.rsplit("/", 1)[0] + f"/{name}"
