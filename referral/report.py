"""Builds the referral report's facts from the store: every version of every referral Task
(``Task/_history``), the facilities on both sides and the department asked for.

Reads go through the store as the caller (operators, auditors), so its access checks, consent
and audit apply; the figures themselves come from :mod:`referral.stats`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.errors import FhirError
from hub.fhir.history import history
from hub.fhir.origin import origin_facility
from hub.fhir.store import FhirStore
from referral.rules import is_process_request, reference_of, request_reference
from referral.stats import ReferralFacts, TaskVersion, build_report
from referral.tiers import TierRules, direction, load_tier_rules, tier_key

PAGE = 2000
UNKNOWN = "unknown"


def referral_report(store: FhirStore, *, since: datetime | None = None) -> dict[str, Any]:
    """The report over the referrals made since ``since`` (all when None)."""
    return build_report(referral_facts(store, since=since))


def referral_facts(store: FhirStore, *, since: datetime | None = None) -> list[ReferralFacts]:
    found = referral_versions(store, since=since)
    lookup = _Lookup(store, load_tier_rules())
    return [
        lookup.facts(task_id, found.latest[task_id], versions)
        for task_id, versions in found.versions.items()
    ]


@dataclass(frozen=True)
class ReferralVersions:
    versions: dict[str, tuple[TaskVersion, ...]]  # Task id -> its versions, oldest first
    latest: dict[str, dict[str, Any]]  # Task id -> its current version


def referral_versions(store: FhirStore, *, since: datetime | None = None) -> ReferralVersions:
    """Every version of the referral Tasks made since ``since`` (all when None), read from the
    type's history through the store as the caller."""
    versions: dict[str, list[TaskVersion]] = defaultdict(list)
    latest: dict[str, dict[str, Any]] = {}
    made: set[str] = set()  # Tasks whose first version is in range: made since ``since``
    offset = 0
    while True:
        entries, _ = history(store, "Task", None, count=PAGE, offset=offset, since=since)
        for entry in entries:
            if entry.resource is None:
                continue
            task = entry.resource.as_dict()
            if not is_process_request(task):
                continue
            versions[entry.resource_id].append(_version(entry.last_updated, task))
            latest.setdefault(entry.resource_id, task)  # newest first: the first seen
            if entry.version_id == 1:
                made.add(entry.resource_id)
        if len(entries) < PAGE:
            break
        offset += PAGE
    return ReferralVersions(
        {t: tuple(sorted(found, key=lambda v: v.updated)) for t, found in versions.items()
         if t in made},
        {t: task for t, task in latest.items() if t in made},
    )  # fmt: skip


def _version(updated: datetime, task: dict[str, Any]) -> TaskVersion:
    concept = task.get("businessStatus")
    business: set[str] = set()
    if isinstance(concept, dict):
        business.update(str(c.get("code")) for c in concept.get("coding") or [])
        if isinstance(concept.get("text"), str):
            business.add(concept["text"])
    return TaskVersion(
        updated=updated,
        status=str(task.get("status")),
        business=frozenset(business),
        has_output=bool(task.get("output")),
    )


class _Lookup:
    """Reads each Organization, ServiceRequest and HealthcareService once per report."""

    def __init__(self, store: FhirStore, rules: TierRules) -> None:
        self.store = store
        self.rules = rules
        self.cache: dict[str, dict[str, Any] | None] = {}

    def read(self, reference: str) -> dict[str, Any] | None:
        if reference not in self.cache:
            resource_type, _, resource_id = reference.partition("/")
            try:
                self.cache[reference] = self.store.read(resource_type, resource_id).as_dict()
            except FhirError:  # gone, or not the caller's to see: counted as unknown
                self.cache[reference] = None
        return self.cache[reference]

    def facts(
        self, task_id: str, task: dict[str, Any], versions: tuple[TaskVersion, ...]
    ) -> ReferralFacts:
        source_code = origin_facility(task)
        source = self.read(f"Organization/{source_code}") if source_code else None
        target = self.read(reference_of(task.get("owner")) or "Organization/-")
        source_tier = self.rules.tiers.get(tier_key(source or {}) or "")
        target_tier = self.rules.tiers.get(tier_key(target or {}) or "")
        way = UNKNOWN
        if source_tier is not None and target_tier is not None:
            way = str(direction(source_tier, target_tier))
        return ReferralFacts(
            task_id=task_id,
            direction=way,
            tier_pair=f"{_tier(source_tier)}->{_tier(target_tier)}",
            district=_district(source),
            specialty=self._specialty(task),
            versions=versions,
        )

    def _specialty(self, task: dict[str, Any]) -> str:
        reference = request_reference(task)
        request = self.read(reference) if reference else None
        for performer in (request or {}).get("performer") or []:
            target = reference_of(performer)
            if target.startswith("HealthcareService/"):
                service = self.read(target) or {}
                for concept in service.get("specialty") or []:
                    for coding in concept.get("coding") or []:
                        return str(coding.get("display") or coding.get("code"))
        code = (request or {}).get("code") or {}
        return str(code.get("text") or UNKNOWN)


def _tier(tier: int | None) -> str:
    return "?" if tier is None else str(tier)


def _district(organization: dict[str, Any] | None) -> str:
    for address in (organization or {}).get("address") or []:
        if isinstance(address.get("district"), str):
            return str(address["district"])
    return UNKNOWN
