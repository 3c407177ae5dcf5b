from __future__ import annotations

import os
from pathlib import Path

from ctclient.tree import scan


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
