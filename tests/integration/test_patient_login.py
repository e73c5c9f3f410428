"""SMART App Launch, standalone patient access, driven over HTTP as a patient app would: login
with resident ID and one-time code, PKCE, booking for oneself, the person's records at every
hospital, refresh-token rotation; and attacks on another patient's data."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.integration.booking_helpers import appointment, new_slot, parameters
from tests.integration.patient_app import (
    PatientApp,
    new_person_record,
    new_resident_id,
    searchset_ids,
)
from tests.live import LiveHub


def test_discovery_advertises_the_patient_launch(live_hub: LiveHub) -> None:
    config = httpx.get(f"{live_hub.base_url}/.well-known/smart-configuration").json()
    assert config["authorization_endpoint"] == f"{live_hub.base_url}/auth/authorize"
    assert config["code_challenge_methods_supported"] == ["S256"]
    for capability in ("launch-standalone", "client-public", "context-standalone-patient",
                       "permission-v2", "authorize-post"):  # fmt: skip
        assert capability in config["capabilities"]
    assert "authorization_code" in config["grant_types_supported"]


def test_patient_logs_in_books_for_themselves_and_refreshes(
    api: httpx.Client,
    client_for: Callable[..., httpx.Client],
    make_app: Callable[[], PatientApp],
) -> None:
    resident_id = new_resident_id()
    mine_h001 = new_person_record(client_for(facility="H001"), resident_id, ("沈", "秀英"))
    mine_h002 = new_person_record(client_for(facility="H002"), resident_id, ("沈", "秀英"))
    other = new_person_record(api, new_resident_id(), ("韩", "明"))
    slot = new_slot(api, capacity=3)
    theirs = api.post("/Appointment", json=appointment(slot, other))
    assert theirs.status_code == 201, theirs.text
    elsewhere = new_slot(api, capacity=1, hours_ahead=48)  # one person, one place per slot
    at_h002 = client_for(facility="H002").post(
        "/Appointment", json=appointment(elsewhere, mine_h002)
    )
    assert at_h002.status_code == 201, at_h002.text

    app = make_app()
    code = app.log_in(resident_id)
    granted = app.redeem(code)
    assert granted.status_code == 200, granted.text
    tokens = granted.json()
    assert tokens["patient"] in (mine_h001, mine_h002)
    assert "patient/Appointment.cu" in tokens["scope"].split()
    assert granted.headers["cache-control"] == "no-store"

    with app.fhir(tokens["access_token"]) as fhir:
        start = fhir.get(f"/Slot/{slot}").json()["start"]
        query = {"organization": "H001", "patient": tokens["patient"], "start": start, "end": start}
        found = fhir.get("/Appointment/$find", params=query)
        assert found.status_code == 200, found.text
        proposal = next(
            e["resource"]
            for e in found.json()["entry"]
            if e["resource"]["slot"][0]["reference"] == f"Slot/{slot}"
        )
        booked = fhir.post("/Appointment/$book", json=parameters(appointment_resource=proposal))
        assert booked.status_code == 201, booked.text
        mine = booked.json()["id"]

        # the person's appointments at every hospital, and nobody else's
        listed = fhir.get("/Appointment", params={"_count": "100"})
        assert listed.status_code == 200, listed.text
        seen = searchset_ids(listed.json())
        assert {mine, at_h002.json()["id"]} <= seen
        assert theirs.json()["id"] not in seen
        assert fhir.get(f"/Appointment/{at_h002.json()['id']}").status_code == 200
        # attacks: another patient's appointment by id and by search, booking for them
        assert fhir.get(f"/Appointment/{theirs.json()['id']}").status_code == 404
        by_patient = fhir.get("/Appointment", params={"patient": other})
        assert by_patient.status_code == 200 and searchset_ids(by_patient.json()) == set()
        assert fhir.get(f"/Patient/{other}").status_code == 404
        for_them = fhir.post(
            "/Appointment/$book", json=parameters(appointment_resource=appointment(slot, other))
        )
        assert for_them.status_code == 403, for_them.text

    refreshed = app.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()
    assert second["refresh_token"] != tokens["refresh_token"]
    assert second["patient"] == tokens["patient"]
    with app.fhir(second["access_token"]) as fhir:
        assert fhir.get(f"/Appointment/{mine}").status_code == 200

    # the spent refresh token again: a replay, which revokes the whole login
    replay = app.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    revoked = app.token(grant_type="refresh_token", refresh_token=second["refresh_token"])
    assert revoked.status_code == 400 and revoked.json()["error"] == "invalid_grant"
