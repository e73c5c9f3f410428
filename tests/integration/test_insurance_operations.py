"""Operating insurance: ``hub insurance load-coverage`` (through the store, idempotent, refusals
by row), ``hub insurance catalogue`` and ``GET /insurance/catalogue``, and a bad region policy
file stopping the hub at start."""

from __future__ import annotations

import csv
import io
import json
import os
import uuid
from datetime import date
from pathlib import Path

import httpx

from insurance.policy import load_policy
from tests.integration.booking_helpers import new_patient
from tests.integration.hub_cli import run_hub
from tests.live import LiveHub

SAMPLE = Path(__file__).parents[2] / "insurance" / "data" / "sample_policy.json"


def test_load_coverage_reports_rows_and_is_idempotent(api: httpx.Client, tmp_path: Path) -> None:
    patients = [new_patient(api) for _ in range(3)]
    tag = uuid.uuid4().hex[:8]
    lines = ["patient_id,insured_id,scheme,region,status,account_balance"]
    lines += [
        f"{p},I{tag}{n},{'UEBMI' if n else '390'},420502,,{n}.50" for n, p in enumerate(patients)
    ]
    lines.append(f"no-such-patient-{tag},I{tag}x,UEBMI,420502,,0")  # row 5
    lines.append(f"{patients[0]},I{tag}y,NOPE,420502,,0")  # row 6
    path = tmp_path / "coverage.csv"
    path.write_text("\n".join(lines) + "\n", "utf-8")

    first = run_hub("insurance", "load-coverage", str(path))
    assert first.returncode == 2, first.stderr
    assert "3 Coverages loaded, 0 already loaded, 2 rows refused" in first.stdout
    assert f"row 5: no Patient/no-such-patient-{tag}" in first.stderr
    assert "row 6: scheme" in first.stderr

    stored = api.get("/Coverage", params={"beneficiary": f"Patient/{patients[1]}"}).json()
    assert stored["total"] == 1
    coverage = stored["entry"][0]["resource"]
    assert coverage["id"] == f"cov-I{tag}1" and coverage["status"] == "active"

    again = run_hub("insurance", "load-coverage", str(path))
    assert "0 Coverages loaded, 3 already loaded, 2 rows refused" in again.stdout, again.stdout


def test_catalogue_for_operators_and_for_clients(api: httpx.Client) -> None:
    shown = run_hub("insurance", "catalogue", "--format", "csv", "--on", "2026-03-01")
    assert shown.returncode == 0, shown.stderr
    rows = list(csv.DictReader(io.StringIO(shown.stdout)))
    assert shown.stdout.splitlines()[0] == "system,code,name,class,unit_price,price_ceiling"
    version = load_policy().on(date(2026, 3, 1))
    assert [r["code"] for r in rows] == [i.code for i in version.catalogue]
    as_json = json.loads(run_hub("insurance", "catalogue", "--format", "json").stdout)
    assert len(as_json) == len(rows)

    base = str(api.base_url).rstrip("/").removesuffix("/fhir")
    answer = api.get(f"{base}/insurance/catalogue", params={"on": "2026-03-01"})
    assert answer.status_code == 200, answer.text
    bundle = answer.json()
    assert bundle["resourceType"] == "Bundle" and bundle["total"] == len(rows)
    assert {e["resource"]["resourceType"] for e in bundle["entry"]} == {"ChargeItemDefinition"}
    before_any = api.get(f"{base}/insurance/catalogue", params={"on": "1999-01-01"})
    assert before_any.status_code == 404
    assert before_any.json()["resourceType"] == "OperationOutcome"
    anonymous = httpx.get(f"{base}/insurance/catalogue")
    assert anonymous.status_code == 401


def test_a_bad_region_policy_file_stops_the_hub_naming_the_field(
    live_hub: LiveHub, tmp_path: Path
) -> None:
    data = json.loads(SAMPLE.read_text("utf-8"))
    del data["versions"][0]["catalogue"][3]["class"]
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(data), "utf-8")
    refused = run_hub(
        "insurance", "catalogue", env=dict(os.environ, HUB_INSURANCE_POLICY_FILE=str(path))
    )
    assert refused.returncode != 0
    assert "versions[0].catalogue[3].class" in refused.stderr, refused.stderr
