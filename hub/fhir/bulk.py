"""Bulk creation of new resources, for seeding large volumes (``hub seed --bulk``, bench/).

This is a trusted operator tool, not an API path. It writes exactly the rows ``FhirStore.create``
would write for each resource -- the same id and ``meta`` stamping, protected values sealed by
``seal_resource``, the ``extract_index`` rows, a version row (method ``POST``) -- but many
resources per statement: PostgreSQL ``COPY`` through the session's own psycopg connection, and
``executemany`` on other databases. Everything happens in the caller's transaction.

Because the caller is an operator loading data it generated or vetted itself, per-resource
steps of the API path are left out on purpose:

* validation with fhir.resources (opt in with ``validate=True``); the resource type, the ids and
  the caller's scopes are still checked;
* one audit record per resource: the whole call is recorded as ONE audit entry (interaction
  ``create``, every resource and patient it touched), written through ``hub.audit.service`` in
  the same transaction as the rows;
* the services' write hooks (hub.fhir.write_hooks: the patient index registers every Patient
  there), unless ``write_hooks=True``. Without them, bulk-loaded Patients are stored, searchable and
  audited, but not in the master patient index; with them, each resource costs what the hooks
  cost, however fast its own rows are written. The derived-data hooks (the consent summary)
  run either way.

Ids must be new: a resource without an ``id`` gets a UUID, and an id already stored (or given
twice) raises ``Conflict`` before anything is written.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from hub.audit.service import AuditEntry, flush_pending_audit, record_access
from hub.auth.actor import Actor
from hub.auth.scopes import Interaction
from hub.errors import Conflict, InvalidRequest
from hub.fhir import access
from hub.fhir.models import (
    DateIndex,
    QuantityIndex,
    ReferenceIndex,
    ResourceRow,
    ResourceVersionRow,
    StringIndex,
    TokenIndex,
)
from hub.fhir.references import check_batch_references, enforced_for
from hub.fhir.search.extract import extract_index
from hub.fhir.store import FhirStore, check_id
from hub.fhir.validation import validate_resource
from hub.fhir.write_hooks import WriteKind, run_derived_hooks, run_write_hooks
from hub.security.fields import FieldCipher

# Column order of each table's rows, as the store fills them (see FhirStore.write_index).
_COLUMNS: dict[Any, tuple[str, ...]] = {
    ResourceRow: (
        "rid",
        "resource_type",
        "resource_id",
        "version_id",
        "last_updated",
        "deleted",
        "content",
    ),
    ResourceVersionRow: (
        "rid",
        "version_id",
        "resource_type",
        "resource_id",
        "last_updated",
        "method",
        "content",
    ),
    TokenIndex: ("rid", "resource_type", "param", "system", "code"),
    StringIndex: ("rid", "resource_type", "param", "value_norm", "value_exact"),
    DateIndex: ("rid", "resource_type", "param", "low", "high"),
    ReferenceIndex: ("rid", "resource_type", "param", "target_type", "target_id"),
    QuantityIndex: ("rid", "resource_type", "param", "value", "system", "code"),
}
_INDEX_TABLES = (TokenIndex, StringIndex, DateIndex, ReferenceIndex, QuantityIndex)


@dataclass
class _Prepared:
    """One batch, stamped and sealed, with its index rows (rid filled in at write time)."""

    ids: list[str] = field(default_factory=list)
    contents: list[str] = field(default_factory=list)
    index: list[list[tuple[Any, ...]]] = field(default_factory=list)  # per resource: rows
    patients: list[str] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)  # stamped, plaintext


def bulk_create(
    session: Session,
    resource_type: str,
    resources: Iterable[dict[str, Any]],
    *,
    actor: Actor,
    cipher: FieldCipher,
    base_url: str = "",
    validate: bool = False,
    write_hooks: bool = False,
) -> list[str]:
    """Create ``resources`` (all new, all of ``resource_type``); return their ids in order."""
    store = FhirStore(session, actor, cipher, base_url)
    access.require(actor, resource_type, Interaction.create)
    now = datetime.now(UTC)
    batch = _prepare(store, resource_type, resources, now, validate)
    if not batch.ids:
        return []
    _refuse_existing(session, resource_type, batch.ids)
    if enforced_for(actor.facility):  # no dangling local references, as on every write path
        loaded = frozenset(f"{resource_type}/{i}" for i in batch.ids)
        check_batch_references(session, batch.bodies, base_url, also_existing=loaded)
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        _write_postgres(session, resource_type, batch, now)
    else:
        _write_generic(session, resource_type, batch, now)
    record_access(
        session,
        AuditEntry(
            actor,
            "create",
            resource_type,
            [f"{resource_type}/{rid}" for rid in batch.ids],
            batch.patients,
            outcome_text=f"bulk load of {len(batch.ids)} {resource_type} (operator tool)",
        ),
    )
    run_hooks = run_write_hooks if write_hooks else run_derived_hooks  # derived rows: always
    for body in batch.bodies:
        run_hooks(store, WriteKind.CREATE, resource_type, body)
    flush_pending_audit(session)
    analyze_if_never_analyzed(session)
    return batch.ids


def _prepare(
    store: FhirStore,
    resource_type: str,
    resources: Iterable[dict[str, Any]],
    now: datetime,
    validate: bool,
) -> _Prepared:
    definition = store.writable_definition(resource_type)
    batch = _Prepared()
    seen: set[str] = set()
    for source in resources:
        if source.get("resourceType") != resource_type:
            raise InvalidRequest(f"a bulk load of {resource_type} got another resource type")
        body = dict(source)
        resource_id = str(body.get("id") or uuid.uuid4())
        check_id(resource_id)
        if resource_id in seen:
            raise Conflict(f"{resource_type}/{resource_id} is given twice")
        seen.add(resource_id)
        body["id"] = resource_id
        if validate:
            validate_resource(resource_type, body)
        store.authorize_create(resource_type, body)
        batch.contents.append(store.stamp(body, 1, now))
        batch.ids.append(resource_id)
        rows = extract_index(body, definition, store.cipher, store.base_url)
        batch.index.append(
            [
                *((TokenIndex, p, s, c) for p, s, c in rows.tokens),
                *((StringIndex, p, n, e) for p, n, e in rows.strings),
                *((DateIndex, p, lo, hi) for p, lo, hi in rows.dates),
                *((ReferenceIndex, p, t, i) for p, t, i in rows.references),
                *((QuantityIndex, p, v, s, c) for p, v, s, c in rows.quantities),
            ]
        )
        batch.patients.extend(access.patients_of(body, definition, store.base_url))
        batch.bodies.append(body)
    return batch


def _refuse_existing(session: Session, resource_type: str, ids: Sequence[str]) -> None:
    for start in range(0, len(ids), 1000):
        clash = session.execute(
            select(ResourceRow.resource_id)
            .where(
                ResourceRow.resource_type == resource_type,
                ResourceRow.resource_id.in_(ids[start : start + 1000]),
            )
            .limit(1)
        ).scalar_one_or_none()
        if clash is not None:
            raise Conflict(f"{resource_type}/{clash} already exists")


def _table_rows(
    resource_type: str, batch: _Prepared, rids: Sequence[int], now: datetime
) -> dict[Any, list[tuple[Any, ...]]]:
    """Every row to write, per table, in the columns of ``_COLUMNS``."""
    out: dict[Any, list[tuple[Any, ...]]] = {table: [] for table in _COLUMNS}
    resources, versions = out[ResourceRow], out[ResourceVersionRow]
    for rid, resource_id, content, index in zip(
        rids, batch.ids, batch.contents, batch.index, strict=True
    ):
        resources.append((rid, resource_type, resource_id, 1, now, False, content))
        versions.append((rid, 1, resource_type, resource_id, now, "POST", content))
        for table, *values in index:
            out[table].append((rid, resource_type, *values))
    return out


def _write_postgres(session: Session, resource_type: str, batch: _Prepared, now: datetime) -> None:
    table_name = ResourceRow.__tablename__
    rids = sorted(
        session.execute(
            text(
                f"SELECT nextval(pg_get_serial_sequence('{table_name}', 'rid')) "
                "FROM generate_series(1, :n)"
            ),
            {"n": len(batch.ids)},
        ).scalars()
    )
    driver: Any = session.connection().connection.driver_connection
    with driver.cursor() as cursor:
        for table, rows in _table_rows(resource_type, batch, rids, now).items():
            if not rows:
                continue
            columns = ", ".join(_COLUMNS[table])
            with cursor.copy(f"COPY {table.__tablename__} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)


def _write_generic(session: Session, resource_type: str, batch: _Prepared, now: datetime) -> None:
    resource_columns = _COLUMNS[ResourceRow][1:]  # the database assigns rid
    result = session.execute(
        insert(ResourceRow).returning(ResourceRow.rid, sort_by_parameter_order=True),
        [
            dict(
                zip(
                    resource_columns,
                    (resource_type, resource_id, 1, now, False, content),
                    strict=True,
                )
            )
            for resource_id, content in zip(batch.ids, batch.contents, strict=True)
        ],
    )
    rids = list(result.scalars())
    rows = _table_rows(resource_type, batch, rids, now)
    for table in (ResourceVersionRow, *_INDEX_TABLES):
        if rows[table]:
            columns = _COLUMNS[table]
            session.execute(
                insert(table), [dict(zip(columns, row, strict=True)) for row in rows[table]]
            )


def bulk_tables() -> list[str]:
    """The tables a bulk load writes (audit tables aside)."""
    return [table.__tablename__ for table in _COLUMNS]


def analyze_tables(session: Session) -> None:
    """Refresh the planner's statistics after a large load (PostgreSQL; a no-op elsewhere)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(text(f"ANALYZE {', '.join(bulk_tables())}"))


def analyze_if_never_analyzed(session: Session) -> None:
    """Statistics for tables that have none (a new database's first load, PostgreSQL).

    Without any, the planner takes the index tables for nearly empty, and a search with two
    conditions on one parameter (``date=ge..&date=lt..``) became a nested loop over every row of
    the type: 34 s at 10,000 Observations, 17 ms once analyzed. Autovacuum gives statistics
    about a minute later; the searches that follow a load (a day's claims audit) cannot wait.
    Later loads leave it to autovacuum: stale statistics are not empty ones."""
    if session.get_bind().dialect.name != "postgresql" or session.info.get(_ANALYZED):
        return
    never = session.execute(
        text(
            "SELECT count(*) FROM pg_stat_user_tables WHERE relname = ANY(:tables) "
            "AND last_analyze IS NULL AND last_autoanalyze IS NULL"
        ),
        {"tables": bulk_tables()},
    ).scalar_one()
    if never:
        analyze_tables(session)
    # The server's statistics views may not show it before this transaction ends: this
    # session's next batches do not ask again.
    session.info[_ANALYZED] = True


_ANALYZED = "hub.fhir.bulk.analyzed"
