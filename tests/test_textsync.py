"""Shared text: minimal edits from whole-file saves, and convergence of concurrent edits."""

from __future__ import annotations

import random

from ctclient.textsync import SharedText, edits
from hypothesis import given, settings
from hypothesis import strategies as st

ALPHABET = st.characters(codec="utf-8", exclude_categories=["Cs"])


@given(st.text(ALPHABET, max_size=60), st.text(ALPHABET, max_size=60))
def test_edits_turn_the_old_text_into_the_new(old: str, new: str) -> None:
    shared = SharedText()
    shared.set_text(old)
    shared.set_text(new)
    assert shared.text == new


def test_a_small_change_in_a_large_file_is_a_small_edit() -> None:
    old = "line\n" * 50_000
    new = old[:1000] + "changed" + old[1000:]
    assert edits(old, new) == [(1000, 0, "changed")]


def test_only_local_changes_are_published() -> None:
    published: list[bytes] = []
    a, b = SharedText(published.append), SharedText()
    a.set_text("hello")
    assert len(published) == 1
    b.apply_update(published[0])
    assert b.text == "hello"
    b_published: list[bytes] = []
    b2 = SharedText(b_published.append)
    b2.apply_update(published[0])
    assert b_published == []  # applying a remote update does not echo it


@settings(max_examples=60, deadline=None)
@given(
    st.text(ALPHABET, max_size=40).map(lambda base: base + "\n"),
    st.lists(
        st.tuples(st.integers(0, 2), st.text(ALPHABET, max_size=8), st.integers(0, 1000)),
        min_size=1,
        max_size=12,
    ),
    st.randoms(use_true_random=False),
)
def test_concurrent_edits_converge_and_keep_every_insertion(
    base: str, moves: list[tuple[int, str, int]], rng: random.Random
) -> None:
    """Three replicas edit at once; updates from different peers arrive interleaved in
    any way: all end identical, with every peer's insertion in place."""
    outboxes: list[list[bytes]] = [[], [], []]
    replicas = [SharedText(outboxes[i].append) for i in range(3)]
    replicas[0].set_text(base)
    for other in replicas[1:]:
        other.apply_update(replicas[0].update_since())
    for outbox in outboxes:
        outbox.clear()
    markers = []
    for index, (who, inserted, where) in enumerate(moves):
        # Each edit adds a whole line at a line start, so no edit splits another's.
        replica = replicas[who]
        text = replica.text
        starts = [0] + [i + 1 for i, char in enumerate(text) if char == "\n"]
        cut = starts[where % len(starts)]
        marker = f"<{index}:{inserted.replace(chr(10), ' ')}>\n"
        markers.append(marker)
        replica.set_text(text[:cut] + marker + text[cut:])
    for who, replica in enumerate(replicas):
        # The relay keeps each sender's frames in order; senders interleave freely.
        streams = [list(box) for other, box in enumerate(outboxes) if other != who]
        while any(streams):
            stream = rng.choice([s for s in streams if s])
            replica.apply_update(stream.pop(0))
    texts = {replica.text for replica in replicas}
    assert len(texts) == 1
    merged = texts.pop()
    assert all(marker in merged for marker in markers)
