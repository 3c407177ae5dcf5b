"""ctserver's settings with the VS Code extension's base package read from beside the
data dir (the test's tmp dir), where a test writes a fake one: for server processes
started by tests/test_client_vscode.py (DJANGO_SETTINGS_MODULE=tests.settings_test_vscode).
The data dir itself is left to the server, which starts it from the test run's template."""

from ctserver.settings import *  # noqa: F403
from ctserver.settings import DATA

VSCODE_CLIENT_BASE = DATA.root.parent / "ctserver-vscode.vsix"
