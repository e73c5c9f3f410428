"""GB 11643-1999 identity numbers, checked against the rules rather than a library."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from hub.mpi.matching.identifiers import (
    IdKind,
    InvalidIdError,
    check_digit,
    id_distance_kind,
    is_valid,
    make_resident_id,
    parse_id,
    upgrade_15_to_18,
)

PUBLISHED_EXAMPLE = "11010519491231002X"  # the worked example of GB 11643-1999


def _with_check(first17: str) -> str:
    return first17 + check_digit(first17)


def test_check_digit_follows_mod_11_2_by_hand() -> None:
    body = PUBLISHED_EXAMPLE[:17]
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(c) * w for c, w in zip(body, weights, strict=True))
    assert total % 11 == 2  # 2 -> 'X' in the standard's table
    assert check_digit(body) == "X"
    assert check_digit("0" * 17) == "1"  # sum 0 -> '1'


def test_published_example_is_valid_and_parsed() -> None:
    parsed = parse_id(PUBLISHED_EXAMPLE)
    assert parsed.kind is IdKind.RESIDENT
    assert parsed.normalized == PUBLISHED_EXAMPLE
    assert parsed.region_code == "110105"
    assert parsed.birth_date == date(1949, 12, 31)
    assert parsed.sequence == "002"
    assert parsed.sex == "female"
    assert is_valid(PUBLISHED_EXAMPLE)
    assert is_valid(PUBLISHED_EXAMPLE.lower())


@pytest.mark.parametrize("wrong", list("0123456789"))
def test_altered_check_digit_is_invalid(wrong: str) -> None:
    text = PUBLISHED_EXAMPLE[:17] + wrong
    assert not is_valid(text)
    with pytest.raises(InvalidIdError) as err:
        parse_id(text)
    assert err.value.reason == "check_digit"
    assert text not in str(err.value)  # no personal data in messages


def test_altered_body_digit_is_invalid() -> None:
    assert not is_valid("11010519491231003X")


def test_legacy_15_digit_upgrade() -> None:
    assert upgrade_15_to_18("110105491231002") == PUBLISHED_EXAMPLE
    parsed = parse_id("110105491231002")
    assert parsed.kind is IdKind.LEGACY15
    assert parsed.normalized == PUBLISHED_EXAMPLE
    assert parsed.birth_date == date(1949, 12, 31)
    assert parsed.sex == "female"
    with pytest.raises(InvalidIdError):
        upgrade_15_to_18("11010549123100")


def test_legacy_15_with_bad_date_is_rejected() -> None:
    with pytest.raises(InvalidIdError) as err:
        parse_id("110105490230002")
    assert err.value.reason == "birth_date"


@pytest.mark.parametrize("birth", ["19900230", "19910229", "19901301", "19900000", "29990101"])
def test_bad_birth_date_rejected_even_with_correct_check_digit(birth: str) -> None:
    text = _with_check(f"420502{birth}123")
    with pytest.raises(InvalidIdError) as err:
        parse_id(text)
    assert err.value.reason == "birth_date"


def test_leap_day_accepted() -> None:
    assert parse_id(_with_check("42050220000229123")).birth_date == date(2000, 2, 29)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("4205021990", "length"),
        ("4205021990010112345", "length"),
        ("42050219900101A234", "characters"),
        ("4205021990010112X3", "characters"),
        ("ABC4205021990", "length"),
        ("1234567890123AB", "characters"),
    ],
)
def test_malformed_numbers_give_a_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidIdError) as err:
        parse_id(text)
    assert err.value.reason == reason
    assert isinstance(err.value, ValueError)


def test_unknown_province_rejected() -> None:
    for prefix in ("000000", "190000", "720000", "710000", "811234"):
        with pytest.raises(InvalidIdError) as err:
            parse_id(_with_check(f"{prefix}19900101123"))
        assert err.value.reason == "region"


@pytest.mark.parametrize("region", ["810000", "820000", "830000"])
def test_hk_macau_taiwan_permits(region: str) -> None:
    male = _with_check(f"{region}19850615031")
    female = _with_check(f"{region}20010101248")
    for text, sex in ((male, "male"), (female, "female")):
        parsed = parse_id(text)
        assert parsed.kind is IdKind.HK_MACAU_TW_PERMIT
        assert parsed.region_code == region
        assert parsed.sex == sex
    assert parse_id(male).birth_date == date(1985, 6, 15)
    assert parse_id(female).birth_date == date(2001, 1, 1)
    assert not is_valid(male[:17] + ("0" if male[17] != "0" else "1"))


def test_new_foreign_permanent_resident_number() -> None:
    # 9 + province 11 + nationality 840 + 1980-07-04 + sequence 001 + check
    text = _with_check("91184019800704001")
    parsed = parse_id(text)
    assert parsed.kind is IdKind.FOREIGN_PERMANENT_NEW
    assert parsed.birth_date == date(1980, 7, 4)
    assert parsed.region_code is None
    assert parsed.sex is None  # the 2023 rules do not tie the sequence to sex
    assert not is_valid(text[:17] + ("0" if text[17] != "0" else "1"))


def test_old_foreign_permanent_resident_number_format_only() -> None:
    parsed = parse_id("usa110080070412")
    assert parsed.kind is IdKind.FOREIGN_PERMANENT_OLD
    assert parsed.normalized == "USA110080070412"
    assert (parsed.region_code, parsed.birth_date, parsed.sex) == (None, None, None)


def test_full_width_and_spaces_normalised() -> None:
    text = "１１０１０５　1949 1231 ００２ｘ"
    parsed = parse_id(text)
    assert parsed.normalized == PUBLISHED_EXAMPLE
    assert is_valid(" ".join("11010519491231002Ｘ"))


def test_make_resident_id_roundtrip() -> None:
    rng = random.Random(20240601)
    regions = ["420502", "420506", "420528", "110105", "440305", "650102"]
    start = date(1900, 1, 1)
    for _ in range(5000):
        region = rng.choice(regions)
        birth = start + timedelta(days=rng.randrange((date(2025, 12, 31) - start).days))
        sequence = rng.randrange(1000)
        sex = rng.choice(["male", "female"])
        text = make_resident_id(region, birth, sequence, sex)
        parsed = parse_id(text)
        assert parsed.normalized == text
        assert parsed.kind is IdKind.RESIDENT
        assert parsed.region_code == region
        assert parsed.birth_date == birth
        assert parsed.sex == sex
        assert parsed.sequence is not None
        assert int(parsed.sequence) // 10 == sequence // 10  # only the last digit may move


def test_make_resident_id_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        make_resident_id("4205", date(1990, 1, 1), 1, "male")
    with pytest.raises(ValueError):
        make_resident_id("420502", date(1990, 1, 1), 1000, "male")
    with pytest.raises(ValueError):
        make_resident_id("420502", date(1990, 1, 1), 1, "unknown")


def test_distance_same_one_digit_transposition_different() -> None:
    a = PUBLISHED_EXAMPLE
    assert id_distance_kind(a, a.lower()) == "same"
    assert id_distance_kind(a, "11010519491231007X") == "one_digit"
    assert id_distance_kind(a, "110105194912310020") == "one_digit"  # check character
    assert id_distance_kind(a, "11010519419231002X") == "transposition"  # 49 12 -> 41 92
    assert id_distance_kind(a, "11010591491231002X") == "transposition"  # 19 -> 91
    assert id_distance_kind(a, "11010519491231020X") == "transposition"
    assert id_distance_kind(a, "11010519491231200X") == "different"  # 002 -> 200: not neighbours
    assert id_distance_kind(a, "42050219900101123X") == "different"
    assert id_distance_kind(a, "1101051949123100") == "different"  # lengths differ


def test_distance_with_legacy_number_ignores_derived_check() -> None:
    assert id_distance_kind("110105491231002", PUBLISHED_EXAMPLE) == "same"
    assert id_distance_kind("110105491231003", PUBLISHED_EXAMPLE) == "one_digit"
