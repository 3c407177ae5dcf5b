from __future__ import annotations

from django.apps import AppConfig


class CtserverConfig(AppConfig):
    name = "ctserver"
    verbose_name = "ctserver"

    def ready(self) -> None:
        from ctserver import (
            checks,  # noqa: F401  (registers the system checks)
            connections,  # noqa: F401  (closes a request's connections)
        )
