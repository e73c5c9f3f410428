"""The fair-use rules, enforced in the booking's transaction and held by the database.

Before a place is taken, the person's lock row (``booking_person``) is upserted: the upsert
locks that row until the transaction ends, so two bookings of one person run their checks one
after the other and the second counts the first's place (PostgreSQL's read committed takes a new
snapshot per statement; SQLite has one writer at a time). The counts read ``booking_place``
itself, so a cancelled, released or lapsed place stops counting with no counter to keep in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from referral.scheduling.capacity import PlaceState
from referral.scheduling.config import BookingConfig
from referral.scheduling.fair_use import (
    FairUseRules,
    day_window,
    session_window,
    suspended_until,
)
from referral.scheduling.ledger import BookingRefused, insert_for
from referral.scheduling.models import NoShowRow, PersonLockRow, PlaceRow, SlotCapacityRow


@dataclass(frozen=True)
class Booker:
    person_key: str
    appointment_id: str  # not counted against itself (a reschedule moves it)
    slot_id: str


def lock_person(session: Session, person_key: str, now: datetime) -> None:
    """Take the person's lock row (created on first use) until the transaction ends."""
    statement = insert_for(session)(PersonLockRow).values(person_key=person_key, touched=now)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[PersonLockRow.person_key], set_={"touched": now}
        )
    )


def check_rules(
    session: Session, booker: Booker, now: datetime, rules: FairUseRules, config: BookingConfig
) -> None:
    """Refuse a place the rules forbid; call with the person's lock held (:func:`lock_person`)."""
    until = suspended_until(_noshows(session, booker.person_key, now, rules), now, rules)
    if until is not None:
        raise BookingRefused(
            "booking-suspended",
            f"booking is suspended until {until.date().isoformat()} after repeated no-shows",
        )
    slot = session.get(SlotCapacityRow, booker.slot_id)
    if slot is None:
        return  # taking the place refuses it (unknown-slot)
    day = day_window(slot.start, config.timezone)
    sitting = session_window(slot.start, config.timezone, rules.session_split)
    in_day, in_sitting = _active_places(session, booker, now, day, sitting, slot.schedule_id)
    if in_day >= rules.max_active_per_day:
        raise BookingRefused(
            "daily-limit",
            f"at most {rules.max_active_per_day} active bookings per person on one day",
        )
    if in_sitting >= rules.max_per_department_session:
        raise BookingRefused(
            "session-limit",
            f"at most {rules.max_per_department_session} booking(s) per person "
            "in one department's session",
        )


def _active_places(
    session: Session,
    booker: Booker,
    now: datetime,
    day: tuple[datetime, datetime],
    sitting: tuple[datetime, datetime],
    schedule_id: str,
) -> tuple[int, int]:
    """The person's other active places on the slot's day, and in its department's session:
    both counted by one statement."""
    live_hold = and_(PlaceRow.state == PlaceState.HELD, PlaceRow.hold_expires > now)
    start = SlotCapacityRow.start
    in_day = and_(start >= day[0], start < day[1])
    in_sitting = and_(start >= sitting[0], start < sitting[1])
    same_department = SlotCapacityRow.schedule_id == schedule_id
    statement = (
        select(func.count().filter(in_day), func.count().filter(and_(in_sitting, same_department)))
        .select_from(PlaceRow)
        .join(SlotCapacityRow, SlotCapacityRow.slot_id == PlaceRow.slot_id)
        .where(
            PlaceRow.person_key == booker.person_key,
            PlaceRow.appointment_id != booker.appointment_id,
            PlaceRow.slot_id != booker.slot_id,  # a second place there is a duplicate-booking
            or_(PlaceRow.state == PlaceState.BOOKED, live_hold),
            or_(in_day, in_sitting),
        )
    )
    per_day, per_sitting = session.execute(statement).one()
    return int(per_day), int(per_sitting)


def _noshows(
    session: Session, person_key: str, now: datetime, rules: FairUseRules
) -> list[datetime]:
    return list(
        session.execute(
            select(NoShowRow.slot_start).where(
                NoShowRow.person_key == person_key,
                NoShowRow.slot_start > now - rules.noshow_lookback,
            )
        ).scalars()
    )


def record_noshow(session: Session, appointment_id: str, now: datetime) -> bool:
    """Count the appointment's no-show against its person, once; False when already counted
    or the appointment never held a place."""
    row = session.execute(
        select(PlaceRow.person_key, SlotCapacityRow.start)
        .join(SlotCapacityRow, SlotCapacityRow.slot_id == PlaceRow.slot_id)
        .where(PlaceRow.appointment_id == appointment_id)
    ).first()
    if row is None:
        return False
    inserted = session.execute(
        insert_for(session)(NoShowRow)
        .values(appointment_id=appointment_id, person_key=row[0], slot_start=row[1], recorded=now)
        .on_conflict_do_nothing()
        .returning(NoShowRow.appointment_id)
    ).first()
    return inserted is not None


def noshow_count(session: Session, person_key: str, since: datetime) -> int:
    return int(
        session.execute(
            select(func.count())
            .select_from(NoShowRow)
            .where(NoShowRow.person_key == person_key, NoShowRow.slot_start > since)
        ).scalar_one()
    )
