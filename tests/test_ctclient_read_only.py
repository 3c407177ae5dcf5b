"""Read-only guests. A guest under the relay's rule asks the host alone, never
broadcasts an edit, and hears of a refused edit once; the host, with
--read-only-guests, makes every guest read-only however it was admitted and refuses
(and says it refuses) an edit that reaches it before the relay has the flag."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from ctclient.files import Folder
from ctclient.hosting import host_events
from ctclient.joining import guest_events, join
from ctclient.messages import AppMessage
from ctclient.outcomes import say
from ctclient.peer import Peer
from ctclient.sharing import GuestShare, HostShare
from ctclient.textsync import SharedText
from websockets.asyncio.server import ServerConnection

from tests.support.peers import FAST, FakeRelay, control, peer_object, welcome

TREE = AppMessage(
    "tree", {"entries": [["README.md", 9, "text"]], "share": "on-demand", "keep_files": False}
)
REFUSED = "You are read-only: the relay refused your edit; the others do not see it"


async def test_a_guest_asks_the_host_alone_and_says_a_refused_edit_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sent: list[tuple[int, int, AppMessage]] = []

    async def host_and_relay(ws: ServerConnection) -> None:
        await ws.recv()  # hello
        await ws.send(welcome(peer_object(2, "Bob"), peer_object(1, "Ada", "host")))
        sent.append(relay.read(2, await ws.recv()))  # hello_app
        await ws.send(relay.data_frame(1, TREE))
        sent.append(relay.read(2, await ws.recv()))  # open README.md (asked with --open)
        for _ in range(2):  # two edits the relay refused
            await ws.send(control("error", code="read_only", message="you are read-only"))
        await ws.send(control("ended", reason="host_ended"))
        await ws.close(4005)

    relay = FakeRelay(host_and_relay)
    async with relay:
        args = argparse.Namespace(
            url=str(relay.link),
            dir=str(tmp_path / "guest"),
            name="Bob",
            open=["README.md"],
            ca_file=None,
            fingerprint=None,
        )
        assert await join(args) == 0

    unicast_to_host = (1, 1)
    assert [(kind, target, m.type) for kind, target, m in sent] == [
        (*unicast_to_host, "hello_app"),
        (*unicast_to_host, "open"),
    ]
    assert sent[1][2].fields == {"path": "README.md"}
    err = capsys.readouterr().err.splitlines()
    assert err.count(REFUSED) == 1
    assert "Session closed: the host ended the session" in err


async def test_a_read_only_guest_never_broadcasts_an_edit(tmp_path: Path) -> None:
    sent: list[tuple[AppMessage, int | None]] = []

    async def send(message: AppMessage, to: int | None) -> None:
        sent.append((message, to))

    share = GuestShare(Folder(tmp_path), send, lambda _: None)
    share.read_only = True
    mine = SharedText()  # an edit this guest holds and the host lacks
    mine.set_text("mine\n")
    share._document("README.md").text.apply_update(mine.update_since())
    host_text = SharedText()
    host_text.set_text("# shared\n")
    sv = base64.b64encode(host_text.state_vector()).decode()
    update = host_text.update_since()
    await share.receive(AppMessage("doc_sync", {"path": "README.md", "sv": sv}, update, 1))
    (tmp_path / "README.md").write_text("vandalised\n")
    await share.disk_changed("README.md")
    await share.open("README.md")

    assert [(message.type, to) for message, to in sent] == [("open", 1)]
    assert (tmp_path / "README.md").read_text() == share.documents["README.md"].text.text


async def test_a_guest_made_read_only_while_away_learns_it_on_resuming(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sent: list[tuple[int, int, AppMessage]] = []
    host = peer_object(1, "Ada", "host")

    async def flag_set_while_away(ws: ServerConnection) -> None:
        await ws.recv()  # hello
        if relay.connections == 1:
            await ws.send(welcome(peer_object(2, "Bob"), host))
            await ws.close(1012)
            return
        await ws.send(welcome(peer_object(2, "Bob", read_only=True), host, resumed=True))
        sent.append(relay.read(2, await ws.recv()))  # hello_app again
        await ws.send(control("ended", reason="host_ended"))
        await ws.close(4005)

    relay = FakeRelay(flag_set_while_away)
    async with relay:
        peer = await Peer(relay.link, name="Bob", policy=FAST).start()
        share = GuestShare(Folder(tmp_path), peer.send, say)
        assert await guest_events(peer, share) == 0

    assert share.read_only
    assert [(kind, target, m.type) for kind, target, m in sent] == [(1, 1, "hello_app")]
    assert "You are read-only now" in capsys.readouterr().err.splitlines()


# -- the host's side: --read-only-guests holds for every guest, however admitted -----------


def an_edit(sync: AppMessage, text: str) -> bytes:
    """The update a guest makes by saving ``text`` into the file ``sync`` opened."""
    edits: list[bytes] = []
    document = SharedText(edits.append)
    document.apply_update(sync.body)
    document.set_text(text)
    return edits[0]


async def host_with_guests(
    tmp_path: Path, play: Callable[[FakeRelay, ServerConnection], Awaitable[None]]
) -> int:
    """``host_events`` under --read-only-guests against a relay that plays ``play``."""
    (tmp_path / "README.md").write_text("# shared\n")
    (tmp_path / "NOTES.md").write_text("notes\n")

    async def script(ws: ServerConnection) -> None:
        await ws.recv()  # hello
        await play(relay, ws)
        await ws.send(control("ended", reason="host_ended"))
        await ws.close(4005)

    relay = FakeRelay(script)
    async with relay, asyncio.timeout(10):
        peer = await Peer(relay.link, name="Ada", host_secret="h" * 43, policy=FAST).start()
        share = HostShare(Folder(tmp_path), peer.send, say)
        return await host_events(peer, share, argparse.Namespace(read_only_guests=True))


async def next_json(ws: ServerConnection) -> object:
    frame = await ws.recv()
    assert isinstance(frame, str), "a data frame where a control frame was expected"
    return json.loads(frame)


async def test_a_guest_admitted_before_the_host_came_is_made_read_only(tmp_path: Path) -> None:
    async def auto_admitted_early(relay: FakeRelay, ws: ServerConnection) -> None:
        await ws.send(welcome(peer_object(1, "Ada", "host"), peer_object(2, "Bob")))
        commands.append(await next_json(ws))

    commands: list[object] = []
    assert await host_with_guests(tmp_path, auto_admitted_early) == 0
    assert commands == [{"type": "set_read_only", "peer": 2, "read_only": True}]


async def test_a_guest_admitted_while_the_host_was_away_is_made_read_only(tmp_path: Path) -> None:
    async def admitted_meanwhile(relay: FakeRelay, ws: ServerConnection) -> None:
        host, bob = peer_object(1, "Ada", "host"), peer_object(2, "Bob", state="away")
        if relay.connections == 1:
            await ws.send(welcome(host))
            await ws.close(1012)  # the host drops; Bob is admitted meanwhile
            await ws.wait_closed()
            return
        carol = peer_object(3, "Carol", read_only=True)  # already read-only: left alone
        await ws.send(welcome(host, bob, carol, resumed=True))
        commands.append(await next_json(ws))

    commands: list[object] = []
    assert await host_with_guests(tmp_path, admitted_meanwhile) == 0
    assert commands == [{"type": "set_read_only", "peer": 2, "read_only": True}]


async def test_a_read_only_guests_edit_is_refused_once_per_file(tmp_path: Path) -> None:
    async def edits_before_the_flag_lands(relay: FakeRelay, ws: ServerConnection) -> None:
        await ws.send(welcome(peer_object(1, "Ada", "host")))
        await ws.send(control("presence", event="admitted", peer=peer_object(2, "Bob")))
        await next_json(ws)  # set_read_only: the relay has not applied it yet
        await ws.send(relay.data_frame(2, AppMessage("open", {"path": "README.md"})))
        opens_and_sync = [relay.read(1, await ws.recv())[2] for _ in range(2)]
        sync = opens_and_sync[1]
        assert sync.type == "doc_sync"
        edit = an_edit(sync, "# vandalised\n")
        for path in ("README.md", "README.md", "NOTES.md"):
            await ws.send(relay.data_frame(2, AppMessage("doc_update", {"path": path}, edit)))
        # Frames keep their order: a second refusal for README.md would come first.
        answers.extend([relay.read(1, await ws.recv()) for _ in range(2)])

    answers: list[tuple[int, int, AppMessage]] = []
    assert await host_with_guests(tmp_path, edits_before_the_flag_lands) == 0
    unicast_to_bob = (1, 2)
    assert [(kind, to, m.type, m.fields) for kind, to, m in answers] == [
        (*unicast_to_bob, "refused", {"path": "README.md", "reason": "read_only"}),
        (*unicast_to_bob, "refused", {"path": "NOTES.md", "reason": "read_only"}),
    ]
    assert (tmp_path / "README.md").read_text() == "# shared\n"
