"""HL7 v2 data types to FHIR R4 elements, shared by every message family: codes, quantities,
order numbers and text. Dates and times are :mod:`.datetimes`; names, addresses and telecoms
are :mod:`.demographics`.

Each function takes a segment and a field position (the standard's numbering) and returns the
FHIR element, or ``None``/``[]`` when the field is empty. A value that cannot be a FHIR value
is an :class:`Hl7ContentError` naming the field, never its content.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from adapters.hl7v2.errors import ErrorCode, Hl7ContentError
from adapters.hl7v2.parse import Segment, split_components
from hub.fhir.systems import facility_identifier_system
from insurance.resources import CATALOGUE_SYSTEM

Element = dict[str, Any]

V2 = "http://terminology.hl7.org/CodeSystem/v2-"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
UCUM = "http://unitsofmeasure.org"

_KIND_UNSAFE = re.compile(r"[^a-z0-9]+")
_UCUM_LIKE = re.compile(r"[A-Za-z0-9%/.\[\]{}*^'()\-]+")

# HL7 table 0396 (coding systems) -> FHIR system URIs; HL7nnnn -> the v2 table's CodeSystem.
CODING_SYSTEMS: dict[str, str] = {
    # The national medical-insurance catalogue (医保目录) the region's policy prices: a drug coded
    # so in a hospital's RDE and a pharmacy's RDS is one medication (处方流转).
    "NHSA": CATALOGUE_SYSTEM,
    "LN": "http://loinc.org",
    "LOINC": "http://loinc.org",
    "SCT": "http://snomed.info/sct",
    "SNM": "http://snomed.info/sct",
    "SNOMED": "http://snomed.info/sct",
    "I10": "http://hl7.org/fhir/sid/icd-10",
    "ICD10": "http://hl7.org/fhir/sid/icd-10",
    "ICD-10": "http://hl7.org/fhir/sid/icd-10",
    "I10C": "http://hl7.org/fhir/sid/icd-10-cm",
    "I9C": "http://hl7.org/fhir/sid/icd-9-cm",
    "UCUM": UCUM,
    "ANS+": UCUM,
    "NDC": "http://hl7.org/fhir/sid/ndc",
    "CVX": "http://hl7.org/fhir/sid/cvx",
    "RXNORM": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "RXN": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "C4": "http://www.ama-assn.org/go/cpt",
    "CPT": "http://www.ama-assn.org/go/cpt",
    "ISO3166_1": "urn:iso:std:iso:3166",
    "ATC": "http://www.whocc.no/atc",
}

SEX: dict[str, str] = {
    "M": "male",
    "F": "female",
    "O": "other",
    "A": "other",
    "U": "unknown",
    "N": "unknown",
    "1": "male",
    "2": "female",
    "0": "unknown",
    "9": "unknown",
    "男": "male",
    "女": "female",
}  # fmt: skip  (table 0001, and GB/T 2261.1 as Chinese systems send it)

PATIENT_CLASS: dict[str, tuple[str, str]] = {
    "E": ("EMER", "emergency"),
    "I": ("IMP", "inpatient encounter"),
    "O": ("AMB", "ambulatory"),
    "R": ("AMB", "ambulatory"),
    "B": ("IMP", "inpatient encounter"),
    "P": ("PRENC", "pre-admission"),
    "H": ("HH", "home health"),
}
_UNKNOWN_CLASS = {"system": "http://terminology.hl7.org/CodeSystem/v3-NullFlavor", "code": "UNK"}


def content_error(
    text: str, location: str, code: ErrorCode = ErrorCode.DATA_TYPE
) -> Hl7ContentError:
    return Hl7ContentError(text, code=code, location=location)


# -- codes ----------------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def coding_system(name: str, facility: str) -> str:
    """The FHIR system URI of an HL7 coding system name; local names in the facility's space."""
    known = CODING_SYSTEMS.get(name) or CODING_SYSTEMS.get(name.upper())
    if known:
        return known
    upper = name.upper()
    if upper.startswith("HL7") and upper[3:].isdigit():
        return f"{V2}{upper[3:].zfill(4)}"
    base = facility_identifier_system(facility, "codes")
    return base if upper in ("", "L", "LOCAL", "99LOCAL") else f"{base}/{quote(name, safe='')}"


def cwe(segment: Segment, n: int, facility: str, repetition: int = 1,
        default_system: str | None = None) -> Element | None:  # fmt: skip
    """CWE/CE/CNE to a CodeableConcept (primary and alternate coding, text)."""
    parts = segment.components(n, repetition)
    if not parts:
        return None
    parts += [""] * (9 - len(parts))
    codings = []
    for code, display, system in ((parts[0], parts[1], parts[2]), (parts[3], parts[4], parts[5])):
        if code:
            coding: Element = {
                "system": coding_system(system, facility) if system or not default_system
                else default_system,
                "code": code,
            }  # fmt: skip
            if display:
                coding["display"] = display
            codings.append(coding)
    text = parts[8] or parts[1] or parts[4]
    concept: Element = {}
    if codings:
        concept["coding"] = codings
    if text:
        concept["text"] = text
    return concept or None


def cwe_list(segment: Segment, n: int, facility: str) -> list[Element]:
    concepts = (cwe(segment, n, facility, r) for r in range(1, len(segment.repetitions(n)) + 1))
    return [c for c in concepts if c]


def table_concept(code: str, table: str, display: str = "") -> Element:
    """A code of HL7 table ``table``; a value that cannot be a table code is kept as text."""
    if len(code) > 6 or " " in code:
        return {"text": code}
    coding = {"system": f"{V2}{table}", "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def gender(code: str) -> str | None:
    code = code.strip()
    return SEX.get(code.upper()) or SEX.get(code)


def encounter_class(code: str) -> Element:
    found = PATIENT_CLASS.get(code.upper())
    if found is None:
        return dict(_UNKNOWN_CLASS)
    return {"system": V3_ACT_CODE, "code": found[0], "display": found[1]}


def kind_of(code: str) -> str:
    """An identifier type code as a URI-safe identifier kind (``MR`` -> ``mr``)."""
    return _KIND_UNSAFE.sub("-", code.lower()).strip("-") or "other"


# -- numbers and quantities -----------------------------------------------------------------------


def number(text: str) -> int | float | None:
    text = text.strip()
    if not text:
        return None
    try:
        return int(text) if text.lstrip("+-").isdigit() else float(text)
    except ValueError:
        return None


def quantity(value: int | float, unit_parts: list[str] | str, facility: str) -> Element:
    """A Quantity; the unit is coded as UCUM when the sender says so or it looks like UCUM."""
    parts = [unit_parts] if isinstance(unit_parts, str) else unit_parts
    code, text, system = [*parts, "", "", ""][:3]
    out: Element = {"value": value}
    unit = text or code
    if unit:
        out["unit"] = unit
    if code and (system.upper() in ("UCUM", "ANS+") or (not system and _UCUM_LIKE.fullmatch(code))):
        out["system"], out["code"] = UCUM, code
    elif code and system:
        out["system"], out["code"] = coding_system(system, facility), code
    return out


# -- orders ---------------------------------------------------------------------------------------

_FILLER = {"coding": [{"system": f"{V2}0203", "code": "FILL"}]}
_PLACER = {"coding": [{"system": f"{V2}0203", "code": "PLAC"}]}


def order_identifiers(
    facility: str, filler: str, placer: str, fallback: str, kind: str = "order"
) -> list[Element]:
    """Filler (``kind``) and placer (``placer-<kind>``) numbers; ``fallback`` when neither."""
    out: list[Element] = []
    if filler:
        system = facility_identifier_system(facility, kind)
        out.append({"type": _FILLER, "system": system, "value": filler})
    if placer:
        system = facility_identifier_system(facility, f"placer-{kind}")
        out.append({"type": _PLACER, "system": system, "value": placer})
    if not out:
        out.append({"system": facility_identifier_system(facility, kind), "value": fallback})
    return out


def text_of(segment: Segment, n: int) -> str:
    """A text field (ST/TX/FT) with its repetitions as lines, unescaped."""
    d = segment.delimiters
    lines = ("^".join(split_components(rep, d)).rstrip("^") for rep in segment.repetitions(n))
    return "\n".join(lines).strip()
