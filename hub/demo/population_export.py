"""Write the synthetic registrations as facility CSV files plus the ground truth.

``write_population(out_dir, people)`` produces::

    out_dir/facilities/{code}.csv     one file per facility, FACILITY_COLUMNS, what the desk typed
    out_dir/truth.csv                 facility,source_id,person_id,errors (errors joined by ';')
    out_dir/pairs_hard_negative.csv   record pairs of look-alike people (twins, namesakes)

Facility files never carry the truth. Rows are buffered per facility and appended in batches,
so memory stays bounded and only one facility file is open at a time.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hub.demo.registrations import generate_registrations
from hub.demo.source_records import SourceRecord, person_id
from hub.region.facilities import Facility, load_facilities

FACILITY_COLUMNS = (
    "source_id", "name", "family_name", "given_name", "gender", "birth_date", "id_system",
    "id_number", "phone", "address", "postal_code",
)  # fmt: skip
TRUTH_COLUMNS = ("facility", "source_id", "person_id", "errors")
PAIR_COLUMNS = (
    "kind", "facility_a", "source_id_a", "person_a", "facility_b", "source_id_b", "person_b",
)  # fmt: skip
_FLUSH_ROWS = 100_000
_PROGRESS_STEP = 1_000  # people


@dataclass(frozen=True)
class PopulationFiles:
    out_dir: Path
    people: int
    records: int
    records_with_errors: int
    facility_files: int
    twin_pairs: int  # pairs of people
    namesake_pairs: int  # pairs of people
    hard_negative_pairs: int  # pairs of records

    @property
    def facilities_dir(self) -> Path:
        return self.out_dir / "facilities"

    @property
    def truth(self) -> Path:
        return self.out_dir / "truth.csv"

    @property
    def pairs_hard_negative(self) -> Path:
        return self.out_dir / "pairs_hard_negative.csv"


def facility_row(record: SourceRecord) -> tuple[str, ...]:
    """The record as a row of its facility's file (FACILITY_COLUMNS): no truth in it."""
    r = record
    return (r.source_id, r.name, r.family_name, r.given_name, r.gender, r.birth_date,
            r.id_system, r.id_number, r.phone, r.address, r.postal_code)  # fmt: skip


def write_population(
    out_dir: Path,
    people: int,
    *,
    seed: int = 0,
    facilities: list[Facility] | None = None,
    progress: Callable[[int], None] | None = None,
) -> PopulationFiles:
    """Generate ``people`` persons' registrations into ``out_dir``; ``progress(n)`` per people."""
    registry = facilities if facilities is not None else load_facilities()
    facilities_dir = out_dir / "facilities"
    facilities_dir.mkdir(parents=True, exist_ok=True)
    buffers: dict[str, list[tuple[str, ...]]] = {f.code: [] for f in registry}
    for code, rows in buffers.items():
        _append(facilities_dir / f"{code}.csv", rows, header=True)
    lookalikes: dict[int, list[tuple[str, str]]] = {}
    relations: dict[int, tuple[str, int]] = {}
    records = with_errors = buffered = done = 0
    last_person = -1
    with (out_dir / "truth.csv").open("w", encoding="utf-8", newline="") as truth_file:
        truth = csv.writer(truth_file, lineterminator="\n")
        truth.writerow(TRUTH_COLUMNS)
        for record in generate_registrations(people, seed=seed, facilities=registry):
            records += 1
            with_errors += bool(record.errors)
            buffers[record.facility_code].append(facility_row(record))
            truth.writerow((record.facility_code, record.source_id,
                            person_id(record.person_key), ";".join(record.errors)))  # fmt: skip
            if record.counterpart is not None:
                relations[record.person_key] = (record.hard_negative, record.counterpart)
                lookalikes.setdefault(record.person_key, []).append(
                    (record.facility_code, record.source_id)
                )
            if record.person_key != last_person:
                last_person, done = record.person_key, done + 1
                if progress is not None and done % _PROGRESS_STEP == 0:
                    progress(_PROGRESS_STEP)
            buffered += 1
            if buffered >= _FLUSH_ROWS:
                _flush(facilities_dir, buffers)
                buffered = 0
    _flush(facilities_dir, buffers)
    if progress is not None and done % _PROGRESS_STEP:
        progress(done % _PROGRESS_STEP)
    pairs = _write_pairs(out_dir / "pairs_hard_negative.csv", lookalikes, relations)
    kinds = [kind for key, (kind, other) in relations.items() if key < other]
    return PopulationFiles(
        out_dir=out_dir,
        people=done,
        records=records,
        records_with_errors=with_errors,
        facility_files=len(registry),
        twin_pairs=kinds.count("twin"),
        namesake_pairs=kinds.count("common_name"),
        hard_negative_pairs=pairs,
    )


def _append(path: Path, rows: list[tuple[str, ...]], *, header: bool = False) -> None:
    with path.open("w" if header else "a", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        if header:
            writer.writerow(FACILITY_COLUMNS)
        writer.writerows(rows)


def _flush(facilities_dir: Path, buffers: dict[str, list[tuple[str, ...]]]) -> None:
    for code, rows in buffers.items():
        if rows:
            _append(facilities_dir / f"{code}.csv", rows)
            rows.clear()


def _write_pairs(
    path: Path, lookalikes: dict[int, list[tuple[str, str]]], relations: dict[int, tuple[str, int]]
) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(PAIR_COLUMNS)
        for key in sorted(relations):
            kind, other = relations[key]
            if key > other:
                continue
            for facility_a, source_a in lookalikes[key]:
                for facility_b, source_b in lookalikes.get(other, []):
                    writer.writerow((kind, facility_a, source_a, person_id(key),
                                     facility_b, source_b, person_id(other)))  # fmt: skip
                    count += 1
    return count
