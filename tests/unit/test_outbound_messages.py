"""Outbound HL7 v2 messages (built with hl7apy) read back with the hub's own parser, the FHIR to
v2 content rules, ACK classification and subscription criteria: pure code, no database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.hl7v2.ack import Envelope, build_ack
from adapters.hl7v2.errors import Hl7ContentError
from adapters.hl7v2.parse import parse_message
from adapters.outbound.criteria import CriteriaError, matches, parse_criteria
from adapters.outbound.senders import OutcomeKind, interpret_ack
from adapters.outbound.v2_content import appointment_data, patient_data, referral_data
from adapters.outbound.v2_messages import (
    Cx,
    Header,
    build_a40,
    build_referral,
    build_siu,
    control_id_for,
    to_dtm,
)
from hub.fhir.systems import facility_patient_system
from hub.security.fields import FieldCipher

KEY = "H002|SIU^S12|Appointment/a1/_history/1"
HEADER = Header("YCZXYY", control_id_for(KEY), datetime(2025, 3, 1, 1, 0, tzinfo=UTC))
PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "identifier": [{"system": facility_patient_system("H001"), "value": "MRN-77"}],
    "name": [{"family": "欧阳", "given": ["娜", "娜"]}],
    "gender": "female",
    "birthDate": "1980-03-02",
}
APPOINTMENT: dict[str, Any] = {
    "resourceType": "Appointment",
    "id": "a1",
    "status": "booked",
    "start": "2025-03-05T09:00:00+08:00",
    "end": "2025-03-05T09:30:00+08:00",
    "minutesDuration": 30,
    "serviceType": [{"coding": [{"code": "124", "display": "全科门诊"}]}],
    "description": "带上化验单^复印件",
    "participant": [
        {"actor": {"reference": "Patient/p1", "display": "欧阳娜娜"}, "status": "accepted"},
        {"actor": {"reference": "Location/H002-loc", "display": "宜昌市中心人民医院"},
         "status": "accepted"},
        {"actor": {"reference": "Practitioner/dr1", "display": "李明"}, "status": "accepted"},
    ],
}  # fmt: skip
REFERRAL: dict[str, Any] = {
    "resourceType": "ServiceRequest",
    "id": "sr1",
    "status": "active",
    "intent": "order",
    "priority": "urgent",
    "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "3457005"}]}],
    "code": {"text": "心内科会诊"},
    "subject": {"reference": "Patient/p1"},
    "authoredOn": "2025-03-01",
    "requester": {"reference": "Organization/H001", "display": "夷陵区人民医院"},
    "performer": [{"reference": "Organization/H002", "display": "宜昌市中心人民医院"}],
    "reasonCode": [{"text": "胸痛待查"}],
}


def _patient() -> Any:
    return patient_data(PATIENT, (Cx("ZX-1", "H002", "MR"), Cx("E000123", "YICHANG-HUB", "PN")))


def test_siu_s12_reads_back_with_hanzi_intact() -> None:
    text = build_siu("S12", HEADER, appointment_data(APPOINTMENT), _patient())
    message = parse_message(text)
    assert message.message_type == "SIU^S12"
    assert message.structure == "SIU_S12"
    assert message.version == "2.5"
    assert message.msh.field(18) == "UNICODE UTF-8"
    assert message.control_id == control_id_for(KEY) and len(message.control_id) <= 20
    assert message.receiving_facility == "YCZXYY"
    sch = message.first("SCH")
    assert sch is not None
    assert sch.get(1, 1) == "a1" and sch.get(25) == "Booked" and sch.get(9) == "30"
    assert sch.get(11, 4) == "20250305090000+0800"
    tq1 = message.first("TQ1")
    assert tq1 is not None and tq1.get(7) == "20250305090000+0800"
    nte = message.first("NTE")
    assert nte is not None and nte.get(3) == "带上化验单^复印件"  # escaped, then unescaped
    pid = message.first("PID")
    assert pid is not None
    assert pid.get(5, 1) == "欧阳" and pid.get(5, 2) == "娜娜"
    assert pid.get(7) == "19800302" and pid.get(8) == "F"
    assert pid.repetitions(3) == [
        "ZX-1^^^H002^MR",
        "E000123^^^YICHANG-HUB^PN",
        "MRN-77^^^H001^MR",
    ]
    ail = message.first("AIL")
    assert ail is not None and ail.get(3, 9) == "宜昌市中心人民医院"
    aip = message.first("AIP")
    assert aip is not None and aip.get(3, 1) == "dr1" and aip.get(3, 2) == "李明"
    ais = message.first("AIS")
    assert ais is not None and ais.get(3, 2) == "全科门诊"


def test_siu_s15_marks_the_cancellation() -> None:
    cancelled = dict(APPOINTMENT, status="cancelled")
    message = parse_message(build_siu("S15", HEADER, appointment_data(cancelled), _patient()))
    assert message.message_type == "SIU^S15"
    sch = message.first("SCH")
    assert sch is not None and sch.get(25) == "Cancelled"


@pytest.mark.parametrize("code", ["REF", "RRI"])
def test_referral_messages(code: str) -> None:
    message = parse_message(build_referral(code, HEADER, referral_data(REFERRAL), _patient()))
    assert message.message_type == f"{code}^I12"
    assert message.structure == f"{code}_I12"
    rf1 = message.first("RF1")
    assert rf1 is not None
    assert rf1.get(1, 1) == "P" and rf1.get(2, 1) == "A" and rf1.get(6, 1) == "sr1"
    assert rf1.get(3, 2) == "心内科会诊" and rf1.get(10, 2) == "胸痛待查"
    roles = [(s.get(1, 1), s.get(2, 1), s.get(7)) for s in message.all("PRD")]
    assert roles == [("RP", "夷陵区人民医院", "H001"), ("RT", "宜昌市中心人民医院", "H002")]
    pid = message.first("PID")
    assert pid is not None and pid.get(5, 1) == "欧阳"


def test_referral_status_comes_from_the_task() -> None:
    rf1 = parse_message(
        build_referral("RRI", HEADER, referral_data(REFERRAL, status="accepted"), _patient())
    ).first("RF1")
    assert rf1 is not None and rf1.get(1, 1) == "A" and rf1.get(1, 2) == "Accepted"


def test_adt_a40_carries_survivor_and_retired_identifiers() -> None:
    survivor = patient_data(PATIENT, (Cx("E2", "YICHANG-HUB", "PN"),))
    text = build_a40(HEADER, survivor, (Cx("MRN-9", "H002", "MR"), Cx("E1", "YICHANG-HUB", "PN")))
    message = parse_message(text)
    assert message.message_type == "ADT^A40" and message.structure == "ADT_A39"
    pid, mrg = message.first("PID"), message.first("MRG")
    assert pid is not None and mrg is not None
    assert pid.get(3, 1) == "E2" and pid.get(5, 1) == "欧阳"
    assert mrg.repetitions(1) == ["MRN-9^^^H002^MR", "E1^^^YICHANG-HUB^PN"]
    assert [s.name for s in message.segments] == ["MSH", "EVN", "PID", "MRG"]


def test_delimiters_in_names_are_escaped() -> None:
    odd = dict(PATIENT, name=[{"family": "A^B|C", "given": ["D&E~F"]}])
    pid = parse_message(build_a40(HEADER, patient_data(odd), ())).first("PID")
    assert pid is not None and pid.get(5, 1) == "A^B|C" and pid.get(5, 2) == "D&E~F"


def test_control_id_is_stable_per_key() -> None:
    assert control_id_for(KEY) == control_id_for(KEY)
    assert control_id_for(KEY) != control_id_for(KEY + "x")


def test_to_dtm() -> None:
    assert to_dtm("2025-03-05T09:00:00+08:00") == "20250305090000+0800"
    assert to_dtm("2025-03-05T01:00:00Z") == "20250305010000+0000"
    assert to_dtm("2025-03-05") == "20250305"
    assert to_dtm("") == "" and to_dtm("not a date") == ""


def _ack(code: str, control_id: str, error: Hl7ContentError | None = None) -> bytes:
    sent = parse_message(build_siu("S12", Header("X", control_id, HEADER.created_at),
                                   appointment_data(APPOINTMENT), _patient()))  # fmt: skip
    return build_ack(Envelope.of(sent), code, error).encode()


def test_interpret_ack() -> None:
    control = control_id_for(KEY)
    assert interpret_ack(_ack("AA", control), control).kind is OutcomeKind.DELIVERED
    refused = interpret_ack(
        _ack("AE", control, Hl7ContentError("unknown slot", location="SCH-1")), control
    )
    assert refused.kind is OutcomeKind.REFUSED and refused.ack_code == "AE"
    assert "unknown slot" in refused.error
    assert interpret_ack(_ack("AA", "OTHER"), control).kind is OutcomeKind.TRANSIENT
    assert interpret_ack(b"garbage", control).kind is OutcomeKind.TRANSIENT


@pytest.fixture(scope="module")
def cipher() -> FieldCipher:
    from hub.security.fields import get_cipher

    return get_cipher()


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ("Appointment", True),
        ("Appointment?status=booked", True),
        ("Appointment?status=proposed,booked", True),
        ("Appointment?status=cancelled", False),
        ("Appointment?location=Location/H002-loc", True),
        ("Appointment?location=H002-loc", True),
        ("Appointment?actor=Practitioner/dr1&status=booked", True),
        ("Appointment?actor=Practitioner/dr2", False),
        ("Appointment?service-type=124", True),
        ("Appointment?_id=a1", True),
        ("AppointmentResponse", False),
        ("Patient", False),
    ],
)
def test_subscription_criteria(criteria: str, expected: bool, cipher: FieldCipher) -> None:
    assert matches(parse_criteria(criteria), APPOINTMENT, cipher) is expected


@pytest.mark.parametrize(
    "criteria",
    ["Nonsense?x=1", "Appointment?date=ge2025-01-01", "Appointment?status:not=booked",
     "Appointment?patient.name=王", "Appointment?nope=1", "Appointment?status="],
)  # fmt: skip
def test_unsupported_criteria_are_refused(criteria: str) -> None:
    with pytest.raises(CriteriaError):
        parse_criteria(criteria)
