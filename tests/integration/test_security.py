"""The issue's security cases that cross paths: a patient token reaching another patient by
``_include``, a chained search or ``$everything``; a facility escalating its scope; each
refused or emptied, and each refusal in the audit log under the caller's name."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
from sqlalchemy import select

from hub.audit.models import AuditRecord
from hub.auth.roles import Role
from hub.db import session_scope

ClientFactory = Callable[..., httpx.Client]


def _create(client: httpx.Client, body: dict[str, object]) -> str:
    response = client.post(f"/{body['resourceType']}", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _entries(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [e["resource"]["id"] for e in response.json().get("entry", [])]


def _refusals(client_id: str) -> list[str]:
    with session_scope() as session:
        rows = session.execute(
            select(AuditRecord.outcome_text).where(
                AuditRecord.client_id == client_id, AuditRecord.outcome == "4"
            )
        ).scalars()
        return [text or "" for text in rows]


def test_a_patient_token_never_reaches_another_patient(
    api: httpx.Client, client_for: ClientFactory
) -> None:
    family = f"Sec{uuid.uuid4().hex[:8]}"
    me = _create(api, {"resourceType": "Patient", "name": [{"family": "Mine"}]})
    other = _create(api, {"resourceType": "Patient", "name": [{"family": family}]})
    theirs = _create(
        api,
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "血压"},
            "subject": {"reference": f"Patient/{other}"},
        },
    )
    mine = _create(
        api,
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "心率"},
            "subject": {"reference": f"Patient/{me}"},
            # my record points at the other patient: a path out of my compartment
            "focus": [{"reference": f"Patient/{other}"}],
        },
    )
    client_id = f"patient-{uuid.uuid4().hex[:6]}"
    patient = client_for(role=Role.patient, patient=me, client_id=client_id)

    # answered like ids that do not exist: a patient cannot tell which ids are taken
    assert patient.get(f"/Patient/{other}").status_code == 404
    assert patient.get(f"/Patient/{other}/$everything").status_code == 404
    assert _entries(patient.get("/Patient", params={"_id": other})) == []
    chained = patient.get("/Observation", params={"subject:Patient.name": family})
    assert _entries(chained) == []
    included = patient.get("/Observation", params={"_id": mine, "_include": "Observation:focus"})
    assert _entries(included) == [mine]
    rev = patient.get("/Patient", params={"_id": other, "_revinclude": "Observation:subject"})
    assert _entries(rev) == []
    assert _entries(patient.get("/Observation", params={"_id": theirs})) == []
    assert patient.get("/AuditEvent", params={"patient": other}).status_code == 403
    refused = _refusals(client_id)
    assert len(refused) >= 3 and all(text.startswith(("403", "404")) for text in refused)


def test_scope_escalation_is_refused_and_audited(client_for: ClientFactory) -> None:
    client_id = f"narrow-{uuid.uuid4().hex[:6]}"
    narrow = client_for(scope="system/Patient.rs", client_id=client_id)
    assert narrow.get("/Observation").status_code == 403
    created = narrow.post("/Patient", json={"resourceType": "Patient", "name": [{"text": "x"}]})
    assert created.status_code == 403
    patient_app = client_for(role=Role.patient, patient="nobody", client_id=f"{client_id}-p")
    write = patient_app.post(
        "/Observation",
        json={"resourceType": "Observation", "status": "final", "code": {"text": "x"},
              "subject": {"reference": "Patient/nobody"}},
    )  # fmt: skip
    assert write.status_code == 403  # patient/*.rs: no writes of clinical data
    assert len(_refusals(client_id)) == 2
    assert len(_refusals(f"{client_id}-p")) == 1
