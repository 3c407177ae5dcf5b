"""Start the real server the way ``make run`` and the container do.

``ServerProcess`` runs ``docker/entrypoint.sh`` (migrate, then serve) with the
virtualenv's Python, on free ports with its own data dir, and collects its output.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.support.ports import free_port

REPO = Path(__file__).resolve().parents[2]
ENTRYPOINT = REPO / "docker" / "entrypoint.sh"
READY_LINE = "Clients use CT_SERVER_URL:"  # the last line of the startup announcement


def server_environment(data_dir: Path, **overrides: str) -> dict[str, str]:
    """A clean environment: no CT_* variable leaks in from the developer's shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CT_")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update({"CT_DATA_DIR": str(data_dir), "PYTHON": sys.executable})
    env.update(overrides)
    return env


class ServerProcess:
    def __init__(self, data_dir: Path, **env: str) -> None:
        self.http_port = int(env.get("CT_HTTP_PORT") or free_port())
        self.https_port = int(env.get("CT_HTTPS_PORT") or free_port())
        env.setdefault("CT_HTTP_PORT", str(self.http_port))
        env.setdefault("CT_HTTPS_PORT", str(self.https_port))
        env.setdefault("CT_BIND_ADDRESS", "127.0.0.1")
        self.data_dir = data_dir
        self.env = server_environment(data_dir, **env)
        self.lines: list[str] = []
        self.process: subprocess.Popen[str] | None = None
        self._ready = threading.Event()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def https_url(self) -> str:
        return f"https://localhost:{self.https_port}"

    @property
    def certificate(self) -> Path:
        return self.data_dir / "tls" / "selfsigned-cert.pem"

    def start(self, timeout: float = 60.0) -> ServerProcess:
        self.process = subprocess.Popen(
            [str(ENTRYPOINT)],
            cwd=REPO,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._collect, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server did not start:\n{self.output}")
        return self

    def _collect(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if READY_LINE in line:
                self._ready.set()

    def stop(self, sig: int = signal.SIGINT, timeout: float = 20.0) -> int:
        """Stop as Ctrl-C would; return the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        time.sleep(0.1)  # let the reader thread drain the pipe
        return self.process.returncode

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def plain_http_env(**env: str) -> dict[str, str]:
    """Settings for a server whose clients use plain HTTP (no redirect to HTTPS)."""
    port = env.get("CT_HTTP_PORT") or str(free_port())
    return {"CT_HTTP_PORT": port, "CT_SERVER_URL": f"http://127.0.0.1:{port}", **env}
