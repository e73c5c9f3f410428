"""The ingestion parser: HL7 v2 ER7 text to segments and fields, lazily below the field.

Why not hl7apy here: it builds a full object tree against the version's structure definitions
(about 40 messages/s per core); the hot path only needs the fields the mappings read. This parser
splits segments and fields eagerly (two ``str.split`` calls, done in C) and components,
repetitions and subcomponents only when a mapping asks, unescaping only values that contain the
escape character. hl7apy stays the tool for building outbound messages and for strict structure
validation of facilities configured as strict (``strict.py``). ``bench/hl7_ingest.py`` measures
both beside a plain two-level split.

Positions follow the standard's numbering everywhere: ``segment.get(5, 1)`` is PID-5.1, and
``msh.field(9)`` is MSH-9 (MSH-1 is the field separator itself, MSH-2 the encoding characters).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from adapters.hl7v2.errors import ErrorCode, Hl7Reject

NULL = '""'  # HL7's explicit null: "delete this value"; read as empty


@dataclass(frozen=True, slots=True)
class Delimiters:
    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"
    truncation: str = ""  # v2.7+: a fifth encoding character, usually '#'

    @property
    def encoding_characters(self) -> str:
        return self.component + self.repetition + self.escape + self.subcomponent + self.truncation


DEFAULT_DELIMITERS = Delimiters()


def delimiters_of(msh: str) -> Delimiters:
    """Read MSH-1 and MSH-2; a malformed set is an AR naming the field."""
    if len(msh) < 8 or not msh.startswith("MSH"):
        raise Hl7Reject(
            "the message does not start with an MSH segment",
            code=ErrorCode.SEGMENT_SEQUENCE,
            location="MSH",
        )
    separator = msh[3]
    end = msh.find(separator, 4)
    return _delimiters(msh[3:end] if end > 0 else msh[3:])


@lru_cache(maxsize=64)
def _delimiters(chars: str) -> Delimiters:
    """MSH-1 + MSH-2 -> Delimiters (cached: a feed uses one set for every message)."""
    separator, encoding = chars[0], chars[1:]
    if (
        separator.isalnum()
        or separator.isspace()
        or not 4 <= len(encoding) <= 5
        or len(set(chars)) != len(chars)
        or any(c.isalnum() or c.isspace() for c in encoding)
    ):
        raise Hl7Reject(
            "MSH-1/MSH-2 must be a field separator followed by 4 or 5 distinct encoding "
            "characters (e.g. |^~\\&)",
            code=ErrorCode.DATA_TYPE,
            location="MSH-2",
        )
    truncation = encoding[4] if len(encoding) == 5 else ""
    return Delimiters(separator, encoding[0], encoding[1], encoding[2], encoding[3], truncation)


@lru_cache(maxsize=64)
def _escape_pattern(escape: str) -> re.Pattern[str]:
    e = re.escape(escape)
    return re.compile(f"{e}([^{e}\r]*){e}")


def unescape(value: str, delimiters: Delimiters) -> str:
    """Resolve HL7 escape sequences (\\F\\, \\S\\, \\T\\, \\R\\, \\E\\, \\Xhh\\, \\.br\\ ...)."""
    if delimiters.escape not in value:
        return value
    table = {
        "F": delimiters.field,
        "S": delimiters.component,
        "T": delimiters.subcomponent,
        "R": delimiters.repetition,
        "E": delimiters.escape,
        "P": delimiters.truncation,
        ".br": "\n",
        "H": "",
        "N": "",
    }

    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if code in table:
            return table[code]
        if code[:1] == "X" and len(code) % 2 == 1:
            try:
                return bytes.fromhex(code[1:]).decode("utf-8")
            except ValueError:
                return match.group(0)
        if code[:1] in ("C", "M") or code.startswith((".sp", ".in", ".ti", ".sk", ".ce", ".fi")):
            return ""  # charset switches and formatting hints carry no text
        return match.group(0)  # \Zxx\ and unknown sequences are kept as sent

    return _escape_pattern(delimiters.escape).sub(replace, value)


def escape(value: str, delimiters: Delimiters = DEFAULT_DELIMITERS) -> str:
    """Escape a value for an outgoing field (the escape character first)."""
    e = delimiters.escape
    out = value.replace(e, f"{e}E{e}")
    for char, code in (
        (delimiters.field, "F"),
        (delimiters.component, "S"),
        (delimiters.subcomponent, "T"),
        (delimiters.repetition, "R"),
    ):
        out = out.replace(char, f"{e}{code}{e}")
    return out.replace("\r", f"{e}.br{e}").replace("\n", f"{e}.br{e}")


class Segment:
    """One segment; ``fields[n]`` is field n in standard numbering (``fields[0]``: the name)."""

    __slots__ = ("delimiters", "fields", "index", "name")

    def __init__(self, text: str, delimiters: Delimiters, index: int) -> None:
        fields = text.split(delimiters.field)
        if fields[0] == "MSH":
            fields.insert(1, delimiters.field)
        self.name = fields[0]
        self.fields = fields
        self.delimiters = delimiters
        self.index = index

    def field(self, n: int) -> str:
        """Raw (escaped) text of field n with all its repetitions; '' when absent."""
        fields = self.fields
        return fields[n] if n < len(fields) else ""

    def repetitions(self, n: int) -> list[str]:
        """Raw text of each repetition of field n (none when the field is empty)."""
        raw = self.field(n)
        if not raw or raw == NULL:
            return []
        if self.name == "MSH" and n <= 2:
            return [raw]
        return raw.split(self.delimiters.repetition)

    def get(self, n: int, component: int = 1, subcomponent: int = 1, repetition: int = 1) -> str:
        """The unescaped value at SEG-n.component.subcomponent of one repetition ('' if absent)."""
        raw = self.field(n)
        if not raw:
            return ""
        if self.name == "MSH" and n <= 2:
            return raw
        d = self.delimiters
        if repetition != 1 or d.repetition in raw:
            reps = raw.split(d.repetition)
            if repetition > len(reps):
                return ""
            raw = reps[repetition - 1]
        return component_of(raw, d, component, subcomponent)

    def components(self, n: int, repetition: int = 1) -> list[str]:
        """Unescaped components of one repetition of field n (subcomponents left joined)."""
        reps = self.repetitions(n)
        if repetition > len(reps):
            return []
        return split_components(reps[repetition - 1], self.delimiters)

    def __repr__(self) -> str:  # no values: segments hold personal data
        return f"<Segment {self.name} #{self.index} ({len(self.fields) - 1} fields)>"


def component_of(raw: str, d: Delimiters, component: int = 1, subcomponent: int = 1) -> str:
    """One component/subcomponent of a raw repetition, unescaped ('' if absent or null)."""
    if raw == NULL:
        return ""
    if d.component in raw or component != 1:
        parts = raw.split(d.component)
        if component > len(parts):
            return ""
        raw = parts[component - 1]
    if d.subcomponent in raw or subcomponent != 1:
        parts = raw.split(d.subcomponent)
        if subcomponent > len(parts):
            return ""
        raw = parts[subcomponent - 1]
    if raw == NULL:
        return ""
    return unescape(raw, d)


def split_components(raw: str, d: Delimiters) -> list[str]:
    return ["" if part == NULL else unescape(part, d) for part in raw.split(d.component)]


class Message:
    """A parsed message: its segments in order and the MSH values every step needs."""

    __slots__ = ("charset", "delimiters", "msh", "segments", "text")

    def __init__(self, text: str, delimiters: Delimiters, segments: list[Segment], charset: str):
        self.text = text
        self.delimiters = delimiters
        self.segments = segments
        self.msh = segments[0]
        self.charset = charset

    def first(self, name: str) -> Segment | None:
        for segment in self.segments:
            if segment.name == name:
                return segment
        return None

    def all(self, name: str) -> list[Segment]:
        return [segment for segment in self.segments if segment.name == name]

    # -- MSH shortcuts -----------------------------------------------------------------------
    @property
    def sending_application(self) -> str:
        return self.msh.get(3)

    @property
    def sending_facility(self) -> str:
        return self.msh.get(4)

    @property
    def receiving_application(self) -> str:
        return self.msh.get(5)

    @property
    def receiving_facility(self) -> str:
        return self.msh.get(6)

    @property
    def message_code(self) -> str:
        return self.msh.get(9, 1)

    @property
    def trigger_event(self) -> str:
        return self.msh.get(9, 2)

    @property
    def structure(self) -> str:
        return self.msh.get(9, 3)

    @property
    def message_type(self) -> str:
        """E.g. ``ADT^A01`` (code and event; the structure is left out)."""
        event = self.trigger_event
        return f"{self.message_code}^{event}" if event else self.message_code

    @property
    def control_id(self) -> str:
        return self.msh.get(10)

    @property
    def processing_id(self) -> str:
        return self.msh.get(11)

    @property
    def version(self) -> str:
        return self.msh.get(12)

    @property
    def accept_ack_type(self) -> str:
        return self.msh.get(15)

    @property
    def application_ack_type(self) -> str:
        return self.msh.get(16)

    def __repr__(self) -> str:
        return f"<Message {self.message_type} control id {self.control_id!r}>"


def normalise_segments(text: str) -> list[str]:
    """Segment texts: CR, LF and CRLF all end a segment; blank lines go."""
    if "\n" in text:
        text = text.replace("\r\n", "\r").replace("\n", "\r")
    return [line for line in text.split("\r") if line and not line.isspace()]


_NAMES_SEEN: set[str] = set()  # segment names already checked (a feed uses a few dozen)


def _valid_name(name: str) -> bool:
    if name in _NAMES_SEEN:
        return True
    valid = len(name) == 3 and name.isascii() and name.isalnum() and name.isupper()
    if valid and name[0].isalpha() and len(_NAMES_SEEN) < 4096:
        _NAMES_SEEN.add(name)
    return valid and name[0].isalpha()


def _refuse_segment(index: int, text: str) -> Hl7Reject:
    return Hl7Reject(
        f"segment {index} {text}", code=ErrorCode.SEGMENT_SEQUENCE, location=f"segment {index}"
    )


def parse_message(text: str, charset: str = "UNICODE UTF-8") -> Message:
    """Parse one message's text; AR with a location when the envelope is broken."""
    text = text.lstrip("\ufeff \t\r\n")
    lines = normalise_segments(text)
    if not lines:
        raise Hl7Reject("the message is empty", code=ErrorCode.SEGMENT_SEQUENCE, location="MSH")
    delimiters = delimiters_of(lines[0])
    segments = [Segment(line, delimiters, index) for index, line in enumerate(lines, start=1)]
    for segment in segments:
        name = segment.name
        if name not in _NAMES_SEEN and not _valid_name(name):
            raise _refuse_segment(
                segment.index, "has no valid segment name (three capitals or digits)"
            )
        if name == "MSH" and segment.index > 1:
            raise _refuse_segment(
                segment.index, "starts a second message: one message per MLLP frame"
            )
    message = Message(text, delimiters, segments, charset)
    msh = message.msh.fields
    for position, what in ((9, "message type"), (10, "message control id"), (12, "version")):
        if len(msh) <= position or not msh[position] or not message.msh.get(position):
            raise Hl7Reject(
                f"MSH-{position} ({what}) is required",
                code=ErrorCode.REQUIRED_FIELD_MISSING,
                location=f"MSH-{position}",
            )
    return message


_BATCH_SEGMENTS = frozenset({"FHS", "BHS", "BTS", "FTS"})


def split_messages(text: str) -> list[str]:
    """The messages of a file or batch (FHS/BHS envelopes dropped), each as CR-joined text."""
    messages: list[list[str]] = []
    for line in normalise_segments(text.lstrip("\ufeff")):
        name = line[:3]
        if name in _BATCH_SEGMENTS:
            continue
        if name == "MSH" or not messages:
            messages.append([])
        messages[-1].append(line)
    return ["\r".join(lines) for lines in messages]
