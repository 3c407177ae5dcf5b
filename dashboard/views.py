from __future__ import annotations

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ctserver import __version__
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
        },
    )
