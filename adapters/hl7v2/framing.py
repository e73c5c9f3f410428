"""MLLP framing: cut a byte stream into HL7 v2 payloads, with no I/O.

Kept apart from the sockets so the rules (partial reads, garbage, oversize and truncated frames)
are tested byte by byte without a network. A frame is ``VT payload FS CR`` (0x0B ... 0x1C 0x0D).

Decisions, for senders that bend the rules:

- A frame ends at FS. The CR after it is consumed when it is the next byte, even if it arrives in
  the next read; an FS followed by anything else still ends the frame (FS never occurs inside HL7
  content) and the byte after it is read as outside a frame. So FS-only senders are served at
  once instead of waiting for a CR that never comes.
- Bytes outside a frame are collected and reported as ``OUTSIDE_FRAME`` once the next VT arrives,
  when ``max_message_bytes`` of them have piled up, or at ``finish()``. Whitespace alone (the
  stray LF or CR some senders add after FS CR) is dropped silently.
- A frame longer than ``max_message_bytes`` is reported once, as soon as the limit is passed,
  carrying its first ``max_message_bytes`` bytes; the rest is discarded up to its FS (or a VT
  that starts the next frame).
- A VT inside an unterminated frame means the earlier frame lost its end: it is reported as
  ``TRUNCATED`` and the new frame starts.

Rejected bytes are the raw bytes as received (a rejected frame's ``data`` starts with its VT),
so operators can keep and replay them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

VT: Final = b"\x0b"
FS: Final = b"\x1c"
CR: Final = b"\x0d"
_CR_BYTE: Final = 0x0D
_WHITESPACE: Final = b" \t\r\n"


class RejectionReason(StrEnum):
    """Why bytes received on an MLLP connection were not handed to the message handler."""

    OUTSIDE_FRAME = "outside_frame"  # garbage before a VT
    OVERSIZE = "oversize"  # frame longer than max_message_bytes
    TRUNCATED = "truncated"  # a new VT arrived before the frame's FS
    INCOMPLETE = "incomplete"  # partial frame pending when the connection closed
    HANDLER_FAILED = "handler_failed"  # the handler raised (set by the listener)


@dataclass(frozen=True, slots=True)
class Frame:
    """A complete frame: the payload between VT and FS."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class FrameRejected:
    """Bytes that do not form a usable frame, as received."""

    reason: RejectionReason
    data: bytes


FrameEvent = Frame | FrameRejected


class FramingError(ValueError):
    """A payload cannot be framed: it contains VT or FS."""


def encode_frame(payload: bytes) -> bytes:
    """Wrap ``payload`` in VT ... FS CR; refuse a payload holding a framing byte."""
    if VT in payload or FS in payload:
        raise FramingError("payload contains an MLLP framing byte (VT or FS)")
    return VT + payload + FS + CR


class _State:
    OUTSIDE: Final = 0
    IN_FRAME: Final = 1
    DISCARDING: Final = 2


class MllpDecoder:
    """Incremental MLLP decoder: ``feed`` bytes as they arrive, get the events they complete."""

    def __init__(self, max_message_bytes: int) -> None:
        if max_message_bytes < 1:
            raise ValueError("max_message_bytes must be positive")
        self._max = max_message_bytes
        self._state = _State.OUTSIDE
        self._frame = bytearray()  # payload so far, without the VT
        self._garbage = bytearray()
        self._skip_cr = False  # the previous read ended on FS

    @property
    def pending(self) -> bool:
        """True while bytes are held that do not yet form an event (e.g. a partial frame)."""
        return self._state != _State.OUTSIDE or bool(self._garbage.strip(_WHITESPACE))

    def feed(self, data: bytes) -> list[FrameEvent]:
        """Consume ``data``; return the frames and rejections it completes, in stream order."""
        events: list[FrameEvent] = []
        pos, end = 0, len(data)
        if self._skip_cr and end:
            self._skip_cr = False
            if data[0] == _CR_BYTE:
                pos = 1
        while pos < end:
            if self._state == _State.IN_FRAME:
                pos = self._in_frame(data, pos, events)
            elif self._state == _State.OUTSIDE:
                pos = self._outside(data, pos, events)
            else:
                pos = self._discarding(data, pos)
        return events

    def finish(self) -> list[FrameEvent]:
        """The stream has ended: report whatever is pending and reset."""
        events: list[FrameEvent] = []
        if self._state == _State.IN_FRAME:
            events.append(FrameRejected(RejectionReason.INCOMPLETE, VT + bytes(self._frame)))
        self._flush_garbage(events)
        self._frame.clear()
        self._state = _State.OUTSIDE
        self._skip_cr = False
        return events

    def _outside(self, data: bytes, pos: int, events: list[FrameEvent]) -> int:
        vt = data.find(VT, pos)
        stop = len(data) if vt < 0 else vt
        if stop > pos:
            self._garbage += data[pos:stop]
            if len(self._garbage) >= self._max:
                self._flush_garbage(events)
        if vt < 0:
            return stop
        self._flush_garbage(events)
        self._state = _State.IN_FRAME
        return vt + 1

    def _in_frame(self, data: bytes, pos: int, events: list[FrameEvent]) -> int:
        fs = data.find(FS, pos)
        stop = len(data) if fs < 0 else fs
        vt = data.find(VT, pos, stop)
        if vt >= 0:
            stop = vt
        room = self._max - len(self._frame)
        if stop - pos > room:
            self._frame += data[pos : pos + room]
            events.append(FrameRejected(RejectionReason.OVERSIZE, VT + bytes(self._frame)))
            self._frame.clear()
            self._state = _State.DISCARDING
            return pos + room
        if vt >= 0:
            self._frame += data[pos:vt]
            events.append(FrameRejected(RejectionReason.TRUNCATED, VT + bytes(self._frame)))
            self._frame.clear()
            return vt + 1  # still IN_FRAME: the VT starts the next frame
        if fs < 0:
            self._frame += data[pos:]
            return len(data)
        if self._frame:
            self._frame += data[pos:fs]
            payload = bytes(self._frame)
            self._frame.clear()
        else:
            payload = data[pos:fs]  # the common case: the whole frame in one read, one copy
        events.append(Frame(payload))
        self._state = _State.OUTSIDE
        return self._after_fs(data, fs + 1)

    def _discarding(self, data: bytes, pos: int) -> int:
        fs = data.find(FS, pos)
        vt = data.find(VT, pos, len(data) if fs < 0 else fs)
        if vt >= 0:
            self._state = _State.IN_FRAME
            return vt + 1
        if fs >= 0:
            self._state = _State.OUTSIDE
            return self._after_fs(data, fs + 1)
        return len(data)

    def _after_fs(self, data: bytes, pos: int) -> int:
        if pos == len(data):
            self._skip_cr = True
            return pos
        return pos + 1 if data[pos] == _CR_BYTE else pos

    def _flush_garbage(self, events: list[FrameEvent]) -> None:
        if self._garbage.strip(_WHITESPACE):
            events.append(FrameRejected(RejectionReason.OUTSIDE_FRAME, bytes(self._garbage)))
        self._garbage.clear()
