"""What an operator sees when the files a server starts from are unsafe or unusable.

Each refusal is one line starting ``ctserver:``, exit code 2, no traceback; the data
dir ends up owner-only whatever was there before.
"""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from ctserver.config import ConfigError, weak_secret_key
from ctserver.datadir import prepare_data_dir
from ctserver.tls import ensure_self_signed
from tests.support.ports import free_port
from tests.support.server import ENTRYPOINT, REPO, ServerProcess, server_environment

StartServer = Callable[..., ServerProcess]
GOOD_KEY = "a-secret-key-long-enough-for-django-" + "0123456789" * 2


def _run(data_dir: Path, *command: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The entrypoint (migrate, then serve) by default, else ``manage.py <command>``."""
    argv = [sys.executable, "manage.py", *command] if command else [str(ENTRYPOINT)]
    env.setdefault("CT_HTTP_PORT", str(free_port()))
    env.setdefault("CT_HTTPS_PORT", str(free_port()))
    env.setdefault("CT_BIND_ADDRESS", "127.0.0.1")
    return subprocess.run(
        argv,
        cwd=REPO,
        env=server_environment(data_dir, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _refusal(result: subprocess.CompletedProcess[str]) -> str:
    """The one ``ctserver:`` line of a process that refused to start."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("ctserver:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def _modes(root: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def test_data_dir_and_everything_the_server_writes_are_owner_only(
    start_server: StartServer, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "logs").mkdir(parents=True)
    (data_dir / "old-backups").mkdir()
    (data_dir / "logs" / "sessions.log").write_text('{"event":"created"}\n')
    (data_dir / "old-backups" / "ctserver.sqlite3.bak").write_text("old\n")
    for folder in data_dir, data_dir / "logs", data_dir / "old-backups":
        folder.chmod(0o755)  # as the image makes /data
        for path in folder.glob("*.*"):
            path.chmod(0o644)  # as an older server left its files

    server = start_server(data_dir, CT_LOG_MAX_BYTES="1024")
    assert httpx.get(f"{server.http_url}/ct-health/ready/").status_code == 200

    modes = _modes(data_dir)
    expected = {"ctserver.sqlite3", "ctserver.sqlite3-wal", "ctserver.sqlite3-shm"}
    expected |= {"secret_key", "tls/selfsigned-key.pem", "old-backups"}
    expected |= {"logs/server.log", "logs/server.log.1", "logs/sessions.log"}
    assert expected <= modes.keys()
    assert any(name.startswith("clients/python/") for name in modes)
    wrong = {
        name: oct(mode)
        for name, mode in modes.items()
        if mode != (0o700 if (data_dir / name).is_dir() else 0o600)
    }
    assert wrong == {}


def test_a_file_that_cannot_be_made_owner_only_stops_startup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stranger = tmp_path / "logs" / "server.log"
    stranger.parent.mkdir()
    stranger.write_text("")
    stranger.chmod(0o644)

    def chmod(path: Path, mode: int) -> None:
        # What chmod says to a user that does not own the file.
        raise PermissionError(errno.EPERM, os.strerror(errno.EPERM), str(path))

    monkeypatch.setattr(os, "chmod", chmod)
    with pytest.raises(ConfigError, match=f"CT_DATA_DIR: cannot make {stranger} owner-only"):
        prepare_data_dir(tmp_path)


def test_preparing_the_data_dir_makes_every_later_file_owner_only(tmp_path: Path) -> None:
    before = os.umask(0o022)
    try:
        prepare_data_dir(tmp_path / "data")
        (tmp_path / "data" / "later.txt").write_text("")
    finally:
        os.umask(before)
    assert oct(stat.S_IMODE((tmp_path / "data" / "later.txt").stat().st_mode)) == "0o600"


@pytest.mark.parametrize(
    ("key", "weak"),
    [
        ("", True),
        ("k" * 49 + "e", True),  # too short
        ("abcd" * 20, True),  # long, but only 4 different characters
        ("abcde" * 10, False),  # exactly the bound
        (GOOD_KEY, False),
    ],
)
def test_weak_secret_keys_are_those_django_warns_about(key: str, weak: bool) -> None:
    assert (weak_secret_key(key) is not None) == weak


@pytest.mark.parametrize("content", ["\n", "x" * 60, "short-key"])
def test_weak_kept_secret_key_stops_startup_naming_the_file(tmp_path: Path, content: str) -> None:
    tmp_path.joinpath("secret_key").write_text(content)
    line = _refusal(_run(tmp_path))
    assert line.startswith(
        f"ctserver: configuration error: CT_DATA_DIR: the secret key in {tmp_path / 'secret_key'} "
    )
    assert "delete the file to have a new key made at the next start" in line


@pytest.mark.parametrize(
    ("variable", "value"),
    [("CT_SECRET_KEY", ""), ("CT_SECRET_KEY", "changeme"), ("CT_SECRET_KEY_FILE", "/dev/null")],
)
def test_weak_secret_key_setting_stops_startup_naming_it(
    tmp_path: Path, variable: str, value: str
) -> None:
    line = _refusal(_run(tmp_path, **{variable: value}))
    named = f"{variable}: {value}" if variable.endswith("_FILE") else variable
    assert line.startswith(f"ctserver: configuration error: {named} has ")
    assert not (tmp_path / "secret_key").exists()


def _pair(directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True)
    material = ensure_self_signed(directory, ["localhost", "127.0.0.1", "::1"])
    return material.cert_path, material.key_path


@pytest.mark.parametrize("spoiled", ["CT_TLS_CERT", "CT_TLS_KEY"])
def test_garbage_operator_certificate_or_key_stops_startup(tmp_path: Path, spoiled: str) -> None:
    cert, key = _pair(tmp_path / "operator")
    files = {"CT_TLS_CERT": str(cert), "CT_TLS_KEY": str(key)}
    Path(files[spoiled]).write_text("garbage\n")
    line = _refusal(_run(tmp_path / "data", **files))
    assert line.startswith(f"ctserver: configuration error: {spoiled}: {files[spoiled]} holds no ")


@pytest.mark.parametrize("spoil", ["garbage key", "key of another pair"])
def test_unusable_generated_tls_pair_stops_startup(tmp_path: Path, spoil: str) -> None:
    data_dir = tmp_path / "data"
    cert, key = _pair(data_dir / "tls")
    if spoil == "garbage key":
        key.write_text("garbage\n")
    else:
        _, other_key = _pair(tmp_path / "other")
        key.write_bytes(other_key.read_bytes())
    line = _refusal(_run(data_dir))
    assert line.startswith(f"ctserver: configuration error: CT_DATA_DIR: {key} ")
    assert f"delete {cert} and {key} to have a new self-signed certificate made" in line


def test_corrupt_sqlite_database_stops_migrate_and_serve(tmp_path: Path) -> None:
    database = tmp_path / "ctserver.sqlite3"
    database.write_bytes(os.urandom(8192))
    refusal = f"ctserver: database error: {database}: file is not a database"
    assert _refusal(_run(tmp_path)) == refusal  # the entrypoint: migrate
    assert _refusal(_run(tmp_path, "serve")) == refusal


def test_unreachable_postgresql_stops_startup_naming_host_and_database(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    line = _refusal(
        _run(
            tmp_path,
            CT_DATABASE_URL=f"postgresql://ct:pw@127.0.0.1:{port}/ctdb",
            CT_SECRET_KEY=GOOD_KEY,
        )
    )
    assert line.startswith(f"ctserver: database error: 127.0.0.1:{port}/ctdb: ")
    assert "Connection refused" in line


def test_a_database_error_on_a_working_database_keeps_its_traceback(tmp_path: Path) -> None:
    assert _run(tmp_path, "migrate", "--noinput").returncode == 0
    fixture = tmp_path / "broken.json"
    fixture.write_text('[{"model": "auth.user", "pk": 1, "fields": {"username": null}}]')
    result = _run(tmp_path, "loaddata", str(fixture))
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "IntegrityError" in result.stderr
    assert "ctserver:" not in result.stderr


def test_debug_mode_warns_loudly_in_the_server_log(start_server: StartServer) -> None:
    server = start_server(CT_DEBUG="true")
    logged = (server.data_dir / "logs" / "server.log").read_text().splitlines()
    warnings = [line for line in logged if " WARNING CT_DEBUG is on: " in line]
    assert len(warnings) == 1
    assert "show settings, source code and request data to anyone" in warnings[0]
    assert "Never use it in production" in warnings[0]
