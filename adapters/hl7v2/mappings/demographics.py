"""HL7 v2 person data types to FHIR R4: XPN/XCN names, XAD addresses, XTN telecoms.

Chinese senders put Hanzi names and addresses in the Western components; a Hanzi name or
address also gets a ``text`` in Chinese reading order, for display and for the patient index.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from adapters.hl7v2.mappings.common import Element
from adapters.hl7v2.parse import Segment, split_components
from hub.region.facilities import DISTRICTS

_HANZI = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

_NAME_USE = {"L": "official", "D": "usual", "M": "maiden", "N": "nickname", "A": "anonymous",
             "S": "anonymous", "B": "old", "C": "old", "T": "temp"}  # fmt: skip
_ADDRESS_USE = {"H": "home", "P": "home", "L": "home", "B": "work", "O": "work", "C": "temp",
                "BA": "old"}  # fmt: skip
_TELECOM_USE = {"PRN": "home", "ORN": "home", "WPN": "work", "VHN": "temp", "EMR": "temp"}
_TELECOM_SYSTEM = {"PH": "phone", "CP": "phone", "FX": "fax", "BP": "pager", "Internet": "email",
                   "X.400": "email", "MD": "other", "TDD": "other", "TTY": "other"}  # fmt: skip


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
    """Every XPN repetition of field ``n`` as a HumanName; empty ones left out."""
    return _each_repetition(segment, n, human_name)


def name_text(segment: Segment, n: int, first: int = 2) -> str:
    """A person's name in an XCN/XPN field as one display string (Hanzi joined without space)."""
    parts = [p.split("&", 1)[0] for p in segment.components(n)[first - 1 : first + 2] if p]
    if not parts:
        return ""
    return "".join(parts[:2]) if has_hanzi("".join(parts)) else " ".join(reversed(parts[:2]))


def addresses(segment: Segment, n: int) -> list[Element]:
    """Every XAD repetition of field ``n`` as an Address; empty ones left out."""
    return _each_repetition(segment, n, _address)


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


def _each_repetition(
    segment: Segment, n: int, convert: Callable[[list[str]], Element | None]
) -> list[Element]:
    converted = (convert(_split(raw, segment)) for raw in segment.repetitions(n))
    return [element for element in converted if element]
