"""Why a message is refused, in the terms an HL7 v2 ACK speaks (HL7 table 0357, MSA-1).

    Hl7Error
     ├── Hl7Reject          AR: the envelope is wrong (MSH, facility, version, character set)
     └── Hl7ContentError    AE: the envelope is fine, the content is not (a required field, a value)

Raised by the parser, the checks before the inbox and the mappings; turned into an ACK with an
ERR segment only at the edge (``ack.py``). Messages never carry personal data: they name the
segment, field and rule, not the value.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """HL7 table 0357 (message error condition codes)."""

    SEGMENT_SEQUENCE = "100"
    REQUIRED_FIELD_MISSING = "101"
    DATA_TYPE = "102"
    TABLE_VALUE_NOT_FOUND = "103"
    VALUE_TOO_LONG = "104"
    UNSUPPORTED_MESSAGE_TYPE = "200"
    UNSUPPORTED_EVENT = "201"
    UNSUPPORTED_PROCESSING_ID = "202"
    UNSUPPORTED_VERSION = "203"
    UNKNOWN_KEY = "204"
    DUPLICATE_KEY = "205"
    RECORD_LOCKED = "206"
    INTERNAL_ERROR = "207"


DISPLAY: dict[ErrorCode, str] = {
    ErrorCode.SEGMENT_SEQUENCE: "Segment sequence error",
    ErrorCode.REQUIRED_FIELD_MISSING: "Required field missing",
    ErrorCode.DATA_TYPE: "Data type error",
    ErrorCode.TABLE_VALUE_NOT_FOUND: "Table value not found",
    ErrorCode.VALUE_TOO_LONG: "Data type error",
    ErrorCode.UNSUPPORTED_MESSAGE_TYPE: "Unsupported message type",
    ErrorCode.UNSUPPORTED_EVENT: "Unsupported event code",
    ErrorCode.UNSUPPORTED_PROCESSING_ID: "Unsupported processing id",
    ErrorCode.UNSUPPORTED_VERSION: "Unsupported version id",
    ErrorCode.UNKNOWN_KEY: "Unknown key identifier",
    ErrorCode.DUPLICATE_KEY: "Duplicate key identifier",
    ErrorCode.RECORD_LOCKED: "Application record locked",
    ErrorCode.INTERNAL_ERROR: "Application internal error",
}


class Hl7Error(Exception):
    """A message the hub cannot take as it is.

    ``location`` is an ERR-2 style location, e.g. ``PID-3`` or ``MSH-18``; ``ack_code`` is the
    MSA-1 value the sender gets (AE or AR).
    """

    ack_code = "AE"

    def __init__(
        self, text: str, *, code: ErrorCode = ErrorCode.DATA_TYPE, location: str | None = None
    ) -> None:
        super().__init__(text)
        self.text = text
        self.code = code
        self.location = location


class Hl7Reject(Hl7Error):
    """The message is refused as a whole (MSA-1 AR): resending it unchanged will not help."""

    ack_code = "AR"


class Hl7ContentError(Hl7Error):
    """The message was understood but its content breaks a rule (MSA-1 AE)."""

    ack_code = "AE"
