"""Start the real server the way ``make run`` and the container do.

``ServerProcess`` runs ``docker/entrypoint.sh`` (migrate, then serve) with the
virtualenv's Python, on free ports with its own data dir, and collects its output.

A new data dir starts as a copy of one made once per test run: migrated, and with
the client package already built. The server still migrates (finding nothing to
do) and makes its own secret key, certificate, accounts and client download;
only the slow steps that every server repeats identically are shared.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from dashboard.clients import BUILD_CACHE, base_wheel
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
        # The suite creates hundreds of sessions from 127.0.0.1; the tests of these
        # per-address limits (tests/test_abuse.py) set their own.
        env.setdefault("CT_SESSION_CREATE_RATE", "100000")
        env.setdefault("CT_MAX_OPEN_SESSIONS_PER_ADDRESS", "100000")
        env = {**licensed_by_default(env), **env}
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
        if not self.data_dir.exists():
            shutil.copytree(_template_data_dir(), self.data_dir)
        self._ready.clear()  # a restart waits for its own ready line, not the last run's
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


@functools.cache
def _template_data_dir() -> Path:
    """A data dir migrated on SQLite, with the client package built (see the module
    docstring); made at the first server start of the test run."""
    root = Path(tempfile.mkdtemp(prefix="ctserver-template-"))
    atexit.register(shutil.rmtree, root, True)
    data = root / "data"
    manage = [sys.executable, "manage.py", "migrate", "--noinput", "-v0"]
    subprocess.run(manage, cwd=REPO, env=server_environment(data), check=True)
    base_wheel(data / "clients" / BUILD_CACHE)
    for own in ("secret_key", "tls", "logs"):  # each server makes its own
        path = data / own
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    return data


LICENSING = ("DJANGO_SETTINGS_MODULE", "CT_LICENSEE", "CT_LICENSE_FILE")


def licensed_by_default(env: dict[str, str]) -> dict[str, str]:
    """A test server is a licensed deployment (signed with the tests' key, for 100,000
    connections), so that no test but the licensing ones meets the trial's limit of
    5. A test that says anything about licensing decides for itself."""
    if any(name in env for name in LICENSING):
        return {}
    from tests.support.licenses import TEST_SETTINGS, environment, signed

    return {
        "DJANGO_SETTINGS_MODULE": TEST_SETTINGS,
        **environment(signed("ctserver test suite", max_connections=100_000)),
    }
