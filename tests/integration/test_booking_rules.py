"""Fair-use rules and the waitlist over the FHIR API, as an app and a hospital would drive them:
the per-day and per-session limits, the no-show suspension, referral-reserved places, joining a
waitlist and being offered a freed place. The refusals carry their reason codes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from referral.scheduling.fair_use import load_fair_use_rules
from tests.integration.booking_helpers import (
    appointment,
    new_patient,
    new_slot,
    parameters,
    refusal,
)


def slot_beside(api: httpx.Client, slot: str, minutes: int) -> str:
    """Another slot of the same Schedule (department), ``minutes`` after ``slot``."""
    body: dict[str, Any] = api.get(f"/Slot/{slot}").json()
    start = datetime.fromisoformat(body["start"]) + timedelta(minutes=minutes)
    copy = {k: v for k, v in body.items() if k not in ("id", "meta")}
    copy.update(status="free", start=start.isoformat(),
                end=(start + timedelta(minutes=30)).isoformat())  # fmt: skip
    created = api.post("/Slot", json=copy)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def book(api: httpx.Client, slot: str, patient: str) -> httpx.Response:
    return api.post("/Appointment", json=appointment(slot, patient))


def test_one_booking_per_department_session(api: httpx.Client) -> None:
    patient = new_patient(api)
    morning = new_slot(api, capacity=3, hours_ahead=24 * 9)
    same_session = slot_beside(api, morning, 0)
    assert book(api, morning, patient).status_code == 201
    refused = book(api, same_session, patient)
    assert refused.status_code == 409 and refusal(refused) == "session-limit", refused.text
    assert book(api, same_session, new_patient(api)).status_code == 201  # others may


def test_at_most_n_active_bookings_per_day(api: httpx.Client) -> None:
    limit = load_fair_use_rules().max_active_per_day
    patient = new_patient(api)
    # separate departments (each new_slot has its own Schedule) within minutes of each other
    slots = [new_slot(api, capacity=2, hours_ahead=24 * 10 + i / 60) for i in range(limit + 1)]
    made = [book(api, s, patient) for s in slots[:limit]]
    assert [r.status_code for r in made] == [201] * limit
    over = book(api, slots[limit], patient)
    assert over.status_code == 409 and refusal(over) == "daily-limit", over.text
    # a cancellation gives the day's allowance back
    first = made[0].json()["id"]
    assert api.post(f"/Appointment/{first}/$cancel").status_code == 200
    assert book(api, slots[limit], patient).status_code == 201


def test_repeated_noshows_suspend_booking(api: httpx.Client) -> None:
    rules = load_fair_use_rules()
    patient = new_patient(api)
    slot = new_slot(api, capacity=1, hours_ahead=24 * 11)
    for _ in range(rules.noshow_limit):  # the hospital reports each one as a FHIR update
        made = book(api, slot, patient)
        assert made.status_code == 201, made.text
        noshow = dict(made.json(), status="noshow")
        assert api.put(f"/Appointment/{noshow['id']}", json=noshow).status_code == 200
    suspended = book(api, new_slot(api, capacity=1, hours_ahead=24 * 12), patient)
    assert suspended.status_code == 403 and refusal(suspended) == "booking-suspended"
    assert book(api, slot, new_patient(api)).status_code == 201  # the place itself is free


def test_reserved_places_need_an_accepted_referral(api: httpx.Client) -> None:
    slot = new_slot(api, capacity=1, reserved=1, hours_ahead=24 * 13)
    patient = new_patient(api)
    order = {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
             "subject": {"reference": f"Patient/{patient}"}}  # fmt: skip
    request = api.post("/ServiceRequest", json=order)  # an order, not an accepted referral
    assert request.status_code == 201, request.text
    body = appointment(slot, patient)
    body["basedOn"] = [{"reference": f"ServiceRequest/{request.json()['id']}"}]
    refused = api.post("/Appointment", json=body)
    assert refused.status_code == 409 and refusal(refused) == "referral-not-accepted"
    assert api.get(f"/Slot/{slot}").json()["status"] == "free"  # nothing else changed


def test_waitlist_offers_a_freed_place_to_the_first_in_line(api: httpx.Client) -> None:
    slot = new_slot(api, capacity=1, hours_ahead=24 * 14)
    booked = book(api, slot, new_patient(api))
    assert booked.status_code == 201
    early = new_patient(api)
    too_soon = api.post("/Appointment", json=appointment(new_slot(api, capacity=1), early,
                                                          status="waitlist"))  # fmt: skip
    assert too_soon.status_code == 409 and refusal(too_soon) == "slot-not-full"
    first = api.post("/Appointment", json=appointment(slot, early, status="waitlist"))
    second = api.post("/Appointment", json=appointment(slot, new_patient(api), status="waitlist"))
    assert first.status_code == 201 and second.status_code == 201, first.text
    again = api.post("/Appointment", json=appointment(slot, early, status="waitlist"))
    assert again.status_code == 409 and refusal(again) == "already-waiting"
    jumped = dict(second.json(), status="booked")
    queue_jump = api.put(f"/Appointment/{jumped['id']}", json=jumped)
    assert queue_jump.status_code == 409 and refusal(queue_jump) == "waiting"

    assert api.post(f"/Appointment/{booked.json()['id']}/$cancel").status_code == 200
    offered = api.get(f"/Appointment/{first.json()['id']}").json()
    assert offered["status"] == "pending"  # a hold, with its expiry
    assert any("hold-expires" in e["url"] for e in offered["extension"])
    assert api.get(f"/Appointment/{second.json()['id']}").json()["status"] == "waitlist"
    assert api.get(f"/Slot/{slot}").json()["status"] == "busy"  # the place went to the line
    confirm = parameters(appointment_reference={"reference": f"Appointment/{offered['id']}"})
    done = api.post("/Appointment/$book", json=confirm)
    assert done.status_code == 200 and done.json()["status"] == "booked", done.text
