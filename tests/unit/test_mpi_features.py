"""Match features from Patients and CSV rows: normalisation, flags, refusals."""

from __future__ import annotations

from datetime import date

import pytest

from hub.fhir.systems import INSURANCE_PERSON_SYSTEM, RESIDENT_ID_SYSTEM
from hub.mpi.matching.features import (
    EmptyRecordError,
    MatchFeatures,
    features_from_patient,
    features_from_row,
    normalise_phone,
    parse_birth_date,
)
from hub.mpi.matching.identifiers import make_resident_id

RID = make_resident_id("420502", date(1980, 3, 2), 123, "male")


def test_patient_features_are_normalised() -> None:
    patient = {
        "resourceType": "Patient",
        "identifier": [
            {"system": RESIDENT_ID_SYSTEM, "value": RID.lower()},
            {"system": INSURANCE_PERSON_SYSTEM, "value": "YC123"},
            {"system": "urn:h001", "value": "MRN-1"},
        ],
        "name": [{"use": "official", "family": "陳", "given": ["偉"]}],
        "gender": "male",
        "birthDate": "1980-03-02",
        "telecom": [
            {"system": "phone", "value": "+86 138-0000-0000"},
            {"system": "email", "value": "a@b.cn"},
        ],
        "address": [
            {
                "use": "home",
                "text": "湖北省宜昌市西陵区西陵街道学院社区 3号",
                "district": "西陵区",
                "postalCode": "443000",
            }
        ],
    }
    f = features_from_patient(patient)
    assert f.resident_id == RID.upper()
    assert f.insurance_number == "YC123"
    assert f.local_ids == (("urn:h001", "MRN-1"),)
    assert f.phones == ("13800000000",)
    assert (f.district, f.township, f.village) == ("420502", "西陵街道", "学院社区")
    assert f.name.family == "陈" and f.name.full_pinyin == "chenwei"
    assert f.flags == ()


def test_bad_values_are_kept_flagged_and_left_out() -> None:
    row = {
        "source_id": "1",
        "name": "张伟",
        "birth_date": "1980-02-30",
        "id_number": RID[:-1] + ("0" if RID[-1] != "0" else "1"),
        "phone": "13x-not-a-phone",
        "gender": "男",
    }
    f = features_from_row(row)
    assert f.birth_date is None and "birth_date_unparsed" in f.flags
    assert f.resident_id is None and f.resident_id_raw is not None
    assert "resident_id_invalid" in f.flags
    assert f.phones == () and "phone_invalid" in f.flags
    assert f.sex == "male" and f.name.full_pinyin == "zhangwei"


@pytest.mark.parametrize(
    "text,expected", [("1980-03-02", date(1980, 3, 2)), ("19800302", date(1980, 3, 2)), ("", None)]
)
def test_birth_date_formats(text: str, expected: date | None) -> None:
    assert parse_birth_date(text) == expected


@pytest.mark.parametrize("text", ["02/03/1980", "1980-13-01", "abc"])
def test_bad_birth_dates_raise(text: str) -> None:
    with pytest.raises(ValueError):
        parse_birth_date(text)


def test_empty_record_is_refused_naming_fields() -> None:
    with pytest.raises(EmptyRecordError, match="name, birth_date, identifier or phone"):
        features_from_row({"source_id": "1", "gender": "F"})


def test_phone_normalisation() -> None:
    assert normalise_phone("0086 138 0000 0000") == "13800000000"
    assert normalise_phone("0717-6222222") == "07176222222"
    assert normalise_phone("call me") is None


def test_features_roundtrip_through_json() -> None:
    f = features_from_row(
        {
            "source_id": "9",
            "family_name": "欧阳",
            "given_name": "娜娜",
            "birth_date": "20010203",
            "id_number": RID,
            "phone": "13900000000",
            "address": "宜昌市夷陵区小溪塔街道城东社区",
        }
    )
    assert MatchFeatures.from_json_dict(f.to_json_dict()) == f
    assert f.name.family == "欧阳"


def test_latin_patient_address_keeps_number_street_and_locality() -> None:
    patient = {
        "resourceType": "Patient",
        "name": [{"family": "Lanzotti", "given": ["Melissa"]}],
        "birthDate": "1981-08-28",
        "address": [
            {
                "line": ["24 Balfour Crescent", "Killara Lodge"],
                "city": "Cranbourne",
                "state": "VIC",
                "postalCode": "2064",
            }
        ],
    }
    f = features_from_patient(patient)
    assert f.line == "24 Balfour Crescent, Killara Lodge, Cranbourne, VIC"
    assert f.postal_code == "2064"
    chinese = {"name": [{"text": "张伟"}], "address": [{"line": ["西陵街道", "学院社区3号"]}]}
    assert features_from_patient(chinese).line == "学院社区3号"


def test_partial_and_abbreviated_addresses_read_the_same_township_and_village() -> None:
    """What registration desks write for one home: the county's short name, no province or
    city, an estate instead of a village; each reads to the same parts or leaves one out."""
    from hub.mpi.matching.compare import compare
    from hub.mpi.matching.features import features_from_row

    def levels(a: str, b: str) -> int:
        row = {"name": "熊欣怡", "birth_date": "2023-09-30"}
        return compare(features_from_row(row | {"address": a}),
                       features_from_row(row | {"address": b}))[6]  # fmt: skip

    assert levels("湖北省宜昌市长阳土家族自治县资丘镇汪家坪村6组", "长阳县资丘镇汪家坪村第6组") == 3
    assert (
        levels("湖北省宜昌市长阳土家族自治县龙舟坪镇岩屋村四组", "宜昌市长阳县龙舟坪镇岩屋村4组")
        == 3
    )
    assert (
        levels("湖北省宜昌市西陵区夜明珠街道桂园小区1栋2单元2304", "宜昌市西陵区桂园小区1-2-2304")
        == 3
    )
    # another village of the same township stays another address
    assert levels("长阳县资丘镇汪家坪村6组", "长阳县资丘镇青龙村9组") == 2


def test_one_flat_written_two_ways_is_one_address() -> None:
    """ "28栋2单元2301" and "28-2-2301" of one estate agree, with or without the community
    or street office; another flat, another estate or another district does not."""
    from hub.mpi.matching.addresses import chinese_dwelling
    from hub.mpi.matching.compare import compare
    from hub.mpi.matching.features import features_from_row

    def levels(a: str, b: str) -> int:
        row = {"name": "刘梓铭", "birth_date": "2016-02-21"}
        return compare(features_from_row(row | {"address": a}),
                       features_from_row(row | {"address": b}))[6]  # fmt: skip

    assert chinese_dwelling("平湖社区夷陵春天28栋2单元2301") == ("陵春天", "28", "2", "2301")
    assert chinese_dwelling("阳光花园2幢1单元0603室") == ("光花园", "2", "1", "603")
    assert chinese_dwelling("7-2-704") is None  # no estate: no guess
    full = "湖北省宜昌市西陵区东湖街道平湖社区夷陵春天28栋2单元2301"
    assert levels(full, "湖北省宜昌市西陵区东湖夷陵春天28-2-2301") == 3
    assert levels(full, "北山南湖社区胜利四路120号19-4-1102") < 3
    assert levels(full, "湖北省宜昌市西陵区东湖夷陵春天28-2-2302") < 3
    assert levels(full, "湖北省宜昌市伍家岗区大公桥街道夷陵春天28-2-2301") < 3
