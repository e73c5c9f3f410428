"""Reads the producers need inside the writing transaction, without the store's access checks.

A write hook runs as the facility that wrote (it may not hold read scopes for a Location of
another facility), and these reads are the hub's own routing decisions, not disclosures to the
caller, so they are the store's system reads (``hub.fhir.repository.SystemReads``) instead of
``FhirStore.read`` (which would check scopes and write an audit entry for each). What leaves
the hub is recorded per message in the outbox table (not yet as audit entries).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.fhir.system_reads import StoreSystemReads
from hub.fhir.systems import HL7V2_SENDING_FACILITY_SYSTEM
from hub.mpi.models import PersonRow, SourceRow
from hub.security.fields import FieldCipher


def load_resource(
    session: Session, cipher: FieldCipher, resource_type: str, resource_id: str
) -> dict[str, Any] | None:
    """The current version (plaintext), or None when unknown or deleted."""
    return StoreSystemReads(session, cipher).current(resource_type, resource_id)


def previous_version(
    session: Session, cipher: FieldCipher, resource: dict[str, Any]
) -> dict[str, Any] | None:
    """The version before ``resource`` (as just written), or None for a first version."""
    return StoreSystemReads(session, cipher).previous_version(resource)


def referencing(
    session: Session, cipher: FieldCipher, resource_type: str, param: str, target: str
) -> list[dict[str, Any]]:
    """Current resources of ``resource_type`` whose search parameter ``param`` points at
    ``target`` (``Type/id``), oldest first."""
    return StoreSystemReads(session, cipher).referencing(resource_type, param, target)


def reference_of(value: Any) -> str:
    """``Type/id`` of a Reference dict (relative references only), else ''."""
    if not isinstance(value, dict):
        return ""
    reference = value.get("reference")
    if not isinstance(reference, str) or reference.count("/") != 1:
        return ""
    return reference


def facilities_of(session: Session, cipher: FieldCipher, reference: str) -> set[str]:
    """The facility codes an actor reference belongs to (a facility's Organization id is its
    code): Organization itself, a Location's or Endpoint's managing organization, a
    PractitionerRole's organization, a HealthcareService's provider, and the organizations of a
    Practitioner's active roles."""
    if not reference:
        return set()
    kind, _, ident = reference.partition("/")
    if kind == "Organization":
        return {ident}
    if kind == "Practitioner":
        roles = referencing(session, cipher, "PractitionerRole", "practitioner", reference)
        return {
            code
            for role in roles
            if role.get("active", True)
            for code in _org_codes(role.get("organization"))
        }
    field = {
        "Location": "managingOrganization",
        "PractitionerRole": "organization",
        "HealthcareService": "providedBy",
    }.get(kind)
    if field is None:
        return set()
    resource = load_resource(session, cipher, kind, ident)
    return set() if resource is None else _org_codes(resource.get(field))


def _org_codes(value: Any) -> set[str]:
    kind, _, ident = reference_of(value).partition("/")
    return {ident} if kind == "Organization" and ident else set()


def hl7_facility_name(session: Session, cipher: FieldCipher, facility_code: str) -> str:
    """The facility's HL7 v2 name (its Organization's sending-facility identifier) for MSH-6."""
    organization = load_resource(session, cipher, "Organization", facility_code) or {}
    for identifier in organization.get("identifier") or []:
        if identifier.get("system") == HL7V2_SENDING_FACILITY_SYSTEM and identifier.get("value"):
            return str(identifier["value"])
    return facility_code


def enterprise_id_of(session: Session, patient_id: str) -> tuple[int, str] | None:
    """(person row id, enterprise id) of the person the patient index links a Patient to."""
    row = session.execute(
        select(PersonRow.id, PersonRow.enterprise_id)
        .join(SourceRow, SourceRow.person_id == PersonRow.id)
        .where(SourceRow.patient_id == patient_id)
        .order_by(SourceRow.id)
        .limit(1)
    ).first()
    return None if row is None else (int(row[0]), str(row[1]))


def local_numbers(session: Session, person_id: int, facility_code: str) -> list[str]:
    """The facility's own patient numbers for a person (what its system knows them by)."""
    rows = session.execute(
        select(SourceRow.source_id)
        .where(SourceRow.person_id == person_id, SourceRow.facility == facility_code)
        .order_by(SourceRow.id)
    ).scalars()
    return [s for s in rows if not s.startswith("Patient/")]


def slot_owners(session: Session, cipher: FieldCipher, appointment: dict[str, Any]) -> set[str]:
    """The facilities whose Schedules hold the Slots an Appointment books: a hub booking names
    only its Slot and Patient, and the hospital that owns the slot must hear of it."""
    found: set[str] = set()
    for value in appointment.get("slot") or []:
        kind, _, ident = reference_of(value).partition("/")
        slot = load_resource(session, cipher, "Slot", ident) if kind == "Slot" else None
        kind, _, ident = reference_of((slot or {}).get("schedule")).partition("/")
        schedule = load_resource(session, cipher, "Schedule", ident) if kind == "Schedule" else None
        for actor in (schedule or {}).get("actor") or []:
            found |= facilities_of(session, cipher, reference_of(actor))
    return found
