from __future__ import annotations

import getpass
import os
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from licensing.document import MAX_DOCUMENT_CHARS
from licensing.install import install
from licensing.models import License
from licensing.sources import from_upload
from licensing.state import current_state


class Command(BaseCommand):
    help = (
        "Install a license file (JSON, docs/licensing.md). It replaces the active license; "
        "every server sharing the database uses it within a minute."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", type=Path, help="the license file")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            with path.open("rb") as file:
                content = file.read(MAX_DOCUMENT_CHARS * 4 + 1)
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
        installed_by = f"{_system_user()} (manage.py install_license {path})"
        row = install(from_upload(content, License.Source.COMMAND, installed_by))
        if row.refused:
            raise CommandError(f"License refused: {row.refused}")
        self.stdout.write(f"License installed. {current_state().describe()}")


def _system_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container's uid with no name
        return f"uid {os.getuid()}"
