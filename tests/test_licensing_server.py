"""What a real server says about its license as it starts (test licenses are genuine
only with tests.settings_test_license, whose key signs them)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from tests.support.licenses import TEST_SETTINGS, environment, signed, today
from tests.support.server import ServerProcess

StartServer = Callable[..., ServerProcess]


def test_a_license_in_the_environment_is_logged_as_valid(start_server: StartServer) -> None:
    expires = today() + timedelta(days=100)
    document = signed(licensee="Env Corp", max_connections=25, expires=expires)
    server = start_server(DJANGO_SETTINGS_MODULE=TEST_SETTINGS, **environment(document))
    line = (
        f"INFO Valid license installed: Env Corp, 25 simultaneous connections, "
        f"expires {expires} (100 days left)"
    )
    assert line in server.output
    assert line in (server.data_dir / "logs" / "server.log").read_text()


def test_a_tampered_license_is_explained_then_a_license_file_is_installed(
    start_server: StartServer, tmp_path: Path
) -> None:
    tampered = {**environment(signed(max_connections=25)), "CT_MAXCONNECTIONS": "2500"}
    server = start_server(DJANGO_SETTINGS_MODULE=TEST_SETTINGS, **tampered)
    server.stop()
    assert (
        "WARNING No valid license: CT_SIGNATURE: does not match the other fields: the "
        "license was changed after it was signed, or was not signed by the ctserver vendor"
    ) in server.output
    trial_end = today() + timedelta(days=45)
    assert f"INFO Trial: 5 simultaneous connections until {trial_end} (45 days left)" in (
        server.output
    )
    assert "ctserver.W003" in server.output  # the system check, at migrate
    assert "Traceback" not in server.output

    license_file = tmp_path / "license.json"
    license_file.write_text(signed(licensee="File Corp", max_connections=30).to_json())
    again = start_server(
        server.data_dir, DJANGO_SETTINGS_MODULE=TEST_SETTINGS, CT_LICENSE_FILE=str(license_file)
    )
    assert "INFO Valid license installed: File Corp, 30 simultaneous connections" in again.output


def test_a_test_license_is_refused_by_a_real_build(start_server: StartServer) -> None:
    server = start_server(**environment(signed(licensee="Test Corp")))
    assert "WARNING No valid license: CT_SIGNATURE: does not match" in server.output
    assert "INFO Trial: 5 simultaneous connections until" in server.output
