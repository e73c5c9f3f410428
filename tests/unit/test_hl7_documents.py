"""HL7 v2 documents -> DocumentReference: MDM^T02/T10 and an ORU^R01 carrying a discharge summary
(出院小结) from a HIS that speaks only v2, and the bad messages that get AE. Pure: no database."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.hl7v2.errors import Hl7ContentError
from adapters.hl7v2.mappings import MappingContext, map_message
from hub.fhir.systems import facility_identifier_system
from hub.fhir.validation import validate_resource
from tests.hl7v2_cases import FACILITY, encode, msh, parse, pid

CONTEXT = MappingContext(FACILITY, datetime(2026, 12, 7, 1, 0, tzinfo=UTC), "inbox-7")
LOINC = "http://loinc.org"
SUMMARY = "出院诊断：不稳定型心绞痛。\\.br\\建议社区随访，继续阿司匹林。"
PDF = base64.b64encode(b"%PDF-1.4 discharge summary").decode()


def _mdm(event: str = "T02", txa: str = "", obx: tuple[str, ...] = ()) -> bytes:
    return encode(
        [
            msh(f"MDM^{event}", f"MDM-{event}", structure=f"MDM_{event}"),
            f"EVN|{event}|20261207090000+0800",
            pid(),
            "PV1|1|I|心内科^^^H||||||||||||||||V20261201001",
            txa
            or "TXA|1|DS^出院小结^HL70270|TX|20261207085500+0800||20261207090000+0800"
            "||||||DOC-2026-0001|||||AU||AV",
            *(obx or (f"OBX|1|TX|18842-5^出院小结^LN||{SUMMARY}||||||F",)),
        ]
    )


def _documents(raw: bytes) -> list[dict[str, Any]]:
    entries = map_message(parse(raw), CONTEXT).bundle["entry"]
    for entry in entries:
        validate_resource(entry["resource"]["resourceType"], entry["resource"])
    return [e["resource"] for e in entries if e["resource"]["resourceType"] == "DocumentReference"]


def _text(document: dict[str, Any]) -> str:
    [content] = document["content"]
    return base64.b64decode(content["attachment"]["data"]).decode()


def test_an_mdm_t02_discharge_summary_is_a_document_reference() -> None:
    raw = _mdm()
    [document] = _documents(raw)
    key = {"system": facility_identifier_system(FACILITY, "document"), "value": "DOC-2026-0001"}
    assert document["identifier"] == [key] and document["masterIdentifier"] == key
    assert document["status"] == "current" and document["docStatus"] == "final"
    codes = {(c["system"], c["code"]) for c in document["type"]["coding"]}
    assert (LOINC, "18842-5") in codes  # table 0270 DS, read as the LOINC discharge summary
    assert document["date"] == "2026-12-07T09:00:00+08:00"
    facility = {"reference": f"Organization/{FACILITY}"}
    assert document["author"] == [facility] and document["custodian"] == facility
    assert _text(document) == "出院诊断：不稳定型心绞痛。\n建议社区随访，继续阿司匹林。"
    assert document["content"][0]["attachment"]["contentType"].startswith("text/plain")
    entries = map_message(parse(raw), CONTEXT).bundle["entry"]
    urls = {e["resource"]["resourceType"]: e["fullUrl"] for e in entries}
    assert document["subject"] == {"reference": urls["Patient"]}
    assert document["context"]["encounter"] == [{"reference": urls["Encounter"]}]
    encounter = next(e for e in entries if e["resource"]["resourceType"] == "Encounter")
    assert encounter["request"]["method"] == "POST"  # PV1-19 named: the known visit, not replaced


def test_an_encapsulated_pdf_is_kept_as_its_data() -> None:
    [document] = _documents(
        _mdm(obx=(f"OBX|1|ED|18842-5^出院小结^LN||^application^PDF^Base64^{PDF}||||||F",))
    )
    [content] = document["content"]
    assert content["attachment"] == {"data": PDF, "contentType": "application/pdf"}


def test_a_t10_replaces_the_document_of_txa_13() -> None:
    txa = ("TXA|1|DS^出院小结^HL70270|TX|||20261207100000+0800||||||DOC-2026-0002|DOC-2026-0001"
           "||||AU||AV")  # fmt: skip
    [document] = _documents(_mdm("T10", txa))
    assert document["identifier"][0]["value"] == "DOC-2026-0002"
    [relation] = document["relatesTo"]
    assert relation["code"] == "replaces"
    assert relation["target"]["identifier"]["value"] == "DOC-2026-0001"


@pytest.mark.parametrize(
    ("raw", "location"),
    [
        (encode([msh("MDM^T02", "M1"), "EVN|T02", pid(), "OBX|1|TX|X^Y^L||text"]), "TXA"),
        (encode([msh("MDM^T02", "M2"), "EVN|T02", "TXA|1|DS|TX", "OBX|1|TX|X^Y^L||t"]), "PID"),
        (_mdm(txa="TXA|1||TX|||||||||DOC-1"), "TXA-2"),
        (_mdm(obx=("OBX|1|ED|X^Y^L||^application^PDF^Base64^not*base64!||||||F",)), "OBX-5"),
        (_mdm(obx=("OBX|1|ED|X^Y^L||^application^PDF^Base64^||||||F",)), "OBX-5"),
        (_mdm(obx=("OBX|1|NM|X^Y^L||12||||||F",)), "OBX-5"),  # nothing a document holds
        (_mdm("T10", "TXA|1|DS|TX|||||||||DOC-2"), "TXA-13"),  # replaces what?
    ],
    ids=["no-txa", "no-pid", "no-type", "bad-base64", "empty-ed", "no-content", "t10-no-parent"],
)
def test_a_bad_document_message_gets_an_ae_naming_the_field(raw: bytes, location: str) -> None:
    with pytest.raises(Hl7ContentError) as refused:
        map_message(parse(raw), CONTEXT)
    assert refused.value.ack_code == "AE" and refused.value.location == location


def _oru(obr_service: str, *obx: str) -> bytes:
    return encode(
        [
            msh("ORU^R01", "ORU-DOC", structure="ORU_R01"),
            pid(),
            "PV1|1|I|||||||||||||||||V20261201001",
            f"OBR|1|PL77|DOC77|{obr_service}|||20261207090000|||||||||||||||20261207093000+0800"
            "||HM|F",
            *obx,
        ]
    )


def test_an_oru_carrying_a_discharge_summary_is_a_document_not_a_result() -> None:
    raw = _oru("18842-5^出院小结^LN", "OBX|1|TX|18842-5^出院小结^LN||出院小结正文||||||F",
               f"OBX|2|ED|18842-5^出院小结^LN||^application^PDF^Base64^{PDF}||||||F")  # fmt: skip
    [document] = _documents(raw)
    types = {
        e["resource"]["resourceType"] for e in map_message(parse(raw), CONTEXT).bundle["entry"]
    }
    assert "DiagnosticReport" not in types and "Observation" not in types
    assert document["docStatus"] == "final"
    assert document["date"] == "2026-12-07T09:30:00+08:00"
    contents = [c["attachment"] for c in document["content"]]
    assert contents[0] == {"data": PDF, "contentType": "application/pdf"}
    assert base64.b64decode(contents[1]["data"]).decode() == "出院小结正文"


def test_an_oru_with_results_stays_a_report() -> None:
    raw = _oru("58410-2^血常规^LN", "OBX|1|ST|8251-1^备注^LN||标本轻度溶血||||||F")
    assert _documents(raw) == []
    note = _oru("18842-5^出院小结^LN", "OBX|1|NM|6690-2^白细胞^LN||11.2|10*9/L||||F")
    assert _documents(note) == []  # a discrete result: not only a document's content
    with pytest.raises(Hl7ContentError):  # a report's PDF that is not Base64 is refused too
        map_message(parse(_oru("58410-2^血常规^LN", "OBX|1|ED|X^Y^L||^AP^PDF^Base64^@@@")), CONTEXT)
