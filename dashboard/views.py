"""The portal's pages: the live dashboard, its history figures, the session history.

Every view here is for signed-in staff only (tests/test_url_access.py walks them).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from ctserver import __version__
from dashboard import figures, history
from licensing.state import current_state

PAGE_SIZE = 50
HISTORY_DAYS = 30
LAG_HOURS = 24

View = Callable[..., HttpResponse]


def staff_only(view: View) -> View:
    """Signed-in staff only; anyone else goes to the dashboard's sign-in page."""
    return staff_member_required(view, login_url="dashboard:login")


@staff_only
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    interval = settings.CONFIG.monitoring.status_interval
    return render(
        request,
        "dashboard/home.html",
        {
            "server_url": settings.CONFIG.server_url,
            "version": __version__,
            "license": current_state(),
            "figures": figures.live_figures(interval),
            "history_days": HISTORY_DAYS,
            "lag_hours": LAG_HOURS,
            "status_interval": interval,
            "clients_offered": not settings.CONFIG.monitoring.noclients,
        },
    )


@staff_only
@require_GET
def live_json(request: HttpRequest) -> JsonResponse:
    """The live figures once: what the page shows before its WebSocket connects."""
    interval = settings.CONFIG.monitoring.status_interval
    return JsonResponse(figures.live_figures(interval).as_json())


@staff_only
@require_GET
def history_json(request: HttpRequest) -> JsonResponse:
    """What the charts draw: per day over 30 days, and lag samples over 24 hours."""
    return JsonResponse(figures.history(HISTORY_DAYS, LAG_HOURS).as_json())


@staff_only
@require_GET
def sessions(request: HttpRequest) -> HttpResponse:
    selected = history.SessionFilter.from_query(request.GET)
    page = Paginator(history.sessions(selected), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "dashboard/sessions.html",
        {
            "filter": selected,
            "page": page,
            "end_reasons": history.end_reasons(),
            "query": query.urlencode(),
        },
    )


@staff_only
@require_GET
def session_detail(request: HttpRequest, session_id: str) -> HttpResponse:
    session = get_object_or_404(history.sessions(history.SessionFilter()), session_id=session_id)
    return render(
        request,
        "dashboard/session.html",
        {"session": session, "participants": history.participants(session)},
    )
