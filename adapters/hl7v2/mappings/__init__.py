"""Pure mappings from parsed HL7 v2 messages to FHIR R4 transaction Bundles.

``map_message`` dispatches on MSH-9 (message code, trigger event) through :data:`MAPPERS`; one
module per message family does the work. Mappings do no I/O: the caller posts the Bundle to the
FHIR store and applies the :class:`IndexOperation` list to the patient index. Errors are
:class:`~adapters.hl7v2.errors.Hl7Reject` (AR: a message type or event we do not take) and
:class:`~adapters.hl7v2.errors.Hl7ContentError` (AE: a required value missing or impossible),
each with an ERR-2 location such as ``PID-3``.
"""

from __future__ import annotations

from collections.abc import Callable

from adapters.hl7v2.errors import ErrorCode, Hl7Reject
from adapters.hl7v2.mappings.adt import ADT_EVENTS
from adapters.hl7v2.mappings.charges import CHARGE_EVENTS
from adapters.hl7v2.mappings.context import IndexOperation, Mapped, MappingContext
from adapters.hl7v2.mappings.documents import MDM_EVENTS
from adapters.hl7v2.mappings.oru import ORU_EVENTS
from adapters.hl7v2.mappings.patient import patient_entry
from adapters.hl7v2.mappings.pharmacy import PHARMACY_EVENTS
from adapters.hl7v2.mappings.referral import ORDER_EVENTS, REFERRAL_EVENTS
from adapters.hl7v2.mappings.siu import SIU_EVENTS
from adapters.hl7v2.parse import Message

Mapper = Callable[[Message, MappingContext], Mapped]

MAPPERS: dict[tuple[str, str], Mapper] = {
    (code, event): mapper
    for code, events in (
        ("ADT", ADT_EVENTS),
        ("ORU", ORU_EVENTS),
        ("MDM", MDM_EVENTS),
        ("SIU", SIU_EVENTS),
        ("REF", REFERRAL_EVENTS),
        ("RRI", {"I12": REFERRAL_EVENTS["I12"]}),
        ("OMG", ORDER_EVENTS),
        ("RDE", {k: v for k, v in PHARMACY_EVENTS.items() if k in ("O11", "O25")}),
        ("RDS", {k: v for k, v in PHARMACY_EVENTS.items() if k == "O13"}),
        ("DFT", CHARGE_EVENTS),
    )
    for event, mapper in events.items()
}
SUPPORTED_EVENTS: frozenset[tuple[str, str]] = frozenset(MAPPERS)
SUPPORTED_MESSAGE_CODES: frozenset[str] = frozenset(code for code, _ in MAPPERS)

__all__ = [
    "MAPPERS",
    "SUPPORTED_EVENTS",
    "SUPPORTED_MESSAGE_CODES",
    "IndexOperation",
    "Mapped",
    "Mapper",
    "MappingContext",
    "check_supported",
    "map_message",
    "patient_entry",
]


def check_supported(code: str, event: str) -> None:
    """Raise the AR a message of type ``code^event`` gets when the hub does not map it."""
    if (code, event) in SUPPORTED_EVENTS:
        return
    if code not in SUPPORTED_MESSAGE_CODES:
        raise Hl7Reject(
            f"message type {code[:8]!r} is not supported",
            code=ErrorCode.UNSUPPORTED_MESSAGE_TYPE,
            location="MSH-9",
        )
    raise Hl7Reject(
        f"trigger event {event[:8]!r} of {code} messages is not supported",
        code=ErrorCode.UNSUPPORTED_EVENT,
        location="MSH-9",
    )


def map_message(message: Message, context: MappingContext) -> Mapped:
    """The transaction Bundle (and index operations) for one parsed message."""
    code, event = message.message_code, message.trigger_event
    check_supported(code, event)
    return MAPPERS[(code, event)](message, context)
