"""Every read insurance makes of the hub's store, in one module: Coverage, the facility,
the referral evidence. Reads of the caller's own request go through the caller's store
(authorized, consented, audited); routing facts (a facility's tier) are the hub's system reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from hub.errors import FhirError, Forbidden
from hub.fhir.repository import FhirRepository
from hub.region.facilities import Facility, load_facilities
from insurance.resources import ClaimInvalid, CoverageTerms, coverage_terms, reference
from referral.rules import is_process_request, is_referral, request_reference
from referral.tiers import load_tier_rules, tier_key

REFERRAL_IN_FORCE = frozenset({"accepted", "in-progress", "completed"})


@cache
def _facilities() -> dict[str, Facility]:
    return {f.code: f for f in load_facilities()}


def settling_level(facility_code: str) -> int:
    """The hospital level (1-3) of a designated facility, 0 for a pharmacy or clinic;
    :class:`Forbidden` for a facility the region does not list as a provider."""
    facility = _facilities().get(facility_code)
    if facility is None:
        raise Forbidden(f"{facility_code} is not a designated facility of the region")
    return int(facility.level_code[:1] or 0)


def covered_patient(store: FhirRepository, claim: dict[str, Any]) -> tuple[str, CoverageTerms]:
    """The Claim's Patient id and its Coverage's terms; refuses a Coverage of someone else."""
    patient = reference(claim.get("patient"))
    if not patient.startswith("Patient/"):
        raise ClaimInvalid("patient must reference a Patient")
    store.read("Patient", patient.removeprefix("Patient/"))  # 404 when unknown or hidden
    insurance = [i for i in claim.get("insurance") or [] if isinstance(i, dict)]
    coverage_ref = reference((insurance[0] if insurance else {}).get("coverage"))
    if not coverage_ref.startswith("Coverage/"):
        raise FhirError(
            "the patient has no Coverage named (insurance.coverage)",
            status=422,
            code="business-rule",
        )
    coverage = store.read("Coverage", coverage_ref.removeprefix("Coverage/")).as_dict()
    terms = coverage_terms(coverage)
    if terms.beneficiary != patient:
        raise FhirError(
            f"{coverage_ref} does not cover {patient}", status=422, code="business-rule"
        )
    if not terms.active:
        raise FhirError(f"{coverage_ref} is not active", status=422, code="business-rule")
    return patient.removeprefix("Patient/"), terms


def _tier(store: FhirRepository, organization: str) -> int | None:
    found = store.system.current("Organization", organization.removeprefix("Organization/"))
    return load_tier_rules().tiers.get(tier_key(found or {}) or "")


def _valid_on(request: dict[str, Any], day: date, validity_days: int) -> bool:
    end = (request.get("occurrencePeriod") or {}).get("end")
    if isinstance(end, str):
        return day <= date.fromisoformat(end[:10])
    authored = request.get("authoredOn")
    if not isinstance(authored, str):
        return False
    return day <= date.fromisoformat(authored[:10]) + timedelta(days=validity_days)


@dataclass(frozen=True)
class ReferralEvidence:
    service_request: str  # ServiceRequest/id


def upward_referral(
    store: FhirRepository, patient_id: str, facility: str, validity_days: int
) -> ReferralEvidence | None:
    """An accepted or completed upward referral of this patient to this facility, in force."""
    here = f"Organization/{facility}"
    today = datetime.now(UTC).date()
    requests = store.system.referencing("ServiceRequest", "subject", f"Patient/{patient_id}")
    for request in requests:
        performers = [reference(p) for p in request.get("performer") or []]
        if not is_referral(request) or here not in performers:
            continue
        if not _valid_on(request, today, validity_days):
            continue
        source, target = _tier(store, reference(request.get("requester"))), _tier(store, here)
        if source is None or target is None or target <= source:
            continue
        target_ref = f"ServiceRequest/{request['id']}"
        tasks = store.system.referencing("Task", "focus", target_ref)
        if any(
            is_process_request(t)
            and request_reference(t) == target_ref
            and t.get("status") in REFERRAL_IN_FORCE
            for t in tasks
        ):
            return ReferralEvidence(target_ref)
    return None
