"""The household ceilings (hub.mpi.matching.household): pairs a weight sum would link but people
never are, decided on the comparison vectors of real-looking record pairs."""

from __future__ import annotations

from datetime import date

import pytest

from hub.mpi.matching.compare import compare
from hub.mpi.matching.features import MatchFeatures, features_from_row
from hub.mpi.matching.household import capped, ceiling, hanzi_names
from hub.mpi.matching.identifiers import make_resident_id
from hub.mpi.matching.model import Decision

BIRTH = date(1972, 4, 14)
ADDRESS = "湖北省宜昌市枝江市土城村2组"


def _row(name: str, **values: str) -> MatchFeatures:
    row = {"name": name, "gender": "男", "birth_date": BIRTH.isoformat(),
           "phone": "17048763745", "address": ADDRESS} | values  # fmt: skip
    return features_from_row(row)


def _cap(a: MatchFeatures, b: MatchFeatures) -> Decision:
    return ceiling(compare(a, b), hanzi=hanzi_names(a, b))


def test_twins_with_two_valid_ids_are_never_one_person() -> None:
    a = _row("陈凯波", id_number=make_resident_id("420583", BIRTH, 925, "male"))
    b = _row("陈超阳", id_number=make_resident_id("420583", BIRTH, 927, "male"))
    assert a.resident_id and b.resident_id and a.resident_id != b.resident_id
    assert _cap(a, b) is Decision.NEW


def test_a_household_without_ids_is_not_a_person() -> None:
    assert _cap(_row("陈凯波"), _row("陈超阳")) is Decision.NEW  # clearly different given names


def test_similar_given_names_in_one_household_go_to_review_at_most() -> None:
    assert _cap(_row("陈凯波"), _row("陈凯涛")) in (Decision.REVIEW, Decision.NEW)


def test_same_name_and_address_with_another_birth_date_is_reviewed_not_linked() -> None:
    older = _row("王建国", birth_date="1950-03-02")
    younger = _row("王建国", birth_date="1978-11-20")
    assert _cap(older, younger) is Decision.REVIEW


def test_namesakes_with_nothing_else_in_common_are_reviewed_not_linked() -> None:
    here = _row("张伟", phone="13900000001", address="湖北省宜昌市西陵区夜明珠街道")
    there = _row("张伟", phone="13700000002", address="湖北省宜昌市秭归县茅坪镇")
    assert _cap(here, there) is Decision.REVIEW


def test_name_birth_date_and_sex_alone_are_reviewed_not_linked() -> None:
    """Issue 12: 王小明 1990-01-01 M with no ID, phone or address on one side was linked at
    0.999999; among four million, common names share birth dates."""
    bare = features_from_row({"name": "王小明", "gender": "男", "birth_date": "1990-01-01"})
    full = _row("王小明", birth_date="1990-01-01")
    assert _cap(bare, full) is Decision.REVIEW
    assert _cap(bare, bare) is Decision.REVIEW  # two such records: still nothing in common
    # a phone in common is evidence again
    assert _cap(full, _row("王小明", birth_date="1990-01-01", address="")) is Decision.LINK


@pytest.mark.parametrize(
    "other",
    [
        {"birth_date": "1972-04-15"},  # a day apart: a typo, not another person
        {"phone": "13900000001"},  # a new phone, same address
        {"name": "陳凱波"},  # traditional characters
    ],
)
def test_the_same_person_with_ordinary_errors_is_not_capped(other: dict[str, str]) -> None:
    name = other.pop("name", "陈凯波")
    assert _cap(_row("陈凯波"), _row(name, **other)) is Decision.LINK


def test_an_agreeing_resident_id_lifts_every_cap() -> None:
    resident = make_resident_id("420583", BIRTH, 925, "male")
    renamed = _row("陈超阳", id_number=resident)  # renamed at one desk: the ID says who it is
    assert _cap(_row("陈凯波", id_number=resident), renamed) is Decision.LINK


def test_capped_never_raises_a_decision() -> None:
    assert capped(Decision.LINK, Decision.REVIEW) is Decision.REVIEW
    assert capped(Decision.REVIEW, Decision.LINK) is Decision.REVIEW
    assert capped(Decision.NEW, Decision.LINK) is Decision.NEW
    assert capped(Decision.LINK, Decision.NEW) is Decision.NEW


def test_a_parent_and_child_sharing_phone_and_address_are_two_people() -> None:
    parent = _row("袁家波", birth_date="1992-06-19")
    child = _row("袁若诺", birth_date="2021-10-11")
    assert _cap(parent, child) is Decision.NEW


def test_a_newborn_registered_under_the_mothers_name_is_not_the_mother() -> None:
    mother = _row("陈丹艳", gender="女", birth_date="1986-02-06")
    newborn = _row("陈丹艳之女", gender="女", birth_date="2019-09-03")
    assert _cap(mother, newborn) is Decision.NEW


def test_a_parents_id_on_a_childs_record_does_not_make_one_person() -> None:
    resident = make_resident_id("420583", date(1987, 4, 25), 74, "female")
    mother = _row("曹丹颖", gender="女", birth_date="1987-04-25", id_number=resident)
    son = _row("曹丹颖之子", birth_date="2016-01-28", id_number=resident)
    named = _row("陈皓轩", birth_date="2016-01-28", id_number=resident)
    # Another given name and a birth date far from the ID's: the parent, not a second record
    # of them -- a new person, not a review item.
    assert _cap(mother, son) is Decision.NEW
    assert _cap(mother, named) is Decision.NEW


def test_one_id_and_one_name_with_birth_dates_far_apart_is_for_a_human() -> None:
    """The same name on the same ID and a birth date years off (a desk that wrote another
    date in the field): perhaps one person, so a steward decides."""
    resident = make_resident_id("420583", date(1958, 6, 28), 796, "female")
    recorded = _row("刘春菊", gender="女", birth_date="1958-06-28", id_number=resident)
    other = _row("刘春菊", gender="女", birth_date="1961-03-02", id_number=resident)
    assert _cap(recorded, other) is Decision.REVIEW


def test_another_given_name_without_a_birth_date_is_for_a_human() -> None:
    assert _cap(_row("刘天涛"), _row("刘彬", birth_date="")) is Decision.REVIEW


def test_western_names_are_left_to_the_weights() -> None:
    """FEBRL-style records: a given name replaced or mistyped beyond recognition is a typo
    there, not a sibling, so the Chinese given-name rules do not apply."""
    row = {"family_name": "ryan", "birth_date": "1972-04-14", "address": "24 balfour crescent"}
    a = features_from_row(row | {"given_name": "jessica"})
    b = features_from_row(row | {"given_name": "mikayla"})
    assert not hanzi_names(a, b)
    assert ceiling(compare(a, b), hanzi=False) is Decision.LINK
    assert ceiling(compare(a, b), hanzi=True) is Decision.NEW  # what a Chinese pair would get


def test_a_romanised_chinese_name_is_still_a_chinese_name() -> None:
    mother = _row("LIANG Chunying", gender="女", birth_date="1987-11-13")
    newborn = _row("梁春颖之女", gender="女", birth_date="2014-03-23")
    assert hanzi_names(mother, newborn)
    assert _cap(mother, newborn) is Decision.NEW
