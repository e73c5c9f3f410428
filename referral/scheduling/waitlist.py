"""The waitlist (候补): people waiting for a place in a full slot, offered a freed place in turn.

Joining is an Appointment written ``waitlist`` naming the Slot and the Patient. When a place
is given back (a cancellation, a no-show, a lapsed hold swept), the first person waiting is
offered it in the same transaction: their Appointment becomes ``pending`` with a hold expiry,
so the existing hold takes the place and lapses by itself when they do not book it.

An entry is claimed for an offer by one conditional update of a row locked with ``SKIP LOCKED``
(PostgreSQL): two places freed at once go to two different people, and one place freed is
offered once, whoever races.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.fhir.store import FhirStore
from referral.scheduling import store_access as hub
from referral.scheduling.capacity import booking_limit, hold_expiry
from referral.scheduling.config import load_booking_config
from referral.scheduling.errors import BookingError
from referral.scheduling.ledger import BookingRefused, availability, insert_for
from referral.scheduling.models import WaitlistRow
from referral.scheduling.resources import with_hold_expiry

WAITING, OFFERED, SKIPPED, LEFT = "waiting", "offered", "skipped", "left"
# an offer that cannot be held for these reasons is the place's problem, not the person's:
# the entry keeps its turn
_PLACE_GONE = frozenset({"slot-full", "slot-referral-only", "slot-past", "unknown-slot"})


def join(session: Session, slot_id: str, appointment_id: str, person_key: str) -> None:
    """Put the person in line for the slot; refused while it has a place to book."""
    now = datetime.now(UTC)
    free = availability(session, [slot_id], now).get(slot_id)
    if free is None:
        raise BookingRefused("unknown-slot", f"Slot/{slot_id} is not a bookable slot")
    if free.booked < booking_limit(free.capacity, free.reserved, referral=False):
        raise BookingRefused("slot-not-full", f"Slot/{slot_id} has a free place: book it")
    savepoint = session.begin_nested()
    try:
        session.execute(
            insert_for(session)(WaitlistRow).values(
                slot_id=slot_id,
                appointment_id=appointment_id,
                person_key=person_key,
                state=WAITING,
                created=now,
            )
        )
    except IntegrityError:
        savepoint.rollback()
        raise BookingRefused(
            "already-waiting", "this patient is already on the waitlist of this slot"
        ) from None
    savepoint.commit()


def leave(session: Session, appointment_id: str) -> None:
    session.execute(
        update(WaitlistRow)
        .where(WaitlistRow.appointment_id == appointment_id, WaitlistRow.state == WAITING)
        .values(state=LEFT)
    )


def is_waiting(session: Session, appointment_id: str) -> bool:
    return (
        session.execute(
            select(WaitlistRow.id).where(
                WaitlistRow.appointment_id == appointment_id, WaitlistRow.state == WAITING
            )
        ).first()
        is not None
    )


def _claim_next(session: Session, slot_id: str, now: datetime) -> str | None:
    """Mark the first waiting entry of the slot offered; its Appointment, or None."""
    first = (
        select(WaitlistRow.id)
        .where(WaitlistRow.slot_id == slot_id, WaitlistRow.state == WAITING)
        .order_by(WaitlistRow.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return session.execute(
        update(WaitlistRow)
        .where(WaitlistRow.id == first, WaitlistRow.state == WAITING)
        .values(state=OFFERED, offered=now)
        .returning(WaitlistRow.appointment_id)
    ).scalar_one_or_none()


def _mark(session: Session, appointment_id: str, state: str) -> None:
    session.execute(
        update(WaitlistRow).where(WaitlistRow.appointment_id == appointment_id).values(state=state)
    )


def offer_freed_place(store: FhirStore, slot_id: str) -> str | None:
    """Offer a place of the slot to the first in line who may take it (a hold that lapses);
    returns their Appointment, or None when nobody waits or the place is gone."""
    session = store.session
    system = hub.as_system(store)
    while True:
        now = datetime.now(UTC)
        savepoint = session.begin_nested()
        appointment_id = _claim_next(session, slot_id, now)
        if appointment_id is None:
            savepoint.rollback()
            return None
        waiting = hub.read(system, "Appointment", appointment_id)
        expires = hold_expiry(now, load_booking_config().hold_minutes)
        try:
            hub.put(system, with_hold_expiry(dict(waiting, status="pending"), expires))
        except BookingError as refused:
            savepoint.rollback()
            if refused.reason in _PLACE_GONE:
                return None
            _mark(session, appointment_id, SKIPPED)  # this person may not take it: next
            continue
        savepoint.commit()
        return appointment_id
