"""ADT visit events a facility sends beyond admit/transfer/discharge, over MLLP end to end.

A05 (pre-admit) and A14 (pending admit) open a planned Encounter, A38 (cancel pre-admit)
cancels it, A06 and A07 (outpatient to inpatient and back) change the class of the same
Encounter, keyed by the visit number (PV1-19). Each is answered AA, processed, and read back
through the FHIR store; the Patient goes through the patient index as for every ADT. The A06 and
A07 are the team corpus's real ones, as facility H001 with a visit number of this test's.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest
from sqlalchemy import select

from adapters.hl7v2.processing import facility_actor
from hub.db import session_scope
from hub.fhir.conditional import matching
from hub.fhir.store import FhirStore
from hub.fhir.systems import facility_identifier_system
from hub.mpi.models import SourceRow
from hub.security.fields import get_cipher
from tests.corpus import HL7_CORPUS
from tests.integration.hl7_harness import msa, running_gateway, wait_processed

CORPUS = HL7_CORPUS
FACILITY, HL7_NAME = "H001", "YC_H001"
STRUCTURE = {"A05": "ADT_A05", "A14": "ADT_A05", "A38": "ADT_A38", "A06": "ADT_A06",
             "A07": "ADT_A06"}  # fmt: skip
_numbers = itertools.count(1)


def _unique(prefix: str) -> str:
    return f"{prefix}{time.time_ns() % 10**10}{next(_numbers)}"


def visit_event(event: str, *, mrn: str, visit: str, patient_class: str) -> tuple[bytes, str]:
    """(message, control id) of an ADT visit event for one patient and visit."""
    control_id = _unique("VIS")
    text = (
        f"MSH|^~\\&|HIS|{HL7_NAME}|HUB|YICHANG|20261201090000||ADT^{event}^{STRUCTURE[event]}|"
        f"{control_id}|P|2.5|||||CHN|UNICODE UTF-8\r"
        f"EVN|{event}|20261201090000\r"
        f"PID|1||{mrn}^^^{HL7_NAME}^MR||孙^立新||19820304|M\r"
        f"PV1|1|{patient_class}|内科^^^{HL7_NAME}||||||||||||||||{visit}\r"
    )
    return text.encode(), control_id


def corpus_event(name: str, *, visit: str) -> tuple[bytes, str]:
    """A corpus message as facility H001, its MSH-10 made unique and PV1-19 set to ``visit``."""
    segments = (CORPUS / "microsoft_FHIR-Converter" / name).read_text().splitlines()
    control_id = _unique("COR")
    out = []
    for segment in segments:
        fields = segment.split("|")
        if fields[0] == "MSH":
            fields[3], fields[9] = HL7_NAME, control_id
        elif fields[0] == "PV1":
            fields += [""] * (20 - len(fields))
            fields[19] = visit
        out.append("|".join(fields))
    return "\r".join(out).encode(), control_id


def send_all(*messages: tuple[bytes, str]) -> None:
    with running_gateway() as gateway:
        acks = gateway.send(*(raw for raw, _ in messages))
        assert [msa(a)[0] for a in acks] == ["AA"] * len(messages), [a.decode() for a in acks]
        rows = wait_processed(FACILITY, {control_id for _, control_id in messages})
    assert {r.status for r in rows} == {"processed"}, [r.error for r in rows]


def encounters(visit: str) -> list[dict[str, Any]]:
    system = facility_identifier_system(FACILITY, "encounter")
    with session_scope() as session:
        store = FhirStore(session, facility_actor(FACILITY), get_cipher())
        return [s.as_dict() for s in matching(store, "Encounter", f"identifier={system}|{visit}")]


def the_encounter(visit: str) -> dict[str, Any]:
    found = encounters(visit)
    assert len(found) == 1, found
    return found[0]


def indexed(mrn: str) -> bool:
    with session_scope() as session:
        found = session.scalars(
            select(SourceRow.source_id).where(
                SourceRow.facility == FACILITY, SourceRow.source_id == mrn
            )
        ).all()
    return list(found) == [mrn]


@pytest.mark.parametrize(
    ("event", "patient_class", "status", "class_code"),
    [
        ("A05", "P", "planned", "PRENC"),
        ("A14", "I", "planned", "IMP"),
        ("A06", "I", "in-progress", "IMP"),
        ("A07", "O", "in-progress", "AMB"),
        ("A38", "P", "cancelled", "PRENC"),
    ],
)
def test_each_visit_event_is_accepted_and_writes_its_encounter(
    database: str, event: str, patient_class: str, status: str, class_code: str
) -> None:
    mrn, visit = _unique("MRN"), _unique("V")
    send_all(visit_event(event, mrn=mrn, visit=visit, patient_class=patient_class))
    encounter = the_encounter(visit)
    assert encounter["status"] == status
    assert encounter["class"]["code"] == class_code
    patient = encounter["subject"]["reference"]
    with session_scope() as session:
        store = FhirStore(session, facility_actor(FACILITY), get_cipher())
        mrns = [i["value"] for i in store.read(*patient.split("/")).as_dict()["identifier"]]
    assert mrn in mrns
    assert indexed(mrn)  # the Patient went through the patient index


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared corpus not found at {CORPUS}")
def test_a07_after_a06_changes_the_same_encounters_class_back(database: str) -> None:
    visit = _unique("V")
    send_all(corpus_event("ADT-A06-01.hl7", visit=visit))
    inpatient = the_encounter(visit)
    assert (inpatient["class"]["code"], inpatient["status"]) == ("IMP", "in-progress")
    send_all(corpus_event("ADT-A07-01.hl7", visit=visit))
    outpatient = the_encounter(visit)
    assert outpatient["id"] == inpatient["id"]
    assert outpatient["class"]["code"] == "AMB"
    assert int(outpatient["meta"]["versionId"]) == int(inpatient["meta"]["versionId"]) + 1


def test_a38_cancels_the_encounter_of_the_a05(database: str) -> None:
    mrn, visit = _unique("MRN"), _unique("V")
    send_all(visit_event("A05", mrn=mrn, visit=visit, patient_class="I"))
    planned = the_encounter(visit)
    assert planned["status"] == "planned"
    send_all(visit_event("A38", mrn=mrn, visit=visit, patient_class="I"))
    cancelled = the_encounter(visit)
    assert cancelled["id"] == planned["id"] and cancelled["status"] == "cancelled"
    assert cancelled["subject"] == planned["subject"]
