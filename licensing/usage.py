"""The use history: each day's peak of simultaneous connections and refusals.

The relay's sweeper calls ``record`` from every server with what it saw since its
last call; rows merge atomically (peak by maximum, refusals by sum), so servers
writing at once lose nothing.
"""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from licensing.models import LicenseUsageDay


def record(peak: int, refusals: int, day: date | None = None) -> None:
    """Merge into today's (UTC) row: peak = max(peak, row's), refusals added."""
    day = day or timezone.now().date()
    with transaction.atomic():
        LicenseUsageDay.objects.get_or_create(date=day)
        LicenseUsageDay.objects.filter(date=day).update(
            peak=Greatest(F("peak"), peak), refusals=F("refusals") + refusals
        )
