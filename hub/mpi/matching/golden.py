"""Golden-record survivorship: the person's Patient, field by field from its sources.

Rule: for each field, the value of the most trusted source that has one, the most recent among
equally trusted ones. Trust is by facility kind (configurable: ``TRUST_BY_KIND``); a hospital's
registration desk checks identity cards, a pharmacy rarely does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.fhir.systems import ENTERPRISE_ID_SYSTEM, INSURANCE_PERSON_SYSTEM, RESIDENT_ID_SYSTEM
from hub.mpi.matching.features import MatchFeatures
from hub.region.facilities import DISTRICTS

TRUST_BY_KIND: dict[str, int] = {
    "hospital": 50, "township_center": 40, "community_center": 40, "community_station": 30,
    "village_clinic": 20, "pharmacy": 10,
}  # fmt: skip
DEFAULT_TRUST = 25


@dataclass(frozen=True)
class SourceView:
    facility: str
    facility_kind: str | None
    source_id: str
    updated: datetime
    features: MatchFeatures

    @property
    def rank(self) -> tuple[int, datetime]:
        return TRUST_BY_KIND.get(self.facility_kind or "", DEFAULT_TRUST), self.updated


def golden_patient(enterprise_id: str, sources: list[SourceView]) -> dict[str, Any]:
    ordered = sorted(sources, key=lambda s: s.rank, reverse=True)

    def first(attr: str) -> Any:
        return next((getattr(s.features, attr) for s in ordered if getattr(s.features, attr)), None)

    patient: dict[str, Any] = {"resourceType": "Patient", "id": enterprise_id, "active": True}
    identifiers = [{"system": ENTERPRISE_ID_SYSTEM, "value": enterprise_id}]
    resident_id = first("resident_id")
    if resident_id:
        identifiers.append({"system": RESIDENT_ID_SYSTEM, "value": resident_id})
    insurance = first("insurance_number")
    if insurance:
        identifiers.append({"system": INSURANCE_PERSON_SYSTEM, "value": insurance})
    for source in ordered:
        for system, value in source.features.local_ids:
            entry = {"system": system, "value": value}
            if entry not in identifiers:
                identifiers.append(entry)
    patient["identifier"] = identifiers
    named = next((s.features for s in ordered if s.features.name.full_pinyin), None)
    if named is not None:
        name: dict[str, Any] = {"use": "official"}
        text = named.full_name or f"{named.family}{named.given}"
        if text:
            name["text"] = text
        if named.family:
            name["family"] = named.family
        if named.given:
            name["given"] = [named.given]
        patient["name"] = [name]
    sex = first("sex")
    if sex:
        patient["gender"] = sex
    birth = first("birth_date")
    if birth:
        patient["birthDate"] = birth.isoformat()
    phones = first("phones")
    if phones:
        patient["telecom"] = [{"system": "phone", "value": phones[0], "use": "mobile"}]
    addressed = next((s.features for s in ordered if s.features.line or s.features.district), None)
    if addressed is not None:
        address: dict[str, Any] = {"use": "home"}
        if addressed.line:
            address["text"] = addressed.line
        if addressed.district:
            address["district"] = DISTRICTS.get(addressed.district, addressed.district)
        if addressed.postal_code:
            address["postalCode"] = addressed.postal_code
        patient["address"] = [address]
    return patient
