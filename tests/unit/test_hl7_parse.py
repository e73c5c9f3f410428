"""The ingestion parser and character-set handling (adapters/hl7v2/parse.py, charset.py)."""

from __future__ import annotations

import pytest

from adapters.hl7v2.charset import declared_charset, decode_message
from adapters.hl7v2.errors import ErrorCode, Hl7Reject
from adapters.hl7v2.parse import (
    Delimiters,
    escape,
    parse_message,
    split_messages,
    unescape,
)

ADT = (
    "MSH|^~\\&|HIS|H001|HUB|YC|20261126101500||ADT^A04^ADT_A01|MSG0001|P|2.5|||AL|NE||"
    "UNICODE UTF-8\r"
    "PID|1||P123^^^H001^MR~420502199001011234^^^CHN^NI||王^小明^^^^^L||19900101|M|||"
    "夷陵路1号^^宜昌市^湖北省^443000||13800001111\r"
    "PV1|1|O\r"
)


def test_fields_components_and_repetitions_use_standard_numbering() -> None:
    message = parse_message(ADT)
    pid = message.first("PID")
    assert pid is not None
    assert message.msh.field(1) == "|"
    assert message.msh.field(2) == "^~\\&"
    assert message.message_type == "ADT^A04"
    assert message.structure == "ADT_A01"
    assert message.control_id == "MSG0001"
    assert message.accept_ack_type == "AL"
    assert pid.get(5, 1) == "王" and pid.get(5, 2) == "小明"
    assert pid.get(3, 1, repetition=2) == "420502199001011234"
    assert pid.get(3, 5, repetition=2) == "NI"
    assert pid.repetitions(3)[0].startswith("P123")
    assert pid.get(3, 1, repetition=3) == ""
    assert pid.get(99) == ""
    assert pid.components(11)[2] == "宜昌市"


def test_lf_and_crlf_segment_ends_and_blank_lines() -> None:
    for separator in ("\n", "\r\n", "\r\r"):
        message = parse_message(ADT.replace("\r", separator))
        assert [s.name for s in message.segments] == ["MSH", "PID", "PV1"]


def test_custom_delimiters_and_escapes() -> None:
    text = "MSH#*@!%#HIS#H001#HUB#YC#202611261015##ADT*A08#C1#P#2.4\rPID#1##X1##A!F!B*C\r"
    message = parse_message(text)
    assert message.delimiters == Delimiters("#", "*", "@", "!", "%")
    pid = message.first("PID")
    assert pid is not None and pid.get(5, 1) == "A#B" and pid.get(5, 2) == "C"


def test_escape_round_trip_and_hex() -> None:
    d = Delimiters()
    value = "a|b^c&d~e\\f"
    assert unescape(escape(value, d), d) == value
    assert unescape("line\\.br\\two", d) == "line\ntwo"
    assert unescape("\\XE78E8B\\", d) == "王"
    assert unescape("keep \\Zvendor\\ as is", d) == "keep \\Zvendor\\ as is"


def test_explicit_null_reads_as_empty() -> None:
    message = parse_message(ADT.replace("王^小明^^^^^L", '""'))
    pid = message.first("PID")
    assert pid is not None and pid.get(5, 1) == "" and pid.repetitions(5) == []


@pytest.mark.parametrize(
    ("text", "location", "code"),
    [
        ("PID|1||X\r", "MSH", ErrorCode.SEGMENT_SEQUENCE),
        ("MSH|^~\\&\r", "MSH-9", ErrorCode.REQUIRED_FIELD_MISSING),
        ("MSH|^^\\&|A|B|C|D|1||ADT^A01|1|P|2.5\r", "MSH-2", ErrorCode.DATA_TYPE),
        ("MSH|^~\\&|A|B|C|D|1|||1|P|2.5\r", "MSH-9", ErrorCode.REQUIRED_FIELD_MISSING),
        ("MSH|^~\\&|A|B|C|D|1||ADT^A01||P|2.5\r", "MSH-10", ErrorCode.REQUIRED_FIELD_MISSING),
        ("MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\rpid|1\r", "segment 2", ErrorCode.SEGMENT_SEQUENCE),
    ],
)
def test_broken_envelopes_are_rejected_with_a_location(
    text: str, location: str, code: ErrorCode
) -> None:
    with pytest.raises(Hl7Reject) as caught:
        parse_message(text)
    assert caught.value.location == location
    assert caught.value.code is code
    assert caught.value.ack_code == "AR"


def test_a_second_msh_in_one_frame_is_refused() -> None:
    with pytest.raises(Hl7Reject, match="one message per MLLP frame"):
        parse_message(ADT + ADT)


def test_split_messages_drops_batch_envelopes() -> None:
    batch = "FHS|^~\\&\rBHS|^~\\&\r" + ADT + ADT.replace("MSG0001", "MSG0002") + "BTS|2\rFTS|1\r"
    parts = split_messages(batch)
    assert [parse_message(p).control_id for p in parts] == ["MSG0001", "MSG0002"]


def test_gb18030_is_decoded_before_splitting() -> None:
    # 皘 in GB 18030 is 0xB0 0x7C: its second byte is the field separator '|'.
    text = ADT.replace("UNICODE UTF-8", "GB 18030-2000").replace("小明", "皘")
    raw = text.encode("gb18030")
    assert b"\xb0|" in raw
    decoded, charset = decode_message(raw)
    assert charset == "GB 18030-2000"
    pid = parse_message(decoded, charset).first("PID")
    assert pid is not None and pid.get(5, 2) == "皘" and pid.get(7) == "19900101"


def test_utf8_bom_and_default_charset() -> None:
    raw = b"\xef\xbb\xbf" + ADT.replace("UNICODE UTF-8", "").encode()
    assert declared_charset(raw[3:]) == ""
    text, charset = decode_message(raw)
    assert charset == "UNICODE UTF-8" and parse_message(text).first("PID") is not None


def test_bytes_that_do_not_match_the_declared_charset_are_an_ar() -> None:
    raw = ADT.encode("gb18030")  # declares UTF-8, sends GB 18030
    with pytest.raises(Hl7Reject) as caught:
        decode_message(raw)
    assert caught.value.location == "MSH-18"


def test_unknown_charset_is_an_ar() -> None:
    with pytest.raises(Hl7Reject, match="not supported"):
        decode_message(ADT.replace("UNICODE UTF-8", "EBCDIC").encode())
