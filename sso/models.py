"""Who a user is at the OpenID provider: the verified identity behind a Django user."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Identity(models.Model):
    """One provider account. A user is found again by (issuer, subject), never by
    email: an address can change hands, a subject cannot."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identity"
    )
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    email = models.CharField(max_length=254, blank=True)
    name = models.CharField(max_length=64)
    groups = models.JSONField(default=list, blank=True)
    admin = models.BooleanField(
        default=False, help_text="In CT_SSO_ADMIN_GROUP at the last sign-in"
    )
    last_sign_in = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "single sign-on identity"
        verbose_name_plural = "single sign-on identities"
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="sso_identity_subject")
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.email else self.name
