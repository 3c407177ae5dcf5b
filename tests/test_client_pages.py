"""/clients/: the index, a page per client, counted downloads, CT_NOCLIENTS."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from dashboard import client_pages
from dashboard.models import DownloadCount

pytestmark = pytest.mark.django_db
WHEEL = "ctclient-0.4.0-py3-none-any.whl"


@pytest.fixture
def clients_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    wheel = tmp_path / "python" / WHEEL
    wheel.parent.mkdir(parents=True)
    wheel.write_bytes(b"PK\x03\x04 a wheel")
    monkeypatch.setattr(client_pages, "_clients_dir", lambda: tmp_path)
    return tmp_path


def test_the_index_and_the_client_page_offer_the_build_for_this_server(
    client: Client, clients_dir: Path
) -> None:
    index = client.get("/clients/", secure=True).content.decode()
    assert 'href="/clients/python/"' in index and f'href="/clients/python/{WHEEL}"' in index
    page = client.get("/clients/python/", secure=True).content.decode()
    digest = hashlib.sha256((clients_dir / "python" / WHEEL).read_bytes()).hexdigest()
    assert "Version 0.4.0" in page and digest in page
    assert f"pip install https://localhost:1443/clients/python/{WHEEL}" in page
    assert client.get("/clients/eclipse/", secure=True).status_code == 404


def test_downloads_are_counted_per_client_version_and_day(
    client: Client, clients_dir: Path
) -> None:
    for _ in range(25):
        answer = client.get(f"/clients/python/{WHEEL}", secure=True)
        assert answer.status_code == 200
        assert b"".join(answer.streaming_content) == b"PK\x03\x04 a wheel"  # type: ignore[attr-defined]
    row = DownloadCount.objects.get()
    assert (row.client, row.version, row.count) == ("python", "0.4.0", 25)


@pytest.mark.parametrize(
    "path", ["/clients/python/../../secret_key", "/clients/python/other.whl", "/clients/x/y"]
)
def test_only_files_on_offer_are_served(client: Client, clients_dir: Path, path: str) -> None:
    assert client.get(path, secure=True).status_code == 404
    assert not DownloadCount.objects.exists()


def test_ct_noclients_hides_the_whole_area(
    client: Client, clients_dir: Path, settings: Any
) -> None:
    monitoring = dataclasses.replace(settings.CONFIG.monitoring, noclients=True)
    settings.CONFIG = dataclasses.replace(settings.CONFIG, monitoring=monitoring)
    for path in ("/clients/", "/clients/python/", f"/clients/python/{WHEEL}"):
        assert client.get(path, secure=True).status_code == 404
    assert not DownloadCount.objects.exists()
