"""The hospital's reports on the hub's bookings: arrival, visit done, no-show.

Three ways in, one rule: an SIU S14/S26 naming the hub's Appointment id (``report_status``), an
ADT A04 registering the patient at the facility on the day of a booking there
(``arrival_registered``), or a plain FHIR update. Each ends as an Appointment write, so the
booking hook (:func:`check_report`) applies the rule on every path: only the facility whose
Schedule holds the slot (or the hub itself) may set a reported status, and such a write changes
the status alone. A no-show gives the place back and counts against the person (the ledger and
``fair_use_ledger.record_noshow``, through the same hook).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.auth.roles import FACILITY_ROLES, Role
from hub.fhir.search.dates import date_range
from hub.fhir.store import FhirStore
from hub.fhir.write_hooks import WriteKind
from referral.scheduling import store_access as hub
from referral.scheduling.capacity import PlaceState
from referral.scheduling.config import load_booking_config
from referral.scheduling.errors import BookingError
from referral.scheduling.fair_use import day_window
from referral.scheduling.his_events import REPORTABLE, only_status_changed
from referral.scheduling.models import PlaceRow, SlotCapacityRow
from referral.scheduling.resources import reference_id

ARRIVING_ENCOUNTER = frozenset({"arrived", "triaged", "in-progress"})
NOT_SLOT_OWNER = (
    "only the facility that owns the appointment's slot may report arrival, completion or no-show"
)


def check_report(store: FhirStore, appointment: dict[str, Any], slot_id: str) -> None:
    """Refuse a reported status set by anyone but the slot's owner, or with other changes."""
    previous = hub.previous_version(store, appointment)
    if previous is None or previous.get("status") == appointment.get("status"):
        return
    role = store.actor.role
    if role in FACILITY_ROLES or role is Role.patient:
        owner = _owner_of_slot(store, slot_id)
        if role is Role.patient or owner is None or owner != store.actor.facility:
            raise BookingError("not-slot-owner", NOT_SLOT_OWNER)
    if not only_status_changed(previous, appointment):
        raise BookingError(
            "status-only", "a report of arrival, completion or no-show changes the status alone"
        )


def _owner_of_slot(store: FhirStore, slot_id: str) -> str | None:
    schedule = store.session.get(SlotCapacityRow, slot_id)
    return hub.slot_owner(store, schedule.schedule_id) if schedule is not None else None


def owns_booking(session: Session, facility: str, appointment_id: str) -> bool:
    """Whether ``facility`` owns the slot of the hub's Appointment (False for one the ledger
    does not know): the hub's own reads, so an HIS's report is judged before it is
    acknowledged, and answered alike for another facility's booking and for no booking."""
    schedule_id = session.execute(
        select(SlotCapacityRow.schedule_id)
        .join(PlaceRow, PlaceRow.slot_id == SlotCapacityRow.slot_id)
        .where(PlaceRow.appointment_id == appointment_id)
    ).scalar_one_or_none()
    if schedule_id is None:
        return False
    return hub.slot_owner(hub.system_store(session), schedule_id) == facility


def report_status(store: FhirStore, appointment_id: str, status: str) -> dict[str, Any]:
    """An HIS's report as a write of the current Appointment with ``status`` (a replayed
    report writes nothing). The owner is checked here as the reporting facility; the write is
    the hub's (the Appointment's origin is the hub, and a facility may not rewrite another's
    record), so the store's write rules stay as they are."""
    if status not in REPORTABLE:
        raise BookingError("status-only", f"{status!r} is not a status a hospital reports")
    system = hub.as_system(store)
    current = hub.read(system, "Appointment", appointment_id)
    if current.get("status") == status:
        return current
    if not owns_booking(store.session, store.actor.facility, appointment_id):
        raise BookingError("not-slot-owner", NOT_SLOT_OWNER)
    body = {k: v for k, v in current.items() if k != "meta"}
    return hub.put(system, dict(body, status=status))


def arrival_registered(
    store: FhirStore, kind: WriteKind, resource_type: str, encounter: dict[str, Any]
) -> None:
    """Encounter write hook: a facility opening a visit (ADT A04, or any new Encounter) for a
    person booked at that facility that day marks those bookings ``arrived``."""
    if kind is not WriteKind.CREATE or store.actor.role not in FACILITY_ROLES:
        return
    patient = reference_id(encounter.get("subject"), "Patient")
    if patient is None or encounter.get("status") not in ARRIVING_ENCOUNTER:
        return
    started = str((encounter.get("period") or {}).get("start") or "")
    if started and len(started) < len("YYYY-MM-DD"):
        return  # a visit known only to the year or month is no day's arrival
    when = date_range(started)[0] if started else datetime.now(UTC)
    window = day_window(when, load_booking_config().timezone)
    rows = store.session.execute(
        select(PlaceRow.appointment_id, SlotCapacityRow.schedule_id)
        .join(SlotCapacityRow, SlotCapacityRow.slot_id == PlaceRow.slot_id)
        .where(
            PlaceRow.person_key == hub.person_key(store.session, patient),
            PlaceRow.state == PlaceState.BOOKED,
            SlotCapacityRow.start >= window[0],
            SlotCapacityRow.start < window[1],
        )
        .order_by(SlotCapacityRow.start)
    ).all()
    for appointment_id, schedule_id in rows:
        if hub.slot_owner(store, schedule_id) == store.actor.facility:
            current = hub.read(store, "Appointment", appointment_id)
            if current.get("status") == "booked":
                report_status(store, appointment_id, "arrived")
