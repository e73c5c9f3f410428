"""Latin-script address grading at its edges, found by mutation testing
(scripts/mutate addresses): normalisation, missing sides, more parts on one side than the other.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.mpi.matching.addresses import (
    LatinAddress,
    chinese_dwelling,
    compare_house_number,
    compare_parts,
    compare_postcode,
    latin_address,
)


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    # latin_address and chinese_dwelling are memoised: an address read once elsewhere in the
    # process (another test, mutmut's warm-up) would otherwise never be read again here.
    latin_address.cache_clear()
    chinese_dwelling.cache_clear()
    yield


def test_parts_are_folded_to_plain_lowercase_words() -> None:
    assert latin_address("3 Ｒｕｅ  Ｄｅ   LʼÉglise") == LatinAddress("3", ("rue de lʼeglise",))
    assert latin_address("12 Große_Straße; ZÜRICH") == LatinAddress(
        "12", ("grosse strasse", "zurich")
    )
    assert latin_address("9 O'Connell St., Dún Laoghaire") == LatinAddress(
        "9", ("oconnell st", "dun laoghaire")
    )
    assert latin_address("4/2 Hay-Street") == LatinAddress("4/2", ("hay street",))


def test_postcodes_compare_without_case_or_spaces() -> None:
    assert compare_postcode("sw1a 1aa", "SW1A1AA") == 2
    assert compare_postcode("SW1A1AA", "sw1a 1aa") == 2
    assert compare_postcode("SW1A 1AA", "sw1a1ab") == 1


def test_a_house_number_missing_on_either_side_is_left_out() -> None:
    numbered = latin_address("7 calder crescent, pitt town")
    assert compare_house_number(None, numbered) == -1
    assert compare_house_number(numbered, None) == -1


def test_a_side_without_parts_is_left_out() -> None:
    parts = latin_address("calder crescent, pitt town")
    assert compare_parts(latin_address("24"), parts) == -1
    assert compare_parts(parts, latin_address("24")) == -1


def test_more_parts_on_one_side_than_the_other() -> None:
    many = latin_address("6 genoa street, winrae, exeter, vic")
    few = latin_address("6 genoa street, winrae, exeter")
    assert compare_parts(many, latin_address("exeter")) == 1
    assert compare_parts(many, few) == 2  # all of one side, not every part of both
    assert compare_parts(few, many) == 2
