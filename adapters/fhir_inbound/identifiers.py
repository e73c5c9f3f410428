"""Which identifiers a facility's FHIR write carries are its own local numbers, and their system.

The rule (pure, no I/O): an identifier in a resource a facility system writes is **local** when

* it has no ``system`` (or an empty one), or
* its ``system`` is one the facility declared as its own (``HUB_FHIR_LOCAL_IDENTIFIER_SYSTEMS``,
  exact match, e.g. ``{"H001": ["http://his.h001.example/mrn"]}``).

Every other system is left alone: the region's systems (resident ID, insurance number,
``.../sid/facility/{code}/...``), terminologies, ``urn:oid:``/``urn:uuid:`` and any other
http(s) or ``urn:`` URI a client chose on purpose. Guessing "local-looking" systems (``urn:*``,
``http://*/mrn``) would silently move identifiers clients already search by.

A local identifier gets the system the HL7 v2 mappings give the same number
(``adapters/hl7v2/mappings/patient.py``), so FHIR and v2 writes of one facility meet:

* on a Patient: MR/MRN/PI or untyped -> ``facility_patient_system(code)`` (the index's source
  id); a resident-ID type, or an untyped valid GB 11643 number -> ``RESIDENT_ID_SYSTEM``
  (normalised, so it is encrypted at rest like any resident ID); an insurance type ->
  ``INSURANCE_PERSON_SYSTEM``; any other type -> ``.../facility/{code}/patient-{type}``;
* on other types: ``.../facility/{code}/{kind}`` with the v2 kind where v2 has one
  (Encounter ``encounter``, Observation ``observation``, ...), else the type in kebab case.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adapters.hl7v2.mappings.common import kind_of
from adapters.hl7v2.mappings.patient import INSURANCE_TYPES, MR_TYPES, RESIDENT_TYPES
from hub.fhir.systems import (
    FACILITY_CODE_SYSTEM,
    INSURANCE_PERSON_SYSTEM,
    RESIDENT_ID_SYSTEM,
    facility_identifier_system,
    facility_patient_system,
)
from hub.mpi.matching import InvalidIdError, parse_id

Identifier = dict[str, Any]

# The identifier kinds the v2 mappings write for a resource type (hub/fhir/systems.py).
V2_KINDS: dict[str, str] = {
    "Patient": "patient",
    "Encounter": "encounter",
    "Observation": "observation",
    "Coverage": "coverage",
    "ChargeItem": "charge",
    "MedicationDispense": "dispense",
}
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def kind_for(resource_type: str) -> str:
    """The identifier kind of a resource type: ``Encounter`` -> ``encounter``."""
    return V2_KINDS.get(resource_type) or _CAMEL.sub("-", resource_type).lower()


def _type_code(identifier: Identifier) -> str:
    concept = identifier.get("type")
    if not isinstance(concept, dict):
        return ""
    for coding in concept.get("coding") or []:
        if isinstance(coding, dict) and isinstance(coding.get("code"), str):
            return str(coding["code"]).strip().upper()
    text = concept.get("text")
    return text.strip().upper() if isinstance(text, str) else ""


def _resident(value: str) -> str | None:
    """The normalised resident ID when ``value`` is a valid GB 11643 number."""
    if len(value) != 18 or not value[:17].isdigit():
        return None
    try:
        return parse_id(value).normalized
    except InvalidIdError:
        return None


@dataclass(frozen=True, slots=True)
class LocalRule:
    """One facility's rule: its code and the systems it declared as its own local ones."""

    facility_code: str
    declared_systems: frozenset[str] = frozenset()

    @classmethod
    def of(cls, facility_code: str, declared: Mapping[str, list[str]]) -> LocalRule:
        return cls(facility_code, frozenset(declared.get(facility_code, ())))

    def is_local(self, system: object) -> bool:
        return not system or (isinstance(system, str) and system in self.declared_systems)

    def system_for(self, resource_type: str, value: str, type_code: str = "") -> tuple[str, str]:
        """The hub system (and value, a resident ID normalised) of a local number."""
        code = self.facility_code
        if resource_type != "Patient":
            return facility_identifier_system(code, kind_for(resource_type)), value
        if not type_code or type_code in MR_TYPES:
            resident = None if type_code else _resident(value)
            if resident is not None:
                return RESIDENT_ID_SYSTEM, resident
            return facility_patient_system(code), value
        if type_code in RESIDENT_TYPES:
            return RESIDENT_ID_SYSTEM, _resident(value) or value
        if type_code in INSURANCE_TYPES:
            return INSURANCE_PERSON_SYSTEM, value
        return facility_identifier_system(code, f"patient-{kind_of(type_code)}"), value

    def qualify(self, resource_type: str, identifier: Identifier) -> bool:
        """Give a local identifier its hub system, in place; whether it changed."""
        value = identifier.get("value")
        if not isinstance(value, str) or not value or not self.is_local(identifier.get("system")):
            return False
        system, value = self.system_for(resource_type, value, _type_code(identifier))
        identifier["system"], identifier["value"] = system, value
        if system not in (RESIDENT_ID_SYSTEM, INSURANCE_PERSON_SYSTEM):
            identifier.setdefault("assigner", self.assigner())
        return True

    def assigner(self) -> dict[str, Any]:
        """A logical reference to the facility that issued the number."""
        return {"identifier": {"system": FACILITY_CODE_SYSTEM, "value": self.facility_code}}
