"""Everything decided about a frame before it is stored and acknowledged: pure, no I/O.

Checks run in order and the first failure answers: character set (MSH-18), envelope (MSH),
sending facility (MSH-4, and whether this connection may send for it: ``sender.py``), version
(MSH-12), processing id (MSH-11), supported message type and event (MSH-9), then the full
mapping of the content, so a missing PID-3 or an impossible date is an AE *now*, to the sender,
not a dead letter later.
The mapping is pure and costs well under a millisecond; the worker maps again from the stored
bytes, so nothing decided here has to be carried over. One check needs the database and runs
after this one, in the gateway: whether a facility reporting on a hub booking (an SIU naming
the hub's Appointment, kept here as ``status_reports``) owns its slot (``report_owner.py``);
:meth:`Intake.refuse` turns its refusal into the ACK.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from adapters.hl7v2.ack import Envelope, build_ack, internal_error, should_send
from adapters.hl7v2.charset import codec_for, decode_message
from adapters.hl7v2.errors import ErrorCode, Hl7Error, Hl7Reject
from adapters.hl7v2.mappings import SUPPORTED_EVENTS, MappingContext, map_message
from adapters.hl7v2.mappings.context import StatusReport
from adapters.hl7v2.models import MessageStatus
from adapters.hl7v2.parse import Message, delimiters_of, normalise_segments, parse_message
from adapters.hl7v2.sender import SenderPolicy, authenticate_sender
from adapters.hl7v2.structure import check_structure
from hub.region.facilities import Facility

log = logging.getLogger("hub.hl7v2.intake")
SUPPORTED_VERSIONS = ("2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7", "2.8")
PROCESSING_IDS = frozenset({"P", "T", "D"})


@dataclass(frozen=True)
class Sender:
    """Where a frame came from: the socket address (``host:port``, for the log) and, under TLS,
    the verified certificate's names; ``host`` is the address a source allow-list checks."""

    address: str = ""
    certificate_names: tuple[str, ...] = ()
    host: str = ""


@dataclass
class Received:
    """One frame, checked: what goes into the inbox row and the ACK that answers it."""

    raw: bytes
    peer: str
    received_at: datetime
    status: MessageStatus
    ack_code: str
    ack: str  # text; an empty string means the sender asked for no ACK
    ack_codec: str = "utf-8"
    facility_code: str | None = None
    sending_facility: str = ""
    control_id: str = ""
    message_type: str = ""
    version: str = ""
    charset: str = ""
    error: str | None = None
    sender_refusal: str | None = None  # set when this connection may not send for MSH-4
    report_refusal: str | None = None  # set when MSH-4 reports on another facility's booking
    resource_types: tuple[str, ...] = field(default=())
    status_reports: tuple[StatusReport, ...] = field(default=())  # on the hub's bookings
    envelope: Envelope = field(default_factory=Envelope)

    @property
    def accepted(self) -> bool:
        return self.status is MessageStatus.RECEIVED

    def ack_bytes(self, ack_text: str | None = None) -> bytes:
        return (ack_text if ack_text is not None else self.ack).encode(
            self.ack_codec, errors="replace"
        )


class Intake:
    def __init__(
        self,
        facilities_by_hl7_name: Mapping[str, Facility],
        default_charset: str,
        honour_accept_ack_type: bool = False,
        strict_facilities: frozenset[str] = frozenset(),
        sender_policy: SenderPolicy | None = None,
    ) -> None:
        self.facilities = facilities_by_hl7_name
        self.default_charset = default_charset
        self.honour_accept_ack_type = honour_accept_ack_type
        self.strict_facilities = strict_facilities  # codes: hl7apy structure check (structure.py)
        self.sender_policy = sender_policy or SenderPolicy()

    def check(self, raw: bytes, sender: Sender) -> Received:
        now = datetime.now(UTC)
        received = Received(raw, sender.address, now, MessageStatus.REJECTED, "AR", "")
        envelope = _best_effort_envelope(raw)
        received.control_id = envelope.control_id[:199]  # for the log, should decoding fail
        received.sending_facility = envelope.sending_facility[:180]
        message: Message | None = None
        try:
            text, charset = decode_message(raw, self.default_charset)
            received.charset = charset
            received.ack_codec = codec_for(charset)
            message = parse_message(text, charset)
            envelope = Envelope.of(message)
            self._describe(received, message)
            facility = self._facility(message)
            self._authenticate(received, facility, sender)
            received.facility_code = facility.code
            _check_header(message)
            context = MappingContext(
                facility_code=facility.code,
                received_at=now,
                message_key=f"{facility.code}/{message.control_id}",
            )
            try:
                if facility.code in self.strict_facilities:
                    check_structure(text)  # hl7apy: its own exceptions must not escape either
                mapped = map_message(message, context)
            except Hl7Error:
                raise
            except Exception as exc:  # a mapping bug must not cost the sender its message
                log.exception("checking or mapping failed unexpectedly (%s)", type(exc).__name__)
                raise internal_error("the hub could not map this message; it is kept for the "
                                     "operators") from None  # fmt: skip
            received.resource_types = mapped.resource_types
            received.status_reports = tuple(mapped.status_reports)
        except Hl7Error as error:
            received.envelope = envelope
            return self.refuse(received, error)
        received.envelope = envelope
        received.status = MessageStatus.RECEIVED
        received.ack_code = "AA"
        received.ack = build_ack(envelope, "AA")
        if self.honour_accept_ack_type and not should_send(envelope, "AA"):
            received.ack = ""
        return received

    def refuse(self, received: Received, error: Hl7Error) -> Received:
        """``received`` refused with ``error``: its ACK (AE or AR with ERR) replaces any other."""
        received.status = MessageStatus.REJECTED
        received.ack_code = error.ack_code
        received.error = f"{error.code.value} {error.location or ''}: {error.text}"
        received.ack = build_ack(received.envelope, error.ack_code, error)
        if self.honour_accept_ack_type and not should_send(received.envelope, error.ack_code):
            received.ack = ""
        return received

    def _describe(self, received: Received, message: Message) -> None:
        received.sending_facility = message.msh.get(4)[:180]
        received.control_id = message.control_id[:199]
        received.message_type = message.message_type[:32]
        received.version = message.version[:16]

    def _facility(self, message: Message) -> Facility:
        name = message.msh.get(4)
        facility = self.facilities.get(name)
        if facility is None:
            raise Hl7Reject(
                "MSH-4 names no facility registered with the hub; ask the hub operators to "
                "register the sending facility",
                code=ErrorCode.TABLE_VALUE_NOT_FOUND,
                location="MSH-4",
            )
        return facility

    def _authenticate(self, received: Received, facility: Facility, sender: Sender) -> None:
        """AR 103 at MSH-4 when this connection may not send for ``facility``. Table 0357 has
        no security code, and 207 tells the sender to resend, which will not help here."""
        decision = authenticate_sender(
            peer_host=sender.host,
            certificate_names=sender.certificate_names,
            facility=facility,
            policy=self.sender_policy,
        )
        if decision.accepted:
            return
        received.sender_refusal = (
            f"MSH-4 claims facility {facility.code}; {decision.reason} ({decision.basis})"
        )
        raise Hl7Reject(decision.reason, code=ErrorCode.TABLE_VALUE_NOT_FOUND, location="MSH-4")


def _check_header(message: Message) -> None:
    version = message.version
    if not version.startswith(SUPPORTED_VERSIONS):
        raise Hl7Reject(
            f"version {version[:16]!r} is not supported (2.1 to 2.8)",
            code=ErrorCode.UNSUPPORTED_VERSION,
            location="MSH-12",
        )
    if message.processing_id[:1].upper() not in PROCESSING_IDS:
        raise Hl7Reject(
            "MSH-11 processing id must be P, T or D",
            code=ErrorCode.UNSUPPORTED_PROCESSING_ID,
            location="MSH-11",
        )
    code, event = message.message_code, message.trigger_event
    if not any(code == known for known, _ in SUPPORTED_EVENTS):
        raise Hl7Reject(
            f"message type {code[:8]!r} is not accepted by the hub",
            code=ErrorCode.UNSUPPORTED_MESSAGE_TYPE,
            location="MSH-9",
        )
    if (code, event) not in SUPPORTED_EVENTS:
        raise Hl7Reject(
            f"event {code[:8]}^{event[:8]} is not accepted by the hub",
            code=ErrorCode.UNSUPPORTED_EVENT,
            location="MSH-9",
        )


def _best_effort_envelope(raw: bytes) -> Envelope:
    """MSH values to echo in an ACK for a message that did not decode or parse."""
    try:
        text = raw.lstrip(b"\xef\xbb\xbf").decode("latin-1")
        lines = normalise_segments(text)
        if not lines or not lines[0].startswith("MSH"):
            return Envelope()
        d = delimiters_of(lines[0])
        fields = lines[0].split(d.field)
        fields.insert(1, d.field)

        def at(n: int) -> str:
            value = fields[n] if n < len(fields) else ""
            return value.encode("latin-1").decode("utf-8", errors="replace")[:180]

        return Envelope(
            delimiters=d,
            sending_application=at(3),
            sending_facility=at(4),
            control_id=at(10).split(d.component)[0],
            processing_id=at(11).split(d.component)[0] or "P",
            version=at(12).split(d.component)[0] or "2.5",
            trigger_event=at(9).split(d.component)[1] if d.component in at(9) else "",
            accept_ack_type=at(15).upper(),
            application_ack_type=at(16).upper(),
        )
    except Hl7Error:
        return Envelope()
