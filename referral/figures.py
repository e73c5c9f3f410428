"""Referral figures per local day, for the console's charts: how many referrals were made, and
how long they waited for acceptance (median hours), from the Tasks' histories read through the
store as the caller (operators, auditors), so access, consent and audit apply as for the report.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hub.fhir.store import FhirStore
from referral.report import referral_versions
from referral.stats import milestones


@dataclass(frozen=True)
class ReferralDay:
    day: date
    made: int
    accepted: int  # of those made that day, accepted since
    median_hours_to_accept: float | None


def referral_days(store: FhirStore, first: date, days: int, zone: ZoneInfo) -> list[ReferralDay]:
    """The referrals made on each of ``days`` local days from ``first``."""
    since = datetime.combine(first, time(0), tzinfo=zone)
    waits: dict[date, list[float | None]] = {first + timedelta(days=n): [] for n in range(days)}
    for versions in referral_versions(store, since=since).versions.values():
        marks = milestones(versions)
        day = marks.created.astimezone(zone).date()
        if day in waits:
            accepted = marks.accepted
            hours = None if accepted is None else (accepted - marks.created).total_seconds() / 3600
            waits[day].append(hours)
    return [_day(day, found) for day, found in waits.items()]


def _day(day: date, waits: list[float | None]) -> ReferralDay:
    accepted = [h for h in waits if h is not None]
    median = round(statistics.median(accepted), 2) if accepted else None
    return ReferralDay(day, len(waits), len(accepted), median)
