"""Booking services: generate slots, find, hold, book, cancel, sweep lapsed holds.

Each takes the caller's store (its session, actor and audit) and never commits; the views and
the CLI own the transaction. The places themselves are taken and given back by the write hooks
(:mod:`referral.scheduling.hooks`), so these services only shape FHIR writes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from hub.errors import InvalidRequest
from hub.fhir.store import FhirStore
from referral.scheduling import ledger, waitlist
from referral.scheduling import store_access as hub
from referral.scheduling.capacity import booking_limit, hold_expiry
from referral.scheduling.config import BookingConfig, load_booking_config
from referral.scheduling.errors import BookingError
from referral.scheduling.hooks import AlreadyBooked
from referral.scheduling.resources import (
    facility_location,
    reference_id,
    schedule_resource,
    slot_resource,
    with_hold_expiry,
)
from referral.scheduling.templates import plan_slots, released_days


def generate_slots(
    session: Session,
    facilities: list[str],
    *,
    days: int,
    now: datetime | None = None,
    config: BookingConfig | None = None,
) -> int:
    """Create the released days' Schedules and Slots of ``facilities`` (up to ``days``
    ahead); returns how many Slots were created. Idempotent: existing slots are left alone."""
    config = config or load_booking_config()
    now = now or datetime.now(UTC)
    store = hub.system_store(session)
    plans = list(plan_slots(facilities, released_days(now, config, days), config))
    known = set(ledger.availability(session, [p.slot_id for p in plans], now))
    schedules: set[str] = set()
    created = 0
    for plan in plans:
        if plan.schedule_id not in schedules:
            schedules.add(plan.schedule_id)
            if not hub.exists(store, "Schedule", plan.schedule_id):
                hub.put(store, schedule_resource(plan))
        if plan.slot_id in known or plan.end <= now:
            continue
        hub.put(store, slot_resource(plan))
        created += 1
    return created


def find_appointments(
    store: FhirStore,
    *,
    start: str | None = None,
    end: str | None = None,
    organization: str | None = None,
    specialty: str | None = None,
    service_type: str | None = None,
    patient: str | None = None,
    referral: bool = False,
    count: int = 20,
) -> list[dict[str, Any]]:
    """ITI-115: proposed Appointments (not stored) for slots with a place free for this
    kind of booking, earliest first."""
    params: list[tuple[str, str]] = [("status", "free"), ("_sort", "start")]
    params += [("start", f"ge{start}")] if start else []
    params += [("start", f"le{end}")] if end else []
    where = f"Location/{facility_location(organization)}" if organization else None
    params += [("schedule.actor", where)] if where else []
    params += [("specialty", specialty)] if specialty else []
    params += [("service-type", service_type)] if service_type else []
    slots = hub.search(store, "Slot", params)
    now = datetime.now(UTC)
    places = ledger.availability(store.session, [s["id"] for s in slots], now)
    proposals = []
    for slot in slots:
        free = places.get(slot["id"])
        if free is None or free.booked >= booking_limit(free.capacity, free.reserved, referral):
            continue
        if datetime.fromisoformat(slot["start"]) <= now:
            continue
        proposals.append(_proposal(slot, patient))
        if len(proposals) >= count:
            break
    return proposals


def _proposal(slot: dict[str, Any], patient: str | None) -> dict[str, Any]:
    participants: list[dict[str, Any]] = []
    if patient:
        participants.append(
            {"actor": {"reference": f"Patient/{patient}"}, "status": "needs-action"}
        )
    schedule = reference_id(slot.get("schedule"), "Schedule")
    if schedule:
        participants.append({"actor": {"reference": f"Schedule/{schedule}"}, "status": "accepted"})
    return {
        "resourceType": "Appointment",
        "status": "proposed",
        "serviceType": slot.get("serviceType", []),
        "specialty": slot.get("specialty", []),
        "start": slot["start"],
        "end": slot["end"],
        "slot": [{"reference": f"Slot/{slot['id']}"}],
        "participant": participants or [{"status": "needs-action"}],
    }


def _pending_from(proposal: dict[str, Any], status: str) -> dict[str, Any]:
    body = {k: v for k, v in proposal.items() if k not in ("id", "meta")}
    body["status"] = status
    # The slot's own times, whatever the client sent: the booking is for that slot.
    participants = [
        p for p in body.get("participant") or [] if reference_id(p.get("actor"), "Schedule") is None
    ]
    body["participant"] = [dict(p, status="accepted") for p in participants]
    return body


def _with_slot_times(store: FhirStore, body: dict[str, Any]) -> dict[str, Any]:
    slots = [reference_id(s, "Slot") for s in body.get("slot") or []]
    if len(slots) != 1 or slots[0] is None:
        raise BookingError("unknown-slot", "the appointment must name one Slot (Slot/id)")
    if not ledger.is_bookable(store.session, slots[0]):
        raise BookingError("unknown-slot", f"Slot/{slots[0]} is not a bookable slot")
    slot = hub.read(store, "Slot", slots[0])
    return dict(body, start=slot["start"], end=slot["end"])


def hold(store: FhirStore, proposal: dict[str, Any]) -> dict[str, Any]:
    """ITI-116: a tentative Appointment (``pending``) holding a place until its expiry."""
    body = _with_slot_times(store, _pending_from(proposal, "pending"))
    expires = hold_expiry(datetime.now(UTC), load_booking_config().hold_minutes)
    return hub.create(store, with_hold_expiry(body, expires))


def book(
    store: FhirStore,
    *,
    appointment_id: str | None = None,
    appointment: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], bool]:
    """ITI-117: book a held Appointment (by reference), or a new one (a resource whose
    identifier is the request's idempotency key), or cancel one (a resource ``cancelled``).
    Returns the Appointment and whether this call created it (False: a replay or a change)."""
    if appointment_id is not None:
        current = hub.read(store, "Appointment", appointment_id)
        if current.get("status") not in ("pending", "booked"):
            raise BookingError("not-a-hold", f"Appointment/{appointment_id} is not held")
        return hub.put(store, dict(current, status="booked")), False
    if appointment is None:
        raise InvalidRequest("$book needs appointment-reference or appointment-resource")
    if appointment.get("status") == "cancelled" and appointment.get("id"):
        return cancel(store, str(appointment["id"])), False
    first = replayed(store, appointment)
    if first is not None:  # a retry: the first result, nothing booked again
        return first, False
    body = _with_slot_times(store, _pending_from(appointment, "booked"))
    savepoint = store.session.begin_nested()
    try:
        created = hub.create(store, body)
    except AlreadyBooked as exc:  # a concurrent retry committed first: its result is ours
        savepoint.rollback()
        return hub.read(store, "Appointment", exc.appointment_id), False
    savepoint.commit()
    return created, True


def replayed(store: FhirStore, appointment: dict[str, Any]) -> dict[str, Any] | None:
    """The first result of a request with this identifier, when there was one."""
    for identifier in appointment.get("identifier") or []:
        if isinstance(identifier, dict) and identifier.get("value"):
            key = f"{identifier.get('system', '')}|{identifier['value']}"[:255]
            first = ledger.appointment_for_key(store.session, key)
            return hub.read(store, "Appointment", first) if first else None
    return None


def cancel(store: FhirStore, appointment_id: str, reason: str | None = None) -> dict[str, Any]:
    """Cancel: the write hook gives the place back, once, however often this is called."""
    current = hub.read(store, "Appointment", appointment_id)
    if current.get("status") == "cancelled":
        return current
    body = dict(current, status="cancelled")
    if reason:
        body["cancelationReason"] = {"text": reason}
    return hub.put(store, body)


def sweep_lapsed_holds(session: Session, now: datetime | None = None) -> int:
    """Give back the places of lapsed holds (the booking statement may have done so already),
    mark their Appointments cancelled and offer the places to the slots' waitlists; returns
    how many Appointments it cancelled."""
    ledger.release_lapsed_holds(session, now or datetime.now(UTC))
    store = hub.system_store(session)
    lapsed = ledger.lapsed_holds(session)
    freed: set[str] = set()
    for appointment_id in lapsed:
        place = ledger.place_of(session, appointment_id)
        freed |= {place.slot_id} if place else set()
        cancel(store, appointment_id, "hold expired")
        ledger.settle_lapsed(session, appointment_id)
    for slot_id in sorted(freed):  # the places freed go to the waitlists, in turn
        waitlist.offer_freed_place(store, slot_id)
    return len(lapsed)
