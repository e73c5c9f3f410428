"""The synthetic Yichang population: deterministic, valid IDs, realistic shape, valid FHIR."""

from __future__ import annotations

import random
import re
from collections import Counter
from itertools import islice

import pytest
from fhir.resources.R4B import get_fhir_model_class

from hub.demo.population import (
    DISTRICTS,
    LAST_BIRTH_DATE,
    Resident,
    generate_residents,
    resident_to_patient,
)
from hub.fhir.systems import INSURANCE_PERSON_SYSTEM, RESIDENT_ID_SYSTEM
from hub.mpi.matching.identifiers import IdKind, parse_id

N = 10_000


@pytest.fixture(scope="module")
def residents() -> list[Resident]:
    return list(generate_residents(N, seed=7))


def test_deterministic_for_a_seed() -> None:
    assert list(generate_residents(300, seed=42)) == list(generate_residents(300, seed=42))
    assert list(generate_residents(300, seed=42)) != list(generate_residents(300, seed=43))
    # a shorter run is a prefix of a longer one
    assert list(generate_residents(50, seed=42)) == list(islice(generate_residents(300, 42), 50))


def test_every_id_valid_and_agrees_with_birth_and_sex(residents: list[Resident]) -> None:
    for r in residents:
        parsed = parse_id(r.resident_id)
        assert parsed.kind is IdKind.RESIDENT
        assert parsed.normalized == r.resident_id
        assert parsed.birth_date == r.birth_date
        assert parsed.sex == r.sex
        assert parsed.region_code is not None and parsed.region_code.startswith("42")


def test_ids_unique(residents: list[Resident]) -> None:
    assert len({r.resident_id for r in residents}) == N
    numbers = [r.insurance_number for r in residents if r.insurance_number is not None]
    assert len(set(numbers)) == len(numbers)
    assert 0.85 < len(numbers) / N < 1.0


def test_id_regions_mostly_own_district_some_elsewhere(residents: list[Resident]) -> None:
    own = sum(r.resident_id[:6] == r.district_code for r in residents)
    other_yichang = sum(
        r.resident_id[:4] == "4205" and r.resident_id[:6] != r.district_code for r in residents
    )
    outside = sum(r.resident_id[:4] != "4205" for r in residents)
    assert own / N > 0.8
    assert other_yichang > 0 and outside > 0


def test_surname_shares(residents: list[Resident]) -> None:
    counts = Counter(r.family_name for r in residents)
    assert counts.most_common(1)[0][0] == "李"
    assert 0.15 <= (counts["王"] + counts["李"] + counts["张"]) / N <= 0.28
    assert any(len(name) == 2 for name in counts)  # compound surnames occur
    assert counts["欧阳"] < counts["李"] / 50
    assert any(counts[s] for s in "单曾解仇区朴查覃")


def test_names_are_hanzi(residents: list[Resident]) -> None:
    hanzi = re.compile(r"[\u4e00-\u9fff]+")
    for r in residents:
        assert hanzi.fullmatch(r.family_name) and 1 <= len(r.family_name) <= 2
        assert hanzi.fullmatch(r.given_name) and 1 <= len(r.given_name) <= 2


def test_every_district_appears(residents: list[Resident]) -> None:
    assert {r.district_code for r in residents} == {d.code for d in DISTRICTS}
    names = {d.code: d.name for d in DISTRICTS}
    towns = {d.code: set(d.townships) for d in DISTRICTS}
    for r in residents:
        assert r.district_name == names[r.district_code]
        assert r.township in towns[r.district_code]
        assert r.village_or_community.endswith(("村", "社区"))


def test_plausible_attributes(residents: list[Resident]) -> None:
    years = [r.birth_date.year for r in residents]
    assert min(years) >= 1930 and max(r.birth_date for r in residents) <= LAST_BIRTH_DATE
    assert sum(y < 1950 for y in years) < sum(1960 <= y < 1980 for y in years)
    assert 0.45 < sum(r.sex == "male" for r in residents) / N < 0.55
    for r in residents:
        assert re.fullmatch(r"1(3\d|5\d|7\d|8\d|9\d)\d{8}", r.phone)
        assert re.fullmatch(r"44[34]\d{3}", r.postal_code)
        assert r.insurance_number is None or re.fullmatch(r"\d{20}", r.insurance_number)
    ethnic = Counter(r.ethnicity for r in residents)
    assert ethnic.most_common(1)[0][0] == "汉族"
    tujia_share = {
        code: sum(r.ethnicity == "土家族" for r in residents if r.district_code == code)
        / sum(r.district_code == code for r in residents)
        for code in ("420502", "420528", "420529")
    }
    assert tujia_share["420528"] > 0.3 and tujia_share["420529"] > 0.5
    assert tujia_share["420502"] < 0.05


def test_patients_validate_with_fhir_resources(residents: list[Resident]) -> None:
    patient_model = get_fhir_model_class("Patient")
    for i, r in enumerate(random.Random(1).sample(residents, 200)):
        data = resident_to_patient(r, patient_id=f"p{i}")
        patient = patient_model.model_validate(data)
        # nothing dropped or coerced on the way in
        assert patient.model_dump(mode="json", exclude_none=True) == data


def test_patient_content() -> None:
    r = next(r for r in generate_residents(50, seed=3) if r.insurance_number is not None)
    data = resident_to_patient(r)
    assert "id" not in data
    first, second = data["identifier"]
    assert (first["system"], first["value"]) == (RESIDENT_ID_SYSTEM, r.resident_id)
    assert first["type"]["coding"][0]["code"] == "NI"
    assert (second["system"], second["value"]) == (INSURANCE_PERSON_SYSTEM, r.insurance_number)
    assert data["name"][0] == {
        "use": "official",
        "text": r.family_name + r.given_name,
        "family": r.family_name,
        "given": [r.given_name],
    }
    assert data["telecom"] == [{"system": "phone", "value": r.phone, "use": "mobile"}]
    address = data["address"][0]
    assert address["line"] == [r.township, r.village_or_community, r.address_line]
    assert (address["city"], address["state"], address["country"]) == ("宜昌市", "湖北省", "CN")
    assert address["district"] == r.district_name and address["postalCode"] == r.postal_code


def test_patient_without_insurance_has_one_identifier() -> None:
    r = next(r for r in generate_residents(2000, seed=5) if r.insurance_number is None)
    assert len(resident_to_patient(r)["identifier"]) == 1
