"""``manage.py purge_history --older-than DAYS [--dry-run]``: what CT_HISTORY_DAYS
does daily, at once and for any age."""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from dashboard.retention import expired, purge_history


class Command(BaseCommand):
    help = (
        "Delete the history of sessions that ended more than DAYS days ago (with their "
        "participants), usage samples older than that and expired sign-ins. Open "
        "sessions are kept. The purge is recorded; 'sessions hosted' keeps counting them."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--older-than", type=int, required=True, metavar="DAYS")
        parser.add_argument(
            "--dry-run", action="store_true", help="say what would be deleted; delete nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days: int = options["older_than"]
        if days < 1:
            raise CommandError(f"--older-than must be at least 1 day, got {days}")
        cutoff = timezone.now() - timedelta(days=days)
        going = expired(cutoff)
        what = (
            f"{going.sessions} ended sessions ({going.hosted} hosted), "
            f"{going.participants} participants and {going.samples} usage samples "
            f"from before {cutoff.isoformat(timespec='seconds')}"
        )
        if options["dry_run"]:
            self.stdout.write(f"Would delete {what}, and expired sign-ins. Nothing deleted.")
            return
        purge_history(cutoff, f"purge_history --older-than {days}")
        self.stdout.write(f"Deleted {what}, and expired sign-ins.")
