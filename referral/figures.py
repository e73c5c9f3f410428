"""Referral figures per local day, for the console's charts: how many referrals were made and
how many of them were accepted (counted by the store, ``_summary=count`` on ``authored-on``,
each an index lookup), and how long they waited for acceptance (median hours, from the Tasks'
histories). Everything is read through the store as the caller (operators, auditors), so
access, consent and audit apply as for the referral report.

Waits need every version of the window's Tasks; when the window holds more than
``MAX_VERSIONS`` of them the waits are left out (None) rather than slowing the page: the full
figures are ``hub referrals report``'s.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hub.fhir.history import history
from hub.fhir.store import FhirStore
from referral.report import referral_versions
from referral.rules import PROCESS_REQUEST, TASK_CODE_SYSTEM
from referral.stats import milestones

MAX_VERSIONS = 2_000  # one page of the history: waits cost at most one read
TAKEN = "accepted,in-progress,completed"  # accepted, whatever happened after


@dataclass(frozen=True)
class ReferralDay:
    day: date
    made: int
    accepted: int  # of those made that day, accepted since
    median_hours_to_accept: float | None  # None: none accepted, or waits left out


def referral_days(store: FhirStore, first: date, days: int, zone: ZoneInfo) -> list[ReferralDay]:
    """The referrals made on each of ``days`` local days from ``first``."""
    dates = [first + timedelta(days=n) for n in range(days)]
    waits = _waits(store, first, dates, zone)
    return [
        ReferralDay(day, _count(store, day, zone), _count(store, day, zone, TAKEN),
                    _median(waits.get(day, [])))
        for day in dates
    ]  # fmt: skip


def _count(store: FhirStore, day: date, zone: ZoneInfo, status: str | None = None) -> int:
    """Referrals authored on the local ``day`` (a date is its whole day in the region's zone)."""
    query = [
        ("code", f"{TASK_CODE_SYSTEM}|{PROCESS_REQUEST}"),
        ("authored-on", day.isoformat()),
        ("_summary", "count"),
    ]
    query += [("status", status)] if status else []
    return int(store.search("Task", query).total or 0)


def _waits(
    store: FhirStore, first: date, dates: list[date], zone: ZoneInfo
) -> dict[date, list[float]]:
    since = datetime.combine(first, time(0), tzinfo=zone)
    _, versions = history(store, "Task", None, count=1, since=since)
    if versions > MAX_VERSIONS:
        return {}
    waits: dict[date, list[float]] = {day: [] for day in dates}
    for found in referral_versions(store, since=since).versions.values():
        marks = milestones(found)
        day = marks.created.astimezone(zone).date()
        if day in waits and marks.accepted is not None:
            waits[day].append((marks.accepted - marks.created).total_seconds() / 3600)
    return waits


def _median(hours: list[float]) -> float | None:
    return round(statistics.median(hours), 2) if hours else None
