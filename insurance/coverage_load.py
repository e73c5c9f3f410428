"""Loading Coverages in bulk through the store's bulk path (``hub.fhir.bulk``: authorized,
audited once per batch, COPY on PostgreSQL). Idempotent: a Coverage already stored under its
derived id is left as it is, so a re-run of the same file loads nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from hub.auth.actor import SYSTEM_ACTOR
from hub.db import session_scope
from hub.fhir.bulk import bulk_create
from hub.fhir.store import FhirStore
from hub.security.fields import get_cipher
from hub.settings import get_settings
from insurance.coverage_csv import CoverageRow, RefusedRow

BATCH = 2000


@dataclass
class LoadReport:
    loaded: int = 0
    already_loaded: int = 0
    refused: list[RefusedRow] = field(default_factory=list)


def _load_batch(batch: list[CoverageRow], report: LoadReport) -> None:
    settings, cipher = get_settings(), get_cipher()
    with session_scope() as session:
        store = FhirStore(session, SYSTEM_ACTOR, cipher, settings.fhir_base_url)
        ids = [r.coverage["id"] for r in batch]
        stored = store.system.current_many("Coverage", ids)
        patients = store.system.current_many("Patient", [r.patient_id for r in batch])
        new = []
        for row in batch:
            if row.coverage["id"] in stored:
                report.already_loaded += 1
            elif row.patient_id not in patients:
                report.refused.append(RefusedRow(row.row, f"no Patient/{row.patient_id}"))
            else:
                new.append(row.coverage)
        if new:
            bulk_create(
                session,
                "Coverage",
                new,
                actor=SYSTEM_ACTOR,
                cipher=cipher,
                base_url=settings.fhir_base_url,
                validate=True,
            )
        report.loaded += len(new)


def load_coverages(
    rows: Iterable[CoverageRow | RefusedRow], progress: Callable[[int], None] | None = None
) -> LoadReport:
    """Store the parsed rows' Coverages, ``BATCH`` per transaction; refusals are reported."""
    report = LoadReport()
    batch: list[CoverageRow] = []
    for row in rows:
        if isinstance(row, RefusedRow):
            report.refused.append(row)
            continue
        batch.append(row)
        if len(batch) >= BATCH:
            _load_batch(batch, report)
            if progress:
                progress(len(batch))
            batch = []
    if batch:
        _load_batch(batch, report)
        if progress:
            progress(len(batch))
    report.refused.sort(key=lambda r: r.row)
    return report
