"""Acceptance: a FHIR client library drives the running hub.

With fhirpy's ``SyncFHIRClient`` and nothing hub-specific but a bearer token, a client creates a
Patient, reads it, searches for it, updates it, reads its history and posts a transaction.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import AuthorizationError, OperationOutcome

from tests.live import LiveHub, TokenFactory

MRN_SYSTEM = "urn:test:fhir-client-mrn"


@pytest.fixture
def client(live_hub: LiveHub, make_token: TokenFactory) -> SyncFHIRClient:
    return SyncFHIRClient(live_hub.fhir_url, authorization=f"Bearer {make_token()}")


def test_client_creates_reads_searches_updates_reads_history_and_posts_a_transaction(
    client: SyncFHIRClient,
) -> None:
    mrn = uuid.uuid4().hex
    family = f"欧阳{mrn[:6]}"  # unique, so the searches below find only this Patient

    # Create
    patient = client.resource(
        "Patient",
        identifier=[{"system": MRN_SYSTEM, "value": mrn}],
        name=[{"family": family, "given": ["娜娜"], "text": f"{family}娜娜"}],
        gender="female",
        birthDate="1987-09-23",
    )
    patient.save()
    assert patient.id
    assert patient["meta"]["versionId"] == "1"

    # Read
    read = client.reference("Patient", patient.id).to_resource()
    assert read["name"][0]["family"] == family
    assert read["name"][0]["given"] == ["娜娜"]
    assert read["birthDate"] == "1987-09-23"

    # Search: by family name, by birth date, and both together
    by_family = client.resources("Patient").search(family=family).fetch_all()
    assert [p.id for p in by_family] == [patient.id]
    by_birthdate = client.resources("Patient").search(birthdate="1987-09-23").fetch_all()
    assert patient.id in [p.id for p in by_birthdate]
    both = client.resources("Patient").search(family=family, birthdate="1987-09").get()
    assert both.id == patient.id
    assert client.resources("Patient").search(family=family, birthdate="1990").fetch() == []

    # Update
    read["telecom"] = [{"system": "email", "value": f"{mrn[:8]}@example.cn"}]
    read["gender"] = "other"
    read.save()
    updated = client.reference("Patient", patient.id).to_resource()
    assert updated["meta"]["versionId"] == "2"
    assert updated["gender"] == "other"

    # History: newest first, both versions, with what each one held
    history = client.execute(f"Patient/{patient.id}/_history", method="get")
    assert history["type"] == "history"
    assert history["total"] == 2
    versions = [e["resource"]["meta"]["versionId"] for e in history["entry"]]
    assert versions == ["2", "1"]
    assert [e["resource"]["gender"] for e in history["entry"]] == ["other", "female"]

    # Transaction: an Encounter and an Observation for this Patient, linked by urn:uuid
    encounter_urn = f"urn:uuid:{uuid.uuid4()}"
    transaction = _transaction(patient.id, encounter_urn)
    response = client.execute("", method="post", data=transaction)
    assert response["type"] == "transaction-response"
    assert [e["response"]["status"] for e in response["entry"]] == ["201 Created"] * 2
    encounter_id = response["entry"][0]["response"]["location"].split("/")[1]
    observations = client.resources("Observation").search(subject=f"Patient/{patient.id}")
    observation = observations.get()
    assert observation["encounter"]["reference"] == f"Encounter/{encounter_id}"
    assert observation["valueQuantity"]["value"] == 36.8
    encounters = client.resources("Encounter").search(patient=patient.id).fetch_all()
    assert [e.id for e in encounters] == [encounter_id]


def test_client_sees_refusals_as_operation_outcomes(
    client: SyncFHIRClient, live_hub: LiveHub
) -> None:
    with pytest.raises(OperationOutcome) as refused:
        client.resource("Patient", gender="maybe").save()
    assert "gender" in str(refused.value)
    with pytest.raises(AuthorizationError):
        SyncFHIRClient(live_hub.fhir_url).resources("Patient").fetch()


def _transaction(patient_id: str, encounter_urn: str) -> dict[str, Any]:
    encounter = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": f"Patient/{patient_id}"},
    }
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}], "text": "体温"},
        "subject": {"reference": f"Patient/{patient_id}"},
        "encounter": {"reference": encounter_urn},
        "valueQuantity": {
            "value": 36.8,
            "unit": "Cel",
            "system": "http://unitsofmeasure.org",
            "code": "Cel",
        },
    }
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": encounter_urn,
                "resource": encounter,
                "request": {"method": "POST", "url": "Encounter"},
            },
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": observation,
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    }
