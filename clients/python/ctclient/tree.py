"""What a host shares of a folder: names always, contents only of text files.

A file is left out when git would ignore it (by the ``.gitignore`` files at any
depth, exactly as ``git check-ignore`` reads them) or a ``.ctignore`` at the root
says so; ``.git`` and ``.ctclient`` always are, at any depth. Symbolic links are
never followed, so nothing outside the folder can be shared.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from pathspec.patterns.gitignore import GitIgnorePatternError
from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

from ctclient.files import is_reserved

SNIFF_BYTES = 8192
DEFAULT_MAX_FILE_BYTES = 1024 * 1024
PROGRESS_EVERY = 1000
GLOB_CHARACTERS = frozenset("\\*?[")


@dataclass(frozen=True)
class Entry:
    path: str  # relative, with "/" separators
    size: int
    kind: str  # "text", "binary" or "too_large": only text files' contents are shared


def _lines(path: Path) -> list[str]:
    """A pattern file's lines as git splits them: on LF, a CR before it dropped, a
    UTF-8 byte order mark skipped. Git does not follow a linked ``.gitignore``."""
    if path.is_symlink():
        return []
    try:
        text = path.read_bytes().decode("utf-8-sig", errors="replace")
    except OSError:
        return []
    return [line.removesuffix("\r") for line in text.split("\n")]


def _escaped(folder: str) -> str:
    return "".join(f"\\{c}" if c in GLOB_CHARACTERS else c for c in folder)


def _rooted(pattern: str, folder: str) -> str:
    """A pattern of ``folder/.gitignore`` rewritten as a pattern of the root's.

    Git matches it relative to ``folder``: anchored there when it holds a slash
    before its end, else at any depth below ``folder``.
    """
    if not folder:
        return pattern
    negation, body = ("!", pattern[1:]) if pattern.startswith("!") else ("", pattern)
    anchored = "/" in body.rstrip().rstrip("/")
    base = f"/{_escaped(folder)}/" if anchored else f"/{_escaped(folder)}/**/"
    return negation + base + body.removeprefix("/")


def _below_spelt_out(pattern: str) -> str:
    """``x/**`` and ``x/**/`` as ``x/**/*`` and ``x/**/*/``: what git means by them
    (one or more levels below ``x``), which pathspec's regex for the short forms
    does not tell apart from ``x`` itself."""
    body = pattern if pattern.endswith("\\ ") else pattern.rstrip(" ")
    for short in ("/**", "/**/"):
        if body.endswith(short) and not body.endswith("\\" + short):
            return body.removesuffix(short) + short.replace("**", "**/*")
    return pattern


@dataclass(frozen=True)
class Rule:
    """One pattern line, as git applies it: to a path itself (a folder's path ends
    in "/"), never to what lies below it, which git does not look at once the
    folder is ignored."""

    negated: bool
    regex: re.Pattern[str]

    @classmethod
    def parse(cls, line: str, folder: str = "") -> Rule | None:
        """The rule of a line of ``folder``'s pattern file, or None for what git
        skips: blank lines, comments, invalid patterns (e.g. a lone "!")."""
        try:
            if GitIgnoreSpecPattern(line).include is None:
                return None
            pattern = GitIgnoreSpecPattern(_below_spelt_out(_rooted(line, folder)))
        except GitIgnorePatternError:
            return None
        assert pattern.include is not None and pattern.regex is not None
        # pathspec's regex is searched and also matches below a match ("build/"
        # matches "build/x"): made to match whole paths only.
        return cls(not pattern.include, re.compile(f"(?s:.*(?:{pattern.regex.pattern}))"))

    def matches(self, candidate: str) -> bool:
        return self.regex.fullmatch(candidate) is not None


def _rules(lines: Iterable[str], folder: str = "") -> list[Rule]:
    return [rule for line in lines if (rule := Rule.parse(line, folder)) is not None]


def _last_says_ignored(rules: list[Rule], candidate: str) -> bool:
    """Git's precedence: the last rule that matches decides."""
    for rule in reversed(rules):
        if rule.matches(candidate):
            return not rule.negated
    return False


class IgnoreRules:
    """Git's rules for one folder tree: a deeper ``.gitignore`` overrides a higher one
    (so it may re-include what a higher one ignores), within one file the last
    matching line wins, and nothing below an ignored folder is looked at. Each
    ``.gitignore`` is rewritten relative to the root and put after its parents'.

    A root ``.ctignore`` (same syntax) leaves out more, never less."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._ctignore = _rules(_lines(root / ".ctignore"))
        self._git: dict[str, list[Rule]] = {}

    def enter(self, folder: str) -> None:
        """Read ``folder``'s ``.gitignore``; call for a folder's parent first, and
        for a folder before asking about its contents."""
        inherited = self._git[folder.rpartition("/")[0]] if folder else []
        own = _rules(_lines(self.root / folder / ".gitignore"), folder)
        self._git[folder] = inherited + own if own else inherited

    def ignored(self, path: str, is_dir: bool) -> bool:
        folder, _, name = path.rpartition("/")
        if is_reserved(name):  # guests refuse these names: never offered
            return True
        candidate = path + "/" if is_dir else path
        return _last_says_ignored(self._git[folder], candidate) or _last_says_ignored(
            self._ctignore, candidate
        )


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
        rules.enter(relative_folder)
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
