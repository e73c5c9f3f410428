"""Strict structure validation (hl7apy) for facilities configured strict (adapters/hl7v2)."""

from __future__ import annotations

import pytest

from adapters.hl7v2.errors import Hl7Error
from adapters.hl7v2.gateway import facilities_by_sending_name
from adapters.hl7v2.intake import Intake, Sender
from adapters.hl7v2.models import MessageStatus
from adapters.hl7v2.parse import parse_message
from adapters.hl7v2.structure import check_structure
from hub.region.facilities import load_facilities
from hub.settings import Settings
from tests.corpus import HL7_CORPUS

FACILITIES = facilities_by_sending_name(load_facilities())
LENIENT = Intake(FACILITIES, "UNICODE UTF-8")
STRICT = Intake(FACILITIES, "UNICODE UTF-8", strict_facilities=frozenset({"H001"}))
CORPUS = HL7_CORPUS

MSH = "MSH|^~\\&|HIS|YC_H001|HUB|YICHANG|20261126101500||ADT^A01^ADT_A01|{id}|P|2.5\r"
EVN = "EVN|A01|20261126101500\r"
PID = "PID|1||MRN-1^^^YC_H001^MR||王^小明||19900101|M\r"
PV1 = "PV1|1|I\r"


def _message(*segments: str, control_id: str = "S1") -> bytes:
    return (MSH.format(id=control_id) + "".join(segments)).encode()


def _answer(raw: bytes, intake: Intake = STRICT) -> tuple[str, str, str, str]:
    received = intake.check(raw, Sender("10.0.0.1:5000"))
    ack = parse_message(received.ack)
    msa, err = ack.first("MSA"), ack.first("ERR")
    code = msa.get(1) if msa else ""
    if err is None:
        return code, "", "", received.status.value
    return code, err.get(3, 1), err.field(2), received.status.value


def test_a_well_formed_message_passes_strict_validation() -> None:
    received = STRICT.check(_message(EVN, PID, PV1), Sender())
    assert received.status is MessageStatus.RECEIVED and received.ack_code == "AA"


@pytest.mark.parametrize(
    ("segments", "location"),
    [
        ((EVN, PV1, PID), "PID"),  # out of order
        ((EVN, PID), "PV1"),  # a required segment missing
        ((EVN, PID, PID, PV1), "PID"),  # a non-repeating segment repeated
    ],
    ids=["out-of-order", "missing-required", "repeated"],
)
def test_structure_errors_are_accepted_lenient_and_refused_strict(
    segments: tuple[str, ...], location: str
) -> None:
    raw = _message(*segments)
    lenient = LENIENT.check(raw, Sender())
    assert lenient.status is MessageStatus.RECEIVED and lenient.ack_code == "AA"

    received = STRICT.check(raw, Sender())
    assert received.status is MessageStatus.REJECTED  # kept in the log like any refusal
    assert received.raw == raw and received.facility_code == "H001"
    assert received.error is not None and received.error.startswith("100")
    code, error_code, err_location, _ = _answer(raw)
    assert code == "AE" and error_code == "100"
    assert location in err_location


def test_only_the_configured_facility_is_strict() -> None:
    raw = _message(EVN, PV1, PID).replace(b"YC_H001", b"YC_H002", 1)
    assert STRICT.check(raw, Sender()).ack_code == "AA"


def test_the_lenient_path_never_runs_hl7apy(monkeypatch: pytest.MonkeyPatch) -> None:
    import hl7apy.parser

    calls: list[str] = []

    def refuse(*args: object, **kwargs: object) -> None:
        calls.append("hl7apy")
        raise AssertionError("hl7apy ran")

    monkeypatch.setattr(hl7apy.parser, "parse_message", refuse)
    assert LENIENT.check(_message(EVN, PID, PV1), Sender()).ack_code == "AA"
    assert calls == []
    # while a strict facility's message does run it (its failure answered AR 207, not raised)
    assert STRICT.check(_message(EVN, PID, PV1), Sender()).ack_code == "AR"
    assert calls == ["hl7apy"]


def test_the_setting_takes_a_list_of_codes() -> None:
    assert Settings(hl7_strict_facilities="H001, H002").hl7_strict_facilities == {"H001", "H002"}
    assert Settings(hl7_strict_facilities='["H003"]').hl7_strict_facilities == {"H003"}
    assert Settings().hl7_strict_facilities == frozenset()


CORPUS_VALID = [
    "rethinkhealth_hl7v2/qa__fixtures__adt-a01-full.hl7",
    "rethinkhealth_hl7v2/qa__fixtures__oru-r01-lab.hl7",
    "rethinkhealth_hl7v2/qa__fixtures__dft-p03-charge.hl7",
    "microsoft_FHIR-Converter/SIU-S12-01.hl7",
    "microsoft_FHIR-Converter/REF-I12-01.hl7",
    "eerohele_pipehat/sample-v2.5.1-oru-r01-1.hl7",
]


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the team corpus /work/shared is not mounted")
@pytest.mark.parametrize("name", CORPUS_VALID)
def test_valid_corpus_messages_pass_the_structure_check(name: str) -> None:
    text = (CORPUS / name).read_bytes().decode("utf-8").lstrip("\ufeff").strip()
    check_structure(text)  # raises on a structure error


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the team corpus /work/shared is not mounted")
def test_a_valid_corpus_message_is_accepted_from_a_strict_facility() -> None:
    text = (CORPUS / CORPUS_VALID[0]).read_bytes().decode("utf-8").lstrip("\ufeff").strip()
    lines = text.replace("\r\n", "\r").replace("\n", "\r").split("\r")
    fields = lines[0].split("|")
    fields[3] = "YC_H001"
    lines[0] = "|".join(fields)
    received = STRICT.check("\r".join(lines).encode(), Sender())
    assert received.ack_code == "AA", received.error


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the team corpus /work/shared is not mounted")
def test_a_corpus_message_missing_evn_is_refused() -> None:
    text = (CORPUS / "rethinkhealth_hl7v2/qa__fixtures__edge-z-segments.hl7").read_text()
    with pytest.raises(Hl7Error) as caught:
        check_structure(text.strip())
    assert caught.value.location == "EVN"


def test_a_structure_check_bug_is_answered_and_the_message_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(_: str) -> None:
        raise TypeError("hl7apy bug")

    monkeypatch.setattr("adapters.hl7v2.intake.check_structure", broken)
    assert _answer(_message(EVN, PID, PV1))[::3] == ("AR", "rejected")  # kept for the operators
    assert _answer(_message(EVN, PID, PV1))[1] == "207"
