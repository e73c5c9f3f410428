"""A bulk-load row as a Patient (hub.mpi.loading.csv_patient): the index reads it as it reads the
row, a reload is a no-op, and elements the file does not carry survive."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from hub.demo.population_export import write_population
from hub.fhir.systems import RESIDENT_ID_SYSTEM, facility_patient_system
from hub.fhir.validation import validate_resource
from hub.mpi.loading.csv_patient import CSV_COLUMNS, patient_id_for, row_patient, same_patient
from hub.mpi.matching.features import features_from_patient, features_from_row

ALL = frozenset(CSV_COLUMNS)


def _patient(row: dict[str, str], stored: dict[str, Any] | None = None) -> Any:
    patient_id = patient_id_for("H001", row["source_id"])
    return row_patient(row, columns=ALL, facility="H001", patient_id=patient_id, stored=stored)


def test_the_index_reads_the_patient_as_it_reads_the_row(tmp_path: Path) -> None:
    write_population(tmp_path, 60, seed=5)
    rows = 0
    for file in sorted((tmp_path / "facilities").glob("*.csv")):
        with file.open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                patient_id = patient_id_for(file.stem, row["source_id"])
                patient = row_patient(row, columns=ALL, facility=file.stem, patient_id=patient_id)
                validate_resource("Patient", patient)
                local = facility_patient_system(file.stem)
                assert features_from_patient(patient) == features_from_row(row, local_system=local)
                assert _same_again(row, patient, file.stem)
                rows += 1
    assert rows > 100


def _same_again(row: dict[str, str], patient: dict[str, Any], facility: str) -> bool:
    stored = patient | {"meta": {"versionId": "1", "lastUpdated": "x"}}
    again = row_patient(
        row, columns=ALL, facility=facility, patient_id=patient["id"], stored=stored
    )
    return same_patient(patient | {"meta": {"versionId": "3"}}, again)


def test_values_that_do_not_parse_are_kept_and_flagged() -> None:
    row = {"source_id": "A-1", "name": "张伟", "gender": "X", "birth_date": "1990-02-30",
           "id_number": "420502199002300011", "phone": "call me"}  # fmt: skip
    patient = _patient(row)
    validate_resource("Patient", patient)
    assert "birthDate" not in patient and "gender" not in patient
    assert patient["_birthDate"]["extension"][0]["valueString"] == "1990-02-30"
    assert patient["_gender"]["extension"][0]["valueString"] == "X"
    assert {"system": RESIDENT_ID_SYSTEM, "value": "420502199002300011"} in patient["identifier"]
    flags = features_from_patient(patient).flags
    assert set(flags) == {
        "resident_id_invalid", "phone_invalid", "gender_unknown", "birth_date_unparsed",
    }  # fmt: skip
    assert flags == features_from_row(row).flags


def test_accepted_spellings() -> None:
    patient = _patient(
        {"source_id": "A-2", "name": "王芳", "gender": "女", "birth_date": "19800512"}
    )
    assert (patient["gender"], patient["birthDate"]) == ("female", "1980-05-12")
    assert _patient({"source_id": "A-3", "name": "李", "gender": "M"})["gender"] == "male"


def test_a_stored_patient_keeps_what_the_file_does_not_carry() -> None:
    stored = {
        "resourceType": "Patient", "id": "api-1", "meta": {"versionId": "2", "source": "his"},
        "identifier": [{"system": "urn:insurance", "value": "INS-9"},
                       {"system": RESIDENT_ID_SYSTEM, "value": "old"}],
        "name": [{"use": "nickname", "text": "小王"}, {"use": "official", "text": "王五"}],
        "telecom": [{"system": "email", "value": "w@example.org"},
                    {"system": "phone", "value": "old"}],
        "address": [{"use": "work", "text": "office"}],
        "contact": [{"name": {"text": "王母"}}],
    }  # fmt: skip
    row = {"source_id": "A-4", "name": "王五", "phone": "13900001111"}
    patient = row_patient(row, columns=frozenset({"source_id", "name", "phone"}),
                          facility="H001", patient_id="api-1", stored=stored)  # fmt: skip
    assert patient["meta"] == {"source": "his"}
    assert patient["contact"] == stored["contact"]
    assert {"system": "urn:insurance", "value": "INS-9"} in patient["identifier"]
    assert {"system": RESIDENT_ID_SYSTEM, "value": "old"} in patient["identifier"]  # no id column
    official = {"use": "official", "text": "王五", "family": "王", "given": ["五"]}
    assert patient["name"] == [official, stored["name"][0]]
    assert patient["telecom"] == [{"system": "phone", "value": "13900001111"},
                                  {"system": "email", "value": "w@example.org"}]  # fmt: skip
    assert patient["address"] == stored["address"]
    assert stored["meta"] == {"versionId": "2", "source": "his"}  # not changed in place


def test_patient_ids_are_stable_valid_and_distinct() -> None:
    assert patient_id_for("H001", "MZ-0012.3") == "H001-MZ-0012.3"
    odd = patient_id_for("H001", "门诊/123")
    assert odd == patient_id_for("H001", "门诊/123") and odd.startswith("H001.")
    assert len(patient_id_for("H001", "x" * 128)) <= 64
    assert patient_id_for("H001", "门诊/123") != patient_id_for("H002", "门诊/123")
