"""The ``ctclient`` command run as its users run it: a separate process with none of
the server's ``CT_*`` variables, stopped as Ctrl-C would; and reading the files it
writes, which may be half-written or gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path


def client_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CT_")}


def ctclient(*args: str, stdin: int | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ctclient.cli", *args],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=client_env(),
    )


def stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    """Stop as Ctrl-C would (killed after 20 s); its exit code and stderr. What it
    printed goes to the test's output too, shown when the test fails."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        out, err = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    print(f"--- ctclient, pid {process.pid}:\n{out}{err}")
    return process.returncode, err


def content(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None
