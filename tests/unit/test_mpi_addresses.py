"""Western addresses: house number, parts and postcode, each graded on its own."""

from __future__ import annotations

from hub.mpi.matching.addresses import (
    LatinAddress,
    compare_house_number,
    compare_parts,
    compare_postcode,
    latin_address,
)


def test_latin_address_cuts_number_and_parts() -> None:
    a = latin_address("24 Balfour Crescent, Killara Lodge, Cranbourne VIC")
    assert a == LatinAddress("24", ("balfour crescent", "killara lodge", "cranbourne vic"))
    assert a.locality == "cranbourne vic"
    assert latin_address("12a O'Shanassy St.; Mürren") == LatinAddress(
        "12a", ("oshanassy st", "murren")
    )
    assert latin_address("killara lodge, cranbourne") == LatinAddress(
        None, ("killara lodge", "cranbourne")
    )
    assert latin_address("London") == LatinAddress(None, ("london",))


def test_chinese_or_empty_addresses_are_not_latin() -> None:
    assert latin_address("宜昌市西陵区西陵街道学院社区3号") is None
    assert latin_address("") is None and latin_address(None) is None
    assert latin_address(" , ; ") is None


def test_postcode_levels() -> None:
    assert compare_postcode("4011", "4011") == 2
    assert compare_postcode("3130", "3133") == 1  # one digit
    assert compare_postcode("6117", "6171") == 1  # adjacent swap
    assert compare_postcode("2064", "3810") == 0
    assert compare_postcode("2064", None) == -1


def test_house_number_levels() -> None:
    a = latin_address("7 calder crescent, pitt town")
    assert compare_house_number(a, latin_address("7 calder crescnet, pitt town")) == 1
    assert compare_house_number(a, latin_address("17 calder crescent, pitt town")) == 0
    assert compare_house_number(a, latin_address("calder crescent, pitt town")) == -1


def test_parts_agree_in_any_order_and_despite_typos() -> None:
    a = latin_address("6 genoa street, winrae, exeter vic")
    assert compare_parts(a, latin_address("6 winrae, genoa street, exeter vic")) == 3
    assert compare_parts(a, latin_address("genoa vstreet, winrae, exeter vic")) == 3
    assert compare_parts(a, latin_address("6 genoa street, exeter vic")) == 2  # one part lost
    assert compare_parts(a, latin_address("9 genoa street, yangebup nsw")) == 1
    assert compare_parts(a, latin_address("9 hawker place, currambine sa")) == 0
    assert compare_parts(a, None) == -1
