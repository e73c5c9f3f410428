"""HL7 v2 data types to FHIR R4 elements, shared by every message family.

Each function takes a segment and a field position (the standard's numbering) and returns the
FHIR element, or ``None``/``[]`` when the field is empty. A value that cannot be a FHIR value
(an impossible date) is an :class:`Hl7ContentError` naming the field, never its content.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from adapters.hl7v2.errors import ErrorCode, Hl7ContentError
from adapters.hl7v2.parse import Segment, split_components
from hub.fhir.systems import facility_identifier_system
from hub.region.facilities import DISTRICTS

Element = dict[str, Any]

V2 = "http://terminology.hl7.org/CodeSystem/v2-"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
UCUM = "http://unitsofmeasure.org"
CHINA = timezone(timedelta(hours=8))  # Asia/Shanghai has kept +08:00 without DST since 1991

_DTM = re.compile(r"(\d{4})(\d\d)?(\d\d)?(\d\d)?(\d\d)?(\d\d)?(\.\d{1,6})?(?:([+-])(\d\d)(\d\d))?")
_HANZI = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_KIND_UNSAFE = re.compile(r"[^a-z0-9]+")
_UCUM_LIKE = re.compile(r"[A-Za-z0-9%/.\[\]{}*^'()\-]+")

# HL7 table 0396 (coding systems) -> FHIR system URIs; HL7nnnn -> the v2 table's CodeSystem.
CODING_SYSTEMS: dict[str, str] = {
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

_NAME_USE = {"L": "official", "D": "usual", "M": "maiden", "N": "nickname", "A": "anonymous",
             "S": "anonymous", "B": "old", "C": "old", "T": "temp"}  # fmt: skip
_ADDRESS_USE = {"H": "home", "P": "home", "L": "home", "B": "work", "O": "work", "C": "temp",
                "BA": "old"}  # fmt: skip
_TELECOM_USE = {"PRN": "home", "ORN": "home", "WPN": "work", "VHN": "temp", "EMR": "temp"}
_TELECOM_SYSTEM = {"PH": "phone", "CP": "phone", "FX": "fax", "BP": "pager", "Internet": "email",
                   "X.400": "email", "MD": "other", "TDD": "other", "TTY": "other"}  # fmt: skip


def content_error(
    text: str, location: str, code: ErrorCode = ErrorCode.DATA_TYPE
) -> Hl7ContentError:
    return Hl7ContentError(text, code=code, location=location)


# -- dates and times ------------------------------------------------------------------------------


def _parts(value: str, location: str) -> tuple[re.Match[str], str, str]:
    match = _DTM.fullmatch(value.strip())
    if match is None:
        raise content_error(
            f"{location} is not an HL7 date/time (YYYY[MM[DD[HHMM[SS]]]][+ZZZZ])", location
        )
    year, month, day = match[1], match[2] or "01", match[3] or "01"
    hour, minute, second = match[4] or "00", match[5] or "00", match[6] or "00"
    offset_hours = int(match[9]) if match[8] else 0
    try:
        datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError:
        raise content_error(f"{location} is not a possible date or time", location) from None
    if year == "0000" or offset_hours > 14 or (match[10] and int(match[10]) > 59):
        raise content_error(f"{location} has a year or time-zone offset out of range", location)
    offset = f"{match[8]}{match[9]}:{match[10]}" if match[8] else "+08:00"
    return match, f"{hour}:{minute}:{second}{match[7] or ''}", offset


def to_date(value: str, location: str) -> str | None:
    """HL7 DT/DTM to a FHIR date at the precision sent (a time part is dropped)."""
    if not value:
        return None
    match, _, _ = _parts(value, location)
    return "-".join(p for p in (match[1], match[2], match[3] and match[2] and match[3]) if p)


def to_datetime(value: str, location: str) -> str | None:
    """HL7 TS/DTM to a FHIR dateTime; no offset means China Standard Time (+08:00)."""
    if not value:
        return None
    match, clock, offset = _parts(value, location)
    if not match[4] or not match[3]:
        return to_date(value, location)
    return f"{match[1]}-{match[2]}-{match[3]}T{clock}{offset}"


def to_instant(value: str, location: str) -> str | None:
    """A FHIR instant (seconds and offset required); a value sent to the day only gives None."""
    if not value:
        return None
    match, clock, offset = _parts(value, location)
    if not match[4]:
        return None
    return f"{match[1]}-{match[2]}-{match[3]}T{clock}{offset}"


def parse_instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


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


# -- names, addresses, telecoms -------------------------------------------------------------------


def has_hanzi(text: str) -> bool:
    return _HANZI.search(text) is not None


def human_name(parts: list[str]) -> Element | None:
    """XPN to HumanName. A Hanzi name gets ``text`` (family + given); a Hanzi or dotted minority
    name sent whole in one component is given as ``text`` only, for the index to split."""
    parts = parts + [""] * (7 - len(parts))
    family, given, middle, suffix, prefix, degree, kind = (p.strip() for p in parts[:7])
    family = family.split("&", 1)[0]
    name: Element = {}
    use = _NAME_USE.get(kind)
    if use:
        name["use"] = use
    if family and not given and not middle and has_hanzi(family):
        name["text"] = family
    else:
        if family:
            name["family"] = family
        givens = [g for g in (given, middle) if g]
        if givens:
            name["given"] = givens
        if family and given and has_hanzi(family) and has_hanzi(given) and not middle:
            name["text"] = family + given
    if prefix:
        name["prefix"] = [prefix]
    suffixes = [s for s in (suffix, degree) if s]
    if suffixes:
        name["suffix"] = suffixes
    return name if set(name) - {"use"} else None


def names(segment: Segment, n: int) -> list[Element]:
    out = []
    for raw in segment.repetitions(n):
        name = human_name(_split(raw, segment))
        if name:
            out.append(name)
    return out


def name_text(segment: Segment, n: int, first: int = 2) -> str:
    """A person's name in an XCN/XPN field as one display string (Hanzi joined without space)."""
    parts = [p.split("&", 1)[0] for p in segment.components(n)[first - 1 : first + 2] if p]
    if not parts:
        return ""
    return "".join(parts[:2]) if has_hanzi("".join(parts)) else " ".join(reversed(parts[:2]))


def addresses(segment: Segment, n: int) -> list[Element]:
    out = []
    for raw in segment.repetitions(n):
        address = _address(_split(raw, segment))
        if address:
            out.append(address)
    return out


def _address(parts: list[str]) -> Element | None:
    parts = parts + [""] * (9 - len(parts))
    street, other, city, state, postal, country, kind, _, county = (p.strip() for p in parts[:9])
    street = " ".join(p for p in street.split("&") if p)
    county = county.split("&", 1)[0]
    address: Element = {}
    use = _ADDRESS_USE.get(kind)
    if use:
        address["use"] = use
    elif kind == "M":
        address["type"] = "postal"
    lines = [line for line in (street, other) if line]
    district = DISTRICTS.get(county, county)
    if lines:
        address["line"] = lines
    for key, value in (("city", city), ("district", district), ("state", state),
                       ("postalCode", postal), ("country", country)):  # fmt: skip
        if value:
            address[key] = value
    joined = "".join(lines)
    if has_hanzi(joined + city + state):
        address["text"] = (
            "".join(p for p in (state, city, district) if p and p not in joined) + joined
        )
    return address if set(address) - {"use", "type"} else None


def telecoms(segment: Segment, *positions: int) -> list[Element]:
    out = []
    for n in positions:
        for raw in segment.repetitions(n):
            point = _contact_point(_split(raw, segment))
            if point and point not in out:
                out.append(point)
    return out


def _contact_point(parts: list[str]) -> Element | None:
    parts = parts + [""] * (12 - len(parts))
    formatted, use, equipment, email = parts[0], parts[1], parts[2], parts[3]
    system = _TELECOM_SYSTEM.get(equipment) or ("email" if use == "NET" else "")
    if system == "email" or (email and not formatted):
        value, system = email or formatted, "email"
    else:
        local = parts[6] + (f" ext. {parts[7]}" if parts[7] else "")
        composed = " ".join(p for p in (parts[4] and f"+{parts[4]}", parts[5], local) if p)
        value = formatted or parts[11] or composed
        system = system or "phone"
    if not value.strip():
        return None
    point: Element = {"system": system, "value": value.strip()}
    if equipment == "CP":
        point["use"] = "mobile"
    elif use in _TELECOM_USE:
        point["use"] = _TELECOM_USE[use]
    return point


def _split(raw: str, segment: Segment) -> list[str]:
    return split_components(raw, segment.delimiters)


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
