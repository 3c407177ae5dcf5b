"""The license state's snapshot, kept in memory and read again from the database
every REFRESH_SECONDS, or at once after ``refresh()``.

Where the database is read depends on the thread: a plain thread (a view, a command,
``serve`` before it listens) reads it directly; the event loop, where Django forbids
queries, has a worker thread read it. There a stale snapshot keeps serving while the
worker reads (its expiry is still checked against the clock at every call), and a
failure to read (the database is out) keeps it, said once in the log.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from django.db import close_old_connections
from django.utils import timezone

from licensing import snapshot
from licensing.snapshot import Snapshot

logger = logging.getLogger("ctserver.licensing")

# How long a snapshot serves before it is read again: how soon a license installed
# on another server is seen here.
REFRESH_SECONDS = 60.0


class SnapshotCache:
    """The latest snapshot, and who is loading the next one."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None
        self.loaded_at = 0.0
        # Bumped by refresh(): a load that began before it must not be kept.
        self.generation = 0
        self.lock = threading.Lock()
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="licensing")
        self.background: Future[None] | None = None
        self.failing = False

    def fresh(self) -> Snapshot | None:
        if time.monotonic() - self.loaded_at < REFRESH_SECONDS:
            return self.snapshot
        return None

    def load(self) -> Snapshot:
        generation = self.generation
        snap = snapshot.load(timezone.now())
        with self.lock:
            if generation == self.generation:
                self.snapshot, self.loaded_at = snap, time.monotonic()
        return snap

    def load_on_worker(self) -> Snapshot:
        """A load on the worker thread, its database connection kept or closed as
        Django does around a request."""
        close_old_connections()
        try:
            return self.load()
        finally:
            close_old_connections()

    def refresh_in_background(self) -> None:
        """A failure (the database is out) keeps the old snapshot, said once."""
        try:
            self.load_on_worker()
        except Exception as exc:
            if not self.failing:
                logger.error("Reading the license state failed, retrying: %r", exc)
            self.failing = True
            return
        if self.failing:
            logger.warning("Reading the license state works again")
            self.failing = False

    def get(self) -> Snapshot:
        """The snapshot to evaluate; what may query the database depends on the thread."""
        snap = self.fresh()
        if snap is not None:
            return snap
        if not _in_event_loop():
            return self.load()
        stale = self.snapshot
        if stale is not None:
            if self.background is None or self.background.done():
                self.background = self.worker.submit(self.refresh_in_background)
            return stale
        # Nothing to serve meanwhile (a process's first call, or a license was just
        # recorded): wait for the worker, once.
        return self.worker.submit(self.load_on_worker).result()

    def refresh(self) -> None:
        """Forget the snapshot: the next call reads the database, even on the event
        loop (it waits for the worker once rather than serve a replaced license)."""
        with self.lock:
            self.generation += 1
            self.snapshot, self.loaded_at = None, 0.0


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
