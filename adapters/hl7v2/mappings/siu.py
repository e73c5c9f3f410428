"""SIU: an Appointment per message, keyed by the filler (SCH-2), else placer (SCH-1) id.

An SIU naming the hub's own Appointment id (namespace ``YICHANG-HUB`` in SCH-2 or SCH-1: the
hub booked it and told the HIS so) is a status report on that booking, never a new appointment
(``referral.scheduling.his_events``): S14 with SCH-25, or S26 for a no-show.

Start and end come from SCH-11 (TQ, up to v2.5), TQ1-7/8, or the first AIS/AIL/AIP start plus
its duration. Participants: the Patient (created if unknown), the personnel of AIP and the
locations of AIL, each with a participation status as R4 requires.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from adapters.hl7v2.ack import HUB_AUTHORITY
from adapters.hl7v2.errors import ErrorCode
from adapters.hl7v2.mappings.adt import subject_references
from adapters.hl7v2.mappings.common import (
    Element,
    content_error,
    cwe,
    cwe_list,
    number,
    order_identifiers,
)
from adapters.hl7v2.mappings.context import (
    BundleBuilder,
    Mapped,
    MappingContext,
    StatusReport,
    reference,
)
from adapters.hl7v2.mappings.datetimes import parse_instant, to_instant
from adapters.hl7v2.mappings.demographics import name_text
from adapters.hl7v2.parse import Message, Segment
from referral.scheduling.his_events import reported_status

APPOINTMENT_STATUS = {"S12": "booked", "S13": "booked", "S14": "booked", "S15": "cancelled",
                      "S16": "cancelled", "S17": "entered-in-error", "S26": "noshow"}  # fmt: skip
_MINUTES = {"min": 1.0, "mins": 1.0, "minute": 1.0, "minutes": 1.0, "m": 1.0, "s": 1 / 60,
            "sec": 1 / 60, "h": 60.0, "hr": 60.0, "hour": 60.0, "hours": 60.0, "d": 1440.0,
            "day": 1440.0}  # fmt: skip
# (segment, start field, duration field, units field) in the order they are read
_RESOURCE_TIMES = (("AIS", 4, 7, 8), ("AIL", 6, 9, 10), ("AIP", 6, 9, 10), ("AIG", 8, 11, 12))


def map_siu(message: Message, context: MappingContext) -> Mapped:
    sch = message.first("SCH")
    if sch is None:
        raise content_error("the message has no SCH segment", "SCH", ErrorCode.SEGMENT_SEQUENCE)
    facility = context.facility_code
    hub_booking = _hub_appointment_id(sch)
    if hub_booking is not None:
        return _status_report(message, sch, *hub_booking)
    bundle = BundleBuilder(context)
    status = APPOINTMENT_STATUS[message.trigger_event]
    identifiers = order_identifiers(
        facility, sch.get(2), sch.get(1), f"msg-{message.control_id}", kind="appointment"
    )
    appointment: Element = {"identifier": identifiers, "status": status}
    _times(message, sch, appointment)
    for key, concept in (("appointmentType", cwe(sch, 8, facility)),):
        if concept:
            appointment[key] = concept
    reasons = cwe_list(sch, 7, facility)
    if reasons:
        appointment["reasonCode"] = reasons
    if status == "cancelled":
        reason = cwe(sch, 6, facility)
        if reason:
            appointment["cancelationReason"] = reason
    services = [c for ais in message.all("AIS") if (c := cwe(ais, 3, facility))]
    if services:
        appointment["serviceType"] = services
    patient_ref, _ = subject_references(bundle, message)
    appointment["participant"] = _participants(message, patient_ref, status, facility)
    if not appointment["participant"]:
        raise content_error("an appointment needs a patient (PID) or a resource (AIP/AIL)",
                            "PID", ErrorCode.SEGMENT_SEQUENCE)  # fmt: skip
    bundle.put("Appointment", appointment, identifiers[0])
    return bundle.build()


def _hub_appointment_id(sch: Segment) -> tuple[str, str] | None:
    """The hub's Appointment id when SCH-2 (filler) or SCH-1 (placer) is in its namespace,
    with the field that named it."""
    for field_number in (2, 1):
        if sch.get(field_number, 2) == HUB_AUTHORITY and sch.get(field_number, 1):
            return sch.get(field_number, 1), f"SCH-{field_number}"
    return None


def _status_report(message: Message, sch: Segment, appointment_id: str, location: str) -> Mapped:
    """An SIU about a hub booking reports a status (S14 with SCH-25, or S26) and nothing else."""
    status = reported_status(message.trigger_event, sch.get(25))
    if status is None:
        raise content_error(
            "on an appointment the hub booked, an HIS reports only arrival, completion or "
            "no-show (S14 with SCH-25 Started/Complete/Noshow, or S26)",
            "SCH-25" if message.trigger_event == "S14" else "MSH-9",
            ErrorCode.TABLE_VALUE_NOT_FOUND,
        )
    empty = {"resourceType": "Bundle", "type": "transaction", "entry": []}
    return Mapped(empty, status_reports=[StatusReport(appointment_id, status, location)])


def _participants(
    message: Message, patient_ref: str | None, status: str, facility: str
) -> list[Element]:
    state = "declined" if status in ("cancelled", "entered-in-error") else "accepted"
    out: list[Element] = []
    if patient_ref:
        out.append({"actor": reference(patient_ref), "status": state})
    for aip in message.all("AIP"):
        who = name_text(aip, 3) or aip.get(3)
        if who:
            participant: Element = {"actor": {"display": who}, "status": state}
            role = cwe(aip, 4, facility)
            if role:
                participant["type"] = [role]
            out.append(participant)
    for ail in message.all("AIL"):
        place = " ".join(p.split("&", 1)[0] for p in ail.components(3)[:4] if p)
        if place:
            out.append({"actor": {"display": place}, "status": state})
    return out


def _times(message: Message, sch: Segment, appointment: Element) -> None:
    start = to_instant(sch.get(11, 4), "SCH-11")
    end = to_instant(sch.get(11, 5), "SCH-11")
    tq1 = message.first("TQ1")
    if not start and tq1 is not None:
        start, end = to_instant(tq1.get(7), "TQ1-7"), to_instant(tq1.get(8), "TQ1-8")
    minutes = _minutes(sch.get(9), sch.get(10))
    for name, at, length, units in _RESOURCE_TIMES:
        segment = message.first(name)
        if segment is None:
            continue
        if not start:
            start = to_instant(segment.get(at), f"{name}-{at}")
        minutes = minutes or _minutes(segment.get(length), segment.get(units))
    if start and not end and minutes:
        end = (parse_instant(start) + timedelta(minutes=minutes)).isoformat()
        if minutes >= 1:
            appointment["minutesDuration"] = round(minutes)
    if start and end:
        appointment["start"], appointment["end"] = start, end
    elif start:
        appointment["requestedPeriod"] = [{"start": start}]


def _minutes(length: str, units: str) -> float | None:
    value = number(length)
    if value is None or value <= 0:
        return None
    return float(value) * _MINUTES.get(units.strip().lower(), 1.0)


SIU_EVENTS: dict[str, Callable[[Message, MappingContext], Mapped]] = {
    event: map_siu for event in APPOINTMENT_STATUS
}
