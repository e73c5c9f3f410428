"""Referral figures per local day, for the console's charts: how many referrals were made and
how many of them were accepted (counted by the store in one statement, ``count_each``: each
figure the ``_summary=count`` of ``authored-on=<day>``, with the status for the accepted), and
how long they waited for acceptance (median hours, from the Tasks'
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
    counts = _counts(store, dates)
    return [
        ReferralDay(day, counts[day, False], counts[day, True], _median(waits.get(day, [])))
        for day in dates
    ]


def _counts(store: FhirStore, dates: list[date]) -> dict[tuple[date, bool], int]:
    """Referrals authored on each local day (a date is its whole day in the region's zone),
    all and accepted since: (day, accepted) -> count. The window as one criterion of ORed days
    (two, ge and lt, on one date parameter are planned badly by PostgreSQL)."""
    query = [
        ("code", f"{TASK_CODE_SYSTEM}|{PROCESS_REQUEST}"),
        ("authored-on", ",".join(d.isoformat() for d in dates)),
    ]
    each = {
        (day, taken): [("authored-on", day.isoformat()), *([("status", TAKEN)] if taken else [])]
        for day in dates
        for taken in (False, True)
    }
    return store.count_each("Task", query, each)


def _waits(
    store: FhirStore, first: date, dates: list[date], zone: ZoneInfo
) -> dict[date, list[float]]:
    since = datetime.combine(first, time(0), tzinfo=zone)
    _, versions = history(store, "Task", None, count=1, since=since, total_up_to=MAX_VERSIONS + 1)
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
