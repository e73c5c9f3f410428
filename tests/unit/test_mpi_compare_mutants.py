"""Comparison levels and blocking keys found unguarded by mutation testing (scripts/mutate compare).

Each test pins a level a surviving mutant moved (so a pair would score as more or less alike
than it is) or a blocking key it dropped (so a duplicate would never be compared).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from hub.mpi.matching.compare import SPECS, compare, query_keys, record_keys, tf_values
from hub.mpi.matching.features import MatchFeatures, features_from_row
from tests.unit.test_mpi_compare import A_ID, row, western

BASE = features_from_row(row())  # 张伟, Xiling district 420502, 西陵街道 / 学院社区
WESTERN = features_from_row(western())
MISSING = -1


def levels(a: MatchFeatures, b: MatchFeatures) -> dict[str, int]:
    return {spec.name: level for spec, level in zip(SPECS, compare(a, b), strict=True)}


def level(name: str, a: MatchFeatures, b: MatchFeatures) -> int:
    return levels(a, b)[name]


def raw_id(value: str) -> MatchFeatures:
    return replace(BASE, resident_id=None, resident_id_raw=value)


def place(**parts: str | None) -> MatchFeatures:
    """BASE moved to a Chinese address made of exactly ``parts`` (the others left out)."""
    blank = {"district": None, "township": None, "village": None, "line": None}
    return replace(BASE, postal_code=None, **(blank | parts))


# --- resident ID ---------------------------------------------------------------------------


def test_a_mistyped_id_far_from_the_other_is_only_a_weak_agreement() -> None:
    far = A_ID[:6] + "1975" + A_ID[10:]
    assert level("resident_id", BASE, raw_id(far)) == 1
    assert level("resident_id", BASE, raw_id(A_ID[:17])) == 1  # not 18 characters


def test_the_same_mistyped_id_on_both_sides_is_near() -> None:
    mistyped = A_ID[:17] + ("0" if A_ID[17] != "0" else "1")
    assert level("resident_id", raw_id(mistyped), raw_id(mistyped)) == 2


def test_a_transposed_id_is_near() -> None:
    transposed = A_ID[:12] + A_ID[13] + A_ID[12] + A_ID[14:]
    assert transposed != A_ID
    assert level("resident_id", BASE, raw_id(transposed)) == 2


# --- birth date ----------------------------------------------------------------------------


def born(day: date) -> MatchFeatures:
    return replace(BASE, birth_date=day)


def test_birth_date_levels_at_their_bounds() -> None:
    def graded(a: date, b: date) -> int:
        return level("birth_date", born(a), born(b))

    assert graded(date(1980, 3, 31), date(1980, 4, 1)) == 3  # a day apart, three digits differ
    assert graded(date(1980, 3, 30), date(1980, 4, 1)) == 2  # two days apart: same year only
    assert graded(date(1980, 3, 2), date(1980, 2, 3)) == 3  # day and month swapped
    assert graded(date(1980, 3, 2), date(1980, 3, 7)) == 3  # one digit mistyped
    assert graded(date(1980, 5, 3), date(1981, 3, 20)) == 1  # a day equal to a month is no swap
    assert graded(date(1980, 1, 1), date(1981, 2, 4)) == 1  # 400 days apart
    assert graded(date(1980, 1, 1), date(1981, 2, 5)) == 0  # 401 days apart


# --- Chinese addresses ---------------------------------------------------------------------


def test_a_chinese_and_a_latin_address_are_compared_not_left_out() -> None:
    assert level("address", BASE, WESTERN) == 0
    assert level("address", replace(BASE, postal_code="2064"), WESTERN) == 1


def test_a_township_or_a_village_alone_keeps_an_address_chinese() -> None:
    latin_line = "24 balfour crescent, cranbourne vic"
    for part in ({"township": "西陵街道"}, {"village": "学院社区"}):
        a = replace(place(line=latin_line, **part), postal_code="443000")
        assert level("address", a, a) == 3
        assert level("postcode", a, a) == MISSING


def test_the_same_flat_is_the_same_home() -> None:
    flat, written_otherwise = "学院社区3栋2单元301", "学院社区3-2-301"  # lines not alike enough
    a = place(district="420502", line=flat)
    assert level("address", a, place(line=written_otherwise)) == 3  # no district: no contradiction
    assert level("address", place(line=written_otherwise), a) == 3
    assert level("address", a, place(district="420503", line=written_otherwise)) == 0
    towns = place(township="西陵街道", line=flat)
    assert level("address", towns, place(township="西陵街道", line=written_otherwise)) == 3
    other_town = place(township="夜明珠街道", line=written_otherwise)
    assert level("address", towns, other_town) == 0


def test_an_address_without_any_place_is_left_out() -> None:
    nowhere = place()
    assert level("address", nowhere, place(district="420502")) == MISSING
    assert level("address", place(district="420502"), nowhere) == MISSING
    assert level("address", place(township="西陵街道"), place(township="西陵街道")) == 2


def test_a_village_agrees_when_the_other_parts_do_not_contradict() -> None:
    village = place(district="420502", township="西陵街道", village="学院社区")
    assert level("address", village, place(district="420502", village="学院社区")) == 3
    assert level("address", village, place(township="西陵街道", village="学院社区")) == 3
    assert level("address", place(township="西陵街道", village="学院社区"), village) == 3
    other_town = place(district="420502", township="夜明珠街道", village="学院社区")
    assert level("address", village, other_town) == 1  # same district only
    other_district = place(district="420503", township="西陵街道", village="学院社区")
    assert level("address", village, other_district) == 2  # same township only


def test_nearly_the_same_line_is_the_same_home() -> None:
    line = "宜昌市西陵区西陵街道学院社区三号楼二单元三零一室"
    a = place(district="420502", township="西陵街道", line=line)
    b = place(district="420503", township="夜明珠街道", line=line)
    assert level("address", a, b) == 3


def test_district_or_postcode_alone_is_a_weak_agreement() -> None:
    assert level("address", place(district="420502"), place(district="420502")) == 1
    a = replace(place(district="420502"), postal_code="443000")
    b = replace(place(district="420503"), postal_code="443000")
    assert level("address", a, b) == 1
    assert level("address", place(district="420502"), place(district="420503")) == 0
    assert level("address", place(township="西陵街道"), place(township="夜明珠街道")) == 0


# --- other identifiers, sex, phone, insurance, names ------------------------------------------


def ids(*pairs: tuple[str, str]) -> MatchFeatures:
    return replace(BASE, local_ids=pairs)


def test_other_identifiers_in_the_same_system() -> None:
    mine = ids(("urn:x", "A12345"))
    assert level("other_id", mine, ids(("urn:x", "A12345"))) == 2
    assert level("other_id", mine, ids(("urn:x", "A12346"))) == 1
    assert level("other_id", mine, ids(("urn:x", "B99999"))) == 0
    assert level("other_id", mine, ids(("urn:x", "A12399"))) == 0  # two edits: not near
    assert level("other_id", mine, ids(("urn:y", "A12345"))) == MISSING
    assert level("other_id", mine, BASE) == MISSING
    assert level("other_id", BASE, mine) == MISSING
    several = ids(("urn:x", "B99999"), ("urn:x", "A12346"))
    assert level("other_id", mine, several) == 1  # the best of the pairs


def test_one_sided_fields_are_left_out_and_both_sided_ones_compared() -> None:
    no_sex, no_phone = replace(BASE, sex=None), replace(BASE, phones=())
    assert level("sex", BASE, no_sex) == level("sex", no_sex, BASE) == MISSING
    assert level("sex", BASE, replace(BASE, sex="female")) == 0
    assert level("phone", BASE, no_phone) == level("phone", no_phone, BASE) == MISSING
    insured = replace(BASE, insurance_number="YC123")
    assert level("insurance_number", insured, BASE) == MISSING
    assert level("insurance_number", BASE, insured) == MISSING
    assert level("insurance_number", insured, insured) == 1
    assert level("insurance_number", insured, replace(BASE, insurance_number="YC124")) == 0


def test_a_name_part_only_one_record_has_is_left_out() -> None:
    no_family = replace(BASE, family="", full_name="伟")
    no_given = replace(BASE, given="", full_name="张")
    assert level("family_name", BASE, no_family) == MISSING
    assert level("given_name", BASE, no_given) == MISSING


def test_name_frequencies_are_looked_up_by_pinyin() -> None:
    assert tf_values(BASE)[1:3] == ("zhang", "wei")


# --- blocking keys -------------------------------------------------------------------------


def test_a_record_is_stored_under_each_of_its_identifiers() -> None:
    full = replace(BASE, insurance_number="YC123", local_ids=(("urn:x", "A1"),))
    keys = record_keys(full)
    for key in (f"id:{A_ID}", f"ib:{A_ID[:14]}", "ph:13800000000", "in:YC123", "ox:urn:x|A1"):
        assert key in keys
    assert {"fp:zhangwei|1980", "ss:wei.zhang|1980", "gd:wei|19800302"} <= set(keys)
    assert f"ib:{A_ID[:14]}" in record_keys(raw_id(A_ID[:17] + "X"))  # mistyped: region + birth
    assert not any(k.startswith("ib:") for k in record_keys(raw_id(A_ID[:17])))


def test_without_a_birth_date_the_name_is_keyed_with_the_district() -> None:
    undated = replace(BASE, birth_date=None)
    assert "fp:zhangwei|420502" in record_keys(undated)
    assert "fp:zhangwei|" in record_keys(replace(undated, district=None))


def test_query_keys_add_the_day_month_swap() -> None:
    keys = query_keys(born(date(1980, 3, 12)))
    assert {"gd:wei|19801203", "fd:zhang|19801203"} <= set(keys)
    assert not any("19801303" in k for k in query_keys(born(date(1980, 3, 13))))


def test_a_latin_address_gives_western_keys_to_a_chinese_name() -> None:
    latin = replace(BASE, district=None, township=None, village=None, line=WESTERN.line)
    keys = record_keys(replace(latin, postal_code="2064"))
    assert "pn:2064|24" in keys and "pd:2064|19800302" in keys and "nd:24|19800302" in keys
    assert "dn:19810828|MALAS" in record_keys(WESTERN)


def test_a_western_record_without_a_birth_date_gets_keys_without_one() -> None:
    keys = record_keys(replace(WESTERN, birth_date=None))
    assert "nn:LANSAT|MALAS" in keys and "pn:2064|24" in keys
    assert not any(k.startswith(("dn:", "pd:", "nd:")) for k in keys)
