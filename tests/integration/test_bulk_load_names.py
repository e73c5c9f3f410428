"""``hub mpi load`` of a file with a ``name`` column: the Patients are found by ``family=`` and
``given=`` through the live FHIR API like names sent in parts, written as the file wrote them;
``family_name`` / ``given_name`` win over the cut of ``name``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.mpi.loading.csv_patient import patient_id_for
from hub.region.facilities import load_facilities
from tests.integration.hub_cli import run_hub

BIRTH = "1931-07-19"  # a date no other test's patients share
ROWS = {  # source_id: (name, family_name, given_name)
    "NM-1": ("李琳", "", ""),
    "NM-2": ("欧阳娜娜", "", ""),
    "NM-3": ("ZHANG Wei", "", ""),
    "NM-4": ("买买提·艾力", "", ""),
    "NM-5": ("司马相如", "司", "马相如"),  # the file's parts win over the index's cut
}


@pytest.fixture(scope="module")
def facility(live_hub: object, tmp_path_factory: pytest.TempPathFactory) -> str:
    code = load_facilities()[-1].code
    lines = ["source_id,name,family_name,given_name,gender,birth_date"]
    lines += [
        f"{sid},{name},{family},{given},F,{BIRTH}" for sid, (name, family, given) in ROWS.items()
    ]
    path = tmp_path_factory.mktemp("names") / "names.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_hub("mpi", "load", str(path), "--facility", code)
    assert result.returncode == 0, result.stderr
    return code


def _ids(api: httpx.Client, **params: str) -> set[str]:
    response = api.get("/Patient", params={"birthdate": BIRTH, **params})
    assert response.status_code == 200, response.text
    bundle: dict[str, Any] = response.json()
    return {e["resource"]["id"] for e in bundle.get("entry", [])}


def test_loaded_names_search_by_family_and_given(facility: str, api: httpx.Client) -> None:
    def pid(source_id: str) -> str:
        return patient_id_for(facility, source_id)

    assert _ids(api, family="李") == {pid("NM-1")}
    assert _ids(api, given="琳") == {pid("NM-1")}
    assert _ids(api, family="欧阳") == {pid("NM-2")}
    assert _ids(api, given="娜娜") == {pid("NM-2")}
    assert _ids(api, family="欧") == {pid("NM-2")}  # a prefix of the family, as FHIR strings do
    assert _ids(api, family="zhang", given="wei") == {pid("NM-3")}
    assert _ids(api, family="艾力", given="买买提") == {pid("NM-4")}
    assert _ids(api, family="买买提") == set()  # the dotted name's first part is the given name
    assert _ids(api, family="司", given="马相如") == {pid("NM-5")}
    assert _ids(api, family="司马") == set()  # the file's parts won
    assert _ids(api, name="李琳") == {pid("NM-1")}  # the full name is still searchable


def test_the_name_keeps_its_text_as_written(facility: str, api: httpx.Client) -> None:
    patient = api.get(f"/Patient/{patient_id_for(facility, 'NM-3')}").json()
    official = next(n for n in patient["name"] if n["use"] == "official")
    assert official == {"use": "official", "text": "ZHANG Wei", "family": "ZHANG", "given": ["Wei"]}
    dotted = api.get(f"/Patient/{patient_id_for(facility, 'NM-4')}").json()["name"][0]
    assert (dotted["text"], dotted["family"], dotted["given"]) == (
        "买买提·艾力",
        "艾力",
        ["买买提"],
    )


def test_a_reload_changes_nothing(facility: str, api: httpx.Client, tmp_path: Path) -> None:
    before = api.get(f"/Patient/{patient_id_for(facility, 'NM-1')}").json()["meta"]["versionId"]
    lines = ["source_id,name,gender,birth_date", f"NM-1,李琳,F,{BIRTH}"]
    path = tmp_path / "again.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_hub("mpi", "load", str(path), "--facility", facility)
    assert result.returncode == 0, result.stderr
    after = api.get(f"/Patient/{patient_id_for(facility, 'NM-1')}").json()["meta"]["versionId"]
    assert after == before
