"""Batch and transaction Bundles posted to the base URL of a live hub.

Every test tags what it writes with a fresh marker identifier, so it can count exactly what it
created (or, for a failed transaction, prove that nothing of it was stored).
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx

MARKER_SYSTEM = "urn:test:bundle-marker"
FHIR_JSON = "application/fhir+json"


def _marker() -> str:
    return uuid.uuid4().hex


def _urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def _patient(marker: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": MARKER_SYSTEM, "value": marker}],
        "name": [{"family": "李", "given": ["娜"]}],
        "gender": "female",
        "birthDate": "1990-07-14",
        **extra,
    }


def _observation(marker: str, subject: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "identifier": [{"system": MARKER_SYSTEM, "value": marker}],
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": subject},
        "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org"},
        **extra,
    }


def _encounter(marker: str, subject: str) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "identifier": [{"system": MARKER_SYSTEM, "value": marker}],
        "status": "finished",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "AMB",
        },
        "subject": {"reference": subject},
    }


def _post(resource: dict[str, Any], full_url: str | None = None, **request: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"], **request},
    }
    if full_url:
        entry["fullUrl"] = full_url
    return entry


def _bundle(kind: str, *entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def _count(api: httpx.Client, resource_type: str, marker: str) -> int:
    response = api.get(
        f"/{resource_type}",
        params={"identifier": f"{MARKER_SYSTEM}|{marker}", "_summary": "count"},
    )
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


def _assert_outcome(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    body: dict[str, Any] = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"] and body["issue"][0]["severity"] == "error"
    return body


def _create(api: httpx.Client, resource: dict[str, Any]) -> str:
    response = api.post(f"/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    resource_id: str = response.json()["id"]
    return resource_id


# -- transactions ------------------------------------------------------------------------------


def test_transaction_resolves_urn_uuid_references(api: httpx.Client) -> None:
    marker = _marker()
    patient_urn, encounter_urn, observation_urn = _urn(), _urn(), _urn()
    bundle = _bundle(
        "transaction",
        # The Observation comes first and points at entries further down: order must not matter.
        _post(
            _observation(marker, patient_urn, encounter={"reference": encounter_urn}),
            observation_urn,
        ),
        _post(_encounter(marker, patient_urn), encounter_urn),
        _post(_patient(marker), patient_urn),
    )

    response = api.post("", json=bundle)

    assert response.status_code == 200, response.text
    result = response.json()
    assert result["resourceType"] == "Bundle"
    assert result["type"] == "transaction-response"
    entries = result["entry"]
    assert [e["response"]["status"] for e in entries] == ["201 Created"] * 3
    # Answered in request order: Observation, Encounter, Patient.
    types = [e["response"]["location"].split("/")[0] for e in entries]
    assert types == ["Observation", "Encounter", "Patient"]
    ids = [e["response"]["location"].split("/")[1] for e in entries]
    assert all(e["response"]["location"].endswith("/_history/1") for e in entries)
    observation_id, encounter_id, patient_id = ids

    observation = api.get(f"/Observation/{observation_id}").json()
    assert observation["subject"] == {"reference": f"Patient/{patient_id}"}
    assert observation["encounter"] == {"reference": f"Encounter/{encounter_id}"}
    encounter = api.get(f"/Encounter/{encounter_id}").json()
    assert encounter["subject"] == {"reference": f"Patient/{patient_id}"}
    assert api.get(f"/Patient/{patient_id}").json()["name"][0]["family"] == "李"

    # The rewritten references are indexed too: the new resources are found through them.
    found = api.get("/Observation", params={"subject": f"Patient/{patient_id}"}).json()
    assert [e["resource"]["id"] for e in found["entry"]] == [observation_id]
    for resource_type in ("Patient", "Encounter", "Observation"):
        assert _count(api, resource_type, marker) == 1


def test_transaction_processes_delete_before_post(api: httpx.Client) -> None:
    """DELETE runs before POST whatever the entry order, so ifNoneExist no longer matches."""
    marker = _marker()
    old_id = _create(api, _patient(marker))
    criteria = f"identifier={MARKER_SYSTEM}|{marker}"
    bundle = _bundle(
        "transaction",
        _post(_patient(marker, gender="male"), _urn(), ifNoneExist=criteria),
        {"request": {"method": "DELETE", "url": f"Patient?{criteria}"}},
    )

    response = api.post("", json=bundle)

    assert response.status_code == 200, response.text
    created, deleted = response.json()["entry"]
    assert created["response"]["status"] == "201 Created"
    assert deleted["response"]["status"].startswith("204")
    new_id = created["response"]["location"].split("/")[1]
    assert new_id != old_id
    assert api.get(f"/Patient/{old_id}").status_code == 410
    assert api.get(f"/Patient/{new_id}").json()["gender"] == "male"
    assert _count(api, "Patient", marker) == 1


def test_transaction_get_sees_what_the_transaction_created(api: httpx.Client) -> None:
    marker = _marker()
    bundle = _bundle(
        "transaction",
        {
            "request": {
                "method": "GET",
                "url": f"Patient?identifier={MARKER_SYSTEM}|{marker}",
            }
        },
        _post(_patient(marker), _urn()),
    )

    response = api.post("", json=bundle)

    assert response.status_code == 200, response.text
    searched, created = response.json()["entry"]
    assert searched["response"]["status"] == "200 OK"
    assert created["response"]["status"] == "201 Created"
    searchset = searched["resource"]
    assert searchset["type"] == "searchset"
    assert searchset["total"] == 1
    new_id = created["response"]["location"].split("/")[1]
    assert [e["resource"]["id"] for e in searchset["entry"]] == [new_id]


def test_transaction_if_none_exist_reuses_the_existing_resource(api: httpx.Client) -> None:
    marker = _marker()
    existing_id = _create(api, _patient(marker))
    patient_urn = _urn()
    bundle = _bundle(
        "transaction",
        _post(
            _patient(marker, gender="male"),
            patient_urn,
            ifNoneExist=f"identifier={MARKER_SYSTEM}|{marker}",
        ),
        _post(_observation(marker, patient_urn), _urn()),
    )

    response = api.post("", json=bundle)

    assert response.status_code == 200, response.text
    patient_entry, observation_entry = response.json()["entry"]
    assert patient_entry["response"]["status"] == "200 OK"
    assert patient_entry["response"]["location"].startswith(f"Patient/{existing_id}/")
    assert observation_entry["response"]["status"] == "201 Created"
    observation_id = observation_entry["response"]["location"].split("/")[1]
    observation = api.get(f"/Observation/{observation_id}").json()
    assert observation["subject"] == {"reference": f"Patient/{existing_id}"}
    # The existing Patient was neither changed nor duplicated.
    existing = api.get(f"/Patient/{existing_id}").json()
    assert existing["meta"]["versionId"] == "1"
    assert existing["gender"] == "female"
    assert _count(api, "Patient", marker) == 1


def test_transaction_with_an_invalid_resource_stores_nothing(api: httpx.Client) -> None:
    marker = _marker()
    survivor_id = _create(api, _patient(_marker()))
    patient_urn = _urn()
    bundle = _bundle(
        "transaction",
        {"request": {"method": "DELETE", "url": f"Patient/{survivor_id}"}},
        _post(_patient(marker), patient_urn),
        _post(_observation(marker, patient_urn), _urn()),
        _post(_patient(marker, gender="maybe"), _urn()),  # invalid, and processed last
    )

    outcome = _assert_outcome(api.post("", json=bundle), 400)

    assert "gender" in str(outcome)
    assert _count(api, "Patient", marker) == 0
    assert _count(api, "Observation", marker) == 0
    survivor = api.get(f"/Patient/{survivor_id}")
    assert survivor.status_code == 200
    assert survivor.json()["meta"]["versionId"] == "1"


def test_transaction_with_an_unresolvable_urn_reference_stores_nothing(
    api: httpx.Client,
) -> None:
    marker = _marker()
    patient_urn = _urn()
    dangling = _urn()
    bundle = _bundle(
        "transaction",
        _post(_patient(marker), patient_urn),
        _post(_observation(marker, patient_urn), _urn()),
        _post(_observation(marker, dangling), _urn()),
    )

    outcome = _assert_outcome(api.post("", json=bundle), 400)

    assert dangling in str(outcome)
    assert _count(api, "Patient", marker) == 0
    assert _count(api, "Observation", marker) == 0


def test_transaction_failing_on_a_missing_target_stores_nothing(api: httpx.Client) -> None:
    marker = _marker()
    bundle = _bundle(
        "transaction",
        _post(_patient(marker), _urn()),
        {"request": {"method": "GET", "url": f"Patient/missing-{marker[:12]}"}},
    )

    _assert_outcome(api.post("", json=bundle), 404)

    assert _count(api, "Patient", marker) == 0


def test_transaction_naming_an_unserved_type_is_refused(api: httpx.Client) -> None:
    marker = _marker()
    unserved = {"resourceType": "MolecularSequence", "type": "dna", "coordinateSystem": 0}
    for entry in (
        _post(unserved, _urn()),
        _post(unserved, _urn(), ifNoneExist="identifier=urn:test|1"),
        {"request": {"method": "GET", "url": "MolecularSequence?type=dna"}},
    ):
        bundle = _bundle("transaction", _post(_patient(marker), _urn()), entry)
        outcome = _assert_outcome(api.post("", json=bundle), 404)
        assert outcome["issue"][0]["code"] == "not-supported"
    assert _count(api, "Patient", marker) == 0


# -- batches -----------------------------------------------------------------------------------


def test_batch_reports_each_entry_on_its_own(api: httpx.Client) -> None:
    marker = _marker()
    patient_id = _create(api, _patient(_marker()))
    bundle = _bundle(
        "batch",
        _post(_patient(marker)),
        _post(_patient(marker, birthDate="1980-13-45")),
        {"request": {"method": "GET", "url": f"Patient/missing-{marker[:12]}"}},
        _post(_observation(marker, f"Patient/{patient_id}")),
        {"request": {"method": "GET", "url": f"Patient/{patient_id}"}},
        {"request": {"method": "GET", "url": "MedicationStatement?subject=Patient/1"}},
    )

    response = api.post("", json=bundle)

    assert response.status_code == 200, response.text
    result = response.json()
    assert result["type"] == "batch-response"
    entries = result["entry"]
    statuses = [e["response"]["status"].split()[0] for e in entries]
    assert statuses == ["201", "400", "404", "201", "200", "404"]
    for failed in (entries[1], entries[2], entries[5]):
        assert failed["response"]["outcome"]["resourceType"] == "OperationOutcome"
        assert "resource" not in failed
    assert "birthDate" in str(entries[1]["response"]["outcome"])
    assert entries[4]["resource"]["id"] == patient_id
    assert _count(api, "Patient", marker) == 1
    assert _count(api, "Observation", marker) == 1


# -- malformed Bundles -------------------------------------------------------------------------


def test_bundle_over_the_entry_limit_is_refused(api: httpx.Client) -> None:
    marker = _marker()
    entries = [_post(_patient(marker), _urn()) for _ in range(201)]  # harness limit: 200

    for kind in ("transaction", "batch"):
        _assert_outcome(api.post("", json=_bundle(kind, *entries)), 413)

    assert _count(api, "Patient", marker) == 0


def test_bundle_at_the_entry_limit_is_accepted(api: httpx.Client) -> None:
    marker = _marker()
    entries = [_post(_patient(marker), _urn()) for _ in range(200)]

    response = api.post(
        "", json=_bundle("transaction", *entries), headers={"Prefer": "return=minimal"}
    )

    assert response.status_code == 200, response.text
    assert len(response.json()["entry"]) == 200
    assert "resource" not in response.json()["entry"][0]
    assert _count(api, "Patient", marker) == 200


def test_post_to_base_needs_a_batch_or_transaction_bundle(api: httpx.Client) -> None:
    marker = _marker()
    not_a_bundle = _patient(marker)
    wrong_type = {**_bundle("transaction", _post(_patient(marker))), "type": "collection"}
    no_request = _bundle("transaction", {"resource": _patient(marker)})
    no_method = _bundle("batch", {"resource": _patient(marker), "request": {"url": "Patient"}})
    no_resource = _bundle("transaction", {"request": {"method": "POST", "url": "Patient"}})

    bodies: list[Any] = [not_a_bundle, wrong_type, no_request, no_method, no_resource, [], "Bundle"]
    for body in bodies:
        _assert_outcome(api.post("", json=body), 400)

    assert _count(api, "Patient", marker) == 0
