"""What goes into an outbound HL7 v2 message: FHIR resources and the patient index, read for
one destination.

PID-3 is written for the receiver: first its own patient numbers for the person (from the
patient index, so a facility that registered the patient sees its own MRN even when another
facility booked the appointment), then the hub's enterprise id (type PN, authority
``YICHANG-HUB``), then the writing facility's numbers found on the Patient. Protected
identifiers (resident ID, phone) are not sent: receivers match on their own numbers or on the
enterprise id.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from adapters.outbound.resources import enterprise_id_of, load_resource, local_numbers
from adapters.outbound.v2_messages import (
    HUB_AUTHORITY,
    AppointmentData,
    Coded,
    Cx,
    PatientData,
    Provider,
    ReferralData,
)
from hub.fhir.systems import facility_patient_system
from hub.security.fields import FieldCipher

_FACILITY_PATIENT = re.compile(
    re.escape(facility_patient_system("CODE")).replace("CODE", "(?P<code>[^/]+)") + r"\Z"
)
# ServiceRequest.status / Task.status -> RF1-1 (HL7 table 0283).
REFERRAL_STATUS: dict[str, tuple[str, str]] = {
    "draft": ("P", "Pending"), "active": ("P", "Pending"), "on-hold": ("P", "Pending"),
    "requested": ("P", "Pending"), "received": ("P", "Pending"), "ready": ("P", "Pending"),
    "accepted": ("A", "Accepted"), "in-progress": ("A", "Accepted"),
    "completed": ("A", "Accepted"), "rejected": ("R", "Rejected"), "cancelled": ("R", "Rejected"),
    "revoked": ("R", "Rejected"), "failed": ("R", "Rejected"),
    "entered-in-error": ("E", "Expired"),
}  # fmt: skip
PRIORITY = {"routine": "R", "urgent": "A", "asap": "A", "stat": "S"}


def _coded(concepts: Any) -> Coded:
    """The first coding (code, display or the concept's text) of a CodeableConcept or list."""
    concept = concepts[0] if isinstance(concepts, list) and concepts else concepts
    if not isinstance(concept, dict):
        return Coded()
    coding = (concept.get("coding") or [{}])[0]
    text = concept.get("text") or coding.get("display") or ""
    return Coded(str(coding.get("code") or ""), str(text))


def _name(patient: dict[str, Any]) -> tuple[str, str]:
    for name in patient.get("name") or []:
        family = str(name.get("family") or "")
        given = "".join(str(g) for g in name.get("given") or [])
        if family or given:
            return family, given
        if name.get("text"):
            return str(name["text"]), ""
    return "", ""


def patient_data(patient: dict[str, Any], leading: tuple[Cx, ...] = ()) -> PatientData:
    """PID content of a FHIR Patient; ``leading`` identifiers come first in PID-3."""
    identifiers = list(leading)
    for identifier in patient.get("identifier") or []:
        match = _FACILITY_PATIENT.match(str(identifier.get("system") or ""))
        value = str(identifier.get("value") or "")
        if match and value:
            cx = Cx(value, match["code"], "MR")
            if cx not in identifiers:
                identifiers.append(cx)
    family, given = _name(patient)
    return PatientData(
        tuple(identifiers),
        family,
        given,
        str(patient.get("birthDate") or ""),
        str(patient.get("gender") or ""),
    )


def patient_for(
    session: Session, cipher: FieldCipher, patient_id: str, destination: str
) -> PatientData:
    """The PID of ``Patient/patient_id`` as ``destination`` should read it."""
    patient = load_resource(session, cipher, "Patient", patient_id) or {"id": patient_id}
    leading: list[Cx] = []
    person = enterprise_id_of(session, patient_id)
    if person is not None:
        person_row, enterprise_id = person
        leading += [
            Cx(n, destination, "MR") for n in local_numbers(session, person_row, destination)
        ]
        leading.append(Cx(enterprise_id, HUB_AUTHORITY, "PN"))
    return patient_data(patient, tuple(leading))


def subject_of(resource: dict[str, Any], *fields: str) -> str:
    """The Patient id a resource is about (the first of ``fields`` that references a Patient)."""
    for name in fields:
        values = resource.get(name)
        for value in values if isinstance(values, list) else [values]:
            actor = value.get("actor", value) if isinstance(value, dict) else None
            reference = str((actor or {}).get("reference") or "")
            if reference.startswith("Patient/"):
                return reference.removeprefix("Patient/")
    return ""


def appointment_data(appointment: dict[str, Any]) -> AppointmentData:
    """SCH/TQ1/AIx content of a FHIR Appointment (participant names from their ``display``)."""
    locations: list[tuple[str, str]] = []
    personnel: list[tuple[str, str]] = []
    organizations: list[tuple[str, str]] = []
    for participant in appointment.get("participant") or []:
        actor = participant.get("actor") or {}
        kind, _, ident = str(actor.get("reference") or "").partition("/")
        entry = (ident, str(actor.get("display") or ""))
        if kind == "Location":
            locations.append(entry)
        elif kind in ("Practitioner", "PractitionerRole"):
            personnel.append(entry)
        elif kind == "Organization":
            organizations.append(entry)
    minutes = appointment.get("minutesDuration")
    return AppointmentData(
        appointment_id=str(appointment.get("id")),
        status=str(appointment.get("status") or ""),
        start=str(appointment.get("start") or ""),
        end=str(appointment.get("end") or ""),
        minutes=minutes if isinstance(minutes, int) else None,
        appointment_type=_coded(appointment.get("appointmentType")),
        service_type=_coded(appointment.get("serviceType")),
        reason=_coded(appointment.get("reasonCode")),
        description=str(appointment.get("description") or ""),
        locations=tuple(locations),
        personnel=tuple(personnel),
        organizations=tuple(organizations),
    )


def _provider(role: str, value: Any) -> Provider | None:
    if not isinstance(value, dict) or not value.get("reference"):
        return None
    ident = str(value["reference"]).partition("/")[2]
    return Provider(role, ident, str(value.get("display") or ""))


def referral_data(request: dict[str, Any], status: str | None = None) -> ReferralData:
    """RF1/PRD content of a referral ServiceRequest; ``status`` (a Task's) overrides its own."""
    code, text = REFERRAL_STATUS.get(status or str(request.get("status") or ""), ("P", "Pending"))
    performers = request.get("performer") or []
    providers = [
        _provider("RP", request.get("requester")),
        *(_provider("RT", p) for p in performers),
    ]
    reason = _coded(request.get("reasonCode"))
    return ReferralData(
        request_id=str(request.get("id")),
        status=code,
        status_text=text,
        priority=PRIORITY.get(str(request.get("priority") or ""), ""),
        authored=str(request.get("authoredOn") or ""),
        code=_coded(request.get("code")),
        reason=reason.text or reason.code,
        providers=tuple(p for p in providers if p is not None),
    )
