"""Dashboard figures for the tests of what publishes them (StatsD, Prometheus)."""

from __future__ import annotations

import dataclasses
from typing import Any

from dashboard.figures import LiveFigures

SAMPLE = LiveFigures(
    users_online=3,
    active_sessions=2,
    connections=5,
    connection_limit=25,
    license_kind="license",
    average_lag_ms=2.5,
    sessions_hosted=40,
    downloads=7,
    downloads_by_version=[],
    servers=[],
)


def sample_figures(**changes: Any) -> LiveFigures:
    """SAMPLE, with ``changes`` (figure name to value)."""
    return dataclasses.replace(SAMPLE, **changes)
