"""Cursors in ctclient (docs/protocol.md §10.2): what it sends after an edit on
disk, what it accepts from others, and what it refuses."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from ctclient.awareness import BadCursor, Cursor, Cursors, colour_for, parse
from ctclient.messages import AppMessage
from ctclient.textsync import SharedText
from pycrdt import StickyIndex, Text

from tests.test_sharing import GUEST, Wire

POSITION = base64.b64encode(SharedText().position_at(0)).decode()


def _awareness(sender: int = 3, **fields: Any) -> AppMessage:
    base: dict[str, object] = {
        "path": "src/app.py",
        "anchor": POSITION,
        "head": POSITION,
        "name": "Grace",
        "colour": "#1f77b4",
    }
    return AppMessage("awareness", {**base, **fields}, b"", sender)


def test_a_valid_cursor_is_kept_replaced_and_cleared() -> None:
    cursors = Cursors(own_peer_id=2)
    cursors.receive(_awareness())
    assert cursors.by_peer[3].path == "src/app.py"
    cursors.receive(_awareness(path="README.md"))
    assert cursors.by_peer[3].path == "README.md"
    cleared = {"path": None, "name": "G", "colour": "#000000"}
    cursors.receive(AppMessage("awareness", cleared, b"", 3))
    assert 3 not in cursors.by_peer
    cursors.receive(_awareness(sender=2))  # our own, echoed: ignored
    assert cursors.by_peer == {}
    cursors.receive(_awareness(sender=4))
    cursors.forget(4)
    assert cursors.by_peer == {}


@pytest.mark.parametrize(
    "fields",
    [
        {"colour": "red"},
        {"colour": "#12345"},
        {"name": ""},
        {"name": "x" * 65},
        {"name": "Eve\x1b]0;owned\x07"},  # a terminal escape
        {"name": "Eve\u202e"},  # a bidi override
        {"path": "../etc/passwd"},
        {"path": "a/.git/config"},
        {"path": 7},
        {"anchor": "not base64!"},
        {"anchor": None},
        {"head": "A" * 1028},
    ],
)
def test_a_cursor_breaking_a_rule_is_refused_whole(fields: dict[str, Any]) -> None:
    cursors = Cursors()
    cursors.receive(_awareness())
    with pytest.raises(BadCursor):
        cursors.receive(_awareness(**fields))
    assert cursors.by_peer[3].path == "src/app.py"  # the previous one stays


def test_a_cleared_cursor_carries_no_position() -> None:
    message = Cursor(None, "Ada", "#ff7f0e").message()
    assert message.fields == {"path": None, "name": "Ada", "colour": "#ff7f0e"}
    assert parse(AppMessage("awareness", message.fields, b"", 1)).path is None


def test_the_cursor_follows_its_character_through_others_edits() -> None:
    here = SharedText()
    here.set_text("def main():\n    pass\n")
    assert here.set_text("def main():\n    return 42\n")
    assert here.last_edit_end == len("def main():\n    return 42")
    position = here.position_at(here.last_edit_end)
    there = SharedText()
    there.apply_update(here.update_since())
    there.set_text("# a comment\n" + there.text)  # another peer edits before it
    here.apply_update(there.update_since(here.state_vector()))
    index = StickyIndex.decode(position, here.doc.get("content", type=Text)).get_index()
    assert here.text.encode()[:index].decode().endswith("return 42")


async def test_an_edit_on_disk_sends_the_update_then_the_cursor(tmp_path: Path) -> None:
    host_dir, guest_dir = tmp_path / "host", tmp_path / "guest"
    host_dir.mkdir()
    (host_dir / "app.py").write_text("print('hi')\n")
    wire = Wire(host_dir, guest_dir)
    sent: list[AppMessage] = []
    original = wire.from_host

    async def recording(message: AppMessage, to: int | None) -> None:
        sent.append(message)
        await original(message, to)

    wire.host.send = recording
    wire.host.identify("Ada", 1)
    wire.guest.identify("Grace", GUEST)
    await wire.host.welcome(GUEST)
    await wire.guest.open("app.py")
    sent.clear()
    (host_dir / "app.py").write_text("print('hello')\n")
    await wire.host.disk_changed("app.py")
    assert [m.type for m in sent] == ["doc_update", "awareness"]
    cursor = wire.guest.cursors.by_peer[1]
    assert (cursor.path, cursor.name, cursor.colour) == ("app.py", "Ada", colour_for(1))
    assert (guest_dir / "app.py").read_text() == "print('hello')\n"

    sent.clear()
    await wire.host.resend_cursor()  # a guest came back: it gets the cursor again
    assert [m.type for m in sent] == ["awareness"]


async def test_a_malformed_cursor_is_said_and_the_session_goes_on(tmp_path: Path) -> None:
    wire = Wire(tmp_path, tmp_path / "guest")
    await wire.guest.receive(_awareness(sender=1, colour="javascript:alert(1)"))
    assert wire.guest.cursors.by_peer == {}
    assert any("ignored a awareness message from peer 1" in note for note in wire.notes)
