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


class DownloadCount(models.Model):
    """Downloads from /clients/, counted by client, version and day: one row per
    day and file however many requests come (the seeds' "plugins downloaded")."""

    client = models.CharField(max_length=32)
    version = models.CharField(max_length=64)
    day = models.DateField()
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-day", "client", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "version", "day"], name="one_count_per_client_version_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.client} {self.version} on {self.day}: {self.count}"


class ServerStatus(models.Model):
    """Each server's live figures, written every CT_STATUS_INTERVAL by the server
    itself (dashboard/monitor.py): the dashboard's per-server health and load."""

    server_id = models.CharField(max_length=64, primary_key=True)
    hostname = models.CharField(max_length=255)
    version = models.CharField(max_length=32)
    started_at = models.DateTimeField()
    updated_at = models.DateTimeField(db_index=True)
    connections = models.PositiveIntegerField(default=0)
    sessions = models.PositiveIntegerField(default=0)
    relay_lag_ms = models.FloatField(null=True, blank=True)
    loop_lag_ms = models.FloatField(default=0.0)
    problems = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["hostname", "server_id"]
        verbose_name_plural = "server statuses"

    def __str__(self) -> str:
        return f"{self.hostname} ({self.server_id})"


class UsageSample(models.Model):
    """One server's use over one CT_USAGE_INTERVAL (5 minutes by default): the
    history charts and ``usage.log`` are made of these."""

    server_id = models.CharField(max_length=64)
    taken_at = models.DateTimeField(db_index=True)
    connections = models.PositiveIntegerField()
    peak_connections = models.PositiveIntegerField()
    sessions = models.PositiveIntegerField()
    users = models.PositiveIntegerField()
    relay_lag_ms = models.FloatField(null=True, blank=True)
    loop_lag_ms = models.FloatField()
    frames_relayed = models.PositiveBigIntegerField()
    bytes_relayed = models.PositiveBigIntegerField()
    license_limit = models.PositiveIntegerField()

    class Meta:
        ordering = ["-taken_at"]

    def __str__(self) -> str:
        return f"{self.server_id} at {self.taken_at:%Y-%m-%d %H:%M}"


class PurgeRecord(models.Model):
    """One purge of old history (``purge_history`` or CT_HISTORY_DAYS): what went,
    so totals such as "sessions hosted" stay right and the purge is accounted for."""

    purged_at = models.DateTimeField(auto_now_add=True)
    older_than = models.DateTimeField()
    sessions = models.PositiveIntegerField()
    participants = models.PositiveIntegerField()
    samples = models.PositiveIntegerField()
    reason = models.CharField(max_length=64)

    class Meta:
        ordering = ["-purged_at"]

    def __str__(self) -> str:
        return f"{self.purged_at:%Y-%m-%d %H:%M}: {self.sessions} sessions ({self.reason})"
