"""What a host shares: git's ignore rules exactly (checked against git itself), links
never followed, text told from binary."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from ctclient.tree import scan
from hypothesis import example, given, settings
from hypothesis import strategies as st


def write(root: Path, relative: str, content: str | bytes = "x") -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)


def paths(root: Path) -> list[str]:
    return [entry.path for entry in scan(root)]


def test_gitignore_rules_apply_below_their_folder(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "*.log\n!keep.log\nbuild/\n")
    write(tmp_path, "src/.gitignore", "secret.txt\n")
    for name in ("a.log", "keep.log", "build/out.c", "src/main.py", "src/secret.txt", "secret.txt"):
        write(tmp_path, name)
    assert paths(tmp_path) == [
        ".gitignore",
        "keep.log",
        "secret.txt",  # src/.gitignore does not reach the root
        "src/.gitignore",
        "src/main.py",
    ]


def test_ctignore_and_git_folder_are_left_out(tmp_path: Path) -> None:
    write(tmp_path, ".ctignore", "drafts/\n")
    for name in (".git/config", "drafts/idea.md", "README.md"):
        write(tmp_path, name)
    assert paths(tmp_path) == [".ctignore", "README.md"]


def test_binary_and_large_files_are_named_but_not_text(tmp_path: Path) -> None:
    write(tmp_path, "image.png", b"\x89PNG\x00\x01")
    write(tmp_path, "latin1.txt", "caf\xe9".encode("latin-1"))
    write(tmp_path, "big.txt", "a" * 2000)
    write(tmp_path, "small.txt", "é ok")
    kinds = {entry.path: entry.kind for entry in scan(tmp_path, max_file_bytes=1000)}
    assert kinds == {
        "big.txt": "too_large",
        "image.png": "binary",
        "latin1.txt": "binary",
        "small.txt": "text",
    }


def test_symbolic_links_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write(outside, "passwords.txt")
    shared = tmp_path / "shared"
    write(shared, "code.py")
    os.symlink(outside, shared / "linked-dir")
    os.symlink(outside / "passwords.txt", shared / "linked-file.txt")
    assert paths(shared) == ["code.py"]


def test_large_trees_report_progress(tmp_path: Path) -> None:
    for i in range(2500):
        write(tmp_path, f"many/{i:05}.txt")
    seen: list[int] = []
    entries = scan(tmp_path, progress=seen.append)
    assert len(entries) == 2500 and seen == [1000, 2000]


def test_a_deeper_gitignore_re_includes_what_a_higher_one_ignores(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "*.log\n")
    write(tmp_path, "logs/.gitignore", "!keep.log\n")
    for name in ("a.log", "logs/keep.log", "logs/other.log"):
        write(tmp_path, name)
    assert paths(tmp_path) == [".gitignore", "logs/.gitignore", "logs/keep.log"]


def test_a_pattern_git_skips_does_not_stop_the_scan(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "!\n*.tmp\n")
    write(tmp_path, "a.tmp")
    write(tmp_path, "b.txt")
    assert paths(tmp_path) == [".gitignore", "b.txt"]


def test_git_and_ctclient_names_are_left_out_at_any_depth(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "!.git\n!.ctclient\n")  # cannot bring them back
    for name in ("sub/.git", "sub/lib/.git/config", "a/.ctclient/status.json", "a/.ctclient2"):
        write(tmp_path, name)
    assert paths(tmp_path) == [".gitignore", "a/.ctclient2"]


def test_ctignore_leaves_out_more_but_never_brings_back(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "*.log\n")
    write(tmp_path, ".ctignore", "secrets/\n!debug.log\n")
    for name in ("debug.log", "secrets/key.txt", "main.py"):
        write(tmp_path, name)
    assert paths(tmp_path) == [".ctignore", ".gitignore", "main.py"]


# -- the share is what git sees ---------------------------------------------------------

NAMES = st.sampled_from(["a", "b", "c.log", "keep.log", "build", "x.txt", "[x]", "a b", "#h", "!e"])
SEGMENTS = st.sampled_from(
    ["a", "b", "*", "**", "*.log", "keep.log", "build", "x.*", "?", "[ab]", "[!a]*", "\\[x]",
     "\\#h", "\\!e", "a*b", "**a", "[a-c]", "a\\ b", "a b"]
)  # fmt: skip


@st.composite
def patterns(draw: st.DrawFn) -> str:
    """A .gitignore line: anchored or not, negated or not, a folder pattern or not,
    with wildcards, classes, escapes and trailing spaces."""
    text = "/".join(draw(st.lists(SEGMENTS, min_size=1, max_size=3)))
    if draw(st.booleans()):
        text = "/" + text
    if draw(st.booleans()):
        text += "/"
    if draw(st.booleans()):
        text = "!" + text
    return text + draw(st.sampled_from(["", "", "", "  ", "\r"]))


@st.composite
def trees(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    """Files, folders (three levels at most), and perhaps a .gitignore (or comments)."""
    files = draw(st.sets(NAMES, max_size=4))
    folders = draw(st.sets(NAMES, max_size=3 if depth < 2 else 0)) - files
    lines = draw(st.lists(patterns() | st.just("# a comment") | st.just(""), max_size=4))
    return {
        "files": sorted(files),
        "folders": {name: draw(trees(depth + 1)) for name in sorted(folders)},
        "gitignore": lines if draw(st.booleans()) else None,
    }


def build(root: Path, tree: dict[str, Any]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name in tree["files"]:
        (root / name).write_text("x")
    if tree["gitignore"] is not None:
        (root / ".gitignore").write_text("\n".join(tree["gitignore"]) + "\n")
    for name, below in tree["folders"].items():
        build(root / name, below)


def git_would_add(root: Path) -> list[str]:
    """The files ``git add .`` would take: what no .gitignore ignores (the user's
    own global excludes kept out of it)."""
    env = {**os.environ, "HOME": str(root), "GIT_CONFIG_NOSYSTEM": "1"}
    env["GIT_CONFIG_GLOBAL"] = os.devnull
    subprocess.run(["git", "init", "-q", str(root)], check=True, env=env)
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "--others", "--exclude-standard", "-z"],
        check=True,
        env=env,
        capture_output=True,
    ).stdout
    return sorted(name for name in listed.decode().split("\0") if name)


IDIOMS = [
    ["*", "!*/", "!*.py"],  # only Python files (pathspec's GitIgnoreSpec disagrees here)
    ["/build/", "!/build/keep/"],  # cannot re-include below an ignored folder
    ["/build/*", "!/build/keep/"],  # can, when the folder itself is not ignored
    ["a/**/"],  # folders below a, not a's own files
    ["*.txt", "!a/"],
]


@settings(max_examples=150, deadline=None)
@given(trees())
@example(
    {
        "files": ["a.log"],
        "folders": {
            "logs": {"files": ["a.log", "keep.log"], "folders": {}, "gitignore": ["!keep.log"]}
        },
        "gitignore": ["*.log"],
    }
)
def test_the_share_is_what_git_does_not_ignore(tree: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "shared"
        build(root, tree)
        assert paths(root) == git_would_add(root)


@pytest.mark.parametrize("lines", IDIOMS)
def test_common_gitignore_idioms_share_what_git_does(tmp_path: Path, lines: list[str]) -> None:
    write(tmp_path, ".gitignore", "\n".join(lines) + "\n")
    for name in ("top.py", "top.txt", "src/m.py", "src/sub/n.txt", "build/x", "build/keep/y",
                 "a/f.txt", "a/b/c.py"):  # fmt: skip
        write(tmp_path, name)
    assert paths(tmp_path) == git_would_add(tmp_path)
