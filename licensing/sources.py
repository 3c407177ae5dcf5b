"""Where a license comes from, turned into a ``Submission`` for licensing.install.

The configured license (``CT_LICENSEE`` and its three companions, or
``CT_LICENSE_FILE``) is read here rather than in ctserver/config.py on purpose: a
bad license must not stop the server, which still serves the dashboard, the admin
and health, only refusing new connections (docs/licensing.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ctserver.config import LICENSE_VARIABLES, Config
from licensing.document import MAX_DOCUMENT_CHARS, PRODUCT, PRODUCT_VERSION
from licensing.models import License

# How the environment names the fields it gives (product and version are implied).
ENV_NAMES = dict(
    zip(("licensee", "max_connections", "expires", "signature"), LICENSE_VARIABLES, strict=True)
)


@dataclass(frozen=True)
class Submission:
    """A license as given, before any check."""

    source: str  # a License.Source value
    document: str  # the text recorded in the history
    installed_by: str
    names: Mapping[str, str] = field(default_factory=dict)  # fields as the source calls them
    problem: str | None = None  # refused before it could be read as a license


def configured(config: Config) -> Submission | None:
    """The license the configuration gives, or None when it gives none."""
    variables, path = config.license_variables, config.license_file
    if variables and path is not None:
        given = ", ".join(variables)
        return _refused(
            License.Source.ENVIRONMENT,
            "CT_LICENSE_FILE",
            f"both CT_LICENSE_FILE and {given} are set: give the license one way only",
        )
    if path is not None:
        return from_file(path)
    if variables:
        return from_environment(variables)
    return None


def from_environment(variables: Mapping[str, str]) -> Submission:
    missing = [name for name in LICENSE_VARIABLES if name not in variables]
    if missing:
        return _refused(
            License.Source.ENVIRONMENT,
            ", ".join(variables),
            f"{', '.join(variables)} {'is' if len(variables) == 1 else 'are'} set but "
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not: a license "
            f"in the environment needs all of {', '.join(LICENSE_VARIABLES)}",
        )
    count = variables[ENV_NAMES["max_connections"]]
    fields = {
        "licensee": variables[ENV_NAMES["licensee"]],
        # A number when it is one; otherwise kept as given, for the check to name.
        "max_connections": int(count) if count.isascii() and count.isdigit() else count,
        "expires": variables[ENV_NAMES["expires"]],
        "product": PRODUCT,
        "version": PRODUCT_VERSION,
        "signature": variables[ENV_NAMES["signature"]],
    }
    return Submission(
        source=License.Source.ENVIRONMENT,
        document=json.dumps(fields, indent=2, ensure_ascii=False) + "\n",
        installed_by=", ".join(LICENSE_VARIABLES),
        names=ENV_NAMES,
    )


def from_file(path: Path) -> Submission:
    source, where = License.Source.FILE, f"CT_LICENSE_FILE={path}"
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_DOCUMENT_CHARS * 4 + 1)  # enough for the size check
    except OSError as exc:
        return _refused(source, where, f"CT_LICENSE_FILE: cannot read {path}: {exc.strerror}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _refused(source, where, f"CT_LICENSE_FILE: {path} is not UTF-8 text")
    return Submission(source=source, document=text, installed_by=where)


def from_upload(content: bytes, source: str, installed_by: str) -> Submission:
    """A document pasted or uploaded in the admin, or read by ``install_license``."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return _refused(source, installed_by, "the license is not UTF-8 text")
    return Submission(source=source, document=text, installed_by=installed_by)


def _refused(source: str, installed_by: str, problem: str) -> Submission:
    return Submission(source=source, document="", installed_by=installed_by, problem=problem)
