#!/usr/bin/env python
"""ctserver's management commands: migrate, serve, reset_dashboard_password, ..."""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ctserver.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"ctserver: configuration error: {exc}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
