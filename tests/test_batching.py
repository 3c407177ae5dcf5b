"""Grouped database work (relay/batching.py): fewer trips, each caller its own answer."""

from __future__ import annotations

import asyncio

import pytest

from relay.batching import QUEUE, Grouped

pytestmark = pytest.mark.django_db(transaction=True)  # the work runs in another thread


def _doubled(items: list[int]) -> list[int | Exception]:
    seen.append(list(items))
    return [ValueError(f"odd {n}") if n % 2 else 2 * n for n in items]


seen: list[list[int]] = []
doubled = Grouped(_doubled)


async def _ask(kind: Grouped[int, int], item: int) -> int | str:
    try:
        return await kind(item)
    except Exception as exc:
        return str(exc)


async def test_callers_asking_at_once_share_one_trip_and_get_their_own_answers() -> None:
    seen.clear()
    trips = QUEUE.trips
    answers = await asyncio.gather(*(_ask(doubled, n) for n in range(40)))
    assert answers == [f"odd {n}" if n % 2 else 2 * n for n in range(40)]
    assert QUEUE.trips - trips == 1 and seen == [list(range(40))]


async def test_a_lone_caller_is_answered_at_once() -> None:
    seen.clear()
    assert await asyncio.wait_for(doubled(4), timeout=5) == 8
    assert seen == [[4]]


async def test_what_arrives_during_a_trip_goes_in_the_next() -> None:
    seen.clear()
    first = asyncio.ensure_future(doubled(2))
    await asyncio.sleep(0)  # the first trip leaves with 2 alone ...
    await asyncio.sleep(0)
    later = [asyncio.ensure_future(doubled(n)) for n in (4, 6, 8)]
    assert [await first, *[await f for f in later]] == [4, 8, 12, 16]
    assert seen == [[2], [4, 6, 8]]


async def test_one_kind_failing_does_not_fail_another_in_the_same_trip() -> None:
    def broken(items: list[int]) -> list[int]:
        raise RuntimeError("the database went away")

    failing = Grouped(broken)
    answers = await asyncio.gather(_ask(failing, 1), _ask(doubled, 2), _ask(failing, 3))
    assert list(answers) == ["the database went away", 4, "the database went away"]


async def test_a_failed_trip_answers_every_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_thread(trip: object) -> object:
        raise RuntimeError("the database thread is gone")

    monkeypatch.setattr("relay.batching._run_all", no_thread)
    answers = await asyncio.wait_for(asyncio.gather(_ask(doubled, 2), _ask(doubled, 4)), 5)
    assert list(answers) == ["the database thread is gone"] * 2
    monkeypatch.undo()
    assert await asyncio.wait_for(doubled(3 * 2), 5) == 12  # and the next trip goes


def test_each_event_loop_starts_afresh() -> None:
    # Tests run one loop each; a trip left behind by a closed loop must not block.
    assert asyncio.run(doubled(6)) == 12
    assert asyncio.run(doubled(10)) == 20
