from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from dashboard import client_pages, log_views
from sso.tokens import sso_token_urls

admin.site.site_header = "ctserver administration"
admin.site.site_title = "ctserver"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="dashboard:home", permanent=False)),
    path("dashboard/", include("dashboard.urls")),
    path("clients/", client_pages.clients_index, name="clients"),
    path("clients/<str:client>/", client_pages.client_page, name="client_page"),
    path("clients/<str:client>/<str:filename>", client_pages.client_download, name="client"),
    # /logs is the name operators know (CodeTogether's); /logs/ serves the same page.
    path("logs", log_views.logs_page),
    path("logs/", log_views.logs_page, name="logs"),
    path("logs/files/<str:name>", log_views.log_file, name="log_file"),
    path("metrics", include("dashboard.prometheus")),  # CT_PROMETHEUS_ENABLED, else 404
    path("admin/", admin.site.urls),
    path("sso/", include("sso.urls")),
    *sso_token_urls(),
    path("", include("relay.urls")),
]
