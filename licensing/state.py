"""What the server says about its license at startup and on the dashboard.

Signed licenses and connection limits arrive with the licensing issue; until then
the server states plainly that nothing is enforced.
"""

from __future__ import annotations


def license_state() -> str:
    return "No license installed: licensing is not enforced by this version"
