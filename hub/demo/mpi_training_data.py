"""Training data from the synthetic population (for the packaged model and benchmarks)."""

from __future__ import annotations

from collections.abc import Iterator

from hub.demo.registrations import generate_registrations
from hub.demo.source_records import SourceRecord
from hub.mpi.matching import MatchFeatures, features_from_row

CSV_FIELDS = ("source_id", "name", "family_name", "given_name", "gender", "birth_date",
              "id_system", "id_number", "phone", "address", "postal_code")  # fmt: skip


def record_row(record: SourceRecord) -> dict[str, str]:
    return {name: str(getattr(record, name) or "") for name in CSV_FIELDS}


def synthetic_features(people: int, *, seed: int) -> Iterator[tuple[MatchFeatures, int]]:
    """(features, true person key) of every synthetic registration."""
    for record in generate_registrations(people, seed=seed):
        yield features_from_row(record_row(record)), record.person_key
