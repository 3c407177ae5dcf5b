from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from licensing.state import current_state, current_use


class Command(BaseCommand):
    help = "Print the license state, the simultaneous connections in use and the limit."

    def handle(self, *args: Any, **options: Any) -> None:
        state = current_state()
        self.stdout.write(state.describe())
        self.stdout.write(f"In use: {current_use()} of {state.limit} simultaneous connections")
        warning = state.warning()
        if warning is not None and state.kind != "none":  # "none" was just said
            self.stdout.write(f"Warning: {warning}")
