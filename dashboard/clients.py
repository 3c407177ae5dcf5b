"""Client downloads under ``/clients/``, each with this server's URL preset as its
default: the Python client, built from this repository's ``clients/python/``, and the
VS Code extension, made from the package its build commits in ``clients/vscode/dist/``.

Made at startup in ``CT_DATA_DIR/clients`` (again only when a client's source or
``CT_SERVER_URL`` changes), offline: nothing is fetched.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger("ctserver.clients")

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "clients" / "python"
PYTHON = "python"
BUILD_CACHE = ".build"
DEFAULTS = "ctclient/_defaults.py"

# The extension as @vscode/vsce packs it, without a default server; the server reads
# it from settings.VSCODE_CLIENT_BASE, which is this unless test settings say otherwise.
VSCODE_SOURCE = REPO / "clients" / "vscode" / "dist" / "ctserver-vscode.vsix"
VSCODE = "vscode"
VSCODE_PREFIX = "ctserver-vscode-"
PACKAGE_JSON = "extension/package.json"
VSIX_MEMBERS = ("extension.vsixmanifest", "[Content_Types].xml", PACKAGE_JSON)
SERVER_URL_SETTING = "ctserver.serverUrl"
# A version goes into a file name and a URL: letters, digits and . + - only.
VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+-]{0,63}")


class BadClientSource(ValueError):
    """A client's base package that the server will not offer (the message says why)."""


@dataclass(frozen=True)
class ClientFile:
    client: str
    filename: str
    path: Path


def _source_digest(source: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(source.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and ".egg-info" not in str(path):
            digest.update(path.relative_to(source).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def build_python_client(clients_dir: Path, server_url: str, source: Path = SOURCE) -> ClientFile:
    """The wheel for this server, made if missing or stale.

    The package itself is built once per version of its source (``pip wheel``, about
    a second) and kept in ``clients_dir/.build``; each server's download is that
    wheel with ``ctclient/_defaults.py`` added, which takes milliseconds.
    """
    target = clients_dir / PYTHON
    digest = _source_digest(source)
    stamp = {"server_url": server_url, "source": digest}
    marker = target / "build.json"
    wheels = sorted(target.glob("*.whl"))
    if wheels and _stamped(marker, stamp):
        return ClientFile(PYTHON, wheels[-1].name, wheels[-1])
    base = base_wheel(clients_dir / BUILD_CACHE, source, digest)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    served = target / base.name.split("+", 1)[1]
    _with_defaults(base, served, server_url)
    marker.write_text(json.dumps(stamp))
    return ClientFile(PYTHON, served.name, served)


def _stamped(marker: Path, stamp: dict[str, str]) -> bool:
    """Whether the download beside ``marker`` was made from what ``stamp`` describes
    (a marker cut short by a crash means it was not)."""
    try:
        return bool(json.loads(marker.read_text()) == stamp)
    except (OSError, ValueError):
        return False


def base_wheel(cache: Path, source: Path = SOURCE, digest: str | None = None) -> Path:
    """The client built from ``source`` without a default server, cached by digest."""
    digest = digest or _source_digest(source)
    cached = sorted(cache.glob(f"{digest[:16]}+*.whl"))
    if cached:
        return cached[-1]
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch) / "client"
        shutil.copytree(
            source, work, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__", "build")
        )
        (work / "ctclient" / "_defaults.py").unlink(missing_ok=True)
        out = Path(scratch) / "out"
        # Offline: no index and no build isolation (setuptools is a runtime dependency).
        command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index"]
        command += ["--no-build-isolation", "--wheel-dir", str(out), str(work)]
        subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603
        built = next(out.glob("*.whl"))
        cache.mkdir(parents=True, exist_ok=True)
        kept = cache / f"{digest[:16]}+{built.name}"
        shutil.move(built, kept)
    return kept


def _with_defaults(base: Path, served: Path, server_url: str) -> None:
    """Copy the wheel ``base`` to ``served`` with ``_defaults.py`` added, and its line
    in the wheel's RECORD (path, SHA-256 in urlsafe base64 without padding, size),
    which installers use to know and check every file."""
    defaults = (
        f'"""Written when the server built this download."""\n\nSERVER_URL = {server_url!r}\n'
    ).encode()
    digest = base64.urlsafe_b64encode(hashlib.sha256(defaults).digest()).rstrip(b"=").decode()
    entry = f"{DEFAULTS},sha256={digest},{len(defaults)}\n"
    with zipfile.ZipFile(base) as source, zipfile.ZipFile(served, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.endswith(".dist-info/RECORD"):
                out.writestr(DEFAULTS, defaults)
                data = entry.encode() + data
            out.writestr(item, data)


def build_vscode_client(
    clients_dir: Path, server_url: str, source: Path = VSCODE_SOURCE
) -> ClientFile | None:
    """The extension for this server, made if missing or stale; None, and no download,
    when ``source`` does not exist. A ``source`` that is not an extension package
    raises BadClientSource and leaves no download either."""
    target = clients_dir / VSCODE
    if not source.is_file():
        shutil.rmtree(target, ignore_errors=True)
        return None
    stamp = {"server_url": server_url, "source": hashlib.sha256(source.read_bytes()).hexdigest()}
    marker = target / "build.json"
    made = sorted(target.glob("*.vsix"))
    if made and _stamped(marker, stamp):
        return ClientFile(VSCODE, made[-1].name, made[-1])
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    try:
        served = _with_server_url(source, target, server_url)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)  # nothing half made is offered
        raise
    marker.write_text(json.dumps(stamp))
    return ClientFile(VSCODE, served.name, served)


def _with_server_url(source: Path, target: Path, server_url: str) -> Path:
    """Copy the package ``source`` into ``target`` with the setting's default in its
    ``package.json`` made this server's URL (re-serialised, 2-space indent); every
    other member keeps its bytes, place and compression."""
    try:
        with zipfile.ZipFile(source) as base:
            package = _vscode_package(base, source)
            _server_url_setting(package, source)["default"] = server_url
            changed = (json.dumps(package, indent=2, ensure_ascii=False) + "\n").encode()
            served = target / f"{VSCODE_PREFIX}{package['version']}.vsix"
            with zipfile.ZipFile(served, "w") as out:
                for item in base.infolist():
                    data = changed if item.filename == PACKAGE_JSON else base.read(item)
                    out.writestr(copy.copy(item), data)  # the copy keeps base's intact
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise BadClientSource(f"{source} is not a readable extension package: {exc}") from exc
    return served


def _vscode_package(base: zipfile.ZipFile, source: Path) -> dict[str, Any]:
    """The base's ``extension/package.json``, checked to have what the server needs."""
    missing = [name for name in VSIX_MEMBERS if name not in base.namelist()]
    if missing:
        raise BadClientSource(f"{source} is not a .vsix: it lacks {', '.join(missing)}")
    try:
        package = json.loads(base.read(PACKAGE_JSON).decode())
    except ValueError as exc:  # not UTF-8 or not JSON
        raise BadClientSource(f"{source}: {PACKAGE_JSON} is not JSON: {exc}") from exc
    if not isinstance(package, dict):
        raise BadClientSource(f"{source}: {PACKAGE_JSON} is not a JSON object")
    version = package.get("version")
    if not isinstance(version, str) or not VERSION.fullmatch(version):
        raise BadClientSource(f"{source}: {PACKAGE_JSON} has no usable version: {version!r}")
    _server_url_setting(package, source)
    return package


def _server_url_setting(package: dict[str, Any], source: Path) -> dict[str, Any]:
    """The declaration of ``ctserver.serverUrl`` in ``contributes.configuration``,
    which VS Code allows to be one object or a list of them."""
    contributes = package.get("contributes")
    configuration = contributes.get("configuration") if isinstance(contributes, dict) else None
    for section in configuration if isinstance(configuration, list) else [configuration]:
        properties = section.get("properties") if isinstance(section, dict) else None
        declared = properties.get(SERVER_URL_SETTING) if isinstance(properties, dict) else None
        if isinstance(declared, dict):
            return declared
    raise BadClientSource(f"{source}: {PACKAGE_JSON} does not declare {SERVER_URL_SETTING}")


def version_of(filename: str) -> str:
    """The version in a download's name: ``ctclient-0.4.0-py3-none-any.whl``,
    ``ctserver-vscode-0.1.0.vsix``."""
    parts = filename.split("-")
    if filename.endswith(".whl") and len(parts) >= 5:
        return parts[1]
    if filename.startswith(VSCODE_PREFIX) and filename.endswith(".vsix"):
        return filename.removeprefix(VSCODE_PREFIX).removesuffix(".vsix") or "unknown"
    return "unknown"


def available(clients_dir: Path) -> list[ClientFile]:
    wheels = sorted((clients_dir / PYTHON).glob("*.whl"))
    extensions = sorted((clients_dir / VSCODE).glob(f"{VSCODE_PREFIX}*.vsix"))
    return [ClientFile(PYTHON, wheel.name, wheel) for wheel in wheels] + [
        ClientFile(VSCODE, vsix.name, vsix) for vsix in extensions
    ]
