"""Registry of the FHIR resource types the hub serves and their search parameters.

Everything type-specific about the FHIR store is data here: the generic store, search engine,
router and CapabilityStatement read it and never branch on a resource type by name.

Path syntax for ``SearchParam.paths`` (a deliberately small subset of FHIRPath):
  * dotted element names from the resource root: ``name``, ``address.city``, ``subject``;
  * a choice element is listed once per concrete type: ``effectiveDateTime``, ``effectivePeriod``;
  * ``elem[key=value]`` keeps only the array items whose ``key`` equals ``value``:
    ``telecom[system=phone]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ParamType(StrEnum):
    TOKEN = "token"
    STRING = "string"
    DATE = "date"
    REFERENCE = "reference"
    QUANTITY = "quantity"
    NUMBER = "number"
    URI = "uri"


@dataclass(frozen=True)
class SearchParam:
    name: str
    type: ParamType
    paths: tuple[str, ...]
    # Resource types a reference parameter may point to (empty: any).
    targets: tuple[str, ...] = ()
    description: str = ""
    # Token indexed when no path yields a value: R4 defines some token parameters by a boolean
    # FHIRPath expression that is false, not empty, on an absent element (Patient.deceased).
    absent: str | None = None


@dataclass(frozen=True)
class ResourceDef:
    type: str
    params: dict[str, SearchParam]
    # Names of the reference parameters that place a resource in a patient's compartment
    # (the FHIR Patient CompartmentDefinition, trimmed to what we index).
    patient_compartment: tuple[str, ...] = ()
    # Interactions this type supports through the generic store.
    read_only: bool = False
    extra: dict[str, str] = field(default_factory=dict)
