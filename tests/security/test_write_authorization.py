"""Attacks on the write path, as the issue's attacker ran them: a facility the patient denied
(H002), another facility (H003), a patient's own token. Every one must be refused, change
nothing, and leave a refusal in the audit log under the attacker's name.

The world: facility H001 records a patient (``victim``) and an Observation; the patient has a
Consent, recorded at H001 with the signed form, that denies H002 everything.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest

from hub.auth.purpose import ACT_REASON_SYSTEM
from hub.auth.roles import Role
from hub.fhir.systems import RESIDENT_ID_SYSTEM, facility_patient_system
from hub.mpi.matching.identifiers import make_resident_id
from tests.integration.test_consent_records import actor, consent
from tests.integration.test_security import _refusals

ClientFactory = Callable[..., httpx.Client]
SIGNED_FORM = {"contentType": "application/pdf", "title": "知情同意书", "data": "JVBERi0xLjQK"}


def _create(client: httpx.Client, resource: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _patient(facility: str, birth: str = "1968-07-21", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [
            {"system": facility_patient_system(facility), "value": uuid.uuid4().hex[:10]}
        ],
        "name": [{"family": f"攻{uuid.uuid4().hex[:6]}", "given": ["防"]}],
        "gender": "male",
        "birthDate": birth,
        **extra,
    }


def _observation(patient: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "valueQuantity": {"value": 72, "unit": "/min"},
    }


def _deny(patient: str, facility: str) -> dict[str, Any]:
    return consent(patient, {"type": "deny", "actor": [actor(f"Organization/{facility}")]})


@dataclass
class World:
    hospital: httpx.Client  # H001: recorded the data
    denied: httpx.Client  # H002: the patient said no
    denied_id: str
    other: httpx.Client  # H003: no consent about it either way
    operator: httpx.Client
    victim: str
    observation: str
    consent: str
    birth: str


@pytest.fixture
def world(client_for: ClientFactory) -> World:
    hospital = client_for(facility="H001")
    denied_id = f"attacker-{uuid.uuid4().hex[:6]}"
    denied = client_for(facility="H002", client_id=denied_id)
    other = client_for(facility="H003")
    operator = client_for(role=Role.operator, facility="HUB")
    birth = "1968-07-21"
    victim = _create(hospital, _patient("H001", birth))["id"]
    observation = _create(hospital, _observation(victim))["id"]
    consent_id = _create(hospital, _deny(victim, "H002"))["id"]
    assert denied.get(f"/Observation/{observation}").status_code == 404
    return World(hospital, denied, denied_id, other, operator, victim, observation,
                 consent_id, birth)  # fmt: skip


def _still_refused(world: World) -> None:
    """The Consent stands and still protects the Observation."""
    assert world.hospital.get(f"/Consent/{world.consent}").json()["status"] == "active"
    assert world.denied.get(f"/Observation/{world.observation}").status_code == 404


def test_a_denied_facility_cannot_delete_withdraw_or_outrank_the_consent(world: World) -> None:
    assert world.denied.delete(f"/Consent/{world.consent}").status_code in (403, 404, 405)
    current = world.hospital.get(f"/Consent/{world.consent}").json()
    withdrawn = {**current, "status": "inactive", "sourceAttachment": SIGNED_FORM}
    assert world.denied.put(f"/Consent/{world.consent}", json=withdrawn).status_code in (403, 404)
    # a more specific permit for itself, treatment, with a made-up form
    grant = consent(
        world.victim,
        {
            "type": "permit",
            "actor": [actor("Organization/H002")],
            "purpose": [{"system": ACT_REASON_SYSTEM, "code": "TREAT"}],
        },
    )
    refused = world.denied.post("/Consent", json=grant)
    assert refused.status_code == 403, refused.text
    assert "grants itself" in refused.json()["issue"][0]["diagnostics"]
    _still_refused(world)
    assert len(_refusals(world.denied_id)) >= 4


def test_nobody_deletes_a_consent_not_even_an_operator_or_the_recorder(world: World) -> None:
    for client in (world.operator, world.hospital):
        response = client.delete(f"/Consent/{world.consent}")
        assert response.status_code == 405, response.text
        assert "withdraw" in response.json()["issue"][0]["diagnostics"]
    _still_refused(world)


def test_a_facility_cannot_lift_a_restriction_on_itself(
    world: World, client_for: ClientFactory
) -> None:
    """H003 records a deny against itself (the patient's wish); H003 may not then withdraw it."""
    own_deny = _create(world.other, _deny(world.victim, "H003"))
    lifted = {**own_deny, "status": "inactive"}
    response = world.other.put(f"/Consent/{own_deny['id']}", json=lifted)
    assert response.status_code in (403, 404), response.text
    patient_app = client_for(
        role=Role.patient, patient=world.victim, scope="patient/*.rs patient/Consent.cruds"
    )
    mine = patient_app.put(f"/Consent/{own_deny['id']}", json=lifted)
    assert mine.status_code == 200, mine.text  # the patient withdraws their own restriction


def test_a_facility_cannot_change_or_delete_another_facilitys_records(world: World) -> None:
    patient = world.hospital.get(f"/Patient/{world.victim}").json()
    observation = world.hospital.get(f"/Observation/{world.observation}").json()
    renamed = {**patient, "name": [{"family": "篡改"}]}
    for attacker in (world.denied, world.other):
        assert attacker.put(f"/Patient/{world.victim}", json=renamed).status_code in (403, 404)
        assert attacker.delete(f"/Observation/{world.observation}").status_code in (403, 404)
        changed = {**observation, "valueQuantity": {"value": 1, "unit": "/min"}}
        put = attacker.put(f"/Observation/{world.observation}", json=changed)
        assert put.status_code in (403, 404)
    visible = world.other.put(f"/Observation/{world.observation}", json=observation)
    assert visible.status_code == 403  # H003 may read it, so it is told why: not its record
    assert "another facility" in visible.json()["issue"][0]["diagnostics"]

    for kind in ("transaction", "batch"):
        bundle = {
            "resourceType": "Bundle",
            "type": kind,
            "entry": [
                {
                    "resource": renamed,
                    "request": {"method": "PUT", "url": f"Patient/{world.victim}"},
                },
                {"request": {"method": "DELETE", "url": f"Observation/{world.observation}"}},
                {
                    "request": {
                        "method": "DELETE",
                        "url": f"Observation?subject=Patient/{world.victim}",
                    }
                },
            ],
        }
        response = world.other.post("", json=bundle)
        if kind == "transaction":
            assert response.status_code in (403, 404), response.text
        else:
            statuses = [e["response"]["status"][:3] for e in response.json()["entry"]]
            assert all(s in ("403", "404", "412") for s in statuses), statuses

    after = world.hospital.get(f"/Patient/{world.victim}").json()
    assert after["name"] == patient["name"] and after["meta"]["versionId"] == "1"
    kept = world.hospital.get(f"/Observation/{world.observation}")
    assert kept.status_code == 200 and kept.json()["meta"]["versionId"] == "1"


def test_a_stale_if_match_does_not_reveal_a_hidden_version(world: World) -> None:
    patient = world.hospital.get(f"/Patient/{world.victim}").json()
    response = world.denied.put(
        f"/Patient/{world.victim}", json=patient, headers={"If-Match": 'W/"7"'}
    )
    assert response.status_code == 404, response.text
    assert "version" not in response.text


def test_missing_and_hidden_ids_get_the_same_answer(world: World) -> None:
    hidden = world.denied.get(f"/Observation/{world.observation}")
    missing_id = str(uuid.uuid4())
    missing = world.denied.get(f"/Observation/{missing_id}")
    assert hidden.status_code == missing.status_code == 404
    text = hidden.json()["issue"][0]["diagnostics"].replace(world.observation, "X")
    assert text == missing.json()["issue"][0]["diagnostics"].replace(missing_id, "X")


def test_the_owner_of_a_task_updates_it_but_cannot_readdress_it(world: World) -> None:
    task = _create(
        world.hospital,
        {
            "resourceType": "Task",
            "status": "requested",
            "intent": "order",
            "for": {"reference": f"Patient/{world.victim}"},
            "requester": {"reference": "Organization/H001"},
            "owner": {"reference": "Organization/H003"},
        },
    )
    accepted = world.other.put(f"/Task/{task['id']}", json={**task, "status": "accepted"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["meta"]["source"] == task["meta"]["source"]  # still H001's
    moved = {**accepted.json(), "owner": {"reference": "Organization/H002"}}
    assert world.other.put(f"/Task/{task['id']}", json=moved).status_code == 403
    assert world.other.delete(f"/Task/{task['id']}").status_code == 403
    # the denied facility is not the owner, and may not even see it
    assert world.denied.put(f"/Task/{task['id']}", json=task).status_code in (403, 404)


def test_an_audit_event_shown_to_a_facility_names_no_consent(world: World) -> None:
    events = world.denied.get("/AuditEvent", params={"agent": world.denied_id, "_count": 100})
    assert events.status_code == 200, events.text
    entries = events.json().get("entry", [])
    assert entries, "the refused read must be in H002's own log"
    assert world.consent not in events.text
    assert not any(
        e.get("type", {}).get("code") == "Consent"
        for entry in entries
        for e in entry["resource"].get("entity", [])
    )
    overseen = world.operator.get("/AuditEvent", params={"agent": world.denied_id})
    assert f"Consent/{world.consent}" in overseen.text  # the operator sees what it rested on


# -- patient tokens -----------------------------------------------------------------------------


def test_a_patient_token_writes_only_inside_its_own_record(
    world: World, client_for: ClientFactory
) -> None:
    me = _create(world.hospital, _patient("H001", "1990-01-02"))["id"]
    app = client_for(role=Role.patient, patient=me)
    both = {
        "resourceType": "Appointment",
        "status": "proposed",
        "participant": [
            {"actor": {"reference": f"Patient/{me}"}, "status": "accepted"},
            {"actor": {"reference": f"Patient/{world.victim}"}, "status": "needs-action"},
        ],
    }
    assert app.post("/Appointment", json=both).status_code == 403
    assert (
        world.operator.get("/Appointment", params={"patient": f"Patient/{world.victim}"})
        .json()
        .get("total", 0)
        == 0
    )

    writer = client_for(
        role=Role.patient, patient=me, scope="patient/*.cruds", client_id="patient-writer"
    )
    assert writer.post("/Observation", json=_observation(world.victim)).status_code == 403
    own = writer.post("/Observation", json=_observation(me))
    assert own.status_code == 201, own.text  # inside its compartment, with write scopes

    record = writer.get(f"/Patient/{me}").json()
    resident = make_resident_id("420502", date(1968, 7, 21), 7, "male")
    takeover = {
        **record,
        "name": [{"family": "冒名"}],
        "identifier": [*record["identifier"], {"system": RESIDENT_ID_SYSTEM, "value": resident}],
    }
    refused = writer.put(f"/Patient/{me}", json=takeover)
    assert refused.status_code == 403, refused.text
    phone = {**record, "telecom": [{"system": "phone", "value": "13912345678"}]}
    changed = writer.put(f"/Patient/{me}", json=phone)
    assert changed.status_code == 200, changed.text
    assert changed.json()["meta"]["source"] == record["meta"]["source"]  # still H001's record
    assert writer.delete(f"/Patient/{me}").status_code == 403
    assert writer.post("/Patient", json=_patient("H001")).status_code == 403

    booked = _create(
        world.hospital,
        {
            "resourceType": "Appointment",
            "status": "booked",
            "participant": [{"actor": {"reference": f"Patient/{me}"}, "status": "accepted"}],
        },
    )
    cancelled = {**booked, "status": "cancelled"}
    assert app.put(f"/Appointment/{booked['id']}", json=cancelled).status_code == 403
