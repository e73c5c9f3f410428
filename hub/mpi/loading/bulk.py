"""Bulk load of a facility's existing patient list (``hub mpi load FILE.csv --facility CODE``).

The file is checked whole before anything is written (:mod:`hub.mpi.bulk_file`; a refused
file raises :class:`BulkLoadError`).

Then rows stream in transactions of ``batch_size`` rows. Each row becomes a FHIR Patient
(:mod:`hub.mpi.bulk_patient`) written through the store with a stable id: one path for search,
encryption and history. The Patient write hook collects the batch's records
(:func:`hub.mpi.hooks.deferred_registrations`) and the batch is registered in the patient index
with :func:`hub.mpi.registration.register_sources` in the same transaction: the same decisions
as one API write at a time (records of one batch are matched with each other too), one lock
statement, one candidate query and one insert per table per batch. A row that cannot be loaded
(no ``source_id``, a repeated one, nothing to match on) is reported with its row number and
column, and the other rows still load; values that do not parse (an impossible date, a malformed
resident ID) are kept, flagged and left out of matching. A row whose Patient would not change is
skipped without a write (and the index's content hash would make its registration a no-op
anyway), so loading the same file twice changes nothing. Each batch is audited as ONE entry
(interaction ``operation``) naming every Patient it wrote or compared, instead of one entry per
Patient.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.audit.service import AuditEntry, discard_pending_audit, record_access
from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.db import session_scope
from hub.errors import FhirError
from hub.fhir.store import FhirStore
from hub.fhir.system_reads import StoreSystemReads
from hub.mpi.loading.csv_file import BulkLoadError, CsvCheck, inspect_csv, records

__all__ = ["BulkLoadError", "CsvCheck", "Issue", "LoadReport", "inspect_csv", "load_csv"]
from hub.mpi.loading.csv_patient import patient_id_for, row_patient, same_patient
from hub.mpi.matching.features import EmptyRecordError, features_from_patient, features_from_row
from hub.mpi.models import SourceRow
from hub.mpi.registration.batch import register_sources
from hub.mpi.registration.patient_hook import deferred_registrations
from hub.security.fields import FieldCipher, get_cipher
from hub.settings import get_settings

LOADER_CLIENT = "bulk-load"
MAX_SOURCE_ID = 128
MATCH_COLUMNS = ("name", "family_name", "given_name", "birth_date", "id_number", "phone")
FLAG_COLUMNS = {
    "resident_id_invalid": ("id_number", "not a valid resident ID: kept, not used as an ID"),
    "phone_invalid": ("phone", "not a phone number: kept, not used for matching"),
    "gender_unknown": ("gender", "not male/female/M/F/男/女: kept as typed"),
    "birth_date_unparsed": ("birth_date", "not a date (YYYY-MM-DD or YYYYMMDD): kept as typed"),
}
_ELEMENT_COLUMNS = {
    "identifier": "id_number", "name": "name", "gender": "gender", "birthDate": "birth_date",
    "_birthDate": "birth_date", "telecom": "phone", "address": "address",
}  # fmt: skip
Progress = Callable[[int], None]


class Issue(NamedTuple):
    row: int  # line of the file where the record starts; the header is row 1
    field: str
    message: str


@dataclass
class LoadReport:
    rows: int
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Issue] = field(default_factory=list)
    flagged: list[Issue] = field(default_factory=list)  # loaded, with a value kept as typed
    persons_created: int = 0  # new enterprise ids (state new, or review pending a steward)
    linked: int = 0  # linked automatically to an existing person
    review: int = 0  # queued for a steward
    batches: int = 0
    seconds: float = 0.0

    @property
    def loaded(self) -> int:
        return self.created + self.updated + self.unchanged

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


# -- checking a row ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    number: int
    source_id: str
    values: dict[str, str]


def _check_row(
    number: int, fields: list[str], columns: tuple[str, ...], seen: dict[str, int]
) -> _Row | Issue:
    if len(fields) > len(columns) and any(f.strip() for f in fields[len(columns) :]):
        return Issue(number, "row", f"has {len(fields)} fields, the header has {len(columns)}")
    values = dict(zip(columns, fields, strict=False))
    source_id = values.get("source_id", "").strip()
    if not source_id:
        return Issue(number, "source_id", "is empty: every row needs the facility's patient number")
    if len(source_id) > MAX_SOURCE_ID or not source_id.isprintable():
        return Issue(number, "source_id", f"is not a patient number (1-{MAX_SOURCE_ID} characters)")
    if source_id in seen:
        return Issue(number, "source_id", f"repeats the patient number of row {seen[source_id]}")
    try:
        features_from_row(values)  # without the local number: is there anything to match on?
    except EmptyRecordError:
        typed = [c for c in MATCH_COLUMNS if values.get(c, "").strip()]
        if not typed:
            return Issue(number, "record", "is empty: it needs a name, birth_date, id_number "
                         "or phone besides source_id")  # fmt: skip
        return Issue(number, typed[0], "is not usable and the record has nothing else to match "
                     "on (name, birth_date, id_number or phone)")  # fmt: skip
    seen[source_id] = number
    return _Row(number, source_id, values)


def _flags(row: _Row, patient: dict[str, Any]) -> list[Issue]:
    """Values kept as typed and left out of matching, as the index reads the Patient."""
    flags = features_from_patient(patient).flags
    return [Issue(row.number, *FLAG_COLUMNS[f]) for f in flags if f in FLAG_COLUMNS]


# -- loading -----------------------------------------------------------------------------------


def loader_actor(facility: str) -> Actor:
    """The operator identity a bulk load writes as (link events say ``bulk-load@CODE``)."""
    return Actor.build(
        client_id=LOADER_CLIENT, facility=facility, role=Role.operator, scope="system/Patient.cruds"
    )


def load_csv(
    path: Path,
    facility: str,
    *,
    progress: Progress | None = None,
    batch_size: int = 500,
    cipher: FieldCipher | None = None,
) -> LoadReport:
    """Load ``path`` as ``facility``'s patient list; ``progress(n)`` after every batch."""
    if batch_size < 1:
        raise BulkLoadError("batch size must be at least 1")
    check = inspect_csv(path, facility)
    started = time.perf_counter()
    report = LoadReport(rows=check.rows)
    loader = _BatchLoader(
        facility, frozenset(check.columns), cipher or get_cipher(), get_settings().fhir_base_url
    )
    seen: dict[str, int] = {}
    batch: list[_Row] = []
    consumed = 0
    rows = records(path)
    next(rows)  # the header, checked above
    for number, fields in rows:
        consumed += 1
        checked = _check_row(number, fields, check.columns, seen)
        if isinstance(checked, Issue):
            report.rejected.append(checked)
        else:
            batch.append(checked)
        if len(batch) >= batch_size:
            loader.load(batch, report)
            batch = []
            if progress is not None:
                progress(consumed)
            consumed = 0
    if batch:
        loader.load(batch, report)
    if progress is not None and consumed:
        progress(consumed)
    report.rejected.sort()
    report.seconds = time.perf_counter() - started
    return report


@dataclass
class _BatchLoader:
    facility: str
    columns: frozenset[str]
    cipher: FieldCipher
    base_url: str

    def __post_init__(self) -> None:
        self.actor = loader_actor(self.facility)

    def load(self, batch: list[_Row], report: LoadReport) -> None:
        """One transaction: write what changed, count the links, one audit entry."""
        with session_scope() as session:
            self._write(session, batch, report)
        report.batches += 1

    def _write(self, session: Session, batch: list[_Row], report: LoadReport) -> None:
        store = FhirStore(session, self.actor, self.cipher, self.base_url)
        known: dict[str, str | None] = {
            source_id: patient_id
            for source_id, patient_id in session.execute(
                select(SourceRow.source_id, SourceRow.patient_id).where(
                    SourceRow.facility == self.facility,
                    SourceRow.source_id.in_([r.source_id for r in batch]),
                )
            )
        }
        targets = {r.source_id: known.get(r.source_id) or patient_id_for(self.facility, r.source_id)
                   for r in batch}  # fmt: skip
        with deferred_registrations() as registrations:
            counts, new_sources = self._write_rows(session, store, batch, known, targets, report)
        register_sources(session, self.cipher, registrations)  # the index, once per batch
        self._count_links(session, new_sources, report)
        report.created += counts["created"]
        report.updated += counts["updated"]
        report.unchanged += counts["unchanged"]
        self._audit(session, batch, targets, counts)

    def _write_rows(
        self,
        session: Session,
        store: FhirStore,
        batch: list[_Row],
        known: dict[str, str | None],
        targets: dict[str, str],
        report: LoadReport,
    ) -> tuple[dict[str, int], list[str]]:
        """Write the Patients that change; what happened to each row, the new source ids."""
        stored = self._stored_patients(session, sorted(set(targets.values())))
        new_sources: list[str] = []
        counts = {"created": 0, "updated": 0, "unchanged": 0, "rejected": 0}
        for row in batch:
            patient_id = targets[row.source_id]
            current = stored.get(patient_id)
            patient = row_patient(row.values, columns=self.columns, facility=self.facility,
                                  patient_id=patient_id, stored=current)  # fmt: skip
            if current is not None and row.source_id in known and same_patient(current, patient):
                counts["unchanged"] += 1
                report.flagged.extend(_flags(row, patient))
                continue
            try:
                with session.begin_nested():
                    store.update("Patient", patient_id, patient)
            except FhirError as exc:
                counts["rejected"] += 1
                report.rejected.append(Issue(row.number, _column_of(exc), exc.diagnostics[:300]))
                continue
            report.flagged.extend(_flags(row, patient))
            if row.source_id in known:
                counts["updated"] += 1
            else:
                counts["created"] += 1
                new_sources.append(row.source_id)
        return counts, new_sources

    def _stored_patients(self, session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
        return StoreSystemReads(session, self.cipher).current_many("Patient", ids)

    def _count_links(self, session: Session, source_ids: list[str], report: LoadReport) -> None:
        if not source_ids:
            return
        states = session.execute(
            select(SourceRow.state).where(
                SourceRow.facility == self.facility, SourceRow.source_id.in_(source_ids)
            )
        ).scalars()
        for state in states:
            report.linked += state == "auto"
            report.review += state == "review"
            report.persons_created += state in ("new", "review")

    def _audit(
        self,
        session: Session,
        batch: list[_Row],
        targets: dict[str, str],
        counts: dict[str, int],
    ) -> None:
        """Replace the store's per-Patient entries by one entry for the batch."""
        discard_pending_audit(session)
        patients = [targets[r.source_id] for r in batch]
        summary = ", ".join(f"{n} {what}" for what, n in counts.items())
        record_access(
            session,
            AuditEntry(
                self.actor,
                "operation",
                "Patient",
                [f"Patient/{p}" for p in patients],
                patients,
                outcome_text=f"bulk load of {len(batch)} rows for {self.facility}: {summary}",
            ),
        )


def _column_of(exc: FhirError) -> str:
    """The CSV column behind a refused Patient element (``Patient.birthDate`` -> birth_date)."""
    for expression in exc.expression or []:
        element = expression.removeprefix("Patient.").split(".")[0].split("[")[0]
        if element in _ELEMENT_COLUMNS:
            return _ELEMENT_COLUMNS[element]
    return "record"
