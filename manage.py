#!/usr/bin/env python
"""ctserver's management commands: migrate, serve, reset_dashboard_password, ...

What the operator must fix (a bad setting, an unusable file or database) stops the
command with one line starting ``ctserver:`` and exit code 2, not a traceback.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ctserver.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line
    from django.db import DatabaseError

    try:
        _check_operator_certificate()
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        _stop(f"configuration error: {exc}")
    except DatabaseError:
        problem = _database_problem()
        if problem is None:
            raise  # the database works: this is a bug, and its traceback must be seen
        _stop(f"database error: {problem}")


def _stop(message: str) -> NoReturn:
    sys.stderr.write(f"ctserver: {message}\n")
    sys.exit(2)


def _check_operator_certificate() -> None:
    """The system check ctserver.E003 finds a bad CT_TLS_CERT/CT_TLS_KEY too, but tells
    it over several lines: look first, so it reads like any other configuration error."""
    from django.conf import settings

    from ctserver.tls import load_operator_material

    config = settings.CONFIG
    if config.tls_cert is not None and config.tls_key is not None:
        load_operator_material(config.tls_cert, config.tls_key)


def _database_problem() -> str | None:
    """Why the database cannot be opened or read, or None when it can."""
    from django.db import DatabaseError, connections

    probe = connections.create_connection("default")
    try:
        probe.ensure_connection()
        probe.introspection.table_names()
    except DatabaseError as exc:
        return f"{_database_name(probe.settings_dict)}: {' '.join(str(exc).split())}"
    finally:
        probe.close()
    return None


def _database_name(database: dict[str, Any]) -> str:
    """The SQLite file, or a server's host:port/name."""
    if database["ENGINE"].endswith("sqlite3"):
        return str(database["NAME"])
    port = f":{database['PORT']}" if database.get("PORT") else ""
    return f"{database.get('HOST') or 'localhost'}{port}/{database['NAME']}"


if __name__ == "__main__":
    main()
