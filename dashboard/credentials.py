"""Dashboard credentials, in the order the seeds give.

``CT_DASHBOARD_USER``/``CT_DASHBOARD_PASSWORD``; else ``CT_LOGS_USER``/
``CT_LOGS_PASSWORD``; else user ``ctuser`` with a password generated at first start,
written once to the log and stored only as a hash. The account also signs in to
the Django admin.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import IntegrityError, transaction

from ctserver.config import Credentials
from dashboard.models import BootstrapAccount

logger = logging.getLogger("ctserver.dashboard")

GENERATED_USERNAME = "ctuser"
GENERATED_SOURCE = "generated"


@dataclass(frozen=True)
class AccountOutcome:
    username: str
    source: str
    generated_password: str | None  # set only when a password was generated just now


def generate_password() -> str:
    return secrets.token_urlsafe(18)


def _bootstrap_user(username: str, password: str, source: str) -> tuple[AbstractUser, bool]:
    """Create the account, or return the existing one (created=False)."""
    user_model = get_user_model()
    try:
        with transaction.atomic():
            user = user_model.objects.create_superuser(username=username, password=password)
            BootstrapAccount.objects.create(user=user, source=source)
            return user, True
    except IntegrityError:  # it exists, possibly made a moment ago by another server
        return user_model.objects.get(username=username), False


def _retire_other_accounts(keep_username: str) -> None:
    stale = BootstrapAccount.objects.exclude(user__username=keep_username).filter(
        user__is_active=True
    )
    for account in stale.select_related("user"):
        account.user.is_active = False
        account.user.save(update_fields=["is_active"])
        logger.warning(
            "Dashboard account %r disabled: dashboard credentials now come from elsewhere",
            account.user.username,
        )


def ensure_dashboard_account(configured: Credentials | None) -> AccountOutcome:
    """Make the configured (or generated) account exist, be active and staff."""
    if configured is None:
        outcome = _ensure_generated_account()
    else:
        outcome = _ensure_configured_account(configured)
    _retire_other_accounts(outcome.username)
    return outcome


def _ensure_configured_account(configured: Credentials) -> AccountOutcome:
    user, created = _bootstrap_user(configured.username, configured.password, configured.source)
    if not created:
        changed = not user.check_password(configured.password)
        if changed:
            user.set_password(configured.password)
        if changed or not (user.is_active and user.is_staff and user.is_superuser):
            user.is_active = user.is_staff = user.is_superuser = True
            user.save()
        BootstrapAccount.objects.update_or_create(user=user, defaults={"source": configured.source})
    return AccountOutcome(configured.username, configured.source, None)


def _ensure_generated_account() -> AccountOutcome:
    password = generate_password()
    user, created = _bootstrap_user(GENERATED_USERNAME, password, GENERATED_SOURCE)
    if created:
        return AccountOutcome(GENERATED_USERNAME, GENERATED_SOURCE, password)
    if not user.is_active:
        user.is_active = True
        user.save(update_fields=["is_active"])
    return AccountOutcome(GENERATED_USERNAME, GENERATED_SOURCE, None)


def reset_generated_password(configured: Credentials | None) -> str:
    """Give the generated account a new password; refused when the environment sets one."""
    if configured is not None:
        raise ValueError(
            f"The dashboard password comes from {configured.source.replace('_USER', '_PASSWORD')}: "
            "change that variable and restart instead."
        )
    password = generate_password()
    user, created = _bootstrap_user(GENERATED_USERNAME, password, GENERATED_SOURCE)
    if not created:
        user.set_password(password)
        user.is_active = True
        user.save()
    return password


def log_generated_password(username: str, password: str) -> None:
    logger.warning(
        "Dashboard user %r has the generated password %s (shown once, stored hashed; "
        "set CT_DASHBOARD_USER/CT_DASHBOARD_PASSWORD, or run "
        "'manage.py reset_dashboard_password' for a new one)",
        username,
        password,
    )
