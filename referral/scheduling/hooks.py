"""Write hooks: every Slot and Appointment write, on every path, keeps the ledger in step.

Registered in :mod:`hub.wiring` before the outbound producers, inside the writing transaction:
a refused booking raises, the whole write (resource, audit, outbox rows) rolls back, and the
client gets the refusal as an OperationOutcome. So a plain FHIR ``POST /Appointment`` naming a
Slot books it atomically or answers 409, exactly like ``$hold`` and ``$book``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hub.errors import Conflict
from hub.fhir.store import FhirStore
from hub.fhir.write_hooks import WriteKind
from referral.scheduling import fair_use_ledger, his_reports, ledger, waitlist
from referral.scheduling import store_access as hub
from referral.scheduling.capacity import HOLDING, KEEPING, Action, decide, hold_expiry
from referral.scheduling.config import load_booking_config
from referral.scheduling.errors import BookingError
from referral.scheduling.fair_use import load_fair_use_rules
from referral.scheduling.his_events import REPORTABLE
from referral.scheduling.referrals import referral_accepted
from referral.scheduling.resources import (
    idempotency_key,
    is_referral,
    patient_of,
    reference_id,
    slot_capacity,
    slot_count,
    slot_of,
)


def slot_changed(
    store: FhirStore, kind: WriteKind, resource_type: str, slot: dict[str, Any]
) -> None:
    """A Slot written (job, FHIR client, HL7 SIU) becomes bookable with its capacity."""
    if kind is WriteKind.DELETE:
        return
    schedule = reference_id(slot.get("schedule"), "Schedule") or ""
    capacity, reserved = slot_capacity(slot)
    start = datetime.fromisoformat(str(slot["start"]))
    try:
        ledger.register_slot(store.session, str(slot["id"]), schedule, start, capacity, reserved)
    except ledger.BookingRefused as exc:
        raise BookingError(exc.reason, str(exc)) from None


def refuse_full_slot(
    store: FhirStore, kind: WriteKind, resource_type: str, appointment: dict[str, Any]
) -> None:
    """Before a new Appointment is stored: a place in a slot that has none free for it is
    refused with the ledger's own answer, from one read (no lock), so a release-time surge on
    full slots writes nothing. Advisory: :func:`appointment_changed` still takes the place with
    the ledger's conditional update, which refuses a slot that filled after this read."""
    if kind is not WriteKind.CREATE or appointment.get("status") not in HOLDING | KEEPING:
        return
    slot_id = slot_of(appointment)
    if slot_id is None:
        return
    key, referral = idempotency_key(appointment), is_referral(appointment)
    now = datetime.now(UTC)
    refused = ledger.refusal_before_write(store.session, slot_id, key, referral=referral, now=now)
    if refused is not None:
        raise BookingError(refused.reason, str(refused))


def appointment_changed(
    store: FhirStore, kind: WriteKind, resource_type: str, appointment: dict[str, Any]
) -> None:
    status = None if kind is WriteKind.DELETE else appointment.get("status")
    appointment_id = str(appointment["id"])
    # The store creates only an id it never stored, and a place row is written only here for
    # a stored Appointment: a new one has no place, and is on no waitlist, without asking.
    new = kind is WriteKind.CREATE
    place = None if new else ledger.place_of(store.session, appointment_id)
    if kind is WriteKind.UPDATE and status in REPORTABLE and place is not None:
        his_reports.check_report(store, appointment, place.slot_id)  # the hospital's report
    if place is None and status is not None and slot_count(appointment) > 1:
        raise BookingError("several-slots", "an Appointment books one Slot on this server")
    slot_id = slot_of(appointment)
    now = datetime.now(UTC)
    try:
        if place is None and _waitlist_change(store, appointment, status, slot_id, new=new):
            return
        match decide(place, status, slot_id):
            case Action.HOLD | Action.BOOK as action:
                _take(store, appointment, slot_id, now, hold=action is Action.HOLD)
            case Action.CONFIRM:
                ledger.confirm_hold(store.session, appointment_id, now)
            case Action.RELEASE:
                _give_back(store, appointment_id, now, noshow=status == "noshow")
            case Action.MOVE:
                _lock_and_check(store, appointment, slot_id, now)  # before any slot row lock
                _give_back(store, appointment_id, now)
                _take(store, appointment, slot_id, now, hold=status == "pending")
            case Action.REFUSE:
                raise BookingError(
                    "place-released",
                    "this appointment's place was released (cancelled, or its hold lapsed); "
                    "book a new appointment",
                )
            case Action.NOTHING:
                pass
    except ledger.BookingRefused as exc:
        raise BookingError(exc.reason, str(exc)) from None
    except ledger.AlreadyRequested as exc:
        raise AlreadyBooked(exc.appointment_id) from None


class AlreadyBooked(Conflict):
    """A concurrent retry of the same request (same identifier) lost the race to the first."""

    code = "duplicate"

    def __init__(self, appointment_id: str) -> None:
        super().__init__(
            f"this booking request (its identifier) was made before: Appointment/{appointment_id}"
        )
        self.appointment_id = appointment_id


def _waitlist_change(
    store: FhirStore,
    appointment: dict[str, Any],
    status: str | None,
    slot_id: str | None,
    *,
    new: bool,
) -> bool:
    """Join or leave a slot's waitlist; True when the write was about the waitlist."""
    appointment_id = str(appointment["id"])
    if status == "waitlist" and slot_id is not None:
        person = _person(store, appointment)
        waitlist.join(store.session, slot_id, appointment_id, person)
        return True
    if status != "waitlist" and not new and waitlist.is_waiting(store.session, appointment_id):
        if status in ("pending", "booked"):
            raise BookingError(
                "waiting", "this appointment is on the waitlist: it is offered a place in turn"
            )
        waitlist.leave(store.session, appointment_id)
        return True
    return False


def _person(store: FhirStore, appointment: dict[str, Any]) -> str:
    """The booked person's key in the patient index; the writer must see the Patient."""
    patient = patient_of(appointment)
    if patient is None:
        raise BookingError(
            "no-patient", "a booking is real-name: a participant must be the Patient booked for"
        )
    hub.read(store, "Patient", patient)  # consent and audit apply
    return hub.person_key(store.session, patient)


def _lock_and_check(
    store: FhirStore, appointment: dict[str, Any], slot_id: str | None, now: datetime
) -> str:
    """Lock the person and apply the fair-use rules to this place; the person's key."""
    assert slot_id is not None
    person = _person(store, appointment)
    booker = fair_use_ledger.Booker(person, str(appointment["id"]), slot_id)
    fair_use_ledger.lock_person(store.session, person, now)
    fair_use_ledger.check_rules(
        store.session, booker, now, load_fair_use_rules(), load_booking_config()
    )
    return person


def _take(
    store: FhirStore, appointment: dict[str, Any], slot_id: str | None, now: datetime, *, hold: bool
) -> None:
    assert slot_id is not None
    person = _lock_and_check(store, appointment, slot_id, now)
    expires = hold_expiry(now, load_booking_config().hold_minutes) if hold else None
    accepted = is_referral(appointment) and referral_accepted(store, appointment)
    claim = ledger.Claim(
        slot_id, str(appointment["id"]), person, idempotency_key(appointment), accepted, expires
    )
    try:
        taken, capacity = ledger.take_place(store.session, claim, now)
    except ledger.BookingRefused as exc:
        if exc.reason == "slot-referral-only" and is_referral(appointment):
            raise ledger.BookingRefused(
                "referral-not-accepted",
                "the places left are kept for referrals, and this appointment's referral "
                "(basedOn) is not an accepted referral of this patient",
            ) from None
        raise
    if taken >= capacity:
        _mark_slot(store, slot_id, "busy")


def _give_back(
    store: FhirStore, appointment_id: str, now: datetime, *, noshow: bool = False
) -> None:
    slot_id = ledger.give_back(store.session, appointment_id, now)
    if slot_id is None:
        return
    if noshow:
        fair_use_ledger.record_noshow(store.session, appointment_id, now)
    if waitlist.offer_freed_place(store, slot_id) is None:
        _mark_slot(store, slot_id, "free")


def _mark_slot(store: FhirStore, slot_id: str, status: str) -> None:
    """Keep ``Slot.status`` (what ``Slot?status=free`` finds) in step with its places: written
    only when it changes, as the hub (the hospital recorded the Slot, not the booker)."""
    system = hub.as_system(store)
    slot = hub.read(system, "Slot", slot_id)
    if slot.get("status") != status:
        hub.put(system, dict(slot, status=status))
