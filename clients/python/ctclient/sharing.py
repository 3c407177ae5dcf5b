"""Folder sharing over a session: the host's side and a guest's side.

Both sides speak the file messages of docs/protocol.md §10 through a ``send``
callable and keep the folder on disk in step with one ``SharedText`` per open
file. Neither knows about sockets or terminals: relay/CLI code feeds them events.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctclient.awareness import Cursor, Cursors, colour_for
from ctclient.errors import CtClientError
from ctclient.files import BadPath, Folder, check_path
from ctclient.messages import AppMessage
from ctclient.textsync import SharedText
from ctclient.tree import DEFAULT_MAX_FILE_BYTES, PROGRESS_EVERY, Entry, scan

Send = Callable[[AppMessage, int | None], Awaitable[None]]
# The host is always peer 1 (docs/protocol.md §2). What a guest asks of the host goes
# to it alone: the relay refuses a read-only guest's broadcasts.
HOST = 1
EMPTY_UPDATE = SharedText().update_since()
Notify = Callable[[str], None]


KINDS = frozenset({"text", "binary", "too_large"})


HOST_PEER_ID = 1
# docs/protocol.md §10.1: what only the host sends; a guest drops these from anyone else.
FROM_HOST_ONLY = frozenset({"tree", "doc_sync", "opens", "refused"})


class BadMessage(CtClientError):
    """A file message from a peer that breaks docs/protocol.md §10.1."""


def _b64(data: bytes) -> str:
    """Base64 as ``sv`` is written: the standard alphabet (``+``, ``/``), ``=`` padded."""
    return base64.b64encode(data).decode()


def _unb64(text: Any) -> bytes:
    if isinstance(text, str):
        with contextlib.suppress(ValueError):  # binascii.Error, or not ASCII
            return base64.b64decode(text, validate=True)
    raise BadMessage("'sv' is not base64 with '+', '/' and '=' padding")


@dataclass
class Document:
    """One open file: its shared text and the text last seen on disk."""

    text: SharedText
    on_disk: str | None = None


class Share:
    """What both sides share: the folder, the open documents, the send channel."""

    def __init__(self, folder: Folder, send: Send, notify: Notify) -> None:
        self.folder = folder
        self.send = send
        self.notify = notify
        self.documents: dict[str, Document] = {}
        self.pending: list[AppMessage] = []
        self.cursors = Cursors()  # the others' cursors (docs/protocol.md §10.2)
        self.my_cursor: Cursor | None = None
        self.my_name = ""  # set once welcomed: the name and peer id the cursor carries

    def _document(self, path: str, initial: str = "") -> Document:
        """The open document for ``path``; a new one starts as ``initial`` (not an edit)."""
        document = self.documents.get(path)
        if document is None:
            text = SharedText()
            text.set_text(initial)
            text.publish_to(lambda update: self._publish(path, update))
            document = Document(text, on_disk=initial if initial else None)
            self.documents[path] = document
        return document

    def _publish(self, path: str, update: bytes) -> None:
        self.pending.append(AppMessage("doc_update", {"path": path}, update))

    async def flush(self) -> None:
        """Send the updates that local edits produced."""
        pending, self.pending = self.pending, []
        for message in pending:
            await self.send(message, None)

    def _write(self, path: str, document: Document) -> None:
        text = document.text.text
        if document.on_disk != text:
            self.folder.write_text(path, text)
            document.on_disk = text

    async def disk_changed(self, path: str) -> None:
        """A watched file changed on disk: share the edit if the file is open."""
        document = self.documents.get(path)
        if document is None:
            return
        try:
            text = self.folder.read_text(path)
        except (OSError, UnicodeDecodeError, BadPath):
            return
        if text == document.on_disk:
            return  # our own write coming back
        if not self.may_edit():
            self.notify(f"{path}: you are read-only; your edit was not shared and is undone")
            self._write_forced(path, document)
            return
        document.on_disk = text
        if document.text.set_text(text):
            self._cursor_after_edit(path, document)
        await self.flush()

    def _cursor_after_edit(self, path: str, document: Document) -> None:
        """Our cursor is where we last edited: queued after the edit's update, so a
        receiver has the text the position points into."""
        end = document.text.last_edit_end
        if end is None or not self.my_name or not self.cursors.own_peer_id:
            return
        position = document.text.position_at(end)
        colour = colour_for(self.cursors.own_peer_id)
        self.my_cursor = Cursor(path, self.my_name, colour, position, position)
        self.pending.append(self.my_cursor.message())

    def identify(self, name: str, peer_id: int) -> None:
        """Who we are in the session (from our welcome), for our cursor."""
        self.my_name, self.cursors.own_peer_id = name, peer_id

    async def resend_cursor(self) -> None:
        """A peer came (back): frames sent while it was away are not kept for it."""
        if self.my_cursor is not None and self.may_edit():
            await self.send(self.my_cursor.message(), None)

    def _write_forced(self, path: str, document: Document) -> None:
        document.on_disk = None
        self._write(path, document)

    def may_edit(self) -> bool:
        return True

    async def receive(self, message: AppMessage) -> None:
        """Handle a file message from another peer. One that breaks §10.1, or whose
        CRDT data does not decode (ValueError), is said and dropped: one peer must
        not stop the session for the others."""
        try:
            if message.type == "awareness":
                self.cursors.receive(message)  # BadCursor is a ValueError
            else:
                await self._receive(message)
        except (BadPath, BadMessage, ValueError) as exc:
            self.notify(f"ignored a {message.type} message from peer {message.sender}: {exc}")

    async def _receive(self, message: AppMessage) -> None:
        raise NotImplementedError

    def apply_update(self, path: str, update: bytes) -> None:
        document = self.documents.get(path)
        if document is None:
            return  # not open here: nothing to keep in step
        document.text.apply_update(update)
        self._write(path, document)


class HostShare(Share):
    def __init__(
        self,
        folder: Folder,
        send: Send,
        notify: Notify,
        *,
        share_all: bool = False,
        keep_files: bool = False,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    ) -> None:
        super().__init__(folder, send, notify)
        self.share_all = share_all
        self.keep_files = keep_files
        self.max_file_bytes = max_file_bytes
        self.entries: dict[str, Entry] = {}
        self.read_only: set[int] = set()  # guests whose edits are refused
        self.refused: set[tuple[int, str]] = set()  # (guest, path) already told so
        self.opened_by: dict[int, set[str]] = {}
        self.rescan(lambda count: notify(f"Scanning the folder: {count} files so far..."))

    def rescan(self, progress: Callable[[int], None] | None = None) -> bool:
        """Scan the folder again; True when the tree changed."""
        entries = {e.path: e for e in scan(self.folder.root, self.max_file_bytes, progress)}
        changed = entries != self.entries
        self.entries = entries
        return changed

    def tree_message(self) -> AppMessage:
        return AppMessage(
            "tree",
            {
                "entries": [[e.path, e.size, e.kind] for e in self.entries.values()],
                "share": "all" if self.share_all else "on-demand",
                "keep_files": self.keep_files,
            },
        )

    def _open_document(self, path: str) -> Document | None:
        entry = self.entries.get(path)
        if entry is None or entry.kind != "text":
            return None
        if path in self.documents:
            return self.documents[path]
        # The content on disk is where the document starts: it reaches guests as
        # doc_sync, not as an edit.
        return self._document(path, self.folder.read_text(path))

    async def welcome(self, guest: int) -> None:
        """A guest was admitted and said hello: send the tree, and the files if sharing all."""
        await self.send(self.tree_message(), guest)
        if self.share_all:
            for path, entry in self.entries.items():
                if entry.kind == "text":
                    await self._sync(guest, path, b"")

    async def _sync(self, guest: int, path: str, their_state: bytes) -> None:
        document = self._open_document(path)
        if document is None:
            await self.send(AppMessage("refused", {"path": path, "reason": "not_text"}), guest)
            return
        opened = self.opened_by.setdefault(guest, set())
        if path not in opened:
            opened.add(path)
            await self.send(self.opens_message(), None)
        update = document.text.update_since(their_state or None)
        sv = _b64(document.text.state_vector())
        await self.send(AppMessage("doc_sync", {"path": path, "sv": sv}, update), guest)

    async def _receive(self, message: AppMessage) -> None:
        sender = message.sender
        if message.type == "hello_app":
            await self.welcome(sender)
        elif message.type == "open":
            await self._sync(sender, check_path(message.fields.get("path", "")), message.body)
        elif message.type == "doc_update":
            path = check_path(message.fields.get("path", ""))
            if sender in self.read_only:
                await self.refuse_edit(sender, path)
            else:
                self.apply_update(path, message.body)

    async def refuse_edit(self, guest: int, path: str) -> None:
        """Tell a read-only guest its edit of ``path`` was not applied, once per file
        (a guest typing in a read-only file would otherwise get one per keystroke)."""
        if (guest, path) in self.refused:
            return
        self.refused.add((guest, path))
        await self.send(AppMessage("refused", {"path": path, "reason": "read_only"}), guest)

    def set_read_only(self, guest: int, read_only: bool) -> None:
        """Refuse ``guest``'s edits from now on, or accept them again."""
        if read_only:
            self.read_only.add(guest)
        else:
            self.read_only.discard(guest)
            self.refused = {(peer, path) for peer, path in self.refused if peer != guest}

    def opened_by_lists(self) -> dict[int, list[str]]:
        return {peer: sorted(paths) for peer, paths in self.opened_by.items()}

    def opens_message(self) -> AppMessage:
        opens = {str(peer): paths for peer, paths in self.opened_by_lists().items() if paths}
        return AppMessage("opens", {"opens": opens})

    async def forget(self, guest: int) -> None:
        """A guest left: it has nothing open any more, and nothing of it is kept."""
        self.set_read_only(guest, False)
        self.cursors.forget(guest)
        if self.opened_by.pop(guest, None):
            await self.send(self.opens_message(), None)

    async def tree_changed(self) -> None:
        if self.rescan():
            await self.send(self.tree_message(), None)


def _entry(item: Any) -> tuple[str, int, str]:
    """One ``[path, size, kind]`` of a tree."""
    match item:
        case [str(path), int(size), str(kind)] if kind in KINDS and size >= 0:
            return path, size, kind
    raise BadMessage(f"not a [path, size, kind] entry: {item!r}")


def _opens(opens: Any) -> dict[int, list[str]]:
    """An ``opens`` message's map from peer id (a string) to the paths it has open."""
    if not isinstance(opens, dict):
        raise BadMessage("'opens' is not an object")
    lists: dict[int, list[str]] = {}
    for peer, paths in opens.items():
        if not peer.isdecimal() or not isinstance(paths, list):
            raise BadMessage(f"'opens' holds {peer!r}: {paths!r}")
        lists[int(peer)] = [str(path) for path in paths]
    return lists


class GuestShare(Share):
    def __init__(self, folder: Folder, send: Send, notify: Notify) -> None:
        super().__init__(folder, send, notify)
        self.entries: dict[str, tuple[int, str]] = {}
        self.keep_files = False
        self.read_only = False
        self.created_files: set[str] = set()
        self.created_dirs: set[Path] = set()
        self.wanted: set[str] = set()
        self.opens: dict[int, list[str]] = {}

    def may_edit(self) -> bool:
        return not self.read_only

    def _materialise(self, path: str) -> None:
        target = self.folder.resolve(path)
        if target.exists():
            return  # never touch what was already in the folder
        self.created_dirs.update(self.folder.write_text(path, ""))
        self.created_files.add(path)

    async def open(self, path: str) -> None:
        path = check_path(path)
        self.wanted.add(path)
        kind = self.entries.get(path, (0, ""))[1]
        if self.entries and kind != "text":
            self.notify(f"{path}: not shared as text ({kind or 'not in the tree'})")
            return
        state = self.documents[path].text.state_vector() if path in self.documents else b""
        await self.send(AppMessage("open", {"path": path}, state), HOST)

    async def resync(self) -> None:
        """After a reconnect (ours or the host's): exchange what each side lacks."""
        for path in sorted(self.documents):
            await self.open(path)

    async def _receive(self, message: AppMessage) -> None:
        if message.type in FROM_HOST_ONLY and message.sender != HOST_PEER_ID:
            # Every admitted peer holds the key, so a guest could write these; only
            # the host's (the server stamps the sender) say what is shared.
            raise BadMessage(f"only the host sends {message.type!r}")
        if message.type == "tree":
            await self._tree(message.fields)
        elif message.type == "doc_sync":
            await self._doc_sync(message)
        elif message.type == "doc_update":
            self.apply_update(check_path(message.fields.get("path", "")), message.body)
        elif message.type == "opens":
            self.opens = _opens(message.fields.get("opens"))
        elif message.type == "refused":
            reason = message.fields.get("reason")
            self.notify(f"{message.fields.get('path')}: the host refused it ({reason})")

    def _entries(self, items: Any) -> dict[str, tuple[int, str]]:
        """A tree's entries; one that is malformed or names a refused path is said
        and left out, the others kept."""
        if not isinstance(items, list):
            raise BadMessage("'entries' is not a list")
        entries: dict[str, tuple[int, str]] = {}
        for item in items:
            try:
                path, size, kind = _entry(item)
                entries[check_path(path)] = (size, kind)
            except (BadPath, BadMessage) as exc:
                self.notify(f"left out of the shared tree: {exc}")
        return entries

    async def _tree(self, fields: dict[str, Any]) -> None:
        entries = self._entries(fields.get("entries"))
        self.keep_files = fields.get("keep_files") is True
        for number, (path, (_size, kind)) in enumerate(sorted(entries.items()), start=1):
            if path not in self.entries and kind != "text":
                self.notify(f"{path}: shared as a name only ({kind.replace('_', ' ')})")
            self._materialise(path)
            if number % PROGRESS_EVERY == 0:
                self.notify(f"Creating the shared names: {number} of {len(entries)}...")
        for path in sorted(set(self.entries) - set(entries)):
            self._forget(path)
        self.entries = entries
        for path in sorted(self.wanted - set(self.documents)):
            await self.open(path)

    def _forget(self, path: str) -> None:
        """The host no longer shares ``path``: remove our copy, unless edited here."""
        document = self.documents.pop(path, None)
        self.wanted.discard(path)
        if path not in self.created_files:
            return
        target = self.folder.root / path
        expected = document.on_disk if document is not None else ""
        try:
            unchanged = target.read_text(encoding="utf-8") == expected
        except (OSError, UnicodeDecodeError):
            unchanged = False
        if unchanged:
            target.unlink()
            self.created_files.discard(path)
            self.notify(f"{path}: no longer shared by the host, removed")
        else:
            self.notify(f"{path}: no longer shared by the host; your copy is kept")

    async def _doc_sync(self, message: AppMessage) -> None:
        path = check_path(message.fields.get("path", ""))
        host_state = _unb64(message.fields.get("sv")) or None  # checked before any write
        self._materialise(path)
        document = self._document(path)
        document.text.apply_update(message.body)
        self._write(path, document)
        missing = document.text.update_since(host_state)
        if self.may_edit() and missing != EMPTY_UPDATE:  # edits made while disconnected
            await self.send(AppMessage("doc_update", {"path": path}, missing), None)

    def clean_up(self) -> list[str]:
        """Remove the files this guest received (only those) and folders it made."""
        removed = []
        for path in sorted(self.created_files):
            target = self.folder.root / path
            if target.is_file() and not target.is_symlink():
                target.unlink()
                removed.append(path)
        for folder in sorted(self.created_dirs, key=lambda p: len(p.parts), reverse=True):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        return removed
