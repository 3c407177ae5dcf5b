"""``manage.py runserver``: the development server (``make dev``).

daphne's runserver (autoreload, ASGI, WebSockets) on plain HTTP, after the same
startup steps as ``serve``. ``serve`` stays the production server: uvicorn relays
about twice as much per core (docs/benchmarks.md). daphne is a development
dependency (requirements-dev.txt); an install without it says so.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ctserver.startup import prepare

try:
    from daphne.management.commands.runserver import Command as DaphneRunserver
except ImportError:  # a production install: no development server
    DaphneRunserver = None


if DaphneRunserver is None:

    class Command(BaseCommand):
        help = "The development server; needs daphne (pip install -r requirements-dev.txt)."

        def handle(self, *args: Any, **options: Any) -> None:
            raise CommandError(
                "runserver needs daphne, a development dependency: "
                "pip install -r requirements-dev.txt (in production use 'manage.py serve')"
            )

else:

    class Command(DaphneRunserver):  # type: ignore[no-redef, misc]
        help = "The development server: daphne with autoreload, plain HTTP, WebSockets."

        def inner_run(self, *args: Any, **options: Any) -> None:
            prepare()  # in the reloaded process, before it listens
            super().inner_run(*args, **options)
