"""/logs: the tail of a log read from its end, searched as plain text, escaped, and
the three logs (and their rotations) downloaded by name, never by path.

The reading is tested directly, the page and downloads through Django's test
client, and the whole over HTTP against a real server.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.contrib.auth.models import User
from django.test import Client

from ctserver.datadir import DataDir
from dashboard import logs
from tests.support.server import ServerProcess, plain_http_env
from tests.support.waiting import until

PAGE = "/logs/"
PASSWORD = "correct horse battery staple"
# The test client consumes the async download stream synchronously, and says so.
SYNC_STREAM = pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous")


def _write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


# --- reading the tail ------------------------------------------------------------------


def test_a_missing_log_is_an_empty_tail(tmp_path: Path) -> None:
    tail = logs.read_tail(tmp_path / "server.log")
    assert (tail.lines, tail.file_bytes, tail.more_lines) == ((), 0, 0)


def test_a_small_log_is_read_whole(tmp_path: Path) -> None:
    tail = logs.read_tail(_write(tmp_path / "server.log", "one\ntwo\nthree\n"))
    assert tail.lines == ("one", "two", "three")
    assert tail.whole_file and tail.more_lines == 0


def test_only_the_end_is_read_and_its_cut_line_dropped(tmp_path: Path) -> None:
    text = "".join(f"line {n:04d}\n" for n in range(1000))  # 10 bytes a line
    tail = logs.read_tail(_write(tmp_path / "server.log", text), max_bytes=95)
    # 95 bytes start 5 bytes into a line: that half line is not shown.
    assert tail.lines == tuple(f"line {n:04d}" for n in range(991, 1000))
    assert (tail.window_bytes, tail.file_bytes, tail.whole_file) == (95, 10_000, False)


def test_at_most_max_lines_are_kept_the_newest(tmp_path: Path) -> None:
    text = "".join(f"{n}\n" for n in range(50))
    tail = logs.read_tail(_write(tmp_path / "server.log", text), max_lines=3)
    assert tail.lines == ("47", "48", "49")
    assert tail.more_lines == 47


def test_a_line_longer_than_the_window_is_shown_in_part(tmp_path: Path) -> None:
    tail = logs.read_tail(_write(tmp_path / "server.log", "x" * 1000), max_bytes=100)
    assert tail.lines == ("x" * 100,)


def test_search_ignores_case(tmp_path: Path) -> None:
    path = _write(tmp_path / "server.log", "Session ABC ended\nsession abd created\nother\n")
    assert logs.read_tail(path, "SESSION AB").lines == ("Session ABC ended", "session abd created")
    assert logs.read_tail(path, "sEsSiOn ABC").lines == ("Session ABC ended",)


@pytest.mark.parametrize("query", [".*", "a|b", "[", "(?i)x", "\\d"])
def test_search_is_plain_text_never_a_pattern(tmp_path: Path, query: str) -> None:
    path = _write(tmp_path / "server.log", f"a1\nb2\nliteral {query} here\n")
    assert logs.read_tail(path, query).lines == (f"literal {query} here",)


def test_search_looks_at_the_window_and_keeps_the_newest_matches(tmp_path: Path) -> None:
    text = "".join(f"{'hit' if n % 2 else 'miss'} {n}\n" for n in range(20))
    tail = logs.read_tail(_write(tmp_path / "server.log", text), "HIT", max_lines=2)
    assert tail.lines == ("hit 17", "hit 19")
    assert tail.more_lines == 18


def test_bytes_that_are_not_utf8_are_replaced(tmp_path: Path) -> None:
    tail = logs.read_tail(_write(tmp_path / "server.log", b"ok \xff\xfe end\n"))
    assert tail.lines == ("ok \ufffd\ufffd end",)


def test_the_query_is_bounded() -> None:
    assert logs.clean_query("  x" * 500) == ("x" + "  x" * 499)[: logs.MAX_QUERY]


def test_only_the_logs_and_their_rotations_have_names() -> None:
    assert logs.file_names(2) == (
        "server.log",
        "sessions.log",
        "usage.log",
        "server.log.1",
        "server.log.2",
        "sessions.log.1",
        "sessions.log.2",
        "usage.log.1",
        "usage.log.2",
    )
    assert logs.file_names(0) == logs.LOG_NAMES


@pytest.mark.parametrize(
    "name",
    ["server.log.6", "../secret_key", "secret_key", "ctserver.sqlite3", "/etc/passwd", "", "."],
)
def test_any_other_name_is_unknown(tmp_path: Path, name: str) -> None:
    assert logs.known_name(name, 5) is None
    assert logs.open_log(tmp_path, name, 5) is None


def test_available_lists_the_files_that_exist(tmp_path: Path) -> None:
    _write(tmp_path / "server.log", "abc\n")
    _write(tmp_path / "server.log.1", "older\n")
    _write(tmp_path / "usage.log.9", "beyond the backup count\n")
    _write(tmp_path / "notes.txt", "not a log\n")
    found = logs.available(tmp_path, 5)
    assert [(f.name, f.size) for f in found] == [("server.log", 4), ("server.log.1", 6)]


# --- the page and downloads ------------------------------------------------------------


@pytest.fixture
def log_dir(settings: Any, tmp_path: Path) -> Path:
    settings.DATA = DataDir(tmp_path)
    (tmp_path / "logs").mkdir()
    return tmp_path / "logs"


@pytest.fixture
def staff(client: Client) -> Client:
    client.force_login(User.objects.create_user("operator", is_staff=True))
    return client


def _lines_shown(page: str) -> list[str]:
    found = re.search(r'<pre class="log" id="log-lines">(.*?)</pre>', page, re.S)
    assert found, page
    return [html.unescape(line) for line in found[1].splitlines()]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/logs", "/logs/"])
def test_staff_see_the_tail_of_server_log(staff: Client, log_dir: Path, path: str) -> None:
    _write(log_dir / "server.log", "first line\nsecond line\n")
    response = staff.get(path, secure=True)
    assert response.status_code == 200
    assert _lines_shown(response.content.decode()) == ["first line", "second line"]


@pytest.mark.django_db
def test_the_page_searches_without_regard_to_case(staff: Client, log_dir: Path) -> None:
    _write(log_dir / "server.log", "Failed sign-in from 10.0.0.1\nstarted\nfailed again\n")
    page = staff.get(PAGE, {"q": "FAILED"}, secure=True).content.decode()
    assert _lines_shown(page) == ["Failed sign-in from 10.0.0.1", "failed again"]
    assert "2 lines containing “FAILED” (ignoring case)" in page
    assert 'value="FAILED"' in page


@pytest.mark.django_db
def test_lines_and_the_query_are_escaped(staff: Client, log_dir: Path) -> None:
    hostile = "<script>alert(1)</script>"
    _write(log_dir / "server.log", f"Invalid HTTP_HOST header: '{hostile}'\n")
    page = staff.get(PAGE, {"q": '"><img src=x>'}, secure=True).content.decode()
    assert "<script>alert" not in page and "<img src=x>" not in page
    page = staff.get(PAGE, secure=True).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in page


@pytest.mark.django_db
def test_the_page_shows_the_other_logs_by_name_only(staff: Client, log_dir: Path) -> None:
    _write(log_dir / "server.log", "server line\n")
    _write(log_dir / "sessions.log", '{"event":"created"}\n')
    assert _lines_shown(staff.get(PAGE, {"log": "sessions.log"}, secure=True).content.decode()) == [
        '{"event":"created"}'
    ]
    for other in ["../secret_key", "server.log.1", "ctserver.sqlite3"]:
        shown = _lines_shown(staff.get(PAGE, {"log": other}, secure=True).content.decode())
        assert shown == ["server line"], other


@pytest.mark.django_db
def test_the_page_lists_the_files_to_download(staff: Client, log_dir: Path) -> None:
    for name in ("server.log", "sessions.log", "usage.log", "server.log.1"):
        _write(log_dir / name, "x\n")
    page = staff.get(PAGE, secure=True).content.decode()
    links = re.findall(r'<a href="/logs/files/([^"]+)" download>', page)
    assert links == ["server.log", "sessions.log", "usage.log", "server.log.1"]


@SYNC_STREAM
@pytest.mark.django_db
@pytest.mark.parametrize("name", ["server.log", "sessions.log", "usage.log", "usage.log.5"])
def test_staff_download_a_log_whole(staff: Client, log_dir: Path, settings: Any, name: str) -> None:
    content = b"".join(b"%d some line\n" % n for n in range(20_000))  # several chunks
    _write(log_dir / name, content)
    response = staff.get(f"/logs/files/{name}", secure=True)
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{name}"'
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Length"] == str(len(content))
    assert b"".join(response) == content


@SYNC_STREAM
@pytest.mark.django_db
def test_a_download_stops_at_the_size_it_had_when_opened(staff: Client, log_dir: Path) -> None:
    path = _write(log_dir / "server.log", "before\n")
    response = staff.get("/logs/files/server.log", secure=True)
    with path.open("a") as log:
        log.write("written during the download\n")
    assert b"".join(response) == b"before\n"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name",
    ["server.log.6", "secret_key", "ctserver.sqlite3", "..%2Fsecret_key", "usage.log.1"],
)
def test_other_files_are_not_found(staff: Client, log_dir: Path, name: str) -> None:
    (log_dir.parent / "secret_key").write_text("do not serve")
    (log_dir.parent / "ctserver.sqlite3").write_text("do not serve")
    _write(log_dir / "server.log.6", "beyond CT_LOG_BACKUP_COUNT\n")
    assert staff.get(f"/logs/files/{name}", secure=True).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/logs", PAGE, "/logs/files/server.log"])
def test_anonymous_and_non_staff_users_go_to_the_sign_in_page(
    client: Client, log_dir: Path, path: str
) -> None:
    _write(log_dir / "server.log", "secret-ish line\n")
    response = client.get(path, secure=True)
    assert response.status_code == 302
    assert response["Location"].startswith("/dashboard/login/?next=")
    client.force_login(User.objects.create_user("guest"))
    response = client.get(path, secure=True)
    assert response.status_code == 302
    assert response["Location"].startswith("/dashboard/login/?next=")


@pytest.mark.django_db
def test_posting_to_the_page_is_refused(staff: Client, log_dir: Path) -> None:
    assert staff.post(PAGE, secure=True).status_code == 405


# --- a real server ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def logs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = plain_http_env(
        CT_DASHBOARD_USER="operator", CT_DASHBOARD_PASSWORD=PASSWORD, CT_USAGE_INTERVAL="1"
    )
    server = ServerProcess(tmp_path_factory.mktemp("logs"), **env).start()
    yield server
    server.stop()


def _sign_in(client: httpx.Client) -> None:
    form = client.get("/logs")
    assert form.url.path == "/logs", "anonymous: expected a redirect, not the page"
    assert form.status_code == 302
    form = client.get(form.headers["location"])
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert token, form.text
    data = {"csrfmiddlewaretoken": token[1], "username": "operator", "password": PASSWORD}
    signed_in = client.post(str(form.url), data=data)
    assert (signed_in.status_code, signed_in.headers["location"]) == (302, "/logs")


def test_real_server_shows_searches_and_serves_its_logs(logs_server: ServerProcess) -> None:
    logs_dir = logs_server.data_dir / "logs"
    created = httpx.post(f"{logs_server.http_url}/api/v1/sessions", json={"name": "Ada"})
    session_id = created.json()["session_id"]
    until(lambda: (logs_dir / "usage.log").exists(), timeout=15, what="a usage sample")
    until(lambda: session_id in (logs_dir / "server.log").read_text(), what="the log line")

    with httpx.Client(base_url=logs_server.http_url, timeout=10) as client:
        _sign_in(client)
        page = client.get("/logs")
        assert page.status_code == 200
        assert "Clients use CT_SERVER_URL:" in page.text  # the startup announcement

        found = client.get("/logs/", params={"q": session_id.upper()})
        shown = _lines_shown(found.text)
        assert shown and all(session_id in line for line in shown)
        assert f"Session {session_id} created by 127.0.0.1" in found.text

        for name in logs.LOG_NAMES:
            response = client.get(f"/logs/files/{name}")
            assert response.status_code == 200, name
            assert response.headers["content-disposition"] == f'attachment; filename="{name}"'
            assert response.content, name
            # The file may have grown since: what came is how it began.
            assert (logs_dir / name).read_bytes().startswith(response.content), name
        sessions_log = client.get("/logs/files/sessions.log").text
        assert f'"event":"created","session":"{session_id}"' in sessions_log
        assert client.get("/logs/files/secret_key").status_code == 404
