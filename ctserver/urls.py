from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "ctserver administration"
admin.site.site_title = "ctserver"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="dashboard:home", permanent=False)),
    path("dashboard/", include("dashboard.urls")),
    path("admin/", admin.site.urls),
    path("", include("relay.urls")),
]
