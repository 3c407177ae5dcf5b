"""The host's and a guest's sides of folder sharing, wired together without a network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ctclient.files import BadPath, Folder, check_path
from ctclient.messages import AppMessage
from ctclient.sharing import GuestShare, HostShare
from ctclient.textsync import SharedText

GUEST = 2
NOTHING = SharedText().update_since()  # a CRDT update that changes nothing


class Wire:
    """Delivers each side's messages to the other, stamped as the relay would."""

    def __init__(self, host_dir: Path, guest_dir: Path) -> None:
        self.notes: list[str] = []
        self.host = HostShare(Folder(host_dir), self.from_host, self.notes.append)
        self.guest = GuestShare(Folder(guest_dir), self.from_guest, self.notes.append)

    async def from_host(self, message: AppMessage, to: int | None) -> None:
        await self.guest.receive(AppMessage(message.type, message.fields, message.body, 1))

    async def from_guest(self, message: AppMessage, to: int | None) -> None:
        await self.host.receive(AppMessage(message.type, message.fields, message.body, GUEST))


async def test_files_the_host_stops_sharing_leave_the_guest_unless_edited(tmp_path: Path) -> None:
    host_dir, guest_dir = tmp_path / "host", tmp_path / "guest"
    host_dir.mkdir()
    for name in ("gone.txt", "kept.txt", "open.txt"):
        (host_dir / name).write_text(f"{name}\n")
    wire = Wire(host_dir, guest_dir)
    await wire.host.welcome(GUEST)
    await wire.guest.open("open.txt")
    assert (guest_dir / "open.txt").read_text() == "open.txt\n"
    (guest_dir / "kept.txt").write_text("my notes\n")  # edited here: must survive
    for name in ("gone.txt", "kept.txt", "open.txt"):
        (host_dir / name).unlink()
    await wire.host.tree_changed()
    assert not (guest_dir / "gone.txt").exists() and not (guest_dir / "open.txt").exists()
    assert (guest_dir / "kept.txt").read_text() == "my notes\n"
    assert "kept.txt: no longer shared by the host; your copy is kept" in wire.notes


async def test_a_path_leaving_the_folder_is_refused(tmp_path: Path) -> None:
    guest_dir = tmp_path / "guest"
    guest_dir.mkdir()
    wire = Wire(tmp_path, guest_dir)
    evil = AppMessage("tree", {"entries": [["../outside.txt", 1, "text"]]}, b"", 1)
    await wire.guest.receive(evil)
    assert not (tmp_path / "outside.txt").exists()
    assert any("leaves the shared folder" in note for note in wire.notes)


@pytest.mark.parametrize(
    "path",
    [".git/config", "sub/.git/config", "a/b/.git/hooks/post-checkout", "a/.ctclient/x",
     ".ctclient", "sub/.GIT/config", "sub/.Git. /hooks/x", "a/.ctclient./x"],
)  # fmt: skip
def test_git_and_ctclient_are_refused_as_any_path_segment(path: str) -> None:
    with pytest.raises(BadPath, match="reserved"):
        check_path(path)


@pytest.mark.parametrize("path", [".github/workflows/ci.yml", "a/.gitignore", "x/.gitx/y"])
def test_names_that_only_start_like_git_are_allowed(path: str) -> None:
    assert check_path(path) == path


async def test_a_hostile_tree_plants_nothing_under_a_nested_git_folder(tmp_path: Path) -> None:
    guest_dir = tmp_path / "guest"
    wire = Wire(tmp_path / "host", guest_dir)
    entries = [["sub/.git/hooks/post-checkout", 9, "text"], ["sub/main.py", 1, "text"]]
    await wire.guest.receive(AppMessage("tree", {"entries": entries}, b"", 1))
    sync = AppMessage("doc_sync", {"path": "sub/.git/config", "sv": ""}, b"", 1)
    await wire.guest.receive(sync)
    assert (guest_dir / "sub" / "main.py").exists()  # the good entry is kept
    assert not (guest_dir / "sub" / ".git").exists()
    assert any("sub/.git/hooks/post-checkout" in note for note in wire.notes)


@pytest.mark.parametrize(
    ("fields", "body", "said"),
    [
        ({"type": "tree", "entries": 5}, b"", "ignored a tree message from peer 1: 'entries'"),
        ({"type": "tree", "entries": [[1, 2]]}, b"", "left out of the shared tree: not a [path"),
        ({"type": "doc_sync", "path": "a.txt", "sv": "abc"}, NOTHING, "'sv' is not base64"),
        ({"type": "doc_sync", "path": "a.txt", "sv": "-_=="}, NOTHING, "'sv' is not base64"),
        ({"type": "doc_sync", "path": "a.txt", "sv": ""}, b"\xff\x00", "Cannot decode update"),
        ({"type": "opens", "opens": {"two": ["a.txt"]}}, b"", "'opens' holds 'two'"),
        ({"type": "opens", "opens": []}, b"", "'opens' is not an object"),
    ],
)
async def test_a_malformed_message_from_the_host_is_said_and_dropped(
    tmp_path: Path, fields: dict[str, Any], body: bytes, said: str
) -> None:
    wire = Wire(tmp_path / "host", tmp_path / "guest")
    kind = fields.pop("type")
    await wire.guest.receive(AppMessage(kind, fields, body, 1))
    assert len(wire.notes) == 1 and said in wire.notes[0], wire.notes


async def test_a_garbled_edit_from_a_guest_does_not_stop_the_host(tmp_path: Path) -> None:
    host_dir = tmp_path / "host"
    host_dir.mkdir()
    (host_dir / "a.txt").write_text("a\n")
    wire = Wire(host_dir, tmp_path / "guest")
    await wire.host.welcome(GUEST)
    await wire.guest.open("a.txt")
    await wire.host.receive(AppMessage("doc_update", {"path": "a.txt"}, b"\xff\x00", GUEST))
    await wire.host.receive(AppMessage("open", {"path": "a.txt"}, b"\xff" * 8, GUEST))
    assert [note.split(": ")[0] for note in wire.notes] == [
        "ignored a doc_update message from peer 2",
        "ignored a open message from peer 2",
    ]
    assert (host_dir / "a.txt").read_text() == "a\n"


@pytest.mark.parametrize("kind", ["tree", "doc_sync", "opens", "refused"])
async def test_a_guest_takes_what_only_the_host_sends_from_the_host_alone(
    tmp_path: Path, kind: str
) -> None:
    """Every admitted guest holds the key: another guest (peer 3) could forge a tree
    or a file's content. The server stamps the sender, so the host's are known."""
    guest_dir = tmp_path / "guest"
    guest_dir.mkdir()
    wire = Wire(tmp_path, guest_dir)
    forgeries: dict[str, dict[str, Any]] = {
        "tree": {"entries": [["planted.txt", 5, "text"]], "share": "all"},
        "doc_sync": {"path": "planted.txt", "sv": ""},
        "opens": {"opens": {"3": ["planted.txt"]}},
        "refused": {"path": "planted.txt", "reason": "read_only"},
    }
    fields = forgeries[kind]
    forged = AppMessage(kind, fields, NOTHING if kind == "doc_sync" else b"", 3)
    await wire.guest.receive(forged)
    assert not (guest_dir / "planted.txt").exists()
    assert wire.guest.opens == {}
    assert any(f"only the host sends '{kind}'" in note for note in wire.notes)
