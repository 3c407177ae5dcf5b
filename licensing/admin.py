"""The license manager's pages: the history of licenses (read-only), the install
form, and the use per day (read-only). The license pages show the state, its days
left and the use against the limit, with a warning when action is needed."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from licensing.forms import InstallForm
from licensing.install import install
from licensing.models import License, LicenseUsageDay
from licensing.sources import from_upload
from licensing.state import current_state, current_use

RECENT_DAYS = 14


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """History is written by the server only."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(License)
class LicenseAdmin(ReadOnlyAdmin):
    list_display = (
        "licensee",
        "max_connections",
        "expires",
        "active",
        "source",
        "installed_by",
        "installed_at",
        "refused",
    )
    list_filter = ("active", "source")
    search_fields = ("licensee", "installed_by")
    fields = (*list_display, "document")

    def get_urls(self) -> list[URLPattern]:
        install_url = path(
            "install/",
            self.admin_site.admin_view(self.install_view),
            name="licensing_license_install",
        )
        return [install_url, *super().get_urls()]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {
            **_license_context(request),
            "title": "Licenses",
            "recent_days": LicenseUsageDay.objects.all()[:RECENT_DAYS],
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = {**_license_context(request), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, context)

    def install_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm("licensing.install_license"):
            raise PermissionDenied
        posted = request.method == "POST"
        form = InstallForm(request.POST, request.FILES) if posted else InstallForm()
        if posted and form.is_valid():
            submission = from_upload(
                form.content(), License.Source.ADMIN, request.user.get_username()
            )
            row = install(submission)
            if row.refused:
                messages.error(request, f"License refused: {row.refused}")
            else:
                messages.success(request, f"License installed. {current_state().describe()}")
                return HttpResponseRedirect(reverse("admin:licensing_license_changelist"))
        context = {
            **self.admin_site.each_context(request),
            **_license_context(request),
            "opts": self.opts,
            "title": "Install a license",
            "form": form,
        }
        return TemplateResponse(request, "admin/licensing/license/install.html", context)


def _license_context(request: HttpRequest) -> dict[str, Any]:
    """The state for the page, and the warning as an admin message."""
    state = current_state()
    warning = state.warning()
    if warning is not None:
        messages.warning(request, warning)
    return {"license": state, "license_use": current_use(), "in_admin": True}


@admin.register(LicenseUsageDay)
class LicenseUsageDayAdmin(ReadOnlyAdmin):
    list_display = ("date", "peak", "refusals")
    date_hierarchy = "date"
