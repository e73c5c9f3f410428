"""The referral loop closed by the documents a hospital returns: an MDM^T02 or ORU^R01 from a HIS
that speaks only v2, or a FHIR Composition. A township doctor (TC001) refers a patient up to
H001, H001 accepts, its HIS sends ADT^A01 and A03 over MLLP, then the discharge summary (出院小结):
the Task completes with the document in ``Task.output``. Beside it, what must move nothing: a
bad message (AE with ERR, nothing written), a document of another visit, a third facility's
Composition; and Composition served with its search parameters under consent."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from adapters.hl7v2.parse import parse_message
from hub.auth.roles import Role
from referral.loop import LOINC, arrival_of, outputs
from tests.integration.hl7_harness import msa, running_gateway
from tests.integration.referral_parties import new_case, readable, total
from tests.integration.test_referral_loop import (
    HL7_NAMES,
    OTHER,
    SOURCE,
    SUMMARY_TYPE,
    TARGET,
    ClientFactory,
    Person,
    adt,
    doctors,
    read_task,
    refer_and_accept,
    send,
)

__all__ = ["doctors"]  # the fixture, shared with the loop's tests

PDF = base64.b64encode("%PDF-1.4 出院小结".encode()).decode()


def _pid(person: Person, facility: str = TARGET) -> str:
    name = HL7_NAMES[facility]
    return (
        f"PID|1||M{person.resident_id[-8:]}^^^{name}^MR~{person.resident_id}^^^CHN^NI||"
        f"{person.family}^{person.given}||{person.birth}|M"
    )


def _msh(kind: str) -> tuple[str, str]:
    control = f"DOC{uuid.uuid4().hex[:16]}"
    now = datetime.now(UTC).strftime("%Y%m%d%H%M%S+0000")
    structure = kind.replace("^", "_")
    header = (
        f"MSH|^~\\&|HIS|{HL7_NAMES[TARGET]}|HUB|YICHANG|{now}||{kind}^{structure}|{control}|P|2.5"
        "|||||CHN|UNICODE UTF-8"
    )
    return header, control


def mdm(person: Person, visit: str, content: str = "", number: str = "") -> bytes:
    """H001's MDM^T02: a discharge summary (TXA-2 DS) of ``visit`` with its text."""
    header, _ = _msh("MDM^T02")
    number = number or f"DS-{uuid.uuid4().hex[:10]}"
    obx = content or "OBX|1|TX|18842-5^出院小结^LN||出院诊断：不稳定型心绞痛。建议社区随访。||||||F"
    ward = f"心内科^^^{HL7_NAMES[TARGET]}"
    return "\r".join([
        header, "EVN|T02", _pid(person), f"PV1|1|I|{ward}||||||||||||||||{visit}",
        f"TXA|1|DS^出院小结^HL70270|TX|||{datetime.now(UTC):%Y%m%d%H%M%S+0000}||||||{number}"
        "|||||AU||AV", obx, "",
    ]).encode()  # fmt: skip


def oru(person: Person, visit: str) -> bytes:
    """H001's ORU^R01 carrying the discharge summary as a PDF (OBR-4 LOINC 18842-5)."""
    header, _ = _msh("ORU^R01")
    return "\r".join([
        header, _pid(person), f"PV1|1|I|||||||||||||||||{visit}",
        f"OBR|1||DS{uuid.uuid4().hex[:8]}|18842-5^出院小结^LN|||{datetime.now(UTC):%Y%m%d%H%M%S}"
        "||||||||||||||||||F",
        f"OBX|1|ED|18842-5^出院小结^LN||^application^PDF^Base64^{PDF}||||||F", "",
    ]).encode()  # fmt: skip


def _arrive_and_leave(person: Person, visit: str) -> None:
    send(adt(person, "A01", visit), adt(person, "A03", visit))


def test_an_mdm_t02_over_mllp_completes_the_referral(doctors: dict[str, httpx.Client]) -> None:
    person = Person()
    _, _, task = refer_and_accept(doctors, person)
    visit = f"V{uuid.uuid4().hex[:10]}"
    _arrive_and_leave(person, visit)
    discharged = read_task(doctors[SOURCE], task["id"])
    assert (discharged["status"], discharged["businessStatus"]["text"]) == (
        "in-progress",
        "discharged",
    )
    send(mdm(person, visit))
    done = read_task(doctors[SOURCE], task["id"])  # the referring doctor sees the outcome
    assert done["status"] == "completed", done
    assert done["businessStatus"]["text"] == "feedback-returned"
    [document_ref] = outputs(done, "feedback-document")
    assert document_ref.startswith("DocumentReference/")
    document = doctors[SOURCE].get(f"/{document_ref}")  # the referring side reads it
    assert document.status_code == 200, document.text
    body = document.json()
    assert body["context"]["encounter"] == [{"reference": arrival_of(done)}]
    assert body["custodian"] == {"reference": f"Organization/{TARGET}"}
    assert any(c["code"] == "18842-5" for c in body["type"]["coding"])
    text = base64.b64decode(body["content"][0]["attachment"]["data"]).decode()
    assert text.startswith("出院诊断")


def test_an_oru_carrying_the_summary_completes_it_too(doctors: dict[str, httpx.Client]) -> None:
    person = Person()
    _, _, task = refer_and_accept(doctors, person)
    visit = f"V{uuid.uuid4().hex[:10]}"
    _arrive_and_leave(person, visit)
    send(oru(person, visit))
    done = read_task(doctors[SOURCE], task["id"])
    assert done["status"] == "completed"
    [document_ref] = outputs(done, "feedback-document")
    attachment = doctors[SOURCE].get(f"/{document_ref}").json()["content"][0]["attachment"]
    assert attachment == {"contentType": "application/pdf", "data": PDF}


@pytest.mark.parametrize(
    ("content", "location"),
    [
        ("OBX|1|ED|18842-5^出院小结^LN||^application^PDF^Base64^%%not-base64%%||||||F", "OBX^1^5"),
        ("OBX|1|NM|8867-4^心率^LN||72|/min|||||F", "OBX^1^5"),
    ],
    ids=["bad-base64", "no-content"],
)
def test_a_bad_document_message_gets_ae_with_err_and_moves_nothing(
    doctors: dict[str, httpx.Client], content: str, location: str
) -> None:
    person = Person()
    _, _, task = refer_and_accept(doctors, person)
    visit = f"V{uuid.uuid4().hex[:10]}"
    _arrive_and_leave(person, visit)
    before = read_task(doctors[SOURCE], task["id"])
    with running_gateway() as gateway:
        [ack] = gateway.send(mdm(person, visit, content))
    assert msa(ack)[0] == "AE", ack.decode()
    err = parse_message(ack.decode()).first("ERR")
    assert err is not None and err.field(2) == location and err.get(8)
    assert read_task(doctors[SOURCE], task["id"])["meta"] == before["meta"]
    # an MDM without its TXA: AE naming the segment
    without_txa = b"\r".join(line for line in mdm(person, visit).split(b"\r")
                             if not line.startswith(b"TXA"))  # fmt: skip
    with running_gateway() as gateway:
        [ack] = gateway.send(without_txa)
    assert msa(ack)[0] == "AE"
    err = parse_message(ack.decode()).first("ERR")
    assert err is not None and err.field(2).startswith("TXA")


def test_a_summary_of_another_visit_does_not_close_it(doctors: dict[str, httpx.Client]) -> None:
    person = Person()
    _, _, task = refer_and_accept(doctors, person)
    visit = f"V{uuid.uuid4().hex[:10]}"
    _arrive_and_leave(person, visit)
    send(mdm(person, f"V{uuid.uuid4().hex[:10]}"))  # an earlier stay's summary
    assert read_task(doctors[SOURCE], task["id"])["status"] == "in-progress"


def composition(patient: str, encounter: str, author: str, status: str = "final") -> dict[str, Any]:
    return {
        "resourceType": "Composition",
        "status": status,
        "type": SUMMARY_TYPE,
        "identifier": {"system": "urn:yichang:h001:doc", "value": uuid.uuid4().hex[:10]},
        "subject": {"reference": f"Patient/{patient}"},
        **({"encounter": {"reference": encounter}} if encounter else {}),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "author": [{"reference": f"Organization/{author}"}],
        "title": "出院小结",
        "section": [{"title": "出院诊断", "text": {"status": "generated",
                     "div": '<div xmlns="http://www.w3.org/1999/xhtml">不稳定型心绞痛</div>'}}],
    }  # fmt: skip


def test_a_composition_closes_the_loop_and_is_searchable(
    doctors: dict[str, httpx.Client],
) -> None:
    person = Person()
    _, _, task = refer_and_accept(doctors, person)
    visit = f"V{uuid.uuid4().hex[:10]}"
    _arrive_and_leave(person, visit)
    arrival = arrival_of(read_task(doctors[SOURCE], task["id"]))
    hospital_patient = doctors[TARGET].get(f"/{arrival}").json()["subject"]["reference"]
    patient_id = hospital_patient.removeprefix("Patient/")
    draft = doctors[TARGET].post(
        "/Composition", json=composition(patient_id, arrival, TARGET, "preliminary")
    )
    assert draft.status_code == 201, draft.text
    assert read_task(doctors[SOURCE], task["id"])["status"] == "in-progress"  # a draft: no
    made = doctors[TARGET].post("/Composition", json=composition(patient_id, arrival, TARGET))
    assert made.status_code == 201, made.text
    done = read_task(doctors[SOURCE], task["id"])
    assert done["status"] == "completed"
    assert outputs(done, "feedback-document") == [f"Composition/{made.json()['id']}"]
    # the usual search parameters
    hospital = doctors[TARGET]
    for params in (
        {"patient": hospital_patient, "_id": made.json()["id"]},
        {"subject": hospital_patient, "status": "final"},
        {"encounter": arrival, "type": f"{LOINC}|18842-5", "status": "final"},
        {"author": f"Organization/{TARGET}", "patient": hospital_patient, "status": "final"},
        {"identifier": f"urn:yichang:h001:doc|{made.json()['identifier']['value']}"},
        {"patient": hospital_patient, "date": f"ge{datetime.now(UTC):%Y-%m-%d}", "status": "final"},
    ):
        assert total(hospital, "Composition", **params) == 1, params
    assert total(hospital, "Composition", patient=hospital_patient) == 2  # and the draft
    assert total(hospital, "Composition", patient=hospital_patient) == 2  # and the draft


def test_a_composition_is_under_consent_like_any_record(client_for: ClientFactory) -> None:
    parties = {c: client_for(role=Role.practitioner, facility=c) for c in (SOURCE, OTHER)}
    case = new_case(parties[SOURCE])  # opted out of sharing for treatment
    mine = parties[SOURCE].post("/Composition", json=composition(case.patient, "", SOURCE))
    body = mine.json()
    assert mine.status_code == 201, mine.text
    assert readable(parties[SOURCE], f"Composition/{body['id']}")
    assert not readable(parties[OTHER], f"Composition/{body['id']}")
    assert total(parties[OTHER], "Composition", patient=f"Patient/{case.patient}") == 0
