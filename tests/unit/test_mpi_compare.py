"""Comparison vectors and blocking keys of record pairs."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from hub.mpi.matching.compare import SPECS, compare, query_keys, record_keys
from hub.mpi.matching.features import MatchFeatures, features_from_patient, features_from_row
from hub.mpi.matching.identifiers import make_resident_id
from hub.mpi.matching.linkage import link_batch
from hub.mpi.training.registry import packaged_model

A_ID = make_resident_id("420502", date(1980, 3, 2), 120, "male")
B_ID = make_resident_id("420502", date(1980, 3, 2), 122, "male")  # a twin


def row(**values: str) -> dict[str, str]:
    base = {
        "source_id": "x",
        "name": "张伟",
        "gender": "M",
        "birth_date": "1980-03-02",
        "id_number": A_ID,
        "phone": "13800000000",
        "address": "宜昌市西陵区西陵街道学院社区3号",
    }
    base.update(values)
    return base


def vector(a: dict[str, str], b: dict[str, str]) -> dict[str, int]:
    levels = compare(features_from_row(a), features_from_row(b))
    return {spec.name: level for spec, level in zip(SPECS, levels, strict=True)}


def test_identical_records_agree_exactly() -> None:
    v = vector(row(), row())
    assert v["resident_id"] == 3 and v["family_name"] == 4 and v["given_name"] == 4
    assert v["birth_date"] == 4 and v["phone"] == 1 and v["address"] == 3
    assert v["insurance_number"] == -1  # missing on both sides: neutral


def test_two_valid_ids_are_strong_disagreement_and_typo_is_near() -> None:
    assert vector(row(), row(id_number=B_ID))["resident_id"] == 0
    typo = A_ID[:5] + str((int(A_ID[5]) + 1) % 10) + A_ID[6:]
    assert vector(row(), row(id_number=typo))["resident_id"] == 2


def test_homophone_and_date_swap_are_near_agreements() -> None:
    v = vector(row(), row(name="章伟", birth_date="1980-02-03"))
    assert v["family_name"] == 3 and v["birth_date"] == 3


def test_keys_never_block_on_surname_alone() -> None:
    keys = record_keys(features_from_row(row(id_number="", phone="")))
    assert keys and all(k.count("|") == 1 or k.startswith(("id:", "ib:", "ph:")) for k in keys)
    # A surname is only ever part of a key together with a birth date or given name.
    assert all(not k.startswith(("fd:", "fi:")) or "|" in k for k in keys)
    assert "fp:zhang" not in keys and "fd:zhang" not in keys
    swapped = query_keys(features_from_row(row(birth_date="1980-02-03")))
    assert any(k.endswith("|19800302") for k in swapped)


def test_batch_links_desk_errors_but_not_twins() -> None:
    records = [
        row(),
        row(name="章伟", id_number=""),
        row(name="ZHANG WEI", birth_date="19800302"),
        row(name="张勇", id_number=B_ID),  # twin brother: same household, own valid ID
        row(name="李娜", gender="F", birth_date="1990-01-01", id_number="", phone="13900000000"),
    ]
    features = [features_from_row(r) for r in records]
    result = link_batch(features, packaged_model())
    clusters = result.clusters
    assert clusters[0] == clusters[1] == clusters[2]
    assert clusters[3] != clusters[0]
    assert clusters[4] not in (clusters[0], clusters[3])


def western(**values: str) -> dict[str, str]:
    base = {
        "source_id": "w",
        "given_name": "melissa",
        "family_name": "lanzotti",
        "birth_date": "19810828",
        "address": "24 balfour crescent, killara lodge, cranbourne vic",
        "postal_code": "2064",
        "id_system": "urn:example:ssid",
        "id_number": "7433231",
    }
    base.update(values)
    return base


def test_latin_addresses_are_graded_part_by_part() -> None:
    v = vector(western(), western(address="24 balfour rcescent, killaravlodge, cranbourne vic"))
    assert v["address"] == -1  # the Chinese hierarchy has nothing to read
    assert (v["postcode"], v["house_number"], v["address_parts"]) == (2, 1, 3)
    v = vector(western(), western(address="balfour crescent, cranbourne vic", postal_code="2046"))
    assert (v["postcode"], v["house_number"], v["address_parts"]) == (1, -1, 2)
    chinese = vector(row(postal_code="443000"), row(postal_code="443000"))
    assert chinese["address"] == 3
    assert (chinese["postcode"], chinese["house_number"], chinese["address_parts"]) == (-1, -1, -1)


def test_birth_dates_about_a_year_apart_are_close() -> None:
    levels = [
        vector(row(), row(birth_date=b))["birth_date"]
        for b in (
            "1980-03-02",
            "1980-03-03",
            "1980-11-20",
            "1981-04-01",
            "1990-03-05",
            "1975-01-01",
        )
    ]
    assert levels == [4, 3, 2, 1, 1, 0]  # 1990-03-05: two digits mistyped


def test_western_keys_find_swaps_and_typos_without_the_birth_year() -> None:
    base = features_from_row(western())
    swapped = features_from_row(western(given_name="lanzotti", family_name="melissa",
                                        birth_date="19180828"))  # fmt: skip
    retyped = features_from_row(western(family_name="lanzoti", birth_date="19810828",
                                         postal_code="2046", id_number=""))  # fmt: skip
    moved = features_from_row(western(birth_date="19820828", address="cranbourne vic",
                                      id_number=""))  # fmt: skip
    for other in (swapped, retyped, moved):
        assert set(record_keys(base)) & set(record_keys(other))
        assert set(record_keys(other)) <= set(query_keys(other))
    keys = record_keys(base)
    assert "pn:2064|24" in keys and "nn:LANSAT|MALAS" in keys
    # never a postcode, a house number or a name part alone
    assert all("|" in k for k in keys if k.startswith(("pn:", "pp:", "pd:", "np:", "nd:", "nn:")))


def test_chinese_records_get_no_western_keys() -> None:
    keys = record_keys(features_from_row(row(postal_code="443000")))
    assert not any(k.startswith(("pn:", "pp:", "pd:", "np:", "nd:", "nn:", "dn:")) for k in keys)


def test_a_chinese_address_with_a_digits_only_last_line_stays_chinese() -> None:
    patient = {
        "name": [{"text": "张伟"}],
        "birthDate": "1980-03-02",
        "address": [{"line": ["宜昌市西陵区西陵街道学院社区", "3-2-301"], "postalCode": "443000"}],
    }
    f = features_from_patient(patient)
    assert f.line == "3-2-301" and f.district is not None
    levels = dict(zip([s.name for s in SPECS], compare(f, f), strict=True))
    assert levels["address"] == 3
    assert (levels["postcode"], levels["house_number"], levels["address_parts"]) == (-1, -1, -1)


def _birth_date_level_before(a: date, b: date) -> int:
    """The birth-date comparison as it was written before it was made faster (kept verbatim as
    the reference the faster one must agree with)."""
    if a == b:
        return 4
    if abs(a - b) <= timedelta(days=1) or (
        a.year == b.year and a.month == b.day and a.day == b.month
    ):
        return 3
    digits_a, digits_b = a.strftime("%Y%m%d"), b.strftime("%Y%m%d")
    mistyped = sum(x != y for x, y in zip(digits_a, digits_b, strict=True))
    if mistyped == 1:
        return 3
    if a.year == b.year:
        return 2
    return 1 if mistyped == 2 or abs(a - b) <= timedelta(days=400) else 0


_BIRTH = st.dates(date(1000, 1, 1), date(2030, 12, 31))


@st.composite
def _date_pairs(draw: st.DrawFn) -> tuple[date, date]:
    """A date and another one: unrelated, days or a year apart, a digit off, day and month
    swapped (each branch of the comparison)."""
    a = draw(_BIRTH)
    kind = draw(st.sampled_from(["other", "days", "digit", "swap"]))
    if kind == "days":
        b = a + timedelta(days=draw(st.integers(-800, 800)))
    elif kind == "digit":
        text = list(a.strftime("%Y%m%d"))
        text[draw(st.integers(0, 7))] = str(draw(st.integers(0, 9)))
        try:
            b = date(int("".join(text[:4])), int("".join(text[4:6])), int("".join(text[6:])))
        except ValueError:
            b = a
    elif kind == "swap" and a.day <= 12:
        b = a.replace(month=a.day, day=a.month)
    else:
        b = draw(_BIRTH)
    return a, b


@given(_date_pairs())
@example((date(1980, 1, 1), date(1981, 2, 4)))  # 400 days apart, three digits off
@example((date(1980, 1, 1), date(1981, 2, 5)))  # 401
@example((date(1980, 12, 31), date(1981, 1, 2)))  # two days apart, across a year
@settings(max_examples=3000, deadline=None)
def test_the_birth_date_levels_are_those_of_the_reference(pair: tuple[date, date]) -> None:
    a, b = pair
    assume(min(a.year, b.year) >= 1000)  # the reference raised below (test after this one)
    v = compare(MatchFeatures(birth_date=a), MatchFeatures(birth_date=b))
    assert v[3] == _birth_date_level_before(a, b)


def test_a_birth_year_below_1000_is_compared_digit_by_digit() -> None:
    """strftime wrote such a year short, and the digit count then raised ValueError."""
    assert compare(MatchFeatures(birth_date=date(999, 3, 2)),
                   MatchFeatures(birth_date=date(1999, 3, 2)))[3] == 3  # fmt: skip
