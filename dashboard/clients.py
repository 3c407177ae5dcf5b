"""Client downloads under ``/clients/``: the Python client, built from this
repository's ``client/`` with this server's URL preset as its default.

Built once at startup into ``CT_DATA_DIR/clients`` (again only when the client's
source or ``CT_SERVER_URL`` changes), offline: nothing is fetched.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger("ctserver.clients")

SOURCE = Path(__file__).resolve().parent.parent / "client"
PYTHON = "python"


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
    """The wheel for this server, built if missing or stale."""
    target = clients_dir / PYTHON
    stamp = {"server_url": server_url, "source": _source_digest(source)}
    marker = target / "build.json"
    wheels = sorted(target.glob("*.whl"))
    if wheels and marker.exists() and json.loads(marker.read_text()) == stamp:
        return ClientFile(PYTHON, wheels[-1].name, wheels[-1])
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch) / "client"
        shutil.copytree(
            source, work, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__", "build")
        )
        (work / "ctclient" / "_defaults.py").write_text(
            f'"""Written when the server built this download."""\n\nSERVER_URL = {server_url!r}\n'
        )
        out = Path(scratch) / "out"
        # Offline: no index and no build isolation (setuptools is a runtime dependency).
        command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index"]
        command += ["--no-build-isolation", "--wheel-dir", str(out), str(work)]
        subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        built = next(out.glob("*.whl"))
        shutil.move(built, target / built.name)
    marker.write_text(json.dumps(stamp))
    return ClientFile(PYTHON, built.name, target / built.name)


def available(clients_dir: Path) -> list[ClientFile]:
    return [
        ClientFile(PYTHON, wheel.name, wheel)
        for wheel in sorted((clients_dir / PYTHON).glob("*.whl"))
    ]
