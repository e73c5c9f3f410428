"""Referral creation and its checks, through the store's public interface.

A referral ServiceRequest is checked before its Task exists: a known patient, a reason, one
target (an Organization, or a HealthcareService of the directory that takes referrals) that is
not the requester itself, and the tier rules. Every read and write goes through ``FhirStore``,
so authorization, consent and audit apply as on any other path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub.errors import FhirError, InvalidRequest
from hub.fhir.store import FhirStore
from referral.directory import intake_of
from referral.rules import PROCESS_REQUEST_CODE, performer_references, reference_of
from referral.tiers import check_referral, load_tier_rules, tier_key

ORGANIZATION = "Organization/"
HEALTHCARE_SERVICE = "HealthcareService/"


class ReferralRefused(InvalidRequest):
    """A referral that the directory, the tier rules or its own content refuse (400)."""


@dataclass(frozen=True)
class Target:
    organization: str  # ``Organization/id``: the Task's owner
    hospital_referrals_only: bool = False
    accepts_referrals: bool = True


def _read(store: FhirStore, reference: str) -> dict[str, Any] | None:
    resource_type, _, resource_id = reference.partition("/")
    try:
        return store.read(resource_type, resource_id).as_dict()
    except FhirError:  # unknown, deleted, or not this writer's to see
        return None


def resolve_target(store: FhirStore, reference: str) -> Target:
    """The Organization a performer reference sends the referral to, and its intake."""
    if reference.startswith(ORGANIZATION):
        if _read(store, reference) is None:
            raise ReferralRefused(f"the referral's target {reference} is not known")
        return Target(reference)
    if reference.startswith(HEALTHCARE_SERVICE):
        service = _read(store, reference)
        if service is None:
            raise ReferralRefused(f"the referral's target {reference} is not known")
        intake = intake_of(service)
        if not intake.active or not intake.provider.startswith(ORGANIZATION):
            raise ReferralRefused(f"{reference} is not an active service of a facility")
        return Target(intake.provider, intake.hospital_referrals_only, intake.accepts_referrals)
    raise ReferralRefused(
        "a referral's performer is one Organization or HealthcareService reference"
    )


def check_target(store: FhirStore, target: Target) -> None:
    """The tier rules, from the writer's facility to the target's."""
    if target.organization == f"{ORGANIZATION}{store.actor.facility}":
        raise ReferralRefused("a facility does not refer a patient to itself")
    source = _read(store, f"{ORGANIZATION}{store.actor.facility}")
    destination = _read(store, target.organization)
    refusal = check_referral(
        load_tier_rules(),
        tier_key(source or {}),
        tier_key(destination or {}),
        hospital_referrals_only=target.hospital_referrals_only,
        accepts_referrals=target.accepts_referrals,
    )
    if refusal is not None:
        raise ReferralRefused(f"tier rule {refusal.rule}: {refusal.message}")


def check_request(store: FhirStore, request: dict[str, Any]) -> Target:
    """Refuse a referral that names no known patient, no reason or no acceptable target."""
    subject = reference_of(request.get("subject"))
    if not subject.startswith("Patient/") or _read(store, subject) is None:
        raise ReferralRefused("a referral's subject must be a known Patient")
    if not (request.get("reasonCode") or request.get("reasonReference")):
        raise ReferralRefused("a referral needs a reason (reasonCode or reasonReference)")
    if not reference_of(request.get("requester")):
        raise ReferralRefused("a referral names its requester")
    performers = [reference_of(p) for p in performer_references(request)]
    if len(performers) != 1:
        raise ReferralRefused("a referral names exactly one performer: where it goes")
    target = resolve_target(store, performers[0])
    check_target(store, target)
    return target


def task_for(request: dict[str, Any], owner: str) -> dict[str, Any]:
    """The process-request Task that carries a referral through its states."""
    task: dict[str, Any] = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "code": PROCESS_REQUEST_CODE,
        "focus": {"reference": f"ServiceRequest/{request['id']}"},
        "for": request["subject"],
        "authoredOn": datetime.now(UTC).isoformat(timespec="seconds"),
        "requester": request["requester"],
        "owner": {"reference": owner},
    }
    if request.get("priority"):
        task["priority"] = request["priority"]
    return task


def named_outside_the_hub(request: dict[str, Any]) -> bool:
    """True for a referral whose performers are names only, no reference (an HL7 v2 REF's PRD):
    the sending system's record of a referral it made, stored as sent, outside the workflow."""
    performers = performer_references(request)
    return bool(performers) and not any(reference_of(p) for p in performers)


def transaction_writes_task(store: FhirStore) -> bool:
    """True when the running transaction Bundle brings its own Task."""
    return any(target.startswith("Task/") for target in store.bundle_targets)
