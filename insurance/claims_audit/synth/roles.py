"""What each catalogue item is for in the synthetic month, read from the policy in force. Pure.

The rules' own codes (bed and nursing, chronic drugs, repeatable items, the sex- and
age-restricted items, packages) come from the version's ``claims_audit`` section; ordinary care
(a consultation, tests, acute drugs, consumables) from the catalogue's kinds, classes and
prices, so the month fits whichever policy is in force.
"""

from __future__ import annotations

from dataclasses import dataclass

from insurance.claims_audit.params import ClaimsAuditParams, Package, Sex
from insurance.policy import CatalogueItem, ItemClass, ItemKind, PolicyVersion

DRUG_KINDS = (ItemKind.WESTERN_DRUG, ItemKind.PATENT_CHINESE_MEDICINE)
EXPENSIVE_FEN = 10_000  # a unit price above this is an inpatient specialty item, not a GP's


@dataclass(frozen=True)
class Roles:
    params: ClaimsAuditParams
    consultation: str
    tests: tuple[str, ...]  # billed beside a consultation, one per visit
    acute_drugs: tuple[str, ...]
    chronic_drugs: tuple[str, ...]
    specialty_drugs: tuple[str, ...]  # inpatient only (e.g. a negotiated biologic)
    repeatable: tuple[str, ...]
    bed_and_nursing: tuple[str, ...]
    ward_consumables: tuple[str, ...]  # inpatient, class A/B, not repeatable
    not_covered: tuple[str, ...]  # 丙 items: self-paid
    not_covered_drugs: tuple[str, ...]
    male_only: tuple[str, ...]
    female_only: tuple[str, ...]
    package: Package | None

    @property
    def readmission_days(self) -> int:
        return self.params.split_admission.readmission_days

    def age_limit(self, code: str) -> tuple[int, int]:
        found = next((a for a in self.params.out_of_scope.age_limits if a.code == code), None)
        return (found.min_years, found.max_years) if found else (0, 150)

    @property
    def child_items(self) -> tuple[str, ...]:
        return tuple(a.code for a in self.params.out_of_scope.age_limits if a.max_years < 18)


def roles_of(policy: PolicyVersion) -> Roles:
    params = policy.claims_audit
    if params is None:
        raise ValueError(f"policy {policy.version} has no claims_audit section")
    restricted = {r.code for r in params.out_of_scope.sex_restricted} | {
        a.code for a in params.out_of_scope.age_limits
    }
    packages = {p.code for p in params.unbundling.packages}
    beds = set(params.bed_hogging.bed_and_nursing_codes)
    chronic = set(params.excess_quantity.chronic_drug_codes)
    repeatable = set(params.duplicate_charge.repeatable_codes)
    covered = [i for i in policy.catalogue if i.item_class is not ItemClass.C]

    def codes(items: list[CatalogueItem]) -> tuple[str, ...]:
        return tuple(sorted(i.code for i in items))

    services = [
        i for i in covered
        if i.kind is ItemKind.SERVICE and i.code not in restricted | beds | packages
    ]  # fmt: skip
    if len(services) < 2:
        raise ValueError("the catalogue needs a consultation and a test among its services")
    consultation = min(services, key=lambda i: (i.unit_price_fen, i.code))
    drugs = [i for i in covered if i.kind in DRUG_KINDS and i.code not in chronic]
    consumables = [i for i in covered if i.kind is ItemKind.CONSUMABLE and i.code not in repeatable]
    uncovered = [i for i in policy.catalogue if i.item_class is ItemClass.C]
    sexed = params.out_of_scope.sex_restricted
    return Roles(
        params=params,
        consultation=consultation.code,
        tests=codes([i for i in services if i is not consultation]),
        acute_drugs=codes([i for i in drugs if i.unit_price_fen <= EXPENSIVE_FEN]),
        chronic_drugs=tuple(sorted(chronic)),
        specialty_drugs=codes([i for i in drugs if i.unit_price_fen > EXPENSIVE_FEN]),
        repeatable=tuple(sorted(repeatable)),
        bed_and_nursing=tuple(params.bed_hogging.bed_and_nursing_codes),
        ward_consumables=codes(consumables),
        not_covered=codes([i for i in uncovered if i.kind not in DRUG_KINDS]),
        not_covered_drugs=codes([i for i in uncovered if i.kind in DRUG_KINDS]),
        male_only=tuple(r.code for r in sexed if r.sex is Sex.MALE),
        female_only=tuple(r.code for r in sexed if r.sex is Sex.FEMALE),
        package=params.unbundling.packages[0] if params.unbundling.packages else None,
    )
