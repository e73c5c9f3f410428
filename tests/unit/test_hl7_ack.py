"""ACK building (adapters/hl7v2/ack.py): modes, versions, ERR segments."""

from __future__ import annotations

from adapters.hl7v2.ack import Envelope, build_ack, should_send
from adapters.hl7v2.errors import ErrorCode, Hl7ContentError
from adapters.hl7v2.parse import parse_message

MSG = (
    "MSH|^~\\&|HIS|H001|HUB|YC|20261126101500||ADT^A04^ADT_A01|MSG7|P|{version}|||{accept}|{app}\r"
)


def _envelope(version: str = "2.5", accept: str = "", app: str = "") -> Envelope:
    return Envelope.of(parse_message(MSG.format(version=version, accept=accept, app=app)))


def test_original_mode_aa_echoes_the_sender() -> None:
    ack = parse_message(build_ack(_envelope(), "AA"))
    assert ack.message_type == "ACK^A04"
    assert ack.receiving_application == "HIS" and ack.receiving_facility == "H001"
    msa = ack.first("MSA")
    assert msa is not None and msa.get(1) == "AA" and msa.get(2) == "MSG7"
    assert ack.first("ERR") is None
    assert ack.version == "2.5"


def test_err_segment_for_v25_names_location_code_and_text() -> None:
    error = Hl7ContentError("PID-3 is required", code=ErrorCode.REQUIRED_FIELD_MISSING,
                            location="PID-3")  # fmt: skip
    ack = parse_message(build_ack(_envelope("2.5.1"), "AE", error))
    err = ack.first("ERR")
    assert err is not None
    assert err.get(2, 1) == "PID" and err.get(2, 3) == "3"
    assert err.get(3, 1) == "101" and err.get(3, 3) == "HL70357"
    assert err.get(4) == "E"
    assert err.get(8) == "PID-3 is required"


def test_err_segment_for_v23_packs_location_and_text_in_msa3() -> None:
    error = Hl7ContentError("bad date", code=ErrorCode.DATA_TYPE, location="PID-7")
    ack = parse_message(build_ack(_envelope("2.3"), "AE", error))
    msa, err = ack.first("MSA"), ack.first("ERR")
    assert msa is not None and msa.get(3) == "bad date"
    assert err is not None and err.get(1, 1) == "PID" and err.get(1, 3) == "7"
    assert err.get(1, 4, 1) == "102"


def test_enhanced_mode_sends_commit_codes_as_asked() -> None:
    envelope = _envelope(accept="AL", app="NE")
    assert envelope.enhanced
    msa = parse_message(build_ack(envelope, "AA")).first("MSA")
    assert msa is not None and msa.get(1) == "CA"
    assert not should_send(_envelope(accept="NE"), "AA")
    assert should_send(_envelope(accept="ER"), "AE") and not should_send(
        _envelope(accept="ER"), "AA"
    )
    assert should_send(_envelope(accept="SU"), "AA") and not should_send(
        _envelope(accept="SU"), "AR"
    )


def test_error_text_is_escaped() -> None:
    error = Hl7ContentError("a|b^c", code=ErrorCode.DATA_TYPE)
    ack = parse_message(build_ack(_envelope(), "AE", error))
    err = ack.first("ERR")
    assert err is not None and err.get(8) == "a|b^c"
