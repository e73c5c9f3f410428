"""Referrals as doctors drive them: practitioner tokens of two facilities against a live hub.

A township doctor (TC001) refers a patient to a 三级 hospital's cardiology (H001); the hub
creates the process-request Task, H001 finds it on its worklist, receives and accepts it.
Next to each happy path, the attack or the bad input that must change nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from hub.auth.roles import Role
from hub.fhir.systems import facility_patient_system
from referral.directory import TIER_SYSTEM

ClientFactory = Callable[..., httpx.Client]
SOURCE, TARGET, OTHER, VILLAGE = "TC001", "H001", "H002", "VC0001"
CATEGORY = {"coding": [{"system": "http://snomed.info/sct", "code": "3457005"}]}
REASON = [{"coding": [{"system": "http://snomed.info/sct", "code": "29857009"}], "text": "胸痛"}]


@pytest.fixture
def doctors(client_for: ClientFactory) -> dict[str, httpx.Client]:
    return {
        code: client_for(role=Role.practitioner, facility=code)
        for code in (SOURCE, TARGET, OTHER, VILLAGE)
    }


def _new_patient(client: httpx.Client, facility: str) -> str:
    mrn = f"REF-{uuid.uuid4().hex[:10]}"
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": facility_patient_system(facility), "value": mrn}],
        "name": [{"family": f"转{mrn[-4:]}", "given": ["伟"]}],
        "gender": "male",
        "birthDate": "1961-04-12",
    }
    response = client.post("/Patient", json=patient)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _referral(patient: str, performer: str, **changes: Any) -> dict[str, Any]:
    request = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "category": [CATEGORY],
        "priority": "urgent",
        "subject": {"reference": f"Patient/{patient}"},
        "requester": {"reference": f"Organization/{SOURCE}"},
        "performer": [{"reference": performer}],
        "reasonCode": REASON,
    }
    request.update(changes)
    return {k: v for k, v in request.items() if v is not None}


def _task_of(client: httpx.Client, request_id: str) -> dict[str, Any]:
    found = client.get("/Task", params={"focus": f"ServiceRequest/{request_id}"}).json()
    tasks = [e["resource"] for e in found.get("entry", [])]
    assert len(tasks) == 1, found
    return tasks[0]


def _count(client: httpx.Client, resource_type: str, **params: str) -> int:
    response = client.get(f"/{resource_type}", params={**params, "_summary": "count"})
    assert response.status_code == 200, response.text
    return int(response.json()["total"])


def _put(client: httpx.Client, task: dict[str, Any], **changes: Any) -> httpx.Response:
    body = {**task, **changes}
    version = task["meta"]["versionId"]
    return client.put(f"/Task/{task['id']}", json=body, headers={"If-Match": f'W/"{version}"'})


def _refer(doctors: dict[str, httpx.Client]) -> tuple[str, dict[str, Any]]:
    source = doctors[SOURCE]
    patient = _new_patient(source, SOURCE)
    created = source.post(
        "/ServiceRequest", json=_referral(patient, f"HealthcareService/{TARGET}-cardiology")
    )
    assert created.status_code == 201, created.text
    task = _task_of(source, created.json()["id"])
    # the answer names the Task the hub created with the referral (RFC 8288 Link)
    assert created.headers["Link"].endswith(f'/Task/{task["id"]}>; rel="related"')
    return patient, task


def _issue(response: httpx.Response) -> str:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    return str(body["issue"][0]["diagnostics"])


def test_the_directory_is_a_plain_search(api: httpx.Client) -> None:
    found = api.get(
        "/HealthcareService",
        params={"specialty": "394579002", "characteristic": f"{TIER_SYSTEM}|3", "_count": "100"},
    ).json()
    providers = {e["resource"]["providedBy"]["reference"] for e in found["entry"]}
    assert f"Organization/{TARGET}" in providers
    assert _count(api, "HealthcareService", organization=f"Organization/{TARGET}") == 9
    assert (
        _count(api, "HealthcareService", specialty="394579002", characteristic=f"{TIER_SYSTEM}|1")
        == 0
    )


def test_a_referral_is_created_with_its_task_and_reaches_the_worklist(
    doctors: dict[str, httpx.Client],
) -> None:
    patient, task = _refer(doctors)
    assert task["status"] == "requested"
    assert task["code"]["coding"][0]["code"] == "process-request"
    assert task["owner"] == {"reference": f"Organization/{TARGET}"}
    assert task["for"] == {"reference": f"Patient/{patient}"}
    assert task["priority"] == "urgent"
    worklist = (
        doctors[TARGET]
        .get(
            "/Task",
            params={
                "owner": f"Organization/{TARGET}",
                "status": "requested",
                "patient": f"Patient/{patient}",
                "priority": "urgent",
                "_lastUpdated": "ge2020-01-01",
            },
        )
        .json()
    )
    assert [e["resource"]["id"] for e in worklist.get("entry", [])] == [task["id"]]


def test_the_owner_receives_and_accepts_and_the_loop_moves_on(
    doctors: dict[str, httpx.Client],
) -> None:
    _, task = _refer(doctors)
    target = doctors[TARGET]
    received = _put(target, task, status="received")
    assert received.status_code == 200, received.text
    accepted = _put(
        target, received.json(), status="accepted", businessStatus={"text": "appointment-booked"}
    )
    assert accepted.status_code == 200, accepted.text
    arrived = _put(target, accepted.json(), status="in-progress")
    assert arrived.status_code == 200, arrived.text
    done = _put(target, arrived.json(), status="completed")
    assert done.status_code == 200 and done.json()["status"] == "completed"
    assert _put(target, done.json(), status="in-progress").status_code == 409


def test_only_the_owner_accepts(doctors: dict[str, httpx.Client]) -> None:
    _, task = _refer(doctors)
    other = _put(doctors[OTHER], task, status="accepted")
    assert other.status_code == 403, other.text
    own = _put(doctors[SOURCE], task, status="accepted")
    assert own.status_code == 403 and "owner" in _issue(own)
    assert (
        doctors[TARGET].get(f"/Task/{task['id']}").json()["meta"]["versionId"]
        == task["meta"]["versionId"]
    )


def test_reject_and_cancel_need_a_reason_and_the_right_side(
    doctors: dict[str, httpx.Client],
) -> None:
    _, task = _refer(doctors)
    assert _put(doctors[TARGET], task, status="rejected").status_code == 400
    assert (
        _put(doctors[TARGET], task, status="cancelled", statusReason={"text": "x"}).status_code
        == 403
    )
    assert _put(doctors[SOURCE], task, status="cancelled").status_code == 400
    cancelled = _put(doctors[SOURCE], task, status="cancelled", statusReason={"text": "家属要求"})
    assert cancelled.status_code == 200, cancelled.text


def test_a_rejected_referral_is_redirected_by_the_requester(
    doctors: dict[str, httpx.Client],
) -> None:
    _, task = _refer(doctors)
    rejected = _put(doctors[TARGET], task, status="rejected", statusReason={"text": "满床"})
    assert rejected.status_code == 200, rejected.text
    redirect = {"status": "requested", "owner": {"reference": f"Organization/{OTHER}"}}
    hijack = _put(doctors[TARGET], rejected.json(), **redirect)
    assert hijack.status_code == 403, hijack.text
    moved = _put(doctors[SOURCE], rejected.json(), **redirect)
    assert moved.status_code == 200, moved.text
    assert _put(doctors[OTHER], moved.json(), status="accepted").status_code == 200


def test_a_stale_if_match_changes_nothing(doctors: dict[str, httpx.Client]) -> None:
    _, task = _refer(doctors)
    assert _put(doctors[TARGET], task, status="received").status_code == 200
    stale = _put(doctors[TARGET], task, status="accepted")
    assert stale.status_code == 412, stale.text
    assert doctors[TARGET].get(f"/Task/{task['id']}").json()["status"] == "received"


def test_the_task_cannot_be_readdressed_or_moved_to_another_patient(
    doctors: dict[str, httpx.Client],
) -> None:
    _, task = _refer(doctors)
    someone = _new_patient(doctors[SOURCE], SOURCE)
    moved = _put(doctors[SOURCE], task, **{"for": {"reference": f"Patient/{someone}"}})
    assert moved.status_code == 400, moved.text
    forged = _put(doctors[SOURCE], task, owner={"reference": f"Organization/{OTHER}"})
    assert forged.status_code == 409, forged.text


def test_a_forged_task_for_someone_elses_referral_is_refused(
    doctors: dict[str, httpx.Client],
) -> None:
    _, task = _refer(doctors)
    forged = {k: v for k, v in task.items() if k not in ("id", "meta")}
    other = doctors[OTHER].post(
        "/Task", json={**forged, "owner": {"reference": f"Organization/{OTHER}"}}
    )
    assert other.status_code == 403, other.text
    own = doctors[SOURCE].post(
        "/Task", json={**forged, "owner": {"reference": f"Organization/{OTHER}"}}
    )
    assert own.status_code == 400 and "performer" in _issue(own)


@pytest.mark.parametrize(
    ("performer", "changes", "says"),
    [
        (
            "HealthcareService/H001-cardiology",
            {"subject": {"reference": "Patient/nobody-here"}},
            "Patient",
        ),
        ("HealthcareService/H001-cardiology", {"reasonCode": None}, "reason"),
        ("HealthcareService/no-such-service", {}, "no-such-service"),
        ("HealthcareService/H001-rehabilitation", {}, "accepts-referrals"),
        ("HealthcareService/H001-oncology", {}, "hospital-referrals-only"),
        ("Organization/TC001", {}, "itself"),
    ],
)
def test_bad_referrals_are_refused_and_change_nothing(
    doctors: dict[str, httpx.Client], performer: str, changes: dict[str, Any], says: str
) -> None:
    source = doctors[SOURCE]
    patient = _new_patient(source, SOURCE)
    before = _count(source, "Task", owner=f"Organization/{TARGET}")
    refused = source.post("/ServiceRequest", json=_referral(patient, performer, **changes))
    assert refused.status_code in (400, 404), refused.text
    assert says in _issue(refused)
    assert _count(source, "ServiceRequest", subject=f"Patient/{patient}") == 0
    assert _count(source, "Task", owner=f"Organization/{TARGET}") == before


def test_a_village_clinic_cannot_skip_to_the_top_tier(doctors: dict[str, httpx.Client]) -> None:
    village = doctors[VILLAGE]
    patient = _new_patient(village, VILLAGE)
    body = _referral(
        patient,
        f"HealthcareService/{TARGET}-cardiology",
        requester={"reference": f"Organization/{VILLAGE}"},
    )
    refused = village.post("/ServiceRequest", json=body)
    assert refused.status_code == 400 and "upward-min-source-tier" in _issue(refused)


def test_a_transaction_bundle_may_bring_its_own_task(doctors: dict[str, httpx.Client]) -> None:
    source = doctors[SOURCE]
    patient = _new_patient(source, SOURCE)
    request = _referral(patient, f"HealthcareService/{TARGET}-cardiology")
    task = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "code": {
            "coding": [
                {"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "process-request"}
            ]
        },
        "focus": {"reference": "urn:uuid:5b8a3c4e-0000-4000-8000-000000000001"},
        "for": {"reference": f"Patient/{patient}"},
        "requester": request["requester"],
        "owner": {"reference": f"Organization/{TARGET}"},
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:5b8a3c4e-0000-4000-8000-000000000001",
                "resource": request,
                "request": {"method": "POST", "url": "ServiceRequest"},
            },
            {"resource": task, "request": {"method": "POST", "url": "Task"}},
        ],
    }
    response = source.post("/", json=bundle)
    assert response.status_code == 200, response.text
    assert _count(source, "Task", patient=f"Patient/{patient}") == 1
