"""The two-way referral report a regional health commission files, from the Tasks' histories.

Input: one :class:`ReferralFacts` per referral (its direction, tier pair, district, specialty
and every stored version of its Task); output: counts by each of those, the median and p90
hours from the referral to its acceptance and to the patient's arrival, the loop-closure rate
(completed with feedback / accepted) and the overdue counts. Pure: ``referral.report`` reads
the store and builds the facts.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from referral.sla import AWAITING_ACCEPTANCE, OVERDUE
from referral.states import EXPIRED

GROUPINGS = ("direction", "tier_pair", "district", "specialty")
FEEDBACK_RETURNED = "feedback-returned"
REPORT_COLUMNS = ("measure", "by", "group", "value")


@dataclass(frozen=True)
class TaskVersion:
    """One stored version of a referral's Task: what the report reads of it."""

    updated: datetime
    status: str
    business: frozenset[str] = frozenset()  # businessStatus codes and text
    has_output: bool = False


@dataclass(frozen=True)
class ReferralFacts:
    task_id: str
    direction: str  # up, down, lateral, or unknown
    tier_pair: str  # "1->3": the requester's tier -> the owner's
    district: str  # the requesting facility's district
    specialty: str
    versions: tuple[TaskVersion, ...]  # oldest first


@dataclass(frozen=True)
class Milestones:
    created: datetime
    accepted: datetime | None
    arrived: datetime | None
    closed_with_feedback: bool
    ever_overdue: bool
    overdue_now: bool
    expired: bool


def milestones(versions: Sequence[TaskVersion]) -> Milestones:
    """When the referral was made, first accepted and first under way (patient arrived), and
    how it stands now."""
    ordered = sorted(versions, key=lambda v: v.updated)
    first, last = ordered[0], ordered[-1]
    accepted = next((v.updated for v in ordered if v.status == "accepted"), None)
    arrived = next((v.updated for v in ordered if v.status == "in-progress"), None)
    if arrived is not None and accepted is None:  # accepted and arrived in one write
        accepted = arrived
    return Milestones(
        created=first.updated,
        accepted=accepted,
        arrived=arrived,
        closed_with_feedback=last.status == "completed"
        and (FEEDBACK_RETURNED in last.business or last.has_output),
        ever_overdue=any(OVERDUE in v.business for v in ordered),
        overdue_now=last.status in AWAITING_ACCEPTANCE and OVERDUE in last.business,
        expired=last.status == "cancelled" and EXPIRED in last.business,
    )


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile (p90 of 10 values is the 9th smallest); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def _hours(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else (end - start).total_seconds() / 3600


def _summary(values: list[float]) -> dict[str, Any]:
    median = statistics.median(values) if values else None
    p90 = percentile(values, 0.9)
    return {
        "count": len(values),
        "median_hours": None if median is None else round(median, 3),
        "p90_hours": None if p90 is None else round(p90, 3),
    }


def build_report(referrals: Iterable[ReferralFacts]) -> dict[str, Any]:
    """The report as one JSON-ready document."""
    counts: dict[str, Counter[str]] = {name: Counter() for name in GROUPINGS}
    to_accept: list[float] = []
    to_arrival: list[float] = []
    total = accepted = closed = ever_overdue = overdue_now = expired = 0
    for referral in referrals:
        total += 1
        for name in GROUPINGS:
            counts[name][str(getattr(referral, name))] += 1
        marks = milestones(referral.versions)
        accept_hours = _hours(marks.created, marks.accepted)
        arrival_hours = _hours(marks.created, marks.arrived)
        if accept_hours is not None:
            accepted += 1
            to_accept.append(accept_hours)
        if arrival_hours is not None:
            to_arrival.append(arrival_hours)
        closed += marks.closed_with_feedback
        ever_overdue += marks.ever_overdue
        overdue_now += marks.overdue_now
        expired += marks.expired
    return {
        "referrals": total,
        "counts": {name: dict(sorted(counts[name].items())) for name in GROUPINGS},
        "time_to_accept": _summary(to_accept),
        "time_to_arrival": _summary(to_arrival),
        "loop_closure": {
            "accepted": accepted,
            "completed_with_feedback": closed,
            "rate": round(closed / accepted, 4) if accepted else None,
        },
        "overdue": {"ever": ever_overdue, "now": overdue_now, "expired": expired},
    }


def report_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report as ``measure, by, group, value`` rows: one shape for table, CSV and JSON."""
    rows: list[dict[str, Any]] = [
        {"measure": "referrals", "by": "", "group": "", "value": report["referrals"]}
    ]
    for name, groups in report["counts"].items():
        rows.extend(
            {"measure": "referrals", "by": name, "group": group, "value": count}
            for group, count in groups.items()
        )
    for measure in ("time_to_accept", "time_to_arrival", "loop_closure", "overdue"):
        rows.extend(
            {"measure": measure, "by": "", "group": key, "value": value}
            for key, value in report[measure].items()
        )
    return rows
