"""What a running host and a running join share: the folder watcher, the event
loop's common step, and the status they publish."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from watchfiles import Change, awatch

from ctclient.peer import Event, Peer
from ctclient.sharing import Share

WATCH_DEBOUNCE_MS = 100


def relative(root: Path, changed: str) -> str | None:
    try:
        path = Path(changed).resolve().relative_to(root)
    except ValueError:
        return None
    text = path.as_posix()
    if text.startswith((".git/", ".ctclient/")) or Path(text).name.startswith(".ctclient-"):
        return None
    return text


async def watch(root: Path, share: Share, on_tree_change: Any = None) -> None:
    """Turn edits on disk, by any editor, into shared edits."""
    async for changes in awatch(root, debounce=WATCH_DEBOUNCE_MS, step=20, recursive=True):
        tree_changed = False
        for change, changed in changes:
            path = relative(share.folder.root, changed)
            if path is None:
                continue
            if change is Change.modified:
                await share.disk_changed(path)
            else:
                tree_changed = True
                if change is Change.added:
                    await share.disk_changed(path)
        if tree_changed and on_tree_change is not None:
            await on_tree_change()


def from_read_only_peer(peer: Peer, event: Event) -> bool:
    assert event.message is not None
    sender = peer.peers.get(event.message.sender, {})
    return event.message.type == "doc_update" and bool(sender.get("read_only"))


async def next_event(peer: Peer, share: Share, on_change: Callable[[], None] | None) -> Event:
    """The next event the host's or guest's loop must handle; file messages go to
    ``share`` here. A guest ignores edits from read-only peers; the host's share
    refuses them itself, and tells the guest (docs/protocol.md §10.1)."""
    while True:
        event = await peer.events.get()
        if on_change is not None and event.kind != "closed":
            asyncio.get_running_loop().call_soon(on_change)
        if event.kind != "message" or event.message is None:
            return event
        if peer.role == "host" or not from_read_only_peer(peer, event):
            await share.receive(event.message)


def status_of(peer: Peer, share: Share, opens: dict[int, list[str]]) -> dict[str, Any]:
    participants = []
    for peer_id, info in sorted(peer.peers.items()):
        participants.append({**info, "open": opens.get(peer_id, [])})
    return {
        "role": peer.role,
        "session": peer.link.session_id,
        "server": peer.link.server_url,
        "you": peer.peer_id,
        "state": peer.state,
        "participants": participants,
        "open_here": sorted(share.documents),
        # Which file each other peer's cursor is in (docs/protocol.md §10.2).
        "cursors": {
            str(peer_id): cursor.path for peer_id, cursor in sorted(share.cursors.by_peer.items())
        },
    }


async def stop_tasks(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel helper tasks and wait until they have stopped."""
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
