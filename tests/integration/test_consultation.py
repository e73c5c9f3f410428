"""Remote consultation (issue 15 item 8) as doctors drive it: a township doctor (TC001) asks a
cardiologist of H001 for advice on a patient who opted out of sharing for treatment. The
consultant sees exactly the case, only once accepted, and no longer once the report is issued;
a third facility (H002) never does. Next to each step, the attack that must change nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.referral_parties import (
    REASON,
    SOURCE,
    TARGET,
    THIRD,
    Case,
    ClientFactory,
    created,
    doctors,
    new_case,
    put,
    readable,
    task_of,
)

CONSULTATION = {"coding": [{"system": "http://snomed.info/sct", "code": "11429006"}]}


@pytest.fixture
def parties(client_for: ClientFactory) -> dict[str, httpx.Client]:
    return doctors(client_for)


def _specialist(target: httpx.Client) -> str:
    role = {
        "resourceType": "PractitionerRole",
        "active": True,
        "organization": {"reference": f"Organization/{TARGET}"},
        "specialty": [{"coding": [{"system": "http://snomed.info/sct", "code": "394579002"}]}],
    }
    return f"PractitionerRole/{created(target, role)['id']}"


def _consult(
    parties: dict[str, httpx.Client], case: Case, **changes: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    request = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "category": [CONSULTATION],
        "subject": {"reference": f"Patient/{case.patient}"},
        "requester": {"reference": f"Organization/{SOURCE}"},
        "performer": [{"reference": _specialist(parties[TARGET])}],
        "reasonCode": REASON,
        "supportingInfo": [{"reference": f"Observation/{case.observations[0]}"}],
        **changes,
    }
    made = created(parties[SOURCE], request)
    return made, task_of(parties[SOURCE], made["id"])


def _message(task: dict[str, Any], patient: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "Communication",
        "status": "completed",
        "partOf": [{"reference": f"Task/{task['id']}"}],
        "subject": {"reference": f"Patient/{patient}"},
        "payload": [{"contentString": text}],
    }


def test_a_consultation_shares_the_case_until_the_report(
    parties: dict[str, httpx.Client],
) -> None:
    source, target, third = parties[SOURCE], parties[TARGET], parties[THIRD]
    case = new_case(source)
    shared, kept = (f"Observation/{o}" for o in case.observations)
    request, task = _consult(parties, case)
    assert task["owner"] == {"reference": f"Organization/{TARGET}"}
    assert readable(target, f"ServiceRequest/{request['id']}")  # the request it was sent
    assert not readable(target, shared)  # the case: only once accepted
    task = put(target, task, status="accepted")
    assert readable(target, shared)
    assert not readable(target, kept)  # exactly the case, nothing else of the record
    assert not readable(target, f"Condition/{case.hiv}")
    assert not readable(third, shared)
    # the thread: a question, and the answer, each readable by the other side only
    question = created(source, _message(task, case.patient, "ST段压低，是否需要造影？"))
    assert readable(target, f"Communication/{question['id']}")
    assert not readable(third, f"Communication/{question['id']}")
    answer = created(target, _message(task, case.patient, "建议先做运动负荷试验"))
    assert readable(source, f"Communication/{answer['id']}")
    # the report completes the Task and ends the consultant's access
    report = created(
        target,
        {
            "resourceType": "DiagnosticReport",
            "status": "final",
            "code": {"text": "会诊意见"},
            "basedOn": [{"reference": f"ServiceRequest/{request['id']}"}],
            "subject": {"reference": f"Patient/{case.patient}"},
            "conclusion": "稳定型心绞痛可能，建议转诊",
        },
    )
    done = source.get(f"/Task/{task['id']}").json()
    assert done["status"] == "completed"
    outputs = [o["valueReference"]["reference"] for o in done["output"]]
    assert outputs == [f"DiagnosticReport/{report['id']}"]
    assert readable(source, f"DiagnosticReport/{report['id']}")
    assert not readable(target, shared)
    assert not readable(third, f"DiagnosticReport/{report['id']}")


def test_the_thread_refuses_strangers_and_other_patients(
    parties: dict[str, httpx.Client],
) -> None:
    case = new_case(parties[SOURCE])
    _, task = _consult(parties, case)
    stranger = parties[THIRD].post("/Communication", json=_message(task, case.patient, "?"))
    assert stranger.status_code == 403, stranger.text
    other = new_case(parties[SOURCE])
    wrong = parties[SOURCE].post("/Communication", json=_message(task, other.patient, "?"))
    assert wrong.status_code == 400, wrong.text
    forged = _message(task, case.patient, "see attached")
    forged["payload"].append(
        {"contentReference": {"reference": f"Observation/{other.observations[0]}"}}
    )
    assert parties[SOURCE].post("/Communication", json=forged).status_code == 400


def test_a_case_listing_another_patients_record_is_refused(
    parties: dict[str, httpx.Client],
) -> None:
    case, other = new_case(parties[SOURCE]), new_case(parties[SOURCE])
    with pytest.raises(AssertionError, match="not a record of the consultation's patient"):
        _consult(parties, case, supportingInfo=[{"reference": f"Patient/{other.patient}"}])


def test_only_a_report_completes_and_only_the_consultant_issues_it(
    parties: dict[str, httpx.Client],
) -> None:
    case = new_case(parties[SOURCE])
    request, task = _consult(parties, case)
    accepted = put(parties[TARGET], task, status="accepted")
    bare = parties[TARGET].put(
        f"/Task/{task['id']}",
        json={**accepted, "status": "completed"},
        headers={"If-Match": f'W/"{accepted["meta"]["versionId"]}"'},
    )
    assert bare.status_code == 400 and "report" in bare.text
    forged = {
        "resourceType": "DiagnosticReport",
        "status": "final",
        "code": {"text": "会诊意见"},
        "basedOn": [{"reference": f"ServiceRequest/{request['id']}"}],
        "subject": {"reference": f"Patient/{case.patient}"},
    }
    assert parties[THIRD].post("/DiagnosticReport", json=forged).status_code == 403
    assert parties[SOURCE].get(f"/Task/{task['id']}").json()["status"] == "accepted"


def test_advice_and_guidance_becomes_a_referral_keeping_its_thread(
    parties: dict[str, httpx.Client],
) -> None:
    source = parties[SOURCE]
    case = new_case(source)
    request, task = _consult(parties, case)
    question = created(source, _message(task, case.patient, "能否直接转诊？"))
    performer = {"reference": f"HealthcareService/{TARGET}-cardiology"}
    parameters = {
        "resourceType": "Parameters",
        "parameter": [{"name": "performer", "valueReference": performer}],
    }
    refused = parties[TARGET].post(
        f"/ServiceRequest/{request['id']}/$convert-to-referral", json=parameters
    )
    assert refused.status_code in (403, 404), refused.text
    operation = f"/ServiceRequest/{request['id']}/$convert-to-referral"
    converted = source.post(operation, json=parameters)
    assert converted.status_code == 201, converted.text
    referral = converted.json()
    assert referral["category"][0]["coding"][0]["code"] == "3457005"
    assert referral["replaces"] == [{"reference": f"ServiceRequest/{request['id']}"}]
    kept = {i["reference"] for i in referral["supportingInfo"]}
    assert f"Communication/{question['id']}" in kept
    assert f"Observation/{case.observations[0]}" in kept
    assert task_of(source, referral["id"])["status"] == "requested"
    closed = source.get(f"/Task/{task['id']}").json()
    assert closed["status"] == "cancelled" and closed["statusReason"]["text"] == (
        "converted-to-referral"
    )
