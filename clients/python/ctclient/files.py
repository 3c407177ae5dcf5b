"""A shared folder on disk: safe paths, atomic writes, and what this process wrote.

Paths come from other peers, so each one is checked before use: relative, with
"/" separators, no "..", no "." parts, no ``.git`` or ``.ctclient`` part at any depth,
and never through a symbolic link out of the folder.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath

from ctclient.errors import CtClientError

RESERVED = frozenset({".git", ".ctclient"})
MAX_PATH_CHARS = 4096


class BadPath(CtClientError):
    """A path from a peer that does not stay inside the shared folder."""


def check_path(path: str) -> str:
    if not isinstance(path, str) or not path or len(path) > MAX_PATH_CHARS or "\x00" in path:
        raise BadPath(f"not a usable path: {path!r}")
    pure = PurePosixPath(path)
    if pure.is_absolute() or "\\" in path or any(p in ("", ".", "..") for p in path.split("/")):
        raise BadPath(f"path leaves the shared folder: {path!r}")
    if any(is_reserved(part) for part in pure.parts):
        raise BadPath(f"path is reserved: {path!r}")
    return pure.as_posix()


def is_reserved(part: str) -> bool:
    """``.git`` or ``.ctclient`` as the file systems of macOS and Windows see a name:
    in any case, and on Windows without trailing dots and spaces. A ``.git`` at any
    depth would let a peer plant hooks that git runs."""
    return part.casefold().rstrip(". ") in RESERVED


class Folder:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def resolve(self, path: str) -> Path:
        target = self.root / check_path(path)
        # Refuse to go through a link that points elsewhere (a parent or the file).
        real = target.parent.resolve()
        if real != self.root and self.root not in real.parents:
            raise BadPath(f"path leaves the shared folder through a link: {path!r}")
        if target.is_symlink():
            raise BadPath(f"path is a symbolic link: {path!r}")
        return target

    def read_text(self, path: str) -> str:
        return self.resolve(path).read_text(encoding="utf-8")

    def write_text(self, path: str, text: str) -> list[Path]:
        """Replace the file atomically; returns the folders it had to create."""
        target = self.resolve(path)
        created = [p for p in reversed(target.parents) if self.root in p.parents and not p.exists()]
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".ctclient-", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return created
