"""The vendor's tool: sign a license with the vendor's private key.

The key is read from a file (PEM, unencrypted PKCS#8 Ed25519) and never stored in
the repository. The license is checked as a server would check it before it is
written, so a typo is caught here rather than at the customer's.
"""

from __future__ import annotations

import base64
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from licensing.document import LicenseError, check, check_dates, parse, parse_date, sign


class Command(BaseCommand):
    help = "Sign a license (vendor only): prints the license file, or writes it with --out."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--licensee", required=True)
        parser.add_argument("--max-connections", type=int, required=True)
        parser.add_argument("--expires", required=True, help="the last valid day, YYYY-MM-DD")
        parser.add_argument("--key", type=Path, required=True, help="the vendor's private key")
        parser.add_argument("--out", type=Path, help="write the license here")

    def handle(self, *args: Any, **options: Any) -> None:
        key = _private_key(options["key"])
        try:
            expires = parse_date(options["expires"])
            signed = sign(key, options["licensee"], options["max_connections"], expires)
            document = parse(signed.to_json())  # every field's rules, as a server applies them
            check(document, _public_key(key))
            check_dates(document, timezone.now().date())
        except LicenseError as exc:
            raise CommandError(f"License not issued: {exc}") from exc
        if _public_key(key) != settings.LICENSE_VERIFY_KEY:
            self.stderr.write(
                "Warning: this is not the key this server version verifies with "
                "(licensing/keys.py): its servers will refuse the license."
            )
        if options["out"] is None:
            self.stdout.write(document.to_json(), ending="")
            return
        try:
            options["out"].write_text(document.to_json(), encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot write {options['out']}: {exc.strerror}") from exc
        self.stdout.write(
            f"Wrote {options['out']}: {document.licensee}, {document.max_connections} "
            f"simultaneous connections, expires {document.expires}"
        )


def _private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
    except (ValueError, TypeError) as exc:
        raise CommandError(f"{path} is not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise CommandError(f"{path} holds a {type(key).__name__}, not an Ed25519 private key")
    return key


def _public_key(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")
