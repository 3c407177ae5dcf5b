"""``/clients/``: a page per client and its downloads, each counted
(dashboard/downloads.py). CT_NOCLIENTS turns the whole area off (404)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.clients import ClientFile, available, version_of
from dashboard.downloads import count_download


@dataclass(frozen=True)
class ClientKind:
    slug: str  # its part of the URL: /clients/<slug>/
    title: str
    summary: str


# The clients this server offers, in the order the index shows them.
CLIENTS = (
    ClientKind(
        "python",
        "Python command-line client (ctclient)",
        "Host a folder or join a session from a terminal, with any editor. "
        "Needs Python 3.11 or newer.",
    ),
    ClientKind(
        "vscode",
        "VS Code extension",
        "Start or join a session from VS Code or code-server, and edit the shared files "
        "in the editor.",
    ),
)


@dataclass(frozen=True)
class Download:
    file: ClientFile
    version: str
    size: int
    sha256: str


def _clients_dir() -> Path:
    return Path(settings.DATA.root) / "clients"


def _offered() -> None:
    if settings.CONFIG.monitoring.noclients:
        raise Http404("client downloads are turned off on this server (CT_NOCLIENTS)")


def _kind(slug: str) -> ClientKind:
    for kind in CLIENTS:
        if kind.slug == slug:
            return kind
    raise Http404("no such client")


def _downloads(slug: str) -> list[Download]:
    found = []
    for item in available(_clients_dir()):
        if item.client == slug:
            data = item.path.read_bytes()
            found.append(
                Download(
                    item, version_of(item.filename), len(data), hashlib.sha256(data).hexdigest()
                )
            )
    return found


@require_GET
def clients_index(request: HttpRequest) -> HttpResponse:
    _offered()
    offered = [(kind, _downloads(kind.slug)) for kind in CLIENTS]
    return render(request, "dashboard/clients.html", {"clients": offered})


@require_GET
def client_page(request: HttpRequest, client: str) -> HttpResponse:
    _offered()
    kind = _kind(client)
    return render(
        request,
        f"dashboard/client_{kind.slug}.html",
        {
            "kind": kind,
            "downloads": _downloads(kind.slug),
            "server_url": settings.CONFIG.server_url,
        },
    )


@require_GET
def client_download(request: HttpRequest, client: str, filename: str) -> FileResponse:
    _offered()
    for item in available(_clients_dir()):
        if (item.client, item.filename) == (client, filename):
            count_download(client, version_of(filename))
            return FileResponse(item.path.open("rb"), as_attachment=True, filename=filename)
    raise Http404("no such client download")
