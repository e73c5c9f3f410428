"""The MLLP decoder, byte by byte: partial reads, several frames per read, and bad input."""

from __future__ import annotations

import pytest

from adapters.hl7v2.framing import (
    Frame,
    FrameEvent,
    FrameRejected,
    FramingError,
    MllpDecoder,
    RejectionReason,
    encode_frame,
)

MSG_A = b"MSH|^~\\&|HIS|FAC1|HUB|HUB|20240101120000||ADT^A01|A1|P|2.5\rPID|1||123^^^FAC1^MR\r"
MSG_B = b"MSH|^~\\&|LIS|FAC2|HUB|HUB|20240101120001||ORU^R01|B2|P|2.5\rOBX|1|NM|GLU||5.4\r"


def feed_all(decoder: MllpDecoder, *chunks: bytes) -> list[FrameEvent]:
    events: list[FrameEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    return events


def test_encode_frame_wraps_payload() -> None:
    assert encode_frame(b"abc") == b"\x0babc\x1c\x0d"


@pytest.mark.parametrize("bad", [b"a\x0bb", b"a\x1cb"])
def test_encode_frame_refuses_framing_bytes(bad: bytes) -> None:
    with pytest.raises(FramingError):
        encode_frame(bad)


def test_one_frame_one_read() -> None:
    assert MllpDecoder(1024).feed(encode_frame(MSG_A)) == [Frame(MSG_A)]


def test_split_at_every_position() -> None:
    stream = encode_frame(MSG_A) + encode_frame(MSG_B)
    for cut in range(len(stream) + 1):
        decoder = MllpDecoder(1024)
        events = feed_all(decoder, stream[:cut], stream[cut:])
        assert events == [Frame(MSG_A), Frame(MSG_B)], cut
        assert not decoder.pending


def test_split_at_every_pair_of_positions() -> None:
    stream = encode_frame(b"ab|cd\r") + encode_frame(b"ef\r")
    for i in range(len(stream) + 1):
        for j in range(i, len(stream) + 1):
            decoder = MllpDecoder(64)
            events = feed_all(decoder, stream[:i], stream[i:j], stream[j:])
            assert events == [Frame(b"ab|cd\r"), Frame(b"ef\r")], (i, j)


def test_one_byte_at_a_time() -> None:
    stream = encode_frame(MSG_A) * 3
    decoder = MllpDecoder(1024)
    events = feed_all(decoder, *(stream[i : i + 1] for i in range(len(stream))))
    assert events == [Frame(MSG_A)] * 3


def test_several_frames_in_one_read() -> None:
    stream = b"".join(encode_frame(m) for m in (MSG_A, MSG_B, MSG_A, b""))
    assert MllpDecoder(1024).feed(stream) == [Frame(MSG_A), Frame(MSG_B), Frame(MSG_A), Frame(b"")]


def test_partial_frame_is_pending_then_reported_at_finish() -> None:
    decoder = MllpDecoder(1024)
    assert decoder.feed(b"\x0bMSH|partial") == []
    assert decoder.pending
    assert decoder.finish() == [FrameRejected(RejectionReason.INCOMPLETE, b"\x0bMSH|partial")]
    assert not decoder.pending
    assert decoder.feed(encode_frame(MSG_B)) == [Frame(MSG_B)]


def test_garbage_before_frame_is_reported_with_raw_bytes() -> None:
    decoder = MllpDecoder(1024)
    events = feed_all(decoder, b"GET / HTTP", b"/1.1\r\n", encode_frame(MSG_A))
    assert events == [
        FrameRejected(RejectionReason.OUTSIDE_FRAME, b"GET / HTTP/1.1\r\n"),
        Frame(MSG_A),
    ]


def test_garbage_between_frames_and_at_finish() -> None:
    decoder = MllpDecoder(1024)
    events = decoder.feed(encode_frame(MSG_A) + b"junk" + encode_frame(MSG_B) + b"tail")
    assert events == [
        Frame(MSG_A),
        FrameRejected(RejectionReason.OUTSIDE_FRAME, b"junk"),
        Frame(MSG_B),
    ]
    assert decoder.pending
    assert decoder.finish() == [FrameRejected(RejectionReason.OUTSIDE_FRAME, b"tail")]


def test_whitespace_between_frames_is_ignored() -> None:
    decoder = MllpDecoder(1024)
    events = feed_all(decoder, encode_frame(MSG_A) + b"\n", b"\r\n ", encode_frame(MSG_B) + b"\n")
    assert events == [Frame(MSG_A), Frame(MSG_B)]
    assert not decoder.pending
    assert decoder.finish() == []


def test_endless_garbage_is_reported_in_bounded_pieces() -> None:
    decoder = MllpDecoder(10)
    events = feed_all(decoder, b"x" * 7, b"y" * 7, b"z" * 3)
    assert events == [FrameRejected(RejectionReason.OUTSIDE_FRAME, b"x" * 7 + b"y" * 7)]
    assert decoder.finish() == [FrameRejected(RejectionReason.OUTSIDE_FRAME, b"zzz")]


def test_frame_at_exactly_the_limit_is_accepted() -> None:
    payload = b"p" * 16
    decoder = MllpDecoder(16)
    for cut in range(len(encode_frame(payload)) + 1):
        stream = encode_frame(payload)
        assert feed_all(decoder, stream[:cut], stream[cut:]) == [Frame(payload)]


def test_oversize_frame_reported_once_then_discarded_and_next_frame_served() -> None:
    decoder = MllpDecoder(16)
    big = b"B" * 100
    stream = encode_frame(big) + encode_frame(b"small")
    for chunk_size in (1, 3, 7, 16, 17, len(stream)):
        chunks = [stream[i : i + chunk_size] for i in range(0, len(stream), chunk_size)]
        events = feed_all(decoder, *chunks)
        assert events == [
            FrameRejected(RejectionReason.OVERSIZE, b"\x0b" + b"B" * 16),
            Frame(b"small"),
        ], chunk_size
        assert not decoder.pending


def test_oversize_frame_without_end_is_followed_by_a_new_frame() -> None:
    decoder = MllpDecoder(8)
    events = feed_all(decoder, b"\x0b" + b"C" * 50, b"C" * 50 + encode_frame(b"ok"))
    assert events == [FrameRejected(RejectionReason.OVERSIZE, b"\x0b" + b"C" * 8), Frame(b"ok")]


def test_oversize_discarding_reports_nothing_at_finish() -> None:
    decoder = MllpDecoder(8)
    assert len(decoder.feed(b"\x0b" + b"C" * 50)) == 1
    assert decoder.pending
    assert decoder.finish() == []


def test_truncated_frame_followed_by_good_one() -> None:
    stream = b"\x0bMSH|lost-its-end\r" + encode_frame(MSG_B)
    for cut in range(len(stream) + 1):
        decoder = MllpDecoder(1024)
        events = feed_all(decoder, stream[:cut], stream[cut:])
        assert events == [
            FrameRejected(RejectionReason.TRUNCATED, b"\x0bMSH|lost-its-end\r"),
            Frame(MSG_B),
        ], cut


def test_fs_without_cr_ends_the_frame() -> None:
    decoder = MllpDecoder(1024)
    assert decoder.feed(b"\x0bone\x1c") == [Frame(b"one")]
    assert decoder.feed(b"\x0btwo\x1c\x0bthree\x1c\r") == [Frame(b"two"), Frame(b"three")]
    assert not decoder.pending


def test_cr_after_fs_in_next_read_is_consumed_once() -> None:
    decoder = MllpDecoder(1024)
    assert decoder.feed(b"\x0bone\x1c") == [Frame(b"one")]
    assert decoder.feed(b"\r") == []
    assert decoder.feed(b"\r") == []  # a second CR is whitespace outside a frame: ignored
    assert decoder.finish() == []


def test_fs_followed_by_garbage() -> None:
    decoder = MllpDecoder(1024)
    events = decoder.feed(b"\x0bone\x1cXY" + encode_frame(b"two"))
    assert events == [
        Frame(b"one"),
        FrameRejected(RejectionReason.OUTSIDE_FRAME, b"XY"),
        Frame(b"two"),
    ]


def test_bytes_reassembled_from_rejections_match_the_stream() -> None:
    decoder = MllpDecoder(1024)
    stream = b"noise\x0bhalf-frame\x0bwhole\x1c\r"
    events = decoder.feed(stream)
    assert events == [
        FrameRejected(RejectionReason.OUTSIDE_FRAME, b"noise"),
        FrameRejected(RejectionReason.TRUNCATED, b"\x0bhalf-frame"),
        Frame(b"whole"),
    ]


def test_invalid_limit() -> None:
    with pytest.raises(ValueError):
        MllpDecoder(0)
