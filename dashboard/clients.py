"""Client downloads under ``/clients/``: the Python client, built from this
repository's ``clients/python/`` with this server's URL preset as its default.

Made at startup in ``CT_DATA_DIR/clients`` (again only when the client's source or
``CT_SERVER_URL`` changes), offline: nothing is fetched.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger("ctserver.clients")

SOURCE = Path(__file__).resolve().parent.parent / "clients" / "python"
PYTHON = "python"
BUILD_CACHE = ".build"
DEFAULTS = "ctclient/_defaults.py"


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
    if wheels and marker.exists() and json.loads(marker.read_text()) == stamp:
        return ClientFile(PYTHON, wheels[-1].name, wheels[-1])
    base = base_wheel(clients_dir / BUILD_CACHE, source, digest)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    served = target / base.name.split("+", 1)[1]
    _with_defaults(base, served, server_url)
    marker.write_text(json.dumps(stamp))
    return ClientFile(PYTHON, served.name, served)


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


def wheel_version(filename: str) -> str:
    """The version in a wheel's name (``ctclient-0.4.0-py3-none-any.whl``)."""
    parts = filename.split("-")
    return parts[1] if filename.endswith(".whl") and len(parts) >= 5 else "unknown"


def available(clients_dir: Path) -> list[ClientFile]:
    return [
        ClientFile(PYTHON, wheel.name, wheel)
        for wheel in sorted((clients_dir / PYTHON).glob("*.whl"))
    ]
