"""The real server process, started as ``make run`` and the container start it."""

from __future__ import annotations

import hashlib
import re
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import websockets

from tests.support.ports import free_port
from tests.support.server import ENTRYPOINT, REPO, ServerProcess, server_environment
from tests.support.services import redis_server

StartServer = Callable[..., ServerProcess]
PASSWORD_LINE = re.compile(r"Dashboard user 'ctuser' has the generated password (\S+)")


def _tls_handshake(port: int, version: ssl.TLSVersion) -> str | None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = context.maximum_version = version
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw) as tls,
    ):
        return tls.version()


def _served_fingerprint(port: int) -> str:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def test_health_answers_over_http_and_https(default_server: ServerProcess) -> None:
    server = default_server
    plain = httpx.get(f"{server.http_url}/ct-health/")
    assert plain.status_code == 200 and plain.json()["status"] == "ok"
    secure = httpx.get(
        f"{server.https_url}/ct-health/",
        verify=ssl.create_default_context(cafile=server.certificate),
    )
    assert secure.status_code == 200 and secure.json()["status"] == "ok"
    ready = httpx.get(f"{server.http_url}/ct-health/ready/")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok"}}


async def test_every_response_names_the_server_that_sent_it(http_server: ServerProcess) -> None:
    """The ct-server header (docs/deploy.md): pages, health, WebSocket handshakes."""
    server_id = (http_server.data_dir / "server_id").read_text().strip()
    for path in ("/ct-health/", "/ct-health/ready/", "/clients/", "/no-such-page"):
        assert httpx.get(http_server.http_url + path).headers["ct-server"] == server_id, path
    url = http_server.http_url.replace("http", "ws", 1) + "/ws/v1/sessions/abcdefghijklmnopqrstuv"
    async with websockets.connect(url) as ws:
        assert ws.response is not None and ws.response.headers["ct-server"] == server_id


def test_https_accepts_tls13_and_refuses_tls12(default_server: ServerProcess) -> None:
    server = default_server
    assert _tls_handshake(server.https_port, ssl.TLSVersion.TLSv1_3) == "TLSv1.3"
    with pytest.raises(ssl.SSLError):
        _tls_handshake(server.https_port, ssl.TLSVersion.TLSv1_2)


def test_startup_lines_are_logged_to_stdout_and_file(default_server: ServerProcess) -> None:
    server = default_server
    available = (
        f"ctserver services now available on port {server.http_port} (HTTP) "
        f"and {server.https_port} (SSL)"
    )
    fingerprint = _served_fingerprint(server.https_port)
    logged = (server.data_dir / "logs" / "server.log").read_text()
    for text in (server.output, logged):
        assert available in text
        # A test server is licensed by default (tests/support/server.py).
        assert "Valid license installed: ctserver test suite, 100000 simultaneous" in text
        assert f"SHA-256 fingerprint {fingerprint}" in text
    assert f"https://127.0.0.1:{server.https_port}/" in server.output


def test_server_log_rotates_at_the_configured_size(start_server: StartServer) -> None:
    server = start_server(CT_LOG_MAX_BYTES="1024", CT_LOG_BACKUP_COUNT="2")
    logs = server.data_dir / "logs"
    assert (logs / "server.log.1").exists()
    assert not (logs / "server.log.3").exists()
    assert all(path.stat().st_size <= 1024 + 512 for path in logs.iterdir())


def _login(
    base_url: str, certificate: Path, username: str, password: str
) -> tuple[httpx.Response, httpx.Response]:
    """Sign in on the dashboard's form; returns the dashboard and the admin index."""
    with httpx.Client(
        base_url=base_url, verify=ssl.create_default_context(cafile=certificate)
    ) as client:
        form = client.get("/dashboard/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert token is not None
        client.post(
            "/dashboard/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": token[1]},
            headers={"Referer": f"{base_url}/dashboard/login/"},
        )
        return (
            client.get("/dashboard/", follow_redirects=True),
            client.get("/admin/", follow_redirects=True),
        )


def _signed_in(pages: tuple[httpx.Response, httpx.Response]) -> bool:
    dashboard, admin = pages
    on_dashboard = "<h1>Dashboard</h1>" in dashboard.text
    # The admin index, not the admin's own sign-in form that it redirects to.
    on_admin = "Site administration" in admin.text and 'name="password"' not in admin.text
    assert on_dashboard == on_admin, "the dashboard and the admin disagree"
    return on_dashboard


def test_generated_password_is_logged_once_and_opens_the_dashboard(
    start_server: StartServer, tmp_path: Path
) -> None:
    data_dir = tmp_path / "kept"
    first = start_server(data_dir)
    match = PASSWORD_LINE.search(first.output)
    assert match, first.output
    password = match[1]
    assert first.stop() == 0

    second = start_server(data_dir)
    assert not PASSWORD_LINE.search(second.output)
    assert len(PASSWORD_LINE.findall((data_dir / "logs" / "server.log").read_text())) == 1

    assert _signed_in(_login(second.https_url, second.certificate, "ctuser", password))
    refused = _login(second.https_url, second.certificate, "ctuser", "not-the-password")
    assert not _signed_in(refused) and "Sign in to the dashboard" in refused[0].text


def test_configured_credentials_open_the_dashboard(start_server: StartServer) -> None:
    server = start_server(CT_DASHBOARD_USER="operator", CT_DASHBOARD_PASSWORD="a-long-passphrase")
    assert not PASSWORD_LINE.search(server.output)
    assert "Dashboard user 'operator' (from CT_DASHBOARD_USER)" in server.output
    assert _signed_in(_login(server.https_url, server.certificate, "operator", "a-long-passphrase"))


def test_plain_http_pages_redirect_to_https_but_health_does_not(
    default_server: ServerProcess,
) -> None:
    server = default_server
    page = httpx.get(f"{server.http_url}/dashboard/")
    assert page.status_code == 301
    assert page.headers["location"] == f"https://localhost:{server.https_port}/dashboard/"
    assert httpx.get(f"{server.http_url}/ct-health/").status_code == 200


def test_bad_port_value_stops_startup_with_a_clear_message(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(ENTRYPOINT)],
        cwd=REPO,
        env=server_environment(tmp_path, CT_HTTP_PORT="http"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert (
        "ctserver: configuration error: CT_HTTP_PORT must be a TCP port number (1-65535), "
        "got 'http'" in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_port_in_use_fails_instead_of_serving_half(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = ServerProcess(tmp_path, CT_HTTPS_PORT=str(port))
        with pytest.raises(RuntimeError, match="address already in use"):
            server.start(timeout=60)
    assert server.process is not None and server.process.returncode not in (0, None)
    assert "a port could not be opened" in server.output
    assert "services now available" not in server.output


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_stops_the_server_cleanly(start_server: StartServer, sig: int) -> None:
    server = start_server()
    assert server.stop(sig) == 0
    assert "ctserver stopped" in server.output


def test_scale_out_engines_and_readiness(
    start_server: StartServer, postgres_url: str, tmp_path: Path
) -> None:
    with redis_server() as redis_url:
        server = start_server(
            CT_DATABASE_URL=postgres_url,
            CT_REDIS_URL=redis_url,
            CT_SECRET_KEY="scale-out-test-key-" + "x" * 40,
        )
        ready = httpx.get(f"{server.http_url}/ct-health/ready/")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}
    # Redis is gone now: not ready, with the reason; still alive.
    down = httpx.get(f"{server.http_url}/ct-health/ready/", timeout=15)
    assert down.status_code == 503
    assert down.json()["checks"]["database"] == "ok"
    assert down.json()["checks"]["redis"].startswith("error:")
    assert httpx.get(f"{server.http_url}/ct-health/").status_code == 200


def test_container_healthcheck_script(default_server: ServerProcess) -> None:
    script = str(REPO / "docker" / "healthcheck.py")
    server = default_server
    alive = subprocess.run(
        [sys.executable, script], env={"CT_HTTP_PORT": str(server.http_port)}, timeout=10
    )
    assert alive.returncode == 0
    dead = subprocess.run(
        [sys.executable, script],
        env={"CT_HTTP_PORT": str(free_port())},
        capture_output=True,
        timeout=10,
    )
    assert dead.returncode == 1 and b"health check failed" in dead.stderr


def test_client_download_installs_a_working_ctclient_preset_to_this_server(
    start_server: StartServer, tmp_path: Path
) -> None:
    port = free_port()
    server = start_server(CT_HTTP_PORT=str(port), CT_SERVER_URL=f"http://127.0.0.1:{port}")
    assert "Client download ready: /clients/python/ctclient-" in server.output
    index = httpx.get(f"{server.http_url}/clients/")
    link = re.search(r'href="(/clients/python/[^"]+\.whl)"', index.text)
    assert index.status_code == 200 and link is not None
    wheel = tmp_path / link[1].rsplit("/", 1)[1]
    wheel.write_bytes(httpx.get(server.http_url + link[1]).content)
    # Its dependencies come from a local wheelhouse (made once, outside the
    # repository, by the script make test runs first): no package index needed.
    wheelhouse = subprocess.run(
        [str(REPO / "scripts" / "client-wheelhouse.sh")], capture_output=True, text=True, check=True
    ).stdout.strip()
    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
         "--quiet", "--no-index", "--find-links", wheelhouse, str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    helped = subprocess.run(
        [str(venv / "bin" / "ctclient"), "host", "--help"], capture_output=True, text=True
    )
    assert helped.returncode == 0 and f"default: http://127.0.0.1:{port}" in helped.stdout
    shared = tmp_path / "shared"
    shared.mkdir()
    hosting = subprocess.Popen(
        [str(venv / "bin" / "ctclient"), "host", str(shared), "--auto-admit"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert hosting.stdout is not None
        assert hosting.stdout.readline().startswith(f"http://127.0.0.1:{port}/join/")
    finally:
        hosting.send_signal(signal.SIGINT)
        hosting.wait(20)
    counted = sqlite3.connect(server.data_dir / "ctserver.sqlite3").execute(
        "SELECT client, SUM(count) FROM dashboard_downloadcount GROUP BY client"
    )
    assert counted.fetchall() == [("python", 1)]
