"""The month on disk: NDJSON per resource type and ``truth.csv``; read back for loading and
scoring. Generated data belongs under a temporary or the given directory, never the repo."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from insurance.claims_audit.synth.records import Month, TruthRow

# Load order: every reference names a resource loaded before it.
RESOURCE_TYPES = (
    "Practitioner", "Patient", "Encounter", "MedicationRequest", "MedicationDispense", "Claim",
    "ClaimResponse",
)  # fmt: skip
TRUTH_COLUMNS = ("case", "rule", "kind", "variant", "claims", "encounters", "dispenses")


def write_month(month: Month, out: Path) -> dict[str, int]:
    """Write the month's files; returns resources written by type."""
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for resource_type in RESOURCE_TYPES:
        resources = month.resources.get(resource_type, [])
        with (out / f"{resource_type}.ndjson").open("wb") as file:
            for resource in resources:
                file.write(orjson.dumps(resource) + b"\n")
        counts[resource_type] = len(resources)
    with (out / "truth.csv").open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(TRUTH_COLUMNS)
        for t in month.truth:
            writer.writerow([t.case, t.rule, t.kind, t.variant, ";".join(t.claims),
                             ";".join(t.encounters), ";".join(t.dispenses)])  # fmt: skip
    return counts


def read_resources(folder: Path, resource_type: str) -> Iterator[dict[str, Any]]:
    path = folder / f"{resource_type}.ndjson"
    if not path.exists():
        return
    with path.open("rb") as file:
        for line in file:
            if line.strip():
                yield orjson.loads(line)


def read_truth(path: Path) -> list[TruthRow]:
    def ids(text: str) -> tuple[str, ...]:
        return tuple(x for x in text.split(";") if x)

    with path.open(encoding="utf-8", newline="") as file:
        return [
            TruthRow(row["case"], row["rule"], row["kind"], row["variant"], ids(row["claims"]),
                     ids(row["encounters"]), ids(row["dispenses"]))
            for row in csv.DictReader(file)
        ]  # fmt: skip


def claim_ids(folder: Path) -> frozenset[str]:
    """The ids of the month's Claims: the findings about this month name one of them."""
    return frozenset(str(c["id"]) for c in read_resources(folder, "Claim"))
