"""The checks made before a message is stored and acknowledged (adapters/hl7v2/intake.py)."""

from __future__ import annotations

import pytest

from adapters.hl7v2.errors import ErrorCode, Hl7ContentError
from adapters.hl7v2.gateway import facilities_by_sending_name
from adapters.hl7v2.intake import Intake, Sender
from adapters.hl7v2.models import MessageStatus
from adapters.hl7v2.parse import parse_message
from hub.region.facilities import load_facilities
from tests import hl7v2_cases as cases

INTAKE = Intake(facilities_by_sending_name(load_facilities()), "UNICODE UTF-8")


def _from_h001(raw: bytes) -> bytes:
    return cases.with_segment_field(raw, "MSH", 4, "YC_H001")


def _err(ack: str) -> tuple[str, str, str]:
    message = parse_message(ack)
    msa, err = message.first("MSA"), message.first("ERR")
    assert msa is not None and err is not None
    return msa.get(1), err.field(2), err.get(3, 1)


def test_a_good_message_is_accepted_with_the_facility_resolved() -> None:
    received = INTAKE.check(_from_h001(cases.adt_a04()), Sender("10.0.0.1:5000"))
    assert received.status is MessageStatus.RECEIVED and received.accepted
    assert received.facility_code == "H001"
    assert received.message_type == "ADT^A04" and received.charset == "UNICODE UTF-8"
    assert "Patient" in received.resource_types
    ack = parse_message(received.ack)
    msa = ack.first("MSA")
    assert msa is not None and msa.get(1) == "CA"  # MSH-15 AL: enhanced mode, commit accept


def test_the_facility_code_is_accepted_as_msh4_too() -> None:
    raw = cases.with_segment_field(cases.adt_a04(), "MSH", 4, "H002")
    assert INTAKE.check(raw, Sender()).facility_code == "H002"


def test_an_unknown_facility_is_refused() -> None:
    received = INTAKE.check(cases.adt_a04(), Sender())  # MSH-4 is not a registered facility
    assert received.status is MessageStatus.REJECTED
    assert _err(received.ack) == ("CR", "MSH^1^4", "103")


def test_the_client_certificate_must_name_the_sending_facility() -> None:
    raw = _from_h001(cases.adt_a04())
    assert INTAKE.check(raw, Sender("x", ("H001",))).accepted
    assert INTAKE.check(raw, Sender("x", ("YC_H001", "某医院"))).accepted
    forged = INTAKE.check(raw, Sender("x", ("H002",)))
    assert not forged.accepted and _err(forged.ack)[1] == "MSH^1^4"


@pytest.mark.parametrize(
    ("position", "value", "location", "code"),
    [
        (12, "3.0", "MSH^1^12", "203"),
        (11, "X", "MSH^1^11", "202"),
        (9, "VXU^V04^VXU_V04", "MSH^1^9", "200"),
        (9, "ADT^A99^ADT_A01", "MSH^1^9", "201"),
    ],
)
def test_envelope_refusals_name_field_and_code(
    position: int, value: str, location: str, code: str
) -> None:
    raw = cases.with_segment_field(_from_h001(cases.adt_a04()), "MSH", position, value)
    received = INTAKE.check(raw, Sender())
    assert not received.accepted and received.ack_code == "AR"
    assert _err(received.ack) == ("CR", location, code)


def test_content_errors_are_ae_found_by_the_mapping() -> None:
    raw = cases.with_segment_field(_from_h001(cases.adt_a04()), "PID", 7, "19851332")
    received = INTAKE.check(raw, Sender())
    assert received.ack_code == "AE" and _err(received.ack) == ("CE", "PID^1^7", "102")


def test_garbage_still_gets_an_answer() -> None:
    received = INTAKE.check(b"hello, not hl7", Sender())
    assert received.ack_code == "AR" and received.status is MessageStatus.REJECTED
    assert parse_message(received.ack).first("MSA") is not None


def test_msh15_is_honoured_only_when_configured() -> None:
    raw = cases.with_segment_field(_from_h001(cases.adt_a04()), "MSH", 15, "ER")
    assert INTAKE.check(raw, Sender()).ack  # MLLP senders wait: answer anyway by default
    honouring = Intake(facilities_by_sending_name(load_facilities()), "UNICODE UTF-8", True)
    assert honouring.check(raw, Sender()).ack == ""  # ER: only errors are acknowledged


def test_a_mapping_bug_is_answered_and_the_message_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: object) -> None:
        raise KeyError("bug")

    monkeypatch.setattr("adapters.hl7v2.intake.map_message", broken)
    received = INTAKE.check(_from_h001(cases.adt_a04()), Sender())
    assert received.status is MessageStatus.REJECTED  # stored as rejected, raw bytes kept
    assert received.raw and _err(received.ack)[2] == "207"


def _report(event: str, sch1: str, sch2: str, status: str = "") -> bytes:
    text = (
        f"MSH|^~\\&|HIS|YC_H001|HUB|YICHANG|20261201090000||SIU^{event}^SIU_S12|R1|P|2.5\r"
        + "|".join(["SCH", sch1, sch2, *[""] * 22, status])
        + "\rPID|1||X1^^^YC_H001^MR||孙^立新\r"
    )
    return text.encode()


def test_a_report_on_a_hub_booking_is_kept_for_the_owner_check() -> None:
    by_filler = INTAKE.check(_report("S14", "", "A1^YICHANG-HUB", "Started"), Sender())
    assert by_filler.accepted and by_filler.resource_types == ()
    assert [(r.appointment_id, r.status, r.location) for r in by_filler.status_reports] == [
        ("A1", "arrived", "SCH-2")
    ]
    by_placer = INTAKE.check(_report("S26", "A2^YICHANG-HUB", "H-9^YC_H001"), Sender())
    assert [(r.appointment_id, r.location) for r in by_placer.status_reports] == [("A2", "SCH-1")]
    own_booking = INTAKE.check(_report("S12", "H-1^YC_H001", "H-2^YC_H001"), Sender())
    assert own_booking.accepted and own_booking.status_reports == ()


def test_a_refusal_after_the_checks_replaces_the_ack() -> None:
    received = INTAKE.check(_report("S14", "", "A1^YICHANG-HUB", "Started"), Sender())
    INTAKE.refuse(received, Hl7ContentError("rule", code=ErrorCode.UNKNOWN_KEY, location="SCH-2"))
    assert received.status is MessageStatus.REJECTED and not received.accepted
    assert received.ack_code == "AE" and _err(received.ack) == ("AE", "SCH^1^2", "204")
