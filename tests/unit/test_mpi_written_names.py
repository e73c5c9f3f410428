"""A written full name cut where the patient index cuts it (hub.mpi.matching.written_names), and the
bulk loader's HumanName built from it (hub.mpi.loading.csv_patient)."""

from __future__ import annotations

import pytest

from hub.fhir.systems import facility_patient_system
from hub.mpi.loading.csv_patient import CSV_COLUMNS, row_patient
from hub.mpi.matching.features import features_from_patient, features_from_row
from hub.mpi.matching.names import name_keys
from hub.mpi.matching.written_names import WrittenName, split_written_name


@pytest.mark.parametrize(
    ("text", "family", "given"),
    [
        ("李琳", "李", ("琳",)),
        ("欧阳娜娜", "欧阳", ("娜娜",)),  # compound surname
        ("司马相如", "司马", ("相如",)),
        ("欧阳 娜娜", "欧阳", ("娜娜",)),
        ("張偉", "張", ("偉",)),  # kept traditional, as written
        ("ZHANG Wei", "ZHANG", ("Wei",)),  # romanised: family first
        ("Wei ZHANG", "ZHANG", ("Wei",)),  # the one word in capitals is the family name
        ("zhang, wei", "zhang", ("wei",)),
        ("ZHANGWEI", "ZHANG", ("WEI",)),
        ("买买提·艾力", "艾力", ("买买提",)),  # dotted: given name first
        ("阿卜杜拉·买买提·艾力", "艾力", ("阿卜杜拉", "买买提")),
        ("John Paul Smith", "Smith", ("John", "Paul")),  # western: family last
        ("Müller, Hans", "Müller", ("Hans",)),
        ("李", "李", ()),
        ("  李琳 ", "李", ("琳",)),
    ],
)
def test_a_name_is_cut_where_the_index_cuts_it(
    text: str, family: str, given: tuple[str, ...]
) -> None:
    cut = split_written_name(text)
    assert cut == WrittenName(family, given)
    whole, parts = name_keys(text), name_keys(family=family, given=" ".join(given) or None)
    assert (parts.family, parts.given_syllables) == (whole.family, whole.given_syllables)


@pytest.mark.parametrize("text", ["123", "---", "  "])
def test_no_name_no_cut(text: str) -> None:
    assert split_written_name(text) is None


def _official(row: dict[str, str]) -> dict[str, object]:
    columns = frozenset(CSV_COLUMNS)
    patient = row_patient(row, columns=columns, facility="H001", patient_id="H001-1")
    local = facility_patient_system("H001")
    assert features_from_patient(patient) == features_from_row(row, local_system=local)
    name: dict[str, object] = patient["name"][0]
    return name


def test_the_loaded_name_has_family_given_and_text() -> None:
    assert _official({"source_id": "1", "name": "欧阳娜娜"}) == {
        "use": "official", "text": "欧阳娜娜", "family": "欧阳", "given": ["娜娜"],
    }  # fmt: skip


def test_the_files_parts_win() -> None:
    row = {"source_id": "1", "name": "司马相如", "family_name": "司", "given_name": "马相如"}
    assert _official(row) == {
        "use": "official", "text": "司马相如", "family": "司", "given": ["马相如"],
    }  # fmt: skip
    only_given = {"source_id": "1", "name": "李琳", "given_name": "琳"}
    assert _official(only_given) == {"use": "official", "text": "李琳", "given": ["琳"]}


def test_a_name_without_letters_stays_text() -> None:
    assert _official({"source_id": "1", "name": "123", "phone": "13900001111"}) == {
        "use": "official", "text": "123",
    }  # fmt: skip
