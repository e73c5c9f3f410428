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
from insurance.coverage_csv import CoverageRow, RefusedRow, coverage_id
from insurance.policy import Scheme
from insurance.resources import coverage_resource

BATCH = 2000
DEMO_REGION = "420502"
DEMO_BALANCE_FEN = 50_000  # 500 yuan in every demo resident's personal account


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


def _demo_coverage(patient_id: str, index: int) -> CoverageRow:
    """Every other resident an employee (UEBMI), the rest residents' insurance (URRBMI)."""
    scheme = Scheme.UEBMI if index % 2 == 0 else Scheme.URRBMI
    insured = f"demo-{patient_id}"
    body = coverage_resource(patient_id, scheme, DEMO_REGION, DEMO_BALANCE_FEN, insured)
    return CoverageRow(index, patient_id, dict(body, id=coverage_id(insured)))


def seed_demo_coverages() -> int:
    """A Coverage for each synthetic resident without one (``hub seed`` / ``hub demo``):
    ids only are read, and only the missing Coverages are written, so a restart costs a query."""
    settings = get_settings()
    with session_scope() as session:
        store = FhirStore(session, SYSTEM_ACTOR, get_cipher(), settings.fhir_base_url)
        residents = sorted(p for p in store.system.ids("Patient") if p.startswith("res-"))
        have = store.system.ids("Coverage")
    missing = [
        _demo_coverage(patient, index)
        for index, patient in enumerate(residents)
        if coverage_id(f"demo-{patient}") not in have
    ]
    return load_coverages(missing).loaded if missing else 0
