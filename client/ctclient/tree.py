"""What a host shares of a folder: names always, contents only of text files.

``.gitignore`` files (at any depth, each applying below its own folder) and a
``.ctignore`` at the root decide what is left out; ``.git`` always is. Symbolic
links are never followed, so nothing outside the folder can be shared.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pathspec import GitIgnoreSpec

ALWAYS_IGNORED = (".git/", ".ctclient/")
SNIFF_BYTES = 8192
DEFAULT_MAX_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Entry:
    path: str  # relative, with "/" separators
    size: int
    kind: str  # "text", "binary" or "too_large": only text files' contents are shared


class IgnoreRules:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._specs: list[tuple[str, GitIgnoreSpec]] = [
            ("", GitIgnoreSpec.from_lines(ALWAYS_IGNORED)),
            ("", GitIgnoreSpec.from_lines(_lines(root / ".ctignore"))),
        ]

    def add_gitignore(self, folder: str) -> None:
        lines = _lines(self.root / folder / ".gitignore")
        if lines:
            self._specs.append((folder, GitIgnoreSpec.from_lines(lines)))

    def ignored(self, path: str, is_dir: bool) -> bool:
        for base, spec in self._specs:
            if base and not path.startswith(base + "/"):
                continue
            relative = path[len(base) + 1 :] if base else path
            if spec.match_file(relative + "/" if is_dir else relative):
                return True
        return False


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def classify(path: Path, size: int, max_bytes: int) -> str:
    if size > max_bytes:
        return "too_large"
    try:
        data = path.read_bytes()
    except OSError:
        return "binary"
    if b"\x00" in data[:SNIFF_BYTES]:
        return "binary"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "binary"
    return "text"


PROGRESS_EVERY = 1000


def scan(
    root: Path,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    progress: Callable[[int], None] | None = None,
) -> list[Entry]:
    """Every shareable file below ``root``, sorted by path.

    ``progress`` is told the count every ``PROGRESS_EVERY`` files, for large trees.
    """
    rules = IgnoreRules(root)
    entries: list[Entry] = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        relative_folder = Path(folder).relative_to(root).as_posix()
        relative_folder = "" if relative_folder == "." else relative_folder
        rules.add_gitignore(relative_folder)
        prefix = f"{relative_folder}/" if relative_folder else ""
        dirs[:] = sorted(
            d
            for d in dirs
            if not (Path(folder) / d).is_symlink() and not rules.ignored(prefix + d, True)
        )
        for name in files:
            path = Path(folder) / name
            relative = prefix + name
            if path.is_symlink() or rules.ignored(relative, False):
                continue
            size = path.stat().st_size
            entries.append(Entry(relative, size, classify(path, size, max_file_bytes)))
            if progress is not None and len(entries) % PROGRESS_EVERY == 0:
                progress(len(entries))
    return sorted(entries, key=lambda entry: entry.path)
