"""The month on disk: NDJSON per resource type and ``truth.csv``; read back for loading and
scoring. Generated data belongs under a temporary or the given directory, never the repo."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from insurance.claims_audit.synth.records import Month, TruthRow

# Load order: every reference names a resource loaded before it.
RESOURCE_TYPES = (
    "Practitioner", "Patient", "Encounter", "MedicationRequest", "MedicationDispense", "Claim",
    "ClaimResponse",
)  # fmt: skip
TRUTH_COLUMNS = ("case", "rule", "kind", "variant", "claims", "encounters", "dispenses")


class MonthWriter:
    """A sink for :func:`generate_month`: appends each batch of records to its type's file;
    :meth:`finish` closes them and writes the truth."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.counts = dict.fromkeys(RESOURCE_TYPES, 0)
        self._files: dict[str, BinaryIO] = {}  # opened at the first batch: nothing on a refusal

    def _open(self) -> dict[str, BinaryIO]:
        if not self._files:
            self.out.mkdir(parents=True, exist_ok=True)
            self._files = {t: (self.out / f"{t}.ndjson").open("wb") for t in RESOURCE_TYPES}
        return self._files

    def __call__(self, resources: dict[str, list[dict[str, Any]]]) -> None:
        files = self._open()
        for resource_type, batch in resources.items():
            files[resource_type].writelines(orjson.dumps(r) + b"\n" for r in batch)
            self.counts[resource_type] += len(batch)

    def finish(self, truth: list[TruthRow]) -> dict[str, int]:
        """Close the files and write ``truth.csv``; returns resources written by type."""
        for ndjson in self._open().values():
            ndjson.close()
        with (self.out / "truth.csv").open("w", encoding="utf-8", newline="") as text:
            writer = csv.writer(text)
            writer.writerow(TRUTH_COLUMNS)
            for t in truth:
                writer.writerow([t.case, t.rule, t.kind, t.variant, ";".join(t.claims),
                                 ";".join(t.encounters), ";".join(t.dispenses)])  # fmt: skip
        return self.counts


def write_month(month: Month, out: Path) -> dict[str, int]:
    """Write a month held in memory; returns resources written by type."""
    writer = MonthWriter(out)
    writer(month.resources)
    return writer.finish(month.truth)


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
