from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from dashboard import views as dashboard_views

admin.site.site_header = "ctserver administration"
admin.site.site_title = "ctserver"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="dashboard:home", permanent=False)),
    path("dashboard/", include("dashboard.urls")),
    path("clients/", dashboard_views.clients_index, name="clients"),
    path("clients/<str:client>/<str:filename>", dashboard_views.client_download, name="client"),
    path("admin/", admin.site.urls),
    path("", include("relay.urls")),
]
