"""Prometheus text lines for gauges read from the database at each scrape (``/metrics``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime


def gauge_lines(name: str, help_text: str, samples: Mapping[str, float]) -> list[str]:
    """``samples``: label text (``status="dead"``, or empty for none) -> value."""
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    for labels, value in samples.items():
        lines.append(f"{name}{{{labels}}} {value:g}" if labels else f"{name} {value:g}")
    return lines


def age_seconds(oldest: datetime | None, now: datetime | None = None) -> float:
    """How long ago ``oldest`` was (0 when nothing waits); naive values are UTC (SQLite)."""
    if oldest is None:
        return 0.0
    oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
    return max(0.0, ((now or datetime.now(UTC)) - oldest).total_seconds())
