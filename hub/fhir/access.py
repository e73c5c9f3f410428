"""Access policy for the store: scopes and the patient compartment, decided in one place.

Every store operation asks here before touching data. Compartment rules are compiled into the
search query itself, so paging and totals never count what the caller may not see. The second
gate, the patient's consent, is ``consent.enforcement`` (``FhirStore.guard``), asked on the same
paths right after this one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.orm import Session

from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.auth.scopes import Interaction, allows
from hub.errors import Forbidden
from hub.fhir.models import ReferenceIndex, ResourceRow
from hub.fhir.registry import ResourceDef
from hub.fhir.search.extract import resolve_path, split_reference
from hub.mpi.lookup import linked_patient_ids, same_person_records

PATIENT = "Patient"
# The shared directory a patient app finds and books care in: it holds no patient's data, so a
# patient token reads it whole (its scopes still decide whether it may read it at all).
DIRECTORY_TYPES = frozenset(
    {"Slot", "Schedule", "HealthcareService", "Location", "Organization", "Practitioner",
     "PractitionerRole"}
)  # fmt: skip


# Types a facility holds: its system sees (and writes) only those naming it in this reference
# parameter; its practitioners none. A facility's ledger reconciliation (its 3202 details, the
# hub's answer, what the fund recovers from it) is its own business, not every facility's.
FACILITY_HELD = {"PaymentReconciliation": "requestor"}
ORGANIZATION = "Organization"


def require(actor: Actor, resource_type: str, interaction: Interaction) -> None:
    if not allows(actor.scopes, resource_type, interaction):
        raise Forbidden(f"the token's scopes do not allow {interaction.name} on {resource_type}")
    if resource_type in FACILITY_HELD and actor.role is Role.practitioner:
        raise Forbidden(f"{resource_type} is held by a facility's system, not its practitioners")


def facility_condition(actor: Actor, resource_type: str) -> ColumnElement[bool] | None:
    """SQL restricting a search of a facility-held type to the caller's facility (None: none)."""
    param = FACILITY_HELD.get(resource_type)
    if param is None or actor.role not in (Role.facility_system, Role.practitioner):
        return None
    if actor.role is Role.practitioner:  # reached only through _include/_revinclude
        return false()
    return ResourceRow.rid.in_(
        select(ReferenceIndex.rid).where(
            ReferenceIndex.resource_type == resource_type,
            ReferenceIndex.param == param,
            ReferenceIndex.target_type == ORGANIZATION,
            ReferenceIndex.target_id == actor.facility,
        )
    )


def holding_facilities(
    resource: dict[str, Any], definition: ResourceDef, base_url: str
) -> set[str]:
    """The Organization ids a facility-held resource names (empty for other types)."""
    param = definition.params.get(FACILITY_HELD.get(str(resource.get("resourceType")), ""))
    found: set[str] = set()
    for path in param.paths if param is not None else ():
        for node in resolve_path(resource, path):
            if isinstance(node, dict) and isinstance(node.get("reference"), str):
                target_type, target_id = split_reference(node["reference"], base_url)
                if target_type == ORGANIZATION:
                    found.add(target_id)
    return found


def require_facility_holds(
    actor: Actor, resource: dict[str, Any], definition: ResourceDef, base_url: str
) -> None:
    """A facility's system reads a facility-held resource only when it names that facility."""
    if resource.get("resourceType") not in FACILITY_HELD or actor.role is not Role.facility_system:
        return
    if actor.facility not in holding_facilities(resource, definition, base_url):
        raise Forbidden(f"{resource.get('resourceType')} of another facility")


def compartment_condition(
    actor: Actor, resource_type: str, definition: ResourceDef
) -> ColumnElement[bool] | None:
    """SQL restricting a search to the caller's patient compartment (None: no restriction).

    A patient token's compartment is its *person's*: every Patient record the patient index
    links to the same person as the token's patient (their records at every hospital)."""
    me = actor.patient
    if me is None or resource_type in DIRECTORY_TYPES:
        return None
    if resource_type == PATIENT:
        return or_(
            ResourceRow.resource_id == me, ResourceRow.resource_id.in_(linked_patient_ids(me))
        )
    if not definition.patient_compartment:
        return false()
    return ResourceRow.rid.in_(
        select(ReferenceIndex.rid).where(
            ReferenceIndex.resource_type == resource_type,
            ReferenceIndex.param.in_(definition.patient_compartment),
            ReferenceIndex.target_type == PATIENT,
            or_(
                ReferenceIndex.target_id == me,
                ReferenceIndex.target_id.in_(linked_patient_ids(me)),
            ),
        )
    )


def visible_to_patient(
    session: Session, actor: Actor, resource: dict[str, Any], definition: ResourceDef, base_url: str
) -> bool:
    """Whether a patient token may see ``resource``: the directory, or its person's records."""
    me = actor.patient
    if me is None or resource.get("resourceType") in DIRECTORY_TYPES:
        return True
    mine = same_person_records(session, [me])[me]
    return any(p in mine for p in patients_of(resource, definition, base_url))


def patients_of(resource: dict[str, Any], definition: ResourceDef, base_url: str) -> list[str]:
    """Ids of the patients whose compartment holds this resource."""
    if resource.get("resourceType") == PATIENT:
        return [str(resource["id"])] if resource.get("id") else []
    found: list[str] = []
    for name in definition.patient_compartment:
        param = definition.params.get(name)
        if param is None:
            continue
        for path in param.paths:
            for node in resolve_path(resource, path):
                if isinstance(node, dict) and isinstance(node.get("reference"), str):
                    target_type, target_id = split_reference(node["reference"], base_url)
                    if target_type == PATIENT and target_id not in found:
                        found.append(target_id)
    return found


def require_in_compartment(
    actor: Actor, resource: dict[str, Any], definition: ResourceDef, base_url: str
) -> None:
    if actor.patient is None:
        return
    if actor.patient not in patients_of(resource, definition, base_url):
        raise Forbidden("the resource is outside the patient's compartment")
