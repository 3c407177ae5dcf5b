"""The host's and a guest's sides of folder sharing, wired together without a network."""

from __future__ import annotations

from pathlib import Path

from ctclient.files import Folder
from ctclient.messages import AppMessage
from ctclient.sharing import GuestShare, HostShare

GUEST = 2


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
