"""The figures of bench/stack_load.py, with no I/O: the region's mix, the booking burst's
timing, per-operation throughput and percentiles, the HL7 queue's gauge and its drain time.

Kept apart from the Locust users (importing Locust patches the whole process for gevent) so the
arithmetic is tested on its own (tests/unit/test_stack_load_figures.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from prometheus_client.parser import text_string_to_metric_families

OK, REFUSED, ERROR = "ok", "refused", "error"  # refused: an expected business answer (409)


@dataclass(frozen=True)
class Mix:
    """Operations per second of the region's peak hour (issue 21): about 100,000 outpatient
    visits a day, ten HL7 v2 messages each, so about 100 messages/s in the peak hour; 100
    clinical reads/s; 20 settlements/s; and a booking release burst of 1,000 attempts/s."""

    hl7_per_s: float = 100.0
    reads_per_s: float = 100.0
    settlements_per_s: float = 20.0
    booking_attempts_per_s: float = 1000.0

    def scaled(self, scale: float) -> Mix:
        return Mix(
            self.hl7_per_s * scale,
            self.reads_per_s * scale,
            self.settlements_per_s * scale,
            self.booking_attempts_per_s * scale,
        )


def users_for(rate_per_s: float, per_user_per_s: float) -> int:
    """Users that offer ``rate_per_s`` when each paces itself at ``per_user_per_s`` (Locust's
    users are closed loops: once a call takes longer than the pace, the offered rate falls)."""
    return max(1, round(rate_per_s / per_user_per_s))


def burst_wait(now: float, start: float, end: float, pace_wait: float) -> float:
    """How long a booking user waits: until the release at ``start``; its own pace during the
    burst; after ``end``, past any run's end (the burst is over for it)."""
    if now < start:
        return start - now
    if now >= end:
        return 3600.0
    return min(pace_wait, max(0.0, end - now))


@dataclass(frozen=True)
class Sample:
    operation: str
    started: float  # seconds from the timed phase's start
    seconds: float  # latency
    outcome: str  # OK, REFUSED or ERROR
    detail: str  # HTTP status, ACK code or exception


@dataclass(frozen=True)
class OperationFigures:
    operation: str
    count: int
    per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    refused: int
    details: dict[str, int] = field(default_factory=dict)

    @property
    def error_rate(self) -> float:
        return self.errors / self.count if self.count else 0.0


def summarise(
    samples: Iterable[Sample], seconds: float, window: tuple[float, float] | None = None
) -> list[OperationFigures]:
    """Per operation, over ``seconds`` of run (or the samples started inside ``window``, whose
    length is then the divisor): count, rate, p50/p99 latency, errors, expected refusals."""
    by_operation: dict[str, list[Sample]] = {}
    for sample in samples:
        if window is None or window[0] <= sample.started < window[1]:
            by_operation.setdefault(sample.operation, []).append(sample)
    span = (window[1] - window[0]) if window else seconds
    rows = []
    for operation in sorted(by_operation):
        group = by_operation[operation]
        latencies = np.array([s.seconds for s in group]) * 1000.0
        outcomes = Counter(s.outcome for s in group)
        rows.append(
            OperationFigures(
                operation=operation,
                count=len(group),
                per_second=len(group) / span if span > 0 else 0.0,
                p50_ms=float(np.percentile(latencies, 50)),
                p99_ms=float(np.percentile(latencies, 99)),
                errors=outcomes[ERROR],
                refused=outcomes[REFUSED],
                details=dict(Counter(s.detail for s in group).most_common()),
            )
        )
    return rows


def format_rows(rows: Sequence[OperationFigures], targets: dict[str, float]) -> list[str]:
    """One line per operation; the target rate beside the measured one where there is one."""
    lines = [
        f"  {'operation':<34} {'count':>7} {'per s':>7} {'target':>7} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'errors':>7} {'refused':>7}  answers"
    ]
    for row in rows:
        target = targets.get(row.operation)
        details = ", ".join(f"{k} x{v}" for k, v in list(row.details.items())[:4])
        lines.append(
            f"  {row.operation:<34} {row.count:>7} {row.per_second:>7.1f} "
            f"{f'{target:.0f}' if target else '-':>7} {row.p50_ms:>8.0f} {row.p99_ms:>8.0f} "
            f"{row.errors:>7} {row.refused:>7}  {details}"
        )
    return lines


def gauge_value(exposition: str, name: str, labels: dict[str, str] | None = None) -> float | None:
    """The value of one gauge sample in a Prometheus text exposition, or None if absent."""
    wanted = labels or {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in wanted.items()):
                return float(sample.value)
    return None


def drain_seconds(depths: Sequence[tuple[float, int]], load_stopped: float) -> float | None:
    """Seconds from ``load_stopped`` until the first sample at or after it with an empty queue,
    or None if no such sample was taken (the queue had not drained when sampling stopped)."""
    for at, depth in depths:
        if at >= load_stopped and depth == 0:
            return at - load_stopped
    return None


def drain_rate(depths: Sequence[tuple[float, int]], load_stopped: float) -> float:
    """Messages/s the queue fell by from the first sample at or after ``load_stopped`` (the
    last messages sent are still counted in) to the last sample; 0 without two such samples."""
    after = [d for d in depths if d[0] >= load_stopped]
    if len(after) < 2 or after[-1][0] <= after[0][0]:
        return 0.0
    return (after[0][1] - after[-1][1]) / (after[-1][0] - after[0][0])


def thin(depths: Sequence[tuple[float, int]], points: int) -> list[tuple[float, int]]:
    """At most ``points`` samples, evenly spread, the first and the last always kept."""
    if len(depths) <= points:
        return list(depths)
    step = (len(depths) - 1) / (points - 1)
    return [depths[round(n * step)] for n in range(points)]
