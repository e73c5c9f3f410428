"""The referral desk's view of its facility's booking: the day's slots and their places, the
day's bookings, the no-shows, and the desk marking an arrival or a no-show.

Slot figures come from the booking ledger (``booking_slot_capacity``); who booked comes from the
store, searched as the desk's own actor, so consent decides and the audit records each look. A
booking whose Appointment or Patient the desk may not see is listed as withheld, never dropped.
Marking goes through the same rule as a hospital's report (``his_reports.report_status``: only
the slot's owner), and is audited under the desk's name in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.audit.service import AuditEntry, record_access
from hub.errors import InvalidRequest
from hub.fhir.store import FhirStore
from referral.scheduling import his_reports
from referral.scheduling import store_access as hub
from referral.scheduling.config import load_booking_config
from referral.scheduling.errors import BookingError
from referral.scheduling.models import NoShowRow, PlaceRow, SlotCapacityRow
from referral.scheduling.resources import facility_location, patient_of, reference_id

DESK_MARKS = frozenset({"arrived", "noshow"})
ID_CHUNK = 100  # ids per ``_id`` search: well inside a URL and the store's page
WITHHELD = None  # a field the desk may not see


@dataclass(frozen=True)
class SlotLine:
    slot_id: str
    schedule_id: str
    department: str
    start: datetime
    capacity: int
    reserved: int
    booked: int

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.booked)


@dataclass(frozen=True)
class BookingLine:
    appointment_id: str
    slot_id: str
    department: str
    start: datetime
    place: str  # the ledger's state: held | booked | released | lapsed
    status: str | None  # Appointment.status; None: withheld by consent
    patient: str | None  # "Patient/<id>"; None: withheld
    patient_name: str | None  # None: withheld (or no name recorded)

    @property
    def withheld(self) -> bool:
        return self.status is None


@dataclass(frozen=True)
class FillDay:
    day: date
    capacity: int
    booked: int

    @property
    def rate(self) -> float:
        return self.booked / self.capacity if self.capacity else 0.0


def local_day_window(day: date) -> tuple[datetime, datetime]:
    zone = load_booking_config().timezone
    begin = datetime.combine(day, time(0), tzinfo=zone)
    return begin, begin + timedelta(days=1)


def today() -> date:
    return datetime.now(UTC).astimezone(load_booking_config().timezone).date()


def facility_departments(store: FhirStore, facility: str) -> dict[str, str]:
    """The facility's Schedules (id -> department name): those whose actor is its Location."""
    found = hub.search(store, "Schedule", [("actor", f"Location/{facility_location(facility)}")])
    return {str(s["id"]): _department(s) for s in found}


def _department(schedule: dict[str, Any]) -> str:
    for concept in schedule.get("specialty") or []:
        for coding in concept.get("coding") or []:
            if coding.get("display") or coding.get("code"):
                return str(coding.get("display") or coding["code"])
        if concept.get("text"):
            return str(concept["text"])
    return str(schedule.get("comment") or schedule["id"])


def day_slots(store: FhirStore, facility: str, day: date) -> list[SlotLine]:
    """The facility's slots on ``day`` (local), with capacity, referral share and places taken."""
    departments = facility_departments(store, facility)
    begin, end = local_day_window(day)
    rows = store.session.execute(
        select(SlotCapacityRow)
        .where(
            SlotCapacityRow.schedule_id.in_(list(departments)),
            SlotCapacityRow.start >= begin,
            SlotCapacityRow.start < end,
        )
        .order_by(SlotCapacityRow.start, SlotCapacityRow.slot_id)
    ).scalars()
    return [
        SlotLine(r.slot_id, r.schedule_id, departments[r.schedule_id], r.start, r.capacity,
                 r.reserved, r.booked)
        for r in rows
    ]  # fmt: skip


def fill_rate(store: FhirStore, facility: str, first: date, days: int) -> list[FillDay]:
    """Places taken over capacity per local day, ``days`` days from ``first``: the ledger's sums."""
    departments = list(facility_departments(store, facility))
    begin, _ = local_day_window(first)
    end = begin + timedelta(days=days)
    rows = store.session.execute(
        select(SlotCapacityRow.start, SlotCapacityRow.capacity, SlotCapacityRow.booked).where(
            SlotCapacityRow.schedule_id.in_(departments),
            SlotCapacityRow.start >= begin,
            SlotCapacityRow.start < end,
        )
    ).all()
    zone = load_booking_config().timezone
    totals = {first + timedelta(days=n): [0, 0] for n in range(days)}
    for start, capacity, booked in rows:
        figures = totals[start.astimezone(zone).date()]
        figures[0] += capacity
        figures[1] += booked
    return [FillDay(day, capacity, booked) for day, (capacity, booked) in totals.items()]


def day_bookings(store: FhirStore, facility: str, day: date) -> list[BookingLine]:
    """Every place taken in the facility's slots on ``day``, earliest first: the Appointment and
    its Patient as the desk may see them (consent decides; what it withholds shows as None)."""
    departments = facility_departments(store, facility)
    begin, end = local_day_window(day)
    places = store.session.execute(
        select(PlaceRow.appointment_id, PlaceRow.slot_id, PlaceRow.state,
               SlotCapacityRow.schedule_id, SlotCapacityRow.start)
        .join(SlotCapacityRow, SlotCapacityRow.slot_id == PlaceRow.slot_id)
        .where(
            SlotCapacityRow.schedule_id.in_(list(departments)),
            SlotCapacityRow.start >= begin,
            SlotCapacityRow.start < end,
        )
        .order_by(SlotCapacityRow.start, PlaceRow.id)
    ).all()  # fmt: skip
    appointments = _visible(store, "Appointment", [p.appointment_id for p in places])
    patients = _visible(
        store, "Patient", [p for a in appointments.values() if (p := patient_of(a))]
    )
    lines = []
    for place in places:
        appointment = appointments.get(place.appointment_id)
        patient_id = patient_of(appointment) if appointment else None
        patient = patients.get(patient_id) if patient_id else None
        lines.append(
            BookingLine(
                place.appointment_id, place.slot_id, departments[place.schedule_id], place.start,
                place.state, appointment.get("status") if appointment else WITHHELD,
                f"Patient/{patient_id}" if patient else WITHHELD,
                display_name(patient) if patient else WITHHELD,
            )
        )  # fmt: skip
    return lines


def _visible(store: FhirStore, resource_type: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The resources of ``ids`` the actor may see, by id: one audited search per chunk."""
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(sorted(set(ids)), ID_CHUNK):
        for resource in hub.search(store, resource_type, [("_id", ",".join(chunk))]):
            found[str(resource["id"])] = resource
    return found


def _chunks(values: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for at in range(0, len(values), size):
        yield values[at : at + size]


def display_name(patient: dict[str, Any]) -> str | None:
    """The patient's name as a desk reads it (Chinese names run family-given, no space)."""
    for name in patient.get("name") or []:
        if name.get("text"):
            return str(name["text"])
        family, given = str(name.get("family") or ""), "".join(name.get("given") or [])
        if family or given:
            return family + given
    return None


def day_noshows(store: FhirStore, facility: str, day: date) -> list[BookingLine]:
    """The day's bookings marked no-show (the ledger counts each once, against the person)."""
    marked = set(_noshow_ids(store.session, local_day_window(day)))
    return [line for line in day_bookings(store, facility, day) if line.appointment_id in marked]


def _noshow_ids(session: Session, window: tuple[datetime, datetime]) -> Iterable[str]:
    return session.execute(
        select(NoShowRow.appointment_id).where(
            NoShowRow.slot_start >= window[0], NoShowRow.slot_start < window[1]
        )
    ).scalars()


def noshow_total(session: Session, facility_schedules: Sequence[str], since: datetime) -> int:
    return int(
        session.execute(
            select(func.count())
            .select_from(NoShowRow)
            .join(PlaceRow, PlaceRow.appointment_id == NoShowRow.appointment_id)
            .join(SlotCapacityRow, SlotCapacityRow.slot_id == PlaceRow.slot_id)
            .where(
                SlotCapacityRow.schedule_id.in_(list(facility_schedules)),
                NoShowRow.slot_start >= since,
            )
        ).scalar_one()
    )


def mark_attendance(
    store: FhirStore, appointment_id: str, status: str, *, now: datetime | None = None
) -> dict[str, Any]:
    """The desk marks a booking ``arrived`` or ``noshow``: the desk must see the Appointment
    (consent, audited read), its facility must own the slot (else 403 ``not-slot-owner``), and
    a no-show only once the slot has begun. The change is the hospital's report on the booking
    (the ledger gives the place back and counts the no-show once) and is audited as the desk's."""
    if status not in DESK_MARKS:
        raise InvalidRequest(f"the desk marks a booking arrived or noshow, not {status!r}")
    appointment = hub.read(store, "Appointment", appointment_id)  # 404 when hidden or unknown
    slot_id = next(
        (s for s in (reference_id(x, "Slot") for x in appointment.get("slot") or []) if s), None
    )
    slot = store.session.get(SlotCapacityRow, slot_id) if slot_id else None
    if slot is None or not his_reports.owns_booking(
        store.session, store.actor.facility, appointment_id
    ):
        raise BookingError("not-slot-owner", his_reports.NOT_SLOT_OWNER)
    if status == "noshow" and slot.start > (now or datetime.now(UTC)):
        raise BookingError("slot-not-begun", "a no-show is marked once the slot has begun")
    if appointment.get("status") == status:
        return appointment  # marked before: nothing changes, nothing counted twice
    if appointment.get("status") != "booked":
        raise BookingError(
            "not-booked", f"Appointment/{appointment_id} is {appointment.get('status')}"
        )
    written = his_reports.report_status(store, appointment_id, status)
    patient = patient_of(written)
    record_access(
        store.session,
        AuditEntry(store.actor, "update", "Appointment", [f"Appointment/{appointment_id}"],
                   [f"Patient/{patient}"] if patient else []),
    )  # fmt: skip
    return written
