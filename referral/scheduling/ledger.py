"""The booking ledger's writes: every one a single conditional statement, held by the database.

No decision here is a read followed by a write. A place is taken by inserting its row (the
unique indexes refuse a second active place of a person in a slot and a second use of an
idempotency key) and by one ``UPDATE ... SET booked = booked + 1 WHERE booked < limit
RETURNING``; a place is given back by one ``UPDATE ... WHERE state IN (active) RETURNING``, so
it is given back once whoever races. Lapsed holds are released by the statement that would
otherwise count them, so an expired hold never blocks a booking, swept or not.

The one read that refuses (``refusal_before_write``) only spares a hopeless write: it runs before
the store writes anything, and a place it lets through is still taken, or refused, by the
conditional update.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, false, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from referral.scheduling.capacity import Place, PlaceState, unavailable
from referral.scheduling.models import ACTIVE_STATES, PlaceRow, SlotCapacityRow


class BookingRefused(Exception):
    """A place cannot be taken; ``reason`` is a stable code an app can show."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class AlreadyRequested(Exception):
    """The idempotency key was used before: the first request's appointment is the answer."""

    def __init__(self, appointment_id: str) -> None:
        super().__init__(f"this booking request was made before: Appointment/{appointment_id}")
        self.appointment_id = appointment_id


@dataclass(frozen=True)
class Claim:
    slot_id: str
    appointment_id: str
    person_key: str
    idempotency_key: str | None
    referral: bool
    hold_expires: datetime | None  # None: a booking, not a hold


@dataclass(frozen=True)
class Availability:
    slot_id: str
    capacity: int
    reserved: int
    booked: int


def insert_for(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def register_slot(
    session: Session, slot_id: str, schedule_id: str, start: datetime, capacity: int, reserved: int
) -> None:
    """Make a Slot bookable, or change its capacity; never below the places already taken.
    One upsert: a new row, or the existing one changed only while its places fit."""
    values = dict(schedule_id=schedule_id, start=start, capacity=capacity, reserved=reserved)
    upsert = insert_for(session)(SlotCapacityRow).values(slot_id=slot_id, booked=0, **values)
    changed = session.execute(
        upsert.on_conflict_do_update(
            index_elements=[SlotCapacityRow.slot_id],
            set_=values,
            where=SlotCapacityRow.booked <= capacity,
        ).returning(SlotCapacityRow.slot_id)
    ).first()
    if changed is None:
        raise BookingRefused(
            "capacity-below-booked", "the slot's capacity cannot drop below its booked places"
        )


def is_bookable(session: Session, slot_id: str) -> bool:
    """Whether the Slot has a row in the ledger (every stored Slot gets one)."""
    found = select(SlotCapacityRow.slot_id).where(SlotCapacityRow.slot_id == slot_id)
    return session.execute(found).first() is not None


def place_of(session: Session, appointment_id: str) -> Place | None:
    row = session.execute(
        select(PlaceRow.slot_id, PlaceRow.state).where(PlaceRow.appointment_id == appointment_id)
    ).first()
    return Place(row[0], PlaceState(row[1])) if row else None


def appointment_for_key(session: Session, key: str) -> str | None:
    return session.execute(
        select(PlaceRow.appointment_id).where(PlaceRow.idempotency_key == key)
    ).scalar_one_or_none()


def take_place(session: Session, claim: Claim, now: datetime) -> tuple[int, int]:
    """Take one place in the slot for the appointment; returns (places now taken, capacity).

    Raises AlreadyRequested for a reused idempotency key and BookingRefused otherwise. The key
    is not looked up first: its unique index refuses the insert, and only then is it read.
    """
    inserted = session.execute(
        insert_for(session)(PlaceRow)
        .values(
            slot_id=claim.slot_id,
            appointment_id=claim.appointment_id,
            person_key=claim.person_key,
            idempotency_key=claim.idempotency_key,
            state=PlaceState.HELD if claim.hold_expires else PlaceState.BOOKED,
            referral=claim.referral,
            hold_expires=claim.hold_expires,
            created=now,
        )
        .on_conflict_do_nothing()
        .returning(PlaceRow.id)
    ).first()
    if inserted is None and not _move_place(session, claim, now):
        _refuse_duplicate(session, claim)
    release_lapsed_holds(session, now, slot_id=claim.slot_id)
    limit = SlotCapacityRow.capacity - (0 if claim.referral else SlotCapacityRow.reserved)
    taken = session.execute(
        update(SlotCapacityRow)
        .where(
            SlotCapacityRow.slot_id == claim.slot_id,
            SlotCapacityRow.start > now,
            SlotCapacityRow.booked < limit,
        )
        .values(booked=SlotCapacityRow.booked + 1)
        .returning(SlotCapacityRow.booked, SlotCapacityRow.capacity)
    ).first()
    if taken is None:
        _refuse_unavailable(session, claim, now)
    assert taken is not None
    return int(taken[0]), int(taken[1])


def refusal_before_write(
    session: Session, slot_id: str, key: str | None, *, referral: bool, now: datetime
) -> BookingRefused | None:
    """The refusal :func:`take_place` would give a new place in the slot, judged from one read
    of the slot's row (no lock, lapsed holds not counted) before anything is written; None
    when a place looks free, the slot is not the ledger's, or the request's key was used before
    (its answer is the first result, which only the ledger gives). Advisory: a slot that fills
    after this read is refused by :func:`take_place`."""
    lapsed = (
        select(func.count())
        .where(
            PlaceRow.slot_id == SlotCapacityRow.slot_id,
            PlaceRow.state == PlaceState.HELD,
            PlaceRow.hold_expires <= now,
        )
        .scalar_subquery()
    )
    used = exists().where(PlaceRow.idempotency_key == key) if key is not None else false()
    row = session.execute(
        select(
            SlotCapacityRow.start,
            SlotCapacityRow.capacity,
            SlotCapacityRow.reserved,
            SlotCapacityRow.booked - lapsed,
            used,
        ).where(SlotCapacityRow.slot_id == slot_id)
    ).first()
    if row is None or row[4]:
        return None
    start, capacity, reserved, taken, _ = row
    reason = unavailable(start, capacity, reserved, taken, referral=referral, now=now)
    return None if reason is None else _refused(reason, slot_id)


def _move_place(session: Session, claim: Claim, now: datetime) -> bool:
    """A rescheduled appointment takes its new place on its own (released) row: one row per
    appointment, so its idempotency key keeps answering. False when it has no such row."""
    try:
        with session.begin_nested():  # the person may already hold a place in the new slot
            moved = session.execute(
                update(PlaceRow)
                .where(
                    PlaceRow.appointment_id == claim.appointment_id,
                    PlaceRow.state.not_in(ACTIVE_STATES),
                )
                .values(
                    slot_id=claim.slot_id,
                    person_key=claim.person_key,
                    state=PlaceState.HELD if claim.hold_expires else PlaceState.BOOKED,
                    referral=claim.referral,
                    hold_expires=claim.hold_expires,
                    created=now,
                    released=None,
                )
                .returning(PlaceRow.id)
            ).first()
    except IntegrityError:
        raise BookingRefused(
            "duplicate-booking", "this patient already holds or has booked a place in this slot"
        ) from None
    return moved is not None


def _refuse_duplicate(session: Session, claim: Claim) -> None:
    """The insert hit a unique index (a concurrent request has committed): which one."""
    if claim.idempotency_key is not None:
        first = appointment_for_key(session, claim.idempotency_key)
        if first is not None:
            raise AlreadyRequested(first)
    if place_of(session, claim.appointment_id) is not None:
        raise BookingRefused("already-placed", "this appointment already has its place")
    raise BookingRefused(
        "duplicate-booking", "this patient already holds or has booked a place in this slot"
    )


def _refuse_unavailable(session: Session, claim: Claim, now: datetime) -> None:
    # Read afresh: a row loaded earlier in the transaction (the fair-use rules) may be stale.
    row = session.get(SlotCapacityRow, claim.slot_id, populate_existing=True)
    if row is None:
        raise BookingRefused("unknown-slot", f"Slot/{claim.slot_id} is not a bookable slot")
    reason = unavailable(
        row.start, row.capacity, row.reserved, row.booked, referral=claim.referral, now=now
    )
    raise _refused(reason or "slot-full", claim.slot_id)


_REFUSALS = {
    "slot-past": "{slot} has already started",
    "slot-referral-only": "the free places of {slot} are reserved for referrals",
    "slot-full": "{slot} has no free place",
}


def _refused(reason: str, slot_id: str) -> BookingRefused:
    return BookingRefused(reason, _REFUSALS[reason].format(slot=f"Slot/{slot_id}"))


def confirm_hold(session: Session, appointment_id: str, now: datetime) -> None:
    """Turn a hold into a booking, unless it has lapsed (then its place is given back)."""
    confirmed = session.execute(
        update(PlaceRow)
        .where(
            PlaceRow.appointment_id == appointment_id,
            PlaceRow.state == PlaceState.HELD,
            PlaceRow.hold_expires > now,
        )
        .values(state=PlaceState.BOOKED, hold_expires=None)
        .returning(PlaceRow.id)
    ).first()
    if confirmed is None:
        raise BookingRefused("hold-expired", "the hold has expired; its place was released")


def give_back(session: Session, appointment_id: str, now: datetime) -> str | None:
    """Release the appointment's place, once: returns its slot when this call released it."""
    released = session.execute(
        update(PlaceRow)
        .where(PlaceRow.appointment_id == appointment_id, PlaceRow.state.in_(ACTIVE_STATES))
        .values(state=PlaceState.RELEASED, released=now)
        .returning(PlaceRow.slot_id)
    ).scalar_one_or_none()
    if released is not None:
        _decrement(session, Counter({released: 1}))
    return released


def release_lapsed_holds(
    session: Session, now: datetime, *, slot_id: str | None = None
) -> list[str]:
    """Release the holds past their expiry (of one slot, or all); returns their appointments."""
    statement = update(PlaceRow).where(
        PlaceRow.state == PlaceState.HELD, PlaceRow.hold_expires <= now
    )
    if slot_id is not None:
        statement = statement.where(PlaceRow.slot_id == slot_id)
    rows = session.execute(
        statement.values(state=PlaceState.LAPSED, released=now).returning(
            PlaceRow.slot_id, PlaceRow.appointment_id
        )
    ).all()
    _decrement(session, Counter(slot for slot, _ in rows))
    return [appointment for _, appointment in rows]


def lapsed_holds(session: Session, limit: int = 500) -> list[str]:
    """Appointments whose hold lapsed (place already given back) and still say ``pending``."""
    return list(
        session.execute(
            select(PlaceRow.appointment_id).where(PlaceRow.state == PlaceState.LAPSED).limit(limit)
        ).scalars()
    )


def settle_lapsed(session: Session, appointment_id: str) -> None:
    session.execute(
        update(PlaceRow)
        .where(PlaceRow.appointment_id == appointment_id, PlaceRow.state == PlaceState.LAPSED)
        .values(state=PlaceState.RELEASED)
    )


def _decrement(session: Session, per_slot: Counter[str]) -> None:
    for slot, count in sorted(per_slot.items()):  # one lock order across slots
        session.execute(
            update(SlotCapacityRow)
            .where(SlotCapacityRow.slot_id == slot)
            .values(booked=SlotCapacityRow.booked - count)
        )


def availability(session: Session, slot_ids: list[str], now: datetime) -> dict[str, Availability]:
    """Places per slot, lapsed holds not counted (read-only: the sweep releases them)."""
    if not slot_ids:
        return {}
    counts = Counter(
        session.execute(
            select(PlaceRow.slot_id).where(
                PlaceRow.slot_id.in_(slot_ids),
                PlaceRow.state == PlaceState.HELD,
                PlaceRow.hold_expires <= now,
            )
        ).scalars()
    )
    rows = session.execute(
        select(SlotCapacityRow).where(SlotCapacityRow.slot_id.in_(slot_ids))
    ).scalars()
    return {
        r.slot_id: Availability(r.slot_id, r.capacity, r.reserved, r.booked - counts[r.slot_id])
        for r in rows
    }
