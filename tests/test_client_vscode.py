"""/clients/vscode/: the VS Code extension made from its base package with this
server's URL preset, its page, counted downloads, and refused or missing bases.

The base (clients/vscode/dist/ctserver-vscode.vsix) is not committed yet: every test
here builds a fake one, a zip with the members @vscode/vsce writes."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.contrib.auth.models import User
from django.test import Client

from ctserver import startup
from ctserver.datadir import DataDir
from dashboard import client_pages
from dashboard.clients import (
    PACKAGE_JSON,
    VSCODE_SOURCE,
    BadClientSource,
    ClientFile,
    available,
    build_vscode_client,
    version_of,
)
from dashboard.models import DownloadCount
from tests.support.server import ServerProcess, plain_http_env

URL = "https://ct.example.com"
VSIX = "ctserver-vscode-0.3.1.vsix"
PACKAGE: dict[str, Any] = {
    "name": "ctserver-vscode",
    "displayName": "ctserver — live collaboration",
    "version": "0.3.1",
    "engines": {"vscode": "^1.85.0"},
    "contributes": {
        "commands": [
            {"command": "ctserver.start", "title": "ctserver: Start session"},
            {"command": "ctserver.join", "title": "ctserver: Join session"},
        ],
        "configuration": {
            "title": "ctserver",
            "properties": {
                "ctserver.serverUrl": {"type": "string", "default": "", "order": 1},
                "ctserver.caFile": {"type": "string", "default": ""},
            },
        },
    },
}
SCRIPT = b"exports.activate = () => {};\n" * 200


def fake_vsix(path: Path, package: Any = PACKAGE, drop: tuple[str, ...] = ()) -> Path:
    """A base package as vsce lays it out: package.json in the middle, an image stored
    uncompressed, everything else deflated."""
    members = [
        ("extension.vsixmanifest", b"<?xml version='1.0'?><Manifest/>", zipfile.ZIP_DEFLATED),
        ("[Content_Types].xml", b"<?xml version='1.0'?><Types/>", zipfile.ZIP_DEFLATED),
        (PACKAGE_JSON, json.dumps(package).encode(), zipfile.ZIP_DEFLATED),
        ("extension/out/extension.js", SCRIPT, zipfile.ZIP_DEFLATED),
        ("extension/media/icon.png", bytes(range(256)) * 4, zipfile.ZIP_STORED),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as vsix:
        for name, data, compression in members:
            if name not in drop:
                item = zipfile.ZipInfo(name, date_time=(2025, 3, 1, 12, 0, 0))
                item.compress_type = compression
                vsix.writestr(item, data)
    return path


def served_package(data: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(data)) as vsix:
        package: dict[str, Any] = json.loads(vsix.read(PACKAGE_JSON))
    return package


def server_url_setting(package: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, dict[str, Any]] = package["contributes"]["configuration"]["properties"]
    return properties["ctserver.serverUrl"]


def preset_url(package: dict[str, Any]) -> str:
    return str(server_url_setting(package)["default"])


def fake_base(tmp_path: Path) -> Path:
    return fake_vsix(tmp_path / "base" / "ctserver-vscode.vsix")


# Every base package the server must accept: a small fake, and the extension's
# committed package (clients/vscode/dist/ctserver-vscode.vsix).
BASES: dict[str, Callable[[Path], Path]] = {"fake": fake_base, "committed": lambda _: VSCODE_SOURCE}


@pytest.mark.parametrize("base", BASES.values(), ids=BASES.keys())
def test_the_download_is_the_base_with_this_servers_url_as_default(
    tmp_path: Path, base: Callable[[Path], Path]
) -> None:
    source = base(tmp_path)
    made = build_vscode_client(tmp_path / "clients", URL, source)
    assert made is not None
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(made.path) as served:
        before, after = original.infolist(), served.infolist()
        assert [i.filename for i in after] == [i.filename for i in before]
        assert [i.compress_type for i in after] == [i.compress_type for i in before]
        assert [i.date_time for i in after] == [i.date_time for i in before]
        for item in before:
            if item.filename != PACKAGE_JSON:
                assert served.read(item.filename) == original.read(item)
        package = json.loads(original.read(PACKAGE_JSON))
        server_url_setting(package)["default"] = URL
        text = served.read(PACKAGE_JSON).decode()
        assert text == json.dumps(package, indent=2, ensure_ascii=False) + "\n"
    assert made == ClientFile("vscode", f"ctserver-vscode-{package['version']}.vsix", made.path)
    assert available(tmp_path / "clients") == [made]


def test_a_configuration_given_as_a_list_of_sections_is_found(tmp_path: Path) -> None:
    package = json.loads(json.dumps(PACKAGE))
    section = package["contributes"]["configuration"]
    package["contributes"]["configuration"] = [{"title": "other", "properties": {}}, section]
    made = build_vscode_client(tmp_path / "clients", URL, fake_vsix(tmp_path / "b.vsix", package))
    assert made is not None
    served = served_package(made.path.read_bytes())
    assert served["contributes"]["configuration"][1]["properties"]["ctserver.serverUrl"] == {
        "type": "string",
        "default": URL,
        "order": 1,
    }


def test_it_is_made_again_only_when_the_base_or_the_url_changes(tmp_path: Path) -> None:
    clients, source = tmp_path / "clients", fake_vsix(tmp_path / "base.vsix")
    first = build_vscode_client(clients, URL, source)
    assert first is not None
    first.path.write_bytes(b"left alone")  # a rebuild would overwrite this
    assert build_vscode_client(clients, URL, source) == first
    assert first.path.read_bytes() == b"left alone"

    moved = build_vscode_client(clients, "https://elsewhere.example", source)
    assert moved is not None and preset_url(served_package(moved.path.read_bytes())) == (
        "https://elsewhere.example"
    )
    fake_vsix(source, {**PACKAGE, "version": "0.4.0"})
    newer = build_vscode_client(clients, "https://elsewhere.example", source)
    assert newer is not None and newer.filename == "ctserver-vscode-0.4.0.vsix"
    assert available(clients) == [newer]  # the older version is no longer offered


def test_no_base_means_no_download(tmp_path: Path) -> None:
    clients = tmp_path / "clients"
    source = fake_vsix(tmp_path / "base.vsix")
    assert build_vscode_client(clients, URL, source) is not None
    source.unlink()
    assert build_vscode_client(clients, URL, source) is None
    assert available(clients) == []


def _truncated(path: Path) -> None:
    path.write_bytes(fake_vsix(path).read_bytes()[:300])


def _damaged_member(path: Path) -> None:
    """The script's compressed bytes garbled: found only when the server copies it."""
    fake_vsix(path)
    with zipfile.ZipFile(path) as vsix:
        item = vsix.getinfo("extension/out/extension.js")
    data = bytearray(path.read_bytes())
    start = item.header_offset + 30 + len(item.filename) + len(item.extra)
    data[start + 5 : start + 25] = bytes(20)
    path.write_bytes(bytes(data))


BAD_BASES: dict[str, Callable[[Path], object]] = {
    "not a zip": lambda path: path.write_bytes(b"<html>404 Not Found</html>"),
    "truncated": _truncated,
    "damaged member": _damaged_member,
    "no manifest": lambda path: fake_vsix(path, drop=("extension.vsixmanifest",)),
    "no content types": lambda path: fake_vsix(path, drop=("[Content_Types].xml",)),
    "no package.json": lambda path: fake_vsix(path, drop=(PACKAGE_JSON,)),
    "package.json not an object": lambda path: fake_vsix(path, ["ctserver"]),
    "no serverUrl setting": lambda path: fake_vsix(path, {**PACKAGE, "contributes": {}}),
    "no version": lambda path: fake_vsix(path, {**PACKAGE, "version": None}),
    "version with a path": lambda path: fake_vsix(path, {**PACKAGE, "version": "../../x"}),
}


@pytest.mark.parametrize("spoil", BAD_BASES.values(), ids=BAD_BASES.keys())
def test_a_base_that_is_not_an_extension_package_is_refused_and_nothing_offered(
    tmp_path: Path, spoil: Callable[[Path], object]
) -> None:
    clients, source = tmp_path / "clients", tmp_path / "base.vsix"
    assert build_vscode_client(clients, URL, fake_vsix(source)) is not None
    source.unlink()
    spoil(source)
    with pytest.raises(BadClientSource, match=re.escape(str(source))):
        build_vscode_client(clients, URL, source)
    assert available(clients) == [] and not (clients / "vscode").exists()


def test_versions_are_read_from_either_clients_file_names() -> None:
    assert version_of("ctclient-0.4.0-py3-none-any.whl") == "0.4.0"
    assert version_of("ctserver-vscode-0.3.1.vsix") == "0.3.1"
    assert version_of("ctserver-vscode-1.0.0-beta.2.vsix") == "1.0.0-beta.2"
    assert version_of("ctserver-vscode-.vsix") == "unknown"
    assert version_of("other.zip") == "unknown"


@pytest.fixture
def data_dir(tmp_path: Path, settings: Any) -> Path:
    settings.DATA = DataDir(tmp_path / "data")
    return tmp_path / "data"


def junk_base(tmp_path: Path) -> Path:
    (tmp_path / "base.vsix").write_bytes(b"junk")
    return tmp_path / "base.vsix"


@pytest.mark.parametrize(
    ("base", "level", "message", "offered"),
    [
        (fake_base, logging.INFO, f"Client download ready: /clients/vscode/{VSIX}", [VSIX]),
        (lambda tmp: tmp / "absent.vsix", logging.INFO, "No VS Code extension to offer: ", []),
        (junk_base, logging.ERROR, "Could not make the VS Code extension's download: ", []),
    ],
    ids=["ready", "missing", "refused"],
)
def test_startup_says_in_one_line_whether_the_extension_is_offered(
    tmp_path: Path,
    data_dir: Path,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
    base: Callable[[Path], Path],
    level: int,
    message: str,
    offered: list[str],
) -> None:
    settings.VSCODE_CLIENT_BASE = base(tmp_path)
    with caplog.at_level(logging.INFO, logger="ctserver"):
        startup._prepare_vscode_client(URL)
    [record] = caplog.records
    assert record.levelno == level and record.getMessage().startswith(message)
    assert [item.filename for item in available(data_dir / "clients")] == offered


# Through Django's test client: the pages and counted downloads.


@pytest.fixture
def clients_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any) -> Path:
    """The extension made for the test server's URL, where the pages look for it."""
    clients = tmp_path / "clients"
    build_vscode_client(clients, settings.CONFIG.server_url, fake_vsix(tmp_path / "base.vsix"))
    monkeypatch.setattr(client_pages, "_clients_dir", lambda: clients)
    return clients


@pytest.mark.django_db
def test_the_index_and_the_page_offer_the_extension(client: Client, clients_dir: Path) -> None:
    index = client.get("/clients/", secure=True).content.decode()
    assert 'href="/clients/vscode/"' in index and f'href="/clients/vscode/{VSIX}"' in index
    page = client.get("/clients/vscode/", secure=True).content.decode()
    data = (clients_dir / "vscode" / VSIX).read_bytes()
    assert "Version 0.3.1" in page and hashlib.sha256(data).hexdigest() in page
    assert f"code --install-extension {VSIX}" in page
    assert f"code-server --install-extension {VSIX}" in page
    assert "Install from VSIX…" in page
    assert "<code>https://localhost:1443</code>" in page
    for words in ("ctserver.serverUrl", "ctserver.caFile", "ctserver: Start session"):
        assert words in page
    assert "ctserver: Join session" in page


@pytest.mark.django_db
def test_each_download_is_counted_with_its_version_and_shown_on_the_dashboard(
    client: Client, clients_dir: Path
) -> None:
    for _ in range(3):
        answer = client.get(f"/clients/vscode/{VSIX}", secure=True)
        assert answer.status_code == 200
        data = b"".join(answer.streaming_content)  # type: ignore[attr-defined]
        assert preset_url(served_package(data)) == "https://localhost:1443"
    row = DownloadCount.objects.get()
    assert (row.client, row.version, row.count) == ("vscode", "0.3.1", 3)
    client.force_login(User.objects.create_user("op", is_staff=True))
    dashboard = client.get("/dashboard/", secure=True).content.decode()
    assert "<tr><td>vscode</td><td>0.3.1</td><td>3</td></tr>" in dashboard


@pytest.mark.django_db
def test_the_server_url_is_escaped_on_the_page(
    client: Client, clients_dir: Path, settings: Any
) -> None:
    hostile = 'https://ct.example.com/"><script>alert(1)</script>'
    settings.CONFIG = dataclasses.replace(settings.CONFIG, server_url=hostile)
    page = client.get("/clients/vscode/", secure=True).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.django_db
def test_without_a_base_the_pages_say_it_is_not_available(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clients = tmp_path / "clients"
    assert build_vscode_client(clients, URL, tmp_path / "absent.vsix") is None
    monkeypatch.setattr(client_pages, "_clients_dir", lambda: clients)
    index = client.get("/clients/", secure=True).content.decode()
    vscode_part = index.split('href="/clients/vscode/"', 1)[1]
    assert "Not available now" in vscode_part and ".vsix" not in vscode_part
    page = client.get("/clients/vscode/", secure=True)
    assert page.status_code == 200 and "Not available now" in page.content.decode()
    assert client.get(f"/clients/vscode/{VSIX}", secure=True).status_code == 404
    assert not DownloadCount.objects.exists()


@pytest.mark.django_db
def test_ct_noclients_hides_the_extension(client: Client, clients_dir: Path, settings: Any) -> None:
    monitoring = dataclasses.replace(settings.CONFIG.monitoring, noclients=True)
    settings.CONFIG = dataclasses.replace(settings.CONFIG, monitoring=monitoring)
    for path in ("/clients/vscode/", f"/clients/vscode/{VSIX}"):
        assert client.get(path, secure=True).status_code == 404
    assert not DownloadCount.objects.exists()


# A real server, whose test settings read the base from beside its data dir.


def test_a_running_server_offers_the_extension_preset_to_itself(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    fake_vsix(tmp_path / "ctserver-vscode.vsix")
    env = plain_http_env(DJANGO_SETTINGS_MODULE="tests.settings_test_vscode")
    server = start_server(tmp_path / "data", **env)
    assert f"Client download ready: /clients/vscode/{VSIX}" in server.output
    page = httpx.get(f"{server.http_url}/clients/vscode/")
    link = re.search(r'href="(/clients/vscode/[^"]+\.vsix)"', page.text)
    assert page.status_code == 200 and link is not None and link[1].endswith(VSIX)
    answer = httpx.get(server.http_url + link[1])
    assert answer.status_code == 200
    assert preset_url(served_package(answer.content)) == env["CT_SERVER_URL"]
