"""A consultation's video session and its Composition report, as the two doctors drive them.

The township doctor (TC001) asks H001's cardiologist; once accepted, the cardiologist books the
video session: an Appointment based on the consultation, both doctors and the patient as
participants, H001's video link as an Endpoint. The township doctor reads it, its link and the
thread's notice; a third facility (H002) can neither book one nor read it; another patient, a
forged basedOn, a third facility's doctor or link are refused. The report may be a Composition.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from referral.consultation.session import VIDEO_CONNECTION
from tests.integration.referral_parties import (
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
)
from tests.integration.test_consultation import _consult, _specialist

START, END = "2026-12-09T10:00:00+08:00", "2026-12-09T10:30:00+08:00"


@pytest.fixture
def parties(client_for: ClientFactory) -> dict[str, httpx.Client]:
    return doctors(client_for)


def _video_link(client: httpx.Client, facility: str) -> str:
    endpoint = {
        "resourceType": "Endpoint",
        "status": "active",
        "connectionType": VIDEO_CONNECTION,
        "name": "远程会诊室 1",
        "managingOrganization": {"reference": f"Organization/{facility}"},
        "payloadType": [{"text": "video"}],
        "address": f"https://meet.{facility.lower()}.example/room/1",
    }
    return f"Endpoint/{created(client, endpoint)['id']}"


def _doctor(client: httpx.Client, facility: str) -> str:
    """A doctor of ``facility`` (a PractitionerRole it writes)."""
    role = {
        "resourceType": "PractitionerRole",
        "active": True,
        "organization": {"reference": f"Organization/{facility}"},
    }
    return f"PractitionerRole/{created(client, role)['id']}"


def _session(
    request: dict[str, Any], patient: str, doctors_: list[str], link: str
) -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "status": "booked",
        "description": "远程视频会诊",
        "start": START,
        "end": END,
        "basedOn": [{"reference": f"ServiceRequest/{request['id']}"}],
        "participant": [
            {"actor": {"reference": f"Patient/{patient}"}, "status": "accepted"},
            *({"actor": {"reference": d}, "status": "accepted"} for d in doctors_),
        ],
        "supportingInformation": [{"reference": link}],
    }


def _accepted(parties: dict[str, httpx.Client], case: Case) -> tuple[dict[str, Any], ...]:
    request, task = _consult(parties, case)
    specialist = request["performer"][0]["reference"]
    return request, put(parties[TARGET], task, status="accepted"), specialist


def test_the_consultant_books_the_video_session_the_requester_sees_it(
    parties: dict[str, httpx.Client],
) -> None:
    source, target, third = parties[SOURCE], parties[TARGET], parties[THIRD]
    case = new_case(source)  # opted out of sharing: only grants open it
    request, task, specialist = _accepted(parties, case)
    link = _video_link(target, TARGET)
    both = [specialist, _doctor(source, SOURCE)]
    session = created(target, _session(request, case.patient, both, link))
    appointment = f"Appointment/{session['id']}"
    assert readable(source, appointment)
    seen = source.get(f"/{appointment}").json()
    assert seen["supportingInformation"] == [{"reference": link}]
    assert source.get(f"/{link}").json()["address"].startswith("https://meet.h001")
    assert not readable(third, appointment)
    # the thread shows it, to both sides
    thread = source.get("/Communication", params={"part-of": f"Task/{task['id']}"}).json()
    notices = [e["resource"] for e in thread.get("entry", [])]
    assert [n["about"] for n in notices] == [[{"reference": appointment}]]
    assert "视频会诊" in notices[0]["payload"][0]["contentString"]
    found = source.get("/Appointment", params={"based-on": f"ServiceRequest/{request['id']}"})
    assert [e["resource"]["id"] for e in found.json().get("entry", [])] == [session["id"]]
    # rescheduled by the consultant: still the two parties only
    moved = {**seen, "start": "2026-12-10T10:00:00+08:00", "end": "2026-12-10T10:30:00+08:00"}
    again = target.put(f"/{appointment}", json=moved)
    assert again.status_code == 200, again.text


def test_the_requester_may_book_it_with_its_own_link_and_mark_it_held_after_the_report(
    parties: dict[str, httpx.Client],
) -> None:
    source, target = parties[SOURCE], parties[TARGET]
    case = new_case(source)
    request, task, specialist = _accepted(parties, case)
    link = _video_link(source, SOURCE)
    session = created(source, _session(request, case.patient, [specialist], link))
    assert readable(target, f"Appointment/{session['id']}")  # shared with the consultant
    assert readable(target, link)
    put(target, task, status="completed", output=[_report_output(target, case)])
    held = source.put(f"/Appointment/{session['id']}", json={**session, "status": "fulfilled"})
    assert held.status_code == 200, held.text


def _report_output(target: httpx.Client, case: Case) -> dict[str, Any]:
    report = created(
        target,
        {
            "resourceType": "Composition",
            "status": "final",
            "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4"}]},
            "subject": {"reference": f"Patient/{case.patient}"},
            "date": "2026-12-09T11:00:00+08:00",
            "author": [{"reference": f"Organization/{TARGET}"}],
            "title": "会诊意见",
        },
    )
    reference = f"Composition/{report['id']}"
    return {"type": {"text": "consultation report"}, "valueReference": {"reference": reference}}


def test_a_third_facility_cannot_book_a_session_of_someone_elses_consultation(
    parties: dict[str, httpx.Client],
) -> None:
    case = new_case(parties[SOURCE], opted_out=False)  # even with the record shared
    request, task, _ = _accepted(parties, case)
    stranger = _video_link(parties[THIRD], THIRD)
    forged = _session(request, case.patient, [_specialist(parties[TARGET])], stranger)
    refused = parties[THIRD].post("/Appointment", json=forged)
    assert refused.status_code == 403, refused.text
    thread = parties[SOURCE].get("/Communication", params={"part-of": f"Task/{task['id']}"})
    assert not thread.json().get("entry")


def test_another_patient_a_foreign_doctor_or_link_or_a_pending_consultation_is_refused(
    parties: dict[str, httpx.Client],
) -> None:
    source, target = parties[SOURCE], parties[TARGET]
    case, other = new_case(source), new_case(source)
    request, _, specialist = _accepted(parties, case)
    link = _video_link(target, TARGET)
    wrong_patient = _session(request, other.patient, [specialist], link)
    assert target.post("/Appointment", json=wrong_patient).status_code in (400, 403)
    foreign_role = _doctor(parties[THIRD], THIRD)
    foreign = _session(request, case.patient, [specialist, foreign_role], link)
    assert target.post("/Appointment", json=foreign).status_code == 400
    foreign_link = _session(request, case.patient, [specialist], _video_link(parties[THIRD], THIRD))
    assert target.post("/Appointment", json=foreign_link).status_code == 400
    # basedOn a consultation that is not yet accepted: no session
    pending, _ = _consult(parties, new_case(source))
    early = _session(pending, case.patient, [specialist], link)
    assert target.post("/Appointment", json=early).status_code in (400, 403)


def test_a_composition_report_completes_the_consultation(
    parties: dict[str, httpx.Client],
) -> None:
    source, target, third = parties[SOURCE], parties[TARGET], parties[THIRD]
    case = new_case(source)
    _, task, _ = _accepted(parties, case)
    output = _report_output(target, case)
    reference = output["valueReference"]["reference"]
    done = put(target, task, status="completed", output=[output])
    assert done["status"] == "completed"
    assert readable(source, reference)  # the requester reads the report
    assert not readable(third, reference)
