"""MLLP framing edges found by mutation testing (scripts/mutate framing).

Each test pins a behaviour a surviving mutant changed: a frame lost or refused, rejected bytes
that are not the bytes received, a limit off by one.
"""

from __future__ import annotations

from adapters.hl7v2.framing import (
    Frame,
    FrameEvent,
    FrameRejected,
    MllpDecoder,
    RejectionReason,
    encode_frame,
)

OVERSIZE_THEN_JUNK_THEN_FRAME = b"\x0b" + b"B" * 20 + b"\x1c" + b"junk" + encode_frame(b"ok")


def feed_split(decoder: MllpDecoder, stream: bytes, cut: int) -> list[FrameEvent]:
    return decoder.feed(stream[:cut]) + decoder.feed(stream[cut:]) + decoder.finish()


def test_a_limit_of_one_byte_is_allowed() -> None:
    assert MllpDecoder(1).feed(encode_frame(b"x")) == [Frame(b"x")]


def test_garbage_is_reported_as_soon_as_the_limit_is_reached() -> None:
    decoder = MllpDecoder(10)
    assert decoder.feed(b"x" * 10) == [FrameRejected(RejectionReason.OUTSIDE_FRAME, b"x" * 10)]
    assert not decoder.pending


def test_a_leading_cr_is_kept_in_rejected_bytes_on_a_fresh_decoder() -> None:
    decoder = MllpDecoder(64)
    assert decoder.feed(b"\rjunk") == []
    assert decoder.finish() == [FrameRejected(RejectionReason.OUTSIDE_FRAME, b"\rjunk")]


def test_finish_forgets_a_cr_owed_by_a_frame_ending_a_read() -> None:
    decoder = MllpDecoder(64)
    assert decoder.feed(b"\x0bone\x1c") == [Frame(b"one")]
    assert decoder.finish() == []
    decoder.feed(b"\rjunk")
    assert decoder.finish() == [FrameRejected(RejectionReason.OUTSIDE_FRAME, b"\rjunk")]


def test_the_cr_after_fs_in_the_next_read_is_not_garbage() -> None:
    decoder = MllpDecoder(64)
    assert decoder.feed(b"\x0bone\x1c") == [Frame(b"one")]
    decoder.feed(b"\rjunk")
    assert decoder.finish() == [FrameRejected(RejectionReason.OUTSIDE_FRAME, b"junk")]


def test_each_truncated_frame_is_reported_on_its_own() -> None:
    events = MllpDecoder(64).feed(b"\x0ba\x0bb\x0bc\x1c\r")
    assert events == [
        FrameRejected(RejectionReason.TRUNCATED, b"\x0ba"),
        FrameRejected(RejectionReason.TRUNCATED, b"\x0bb"),
        Frame(b"c"),
    ]


def test_a_frame_starting_a_read_after_a_truncated_one_is_not_oversize() -> None:
    decoder = MllpDecoder(16)
    assert decoder.feed(b"\x0b" + b"h" * 10) == []
    assert decoder.feed(encode_frame(b"w" * 10)) == [
        FrameRejected(RejectionReason.TRUNCATED, b"\x0b" + b"h" * 10),
        Frame(b"w" * 10),
    ]


def test_a_frame_right_after_an_oversize_one_in_the_same_read_is_served() -> None:
    stream = b"\x0b" + b"B" * 20 + encode_frame(b"ok") + b"x" * 30
    assert MllpDecoder(16).feed(stream) == [
        FrameRejected(RejectionReason.OVERSIZE, b"\x0b" + b"B" * 16),
        Frame(b"ok"),
        FrameRejected(RejectionReason.OUTSIDE_FRAME, b"x" * 30),
    ]


def test_an_oversize_frame_between_good_ones_in_one_read() -> None:
    stream = encode_frame(b"one") + encode_frame(b"B" * 20) + encode_frame(b"two")
    assert MllpDecoder(16).feed(stream) == [
        Frame(b"one"),
        FrameRejected(RejectionReason.OVERSIZE, b"\x0b" + b"B" * 16),
        Frame(b"two"),
    ]


def test_garbage_after_an_oversize_frame_is_reported_at_every_split() -> None:
    stream = OVERSIZE_THEN_JUNK_THEN_FRAME
    for cut in range(len(stream) + 1):
        assert feed_split(MllpDecoder(16), stream, cut) == [
            FrameRejected(RejectionReason.OVERSIZE, b"\x0b" + b"B" * 16),
            FrameRejected(RejectionReason.OUTSIDE_FRAME, b"junk"),
            Frame(b"ok"),
        ], cut


def test_garbage_holding_fs_after_an_oversize_frame_is_reported() -> None:
    decoder = MllpDecoder(16)
    events = decoder.feed(b"\x0b" + b"B" * 20 + b"\x1c" + b"junk\x1c") + decoder.finish()
    assert events == [
        FrameRejected(RejectionReason.OVERSIZE, b"\x0b" + b"B" * 16),
        FrameRejected(RejectionReason.OUTSIDE_FRAME, b"junk\x1c"),
    ]


def test_a_frame_starting_a_read_while_discarding_is_served() -> None:
    decoder = MllpDecoder(16)
    assert decoder.feed(b"\x0b" + b"B" * 20) == [
        FrameRejected(RejectionReason.OVERSIZE, b"\x0b" + b"B" * 16)
    ]
    assert decoder.feed(encode_frame(b"ok")) == [Frame(b"ok")]


def test_a_vt_ending_a_read_while_discarding_starts_the_next_frame() -> None:
    decoder = MllpDecoder(16)
    assert len(decoder.feed(b"\x0b" + b"B" * 20)) == 1  # oversize: discarding
    assert decoder.feed(b"BBB\x0b") == []
    assert decoder.feed(b"ok\x1c\r") == [Frame(b"ok")]


def test_each_frame_cut_short_after_an_oversize_one_is_reported() -> None:
    events = MllpDecoder(16).feed(b"\x0b" + b"B" * 20 + b"\x0bA\x0bB\x1c\r")
    assert events == [
        FrameRejected(RejectionReason.OVERSIZE, b"\x0b" + b"B" * 16),
        FrameRejected(RejectionReason.TRUNCATED, b"\x0bA"),
        Frame(b"B"),
    ]
