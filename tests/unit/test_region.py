"""The Yichang facility registry: packaged data, loader validation and FHIR rendering."""

from __future__ import annotations

import csv
import io
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest
from fhir.resources.R4B import get_fhir_model_class

from hub.demo.generate_facilities import render_csv
from hub.fhir.systems import (
    FACILITY_CODE_SYSTEM,
    HL7V2_SENDING_FACILITY_SYSTEM,
    HOSPITAL_LEVEL_SYSTEM,
    facility_patient_system,
)
from hub.region.facilities import (
    CSV_COLUMNS,
    DISTRICTS,
    TABLE_COLUMNS,
    Facility,
    FacilityKind,
    RegistryError,
    facilities_table_rows,
    find_by_hl7_name,
    index_by_code,
    load_facilities,
)
from hub.region.facility_fhir import facility_to_location, facility_to_organization

EXPECTED_DISTRICTS = {
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


@pytest.fixture(scope="module")
def facilities() -> list[Facility]:
    return load_facilities()


def _packaged_text() -> str:
    data = resources.files("hub.region") / "data" / "yichang_facilities.csv"
    return data.read_text(encoding="utf-8")


# -- the data ------------------------------------------------------------------------------------


def test_exactly_127_hospitals(facilities: list[Facility]) -> None:
    hospitals = [f for f in facilities if f.kind is FacilityKind.HOSPITAL]
    assert len(hospitals) == 127
    assert all(f.level_label for f in hospitals)
    levels = Counter(f.level for f in hospitals)
    assert set(levels) == {"三级", "二级", "一级"}
    assert levels["一级"] > levels["二级"] > levels["三级"]
    top = [f for f in hospitals if f.level_label == "三级甲等"]
    assert 3 <= len(top) <= 10
    assert {f.district_code for f in top} <= {"420502", "420503", "420504", "420505"}


def test_total_size_is_plausible(facilities: list[Facility]) -> None:
    assert 600 <= len(facilities) <= 900


def test_districts_are_the_13_of_yichang(facilities: list[Facility]) -> None:
    assert DISTRICTS == EXPECTED_DISTRICTS
    assert {f.district_code for f in facilities} == set(EXPECTED_DISTRICTS)
    assert all(f.district == DISTRICTS[f.district_code] for f in facilities)


def test_every_kind_present(facilities: list[Facility]) -> None:
    assert {f.kind for f in facilities} == set(FacilityKind)
    assert all(kind.label for kind in FacilityKind)


def test_codes_and_hl7_names_unique(facilities: list[Facility]) -> None:
    codes = [f.code for f in facilities]
    hl7_names = [f.hl7_sending_facility for f in facilities]
    assert len(set(codes)) == len(codes)
    assert len(set(hl7_names)) == len(hl7_names)
    assert all(len(name) <= 20 and name.isascii() and name.isupper() for name in hl7_names)


def test_only_hospitals_have_levels(facilities: list[Facility]) -> None:
    for f in facilities:
        if f.kind is not FacilityKind.HOSPITAL:
            assert f.level is None and f.grade is None and f.level_label == ""


def test_parents_exist_and_make_sense(facilities: list[Facility]) -> None:
    by_code = index_by_code(facilities)
    expected = {
        FacilityKind.COMMUNITY_STATION: FacilityKind.COMMUNITY_CENTER,
        FacilityKind.VILLAGE_CLINIC: FacilityKind.TOWNSHIP_CENTER,
    }
    for f in facilities:
        if f.kind in expected:
            assert f.parent_code is not None
            parent = by_code[f.parent_code]
            assert parent.kind is expected[f.kind]
            assert parent.district_code == f.district_code
        else:
            assert f.parent_code is None or f.parent_code in by_code


def test_phones_are_yichang_landlines(facilities: list[Facility]) -> None:
    assert all(f.phone.startswith("0717-") and len(f.phone) == 12 for f in facilities)


def test_packaged_csv_matches_the_generator() -> None:
    assert render_csv() == _packaged_text()


# -- derived properties and lookups --------------------------------------------------------------


def test_facility_properties(facilities: list[Facility]) -> None:
    f = index_by_code(facilities)["H001"]
    assert f.organization_id == "H001"
    assert f.location_id == "H001-loc"
    assert f.patient_identifier_system == facility_patient_system("H001")
    assert f.level_label == "三级甲等"
    assert f.level_code == "3A"


def test_find_by_hl7_name(facilities: list[Facility]) -> None:
    f = facilities[5]
    assert find_by_hl7_name(facilities, f.hl7_sending_facility) == f
    assert find_by_hl7_name(facilities, f" {f.hl7_sending_facility.lower()}^x^y ") == f
    assert find_by_hl7_name(facilities, "NO_SUCH_FACILITY") is None


def test_table_rows_have_exactly_the_header_keys(facilities: list[Facility]) -> None:
    rows = facilities_table_rows(facilities)
    assert len(rows) == len(facilities)
    assert all(tuple(row) == TABLE_COLUMNS for row in rows)
    assert TABLE_COLUMNS == ("code", "name", "kind", "level", "district", "hl7_sending_facility")
    first = rows[0]
    assert first["level"] == "三级甲等" and first["district"] == "西陵区"


# -- FHIR ----------------------------------------------------------------------------------------


def test_every_organization_validates(facilities: list[Facility]) -> None:
    model = get_fhir_model_class("Organization")
    for f in facilities:
        resource = facility_to_organization(f)
        parsed = model.model_validate(resource)
        assert parsed.model_dump()["id"] == f.code
    by_code = index_by_code(facilities)
    hospital = facility_to_organization(by_code["H001"])
    systems = {i["system"]: i["value"] for i in hospital["identifier"]}
    assert systems == {FACILITY_CODE_SYSTEM: "H001", HL7V2_SENDING_FACILITY_SYSTEM: "YC_H001"}
    levels = [
        c for t in hospital["type"] for c in t["coding"] if c["system"] == HOSPITAL_LEVEL_SYSTEM
    ]
    assert levels == [{"system": HOSPITAL_LEVEL_SYSTEM, "code": "3A", "display": "三级甲等"}]
    assert hospital["address"][0]["city"] == "宜昌市"
    child = next(f for f in facilities if f.parent_code)
    assert facility_to_organization(child)["partOf"] == {
        "reference": f"Organization/{child.parent_code}"
    }


def test_every_location_validates(facilities: list[Facility]) -> None:
    model = get_fhir_model_class("Location")
    for f in facilities:
        resource = facility_to_location(f)
        parsed = model.model_validate(resource)
        assert parsed.model_dump()["id"] == f.location_id
        assert resource["managingOrganization"]["reference"] == f"Organization/{f.code}"


# -- loader validation ---------------------------------------------------------------------------


def _rows() -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(_packaged_text())))


def _write(tmp_path: Path, rows: list[dict[str, str]]) -> Path:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / "facilities.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def test_loader_reads_an_explicit_path(tmp_path: Path) -> None:
    assert len(load_facilities(_write(tmp_path, _rows()[:10]))) == 10


def test_loader_rejects_unknown_district(tmp_path: Path) -> None:
    rows = _rows()[:10]
    rows[3]["district_code"] = "420599"
    with pytest.raises(RegistryError, match=r"row 5: unknown district code"):
        load_facilities(_write(tmp_path, rows))


def test_loader_rejects_duplicate_code(tmp_path: Path) -> None:
    rows = _rows()[:10]
    rows.append({**rows[2], "hl7_sending_facility": "YC_OTHER"})
    with pytest.raises(RegistryError, match=r"row 12: duplicate code 'H003'"):
        load_facilities(_write(tmp_path, rows))


def test_loader_rejects_duplicate_hl7_name(tmp_path: Path) -> None:
    rows = _rows()[:10]
    rows[4]["hl7_sending_facility"] = rows[1]["hl7_sending_facility"]
    with pytest.raises(RegistryError, match=r"row 6: duplicate hl7_sending_facility"):
        load_facilities(_write(tmp_path, rows))


def test_loader_rejects_bad_kind(tmp_path: Path) -> None:
    rows = _rows()[:10]
    rows[0]["kind"] = "clinic"
    with pytest.raises(RegistryError, match=r"row 2: unknown kind"):
        load_facilities(_write(tmp_path, rows))


def test_loader_rejects_missing_parent(tmp_path: Path) -> None:
    station = next(r for r in _rows() if r["kind"] == "community_station")
    with pytest.raises(RegistryError, match=r"row 2: parent .* not found"):
        load_facilities(_write(tmp_path, [station]))


def test_loader_rejects_parent_of_wrong_kind(tmp_path: Path) -> None:
    rows = _rows()
    village = next(r for r in rows if r["kind"] == "village_clinic")
    village["parent_code"] = "H001"
    with pytest.raises(RegistryError, match=r"parent of a village_clinic must be"):
        load_facilities(_write(tmp_path, rows))


def test_loader_rejects_bad_header(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("code,name\nH001,x\n", encoding="utf-8")
    with pytest.raises(RegistryError, match=r"row 1: header"):
        load_facilities(path)


def test_registry_error_is_a_value_error() -> None:
    assert issubclass(RegistryError, ValueError)
