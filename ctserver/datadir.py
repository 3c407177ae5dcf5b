"""The layout of ``CT_DATA_DIR``: everything the server keeps on its own disk.

It holds the SQLite database (with every account's password hash), the TLS private
key and the secret key that signs logins, so it is owner-only: folders 0700, files
0600, whatever was there before, and whatever the server creates later.
"""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from ctserver.config import ConfigError, weak_secret_key

FOLDER_MODE = 0o700
FILE_MODE = 0o600


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
    # Everything this process creates from now on is owner-only without each writer
    # having to ask: SQLite's database and -wal/-shm files, logs and their rotations,
    # TLS files, the secret key, the client downloads (and what their build writes).
    os.umask(0o077)
    data = DataDir(root)
    try:
        for folder in (data.root, data.logs, data.tls):
            folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"CT_DATA_DIR: cannot create {exc.filename}: {exc.strerror}") from exc
    _make_owner_only(data.root)
    return data


def _make_owner_only(folder: Path) -> None:
    """Folders 0700 and files 0600, down the tree: the image makes ``/data`` 0755 and
    an older server left its files 0644. Symbolic links are left alone, since what
    they point to lies outside the data dir."""
    _set_mode(folder, FOLDER_MODE)
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_symlink():
                    continue
                if entry.is_dir():
                    _make_owner_only(Path(entry.path))
                elif entry.is_file():
                    _set_mode(Path(entry.path), FILE_MODE)
    except FileNotFoundError:
        pass  # removed meanwhile, by a running server rebuilding its client downloads
    except OSError as exc:
        raise ConfigError(f"CT_DATA_DIR: cannot read {folder}: {exc.strerror}") from exc


def _set_mode(path: Path, mode: int) -> None:
    try:
        status = path.lstat()
        # Another user's file gets a chmod even when its mode looks right: unless we are
        # root that fails, and a file we could not keep owner-only is refused.
        if stat.S_IMODE(status.st_mode) == mode and status.st_uid == os.geteuid():
            return
        os.chmod(path, mode)
    except FileNotFoundError:
        pass  # removed meanwhile, as a running server rotates its logs
    except OSError as exc:
        raise ConfigError(
            f"CT_DATA_DIR: cannot make {path} owner-only ({exc.strerror}): it must belong to "
            f"the user that runs ctserver (uid {os.geteuid()})"
        ) from exc


def load_or_create_secret_key(data: DataDir) -> str:
    """A key kept in the data dir, so sessions survive restarts of a lone server.

    Several servers must share one key: the system check ``ctserver.E002`` insists
    on ``CT_SECRET_KEY`` when they share Redis.
    """
    path = data.secret_key_file
    if not path.exists():
        _create_secret_key(path)
    remedy = "delete the file to have a new key made at the next start, or set CT_SECRET_KEY"
    try:
        key = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"CT_DATA_DIR: cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError:
        raise ConfigError(f"CT_DATA_DIR: {path} holds no text key: {remedy}") from None
    weakness = weak_secret_key(key)
    if weakness:
        raise ConfigError(f"CT_DATA_DIR: the secret key in {path} {weakness}: {remedy}")
    return key


def _create_secret_key(path: Path) -> None:
    """Write the key beside, then link it into place: a concurrent start sees the whole
    key or no file at all, never an empty one, and the first start's key wins."""
    draft = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(50))
    try:
        os.link(draft, path)
    except FileExistsError:
        pass  # made by a concurrent start
    finally:
        draft.unlink()
