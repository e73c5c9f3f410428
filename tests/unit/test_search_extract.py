"""Search-index extraction at write time (hub.fhir.search.extract), without a database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from hub.fhir.search.dates import MAX_DT, MIN_DT, date_range
from hub.fhir.search.extract import (
    IndexRows,
    extract_index,
    normalise_string,
    resolve_path,
    split_reference,
)
from hub.fhir.search_parameters import RESOURCE_DEFS
from hub.fhir.systems import RESIDENT_ID_SYSTEM
from hub.security.fields import FieldCipher, identifier_blind_index, phone_blind_index

BASE = "https://hub.example/fhir"
RESIDENT_ID = "42050219800302123X"
PHONE = "138 0000 1234"
UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"


@pytest.fixture(scope="module")
def cipher() -> FieldCipher:
    return FieldCipher(keys={"k1": b"k" * 32}, active_key_id="k1", blind_key=b"b" * 32)


def index(resource: dict[str, Any], cipher: FieldCipher) -> IndexRows:
    return extract_index(resource, RESOURCE_DEFS[resource["resourceType"]], cipher, BASE)


def strings(rows: IndexRows, param: str) -> set[str]:
    return {norm for name, norm, _ in rows.strings if name == param}


def exact_strings(rows: IndexRows, param: str) -> set[str]:
    return {exact for name, _, exact in rows.strings if name == param}


def tokens(rows: IndexRows, param: str) -> set[tuple[str | None, str]]:
    return {(system, code) for name, system, code in rows.tokens if name == param}


def references(rows: IndexRows, param: str) -> set[tuple[str | None, str]]:
    return {(kind, target) for name, kind, target in rows.references if name == param}


def dates(rows: IndexRows, param: str) -> set[tuple[datetime, datetime]]:
    return {(low, high) for name, low, high in rows.dates if name == param}


def patient(**extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": "p1", **extra}


# -- strings ---------------------------------------------------------------------------------


def test_chinese_name_is_indexed_by_part_and_as_family_plus_given(cipher: FieldCipher) -> None:
    rows = index(patient(name=[{"family": "张", "given": ["伟"]}]), cipher)
    assert strings(rows, "name") == {"张", "伟", "张伟"}
    assert strings(rows, "family") == {"张"}
    assert strings(rows, "given") == {"伟"}


def test_chinese_two_character_given_name_is_joined_without_space(cipher: FieldCipher) -> None:
    rows = index(patient(name=[{"family": "欧阳", "given": ["小", "明"]}]), cipher)
    assert "欧阳小明" in strings(rows, "name")


def test_western_name_is_folded_for_case_and_accents(cipher: FieldCipher) -> None:
    rows = index(
        patient(name=[{"family": "Müller", "given": ["Jürgen", "K."], "prefix": ["Dr."]}]), cipher
    )
    assert strings(rows, "name") == {"muller", "jurgen", "k.", "dr.", "jurgen k. muller"}
    assert strings(rows, "family") == {"muller"}
    # The exact form keeps the case and accents for :exact.
    assert exact_strings(rows, "family") == {"Müller"}


def test_name_text_is_indexed(cipher: FieldCipher) -> None:
    rows = index(patient(name=[{"text": "  Zhang   Wei "}]), cipher)
    assert strings(rows, "name") == {"zhang wei"}


@pytest.mark.parametrize(
    ("raw", "norm"),
    [("Müller", "muller"), ("ÉLODIE", "elodie"), ("Straße", "strasse"), ("张伟", "张伟")],
)
def test_normalise_string(raw: str, norm: str) -> None:
    assert normalise_string(raw) == norm


def test_address_parts(cipher: FieldCipher) -> None:
    address = {
        "use": "home",
        "line": ["东山大道 88 号"],
        "city": "宜昌市",
        "district": "西陵区",
        "state": "湖北省",
        "postalCode": "443000",
        "country": "CN",
    }
    rows = index(patient(address=[address]), cipher)
    assert strings(rows, "address") == {
        "东山大道 88 号",
        "宜昌市",
        "西陵区",
        "湖北省",
        "443000",
        "cn",
    }
    assert strings(rows, "address-city") == {"宜昌市"}
    assert strings(rows, "address-district") == {"西陵区"}
    assert strings(rows, "address-state") == {"湖北省"}
    assert strings(rows, "address-postalcode") == {"443000"}
    assert strings(rows, "address-country") == {"cn"}
    assert tokens(rows, "address-use") == {(None, "home")}


# -- tokens ----------------------------------------------------------------------------------


def test_identifier_tokens_keep_system_and_value(cipher: FieldCipher) -> None:
    rows = index(
        patient(
            identifier=[
                {"system": "urn:oid:1.2.3", "value": "MRN-1"},
                {"value": "no-system"},
            ]
        ),
        cipher,
    )
    assert tokens(rows, "identifier") == {("urn:oid:1.2.3", "MRN-1"), (None, "no-system")}


def test_resident_id_and_phone_are_indexed_only_blind(cipher: FieldCipher) -> None:
    resource = patient(
        identifier=[{"system": RESIDENT_ID_SYSTEM, "value": RESIDENT_ID}],
        telecom=[
            {"system": "phone", "value": PHONE, "use": "mobile"},
            {"system": "email", "value": "wei@example.cn"},
        ],
    )
    rows = index(resource, cipher)
    assert tokens(rows, "identifier") == {
        (RESIDENT_ID_SYSTEM, identifier_blind_index(cipher, RESIDENT_ID))
    }
    assert tokens(rows, "phone") == {(None, phone_blind_index(cipher, PHONE))}
    assert tokens(rows, "email") == {(None, "wei@example.cn")}
    assert tokens(rows, "telecom") == {
        (None, phone_blind_index(cipher, PHONE)),
        (None, "wei@example.cn"),
    }
    blind = [c for _, _, c in rows.tokens if c.startswith("bi:")]
    assert len(blind) == 3
    # No plaintext anywhere in the index, in any form.
    dumped = json.dumps(rows.__dict__, default=str, ensure_ascii=False)
    for secret in (RESIDENT_ID, RESIDENT_ID.lower(), PHONE, PHONE.replace(" ", ""), "0000 1234"):
        assert secret not in dumped


def test_blind_index_ignores_formatting(cipher: FieldCipher) -> None:
    assert phone_blind_index(cipher, "+86 138-0000-1234") == phone_blind_index(cipher, PHONE)
    assert identifier_blind_index(cipher, RESIDENT_ID.lower()) == identifier_blind_index(
        cipher, RESIDENT_ID
    )


def test_codeable_concept_codings(cipher: FieldCipher) -> None:
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {
            "coding": [
                {"system": LOINC, "code": "8867-4", "display": "Heart rate"},
                {"system": "urn:local", "code": "HR"},
                {"system": "urn:nocode", "display": "no code here"},
            ],
            "text": "心率",
        },
        "category": [{"coding": [{"code": "vital-signs"}]}],
    }
    rows = index(observation, cipher)
    assert tokens(rows, "code") == {(LOINC, "8867-4"), ("urn:local", "HR")}
    assert tokens(rows, "combo-code") == {(LOINC, "8867-4"), ("urn:local", "HR")}
    assert tokens(rows, "category") == {(None, "vital-signs")}
    assert tokens(rows, "status") == {(None, "final")}


def test_code_and_boolean_tokens(cipher: FieldCipher) -> None:
    rows = index(patient(gender="female", active=True), cipher)
    assert tokens(rows, "gender") == {(None, "female")}
    assert tokens(rows, "active") == {(None, "true")}


def test_meta_tags_are_tokens(cipher: FieldCipher) -> None:
    rows = index(patient(meta={"tag": [{"system": "urn:t", "code": "demo"}]}), cipher)
    assert tokens(rows, "_tag") == {("urn:t", "demo")}


# -- deceased ----------------------------------------------------------------------------------


def test_deceased_boolean(cipher: FieldCipher) -> None:
    assert tokens(index(patient(deceasedBoolean=True), cipher), "deceased") == {(None, "true")}
    assert tokens(index(patient(deceasedBoolean=False), cipher), "deceased") == {(None, "false")}


def test_deceased_date_time_means_deceased_and_is_the_death_date(cipher: FieldCipher) -> None:
    rows = index(patient(deceasedDateTime="2020-01-02T03:04:05+08:00"), cipher)
    assert tokens(rows, "deceased") == {(None, "true")}
    assert dates(rows, "death-date") == {date_range("2020-01-02T03:04:05+08:00")}


def test_no_deceased_element_means_not_deceased(cipher: FieldCipher) -> None:
    # R4: deceased is "Patient.deceased.exists() and Patient.deceased != false", so false.
    rows = index(patient(), cipher)
    assert tokens(rows, "deceased") == {(None, "false")}
    assert dates(rows, "death-date") == set()


# -- dates and periods -------------------------------------------------------------------------


def test_birth_date_is_a_day_in_the_region_zone(cipher: FieldCipher) -> None:
    rows = index(patient(birthDate="1980-03-02"), cipher)
    assert dates(rows, "birthdate") == {
        (datetime(1980, 3, 1, 16, tzinfo=UTC), datetime(1980, 3, 2, 16, tzinfo=UTC))
    }


def encounter(period: dict[str, str]) -> dict[str, Any]:
    return {"resourceType": "Encounter", "status": "finished", "period": period}


def test_closed_period(cipher: FieldCipher) -> None:
    rows = index(encounter({"start": "2024-01-01T08:00:00+08:00", "end": "2024-01-03"}), cipher)
    assert dates(rows, "date") == {
        (datetime(2024, 1, 1, 0, tzinfo=UTC), datetime(2024, 1, 3, 16, tzinfo=UTC))
    }


def test_period_without_end_is_open_to_the_future(cipher: FieldCipher) -> None:
    rows = index(encounter({"start": "2024-01-01"}), cipher)
    assert dates(rows, "date") == {(datetime(2023, 12, 31, 16, tzinfo=UTC), MAX_DT)}


def test_period_without_start_is_open_to_the_past(cipher: FieldCipher) -> None:
    rows = index(encounter({"end": "2024-01-01"}), cipher)
    assert dates(rows, "date") == {(MIN_DT, datetime(2024, 1, 1, 16, tzinfo=UTC))}


def test_choice_type_dates(cipher: FieldCipher) -> None:
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "effectivePeriod": {"start": "2024-02-01", "end": "2024-02-02"},
    }
    rows = index(observation, cipher)
    assert dates(rows, "date") == {
        (datetime(2024, 1, 31, 16, tzinfo=UTC), datetime(2024, 2, 2, 16, tzinfo=UTC))
    }


def test_unparseable_date_is_skipped(cipher: FieldCipher) -> None:
    assert dates(index(patient(birthDate="not-a-date"), cipher), "birthdate") == set()


# -- references --------------------------------------------------------------------------------


def observation_about(reference: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "subject": {"reference": reference},
        **extra,
    }


def test_relative_reference(cipher: FieldCipher) -> None:
    rows = index(observation_about("Patient/123"), cipher)
    assert references(rows, "subject") == {("Patient", "123")}
    assert references(rows, "patient") == {("Patient", "123")}


def test_reference_on_this_server_by_absolute_url(cipher: FieldCipher) -> None:
    rows = index(observation_about(f"{BASE}/Patient/123/_history/2"), cipher)
    assert references(rows, "subject") == {("Patient", "123")}


def test_foreign_absolute_url_keeps_type_and_whole_url(cipher: FieldCipher) -> None:
    url = "https://other.example/fhir/Patient/9"
    rows = index(observation_about(url), cipher)
    assert references(rows, "patient") == {("Patient", url)}


def test_targets_filter_what_a_parameter_indexes(cipher: FieldCipher) -> None:
    rows = index(observation_about("Group/g1"), cipher)
    assert references(rows, "subject") == {("Group", "g1")}
    assert references(rows, "patient") == set()  # patient only points at Patient


def test_shared_path_is_split_by_target(cipher: FieldCipher) -> None:
    appointment = {
        "resourceType": "Appointment",
        "status": "booked",
        "participant": [
            {"actor": {"reference": "Patient/p1"}, "status": "accepted"},
            {"actor": {"reference": "Practitioner/d1"}, "status": "accepted"},
        ],
    }
    rows = index(appointment, cipher)
    assert references(rows, "actor") == {("Patient", "p1"), ("Practitioner", "d1")}
    assert references(rows, "patient") == {("Patient", "p1")}
    assert references(rows, "practitioner") == {("Practitioner", "d1")}


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("Patient/1", ("Patient", "1")),
        ("Patient/1/_history/3", ("Patient", "1")),
        (f"{BASE}/Patient/1", ("Patient", "1")),
        ("https://x.example/fhir/Patient/1", ("Patient", "https://x.example/fhir/Patient/1")),
        (
            "urn:uuid:0b8b3a4e-4b1e-4d6a-9a47-1d0a4a3c2f11",
            (None, "urn:uuid:0b8b3a4e-4b1e-4d6a-9a47-1d0a4a3c2f11"),
        ),
        ("#contained", (None, "#contained")),
    ],
)
def test_split_reference(reference: str, expected: tuple[str | None, str]) -> None:
    assert split_reference(reference, BASE) == expected


# -- quantities --------------------------------------------------------------------------------


def test_quantity_value_system_and_code(cipher: FieldCipher) -> None:
    observation = observation_about(
        "Patient/1",
        valueQuantity={"value": 5.4, "unit": "mmol/L", "system": UCUM, "code": "mmol/L"},
    )
    rows = index(observation, cipher)
    assert [q for q in rows.quantities if q[0] == "value-quantity"] == [
        ("value-quantity", 5.4, UCUM, "mmol/L")
    ]
    assert [q for q in rows.quantities if q[0] == "combo-value-quantity"] == [
        ("combo-value-quantity", 5.4, UCUM, "mmol/L")
    ]


def test_quantity_without_code_falls_back_to_unit(cipher: FieldCipher) -> None:
    observation = observation_about("Patient/1", valueQuantity={"value": 120, "unit": "mmHg"})
    rows = index(observation, cipher)
    assert [q for q in rows.quantities if q[0] == "value-quantity"] == [
        ("value-quantity", 120.0, None, "mmHg")
    ]


def test_component_quantities(cipher: FieldCipher) -> None:
    observation = observation_about(
        "Patient/1",
        component=[
            {"code": {"text": "sys"}, "valueQuantity": {"value": 120, "code": "mm[Hg]"}},
            {"code": {"text": "dia"}, "valueQuantity": {"value": 80, "code": "mm[Hg]"}},
        ],
    )
    rows = index(observation, cipher)
    values = sorted(v for name, v, _, _ in rows.quantities if name == "component-value-quantity")
    assert values == [80.0, 120.0]


# -- paths and deduplication -------------------------------------------------------------------


def test_resolve_path_with_filter() -> None:
    resource = {
        "telecom": [
            {"system": "phone", "value": "1"},
            {"system": "email", "value": "a@b"},
            {"system": "phone", "value": "2"},
        ]
    }
    assert [n["value"] for n in resolve_path(resource, "telecom[system=phone]")] == ["1", "2"]
    assert resolve_path(resource, "name.family") == []


def test_the_same_value_reached_twice_is_indexed_once(cipher: FieldCipher) -> None:
    rows = index(patient(name=[{"family": "张", "given": ["伟"]}, {"family": "张"}]), cipher)
    assert [r for r in rows.strings if r[0] == "family"] == [("family", "张", "张")]


def test_id_and_last_updated_are_not_indexed(cipher: FieldCipher) -> None:
    rows = index(patient(meta={"lastUpdated": "2024-01-01T00:00:00Z"}), cipher)
    assert not [r for r in rows.tokens if r[0] == "_id"]
    assert not [r for r in rows.dates if r[0] == "_lastUpdated"]


def test_a_filter_value_may_hold_dots(cipher: FieldCipher) -> None:
    """An extension's URL names it (``extension[url=https://...].valueMoney``): the dots in the
    URL are not steps. The claims-audit findings' service day and amounts index this way."""
    url = "https://hub.example.cn/fhir/StructureDefinition/claims-audit"
    issue = {"resourceType": "DetectedIssue", "status": "preliminary", "extension": [
        {"url": f"{url}-amount-at-risk", "valueMoney": {"value": 123.45, "currency": "CNY"}},
        {"url": f"{url}-service-day", "valueDate": "2026-03-02"},
        {"url": f"{url}-review", "extension": [
            {"url": "outcome", "valueCode": "confirmed"},
            {"url": "recover", "valueMoney": {"value": 20.0, "currency": "CNY"}}]},
    ]}  # fmt: skip
    rows = extract_index(issue, RESOURCE_DEFS["DetectedIssue"], cipher)
    assert sorted((p, v) for p, v, _, _ in rows.quantities) == [
        ("amount-at-risk", 123.45), ("recover-amount", 20.0)]  # fmt: skip
    assert [(p, low) for p, low, _ in rows.dates] == [("service-day", date_range("2026-03-02")[0])]
