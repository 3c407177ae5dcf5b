"""Session history in the admin, read-only: the server writes it, retention
(dashboard/retention.py) deletes it.

Fields are listed, never left to the default of "all": the secret hashes stay out
of every page, search and filter, and so does a field added to a model later
until someone decides to show it. No content is stored to show.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from licensing.admin import ReadOnlyAdmin
from relay.models import Participant, Session

PARTICIPANT_FIELDS = (
    "peer_id",
    "display_name",
    "email",
    "verified",
    "subject",
    "role",
    "state",
    "read_only",
    "client",
    "address",
    "joined",
    "admitted_at",
    "left_at",
    "frames_sent",
    "bytes_sent",
)


class OpenFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "open"

    def lookups(self, request: HttpRequest, model_admin: object) -> list[tuple[str, str]]:
        return [("yes", "open"), ("no", "ended")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Session]) -> QuerySet[Session]:
        if self.value() in ("yes", "no"):
            return queryset.filter(ended__isnull=self.value() == "yes")
        return queryset


class ParticipantInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Participant
    fields = PARTICIPANT_FIELDS
    readonly_fields = PARTICIPANT_FIELDS
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Session)
class SessionAdmin(ReadOnlyAdmin):
    list_display = (
        "session_id",
        "created",
        "ended",
        "end_reason",
        "peak_peers",
        "frames_relayed",
        "bytes_relayed",
        "served_by",
        "moves",
    )
    list_filter = (OpenFilter, "end_reason", "created", "ended", "auto_admit")
    search_fields = (
        "session_id",
        "participants__display_name",
        "participants__email",
        "created_by",
    )
    date_hierarchy = "created"
    fields = (
        "session_id",
        "auto_admit",
        "created",
        "created_by",
        "ended",
        "end_reason",
        "last_activity",
        "first_guest_at",
        "last_guest_left_at",
        "peak_peers",
        "frames_relayed",
        "bytes_relayed",
        "served_by",
        "moves",
    )
    inlines = (ParticipantInline,)


@admin.register(Participant)
class ParticipantAdmin(ReadOnlyAdmin):
    list_display = (
        "session",
        "peer_id",
        "display_name",
        "email",
        "verified",
        "role",
        "state",
        "client",
        "joined",
    )
    list_filter = ("role", "state", "read_only", "joined")
    search_fields = ("display_name", "email", "subject", "session__session_id", "client", "address")
    list_select_related = ("session",)
    fields = ("session", *PARTICIPANT_FIELDS)
