"""A shared file's text as a CRDT (Yjs-compatible, through pycrdt).

A whole new version of the text (a file saved by any editor) becomes the
smallest edit that turns the old text into the new: the common prefix and suffix
stay, and a middle of moderate size is diffed finely. Concurrent edits from
several peers then merge without losing any of them, and every replica that has
seen the same updates holds the same text.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from pycrdt import Assoc, Doc, Text, TransactionEvent

TEXT_NAME = "content"
# Above this many differing characters, the middle is replaced whole: a fine diff
# would cost quadratic time for little gain.
FINE_DIFF_LIMIT = 20_000


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _common_suffix(a: str, b: str, prefix: int) -> int:
    n = min(len(a), len(b)) - prefix
    i = 0
    while i < n and a[-1 - i] == b[-1 - i]:
        i += 1
    return i


def edits(old: str, new: str) -> list[tuple[int, int, str]]:
    """(position, deleted length, inserted text) edits, last position first."""
    start = _common_prefix(old, new)
    end = _common_suffix(old, new, start)
    old_mid, new_mid = old[start : len(old) - end], new[start : len(new) - end]
    if not old_mid and not new_mid:
        return []
    if len(old_mid) + len(new_mid) > FINE_DIFF_LIMIT:
        return [(start, len(old_mid), new_mid)]
    matcher = difflib.SequenceMatcher(None, old_mid, new_mid, autojunk=False)
    changes = [
        (start + i1, i2 - i1, new_mid[j1:j2])
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    ]
    return sorted(changes, key=lambda change: change[0], reverse=True)


class SharedText:
    def __init__(self, on_local_update: Callable[[bytes], None] | None = None) -> None:
        self.doc: Doc[Text] = Doc()
        self._text = self.doc.get(TEXT_NAME, type=Text)
        self._on_local_update = on_local_update
        self._remote = False
        # Where the last local edit ended, in characters of the new text: the
        # cursor ctclient shows the others (docs/protocol.md §10.2).
        self.last_edit_end: int | None = None
        self._subscription = self.doc.observe(self._updated)

    def publish_to(self, on_local_update: Callable[[bytes], None]) -> None:
        """From now on, hand each local change's update to ``on_local_update``."""
        self._on_local_update = on_local_update

    def _updated(self, event: TransactionEvent) -> None:
        if not self._remote and self._on_local_update is not None:
            self._on_local_update(event.update)

    @property
    def text(self) -> str:
        return str(self._text)

    def set_text(self, new: str) -> bool:
        """Turn the text into ``new`` with minimal edits; False if it already was."""
        old = self.text
        changes = edits(old, new)
        if not changes:
            return False
        # The last change (changes come last first) ends, in the new text, after
        # what the earlier ones inserted and deleted.
        last, _, inserted = changes[0]
        shift = sum(len(ins) - deleted for _, deleted, ins in changes[1:])
        self.last_edit_end = last + shift + len(inserted)
        with self.doc.transaction():
            for position, deleted, inserted in changes:  # last first: positions hold
                # pycrdt counts Text positions in UTF-8 bytes, not characters.
                start = len(old[:position].encode())
                if deleted:
                    del self._text[start : start + len(old[position : position + deleted].encode())]
                if inserted:
                    self._text.insert(start, inserted)
        return True

    def apply_update(self, update: bytes) -> None:
        self._remote = True
        try:
            self.doc.apply_update(update)
        finally:
            self._remote = False

    def position_at(self, index: int) -> bytes:
        """A Yjs relative position for character ``index``: it stays on its
        character while others edit (§10.2's ``anchor`` and ``head``)."""
        byte_index = len(self.text[:index].encode())  # pycrdt counts UTF-8 bytes
        return self._text.sticky_index(byte_index, Assoc.BEFORE).encode()

    def state_vector(self) -> bytes:
        return self.doc.get_state()

    def update_since(self, state_vector: bytes | None = None) -> bytes:
        """Everything this replica has that one at ``state_vector`` lacks."""
        return self.doc.get_update(state_vector)
