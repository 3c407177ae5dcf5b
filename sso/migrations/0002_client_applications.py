"""The public clients that may ask this server for tokens (sso/tokens.py): ctclient
with a loopback redirect on any port (RFC 8252), and with a device code (RFC 8628)."""

from typing import Any

from django.db import migrations

APPLICATIONS = [
    {
        "client_id": "ctclient",
        "name": "ctclient",
        "authorization_grant_type": "authorization-code",
        "redirect_uris": "http://127.0.0.1/callback http://[::1]/callback",
    },
    {
        "client_id": "ctclient-device",
        "name": "ctclient (device code)",
        "authorization_grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        "redirect_uris": "",
    },
]


def create(apps: Any, schema_editor: Any) -> None:
    application = apps.get_model("oauth2_provider", "Application")
    for fields in APPLICATIONS:
        application.objects.update_or_create(
            client_id=fields["client_id"],
            defaults={**fields, "client_type": "public", "client_secret": "", "user": None},
        )


def remove(apps: Any, schema_editor: Any) -> None:
    application = apps.get_model("oauth2_provider", "Application")
    application.objects.filter(client_id__in=[a["client_id"] for a in APPLICATIONS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("sso", "0001_initial"),
        ("oauth2_provider", "0022_refreshtoken_token_family_index"),
    ]

    operations = [migrations.RunPython(create, remove)]
