"""The referral directory: a ``HealthcareService`` per department of each hospital.

Departments come from a packaged catalogue of typical departments per hospital level
(``data/departments.json``), so ``hub seed`` gives every hospital the same, deterministic set.
Each service names its specialty (SNOMED practice setting), and as ``characteristic`` codings
its hospital level, referral tier, district and how it takes referrals, so the directory is a
plain search: ``HealthcareService?specialty=...&characteristic=<tier system>|3``. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict

from hub.fhir.systems import DISTRICT_CODE_SYSTEM, HOSPITAL_LEVEL_SYSTEM, NAMESPACE
from hub.region.facilities import Facility, FacilityKind
from referral.rules import SNOMED, reference_of
from referral.tiers import TierRules, load_tier_rules

CATALOGUE_FILE = "departments.json"
TIER_SYSTEM = f"{NAMESPACE}/CodeSystem/referral-tier"
REFERRAL_INTAKE_SYSTEM = f"{NAMESPACE}/CodeSystem/referral-intake"
ACCEPTS = "accepts-referrals"
HOSPITAL_ONLY = "hospital-referrals-only"
CAPACITY_EXTENSION = f"{NAMESPACE}/StructureDefinition/referral-reserved-capacity"
REFERRAL_METHOD_SYSTEM = "http://terminology.hl7.org/CodeSystem/service-referral-method"


class Department(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    name: str
    snomed: str
    display: str
    capacity: int  # referral-reserved places per day
    accepts_referrals: bool = True
    hospital_referrals_only: bool = False


class Catalogue(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    description: str = ""
    levels: dict[str, list[Department]]  # 一级/二级/三级 -> departments


@cache
def load_catalogue() -> Catalogue:
    text = (resources.files("referral") / "data" / CATALOGUE_FILE).read_text(encoding="utf-8")
    return Catalogue.model_validate_json(text)


def service_id(facility_code: str, department_code: str) -> str:
    return f"{facility_code}-{department_code}"


def healthcare_services(
    facility: Facility, catalogue: Catalogue | None = None, rules: TierRules | None = None
) -> list[dict[str, Any]]:
    """The facility's departments as HealthcareServices (none for a non-hospital)."""
    if facility.kind is not FacilityKind.HOSPITAL or facility.level is None:
        return []
    catalogue = catalogue or load_catalogue()
    rules = rules or load_tier_rules()
    tier = rules.tiers.get(f"hospital-{facility.level_code[:1]}")
    return [_service(facility, department, tier) for department in catalogue.levels[facility.level]]


def _service(facility: Facility, department: Department, tier: int | None) -> dict[str, Any]:
    characteristic = [
        _concept(HOSPITAL_LEVEL_SYSTEM, facility.level_code, facility.level_label),
        _concept(DISTRICT_CODE_SYSTEM, facility.district_code, facility.district),
    ]
    if tier is not None:
        characteristic.append(_concept(TIER_SYSTEM, str(tier), f"tier {tier}"))
    if department.accepts_referrals:
        characteristic.append(_concept(REFERRAL_INTAKE_SYSTEM, ACCEPTS, "Accepts referrals"))
    if department.hospital_referrals_only:
        characteristic.append(
            _concept(REFERRAL_INTAKE_SYSTEM, HOSPITAL_ONLY, "Hospital referrals only")
        )
    service: dict[str, Any] = {
        "resourceType": "HealthcareService",
        "id": service_id(facility.code, department.code),
        "extension": [{"url": CAPACITY_EXTENSION, "valueInteger": department.capacity}],
        "active": True,
        "providedBy": {"reference": f"Organization/{facility.organization_id}"},
        "specialty": [_concept(SNOMED, department.snomed, department.display)],
        "location": [{"reference": f"Location/{facility.location_id}"}],
        "name": f"{facility.name}{department.name}",
        "characteristic": characteristic,
    }
    if department.accepts_referrals:
        service["referralMethod"] = [_concept(REFERRAL_METHOD_SYSTEM, "elec", "Secure Messaging")]
    return service


@dataclass(frozen=True)
class Intake:
    """How a HealthcareService takes referrals, read back from its resource."""

    provider: str  # ``Organization/id`` or ""
    specialties: frozenset[str]
    active: bool
    accepts_referrals: bool
    hospital_referrals_only: bool


def intake_of(service: dict[str, Any]) -> Intake:
    codes = {
        str(coding.get("code"))
        for concept in service.get("characteristic") or []
        for coding in (concept or {}).get("coding") or []
        if coding.get("system") == REFERRAL_INTAKE_SYSTEM
    }
    specialties = frozenset(
        str(coding.get("code"))
        for concept in service.get("specialty") or []
        for coding in (concept or {}).get("coding") or []
    )
    return Intake(
        provider=reference_of(service.get("providedBy")),
        specialties=specialties,
        active=service.get("active") is not False,
        accepts_referrals=ACCEPTS in codes,
        hospital_referrals_only=HOSPITAL_ONLY in codes,
    )


def _concept(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}]}
