"""The world of the referral-access and consultation tests: a patient of the township health
centre (TC001) who opted out of sharing for treatment, their records there (two Observations
and an HIV diagnosis), and practitioner tokens of the two parties and of a third facility."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from sqlalchemy import select

from hub.audit.models import AuditRecord
from hub.auth.purpose import ACT_REASON_SYSTEM
from hub.auth.roles import Role
from hub.db import session_scope
from hub.fhir.systems import facility_patient_system
from tests.integration.test_consent_records import consent

ClientFactory = Callable[..., httpx.Client]
SOURCE, TARGET, THIRD = "TC001", "H001", "H002"
REASON = [{"coding": [{"system": "http://snomed.info/sct", "code": "29857009"}], "text": "胸痛"}]


@dataclass
class Case:
    patient: str
    observations: list[str]
    hiv: str  # a Condition the regional policy treats as sensitive


def created(client: httpx.Client, resource: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def new_case(source: httpx.Client, *, opted_out: bool = True) -> Case:
    """A patient of SOURCE with records there; opted out of sharing for treatment (regional
    default: shared unless opted out), so another facility sees nothing without a grant."""
    mrn = f"ACC-{uuid.uuid4().hex[:10]}"
    rng = random.Random(mrn)  # a resident of their own: consent follows the person
    patient = created(
        source,
        {
            "resourceType": "Patient",
            "identifier": [{"system": facility_patient_system(SOURCE), "value": mrn}],
            "name": [{"family": f"访{mrn[-6:]}", "given": [rng.choice("华伟芳丽强军洋")]}],
            "gender": "female",
            "birthDate": f"{rng.randint(1930, 2005)}-{rng.randint(1, 12):02d}-"
            f"{rng.randint(1, 28):02d}",
        },
    )["id"]
    observations = [
        created(
            source,
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                "subject": {"reference": f"Patient/{patient}"},
                "valueQuantity": {"value": 72, "unit": "/min"},
            },
        )["id"]
        for code in ("8867-4", "8480-6")
    ]
    hiv = created(
        source,
        {
            "resourceType": "Condition",
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "B20"}]},
            "subject": {"reference": f"Patient/{patient}"},
        },
    )["id"]
    if opted_out:
        opt_out = {"type": "deny", "purpose": [{"system": ACT_REASON_SYSTEM, "code": "TREAT"}]}
        custodian = [{"reference": f"Organization/{SOURCE}"}]
        created(source, consent(patient, opt_out, organization=custodian))
    return Case(patient, observations, hiv)


def doctors(client_for: ClientFactory) -> dict[str, httpx.Client]:
    return {
        code: client_for(role=Role.practitioner, facility=code) for code in (SOURCE, TARGET, THIRD)
    }


def readable(client: httpx.Client, reference: str) -> bool:
    response = client.get(f"/{reference}")
    assert response.status_code in (200, 404), response.text
    return response.status_code == 200


def total(client: httpx.Client, resource_type: str, **params: str) -> int:
    response = client.get(f"/{resource_type}", params={**params, "_total": "accurate"})
    assert response.status_code == 200, response.text
    found: int = response.json()["total"]
    entries = [e for e in response.json().get("entry", []) if e["search"]["mode"] == "match"]
    assert len(entries) == found  # the page holds what the total counts (small results)
    return found


def put(client: httpx.Client, task: dict[str, Any], **changes: Any) -> dict[str, Any]:
    body = {**task, **changes}
    version = task["meta"]["versionId"]
    response = client.put(f"/Task/{task['id']}", json=body, headers={"If-Match": f'W/"{version}"'})
    assert response.status_code == 200, response.text
    moved: dict[str, Any] = response.json()
    return moved


def task_of(client: httpx.Client, request_id: str) -> dict[str, Any]:
    found = client.get("/Task", params={"focus": f"ServiceRequest/{request_id}"}).json()
    tasks = [e["resource"] for e in found.get("entry", [])]
    assert len(tasks) == 1, found
    return tasks[0]


def audited_reads(facility: str, reference: str) -> list[list[str]]:
    """The consents named by each audit record of ``facility`` reading ``reference``."""
    with session_scope() as session:
        rows = session.execute(
            select(AuditRecord.resources, AuditRecord.consents).where(
                AuditRecord.facility == facility, AuditRecord.interaction == "read"
            )
        ).all()
    return [
        orjson.loads(consents or "[]")
        for resources, consents in rows
        if reference in orjson.loads(resources)
    ]
