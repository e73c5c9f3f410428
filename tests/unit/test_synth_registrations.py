"""Synthetic facility registrations: desk errors at the configured rates, and a consistent truth."""

from __future__ import annotations

import csv
import math
import re
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from itertools import islice
from pathlib import Path

import pytest
from pypinyin import lazy_pinyin

from hub.demo.population import Resident
from hub.demo.population_export import (
    FACILITY_COLUMNS,
    PAIR_COLUMNS,
    TRUTH_COLUMNS,
    write_population,
)
from hub.demo.registration_desk import HOMOPHONES, foreign_facing, to_traditional
from hub.demo.registrations import generate_registrations
from hub.demo.source_records import DeskError, ErrorRates, HardNegative, SourceRecord
from hub.fhir.systems import RESIDENT_ID_SYSTEM
from hub.mpi.matching.identifiers import IdKind, id_distance_kind, is_valid, parse_id
from hub.region.facilities import FacilityKind, index_by_code, load_facilities

RATES = ErrorRates()
FACILITIES = index_by_code(load_facilities())
PRIMARY = {FacilityKind.VILLAGE_CLINIC, FacilityKind.PHARMACY}
ID_ERRORS = {DeskError.ID_MISSING, DeskError.ID_ONE_DIGIT, DeskError.ID_TRANSPOSED,
             DeskError.ID_LEGACY15}  # fmt: skip


@pytest.fixture(scope="module")
def records() -> list[SourceRecord]:
    return list(islice(generate_registrations(10_000, seed=11), 20_000))


@pytest.fixture(scope="module")
def people(records: list[SourceRecord]) -> dict[int, Resident]:
    return {r.person_key: r.person for r in records}


def _clean(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _id_missing_rate(record: SourceRecord) -> float:
    kind = FACILITIES[record.facility_code].kind
    return RATES.id_missing_primary if kind in PRIMARY else RATES.id_missing_other


def _check_rate(
    records: list[SourceRecord],
    error: str,
    probability: Callable[[SourceRecord], float],
) -> None:
    """The count of ``error`` is within 5 binomial standard deviations of its expectation."""
    observed = sum(error in r.errors for r in records)
    expected = sum(probability(r) for r in records)
    sd = math.sqrt(sum(p * (1 - p) for p in map(probability, records)))
    assert abs(observed - expected) <= 5 * sd + 2, (error, observed, expected)


def test_deterministic_for_a_seed() -> None:
    first = list(generate_registrations(300, seed=5))
    assert first == list(generate_registrations(300, seed=5))
    assert first != list(generate_registrations(300, seed=6))


def test_every_person_registered_and_many_more_than_once() -> None:
    visits = Counter(r.person_key for r in generate_registrations(2_000, seed=2))
    assert set(visits) == set(range(2_000))
    assert max(visits.values()) <= 6
    assert sum(n >= 2 for n in visits.values()) > 0.6 * len(visits)
    assert 2.2 < sum(visits.values()) / len(visits) < 2.8


def test_source_ids_unique_per_facility(records: list[SourceRecord]) -> None:
    keys = [(r.facility_code, r.source_id) for r in records]
    assert len(set(keys)) == len(keys)
    assert all(r.source_id.startswith(r.facility_code + "-") for r in records)
    # a person is registered once per facility
    assert len({(r.facility_code, r.person_key) for r in records}) == len(records)


def test_overall_error_share(records: list[SourceRecord]) -> None:
    share = sum(bool(r.errors) for r in records) / len(records)
    assert 0.30 <= share <= 0.40


def test_error_rates_within_configured_bands(records: list[SourceRecord]) -> None:
    def flat(rate: float) -> Callable[[SourceRecord], float]:
        return lambda _: rate

    for error, rate in [
        (DeskError.ID_ONE_DIGIT, RATES.id_one_digit),
        (DeskError.BIRTH_OFF_BY_ONE, RATES.birth_off_by_one),
        (DeskError.BIRTH_COMPACT, RATES.birth_compact),
        (DeskError.GENDER_WRONG, RATES.gender_wrong),
        (DeskError.PHONE_MISSING, RATES.phone_missing),
        (DeskError.PHONE_CHANGED, RATES.phone_changed),
        (DeskError.ADDRESS_TOWNSHIP_ONLY, RATES.address_township_only),
        (DeskError.ADDRESS_ABBREVIATED, RATES.address_abbreviated),
        (DeskError.ADDRESS_MOVED, RATES.address_moved),
        (DeskError.WHITESPACE, RATES.whitespace),
    ]:
        _check_rate(records, error, flat(rate))
    _check_rate(records, DeskError.ID_MISSING, _id_missing_rate)
    _check_rate(records, DeskError.ID_TRANSPOSED, flat(RATES.id_transposed))

    def legacy(r: SourceRecord) -> float:
        old = r.person.birth_date.year < 1960
        kept = 1 - _id_missing_rate(r) - RATES.id_one_digit - RATES.id_transposed
        return RATES.id_legacy15_old * kept if old else 0.0

    _check_rate(records, DeskError.ID_LEGACY15, legacy)

    def swappable(r: SourceRecord) -> float:
        born = r.person.birth_date
        return RATES.birth_day_month_swapped if born.day <= 12 and born.day != born.month else 0

    _check_rate(records, DeskError.BIRTH_DAY_MONTH_SWAPPED, swappable)

    def romanised(r: SourceRecord) -> float:
        foreign = foreign_facing(FACILITIES[r.facility_code])
        return RATES.romanised_foreign_desk if foreign else RATES.romanised_other

    _check_rate(records, DeskError.ROMANISED, romanised)


def test_homophone_and_traditional_rates(records: list[SourceRecord]) -> None:
    typed = [r for r in records if DeskError.ROMANISED not in r.errors]
    eligible = [
        r for r in typed
        if r.person.family_name in HOMOPHONES or any(c in HOMOPHONES for c in r.person.given_name)
    ]  # fmt: skip
    assert len(eligible) > 0.8 * len(typed)
    observed = sum(
        DeskError.HOMOPHONE_GIVEN in r.errors or DeskError.HOMOPHONE_FAMILY in r.errors
        for r in eligible
    )
    expected = RATES.homophone * len(eligible)
    assert abs(observed - expected) <= 5 * math.sqrt(expected)
    convertible = [r for r in typed if to_traditional(r.person.family_name + r.person.given_name)
                   != r.person.family_name + r.person.given_name]  # fmt: skip
    observed = sum(DeskError.TRADITIONAL in r.errors for r in typed)
    expected = RATES.traditional * len(convertible)
    assert abs(observed - expected) <= 5 * math.sqrt(expected) + 5


def test_homophones_keep_the_toneless_pinyin(records: list[SourceRecord]) -> None:
    changed = 0
    for r in records:
        truth = r.person
        typed = _clean(r.name)
        family, given = typed[: len(truth.family_name)], typed[len(truth.family_name) :]
        if DeskError.HOMOPHONE_GIVEN in r.errors:
            assert given != truth.given_name
            assert lazy_pinyin(given) == lazy_pinyin(truth.given_name), (given, truth.given_name)
            changed += 1
        if DeskError.HOMOPHONE_FAMILY in r.errors:
            assert family != truth.family_name
            assert lazy_pinyin(family) == lazy_pinyin(truth.family_name)
            changed += 1
    assert changed > 300


def test_homophone_and_traditional_tables_are_sound() -> None:
    for char, alternatives in HOMOPHONES.items():
        assert all(lazy_pinyin(a) == lazy_pinyin(char) for a in alternatives), char
    sample = "陈刘张杨黄赵吴孙马罗国华强宝义学贵兰凤红丽晓爱艳静卫东涛军刚杰鹏辉伟轩飞鸣"
    for simplified, traditional in zip(sample, to_traditional(sample), strict=True):
        assert simplified != traditional
        assert lazy_pinyin(simplified) == lazy_pinyin(traditional)


def test_romanised_names_are_pinyin_in_latin_letters(records: list[SourceRecord]) -> None:
    romanised = [r for r in records if DeskError.ROMANISED in r.errors]
    assert romanised
    for r in romanised:
        assert re.fullmatch(r"[A-Za-z]+ [A-Za-z]+", " ".join(r.name.split())), r.name
        assert "".join(lazy_pinyin(r.person.given_name)).replace("v", "yu") in r.name.lower()


def test_mistyped_ids_fail_the_check_or_are_transpositions(records: list[SourceRecord]) -> None:
    seen: Counter[str] = Counter()
    for r in records:
        true_id = r.person.resident_id
        if DeskError.ID_ONE_DIGIT in r.errors:
            assert not is_valid(r.id_number)
            assert id_distance_kind(r.id_number, true_id) == "one_digit"
        elif DeskError.ID_TRANSPOSED in r.errors:
            assert id_distance_kind(r.id_number, true_id) == "transposition"
        elif DeskError.ID_LEGACY15 in r.errors:
            assert len(_clean(r.id_number)) == 15
            assert parse_id(r.id_number).kind is IdKind.LEGACY15
            assert id_distance_kind(r.id_number, true_id) == "same"
        elif DeskError.ID_MISSING in r.errors:
            assert r.id_number == r.id_system == ""
        else:
            assert _clean(r.id_number) == true_id
        assert (r.id_system == RESIDENT_ID_SYSTEM) == bool(r.id_number)
        seen.update(e for e in r.errors if e in ID_ERRORS)
    assert all(seen[e] > 20 for e in ID_ERRORS), seen


def test_clean_records_match_the_person(records: list[SourceRecord]) -> None:
    clean = [r for r in records if not r.errors]
    assert clean
    for r in clean:
        p = r.person
        assert r.name == p.family_name + p.given_name
        assert r.family_name in ("", p.family_name)
        assert r.birth_date == p.birth_date.isoformat()
        assert r.id_number == p.resident_id
        assert r.phone == p.phone
        assert r.address.endswith(p.township + p.village_or_community + p.address_line)
        assert r.gender in (("M", "男", "male") if p.sex == "male" else ("F", "女", "female"))


def _pairs(
    people: dict[int, Resident], records: list[SourceRecord], kind: str
) -> list[tuple[Resident, Resident]]:
    keys = {(r.person_key, r.counterpart) for r in records if r.hard_negative == kind}
    return [(people[a], people[b]) for a, b in keys if b is not None and a < b and b in people]


def test_twins_look_alike_but_are_different_people(
    records: list[SourceRecord], people: dict[int, Resident]
) -> None:
    twins = _pairs(people, records, HardNegative.TWIN)
    assert 0.01 * len(people) <= len(twins) <= 0.025 * len(people)
    for a, b in twins:
        assert a.resident_id != b.resident_id
        assert is_valid(a.resident_id) and is_valid(b.resident_id)
        assert a.resident_id[:14] == b.resident_id[:14]  # same region and birth date
        assert abs(int(a.resident_id[14:17]) - int(b.resident_id[14:17])) <= 10
        assert a.given_name != b.given_name
        assert (a.family_name, a.birth_date, a.phone) == (b.family_name, b.birth_date, b.phone)
        home = (a.district_code, a.township, a.village_or_community, a.address_line)
        assert home == (b.district_code, b.township, b.village_or_community, b.address_line)


def test_namesakes_share_name_year_and_district_only(
    records: list[SourceRecord], people: dict[int, Resident]
) -> None:
    namesakes = _pairs(people, records, HardNegative.COMMON_NAME)
    assert 0.01 * len(people) <= len(namesakes) <= 0.025 * len(people)
    for a, b in namesakes:
        assert (a.family_name, a.given_name, a.sex) == (b.family_name, b.given_name, b.sex)
        assert (a.district_code, a.birth_date.year) == (b.district_code, b.birth_date.year)
        assert a.resident_id != b.resident_id and is_valid(b.resident_id)
        assert parse_id(b.resident_id).birth_date == b.birth_date


def test_all_resident_ids_unique(people: dict[int, Resident]) -> None:
    ids = [p.resident_id for p in people.values()]
    assert len(set(ids)) == len(ids)


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as file:
        reader = csv.DictReader(file)
        return list(reader.fieldnames or ()), list(reader)


def test_write_population_files_agree_with_the_truth(tmp_path: Path) -> None:
    files = write_population(tmp_path, 2_000, seed=4)
    assert files.people == 2_000 and files.records > 4_000
    assert files.facility_files == len(FACILITIES)
    facility_keys: set[tuple[str, str]] = set()
    for code in FACILITIES:
        header, rows = _read(tmp_path / "facilities" / f"{code}.csv")
        assert tuple(header) == FACILITY_COLUMNS
        assert (
            (tmp_path / "facilities" / f"{code}.csv")
            .read_text(encoding="utf-8")
            .startswith(
                "source_id,name,family_name,given_name,gender,birth_date,id_system,id_number,phone,"
                "address,postal_code\n"
            )
        )
        facility_keys.update((code, row["source_id"]) for row in rows)
    header, truth = _read(files.truth)
    assert tuple(header) == TRUTH_COLUMNS
    truth_keys = {(row["facility"], row["source_id"]) for row in truth}
    assert truth_keys == facility_keys
    assert len(truth) == len(truth_keys) == files.records
    person_of = {(row["facility"], row["source_id"]): row["person_id"] for row in truth}
    assert len(set(person_of.values())) == 2_000
    assert all(re.fullmatch(r"P\d{7}", p) for p in person_of.values())
    errors = {e for row in truth for e in row["errors"].split(";") if e}
    assert errors <= set(DeskError)
    assert sum(bool(row["errors"]) for row in truth) == files.records_with_errors

    header, pairs = _read(files.pairs_hard_negative)
    assert tuple(header) == PAIR_COLUMNS
    assert len(pairs) == files.hard_negative_pairs > 0
    assert files.twin_pairs > 0 and files.namesake_pairs > 0
    kinds: defaultdict[str, int] = defaultdict(int)
    for row in pairs:
        a, b = (row["facility_a"], row["source_id_a"]), (row["facility_b"], row["source_id_b"])
        assert person_of[a] == row["person_a"] != row["person_b"] == person_of[b]
        kinds[row["kind"]] += 1
    assert set(kinds) == {"twin", "common_name"}


def test_cli_writes_a_population(tmp_path: Path) -> None:
    hub = Path(sys.executable).parent / "hub"
    out = tmp_path / "population"
    result = subprocess.run(
        [str(hub), "synth", "population", "--people", "300", "--out", str(out), "--seed", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "300 people" in result.stderr
    assert (out / "truth.csv").exists() and (out / "pairs_hard_negative.csv").exists()
    assert len(list((out / "facilities").glob("*.csv"))) == len(FACILITIES)
