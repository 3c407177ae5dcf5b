from __future__ import annotations

from django.conf import settings
from django.db import models


class BootstrapAccount(models.Model):
    """A dashboard account ctserver made itself from CT_* credentials or a generated password.

    Remembered so that when the configured credentials change, the accounts made
    from the old ones are disabled instead of silently keeping access.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bootstrap"
    )
    source = models.CharField(
        max_length=32, help_text="CT_DASHBOARD_USER, CT_LOGS_USER or generated"
    )
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} ({self.source})"


class ClientDownload(models.Model):
    """One download from /clients/: the dashboard counts them (the seeds' metric)."""

    client = models.CharField(max_length=32)
    filename = models.CharField(max_length=255)
    downloaded_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.filename} at {self.downloaded_at:%Y-%m-%d %H:%M}"
