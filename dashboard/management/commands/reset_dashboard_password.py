from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dashboard.credentials import (
    GENERATED_USERNAME,
    log_generated_password,
    reset_generated_password,
)


class Command(BaseCommand):
    help = (
        f"Generate a new password for the dashboard user {GENERATED_USERNAME!r}, print it "
        "and write it to the log. Refused when CT_DASHBOARD_*/CT_LOGS_* set the credentials."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            password = reset_generated_password(settings.CONFIG.dashboard_credentials)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        log_generated_password(GENERATED_USERNAME, password)
        self.stdout.write(f"New password for {GENERATED_USERNAME!r}: {password}")
