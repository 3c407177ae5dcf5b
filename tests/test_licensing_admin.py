"""The license manager's admin pages and the dashboard's license part, through
Django's test client."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from licensing import state, usage
from licensing.install import install
from licensing.models import License, LicenseUsageDay
from licensing.sources import from_upload
from tests.support.licenses import license_test_key, license_text, signed, today

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures(license_test_key.__name__)]

INSTALL = reverse("admin:licensing_license_install")
LICENSES = reverse("admin:licensing_license_changelist")
DAY = timedelta(days=1)


@pytest.fixture
def manager(client: Client) -> Client:
    user = User.objects.create_superuser("manager", password="unused-in-force-login")
    client.force_login(user)
    return client


def _page(client: Client, url: str) -> str:
    response = client.get(url, secure=True)
    assert response.status_code == 200
    return response.content.decode()


def test_a_manager_installs_a_pasted_license(manager: Client) -> None:
    text = signed(licensee="Pasted Corp", max_connections=25).to_json()
    response = manager.post(INSTALL, {"document": text}, secure=True)
    assert (response.status_code, response["Location"]) == (302, LICENSES)
    row = License.objects.get(active=True)
    assert (row.licensee, row.source, row.installed_by) == ("Pasted Corp", "admin", "manager")
    page = _page(manager, LICENSES)
    assert "License installed. Valid license installed: Pasted Corp, 25 simultaneous" in page


def test_a_manager_installs_an_uploaded_license_file(manager: Client) -> None:
    upload = SimpleUploadedFile("license.json", signed(licensee="Uploaded Corp").to_json().encode())
    response = manager.post(INSTALL, {"file": upload}, secure=True)
    assert response.status_code == 302
    assert License.objects.get(active=True).licensee == "Uploaded Corp"


def test_a_tampered_license_is_refused_in_words_and_recorded(manager: Client) -> None:
    response = manager.post(INSTALL, {"document": license_text(max_connections=5000)}, secure=True)
    assert response.status_code == 200
    assert "License refused: signature: does not match the other fields" in (
        response.content.decode()
    )
    row = License.objects.get()
    assert not row.active and row.installed_by == "manager"
    assert row.refused.startswith("signature: does not match")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", "License refused: the license is not UTF-8 text"),
        (b"licensee: Example Corp", "License refused: not JSON (Expecting value at line 1"),
    ],
)
def test_a_garbage_upload_is_refused_in_words(
    manager: Client, content: bytes, message: str
) -> None:
    upload = SimpleUploadedFile("license.json", content)
    response = manager.post(INSTALL, {"file": upload}, secure=True)
    assert message in response.content.decode()
    assert License.objects.get().refused


def test_the_form_wants_a_paste_or_a_file(manager: Client) -> None:
    upload = SimpleUploadedFile("license.json", signed().to_json().encode())
    for data in ({}, {"document": signed().to_json(), "file": upload}):
        response = manager.post(INSTALL, data, secure=True)
        assert "Paste the license or upload its file (one of them)." in response.content.decode()
    assert not License.objects.exists()


def test_installing_is_csrf_protected(django_user_model: type[User]) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(django_user_model.objects.create_superuser("manager"))
    response = client.post(INSTALL, {"document": signed().to_json()}, secure=True)
    assert response.status_code == 403
    assert not License.objects.exists()


def test_installing_needs_staff_and_the_install_permission(client: Client) -> None:
    assert client.get(INSTALL, secure=True).status_code == 302  # to the admin sign-in
    user = User.objects.create_user("helper", is_staff=False)
    client.force_login(user)
    assert client.get(INSTALL, secure=True).status_code == 302
    user.is_staff = True
    user.save()
    assert client.get(INSTALL, secure=True).status_code == 403
    response = client.post(INSTALL, {"document": signed().to_json()}, secure=True)
    assert response.status_code == 403 and not License.objects.exists()
    user.user_permissions.add(Permission.objects.get(codename="install_license"))
    assert client.get(INSTALL, secure=True).status_code == 200


def test_history_is_read_only(manager: Client) -> None:
    row = install(from_upload(signed().to_json().encode(), "admin", "alice"))
    day = LicenseUsageDay.objects.create(date=today(), peak=3, refusals=1)
    assert manager.get(reverse("admin:licensing_license_add"), secure=True).status_code == 403
    for name, pk in (("license", row.pk), ("licenseusageday", day.pk)):
        change = reverse(f"admin:licensing_{name}_change", args=[pk])
        assert manager.post(change, {"licensee": "Changed"}, secure=True).status_code == 403
        delete = reverse(f"admin:licensing_{name}_delete", args=[pk])
        assert manager.post(delete, {"post": "yes"}, secure=True).status_code == 403
    row.refresh_from_db()
    assert row.licensee == "Example Corp" and LicenseUsageDay.objects.count() == 1
    page = _page(manager, LICENSES)
    assert reverse("admin:licensing_license_add") not in page


def test_the_license_page_shows_use_against_the_limit_and_each_day(
    manager: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(from_upload(signed(max_connections=25).to_json().encode(), "admin", "alice"))
    monkeypatch.setattr(state, "use_counter", lambda: 17)
    usage.record(peak=21, refusals=4)
    usage.record(peak=12, refusals=0, day=today() - DAY)
    page = _page(manager, LICENSES)
    assert "Valid license installed: Example Corp, 25 simultaneous connections" in page
    assert "17 of 25 simultaneous connections" in page
    assert f"<td>{today():%Y-%m-%d}</td><td>21</td><td>4</td>" in page
    assert f"<td>{today() - DAY:%Y-%m-%d}</td><td>12</td><td>0</td>" in page


def test_the_trial_shows_where_the_license_does(manager: Client) -> None:
    trial = f"Trial: 5 simultaneous connections until {today() + 45 * DAY} (45 days left)"
    assert trial in _page(manager, LICENSES)
    assert trial in _page(manager, reverse("dashboard:home"))


def test_expiry_is_warned_on_the_license_pages_and_the_dashboard(manager: Client) -> None:
    expires = today() + 10 * DAY
    row = install(from_upload(signed(expires=expires).to_json().encode(), "admin", "alice"))
    warning = f"The license for Example Corp expires on {expires} (10 days left)"
    change = reverse("admin:licensing_license_change", args=[row.pk])
    for url in (LICENSES, change, INSTALL, reverse("dashboard:home")):
        assert warning in _page(manager, url), url


def test_no_warning_while_the_license_has_time(manager: Client) -> None:
    install(from_upload(signed().to_json().encode(), "admin", "alice"))
    assert "expires on" not in _page(manager, LICENSES).split("Valid license installed")[0]
    assert "will be refused" not in _page(manager, reverse("dashboard:home"))
