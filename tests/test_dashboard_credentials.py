from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command

from ctserver.config import Credentials, load_config
from dashboard.credentials import (
    ensure_dashboard_account,
    reset_generated_password,
)

pytestmark = pytest.mark.django_db

OPERATOR = Credentials(username="operator", password="s3cret-pass", source="CT_DASHBOARD_USER")


def test_first_start_generates_a_password_once() -> None:
    first = ensure_dashboard_account(None)
    assert first.username == "ctuser" and first.generated_password
    assert authenticate(username="ctuser", password=first.generated_password) is not None
    second = ensure_dashboard_account(None)
    assert second.generated_password is None
    assert authenticate(username="ctuser", password=first.generated_password) is not None


def test_generated_password_is_stored_hashed() -> None:
    outcome = ensure_dashboard_account(None)
    user = get_user_model().objects.get(username="ctuser")
    assert outcome.generated_password and outcome.generated_password not in user.password
    assert user.is_staff and user.is_superuser


def test_configured_credentials_win_and_follow_changes() -> None:
    ensure_dashboard_account(OPERATOR)
    assert authenticate(username="operator", password="s3cret-pass") is not None
    changed = Credentials("operator", "another-pass", "CT_DASHBOARD_USER")
    ensure_dashboard_account(changed)
    assert authenticate(username="operator", password="s3cret-pass") is None
    assert authenticate(username="operator", password="another-pass") is not None


def test_switching_to_configured_credentials_disables_the_generated_account() -> None:
    generated = ensure_dashboard_account(None).generated_password
    ensure_dashboard_account(OPERATOR)
    assert authenticate(username="ctuser", password=generated) is None
    assert authenticate(username="operator", password="s3cret-pass") is not None


def test_reset_gives_the_generated_account_a_new_password() -> None:
    old = ensure_dashboard_account(None).generated_password
    new = reset_generated_password(None)
    assert new != old
    assert authenticate(username="ctuser", password=old) is None
    assert authenticate(username="ctuser", password=new) is not None


def test_reset_is_refused_when_the_environment_sets_the_password() -> None:
    with pytest.raises(ValueError, match="CT_DASHBOARD_PASSWORD"):
        reset_generated_password(OPERATOR)


def test_reset_command_prints_a_working_password() -> None:
    ensure_dashboard_account(None)
    out = StringIO()
    call_command("reset_dashboard_password", stdout=out)
    password = out.getvalue().rsplit(" ", 1)[1].strip()
    assert authenticate(username="ctuser", password=password) is not None


def test_reset_command_refuses_when_configured(settings: Any) -> None:
    settings.CONFIG = load_config({"CT_LOGS_USER": "ops", "CT_LOGS_PASSWORD": "pw"})
    with pytest.raises(CommandError, match="CT_LOGS_PASSWORD"):
        call_command("reset_dashboard_password")
