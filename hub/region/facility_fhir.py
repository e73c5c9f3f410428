"""A registry :class:`~hub.region.facilities.Facility` as FHIR R4 ``Organization`` and
``Location`` dicts: pure, seeded by :func:`hub.seeding.seed_region`."""

from __future__ import annotations

from typing import Any

from hub.fhir.systems import (
    ADDRESS_DISTRICT_CODE_EXTENSION,
    DISTRICT_CODE_SYSTEM,
    FACILITY_CODE_SYSTEM,
    FACILITY_KIND_SYSTEM,
    HL7V2_SENDING_FACILITY_SYSTEM,
    HOSPITAL_LEVEL_SYSTEM,
)
from hub.region.facilities import CITY, COUNTRY, PROVINCE, Facility, FacilityKind

ORGANIZATION_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/organization-type"
ROLE_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
PHYSICAL_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/location-physical-type"

# v3 RoleCode service-delivery location types for Location.type.
_LOCATION_ROLE: dict[FacilityKind, tuple[str, str]] = {
    FacilityKind.HOSPITAL: ("HOSP", "Hospital"),
    FacilityKind.COMMUNITY_CENTER: ("PC", "primary care clinic"),
    FacilityKind.COMMUNITY_STATION: ("PC", "primary care clinic"),
    FacilityKind.TOWNSHIP_CENTER: ("PC", "primary care clinic"),
    FacilityKind.VILLAGE_CLINIC: ("PC", "primary care clinic"),
    FacilityKind.PHARMACY: ("PHARM", "Pharmacy"),
}


def facility_to_organization(facility: Facility) -> dict[str, Any]:
    """The facility as a FHIR R4 Organization."""
    org_type = ("prov", "Healthcare Provider") if facility.kind.is_provider else ("other", "Other")
    provider = _coding(ORGANIZATION_TYPE_SYSTEM, *org_type)
    types = [_concept(facility.kind.label, _kind_coding(facility.kind), provider)]
    if facility.level_code:
        level = _coding(HOSPITAL_LEVEL_SYSTEM, facility.level_code, facility.level_label)
        types.append(_concept(facility.level_label, level))
    organization: dict[str, Any] = {
        "resourceType": "Organization",
        "id": facility.organization_id,
        "identifier": [
            {"use": "official", "system": FACILITY_CODE_SYSTEM, "value": facility.code},
            {
                "use": "secondary",
                "system": HL7V2_SENDING_FACILITY_SYSTEM,
                "value": facility.hl7_sending_facility,
            },
        ],
        "active": True,
        "type": types,
        "name": facility.name,
    }
    if facility.phone:
        organization["telecom"] = [_phone(facility)]
    organization["address"] = [_address(facility)]
    if facility.parent_code:
        organization["partOf"] = {"reference": f"Organization/{facility.parent_code}"}
    return organization


def facility_to_location(facility: Facility) -> dict[str, Any]:
    """The facility's site as a FHIR R4 Location managed by its Organization."""
    role = _coding(ROLE_CODE_SYSTEM, *_LOCATION_ROLE[facility.kind])
    location: dict[str, Any] = {
        "resourceType": "Location",
        "id": facility.location_id,
        "identifier": [{"system": FACILITY_CODE_SYSTEM, "value": facility.code}],
        "status": "active",
        "name": facility.name,
        "mode": "instance",
        "type": [_concept(facility.kind.label, role, _kind_coding(facility.kind))],
        "physicalType": _concept("", _coding(PHYSICAL_TYPE_SYSTEM, "bu", "Building")),
    }
    if facility.phone:
        location["telecom"] = [_phone(facility)]
    location["address"] = _address(facility)
    location["managingOrganization"] = {
        "reference": f"Organization/{facility.organization_id}",
        "display": facility.name,
    }
    return location


def _coding(system: str, code: str, display: str) -> dict[str, str]:
    return {"system": system, "code": code, "display": display}


def _concept(text: str, *codings: dict[str, str]) -> dict[str, Any]:
    concept: dict[str, Any] = {"coding": list(codings)}
    if text:
        concept["text"] = text
    return concept


def _kind_coding(kind: FacilityKind) -> dict[str, str]:
    return _coding(FACILITY_KIND_SYSTEM, kind.value, kind.label)


def _phone(facility: Facility) -> dict[str, str]:
    return {"system": "phone", "value": facility.phone, "use": "work"}


def _address(facility: Facility) -> dict[str, Any]:
    district = _coding(DISTRICT_CODE_SYSTEM, facility.district_code, facility.district)
    address: dict[str, Any] = {
        "extension": [{"url": ADDRESS_DISTRICT_CODE_EXTENSION, "valueCoding": district}],
        "use": "work",
        "type": "physical",
        "text": f"{PROVINCE}{CITY}{facility.district}{facility.address}",
    }
    if facility.address:
        address["line"] = [facility.address]
    address.update(
        {"city": CITY, "district": facility.district, "state": PROVINCE, "country": COUNTRY}
    )
    return address
