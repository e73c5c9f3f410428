"""A facility with a slot and a booking, for the referral desk's tests (read model, HTTP,
browser): written in process as the hub and the facility's own system would."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.auth.actor import SYSTEM_ACTOR
from hub.db import session_scope
from referral.scheduling import store_access
from referral.scheduling.config import load_booking_config
from referral.scheduling.resources import CAPACITY_EXTENSION
from tests.integration.test_outbound_delivery import _actor, _code, facility, patient, write

DEPARTMENT = "心内科"


@dataclass(frozen=True)
class Booked:
    owner: str  # the facility whose Schedule holds the slot
    slot: str
    start: datetime
    patient: dict[str, Any]
    appointment: dict[str, Any]

    @property
    def day(self) -> date:
        return self.start.astimezone(load_booking_config().timezone).date()

    @property
    def patient_name(self) -> str:
        name = self.patient["name"][0]
        return str(name["family"]) + "".join(name["given"])


def new_facility() -> str:
    code = _code()
    facility(code)
    return code


def slot(owner: str, start: datetime, capacity: int = 2) -> str:
    schedule = f"sch-desk-{uuid.uuid4().hex[:10]}"
    write(SYSTEM_ACTOR, {"resourceType": "Schedule", "id": schedule,
                         "actor": [{"reference": f"Location/{owner}-loc"}],
                         "specialty": [{"text": DEPARTMENT}]})  # fmt: skip
    [made] = write(SYSTEM_ACTOR, {
        "resourceType": "Slot", "schedule": {"reference": f"Schedule/{schedule}"},
        "status": "free", "start": start.isoformat(),
        "end": (start + timedelta(minutes=15)).isoformat(),
        "extension": [{"url": CAPACITY_EXTENSION, "valuePositiveInt": capacity}],
    })  # fmt: skip
    return str(made["id"])


def booking(slot_id: str, patient_id: str) -> dict[str, Any]:
    return {"resourceType": "Appointment", "status": "booked",
            "slot": [{"reference": f"Slot/{slot_id}"}],
            "participant": [{"actor": {"reference": f"Patient/{patient_id}"},
                             "status": "accepted"}]}  # fmt: skip


def book(owner: str | None = None, minutes_ahead: float = 2) -> Booked:
    """A slot at ``owner`` (a new facility when None) booked once by the facility's system."""
    owner = owner or new_facility()
    start = datetime.now(UTC) + timedelta(minutes=minutes_ahead)
    slot_id = slot(owner, start)
    [pat] = write(_actor(owner), patient(owner, family="欧阳"))
    [appointment] = write(_actor(owner), booking(slot_id, pat["id"]))
    return Booked(owner, slot_id, start, pat, appointment)


def begun(booked: Booked, minutes_ago: float = 5) -> Booked:
    """The hospital moves the slot's session to have begun (as its desk may reschedule)."""
    start = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    with session_scope() as session:
        store = store_access.system_store(session)
        current = store_access.read(store, "Slot", booked.slot)
        end = (start + timedelta(minutes=15)).isoformat()
        store_access.put(store, dict(current, start=start.isoformat(), end=end))
    return Booked(booked.owner, booked.slot, start, booked.patient, booked.appointment)


def appointment_status(appointment_id: str) -> str:
    with session_scope() as session:
        store = store_access.system_store(session)
        return str(store_access.read(store, "Appointment", appointment_id)["status"])
