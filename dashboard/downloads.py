"""Counting client downloads: one row per client, version and day, incremented in
the database (an ``UPDATE ... count = count + 1``), so a burst of requests adds to
one row instead of writing a row each, and a crash loses no count."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from dashboard.models import DownloadCount


@dataclass(frozen=True)
class DownloadTotal:
    client: str
    version: str
    count: int


def count_download(client: str, version: str) -> None:
    day = timezone.localdate()
    rows = DownloadCount.objects.filter(client=client, version=version, day=day)
    if rows.update(count=F("count") + 1):
        return
    try:
        with transaction.atomic():
            DownloadCount.objects.create(client=client, version=version, day=day, count=1)
    except IntegrityError:  # another request made today's row first
        rows.update(count=F("count") + 1)


def download_totals() -> list[DownloadTotal]:
    """All-time downloads per client and version."""
    rows = (
        DownloadCount.objects.values("client", "version")
        .annotate(total=Sum("count"))
        .order_by("client", "version")
    )
    return [DownloadTotal(row["client"], row["version"], row["total"]) for row in rows]


def total_downloads() -> int:
    return int(DownloadCount.objects.aggregate(total=Sum("count"))["total"] or 0)
