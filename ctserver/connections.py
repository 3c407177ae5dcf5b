"""Database connections: kept by the relay's thread, closed after every page.

The relay's database work runs on one long-lived thread (channels'
``database_sync_to_async``), where keeping the connection open
(``CT_DATABASE_CONN_MAX_AGE``) saves a reconnect per call. Django's ASGI handler
instead runs each HTTP request on a thread of its own, so a connection it keeps is
never used again, yet lives, open, until the garbage collector happens to reach it:
measured, 1,000 session creations left 276 SQLite connections and 80 MiB behind
(docs/benchmarks.md); on PostgreSQL they would use up the server's connections.
Django's documentation says as much ("When using ASGI, persistent connections
should be disabled"), so a request's connections are closed when it ends.
"""

from __future__ import annotations

from typing import Any

from django.core.signals import request_finished
from django.db import connections
from django.dispatch import receiver


@receiver(request_finished)
def close_request_connections(**_: Any) -> None:
    # request_finished runs on the request's own thread, whose connections these are.
    connections.close_all()
