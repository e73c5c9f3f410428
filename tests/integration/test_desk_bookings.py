"""The referral desk's read model and marks (referral/scheduling/desk.py), below the console:
its facility's slots and bookings of a day, and a no-show or an arrival marked only by the
slot's owner, once, audited under the desk's name."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from hub.audit.models import AuditRecord
from hub.auth.actor import Actor
from hub.auth.roles import DEFAULT_SCOPES, Role
from hub.db import session_scope
from hub.errors import NotFound
from hub.fhir.store import FhirStore
from hub.security.fields import get_cipher
from hub.settings import get_settings
from referral.scheduling import desk, store_access
from referral.scheduling.errors import BookingError
from referral.scheduling.fair_use_ledger import noshow_count
from tests.integration.desk_parties import Booked, appointment_status, book, new_facility

pytestmark = pytest.mark.usefixtures("database")


def desk_actor(code: str) -> Actor:
    return Actor.build(client_id=f"desk-{code}-{uuid.uuid4().hex[:6]}", facility=code,
                       role=Role.practitioner, scope=DEFAULT_SCOPES[Role.practitioner])  # fmt: skip


def as_desk(actor: Actor, call: Any, *args: Any, **kwargs: Any) -> Any:
    with session_scope() as session:
        store = FhirStore(session, actor, get_cipher(), get_settings().fhir_base_url)
        return call(store, *args, **kwargs)


@pytest.fixture
def booked() -> Booked:
    """A fresh facility with one slot in two minutes' time, booked once by its own system."""
    return book()


def test_the_desk_sees_its_slots_places_and_bookings_of_the_day(booked: Booked) -> None:
    actor = desk_actor(booked.owner)
    [line] = as_desk(actor, desk.day_slots, booked.owner, booked.day)
    assert (line.slot_id, line.capacity, line.booked, line.free) == (booked.slot, 2, 1, 1)
    assert line.department == "心内科"
    [entry] = as_desk(actor, desk.day_bookings, booked.owner, booked.day)
    assert entry.appointment_id == booked.appointment["id"]
    assert (entry.status, entry.place) == ("booked", "booked")
    assert entry.patient == f"Patient/{booked.patient['id']}"
    assert entry.patient_name == booked.patient_name
    [day] = as_desk(actor, desk.fill_rate, booked.owner, booked.day, 1)
    assert (day.capacity, day.booked, day.rate) == (2, 1, 0.5)


def test_another_facilitys_desk_sees_none_of_its_slots_or_bookings(
    booked: Booked,
) -> None:
    other = new_facility()
    actor = desk_actor(other)
    assert as_desk(actor, desk.day_slots, other, booked.day) == []
    assert as_desk(actor, desk.day_bookings, other, booked.day) == []


def test_a_noshow_is_marked_once_by_the_owner_counted_once_and_audited(
    booked: Booked,
) -> None:
    actor = desk_actor(booked.owner)
    appointment_id = booked.appointment["id"]
    after_start = booked.start + timedelta(minutes=1)
    for _ in range(2):  # the second mark changes nothing and counts nothing again
        as_desk(actor, desk.mark_attendance, appointment_id, "noshow", now=after_start)
    assert appointment_status(appointment_id) == "noshow"
    with session_scope() as session:
        person = store_access.person_key(session, booked.patient["id"])
        assert noshow_count(session, person, booked.start - timedelta(days=1)) == 1
        records = session.scalars(
            select(AuditRecord).where(
                AuditRecord.client_id == actor.client_id, AuditRecord.interaction == "update"
            )
        ).all()
    assert [r.resources for r in records] == [f'["Appointment/{appointment_id}"]']
    [line] = as_desk(actor, desk.day_slots, booked.owner, booked.day)
    assert line.booked == 0  # the place was given back
    [noshow] = as_desk(actor, desk.day_noshows, booked.owner, booked.day)
    assert noshow.appointment_id == appointment_id


def test_an_arrival_is_marked_by_the_owner(booked: Booked) -> None:
    actor = desk_actor(booked.owner)
    as_desk(actor, desk.mark_attendance, booked.appointment["id"], "arrived")
    assert appointment_status(booked.appointment["id"]) == "arrived"


def test_the_desk_refuses_a_noshow_before_the_slot_and_another_status(
    booked: Booked,
) -> None:
    actor = desk_actor(booked.owner)
    appointment_id = booked.appointment["id"]
    with pytest.raises(BookingError) as early:
        as_desk(actor, desk.mark_attendance, appointment_id, "noshow")
    assert early.value.reason == "slot-not-begun"
    with pytest.raises(Exception, match="arrived or noshow"):
        as_desk(actor, desk.mark_attendance, appointment_id, "cancelled")
    assert appointment_status(appointment_id) == "booked"


def test_another_facility_cannot_mark_the_booking_nor_a_forged_id(
    booked: Booked,
) -> None:
    other = new_facility()
    appointment_id = booked.appointment["id"]
    after_start = booked.start + timedelta(minutes=1)
    with pytest.raises((BookingError, NotFound)) as refused:
        as_desk(desk_actor(other), desk.mark_attendance, appointment_id, "noshow", now=after_start)
    assert getattr(refused.value, "reason", "not-found") in ("not-slot-owner", "not-found")
    with pytest.raises(NotFound):
        as_desk(desk_actor(booked.owner), desk.mark_attendance, "no-such-appointment", "noshow")
    assert appointment_status(appointment_id) == "booked"
