from __future__ import annotations

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.db.models import Count
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ctserver import __version__
from dashboard.clients import available
from dashboard.models import ClientDownload
from licensing.state import license_state


@staff_member_required(login_url="dashboard:login")
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "dashboard/home.html",
        {
            "server_url": settings.CONFIG.server_url,
            "version": __version__,
            "license_state": license_state(),
            "downloads": ClientDownload.objects.values("filename")
            .annotate(count=Count("id"))
            .order_by("filename"),
        },
    )


def _clients_dir():  # type: ignore[no-untyped-def]
    return settings.DATA.root / "clients"


@require_GET
def clients_index(request: HttpRequest) -> HttpResponse:
    files = available(_clients_dir())
    return render(
        request,
        "dashboard/clients.html",
        {"files": files, "server_url": settings.CONFIG.server_url},
    )


@require_GET
def client_download(request: HttpRequest, client: str, filename: str) -> FileResponse:
    for item in available(_clients_dir()):
        if (item.client, item.filename) == (client, filename):
            ClientDownload.objects.create(client=client, filename=filename)
            return FileResponse(item.path.open("rb"), as_attachment=True, filename=filename)
    raise Http404("no such client download")
