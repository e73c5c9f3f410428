"""The Yichang facility registry: the packaged CSV, loaded, validated and looked up.

``data/yichang_facilities.csv`` is the source of truth (made by ``generate_facilities``). This
module is pure: it reads the file and checks every row; :mod:`hub.region.facility_fhir` renders a
:class:`Facility` as FHIR. Errors are raised as :class:`RegistryError`, whose message names the
offending row (the header is row 1).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

from hub.fhir.systems import (
    facility_patient_system,
)

DATA_FILE = "yichang_facilities.csv"
CSV_COLUMNS = (
    "code", "name", "kind", "level", "grade", "district_code", "district", "parent_code",
    "hl7_sending_facility", "address", "phone",
)  # fmt: skip
TABLE_COLUMNS = ("code", "name", "kind", "level", "district", "hl7_sending_facility")

CITY = "宜昌市"
PROVINCE = "湖北省"
COUNTRY = "CN"

# GB/T 2260 county-level divisions of 宜昌市.
DISTRICTS: dict[str, str] = {
    "420502": "西陵区",
    "420503": "伍家岗区",
    "420504": "点军区",
    "420505": "猇亭区",
    "420506": "夷陵区",
    "420525": "远安县",
    "420526": "兴山县",
    "420527": "秭归县",
    "420528": "长阳土家族自治县",
    "420529": "五峰土家族自治县",
    "420581": "宜都市",
    "420582": "当阳市",
    "420583": "枝江市",
}

# Hospital level (一级/二级/三级) and grade (甲/乙/丙) -> the digit and letter of the level code.
LEVELS: dict[str, str] = {"一级": "1", "二级": "2", "三级": "3"}
GRADES: dict[str, str] = {"甲": "A", "乙": "B", "丙": "C"}

_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_HL7_NAME = re.compile(r"[A-Z0-9_]{1,20}")


class RegistryError(ValueError):
    """The facility file is malformed; the message names the row (header = row 1)."""


class FacilityKind(StrEnum):
    HOSPITAL = "hospital"
    COMMUNITY_CENTER = "community_center"
    COMMUNITY_STATION = "community_station"
    TOWNSHIP_CENTER = "township_center"
    VILLAGE_CLINIC = "village_clinic"
    PHARMACY = "pharmacy"

    @property
    def label(self) -> str:
        """The Chinese name of the kind, e.g. 社区卫生服务中心."""
        return _KIND_LABELS[self]

    @property
    def is_provider(self) -> bool:
        """True for care providers; a designated pharmacy is not one."""
        return self is not FacilityKind.PHARMACY


_KIND_LABELS: dict[FacilityKind, str] = {
    FacilityKind.HOSPITAL: "医院",
    FacilityKind.COMMUNITY_CENTER: "社区卫生服务中心",
    FacilityKind.COMMUNITY_STATION: "社区卫生服务站",
    FacilityKind.TOWNSHIP_CENTER: "乡镇卫生院",
    FacilityKind.VILLAGE_CLINIC: "村卫生室",
    FacilityKind.PHARMACY: "定点零售药店",
}

# Kinds that must hang under a parent of a given kind (in the same district).
_REQUIRED_PARENT_KIND: dict[FacilityKind, FacilityKind] = {
    FacilityKind.COMMUNITY_STATION: FacilityKind.COMMUNITY_CENTER,
    FacilityKind.VILLAGE_CLINIC: FacilityKind.TOWNSHIP_CENTER,
}


@dataclass(frozen=True)
class Facility:
    code: str
    name: str
    kind: FacilityKind
    level: str | None
    grade: str | None
    district_code: str
    district: str
    parent_code: str | None
    hl7_sending_facility: str
    address: str
    phone: str

    @property
    def patient_identifier_system(self) -> str:
        return facility_patient_system(self.code)

    @property
    def organization_id(self) -> str:
        return self.code

    @property
    def location_id(self) -> str:
        return f"{self.code}-loc"

    @property
    def level_label(self) -> str:
        """E.g. 三级甲等; empty when the facility has no hospital level."""
        if self.level is None or self.grade is None:
            return ""
        return f"{self.level}{self.grade}等"

    @property
    def level_code(self) -> str:
        """E.g. ``3A`` for 三级甲等; empty when the facility has no hospital level."""
        if self.level is None or self.grade is None:
            return ""
        return LEVELS[self.level] + GRADES[self.grade]


# -- loading -------------------------------------------------------------------------------------


def load_facilities(path: Path | None = None) -> list[Facility]:
    """Read and validate the facility file (the packaged CSV unless ``path`` is given)."""
    if path is None:
        text = (resources.files("hub.region") / "data" / DATA_FILE).read_text(encoding="utf-8-sig")
    else:
        text = path.read_text(encoding="utf-8-sig")
    return parse_facilities(text)


def parse_facilities(text: str) -> list[Facility]:
    """Parse and validate CSV text in the registry's format."""
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != CSV_COLUMNS:
        raise RegistryError(f"row 1: header must be {','.join(CSV_COLUMNS)}")
    facilities: list[Facility] = []
    rows: dict[str, int] = {}
    hl7_rows: dict[str, int] = {}
    for row_no, row in enumerate(reader, start=2):
        facility = _parse_row(row, row_no)
        if facility.code in rows:
            first = rows[facility.code]
            raise RegistryError(
                f"row {row_no}: duplicate code {facility.code!r} (first on row {first})"
            )
        hl7 = facility.hl7_sending_facility
        if hl7 in hl7_rows:
            first = hl7_rows[hl7]
            raise RegistryError(
                f"row {row_no}: duplicate hl7_sending_facility {hl7!r} (first on row {first})"
            )
        rows[facility.code] = row_no
        hl7_rows[hl7] = row_no
        facilities.append(facility)
    _check_parents(facilities, rows)
    return facilities


def _parse_row(row: dict[str | Any, Any], row_no: int) -> Facility:
    if None in row or any(row.get(column) is None for column in CSV_COLUMNS):
        raise RegistryError(f"row {row_no}: expected {len(CSV_COLUMNS)} fields")
    values: dict[str, str] = {column: str(row[column]).strip() for column in CSV_COLUMNS}

    def fail(problem: str) -> RegistryError:
        return RegistryError(f"row {row_no}: {problem}")

    code = values["code"]
    if not _FHIR_ID.fullmatch(code):
        raise fail(f"code {code!r} is not a valid FHIR id")
    try:
        kind = FacilityKind(values["kind"])
    except ValueError:
        raise fail(f"unknown kind {values['kind']!r}") from None
    district_code = values["district_code"]
    if district_code not in DISTRICTS:
        raise fail(f"unknown district code {district_code!r}")
    if values["district"] != DISTRICTS[district_code]:
        raise fail(f"district {values['district']!r} does not match code {district_code}")
    if not values["name"]:
        raise fail("name is empty")
    hl7 = values["hl7_sending_facility"]
    if not _HL7_NAME.fullmatch(hl7):
        raise fail(f"hl7_sending_facility {hl7!r} must be 1-20 of A-Z, 0-9, _")
    level, grade = values["level"] or None, values["grade"] or None
    if kind is FacilityKind.HOSPITAL:
        if level not in LEVELS or grade not in GRADES:
            raise fail(f"a hospital needs a level in {list(LEVELS)} and a grade in {list(GRADES)}")
    elif level is not None or grade is not None:
        raise fail(f"a {kind} has no hospital level or grade")
    return Facility(
        code=code,
        name=values["name"],
        kind=kind,
        level=level,
        grade=grade,
        district_code=district_code,
        district=values["district"],
        parent_code=values["parent_code"] or None,
        hl7_sending_facility=hl7,
        address=values["address"],
        phone=values["phone"],
    )


def _check_parents(facilities: list[Facility], rows: dict[str, int]) -> None:
    by_code = index_by_code(facilities)
    for facility in facilities:
        row_no = rows[facility.code]
        required = _REQUIRED_PARENT_KIND.get(facility.kind)
        if facility.parent_code is None:
            if required is not None:
                raise RegistryError(f"row {row_no}: a {facility.kind} needs a parent {required}")
            continue
        parent = by_code.get(facility.parent_code)
        if parent is None:
            raise RegistryError(f"row {row_no}: parent {facility.parent_code!r} not found")
        if required is not None and parent.kind is not required:
            raise RegistryError(f"row {row_no}: parent of a {facility.kind} must be a {required}")
        if required is not None and parent.district_code != facility.district_code:
            raise RegistryError(f"row {row_no}: parent {parent.code!r} is in another district")
        seen = {facility.code}
        ancestor: Facility | None = parent
        while ancestor is not None:
            if ancestor.code in seen:
                raise RegistryError(f"row {row_no}: parent chain of {facility.code!r} has a cycle")
            seen.add(ancestor.code)
            ancestor = by_code.get(ancestor.parent_code) if ancestor.parent_code else None


# -- lookups -------------------------------------------------------------------------------------


def index_by_code(facilities: Iterable[Facility]) -> dict[str, Facility]:
    return {facility.code: facility for facility in facilities}


def index_by_hl7_name(facilities: Iterable[Facility]) -> dict[str, Facility]:
    return {facility.hl7_sending_facility: facility for facility in facilities}


def find_by_hl7_name(facilities: Iterable[Facility], hl7_name: str) -> Facility | None:
    """The facility whose HL7 v2 sending-facility name is ``hl7_name``.

    Accepts a whole MSH-4 value (``YC_H001^...^...``): only the namespace id is compared, and
    case and surrounding blanks are ignored.
    """
    wanted = hl7_name.split("^", 1)[0].strip().upper()
    for facility in facilities:
        if facility.hl7_sending_facility == wanted:
            return facility
    return None


def facilities_table_rows(facilities: Iterable[Facility]) -> list[dict[str, str]]:
    """One flat row per facility with exactly the keys of ``TABLE_COLUMNS``."""
    return [
        {
            "code": facility.code,
            "name": facility.name,
            "kind": facility.kind.value,
            "level": facility.level_label,
            "district": facility.district,
            "hl7_sending_facility": facility.hl7_sending_facility,
        }
        for facility in facilities
    ]
