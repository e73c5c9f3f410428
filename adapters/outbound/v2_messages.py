"""Outbound HL7 v2.5 messages built with hl7apy: SIU^S12-S17, REF^I12, RRI^I12, ADT^A40.

hl7apy is the right tool here (unlike the ingestion hot path, see adapters/hl7v2/parse.py):
outbound volume is small, and building against the version's structure definitions puts every
segment in its proper group. Values are escaped with ``adapters.hl7v2.parse.escape`` before
they are assigned (hl7apy parses an assigned string as ER7, so a ``^`` in a name would
otherwise split it); Chinese text is kept as is and declared by MSH-18 ``UNICODE UTF-8``.

Pure: the inputs are plain data classes (``v2_content`` makes them from FHIR resources), the
output is ER7 text with CR segment separators. MSH-10 comes from the outbox row's idempotency
key (:func:`control_id_for`), so a redelivered row carries the same control id and receivers
can drop the duplicate.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hl7apy.core import Group, Message, Segment

from adapters.hl7v2.ack import HUB_APPLICATION, HUB_FACILITY
from adapters.hl7v2.ack import HUB_AUTHORITY as HUB_AUTHORITY  # PID-3.4, SCH-1/2 namespace
from adapters.hl7v2.parse import escape

VERSION = "2.5"
CHARSET = "UNICODE UTF-8"
_FHIR_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")


def control_id_for(idempotency_key: str) -> str:
    """A stable MSH-10 (20 characters, the v2.5 limit) for an outbox row."""
    return "H" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:19].upper()


def to_dtm(value: str) -> str:
    """FHIR date/dateTime/instant -> HL7 DTM (``2025-03-01T09:00:00+08:00`` ->
    ``20250301090000+0800``); '' for an empty or unreadable value."""
    if not value:
        return ""
    if _FHIR_DATE.fullmatch(value):
        return value.replace("-", "")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return ""
    text = parsed.strftime("%Y%m%d%H%M%S")
    return text + parsed.strftime("%z") if parsed.tzinfo is not None else text


@dataclass(frozen=True)
class Cx:
    """One PID-3 / MRG-1 identifier: value, assigning authority, identifier type (table 0203)."""

    value: str
    authority: str
    type_code: str

    def er7(self) -> str:
        return f"{escape(self.value)}^^^{escape(self.authority)}^{escape(self.type_code)}"


@dataclass(frozen=True)
class PatientData:
    identifiers: tuple[Cx, ...]
    family: str = ""
    given: str = ""
    birth_date: str = ""  # FHIR date
    gender: str = ""  # FHIR code


@dataclass(frozen=True)
class Coded:
    code: str = ""
    text: str = ""

    def er7(self) -> str:
        if not self.code and not self.text:
            return ""
        return f"{escape(self.code)}^{escape(self.text)}"


@dataclass(frozen=True)
class Header:
    receiving_facility: str  # MSH-6: the destination's HL7 name
    control_id: str
    created_at: datetime


@dataclass(frozen=True)
class AppointmentData:
    appointment_id: str
    status: str  # FHIR Appointment.status
    start: str = ""
    end: str = ""
    minutes: int | None = None
    appointment_type: Coded = Coded()
    service_type: Coded = Coded()
    reason: Coded = Coded()
    description: str = ""
    locations: tuple[tuple[str, str], ...] = ()  # (Location id, name)
    personnel: tuple[tuple[str, str], ...] = ()  # (Practitioner id, name)
    organizations: tuple[tuple[str, str], ...] = ()  # (facility code, name)


@dataclass(frozen=True)
class Provider:
    role: str  # PRD-1 (table 0286): RP referring, RT referred to
    identifier: str  # facility code or practitioner id
    name: str = ""


@dataclass(frozen=True)
class ReferralData:
    request_id: str
    status: str  # RF1-1 (table 0283): A accepted, P pending, R rejected, E expired
    status_text: str = ""
    priority: str = ""  # RF1-2 (table 0280): S stat, A asap, R routine
    authored: str = ""
    code: Coded = Coded()
    reason: str = ""
    providers: tuple[Provider, ...] = field(default_factory=tuple)


SIU_EVENTS = {
    "S12": "Booked",
    "S13": "Booked",
    "S14": "Booked",
    "S15": "Cancelled",
    "S17": "Deleted",
}  # SCH-25 filler status (table 0278)
_GENDER = {"male": "M", "female": "F", "other": "O", "unknown": "U"}


def _message(structure: str, code: str, event: str, header: Header) -> Message:
    message = Message(structure, version=VERSION)
    msh = message.msh
    msh.msh_3 = HUB_APPLICATION
    msh.msh_4 = HUB_FACILITY
    msh.msh_6 = escape(header.receiving_facility)
    msh.msh_7 = header.created_at.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")
    msh.msh_9 = f"{code}^{event}^{structure}"
    msh.msh_10 = header.control_id
    msh.msh_11 = "P"
    msh.msh_12 = VERSION
    msh.msh_18 = CHARSET
    return message


def _pid(pid: Segment, patient: PatientData) -> None:
    pid.pid_1 = "1"
    for identifier in patient.identifiers:
        pid.add_field("PID_3").value = identifier.er7()
    if patient.family or patient.given:
        pid.pid_5 = f"{escape(patient.family)}^{escape(patient.given)}"
    if patient.birth_date:
        pid.pid_7 = to_dtm(patient.birth_date)
    if patient.gender:
        pid.pid_8 = _GENDER.get(patient.gender, "U")


def build_siu(
    event: str, header: Header, appointment: AppointmentData, patient: PatientData
) -> str:
    """SIU^S12 (new booking), ^S13 (reschedule), ^S14 (modification), ^S15 (cancellation) or
    ^S17 (deletion): SCH, TQ1, PID, RGS
    and one AIS/AIL/AIP per service, location and practitioner."""
    message = _message("SIU_S12", "SIU", event, header)
    sch = message.sch
    # The hub fills its own bookings: placer and filler id are both the hub's Appointment id.
    sch.sch_1 = f"{escape(appointment.appointment_id)}^{HUB_AUTHORITY}"
    sch.sch_2 = f"{escape(appointment.appointment_id)}^{HUB_AUTHORITY}"
    sch.sch_6 = appointment.reason.er7() or f"{event}^{SIU_EVENTS[event]}"
    if appointment.reason.code or appointment.reason.text:
        sch.sch_7 = appointment.reason.er7()
    if appointment.appointment_type.er7():
        sch.sch_8 = appointment.appointment_type.er7()
    if appointment.minutes is not None:
        sch.sch_9 = str(appointment.minutes)
        sch.sch_10 = "min^minutes^ISO+"
    if appointment.start:
        sch.sch_11 = f"^^^{to_dtm(appointment.start)}^{to_dtm(appointment.end)}"
    sch.sch_25 = SIU_EVENTS[event]
    tq1 = message.add_segment("TQ1")
    tq1.tq1_1 = "1"
    if appointment.start:
        tq1.tq1_7 = to_dtm(appointment.start)
    if appointment.end:
        tq1.tq1_8 = to_dtm(appointment.end)
    if appointment.description:
        message.add_segment("NTE").nte_3 = escape(appointment.description)
    patient_group: Group = message.add_group("SIU_S12_PATIENT")
    _pid(patient_group.add_segment("PID"), patient)
    resources: Group = message.add_group("SIU_S12_RESOURCES")
    resources.rgs.rgs_1 = "1"
    if appointment.service_type.er7():
        service = resources.add_group("SIU_S12_SERVICE")
        service.ais.ais_1 = "1"
        service.ais.ais_3 = appointment.service_type.er7()
    for n, (code, name) in enumerate(appointment.organizations, start=1):
        general = resources.add_group("SIU_S12_GENERAL_RESOURCE")
        general.aig.aig_1 = str(n)
        general.aig.aig_3 = f"{escape(code)}^{escape(name)}"
    for n, (location_id, name) in enumerate(appointment.locations, start=1):
        location = resources.add_group("SIU_S12_LOCATION_RESOURCE")
        location.ail.ail_1 = str(n)
        location.ail.ail_3 = f"^^^^^^^^{escape(name)}^{escape(location_id)}&{HUB_AUTHORITY}"
    for n, (practitioner_id, name) in enumerate(appointment.personnel, start=1):
        personnel = resources.add_group("SIU_S12_PERSONNEL_RESOURCE")
        personnel.aip.aip_1 = str(n)
        personnel.aip.aip_3 = f"{escape(practitioner_id)}^{escape(name)}"
    return str(message.to_er7())


def build_referral(code: str, header: Header, referral: ReferralData, patient: PatientData) -> str:
    """REF^I12 (a new referral) or RRI^I12 (its response or status change): RF1, one PRD per
    provider (referring and referred-to) and PID."""
    if code not in ("REF", "RRI"):
        raise ValueError("code must be REF or RRI")
    structure = f"{code}_I12"
    message = _message(structure, code, "I12", header)
    rf1 = message.add_segment("RF1")
    rf1.rf1_1 = f"{referral.status}^{escape(referral.status_text)}^HL70283"
    if referral.priority:
        rf1.rf1_2 = f"{referral.priority}^^HL70280"
    if referral.code.er7():
        rf1.rf1_3 = referral.code.er7()
    rf1.rf1_6 = f"{escape(referral.request_id)}^{HUB_AUTHORITY}"
    if referral.authored:
        rf1.rf1_7 = to_dtm(referral.authored)
    if referral.reason:
        rf1.rf1_10 = f"^{escape(referral.reason)}"
    for provider in referral.providers:
        contact: Group = message.add_group(f"{structure}_PROVIDER_CONTACT")
        contact.prd.prd_1 = f"{provider.role}^^HL70286"
        if provider.name:
            contact.prd.prd_2 = escape(provider.name)
        contact.prd.prd_7 = escape(provider.identifier)
    _pid(message.add_segment("PID"), patient)
    return str(message.to_er7())


def build_a40(header: Header, surviving: PatientData, prior: tuple[Cx, ...]) -> str:
    """ADT^A40 (merge patient - patient identifier list): PID of the surviving patient, MRG-1
    the identifiers that are retired into it."""
    message = _message("ADT_A39", "ADT", "A40", header)
    message.evn.evn_1 = "A40"
    message.evn.evn_2 = header.created_at.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")
    group: Group = message.add_group("ADT_A39_PATIENT")
    _pid(group.add_segment("PID"), surviving)
    mrg = group.add_segment("MRG")  # added explicitly: hl7apy drops a lazily made segment
    for identifier in prior:
        mrg.add_field("MRG_1").value = identifier.er7()
    return str(message.to_er7())
