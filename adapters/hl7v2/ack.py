"""Acknowledgements: MSH + MSA (+ ERR) in the sender's version, delimiters and mode.

Built as text, not with hl7apy: an hl7apy ACK costs about 9 ms of CPU (bench/hl7_ingest.py
prints the figure), which alone would cap the listener near 100 ACKs/s. The ERR segment follows
the sender's version: v2.5+ puts the location in ERR-2, the code in ERR-3 and the text in ERR-8;
earlier versions pack location and code into ERR-1 and put the text in MSA-3.

Original mode (MSH-15 and MSH-16 empty): AA/AE/AR. Enhanced mode: a commit ACK CA/CE/CR, sent
as MSH-15 asks (AL always, NE never, ER only on error, SU only on success).
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from adapters.hl7v2.errors import DISPLAY, ErrorCode, Hl7Error, Hl7Reject
from adapters.hl7v2.parse import DEFAULT_DELIMITERS, Delimiters, Message, escape

HUB_APPLICATION = "YICHANG-HUB"
HUB_FACILITY = "YICHANG-HIE"
HUB_AUTHORITY = "YICHANG-HUB"  # namespace of the hub's ids: enterprise ids, appointments
_LOCATION = re.compile(r"([A-Z][A-Z0-9]{2})(?:-(\d+)(?:\.(\d+))?)?\Z")
_ENHANCED_CODES = {"AA": "CA", "AE": "CE", "AR": "CR"}
_sequence = itertools.count(1)
_PREFIX = f"{os.getpid() % 100000:05d}"


@dataclass(frozen=True)
class Envelope:
    """What an ACK echoes from the message it answers (as far as the message could be read)."""

    delimiters: Delimiters = DEFAULT_DELIMITERS
    sending_application: str = ""
    sending_facility: str = ""
    control_id: str = ""
    processing_id: str = "P"
    version: str = "2.5"
    trigger_event: str = ""
    accept_ack_type: str = ""
    application_ack_type: str = ""

    @classmethod
    def of(cls, message: Message) -> Envelope:
        msh = message.msh
        return cls(
            delimiters=message.delimiters,
            sending_application=msh.field(3),
            sending_facility=msh.field(4),
            control_id=message.control_id,
            processing_id=message.processing_id or "P",
            version=message.version or "2.5",
            trigger_event=message.trigger_event,
            accept_ack_type=message.accept_ack_type.upper(),
            application_ack_type=message.application_ack_type.upper(),
        )

    @property
    def enhanced(self) -> bool:
        return bool(self.accept_ack_type or self.application_ack_type)


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for part in version.split(".")[:3]:
        digits = "".join(c for c in part if c.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def _err_location(location: str | None, d: Delimiters) -> str:
    """``PID-3`` -> ``PID^1^3``; ``segment 4`` or unknown text -> ''."""
    match = _LOCATION.match(location or "")
    if not match:
        return ""
    segment, field, component = match.groups()
    parts = [segment, "1", field or "", component or ""]
    return d.component.join(parts).rstrip(d.component)


def should_send(envelope: Envelope, ack_code: str) -> bool:
    """Enhanced mode may ask for no commit ACK, or one only on error/success."""
    mode = envelope.accept_ack_type
    if mode == "NE":
        return False
    if mode == "ER":
        return ack_code != "AA"
    if mode == "SU":
        return ack_code == "AA"
    return True


def build_ack(envelope: Envelope, ack_code: str, error: Hl7Error | None = None) -> str:
    """The ACK text (segments joined by CR) for ``ack_code`` AA, AE or AR."""
    d = envelope.delimiters
    code = _ENHANCED_CODES[ack_code] if envelope.enhanced else ack_code
    now = datetime.now(UTC).strftime("%Y%m%d%H%M%S+0000")
    event = escape(envelope.trigger_event, d)
    message_type = d.component.join(["ACK", event, "ACK"]) if event else "ACK"
    msh = d.field.join(
        [
            "MSH",
            d.encoding_characters,
            HUB_APPLICATION,
            HUB_FACILITY,
            envelope.sending_application,
            envelope.sending_facility,
            now,
            "",
            message_type,
            f"ACK{_PREFIX}{next(_sequence)}",
            escape(envelope.processing_id, d) or "P",
            escape(envelope.version, d) or "2.5",
        ]
    )
    control_id = escape(envelope.control_id, d)
    if error is None:
        return f"{msh}\r{d.field.join(['MSA', code, control_id])}"
    text = escape(error.text, d)[:400]
    location = _err_location(error.location, d)
    error_code = d.component.join([error.code.value, DISPLAY[error.code], "HL70357"])
    if _version_tuple(envelope.version) >= (2, 5):
        msa = d.field.join(["MSA", code, control_id])
        severity = "E"
        err = d.field.join(["ERR", "", location, error_code, severity, "", "", "", text])
    else:
        msa = d.field.join(["MSA", code, control_id, text])
        old_code = d.subcomponent.join([error.code.value, DISPLAY[error.code], "HL70357"])
        err_location = location or ""
        pieces = err_location.split(d.component) if err_location else ["", "", ""]
        pieces = [*pieces, "", "", ""][:3]
        err = d.field.join(["ERR", d.component.join([*pieces, old_code])])
    return f"{msh}\r{msa}\r{err}"


def internal_error(text: str = "the hub could not store the message; send it again") -> Hl7Error:
    """AR 207: nothing was stored, so the sender must resend (its queue keeps the message)."""
    return Hl7Reject(text, code=ErrorCode.INTERNAL_ERROR)
