"""Slots from session templates, and which days are released: pure, no I/O.

A day's slots are released ``release_days_ahead`` days before it, at ``release_time`` local
time (hospitals release at a fixed hour, e.g. 07:00, seven days ahead). The generation job
creates exactly the released days' slots, so a slot exists (and is bookable) only once its day
is released; slot ids are deterministic, so running the job twice creates nothing new.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from referral.scheduling.config import BookingConfig, Department, ServiceType, SessionTemplate


@dataclass(frozen=True)
class SlotPlan:
    """One slot to create: where, when, for how many, of what kind."""

    facility: str
    department: Department
    start: datetime  # timezone-aware
    end: datetime
    capacity: int
    referral_reserved: int
    service_type: ServiceType
    fee_class: str

    @property
    def schedule_id(self) -> str:
        return schedule_id(self.facility, self.department.code)

    @property
    def slot_id(self) -> str:
        stamp = self.start.strftime("%Y%m%d%H%M")
        return f"{self.facility}-{self.department.code}-{self.service_type.value}-{stamp}"


def schedule_id(facility: str, department: str) -> str:
    return f"sch-{facility}-{department}"


def release_moment(day: date, config: BookingConfig) -> datetime:
    """When the slots of ``day`` open for booking."""
    opens = day - timedelta(days=config.release_days_ahead)
    return datetime.combine(opens, config.release_time, tzinfo=config.timezone)


def released_days(now: datetime, config: BookingConfig, horizon_days: int) -> list[date]:
    """The days from today (local) up to ``horizon_days`` ahead whose slots are released."""
    today = now.astimezone(config.timezone).date()
    days = (today + timedelta(days=n) for n in range(max(0, horizon_days) + 1))
    return [day for day in days if release_moment(day, config) <= now]


def session_slots(
    facility: str,
    department: Department,
    day: date,
    session: SessionTemplate,
    config: BookingConfig,
) -> Iterator[SlotPlan]:
    if day.isoweekday() not in session.weekdays:
        return
    start = datetime.combine(day, session.start, tzinfo=config.timezone)
    close = datetime.combine(day, session.end, tzinfo=config.timezone)
    length = timedelta(minutes=session.slot_minutes)
    while start + length <= close:
        yield SlotPlan(
            facility,
            department,
            start,
            start + length,
            session.capacity,
            session.referral_reserved,
            session.service_type,
            session.fee_class,
        )
        start += length


def plan_slots(
    facilities: list[str], days: list[date], config: BookingConfig
) -> Iterator[SlotPlan]:
    """Every slot of ``days`` for every department of ``facilities``, in time order per day."""
    for facility in facilities:
        for department in config.departments:
            for day in days:
                for session in config.sessions:
                    yield from session_slots(facility, department, day, session, config)
