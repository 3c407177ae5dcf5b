"""/logs: the tail of a log, searched, and the log files to download. Staff only
(tests/test_url_access.py walks every URL)."""

from __future__ import annotations

import socket

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard import logs
from dashboard.views import staff_only


def _backup_count() -> int:
    return int(settings.CONFIG.log_backup_count)


@staff_only
@require_GET
def logs_page(request: HttpRequest) -> HttpResponse:
    name = request.GET.get("log", logs.LOG_NAMES[0])
    if name not in logs.LOG_NAMES:
        name = logs.LOG_NAMES[0]
    query = logs.clean_query(request.GET.get("q", ""))
    return render(
        request,
        "dashboard/logs.html",
        {
            "hostname": socket.gethostname(),
            "tail": logs.read_tail(settings.DATA.logs / name, query),
            "log_names": logs.LOG_NAMES,
            "files": logs.available(settings.DATA.logs, _backup_count()),
            "tail_kib": logs.TAIL_BYTES // 1024,
            "tail_lines": logs.TAIL_LINES,
            "max_query": logs.MAX_QUERY,
            "max_bytes": settings.CONFIG.log_max_bytes,
            "backup_count": _backup_count(),
            "usage_interval": settings.CONFIG.monitoring.usage_interval,
        },
    )


@staff_member_required(login_url="dashboard:login")  # staff_only, for a streamed response
@require_GET
def log_file(request: HttpRequest, name: str) -> StreamingHttpResponse:
    log = logs.open_log(settings.DATA.logs, name, _backup_count())
    if log is None:
        raise Http404("No such log file")
    response = StreamingHttpResponse(logs.chunks(log), content_type="text/plain; charset=utf-8")
    response["Content-Length"] = str(log.size)
    response["Content-Disposition"] = f'attachment; filename="{log.name}"'
    return response
