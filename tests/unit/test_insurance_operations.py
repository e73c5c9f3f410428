"""The catalogue as rows and as ChargeItemDefinition, the bulk Coverage file's row checks, and
a region's policy file refused with the field it gets wrong. Pure code: no database."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from hub.settings import Settings
from insurance.catalogue import CATALOGUE_COLUMNS, catalogue_bundle, catalogue_rows
from insurance.coverage_csv import CoverageRow, RefusedRow, parse_coverage_csv
from insurance.policy import load_policy
from insurance.policy_source import PolicyFileError, read_policy_file
from insurance.resources import coverage_terms

SAMPLE = Path(__file__).parents[2] / "insurance" / "data" / "sample_policy.json"
VERSION = load_policy().on(date(2026, 3, 1))


def test_catalogue_rows_use_the_header_classes_and_yuan() -> None:
    rows = catalogue_rows(VERSION)
    assert CATALOGUE_COLUMNS == ("system", "code", "name", "class", "unit_price", "price_ceiling")
    assert len(rows) == len(VERSION.catalogue)
    by_code = {r["code"]: r for r in rows}
    rituximab = by_code["XL01XCR096B002010100004"]
    assert (rituximab["class"], rituximab["unit_price"], rituximab["price_ceiling"]) == (
        "B",
        "1480.00",
        "1500.00",
    )
    no_ceiling = by_code["003101000000300"]
    assert (no_ceiling["class"], no_ceiling["price_ceiling"]) == ("C", "")
    assert {r["class"] for r in rows} == {"A", "B", "C"}


def test_catalogue_bundle_is_charge_item_definitions_with_price_and_class() -> None:
    bundle = catalogue_bundle(VERSION, "http://hub/fhir")
    assert bundle["total"] == len(VERSION.catalogue) == len(bundle["entry"])
    item = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["code"]["coding"][0]["code"]
        == "001102000000100"
    )  # fmt: skip
    assert item["resourceType"] == "ChargeItemDefinition" and item["version"] == "SAMPLE-2026"
    prices = item["propertyGroup"][0]["priceComponent"]
    assert [(p["code"]["text"], p["amount"]["value"]) for p in prices] == [
        ("reference-price", 10.0),
        ("price-ceiling", 10.0),
    ]
    assert item["useContext"][0]["valueCodeableConcept"]["coding"][0]["code"] == "A"
    assert bundle["entry"][0]["fullUrl"].startswith("http://hub/fhir/ChargeItemDefinition/")


def test_coverage_file_rows_are_parsed_or_refused_with_their_row_number() -> None:
    text = (
        "patient_id,insured_id,scheme,region,status,account_balance\n"
        "p1,INS1,UEBMI,420502,,12.34\n"  # row 2: fine, status defaults to active
        "p2,INS2,390,420502,cancelled,0\n"  # row 3: insutype code, cancelled
        "p3,INS3,XYZ,420502,,0\n"  # row 4: unknown scheme
        "p4,INS4,UEBMI,4205,,0\n"  # row 5: region
        "p5,INS5,UEBMI,420502,,1.234\n"  # row 6: three decimals
        "p6,INS1,UEBMI,420502,,1\n"  # row 7: insured_id twice
        "p7,INS7,UEBMI\n"  # row 8: short
    ).splitlines(keepends=True)
    parsed = list(parse_coverage_csv(text))
    loaded = [r for r in parsed if isinstance(r, CoverageRow)]
    refused = {r.row: r.reason for r in parsed if isinstance(r, RefusedRow)}
    assert [r.row for r in loaded] == [2, 3]
    terms = coverage_terms(loaded[0].coverage)
    assert (terms.beneficiary, terms.account_balance, terms.active) == ("Patient/p1", 1234, True)
    assert loaded[0].coverage["id"] == "cov-INS1"
    assert coverage_terms(loaded[1].coverage).active is False
    assert sorted(refused) == [4, 5, 6, 7, 8]
    assert "scheme" in refused[4] and "region" in refused[5] and "account_balance" in refused[6]
    assert "twice" in refused[7] and "columns" in refused[8]


def test_coverage_file_without_the_header_refuses_row_one() -> None:
    parsed = list(parse_coverage_csv(["patient,scheme\n", "p1,UEBMI\n"]))
    assert parsed == [RefusedRow(1, "the header lacks patient_id, insured_id, region, status, "
                                    "account_balance")]  # fmt: skip


def test_a_region_policy_file_is_read_and_a_bad_field_is_named(tmp_path: Path) -> None:
    data = json.loads(SAMPLE.read_text("utf-8"))
    data["sample"], data["region"] = False, "429999"
    good = tmp_path / "region.json"
    good.write_text(json.dumps(data), "utf-8")
    assert read_policy_file(good).region == "429999"

    data["versions"][1]["benefits"][2]["ratio_bp"] = 12_000
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data), "utf-8")
    with pytest.raises(PolicyFileError, match=r"versions\[1\]\.benefits\[2\]\.ratio_bp"):
        read_policy_file(bad)
    with pytest.raises(PolicyFileError, match="cannot read"):
        read_policy_file(tmp_path / "missing.json")


def test_the_policy_file_setting_is_relative_to_the_home(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, insurance_policy_file=Path("region.json"))
    assert settings.insurance_policy_file == tmp_path / "region.json"
    assert Settings(home=tmp_path).insurance_policy_file is None
