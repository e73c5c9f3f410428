"""``hub mpi load / links / train / thresholds`` as a subprocess against the test database:
a realistic synthetic patient list plus hand-written edge rows, checked through the CLI, the
database and the live FHIR API, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import func, select, update

from hub.audit.models import AuditRecord
from hub.db import session_scope
from hub.demo.population_export import FACILITY_COLUMNS, write_population
from hub.fhir.models import ResourceRow
from hub.fhir.systems import RESIDENT_ID_SYSTEM, facility_patient_system
from hub.mpi.loading.csv_patient import patient_id_for
from hub.mpi.matching.identifiers import make_resident_id
from hub.mpi.matching.model import MatchModel
from hub.mpi.models import IdentifierRow, LinkEventRow, ModelRow, PersonRow, SourceRow
from hub.region.facilities import FacilityKind, load_facilities
from hub.settings import get_settings
from tests.integration.hub_cli import run_hub

LINKS_HEADER = "facility,source_id,person_id,state,score"
HEADER = ",".join(FACILITY_COLUMNS)
ID_OK = make_resident_id("420502", date(1980, 3, 2), 11, "male")
ID_BAD = ID_OK[:-1] + ("0" if ID_OK[-1] != "0" else "1")  # check digit no longer holds
EDGE_ROWS = [  # the header is row 1
    f"E-1,张伟,张,伟,男,19800302,,{ID_OK},13900001111,湖北省宜昌市西陵区西陵街道,443000",
    ",李四,李,四,M,1990-01-01,,,,,",  # row 3: no source_id
    "E-3,,,,,,,,,,",  # row 4: nothing to match on
    "E-4,王芳,王,芳,F,1990-02-30,,,13900002222,,",  # impossible date: kept, flagged
    f"E-5,赵敏,赵,敏,女,1980-03-02,,{ID_BAD},,,",  # malformed resident ID: kept, flagged
    "E-6,孙丽,孙,丽,female,19751109,,,,,",
]
EDGE_LOADED = ("E-1", "E-4", "E-5", "E-6")
EDGE_REJECTED = ["row 3: source_id: ", "row 4: record: "]


@dataclass(frozen=True)
class Load:
    path: Path
    facility: str
    source_ids: tuple[str, ...]


@dataclass(frozen=True)
class Loaded:
    loads: tuple[Load, ...]
    edge: Load
    outputs: dict[str, str]  # facility -> stdout + stderr of the first load


@pytest.fixture(scope="module", autouse=True)
def _same_settings_as_the_server(live_hub: object) -> None:
    get_settings.cache_clear()


def _hub(*args: str) -> tuple[int, str, str]:
    result = run_hub(*args)
    return result.returncode, result.stdout, " ".join(result.stderr.split())


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, database: str) -> Loaded:
    out = tmp_path_factory.mktemp("mpi-bulk")
    write_population(out / "population", 150, seed=23)
    files = sorted((out / "population" / "facilities").glob("*.csv"),
                   key=lambda f: (-f.stat().st_size, f.name))[:3]  # fmt: skip
    loads = []
    for file in files:
        with file.open(encoding="utf-8") as handle:
            ids = tuple(row["source_id"] for row in csv.DictReader(handle))
        loads.append(Load(file, file.stem, ids))
    codes = {load.facility for load in loads}
    edge_code = next(f.code for f in load_facilities()
                     if f.kind is FacilityKind.VILLAGE_CLINIC and f.code not in codes)  # fmt: skip
    edge_path = out / "edge.csv"
    edge_path.write_text("\n".join([HEADER, *EDGE_ROWS]) + "\n", encoding="utf-8")
    edge = Load(edge_path, edge_code, EDGE_LOADED)
    outputs = {}
    for load in [*loads, edge]:
        code, stdout, stderr = _hub("mpi", "load", str(load.path), "--facility", load.facility,
                                    "--batch-size", "2")  # fmt: skip
        assert code == 0, stderr
        outputs[load.facility] = stdout + "\n" + stderr
    return Loaded(tuple(loads), edge, outputs)


def _links(*facilities: str) -> list[dict[str, str]]:
    code, stdout, stderr = _hub("mpi", "links", "--format", "csv")
    assert code == 0, stderr
    assert stdout.splitlines()[0] == LINKS_HEADER
    return [row for row in csv.DictReader(io.StringIO(stdout)) if row["facility"] in facilities]


def _state(loaded: Loaded) -> dict[str, object]:
    """What a reload must leave alone: sources, persons, Patient versions, link events."""
    facilities = [load.facility for load in (*loaded.loads, loaded.edge)]
    with session_scope() as session:
        sources = session.execute(
            select(SourceRow.facility, SourceRow.source_id, SourceRow.content_hash,
                   SourceRow.person_id, SourceRow.updated)
            .where(SourceRow.facility.in_(facilities))
        ).all()  # fmt: skip
        versions = session.execute(
            select(ResourceRow.resource_id, ResourceRow.version_id).where(
                ResourceRow.resource_type == "Patient",
                ResourceRow.resource_id.in_(
                    [patient_id_for(load.facility, s) for load in loaded.loads
                     for s in load.source_ids]
                ),
            )
        ).all()  # fmt: skip
        return {
            "sources": sorted(sources),
            "versions": sorted(versions),
            "persons": session.execute(select(func.count()).select_from(PersonRow)).scalar_one(),
            "events": session.execute(select(func.count()).select_from(LinkEventRow)).scalar_one(),
        }


def test_a_load_reports_rejected_rows_and_loads_the_rest(loaded: Loaded) -> None:
    edge_output = loaded.outputs[loaded.edge.facility]
    rejected = [line for line in edge_output.splitlines() if line.startswith("row ")]
    assert [line[: len(p)] for line, p in zip(rejected, EDGE_REJECTED, strict=True)] == (
        EDGE_REJECTED
    )
    assert "6 rows: 4 created, 0 updated, 0 unchanged, 2 rejected" in edge_output
    for load in loaded.loads:
        n = len(load.source_ids)
        assert (
            f"{n} rows: {n} created, 0 updated, 0 unchanged, 0 rejected"
            in (loaded.outputs[load.facility])
        )


def test_loading_the_same_file_twice_changes_nothing(loaded: Loaded) -> None:
    facilities = [load.facility for load in (*loaded.loads, loaded.edge)]
    links, before = _links(*facilities), _state(loaded)
    for load in (*loaded.loads, loaded.edge):
        code, _, stderr = _hub("mpi", "load", str(load.path), "--facility", load.facility)
        assert code == 0, stderr
        n = len(load.source_ids)
        rejected = len(EDGE_REJECTED) if load is loaded.edge else 0
        assert f"0 created, 0 updated, {n} unchanged, {rejected} rejected" in stderr
    assert _links(*facilities) == links
    assert _state(loaded) == before


def test_links_export_has_one_row_per_loaded_record(loaded: Loaded) -> None:
    for load in (*loaded.loads, loaded.edge):
        links = _links(load.facility)
        mine = {row["source_id"]: row for row in links if row["source_id"] in load.source_ids}
        assert set(mine) == set(load.source_ids)
        for row in mine.values():
            assert row["person_id"].startswith("YC")
            assert row["state"] in ("new", "auto", "review")
            assert row["state"] == "new" or float(row["score"]) > 0
    code, stdout, stderr = _hub("mpi", "links")
    assert code == 0, stderr
    assert "source_id" in stdout and "person_id" in stdout


def test_loaded_patients_are_served_by_their_local_number(
    loaded: Loaded, api: httpx.Client
) -> None:
    for load in (*loaded.loads, loaded.edge):
        for source_id in load.source_ids[:4]:
            identifier = f"{facility_patient_system(load.facility)}|{source_id}"
            found = api.get("/Patient", params={"identifier": identifier})
            assert found.status_code == 200, found.text
            (entry,) = found.json()["entry"]
            assert entry["resource"]["id"] == patient_id_for(load.facility, source_id)
    edge = {source_id: _edge_patient(api, loaded.edge.facility, source_id)
            for source_id in EDGE_LOADED}  # fmt: skip
    assert edge["E-1"]["gender"] == "male" and edge["E-1"]["birthDate"] == "1980-03-02"
    assert {"system": RESIDENT_ID_SYSTEM, "value": ID_OK} in edge["E-1"]["identifier"]
    assert edge["E-1"]["telecom"] == [{"system": "phone", "value": "13900001111"}]
    assert edge["E-4"]["gender"] == "female" and "birthDate" not in edge["E-4"]
    assert edge["E-4"]["_birthDate"]["extension"][0]["valueString"] == "1990-02-30"
    assert {"system": RESIDENT_ID_SYSTEM, "value": ID_BAD} in edge["E-5"]["identifier"]
    assert edge["E-5"]["gender"] == "female"
    assert edge["E-6"]["birthDate"] == "1975-11-09"


def _edge_patient(api: httpx.Client, facility: str, source_id: str) -> dict[str, object]:
    response = api.get(f"/Patient/{patient_id_for(facility, source_id)}")
    assert response.status_code == 200, response.text
    patient: dict[str, object] = response.json()
    return patient


def test_flagged_values_are_kept_but_not_matched_on(loaded: Loaded) -> None:
    edge = loaded.edge.facility
    assert "1 birth_date, 1 id_number" in loaded.outputs[edge]
    with session_scope() as session:
        flags = dict(
            session.execute(
                select(SourceRow.source_id, SourceRow.flags).where(SourceRow.facility == edge)
            ).all()
        )
        assert "birth_date_unparsed" in flags["E-4"]
        assert "resident_id_invalid" in flags["E-5"]
        assert flags["E-1"] == flags["E-6"] == ""
        strong = session.execute(
            select(SourceRow.source_id, IdentifierRow.valid)
            .join(IdentifierRow, IdentifierRow.source_row == SourceRow.id)
            .where(SourceRow.facility == edge, IdentifierRow.system == RESIDENT_ID_SYSTEM)
        ).all()
    assert sorted(strong) == [("E-1", True), ("E-5", False)]


def _audit_entries(facility: str) -> list[tuple[str, str]]:
    with session_scope() as session:
        return [
            (interaction, resources)
            for interaction, resources in session.execute(
                select(AuditRecord.interaction, AuditRecord.resources)
                .where(AuditRecord.client_id == "bulk-load", AuditRecord.facility == facility)
                .order_by(AuditRecord.seq)
            )
        ]


def test_each_batch_is_audited_once(loaded: Loaded) -> None:
    edge = loaded.edge
    before = _audit_entries(edge.facility)
    assert before and {interaction for interaction, _ in before} == {"operation"}
    code, _, stderr = _hub("mpi", "load", str(edge.path), "--facility", edge.facility,
                           "--batch-size", "1")  # fmt: skip
    assert code == 0, stderr
    added = _audit_entries(edge.facility)[len(before) :]
    # four rows pass the checks: four batches of one, one entry each, naming its Patient
    assert [(i, orjson.loads(r)) for i, r in added] == [
        ("operation", [f"Patient/{patient_id_for(edge.facility, s)}"]) for s in EDGE_LOADED
    ]


@pytest.mark.parametrize(
    ("content", "facility", "message"),
    [
        ("source_id,name\nG-1,张伟\n".encode("gb18030"), None, "GB18030"),
        (b"\xef\xbb\xbfsource_id,name,nickname\nU-1,\xe5\xbc\xa0,x\n", None, "nickname"),
        (b"name,phone\n\xe5\xbc\xa0,139\n", None, "source_id"),
        (f"{HEADER}\nF-1,张伟,,,,,,,,,\n".encode(), "NOPE", "NOPE"),
        # an id_system that is no system URI: refused by name before any row is written
        (
            "source_id,name,id_system,id_number\nS-1,张伟,,420502198003020011\n"
            "S-2,李娜,医保卡,12345\n".encode(),
            None,
            "id_system '医保卡'",
        ),
    ],
    ids=["gbk", "unknown-column", "no-source-id", "unknown-facility", "unknown-id-system"],
)
def test_a_refused_file_writes_nothing(
    tmp_path: Path, database: str, content: bytes, facility: str | None, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with session_scope() as session:
        before = session.execute(select(func.count()).select_from(SourceRow)).scalar_one()
    code, _, stderr = _hub("mpi", "load", str(path), "--facility", facility or "H001")
    assert code == 2
    assert message in stderr and "not loaded" in stderr
    with session_scope() as session:
        assert session.execute(select(func.count()).select_from(SourceRow)).scalar_one() == before


def test_train_on_a_synthetic_population_writes_a_model(tmp_path: Path, database: str) -> None:
    out = tmp_path / "model.json"
    code, stdout, stderr = _hub("mpi", "train", "--synthetic", "2000", "--out", str(out))
    assert code == 0, stderr
    model = MatchModel.from_json(out.read_text(encoding="utf-8"))
    assert model.version in stdout
    assert (model.upper_threshold, model.lower_threshold) == (0.99, 0.5)
    assert model.notes["records"] > 2000
    with session_scope() as session:  # --out does not store it
        assert session.get(ModelRow, model.version) is None


@pytest.fixture
def _restore_active_model(database: str) -> Iterator[None]:
    with session_scope() as session:
        active = session.execute(
            select(ModelRow.version).where(ModelRow.active.is_(True))
        ).scalar_one_or_none()
    yield
    with session_scope() as session:
        session.execute(update(ModelRow).values(active=ModelRow.version == active))


@pytest.mark.usefixtures("_restore_active_model")
def test_thresholds_activate_a_new_model_version(database: str) -> None:
    code, stdout, stderr = _hub("mpi", "thresholds", "--upper", "0.97", "--lower", "0.4")
    assert code == 0, stderr
    with session_scope() as session:
        rows = session.execute(select(ModelRow)).scalars().all()
        (active,) = [row for row in rows if row.active]
        model = MatchModel.from_json(active.content)
    assert (model.upper_threshold, model.lower_threshold) == (0.97, 0.4)
    assert active.version in stdout and "+t" in active.version
    assert _hub("mpi", "thresholds", "--upper", "0.4", "--lower", "0.6")[0] == 2
    assert _hub("mpi", "thresholds", "--upper", "1.0")[0] == 2
