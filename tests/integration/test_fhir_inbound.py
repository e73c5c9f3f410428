"""A facility system's local identifiers get its namespace on a live hub (adapters/fhir_inbound).

Every test uses fresh random numbers, so reruns on one database do not collide.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import select

from hub.auth.roles import Role
from hub.db import session_scope
from hub.fhir.systems import RESIDENT_ID_SYSTEM, facility_patient_system
from hub.mpi.matching.identifiers import make_resident_id
from hub.mpi.models import SourceRow

ClientFor = Callable[..., httpx.Client]


def _mrn() -> str:
    return f"MRN-{uuid.uuid4().hex[:12]}"


def _patient(*identifiers: dict[str, str], family: str = "欧阳") -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": list(identifiers),
        "name": [{"family": family, "given": ["晓雯"]}],
        "gender": "female",
        "birthDate": "1987-05-21",
    }


def _transaction(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


def _ids_by_local_number(client: httpx.Client, facility: str, mrn: str) -> list[str]:
    params = {"identifier": f"{facility_patient_system(facility)}|{mrn}"}
    response = client.get("/Patient", params=params)
    assert response.status_code == 200, response.text
    return [e["resource"]["id"] for e in response.json().get("entry", [])]


def test_a_patient_in_a_facility_transaction_is_qualified_and_indexed(
    client_for: ClientFor,
) -> None:
    h001, mrn = client_for(facility="H001"), _mrn()
    bundle = _transaction(
        {
            "fullUrl": f"urn:uuid:{uuid.uuid4()}",
            "resource": _patient({"value": mrn}),
            "request": {"method": "PUT", "url": f"Patient?identifier={mrn}"},
        }
    )
    response = h001.post("", json=bundle)
    assert response.status_code == 200, response.text
    stored = response.json()["entry"][0]["resource"]
    assert stored["identifier"][0]["system"] == facility_patient_system("H001")
    assert stored["identifier"][0]["value"] == mrn
    with session_scope() as session:
        source = session.execute(
            select(SourceRow).where(SourceRow.facility == "H001", SourceRow.source_id == mrn)
        ).scalar_one()
        assert source.patient_id == stored["id"]


def test_the_same_mrn_from_two_facilities_makes_two_identifiers(client_for: ClientFor) -> None:
    mrn = _mrn()
    ids, clients = {}, {}
    for facility in ("H001", "H002"):
        clients[facility] = client = client_for(facility=facility)
        created = client.post("/Patient", json=_patient({"value": mrn}))
        assert created.status_code == 201, created.text  # not H001's record: no conflict
        ids[facility] = created.json()["id"]
        assert created.json()["identifier"][0]["system"] == facility_patient_system(facility)
    assert ids["H001"] != ids["H002"]
    for facility, client in clients.items():  # each reads its own (cross-facility reads are
        assert _ids_by_local_number(client, facility, mrn) == [ids[facility]]  # consent's)


def test_conditional_operations_by_local_number_find_the_earlier_resource(
    client_for: ClientFor,
) -> None:
    h001, mrn = client_for(facility="H001"), _mrn()
    first = h001.post("/Patient", json=_patient({"value": mrn}))
    assert first.status_code == 201, first.text
    patient_id = first.json()["id"]

    again = h001.post(
        "/Patient", json=_patient({"value": mrn}), headers={"If-None-Exist": f"identifier={mrn}"}
    )
    assert again.status_code == 200 and again.json()["id"] == patient_id

    updated = h001.put(
        "/Patient", params={"identifier": mrn}, json=_patient({"value": mrn}, family="上官")
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["id"] == patient_id and updated.json()["meta"]["versionId"] == "2"

    bundle = _transaction(
        {
            "fullUrl": f"urn:uuid:{uuid.uuid4()}",
            "resource": _patient({"value": mrn}, family="司马"),
            "request": {"method": "PUT", "url": f"Patient?identifier=|{mrn}"},
        },
        {
            "fullUrl": f"urn:uuid:{uuid.uuid4()}",
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                "subject": {"reference": f"Patient?identifier={mrn}"},
            },
            "request": {"method": "POST", "url": "Observation"},
        },
    )
    response = h001.post("", json=bundle)
    assert response.status_code == 200, response.text
    patient_entry, observation_entry = response.json()["entry"]
    assert patient_entry["resource"]["id"] == patient_id
    assert patient_entry["response"]["status"].startswith("200")
    subject = observation_entry["resource"]["subject"]["reference"]
    assert subject.endswith(f"{facility_patient_system('H001')}|{mrn}")
    assert _ids_by_local_number(h001, "H001", mrn) == [patient_id]


def test_global_identifiers_and_other_callers_are_left_alone(client_for: ClientFor) -> None:
    from datetime import date

    resident = make_resident_id("420506", date(1987, 5, 21), 41, "female")
    other = {"system": "urn:oid:1.2.156.999", "value": uuid.uuid4().hex}
    sent = [{"system": RESIDENT_ID_SYSTEM, "value": resident}, other]
    created = client_for(facility="H001").post("/Patient", json=_patient(*sent))
    assert created.status_code == 201, created.text
    assert created.json()["identifier"] == sent

    mrn = _mrn()
    practitioner = client_for(facility="H001", role=Role.practitioner)
    by_practitioner = practitioner.post("/Patient", json=_patient({"value": mrn}))
    assert by_practitioner.status_code == 201, by_practitioner.text
    assert by_practitioner.json()["identifier"] == [{"value": mrn}]
