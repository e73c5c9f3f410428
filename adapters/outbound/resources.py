"""Reads the producers need inside the writing transaction, without the store's access checks.

A write hook runs as the facility that wrote (it may not hold read scopes for a Location of
another facility), and these reads are the hub's own routing decisions, not disclosures to the
caller, so they go to the rows directly instead of through ``FhirStore.read`` (which would
check scopes and write an audit entry for each). What leaves the hub is recorded per message in
the outbox table (not yet as audit entries).
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.fhir.models import ReferenceIndex, ResourceRow, ResourceVersionRow
from hub.fhir.search.extract import split_reference
from hub.fhir.systems import HL7V2_SENDING_FACILITY_SYSTEM
from hub.mpi.models import PersonRow, SourceRow
from hub.security.fields import FieldCipher, contains_sealed_values, unseal_resource


def _plain(content: str, cipher: FieldCipher) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(content)
    return unseal_resource(data, cipher) if contains_sealed_values(content) else data


def load_resource(
    session: Session, cipher: FieldCipher, resource_type: str, resource_id: str
) -> dict[str, Any] | None:
    """The current version (plaintext), or None when unknown or deleted."""
    row = session.execute(
        select(ResourceRow.content).where(
            ResourceRow.resource_type == resource_type,
            ResourceRow.resource_id == resource_id,
            ResourceRow.deleted.is_(False),
        )
    ).scalar_one_or_none()
    return None if row is None else _plain(row, cipher)


def previous_version(
    session: Session, cipher: FieldCipher, resource: dict[str, Any]
) -> dict[str, Any] | None:
    """The version before ``resource`` (as just written), or None for a first version."""
    version = int((resource.get("meta") or {}).get("versionId") or 1)
    if version <= 1:
        return None
    content = session.execute(
        select(ResourceVersionRow.content).where(
            ResourceVersionRow.resource_type == resource.get("resourceType"),
            ResourceVersionRow.resource_id == resource.get("id"),
            ResourceVersionRow.version_id == version - 1,
        )
    ).scalar_one_or_none()
    return None if content is None else _plain(content, cipher)


def referencing(
    session: Session, cipher: FieldCipher, resource_type: str, param: str, target: str
) -> list[dict[str, Any]]:
    """Current resources of ``resource_type`` whose search parameter ``param`` points at
    ``target`` (``Type/id``), oldest first."""
    target_type, target_id = split_reference(target)
    rows = session.execute(
        select(ResourceRow.content)
        .join(ReferenceIndex, ReferenceIndex.rid == ResourceRow.rid)
        .where(
            ReferenceIndex.resource_type == resource_type,
            ReferenceIndex.param == param,
            ReferenceIndex.target_type == target_type,
            ReferenceIndex.target_id == target_id,
            ResourceRow.deleted.is_(False),
        )
        .order_by(ResourceRow.rid)
    ).scalars()
    return [_plain(content, cipher) for content in rows if content is not None]


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
