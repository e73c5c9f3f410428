"""Match features: one source record in the normalised form the comparisons read.

Built from a FHIR Patient or from a bulk-load CSV row. Values that do not parse (a malformed
resident ID, an impossible date, a phone with letters) are kept as given, flagged, and left out
of matching; the rest of the record still links. An empty record is refused, naming the fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from hub.fhir.systems import INSURANCE_PERSON_SYSTEM, RESIDENT_ID_SYSTEM
from hub.mpi.matching.addresses import is_chinese_address
from hub.mpi.matching.identifiers import InvalidIdError, parse_id
from hub.mpi.matching.names import NameKeys, name_keys
from hub.mpi.matching.written_names import split_written_name
from hub.region.facilities import DISTRICTS

_DATE_DASHED = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*$")
_DATE_COMPACT = re.compile(r"^\s*(\d{4})(\d{2})(\d{2})\s*$")
_TOWNSHIP = re.compile(r"\s*([\u4e00-\u9fff]{1,8}?(?:街道|镇|乡))")
_ADMIN_PREFIX = re.compile(
    r"^.*?(?:省|自治区)?.*?(?:市|州|县|区)(?=[\u4e00-\u9fff]+(?:街道|镇|乡))"
)
# A village (村), an urban community (社区), or a residential estate (小区, 花园, 家园): the unit
# below the township that a registration desk writes before the house.
_VILLAGE = re.compile(r"([\u4e00-\u9fff]{1,8}?(?:村|社区|小区|花园|家园))")
# An administrative unit written inside what reads as the township ("长阳县龙舟坪镇").
_ADMIN_UNIT = re.compile(r"^.*(?:省|自治区|市|州|县|区)(?=[\u4e00-\u9fff])")
_PHONE_OK = re.compile(r"^[\d\s()+\-]{5,24}$")
_DISTRICT_BY_NAME = {name: code for code, name in DISTRICTS.items()}
# Short names the desks write for the two autonomous counties.
_DISTRICT_BY_NAME.update({"长阳县": "420528", "五峰县": "420529"})
SEX_WORDS = {
    "male": "male", "m": "male", "男": "male", "1": "male",
    "female": "female", "f": "female", "女": "female", "2": "female",
}  # fmt: skip


class EmptyRecordError(ValueError):
    """A record with nothing to match on (no name, birth date, identifier or phone)."""


@dataclass(frozen=True, slots=True)
class MatchFeatures:
    family: str = ""
    given: str = ""
    full_name: str = ""
    birth_date: date | None = None
    sex: str | None = None
    resident_id: str | None = None  # normalised, check digit verified
    resident_id_raw: str | None = None  # as given when it does not parse (never a strong id)
    insurance_number: str | None = None
    local_ids: tuple[tuple[str, str], ...] = ()  # (system, value): facility numbers etc.
    phones: tuple[str, ...] = ()
    district: str | None = None  # GB/T 2260 code when known, else the normalised name
    township: str | None = None
    village: str | None = None
    line: str | None = None
    postal_code: str | None = None
    flags: tuple[str, ...] = ()

    @property
    def name(self) -> NameKeys:
        return _keys(self.full_name, self.family, self.given)  # cached per distinct name

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "f": self.family, "g": self.given, "n": self.full_name,
            "b": self.birth_date.isoformat() if self.birth_date else None, "s": self.sex,
            "id": self.resident_id, "idr": self.resident_id_raw, "ins": self.insurance_number,
            "lid": [list(x) for x in self.local_ids], "ph": list(self.phones),
            "d": self.district, "t": self.township, "v": self.village, "l": self.line,
            "pc": self.postal_code, "fl": list(self.flags),
        }  # fmt: skip

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> MatchFeatures:
        birth = data.get("b")
        return cls(
            family=data.get("f") or "", given=data.get("g") or "", full_name=data.get("n") or "",
            birth_date=date.fromisoformat(birth) if birth else None, sex=data.get("s"),
            resident_id=data.get("id"), resident_id_raw=data.get("idr"),
            insurance_number=data.get("ins"),
            local_ids=tuple((s, v) for s, v in data.get("lid") or ()),
            phones=tuple(data.get("ph") or ()), district=data.get("d"), township=data.get("t"),
            village=data.get("v"), line=data.get("l"), postal_code=data.get("pc"),
            flags=tuple(data.get("fl") or ()),
        )  # fmt: skip


@lru_cache(maxsize=65536)
def _keys(full: str, family: str, given: str) -> NameKeys:
    if family or given:
        return name_keys(family=family or None, given=given or None)
    return name_keys(full or "")


def parse_birth_date(text: str | None) -> date | None:
    """YYYY-MM-DD or YYYYMMDD; None for empty; ValueError for anything else."""
    if not text or not text.strip():
        return None
    match = _DATE_DASHED.match(text) or _DATE_COMPACT.match(text)
    if not match:
        raise ValueError("birth date is not YYYY-MM-DD or YYYYMMDD")
    return date(int(match[1]), int(match[2]), int(match[3]))


def normalise_sex(text: str | None) -> str | None:
    if not text:
        return None
    return SEX_WORDS.get(text.strip().lower())


def normalise_phone(text: str) -> str | None:
    """Digits of a phone number (Chinese country code dropped); None if it is not a phone."""
    if not _PHONE_OK.match(text.strip()):
        return None
    digits = re.sub(r"\D", "", text)
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) >= 10:
            digits = digits[len(prefix) :]
    return digits if len(digits) >= 5 else None


def _address_parts(text: str, district: str | None) -> tuple[str | None, str | None, str | None]:
    code = _DISTRICT_BY_NAME.get(district or "") or (district if district in DISTRICTS else None)
    found = next(((c, n) for n, c in _DISTRICT_BY_NAME.items() if n in text), None)
    if code is None and found:
        code = found[0]
    # Read the township after the province/city/district part: "湖北省宜昌市夷陵区鸦鹊岭镇..."
    rest = text.split(found[1], 1)[1] if found else _ADMIN_PREFIX.sub("", text)
    township = _TOWNSHIP.match(rest)
    village = _VILLAGE.search(rest[township.end() :] if township else rest)
    normalised_district = code or (district.strip().casefold() if district else None)
    town = township[1] if township else None
    if town:  # "长阳县龙舟坪镇" when the county was not recognised: keep the township only
        stripped = _ADMIN_UNIT.sub("", town)
        town = stripped if _TOWNSHIP.fullmatch(stripped) else town
    return (normalised_district, town, village[1] if village else None)


@dataclass
class _Builder:
    flags: list[str] = field(default_factory=list)
    resident_id: str | None = None
    resident_id_raw: str | None = None
    insurance: str | None = None
    local_ids: list[tuple[str, str]] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)

    def identifier(self, system: str | None, value: str | None) -> None:
        if not value or not value.strip():
            return
        value = value.strip()
        if system == RESIDENT_ID_SYSTEM or (system is None and _looks_like_resident_id(value)):
            try:
                self.resident_id = parse_id(value).normalized
            except InvalidIdError:
                self.resident_id_raw = value
                self.flags.append("resident_id_invalid")
        elif system == INSURANCE_PERSON_SYSTEM:
            self.insurance = value
        elif system:
            self.local_ids.append((system, value))

    def phone(self, value: str | None) -> None:
        if not value or not value.strip():
            return
        digits = normalise_phone(value)
        if digits is None:
            self.flags.append("phone_invalid")
        elif digits not in self.phones:
            self.phones.append(digits)


def _looks_like_resident_id(value: str) -> bool:
    return len(value) in (15, 18) and value[:17].isdigit()


def _birth(text: str | None, flags: list[str]) -> date | None:
    try:
        return parse_birth_date(text)
    except ValueError:
        flags.append("birth_date_unparsed")
        return None


def _finish(b: _Builder, **fields: Any) -> MatchFeatures:
    features = MatchFeatures(
        resident_id=b.resident_id, resident_id_raw=b.resident_id_raw,
        insurance_number=b.insurance, local_ids=tuple(b.local_ids), phones=tuple(b.phones),
        flags=tuple(dict.fromkeys(b.flags)), **fields,
    )  # fmt: skip
    has_name = bool(features.name.full_pinyin or features.family or features.given)
    if not (has_name or features.birth_date or features.resident_id or features.phones
            or features.insurance_number or features.local_ids):  # fmt: skip
        raise EmptyRecordError(
            "record has no usable name, birth_date, identifier or phone to match on"
        )
    return features


# R4 core extension on a primitive element: the text as typed when it could not be coded (the
# bulk loader keeps an impossible birth date or an unknown gender word this way: _birthDate).
ORIGINAL_TEXT_EXTENSION = "http://hl7.org/fhir/StructureDefinition/originalText"


def _original_text(element: Any) -> str | None:
    extensions = element.get("extension") if isinstance(element, dict) else None
    for ext in extensions or []:
        text = ext.get("valueString") if isinstance(ext, dict) else None
        if isinstance(text, str) and ext.get("url") == ORIGINAL_TEXT_EXTENSION:
            return text
    return None


def features_from_patient(patient: Mapping[str, Any]) -> MatchFeatures:
    b = _Builder()
    names = patient.get("name") or []
    name = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    given = " ".join(name.get("given") or [])
    for ident in patient.get("identifier") or []:
        b.identifier(ident.get("system"), ident.get("value"))
    for telecom in patient.get("telecom") or []:
        if telecom.get("system") in ("phone", "sms", None):
            b.phone(telecom.get("value"))
    addresses = patient.get("address") or []
    address = next(
        (a for a in addresses if a.get("use") == "home"), addresses[0] if addresses else {}
    )
    lines = address.get("line") or []
    text = address.get("text") or "".join(lines)
    district, township, village = _address_parts(text, address.get("district"))
    sex_text = patient.get("gender") or _original_text(patient.get("_gender"))
    sex = normalise_sex(sex_text)
    if sex_text and sex is None and not patient.get("gender"):
        b.flags.append("gender_unknown")
    birth = _birth(patient.get("birthDate") or _original_text(patient.get("_birthDate")), b.flags)
    return _finish(
        b, family=name.get("family") or "", given=given, full_name=name.get("text") or "",
        birth_date=birth, sex=sex, district=district,
        township=township, village=village, line=_address_line(address, text),
        postal_code=address.get("postalCode"),
    )  # fmt: skip


def _address_line(address: Mapping[str, Any], text: str) -> str | None:
    """The line the comparisons read: a Chinese address's last line (the house within the
    village); a Latin-script address whole, lines then city and state, comma-separated, for
    hub.mpi.matching.addresses to cut into house number, street and locality."""
    lines = [str(line) for line in address.get("line") or [] if line]
    if is_chinese_address(text) or is_chinese_address(address.get("city")):
        return lines[-1] if lines else None
    if address.get("text"):
        return str(address["text"])
    parts = [*lines, *(str(address[k]) for k in ("city", "state") if address.get(k))]
    return ", ".join(parts) or None


def features_from_row(
    row: Mapping[str, str | None], *, local_system: str | None = None
) -> MatchFeatures:
    """A bulk-load CSV row (see README: source_id, name, family_name, given_name, gender, ...)."""
    b = _Builder()
    b.identifier(row.get("id_system") or None, row.get("id_number"))
    if local_system and row.get("source_id"):
        b.local_ids.append((local_system, str(row["source_id"]).strip()))
    b.phone(row.get("phone"))
    sex_text = row.get("gender")
    sex = normalise_sex(sex_text)
    if sex_text and sex is None:
        b.flags.append("gender_unknown")
    address = (row.get("address") or "").strip()
    district, township, village = _address_parts(address, None)
    text = {k: (row.get(k) or "").strip() for k in ("family_name", "given_name", "name")}
    # A name alone is read in the parts the bulk loader stores (hub.mpi.loading.csv_patient), as the
    # index reads the loaded Patient.
    written = None if text["family_name"] or text["given_name"] else text["name"]
    if written and (parts := split_written_name(written)) is not None:
        text["family_name"], text["given_name"] = parts.family, " ".join(parts.given)
    return _finish(
        b, family=text["family_name"], given=text["given_name"], full_name=text["name"],
        birth_date=_birth(row.get("birth_date"), b.flags), sex=sex, district=district,
        township=township, village=village, line=address or None,
        postal_code=(row.get("postal_code") or "").strip() or None,
    )  # fmt: skip
