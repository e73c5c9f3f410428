"""The rows one resource write changes, in ONE statement on PostgreSQL.

A create writes the resource row, its first version row and up to five kinds of search-index
rows; an update also clears the old index rows; a delete clears them. Statement by statement that
is up to eleven round trips, and the profile of HL7 v2 processing showed the worker waiting on
them more than computing (``bench/hl7_processing_profile.py``). On PostgreSQL the same rows are
written by one statement of data-modifying CTEs: the index rows travel as arrays (``unnest``),
so the statement has one fixed shape per operation, prepared once by the server.

Why this is the same write as the statement-by-statement path (which other databases keep):
- all CTEs of a statement see the snapshot taken before it, so an update's ``DELETE`` of the
  resource's index rows removes exactly the old rows, never the new ones inserted beside it;
- the index and version rows' foreign keys to the resource row are checked at the end of the
  statement, when the row inserted by the first CTE exists;
- the content is sent once and copied into the version row from the resource row's ``RETURNING``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from hub.fhir.models import ResourceRow
from hub.fhir.search.extract import IndexRows

# Each index table: (name, columns after rid and resource_type, their PostgreSQL array types).
_INDEX_TABLES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("search_token", ("param", "system", "code"), ("text[]", "text[]", "text[]")),
    ("search_string", ("param", "value_norm", "value_exact"), ("text[]", "text[]", "text[]")),
    ("search_date", ("param", "low", "high"), ("text[]", "timestamptz[]", "timestamptz[]")),
    ("search_reference", ("param", "target_type", "target_id"), ("text[]", "text[]", "text[]")),
    (
        "search_quantity",
        ("param", "value", "system", "code"),
        ("text[]", "float8[]", "text[]", "text[]"),
    ),
)


def _index_inserts(rid_source: str) -> str:
    """One CTE per index table inserting the arrays' rows for the rid ``rid_source`` selects."""
    ctes = []
    for table, columns, types in _INDEX_TABLES:
        arrays = ", ".join(
            f"CAST(:{table}_{column} AS {type_})"
            for column, type_ in zip(columns, types, strict=True)
        )
        listed = ", ".join(columns)
        selected = ", ".join(f"u.{column}" for column in columns)
        ctes.append(
            f"i_{table} AS (INSERT INTO {table} (rid, resource_type, {listed}) "
            f"SELECT w.rid, :resource_type, {selected} FROM {rid_source} w, "
            f"unnest({arrays}) AS u({listed}))"
        )
    return ",\n".join(ctes)


def _index_deletes() -> str:
    return ",\n".join(
        f"d_{table} AS (DELETE FROM {table} WHERE rid = :rid)" for table, _, _ in _INDEX_TABLES
    )


_VERSION_FROM = (
    "v AS (INSERT INTO fhir_resource_version "
    "(rid, version_id, resource_type, resource_id, last_updated, method, content) "
    "SELECT w.rid, w.version_id, :resource_type, :resource_id, w.last_updated, :method, w.content "
    "FROM w)"
)
_RETURNED = "RETURNING rid, version_id, last_updated, content"

_CREATE = text(
    "WITH w AS (INSERT INTO fhir_resource "
    "(resource_type, resource_id, version_id, last_updated, deleted, content) "
    f"VALUES (:resource_type, :resource_id, :version_id, :now, false, :content) {_RETURNED}),\n"
    f"{_VERSION_FROM},\n{_index_inserts('w')}\nSELECT rid FROM w"
)
_UPDATE = text(
    "WITH w AS (UPDATE fhir_resource SET version_id = :version_id, last_updated = :now, "
    f"deleted = false, content = :content WHERE rid = :rid {_RETURNED}),\n"
    f"{_VERSION_FROM},\n{_index_deletes()},\n{_index_inserts('w')}\nSELECT rid FROM w"
)
_DELETE = text(
    "WITH w AS (UPDATE fhir_resource SET version_id = :version_id, last_updated = :now, "
    f"deleted = true, content = NULL WHERE rid = :rid {_RETURNED}),\n"
    f"{_VERSION_FROM},\n{_index_deletes()}\nSELECT rid FROM w"
)


def _index_arrays(rows: IndexRows) -> dict[str, list[Any]]:
    """The index rows as one array per column, named as the statements' parameters."""
    by_table: dict[str, list[tuple[Any, ...]]] = {
        "search_token": list(rows.tokens),
        "search_string": list(rows.strings),
        "search_date": list(rows.dates),
        "search_reference": list(rows.references),
        # One array type per column: a quantity's value may come as an int.
        "search_quantity": [(p, float(v), s, c) for p, v, s, c in rows.quantities],
    }
    params: dict[str, list[Any]] = {}
    for table, columns, _ in _INDEX_TABLES:
        values = by_table[table]
        for position, column in enumerate(columns):
            params[f"{table}_{column}"] = [value[position] for value in values]
    return params


def insert_resource(
    session: Session,
    *,
    resource_type: str,
    resource_id: str,
    now: datetime,
    content: str,
    index: IndexRows,
) -> int:
    """Create: the resource row (version 1), its version row and its index rows; the new rid."""
    params = {
        "resource_type": resource_type,
        "resource_id": resource_id,
        "version_id": 1,
        "now": now,
        "content": content,
        "method": "POST",
    }
    rid: int = session.execute(_CREATE, params | _index_arrays(index)).scalar_one()
    return rid


@dataclass(frozen=True)
class NewVersion:
    """Which stored resource gets its next version, and when."""

    rid: int
    resource_type: str
    resource_id: str
    version: int
    now: datetime

    def params(self, method: str) -> dict[str, Any]:
        return {
            "rid": self.rid,
            "resource_type": self.resource_type,
            "resource_id": self.resource_id,
            "version_id": self.version,
            "now": self.now,
            "method": method,
        }


def replace_resource(session: Session, target: NewVersion, content: str, index: IndexRows) -> None:
    """Update: the new current content, its version row, the old index rows replaced."""
    params = target.params("PUT") | {"content": content}
    session.execute(_UPDATE, params | _index_arrays(index)).scalar_one()
    _refresh_loaded_row(session, target, content)


def delete_resource(session: Session, target: NewVersion) -> None:
    """Delete: the row marked deleted (no content), a deletion version row, no index rows."""
    session.execute(_DELETE, target.params("DELETE")).scalar_one()
    _refresh_loaded_row(session, target, None)


def _refresh_loaded_row(session: Session, target: NewVersion, content: str | None) -> None:
    """What the ORM's own UPDATE does for a row this session has loaded: a later read of it in
    the same transaction (a search, the next message of a batch) must see the new version."""
    row = session.identity_map.get(session.identity_key(ResourceRow, (target.rid,)))
    if isinstance(row, ResourceRow):
        for name, value in (
            ("version_id", target.version),
            ("last_updated", target.now),
            ("deleted", content is None),
            ("content", content),
        ):
            set_committed_value(row, name, value)
