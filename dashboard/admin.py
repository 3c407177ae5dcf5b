"""Download counts and purges in the admin, read-only: the server counts the
downloads and records each purge of old history."""

from __future__ import annotations

from django.contrib import admin

from dashboard.models import DownloadCount, PurgeRecord
from licensing.admin import ReadOnlyAdmin


@admin.register(DownloadCount)
class DownloadCountAdmin(ReadOnlyAdmin):
    list_display = ("day", "client", "version", "count")
    list_filter = ("client", "version", "day")
    search_fields = ("client", "version")
    date_hierarchy = "day"


@admin.register(PurgeRecord)
class PurgeRecordAdmin(ReadOnlyAdmin):
    list_display = ("purged_at", "older_than", "sessions", "participants", "samples", "reason")
    list_filter = ("reason", "purged_at")
    date_hierarchy = "purged_at"
