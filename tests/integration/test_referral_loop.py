"""The referral loop closing from what the hospital already sends, as doctors and HIS drive it.

A township doctor (TC001) refers a patient up to H001's cardiology, H001's doctor accepts; H001's
HIS sends ADT^A04 over MLLP with its own record of the same person (its MRN, the same resident
ID): the patient index says it is the same person, the hub moves the Task to in-progress within
a second of the ACK. A03 and a discharge summary (a FHIR DocumentReference from H001) complete
it, the referring doctor reads the outcome, the patient reads their Communications with their
own token. Beside it, the attacks that must move nothing: another person, another facility, a
visit after the validity lapsed, a patient token reading another's notices.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from hub.auth.roles import Role
from hub.fhir.systems import RESIDENT_ID_SYSTEM, facility_patient_system
from hub.mpi.matching.identifiers import check_digit
from referral.loop import LOINC, arrival_of, outputs
from tests.integration.hl7_harness import msa, running_gateway, wait_processed

ClientFactory = Callable[..., httpx.Client]
SOURCE, TARGET, OTHER = "TC001", "H001", "H002"
HL7_NAMES = {TARGET: "YC_H001", OTHER: "YC_H002"}
CATEGORY = {"coding": [{"system": "http://snomed.info/sct", "code": "3457005"}]}
REASON = [{"text": "胸痛待查"}]
SUMMARY_TYPE = {"coding": [{"system": LOINC, "code": "18842-5", "display": "出院小结"}]}


@pytest.fixture
def doctors(client_for: ClientFactory) -> dict[str, httpx.Client]:
    return {c: client_for(role=Role.practitioner, facility=c) for c in (SOURCE, TARGET, OTHER)}


class Person:
    """A synthetic person: a valid resident ID, a name, a birth date."""

    def __init__(self) -> None:
        rng = random.Random(uuid.uuid4().int)
        self.birth = f"19{rng.randint(40, 89)}0{rng.randint(1, 9)}1{rng.randint(0, 9)}"
        body = f"420502{self.birth}{rng.randint(100, 999)}"
        self.resident_id = body + check_digit(body)
        self.family = rng.choice("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓")
        self.given = "".join(
            rng.choice("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚") for _ in range(2)
        )

    def patient(self, facility: str) -> dict[str, Any]:
        birth = f"{self.birth[:4]}-{self.birth[4:6]}-{self.birth[6:]}"
        return {
            "resourceType": "Patient",
            "identifier": [
                {"system": facility_patient_system(facility), "value": uuid.uuid4().hex[:12]},
                {"system": RESIDENT_ID_SYSTEM, "value": self.resident_id},
            ],
            "name": [{"family": self.family, "given": [self.given]}],
            "gender": "male",
            "birthDate": birth,
        }


def adt(person: Person, event: str, visit: str, facility: str = TARGET, start: str = "") -> bytes:
    """An ADT message of ``facility``'s HIS for ``person``: its own MRN, the resident ID."""
    name = HL7_NAMES[facility]
    control = f"LOOP{uuid.uuid4().hex[:16]}"
    now = datetime.now(UTC).strftime("%Y%m%d%H%M%S+0000")
    admitted = start or now
    return (
        f"MSH|^~\\&|HIS|{name}|HUB|YICHANG|{now}||ADT^{event}^ADT_A01|{control}|P|2.5|||||CHN|"
        f"UNICODE UTF-8\r"
        f"EVN|{event}|{now}\r"
        f"PID|1||M{person.resident_id[-8:]}^^^{name}^MR~{person.resident_id}^^^CHN^NI||"
        f"{person.family}^{person.given}||{person.birth}|M\r"
        f"PV1|1|I|心内科^^^{name}||||||||||||||||{visit}|||||||||||||||||||||||||{admitted}\r"
    ).encode()


def send(*messages: bytes, facility: str = TARGET) -> None:
    """Send over MLLP (each answered AA) and wait until processed."""
    with running_gateway() as gateway:
        acks = gateway.send(*messages)
        assert [msa(a)[0] for a in acks] == ["AA"] * len(messages), [a.decode() for a in acks]
        controls = {m.decode().split("\r")[0].split("|")[9] for m in messages}
        rows = wait_processed(facility, controls)
    assert {r.status for r in rows} == {"processed"}, [r.error for r in rows]


def refer_and_accept(
    doctors: dict[str, httpx.Client], person: Person, **request: Any
) -> tuple[str, str, dict[str, Any]]:
    """(patient id at TC001, ServiceRequest id, the accepted Task)."""
    source, target = doctors[SOURCE], doctors[TARGET]
    created = source.post("/Patient", json=person.patient(SOURCE))
    assert created.status_code == 201, created.text
    patient = str(created.json()["id"])
    referral = {
        "resourceType": "ServiceRequest", "status": "active", "intent": "order",
        "category": [CATEGORY], "priority": "urgent", "reasonCode": REASON,
        "identifier": [{"system": "urn:yichang:referral", "value": uuid.uuid4().hex[:10]}],
        "subject": {"reference": f"Patient/{patient}"},
        "requester": {"reference": f"Organization/{SOURCE}"},
        "performer": [{"reference": f"HealthcareService/{TARGET}-cardiology"}], **request,
    }  # fmt: skip
    made = source.post("/ServiceRequest", json=referral)
    assert made.status_code == 201, made.text
    request_id = str(made.json()["id"])
    task = source.get("/Task", params={"focus": f"ServiceRequest/{request_id}"}).json()
    [task] = [e["resource"] for e in task["entry"]]
    accepted = target.put(
        f"/Task/{task['id']}",
        json={**task, "status": "accepted"},
        headers={"If-Match": f'W/"{task["meta"]["versionId"]}"'},
    )
    assert accepted.status_code == 200, accepted.text
    return patient, request_id, accepted.json()


def read_task(client: httpx.Client, task_id: str) -> dict[str, Any]:
    response = client.get(f"/Task/{task_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_for_status(client: httpx.Client, task_id: str, status: str, limit: float) -> None:
    """Until the Task reads ``status`` (fails after ``limit`` seconds)."""
    began = time.monotonic()
    while read_task(client, task_id)["status"] != status:
        assert time.monotonic() - began < limit, f"Task {task_id} not {status} in {limit}s"
        time.sleep(0.02)


def summary(client: httpx.Client, patient: str, encounter: str) -> httpx.Response:
    return client.post("/DocumentReference", json={
        "resourceType": "DocumentReference", "status": "current", "type": SUMMARY_TYPE,
        "subject": {"reference": f"Patient/{patient}"},
        "context": {"encounter": [{"reference": encounter}]},
        "content": [{"attachment": {"contentType": "text/plain", "title": "出院小结",
                                    "data": "5Ye66Zmi5bCP57uT"}}],
    })  # fmt: skip


def test_the_loop_closes_from_adt_and_a_discharge_summary(
    doctors: dict[str, httpx.Client], client_for: ClientFactory
) -> None:
    person = Person()
    patient, request_id, task = refer_and_accept(doctors, person)
    visit = f"V{uuid.uuid4().hex[:10]}"
    with running_gateway() as gateway:
        [ack] = gateway.send(adt(person, "A04", visit))
        acked = time.monotonic()
        assert msa(ack)[0] == "AA", ack.decode()
        # moved in the Encounter's writing transaction: the referring doctor sees it at once
        wait_for_status(doctors[SOURCE], task["id"], "in-progress", 5.0)
        assert time.monotonic() - acked < 1.0
    arrived = read_task(doctors[SOURCE], task["id"])
    assert arrived["businessStatus"]["text"] == "arrived"
    encounter_ref = arrival_of(arrived)
    encounter = doctors[TARGET].get(f"/{encounter_ref}").json()
    [based_on] = encounter["basedOn"]
    assert based_on["reference"] == f"ServiceRequest/{request_id}"
    assert based_on["identifier"]["system"] == "urn:yichang:referral"
    hospital_patient = encounter["subject"]["reference"].removeprefix("Patient/")
    assert hospital_patient != patient  # H001's own record of the same person

    send(adt(person, "A03", visit))
    discharged = read_task(doctors[SOURCE], task["id"])
    assert discharged["status"] == "in-progress"
    assert discharged["businessStatus"]["text"] == "discharged"
    encounter = doctors[TARGET].get(f"/{encounter_ref}").json()
    assert encounter["status"] == "finished"  # the HIS's A03 replaced it; the link is put back
    assert encounter["basedOn"][0]["reference"] == f"ServiceRequest/{request_id}"

    document = summary(doctors[TARGET], hospital_patient, encounter_ref)
    assert document.status_code == 201, document.text
    done = read_task(doctors[SOURCE], task["id"])  # the referring doctor sees the outcome
    assert done["status"] == "completed"
    assert done["businessStatus"]["text"] == "feedback-returned"
    assert outputs(done, "feedback-document") == [f"DocumentReference/{document.json()['id']}"]

    # insurance: the referral as evidence, and the Encounter it led to
    found = doctors[SOURCE].get("/ServiceRequest", params={
        "patient": f"Patient/{patient}", "status": "active,completed",
        "category": "http://snomed.info/sct|3457005",
    }).json()  # fmt: skip
    assert [e["resource"]["id"] for e in found["entry"]] == [request_id]
    assert found["entry"][0]["resource"]["status"] == "completed"
    led_to = doctors[TARGET].get("/Encounter", params={"based-on": f"ServiceRequest/{request_id}"})
    assert [e["resource"]["id"] for e in led_to.json()["entry"]] == [encounter["id"]]

    # the patient was told of every move, with their own token
    own = client_for(role=Role.patient, facility=SOURCE, patient=patient)
    notices = own.get("/Communication", params={"recipient": f"Patient/{patient}"}).json()
    texts = [e["resource"]["payload"][0]["contentString"] for e in notices.get("entry", [])]
    assert len(texts) == 4, texts  # requested, accepted, in-progress, completed
    assert any("到院" in t for t in texts) and any("完成" in t for t in texts)


def test_a_request_with_the_plain_referral_code_is_found_by_it(
    doctors: dict[str, httpx.Client],
) -> None:
    person = Person()
    plain = {"coding": [{"code": "referral"}]}
    patient, request_id, _ = refer_and_accept(doctors, person, category=[plain])
    found = doctors[SOURCE].get("/ServiceRequest", params={
        "patient": f"Patient/{patient}", "status": "active,completed", "category": "referral",
    }).json()  # fmt: skip
    assert [e["resource"]["id"] for e in found["entry"]] == [request_id]


def test_another_person_or_another_facility_moves_nothing(
    doctors: dict[str, httpx.Client],
) -> None:
    person, stranger = Person(), Person()
    _, _, task = refer_and_accept(doctors, person)
    send(adt(stranger, "A04", f"V{uuid.uuid4().hex[:10]}"))  # someone else at H001
    send(adt(person, "A04", f"V{uuid.uuid4().hex[:10]}", facility=OTHER), facility=OTHER)
    still = read_task(doctors[SOURCE], task["id"])
    assert still["status"] == "accepted" and still["meta"] == task["meta"]
    # the referring facility writing an Encounter for its own patient is no arrival either
    patient = task["for"]["reference"]
    own = doctors[SOURCE].post("/Encounter", json={
        "resourceType": "Encounter", "status": "arrived", "subject": {"reference": patient},
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
    })  # fmt: skip
    assert own.status_code == 201, own.text
    assert read_task(doctors[SOURCE], task["id"])["status"] == "accepted"


def test_an_arrival_after_the_validity_lapsed_moves_nothing(
    doctors: dict[str, httpx.Client],
) -> None:
    person = Person()
    # A date is read in the region's time (UTC+8): tomorrow in UTC may have begun there already.
    until = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    _, _, task = refer_and_accept(doctors, person, occurrencePeriod={"end": until})
    late = (datetime.now(UTC) + timedelta(days=4)).strftime("%Y%m%d%H%M%S+0000")
    send(adt(person, "A04", f"V{uuid.uuid4().hex[:10]}", start=late))
    assert read_task(doctors[SOURCE], task["id"])["status"] == "accepted"
    send(adt(person, "A04", f"V{uuid.uuid4().hex[:10]}"))  # in time: it moves
    assert read_task(doctors[SOURCE], task["id"])["status"] == "in-progress"


def test_a_patient_token_reads_only_its_own_communications(
    doctors: dict[str, httpx.Client], client_for: ClientFactory
) -> None:
    mine, _, _ = refer_and_accept(doctors, Person())
    theirs, _, _ = refer_and_accept(doctors, Person())
    own = client_for(role=Role.patient, facility=SOURCE, patient=mine)
    listed = own.get("/Communication").json()
    recipients = {e["resource"]["recipient"][0]["reference"] for e in listed.get("entry", [])}
    assert recipients == {f"Patient/{mine}"}
    other = doctors[SOURCE].get("/Communication", params={"recipient": f"Patient/{theirs}"})
    [their_notice, *_] = [e["resource"]["id"] for e in other.json()["entry"]]
    assert own.get(f"/Communication/{their_notice}").status_code == 404
    asked = own.get("/Communication", params={"recipient": f"Patient/{theirs}"})
    assert asked.status_code in (200, 403)
    if asked.status_code == 200:
        assert not asked.json().get("entry")
