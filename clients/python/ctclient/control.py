"""``DIR/.ctclient``: how ``ctclient status`` and ``ctclient open`` reach the running
``host`` or ``join`` for that folder. The folder is never shared."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

FOLDER = ".ctclient"


class ControlDir:
    def __init__(self, shared_root: Path) -> None:
        self.path = shared_root / FOLDER
        self.status_file = self.path / "status.json"
        self.requests = self.path / "requests"

    def create(self) -> None:
        self.requests.mkdir(parents=True, exist_ok=True)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def write_status(self, status: dict[str, Any]) -> None:
        fd, temporary = tempfile.mkstemp(dir=self.path, prefix=".status-")
        with os.fdopen(fd, "w") as handle:
            json.dump({**status, "pid": os.getpid()}, handle, indent=2)
        os.replace(temporary, self.status_file)

    def read_status(self) -> dict[str, Any] | None:
        """The running process's status, or None when nothing runs for this folder."""
        try:
            status = json.loads(self.status_file.read_text())
            os.kill(int(status["pid"]), 0)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return dict(status)

    def request_open(self, path: str) -> None:
        name = self.requests / f"{secrets.token_hex(8)}.json"
        name.write_text(json.dumps({"open": path}))

    def take_requests(self) -> list[str]:
        paths = []
        for request in sorted(self.requests.glob("*.json")):
            with contextlib.suppress(OSError, ValueError, KeyError):
                paths.append(str(json.loads(request.read_text())["open"]))
            request.unlink(missing_ok=True)
        return paths
