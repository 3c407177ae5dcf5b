from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class License(models.Model):
    """Every license ever submitted, accepted or refused: the history the admin shows.

    The fields are copies for display; the state is always worked out from
    ``document``, verified again, so editing a row in the database grants nothing.
    """

    class Source(models.TextChoices):
        ENVIRONMENT = "environment", "environment (CT_LICENSEE, ...)"
        FILE = "file", "file (CT_LICENSE_FILE)"
        ADMIN = "admin", "admin"
        COMMAND = "command", "manage.py install_license"

    licensee = models.CharField(max_length=200, blank=True)
    max_connections = models.PositiveIntegerField("simultaneous connections", null=True, blank=True)
    expires = models.DateField("expires (last valid day)", null=True, blank=True)
    document = models.TextField(help_text="The license as it was given.")
    source = models.CharField(max_length=16, choices=Source.choices)
    installed_by = models.CharField(
        max_length=300, help_text="The admin user, the system user, or the variable or file."
    )
    installed_at = models.DateTimeField(default=timezone.now)
    active = models.BooleanField(default=False)
    refused = models.TextField(blank=True, help_text="Why it was refused; empty if accepted.")

    class Meta:
        ordering = ["-installed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["active"], condition=Q(active=True), name="one_active_license"
            )
        ]
        permissions = [("install_license", "Can install a license")]

    def __str__(self) -> str:
        who = self.licensee or "unreadable license"
        return f"{who} ({self.get_source_display()}, {self.installed_at:%Y-%m-%d %H:%M})"


class Trial(models.Model):
    """The one trial, started at the first start and never again.

    ``last_seen`` only moves forward: days are counted from the later of the clock
    and ``last_seen``, so setting the clock back does not give days back.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="one_trial")]

    def __str__(self) -> str:
        return f"trial started {self.started_at:%Y-%m-%d}"


class LicenseUsageDay(models.Model):
    """One UTC day's peak of simultaneous connections and refused connections."""

    date = models.DateField(unique=True)
    peak = models.PositiveIntegerField(default=0)
    refusals = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-date"]
        verbose_name = "usage day"

    def __str__(self) -> str:
        return f"{self.date}: peak {self.peak}, {self.refusals} refused"
