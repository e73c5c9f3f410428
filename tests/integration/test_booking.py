"""Booking over the FHIR API: find -> hold -> book -> cancel, and the refusals around them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update

from hub.auth.roles import Role
from hub.db import session_scope
from referral.scheduling import ledger
from referral.scheduling.models import PlaceRow
from referral.scheduling.resources import CAPACITY_EXTENSION
from tests.integration.booking_helpers import (
    appointment,
    new_patient,
    new_slot,
    parameters,
    refusal,
)


def places(slot: str) -> int:
    with session_scope() as session:
        return ledger.availability(session, [slot], datetime.now(UTC) - timedelta(days=1))[
            slot
        ].booked


def test_find_hold_book_cancel(api: httpx.Client) -> None:
    slot = new_slot(api, capacity=2)
    patient = new_patient(api)
    start = api.get(f"/Slot/{slot}").json()["start"]
    query = {"organization": "H001", "patient": patient, "start": start, "end": start}
    found = api.get("/Appointment/$find", params=query)
    assert found.status_code == 200, found.text
    proposals = [e["resource"] for e in found.json()["entry"]]
    proposal = next(p for p in proposals if p["slot"][0]["reference"] == f"Slot/{slot}")
    assert proposal["status"] == "proposed"

    held = api.post("/Appointment/$hold", json=parameters(appointment_resource=proposal))
    assert held.status_code == 201, held.text
    assert held.json()["status"] == "pending"
    assert places(slot) == 1

    reference = {"reference": f"Appointment/{held.json()['id']}"}
    booked = api.post("/Appointment/$book", json=parameters(appointment_reference=reference))
    assert booked.status_code == 200, booked.text
    assert booked.json()["status"] == "booked"
    assert places(slot) == 1  # the hold became the booking; nothing taken twice

    cancelled = api.post(f"/Appointment/{held.json()['id']}/$cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert places(slot) == 0
    again = api.post(f"/Appointment/{held.json()['id']}/$cancel")
    assert again.status_code == 200
    assert places(slot) == 0  # released exactly once


def test_appointment_create_books_until_full_then_409(api: httpx.Client) -> None:
    slot = new_slot(api, capacity=2)
    for _ in range(2):
        response = api.post("/Appointment", json=appointment(slot, new_patient(api)))
        assert response.status_code == 201, response.text
    full = api.post("/Appointment", json=appointment(slot, new_patient(api)))
    assert full.status_code == 409 and refusal(full) == "slot-full"
    assert places(slot) == 2
    assert api.get(f"/Slot/{slot}").json()["status"] == "busy"
    assert api.get("/Slot", params={"_id": slot, "status": "free"}).json()["total"] == 0


def test_one_person_one_place_per_slot(api: httpx.Client) -> None:
    slot, patient = new_slot(api, capacity=5), new_patient(api)
    assert api.post("/Appointment", json=appointment(slot, patient)).status_code == 201
    twice = api.post("/Appointment", json=appointment(slot, patient))
    assert twice.status_code == 409 and refusal(twice) == "duplicate-booking"
    assert places(slot) == 1


def test_a_retried_request_books_nothing_more(api: httpx.Client) -> None:
    slot, patient = new_slot(api, capacity=5), new_patient(api)
    body = appointment(slot, patient, key="retry-" + slot)
    criteria = {"If-None-Exist": f"identifier=urn:test:booking-request|retry-{slot}"}
    first = api.post("/Appointment", json=body, headers=criteria)
    retry = api.post("/Appointment", json=body, headers=criteria)
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json()["id"] == first.json()["id"]
    via_book = api.post("/Appointment/$book", json=parameters(appointment_resource=body))
    assert via_book.status_code == 200 and via_book.json()["id"] == first.json()["id"]
    assert places(slot) == 1


def test_referral_share_needs_a_referral(api: httpx.Client) -> None:
    slot = new_slot(api, capacity=2, reserved=1)
    assert api.post("/Appointment", json=appointment(slot, new_patient(api))).status_code == 201
    general = api.post("/Appointment", json=appointment(slot, new_patient(api)))
    assert general.status_code == 409 and refusal(general) == "slot-referral-only"


def test_forged_past_and_unbookable_slots(api: httpx.Client) -> None:
    patient = new_patient(api)
    forged = api.post("/Appointment", json=appointment("no-such-slot", patient))
    assert forged.status_code == 400, forged.text
    past = new_slot(api, capacity=1, hours_ahead=-2)
    late = api.post("/Appointment", json=appointment(past, patient))
    assert late.status_code == 409 and refusal(late) == "slot-past"
    nobody = appointment(new_slot(api, capacity=1), patient)
    nobody["participant"] = [{"actor": {"reference": "Organization/H001"}, "status": "accepted"}]
    anonymous = api.post("/Appointment", json=nobody)
    assert anonymous.status_code == 400 and refusal(anonymous) == "no-patient"
    assert places(past) == 0


def test_a_lapsed_hold_frees_its_place_without_a_sweep(api: httpx.Client) -> None:
    from referral.scheduling.service import sweep_lapsed_holds

    slot = new_slot(api, capacity=1)
    held = api.post("/Appointment", json=appointment(slot, new_patient(api), status="pending"))
    assert held.status_code == 201, held.text
    other = new_patient(api)
    assert api.post("/Appointment", json=appointment(slot, other)).status_code == 409
    with session_scope() as session:  # the hold's expiry passes
        session.execute(
            update(PlaceRow)
            .where(PlaceRow.appointment_id == held.json()["id"])
            .values(hold_expires=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert api.post("/Appointment", json=appointment(slot, other)).status_code == 201
    assert places(slot) == 1
    late = api.post(
        "/Appointment/$book",
        json=parameters(appointment_reference={"reference": f"Appointment/{held.json()['id']}"}),
    )
    assert late.status_code == 409 and refusal(late) == "place-released"
    with session_scope() as session:
        sweep_lapsed_holds(session)
    assert api.get(f"/Appointment/{held.json()['id']}").json()["status"] == "cancelled"
    assert places(slot) == 1


def test_others_cannot_cancel_a_booking(
    api: httpx.Client, client_for: Callable[..., httpx.Client]
) -> None:
    slot, patient = new_slot(api, capacity=3), new_patient(api)
    booked = api.post("/Appointment", json=appointment(slot, patient))
    assert booked.status_code == 201
    appointment_id = booked.json()["id"]
    other_facility = client_for(facility="H002")
    refused = other_facility.post(f"/Appointment/{appointment_id}/$cancel")
    assert refused.status_code in (403, 404), refused.text
    cancelled = dict(booked.json(), status="cancelled")
    assert other_facility.put(f"/Appointment/{appointment_id}", json=cancelled).status_code in (
        403,
        404,
    )
    stranger = new_patient(api)
    patient_app = client_for(
        role=Role.patient, patient=stranger, scope="patient/Appointment.cruds patient/Patient.rs"
    )
    assert patient_app.post(f"/Appointment/{appointment_id}/$cancel").status_code in (403, 404)
    for_someone_else = patient_app.post("/Appointment", json=appointment(slot, patient))
    assert for_someone_else.status_code == 403
    assert api.get(f"/Appointment/{appointment_id}").json()["status"] == "booked"
    assert places(slot) == 1


def test_a_booking_moves_to_another_slot_and_back(api: httpx.Client) -> None:
    first, second = new_slot(api, capacity=1), new_slot(api, capacity=1, hours_ahead=30)
    patient = new_patient(api)
    booked = api.post("/Appointment", json=appointment(first, patient, key="move-" + first))
    assert booked.status_code == 201, booked.text
    body = booked.json()
    for target, source in ((second, first), (first, second)):  # there, then back again
        body = dict(body, slot=[{"reference": f"Slot/{target}"}])
        moved = api.put(f"/Appointment/{body['id']}", json=body)
        assert moved.status_code == 200, moved.text
        body = moved.json()
        assert (places(target), places(source)) == (1, 0)
    taken = new_slot(api, capacity=1, hours_ahead=40)
    assert api.post("/Appointment", json=appointment(taken, new_patient(api))).status_code == 201
    elsewhere = dict(body, slot=[{"reference": f"Slot/{taken}"}])
    full = api.put(f"/Appointment/{body['id']}", json=elsewhere)
    assert full.status_code == 409 and refusal(full) == "slot-full"
    assert (places(first), places(taken)) == (1, 1)  # refused: the booking keeps its place


def test_a_slots_capacity_changes_but_never_below_its_booked_places(api: httpx.Client) -> None:
    slot = new_slot(api, capacity=2)
    for _ in range(2):
        assert api.post("/Appointment", json=appointment(slot, new_patient(api))).status_code == 201
    current = api.get(f"/Slot/{slot}").json()

    def with_capacity(places: int) -> dict[str, object]:
        others = [e for e in current["extension"] if e["url"] != CAPACITY_EXTENSION]
        capacity = {"url": CAPACITY_EXTENSION, "valuePositiveInt": places}
        return dict(current, extension=[*others, capacity])

    shrunk = api.put(f"/Slot/{slot}", json=with_capacity(1))
    assert shrunk.status_code == 409 and refusal(shrunk) == "capacity-below-booked", shrunk.text
    grown = api.put(f"/Slot/{slot}", json=with_capacity(3))
    assert grown.status_code == 200, grown.text
    with session_scope() as session:
        row = ledger.availability(session, [slot], datetime.now(UTC))[slot]
    assert (row.capacity, row.booked) == (3, 2)
    assert api.post("/Appointment", json=appointment(slot, new_patient(api))).status_code == 201
