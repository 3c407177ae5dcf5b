"""The layout of ``CT_DATA_DIR``: everything the server keeps on its own disk.

Created on first use with owner-only permissions, since it holds the SQLite
database, the TLS private key and the generated secret key.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from ctserver.config import ConfigError


@dataclass(frozen=True)
class DataDir:
    root: Path

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def tls(self) -> Path:
        return self.root / "tls"

    @property
    def sqlite_database(self) -> Path:
        return self.root / "ctserver.sqlite3"

    @property
    def secret_key_file(self) -> Path:
        return self.root / "secret_key"


def prepare_data_dir(root: Path) -> DataDir:
    data = DataDir(root)
    try:
        for folder in (data.root, data.logs, data.tls):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"CT_DATA_DIR: cannot create {exc.filename}: {exc.strerror}") from exc
    return data


def load_or_create_secret_key(data: DataDir) -> str:
    """A key kept in the data dir, so sessions survive restarts of a lone server.

    Several servers must share one key: the system check ``ctserver.E002`` insists
    on ``CT_SECRET_KEY`` when they share Redis.
    """
    path = data.secret_key_file
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass  # made by an earlier start, or by a concurrent one
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
    return path.read_text().strip()
