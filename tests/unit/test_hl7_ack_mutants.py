"""ACK fields found unguarded by mutation testing (scripts/mutate ack).

Each test pins what a sender reads in the ACK: the delimiters it sent, MSH-7/8/9/11/12, the
MSA and ERR fields at their positions for both ERR layouts, and whether an ACK is sent at all.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest

from adapters.hl7v2.ack import Envelope, build_ack, internal_error, should_send
from adapters.hl7v2.errors import ErrorCode, Hl7ContentError, Hl7Reject
from adapters.hl7v2.parse import parse_message

MSH = (
    "MSH|^~\\&|HIS|H001|HUB|YC|20261126101500||{type}|{control}|{processing}|{version}"
    "|||{accept}|{app}\r"
)


def envelope(
    version: str = "2.5",
    *,
    type: str = "ADT^A04^ADT_A01",
    control: str = "MSG7",
    processing: str = "P",
    accept: str = "",
    app: str = "",
) -> Envelope:
    text = MSH.format(
        type=type, control=control, processing=processing, version=version, accept=accept, app=app
    )
    return Envelope.of(parse_message(text))


def segments(ack: str) -> dict[str, list[str]]:
    return {line.split("|")[0]: line.split("|") for line in ack.split("\r")}


def test_the_ack_header_field_by_field() -> None:
    msh = segments(build_ack(envelope(processing="T", version="2.4"), "AA"))["MSH"]
    assert msh[1:6] == ["^~\\&", "YICHANG-HUB", "YICHANG-HIE", "HIS", "H001"]
    assert re.fullmatch(r"\d{14}\+0000", msh[6])
    sent = datetime.strptime(msh[6][:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - sent) < timedelta(minutes=1)
    assert msh[7] == ""  # MSH-8 security
    assert msh[8] == "ACK^A04^ACK"
    assert msh[10:12] == ["T", "2.4"]


def test_a_message_without_trigger_or_processing_id_gets_the_defaults() -> None:
    msh = segments(build_ack(envelope(type="ADT", processing=""), "AA"))["MSH"]
    assert msh[8] == "ACK"
    assert msh[10:12] == ["P", "2.5"]
    blank = segments(build_ack(Envelope(processing_id="", version=""), "AA"))["MSH"]
    assert blank[10:12] == ["P", "2.5"]


def test_the_ack_uses_the_senders_delimiters() -> None:
    text = "MSH#$~\\&#HIS#H001#HUB#YC#20261126101500##ADT$A04#MSG|7#P#2.5\r"
    ack = build_ack(Envelope.of(parse_message(text)), "AE", Hl7ContentError("x#y"))
    msh, msa, err = ack.split("\r")
    assert msh.startswith("MSH#$~\\&#YICHANG-HUB#")
    assert "#ACK$A04$ACK#" in msh
    assert msa == "MSA#AE#MSG|7"
    assert err.split("#")[-1] == "x\\F\\y"


def test_only_the_application_ack_type_makes_enhanced_mode() -> None:
    only_app = envelope(app="al")
    assert only_app.application_ack_type == "AL"
    assert segments(build_ack(only_app, "AA"))["MSA"][1] == "CA"


def test_an_ack_is_sent_unless_the_mode_says_otherwise() -> None:
    for mode in ("", "AL"):
        assert should_send(envelope(accept=mode), "AA")
        assert should_send(envelope(accept=mode), "AR")


def test_the_v25_err_segment_field_by_field() -> None:
    error = Hl7ContentError("bad", code=ErrorCode.DATA_TYPE, location="PID-7")
    err = segments(build_ack(envelope("2.5"), "AE", error))["ERR"]
    assert err == ["ERR", "", "PID^1^7", "102^Data type error^HL70357", "E", "", "", "", "bad"]


def test_err_locations_are_cut_to_what_was_given() -> None:
    def location(where: str | None) -> str:
        error = Hl7ContentError("bad", location=where)
        return segments(build_ack(envelope("2.5"), "AE", error))["ERR"][2]

    assert location("PID") == "PID^1"
    assert location("PID-3.2") == "PID^1^3^2"
    assert location("segment 4") == ""
    assert location(None) == ""


def test_the_pre_v25_err_segment_field_by_field() -> None:
    error = Hl7ContentError("bad", code=ErrorCode.DATA_TYPE, location="PID-7")
    old = segments(build_ack(envelope("2.3"), "AE", error))
    assert old["MSA"] == ["MSA", "AE", "MSG7", "bad"]
    assert old["ERR"] == ["ERR", "PID^1^7^102&Data type error&HL70357"]
    segment_only = Hl7ContentError("bad", location="PID")
    assert segments(build_ack(envelope("2.3"), "AE", segment_only))["ERR"] == [
        "ERR",
        "PID^1^^102&Data type error&HL70357",
    ]
    nowhere = segments(build_ack(envelope("2.3"), "AE", Hl7ContentError("bad")))
    assert nowhere["ERR"] == ["ERR", "^^^102&Data type error&HL70357"]
    unreadable = segments(build_ack(envelope("2.x"), "AE", Hl7ContentError("bad")))
    assert unreadable["ERR"] == nowhere["ERR"]  # an unreadable version is an old one


def test_error_text_is_cut_at_400_characters() -> None:
    error = Hl7ContentError("x" * 500)
    assert segments(build_ack(envelope(), "AE", error))["ERR"][8] == "x" * 400


def test_an_internal_error_asks_for_the_message_again() -> None:
    error = internal_error()
    assert isinstance(error, Hl7Reject)
    assert error.code is ErrorCode.INTERNAL_ERROR
    assert "send it again" in error.text
    assert internal_error("disk full").text == "disk full"
    err = segments(build_ack(envelope(), "AR", error))["ERR"]
    assert err[3].startswith("207^") and err[8] == error.text


def test_the_ack_time_is_utc_whatever_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    try:
        msh = segments(build_ack(envelope(), "AA"))["MSH"]
    finally:
        monkeypatch.undo()
        time.tzset()
    sent = datetime.strptime(msh[6][:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - sent) < timedelta(minutes=1)
