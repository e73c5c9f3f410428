"""The operators' command line as a subprocess: the facility registry, ``hub seed`` against the
test database (checked through the live API), and ``hub demo`` in a directory of its own."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import httpx
import orjson
import sqlalchemy as sa

from hub.fhir.models import ResourceRow
from hub.fhir.systems import FACILITY_CODE_SYSTEM, RESIDENT_ID_SYSTEM
from hub.mpi.matching.identifiers import IdKind, parse_id
from hub.security.fields import get_cipher, unseal_resource
from tests.integration.hub_cli import run_hub

CSV_HEADER = "code,name,kind,level,district,hl7_sending_facility"


def test_facilities_csv() -> None:
    result = run_hub("facilities", "list", "--format", "csv")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == CSV_HEADER
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 729
    assert sum(row["kind"] == "hospital" for row in rows) == 127
    assert len({row["code"] for row in rows}) == 729
    h001 = next(row for row in rows if row["code"] == "H001")
    assert h001["hl7_sending_facility"] == "YC_H001"


def test_facilities_table() -> None:
    result = run_hub("facilities", "list")
    assert result.returncode == 0, result.stderr
    assert "西陵区" in result.stdout
    assert "729 facilities" in result.stdout


def _count(api: httpx.Client, resource_type: str) -> int:
    response = api.get(f"/{resource_type}", params={"_summary": "count"})
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


def test_seed_loads_the_region_once(api: httpx.Client) -> None:
    first = run_hub("seed")
    assert first.returncode == 0, first.stderr

    found = api.get("/Organization", params={"identifier": f"{FACILITY_CODE_SYSTEM}|H001"})
    assert found.status_code == 200, found.text
    organizations = [e["resource"] for e in found.json()["entry"]]
    assert [o["id"] for o in organizations] == ["H001"]
    assert organizations[0]["name"] == "宜昌市中心人民医院"
    locations = api.get("/Location", params={"organization": "Organization/H001"}).json()
    assert locations["total"] >= 1
    assert all(
        e["resource"]["managingOrganization"]["reference"] == "Organization/H001"
        for e in locations["entry"]
    )

    organizations_before = _count(api, "Organization")
    locations_before = _count(api, "Location")
    assert organizations_before >= 729
    second = run_hub("seed")
    assert second.returncode == 0, second.stderr
    assert "0 resources written" in " ".join(second.stderr.split())
    assert _count(api, "Organization") == organizations_before
    assert _count(api, "Location") == locations_before
    history = api.get("/Organization/H001/_history").json()
    assert history["total"] == 1


def _demo_environment(directory: Path) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("HUB_DATABASE_URL", "HUB_PUBLIC_BASE_URL")
    }
    env["HUB_VAR_DIR"] = str(directory / "var")
    return env


def _stored_patients(database: Path) -> list[dict[str, Any]]:
    engine = sa.create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as conn:
            contents = conn.execute(
                sa.select(ResourceRow.content).where(
                    ResourceRow.resource_type == "Patient", ResourceRow.deleted.is_(False)
                )
            ).scalars()
            cipher = get_cipher()  # the demo ran with this process's field keys
            return [unseal_resource(orjson.loads(content), cipher) for content in contents]
    finally:
        engine.dispose()


def test_demo_builds_an_embedded_hub(tmp_path: Path) -> None:
    result = run_hub(
        "demo", "--no-serve", "--residents", "50", env=_demo_environment(tmp_path), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    database = tmp_path / "var" / "hub.db"
    assert database.exists()
    assert "hub token" in result.stdout + result.stderr

    patients = _stored_patients(database)
    assert len(patients) == 50
    resident_ids = set()
    for patient in patients:
        (resident_id,) = [
            i["value"] for i in patient["identifier"] if i["system"] == RESIDENT_ID_SYSTEM
        ]
        parsed = parse_id(resident_id)  # raises unless the check digit, date and region hold
        assert parsed.kind is IdKind.RESIDENT
        assert parsed.normalized == resident_id
        assert parsed.birth_date is not None
        assert parsed.birth_date.isoformat() == patient["birthDate"]
        assert parsed.sex == patient["gender"]
        resident_ids.add(resident_id)
    assert len(resident_ids) == 50

    engine = sa.create_engine(f"sqlite:///{database}")
    with engine.connect() as conn:
        organizations = conn.execute(
            sa.select(sa.func.count())
            .select_from(ResourceRow)
            .where(ResourceRow.resource_type == "Organization")
        ).scalar_one()
    engine.dispose()
    assert organizations == 729
