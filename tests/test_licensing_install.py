"""Licenses from the environment, a file, or an upload: checked, recorded in the
history (refused ones too, with the reason), and the valid one made active."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.checks import WARNING

from ctserver.checks import check_configured_license
from ctserver.config import load_config
from licensing.install import install, install_configured
from licensing.models import License
from licensing.sources import configured, from_upload
from tests.support.licenses import environment, license_test_key, license_text, signed, today

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures(license_test_key.__name__)]


def _configure(settings: Any, **env: str) -> None:
    settings.CONFIG = load_config(env)


def _refusal(settings: Any, **env: str) -> str | None:
    _configure(settings, **env)
    return install_configured(settings.CONFIG, today())


def _refused(settings: Any, **env: str) -> str:
    problem = _refusal(settings, **env)
    assert problem is not None
    return problem


def test_a_license_in_the_environment_is_installed_once(settings: Any) -> None:
    assert _refusal(settings, **environment(signed(licensee="Env Corp"))) is None
    assert install_configured(settings.CONFIG, today()) is None  # the next start
    row = License.objects.get()
    assert (row.licensee, row.max_connections, row.active) == ("Env Corp", 25, True)
    assert row.source == License.Source.ENVIRONMENT and row.refused == ""
    assert row.installed_by == "CT_LICENSEE, CT_MAXCONNECTIONS, CT_EXPIRATION, CT_SIGNATURE"
    assert json.loads(row.document)["product"] == "ctserver"  # implied, and recorded


def test_environment_refusals_name_the_variable(settings: Any) -> None:
    env = environment(signed())
    assert _refusal(settings, **{**env, "CT_MAXCONNECTIONS": "lots"}) == (
        "CT_MAXCONNECTIONS: must be a whole number from 1 to 1000000, got 'lots'"
    )
    assert _refused(settings, **{**env, "CT_MAXCONNECTIONS": "26"}).startswith(
        "CT_SIGNATURE: does not match the other fields"
    )
    assert _refusal(settings, **{**env, "CT_EXPIRATION": "next year"}) == (
        "CT_EXPIRATION: must be a date written YYYY-MM-DD, got 'next year'"
    )


def test_half_the_environment_is_refused(settings: Any) -> None:
    problem = _refusal(settings, CT_LICENSEE="Half Corp", CT_MAXCONNECTIONS="25")
    assert problem == (
        "CT_LICENSEE, CT_MAXCONNECTIONS are set but CT_EXPIRATION, CT_SIGNATURE are not: a "
        "license in the environment needs all of CT_LICENSEE, CT_MAXCONNECTIONS, "
        "CT_EXPIRATION, CT_SIGNATURE"
    )
    assert License.objects.get().refused == problem


def test_a_license_file_is_installed(settings: Any, tmp_path: Path) -> None:
    path = tmp_path / "license.json"
    path.write_text(signed(licensee="File Corp").to_json())
    assert _refusal(settings, CT_LICENSE_FILE=str(path)) is None
    row = License.objects.get(active=True)
    assert row.licensee == "File Corp" and row.source == License.Source.FILE
    assert row.installed_by == f"CT_LICENSE_FILE={path}"


def test_unusable_license_files_are_refused(settings: Any, tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    assert _refusal(settings, CT_LICENSE_FILE=str(missing)) == (
        f"CT_LICENSE_FILE: cannot read {missing}: No such file or directory"
    )
    binary = tmp_path / "license.bin"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert _refusal(settings, CT_LICENSE_FILE=str(binary)) == (
        f"CT_LICENSE_FILE: {binary} is not UTF-8 text"
    )
    garbage = tmp_path / "license.txt"
    garbage.write_text("licensee=Example Corp\n")
    assert _refused(settings, CT_LICENSE_FILE=str(garbage)).startswith("not JSON")
    assert not License.objects.filter(active=True).exists()


def test_environment_and_file_together_are_refused(settings: Any, tmp_path: Path) -> None:
    path = tmp_path / "license.json"
    path.write_text(signed().to_json())
    problem = _refused(settings, CT_LICENSE_FILE=str(path), **environment(signed()))
    assert problem.startswith(
        "both CT_LICENSE_FILE and CT_LICENSEE, CT_MAXCONNECTIONS, CT_EXPIRATION, CT_SIGNATURE "
        "are set"
    )


def test_each_variable_may_come_from_a_file(settings: Any, tmp_path: Path) -> None:
    env = environment(signed(licensee="Secret Corp"))
    (tmp_path / "signature").write_text(env.pop("CT_SIGNATURE") + "\n")
    env["CT_SIGNATURE_FILE"] = str(tmp_path / "signature")
    assert _refusal(settings, **env) is None
    assert License.objects.get(active=True).licensee == "Secret Corp"


def test_a_refused_configured_license_is_recorded_once(settings: Any) -> None:
    env = {**environment(signed()), "CT_LICENSEE": "Tampered Corp"}
    for _start in range(3):
        assert _refused(settings, **env).startswith("CT_SIGNATURE: does not match")
    row = License.objects.get()
    assert not row.active and row.licensee == "Tampered Corp"  # whose it claimed to be


def test_an_installed_license_that_expired_is_not_refused_again(settings: Any) -> None:
    document = signed(expires=today())
    assert _refusal(settings, **environment(document)) is None
    # Days later, the same configuration at a restart: its state is "expired", no new row.
    assert install_configured(settings.CONFIG, today() + timedelta(days=3)) is None
    assert License.objects.count() == 1


def test_a_new_license_replaces_the_active_one() -> None:
    first = install(from_upload(signed(licensee="First").to_json().encode(), "admin", "alice"))
    second = install(from_upload(signed(licensee="Second").to_json().encode(), "admin", "bob"))
    first.refresh_from_db()
    assert not first.active and second.active
    assert list(License.objects.filter(active=True)) == [second]


def test_a_refused_upload_leaves_the_active_license(settings: Any) -> None:
    good = install(from_upload(signed().to_json().encode(), "admin", "alice"))
    bad = install(from_upload(license_text(max_connections=999).encode(), "admin", "mallory"))
    assert bad.refused.startswith("signature: does not match") and not bad.active
    assert bad.installed_by == "mallory" and bad.max_connections == 999
    good.refresh_from_db()
    assert good.active


def test_an_upload_that_is_not_text_is_refused() -> None:
    row = install(from_upload(b"\x00\xff\xfe", "command", "root"))
    assert row.refused == "the license is not UTF-8 text" and row.document == ""


def test_no_configured_license_is_none(settings: Any) -> None:
    _configure(settings)
    assert configured(settings.CONFIG) is None
    assert install_configured(settings.CONFIG, today()) is None
    assert not License.objects.exists()


def test_a_refused_configured_license_is_a_system_check_warning(settings: Any) -> None:
    _configure(settings, **environment(signed()))
    assert check_configured_license() == []
    _configure(settings, CT_SIGNATURE="abc")
    [warning] = check_configured_license()
    assert warning.id == "ctserver.W003" and warning.level == WARNING
    assert warning.msg.startswith("The configured license is refused: CT_SIGNATURE is set but")
