"""Database work of the relay, done in groups: whatever is asked for while one group
is being written goes into the next one, together.

A reconnect storm brings thousands of hellos at once, and each needs its room loaded,
its peer id allocated and its participant row saved. One by one, each of these paid a
hop to the database thread and back and waited behind all the others in that thread's
queue; grouped, a storm costs a few hundred hops in all, each carrying every kind of
work then waiting, and a lone hello still goes at once (a group waits one turn of the
event loop for company, never for a timer). Every caller still gets its own answer,
or its own exception, and only after its work is committed: admission stays as
crash-safe as it was.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from channels.db import database_sync_to_async

Item = TypeVar("Item")
Result = TypeVar("Result")

# Does the work of a whole group in the database thread: one answer per item, in
# order; an exception in that list is raised to that item's caller alone.
GroupWork = Callable[[list[Item]], Sequence["Result | Exception"]]
Waiting = dict["Grouped[Any, Any]", list[tuple[Any, "asyncio.Future[Any]"]]]


class Grouped(Generic[Item, Result]):
    """One kind of grouped work: ``await grouped(item)`` gives that item's answer."""

    def __init__(self, work: GroupWork[Item, Result]) -> None:
        self.work = work

    async def __call__(self, item: Item) -> Result:
        answer: asyncio.Future[Result] = QUEUE.submit(self, item)
        return await answer

    def run(self, items: list[Item]) -> Sequence[Result | Exception]:
        """In the database thread: the group's answers, or its failure for each."""
        try:
            return self.work(items)
        except Exception as exc:
            return [exc] * len(items)


class DatabaseQueue:
    """Everything grouped, whatever its kind, travels to the database thread together."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: Waiting = {}
        self._writer: asyncio.Task[None] | None = None
        self.trips = 0  # how many trips to the database thread, for tests and benchmarks

    def submit(self, kind: Grouped[Item, Result], item: Item) -> asyncio.Future[Result]:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (each test has its own)
            self._loop, self._waiting, self._writer = loop, {}, None
        answer: asyncio.Future[Result] = loop.create_future()
        self._waiting.setdefault(kind, []).append((item, answer))
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write())
        return answer

    async def _write(self) -> None:
        while self._waiting:
            # One turn of the event loop first: whatever else is ready to ask (under a
            # storm, hundreds of sockets' hellos) joins this trip.
            await asyncio.sleep(0)
            trip, self._waiting = self._waiting, {}
            self.trips += 1
            try:
                answers = await database_sync_to_async(_run_all)(trip)
            except Exception as exc:  # the trip itself failed: every caller in it hears so
                answers = {kind: [exc] * len(entries) for kind, entries in trip.items()}
            for kind, entries in trip.items():
                for (_, answer), result in zip(entries, answers[kind], strict=True):
                    if answer.done():  # its caller went away meanwhile
                        continue
                    if isinstance(result, Exception):
                        answer.set_exception(result)
                    else:
                        answer.set_result(result)


def _run_all(trip: Waiting) -> dict[Grouped[Any, Any], Sequence[Any]]:
    return {kind: kind.run([item for item, _ in entries]) for kind, entries in trip.items()}


QUEUE = DatabaseQueue()
