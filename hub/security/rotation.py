"""Key rotation: re-seal every stored value under the active field key while the hub serves.

Sealed values carry their key id (``enc:{key_id}:...`` strings, ``{key_id}:...`` blobs), so
finding the values still under an old key needs no schema: each column in ``SEALED_COLUMNS`` is
scanned in primary-key order, a batch at a time, each batch in its own short transaction.
A row is rewritten with a conditional UPDATE (its primary key, the sealed value as read and,
for current resources, the version as read): a row the hub changed in between is left alone
and read again by the next pass, so concurrent writes are never clobbered. Re-sealing only
changes ciphertext, so versions, ETags and hashes stay as they were. Running it again finds
nothing to do.

The blind index is not rotated: a ``bi:`` value carries no key id, so a changed
``HUB_BLIND_INDEX_KEY`` or ``HUB_BLIND_INDEX_ALGORITHM`` would make exact search and patient
matching miss silently until every index row were rebuilt. ``blind_index_state`` compares a
sample of stored index values with the configured key; rotation refuses while they differ.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag

from hub.db import Base
from hub.fhir.systems import RESIDENT_ID_SYSTEM
from hub.security.fields import (
    ENC_PREFIX,
    FieldCipher,
    FieldKeyError,
    identifier_blind_index,
    key_id_of,
    key_id_of_bytes,
    unseal_resource,
    walk_protected,
)

Progress = Callable[[int], None]
_SEALED_IN_JSON = re.compile(r'"enc:([^":\\]+):([A-Za-z0-9_-]*)"')


class SealedKind(StrEnum):
    JSON = "json"  # resource JSON text holding sealed string values
    TEXT = "text"  # the whole value is one sealed string
    BYTES = "bytes"  # a sealed blob


@dataclass(frozen=True)
class SealedColumn:
    table: str
    column: str
    kind: SealedKind
    guard: tuple[str, ...] = ()  # columns that must be unchanged for an update to apply

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"


SEALED_COLUMNS: tuple[SealedColumn, ...] = (
    SealedColumn("fhir_resource", "content", SealedKind.JSON, guard=("version_id",)),
    SealedColumn("fhir_resource_version", "content", SealedKind.JSON),
    SealedColumn("mpi_person", "golden", SealedKind.TEXT),
    SealedColumn("mpi_source", "features", SealedKind.TEXT),
    SealedColumn("mpi_identifier", "value", SealedKind.TEXT),
    SealedColumn("hl7_inbox", "raw", SealedKind.BYTES),
    SealedColumn("outbox", "payload", SealedKind.BYTES),
)


class BlindIndexMismatch(RuntimeError):
    """The configured blind index key or algorithm is not the one the stored index uses."""


class BlindIndexState(StrEnum):
    CONSISTENT = "consistent"
    MISMATCH = "mismatch"
    UNKNOWN = "unknown"  # nothing indexed yet


@dataclass
class ColumnRotation:
    column: str
    rotated: int = 0  # rows re-sealed
    conflicts: int = 0  # rows changed by the hub meanwhile (read again on the next pass)
    unreadable: int = 0  # rows with a value no configured key opens: left as they are


def _table(name: str) -> sa.Table:
    from hub.models import import_all_models

    import_all_models()
    return Base.metadata.tables[name]


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _under_keys(spec: SealedColumn, column: sa.ColumnElement[Any], key_ids: Sequence[str]) -> Any:
    """SQL condition: the column holds a value sealed under one of ``key_ids``."""
    if spec.kind is SealedKind.BYTES:
        return sa.or_(
            *(sa.func.substr(column, 1, len(k.encode()) + 1) == k.encode() + b":" for k in key_ids)
        )
    lead = '%"' if spec.kind is SealedKind.JSON else ""
    return sa.or_(
        *(column.like(f"{lead}{ENC_PREFIX}{_like_escape(k)}:%", escape="\\") for k in key_ids)
    )


def _any_sealed(spec: SealedColumn, column: sa.ColumnElement[Any]) -> Any:
    if spec.kind is SealedKind.BYTES:
        return column.is_not(None)
    return column.like(f"%{ENC_PREFIX}%" if spec.kind is SealedKind.JSON else f"{ENC_PREFIX}%")


def _batches(
    connect: Callable[[], Any], spec: SealedColumn, where: Any, batch_size: int
) -> Iterator[tuple[Any, list[sa.Row[Any]]]]:
    """Rows matching ``where`` in primary-key order, ``batch_size`` at a time, each batch with
    the open transaction it was read in (keyset paging: no long-running reads)."""
    table = _table(spec.table)
    keys = list(table.primary_key.columns)
    columns = [*keys, *(table.c[g] for g in spec.guard), table.c[spec.column]]
    after: tuple[Any, ...] | None = None
    while True:
        query = sa.select(*columns).where(where).order_by(*keys).limit(batch_size)
        if after is not None:
            query = query.where(
                keys[0] > after[0] if len(keys) == 1 else sa.tuple_(*keys) > sa.tuple_(*after)
            )
        with connect() as conn:
            rows = list(conn.execute(query))
            if not rows:
                return
            yield conn, rows
        after = tuple(rows[-1][: len(keys)])


def _resealed(cipher: FieldCipher, kind: SealedKind, value: Any) -> Any:
    """The value with every sealed part under the active key; raises when one cannot be opened."""
    if kind is SealedKind.BYTES:
        return cipher.reseal_bytes(bytes(value))
    if kind is SealedKind.TEXT:
        return cipher.reseal(value)
    return _SEALED_IN_JSON.sub(lambda m: f'"{cipher.reseal(m.group(0)[1:-1])}"', value)


def _rotate_pass(
    engine: sa.Engine, cipher: FieldCipher, spec: SealedColumn, batch_size: int, progress: Progress
) -> ColumnRotation:
    table = _table(spec.table)
    column = table.c[spec.column]
    keys = list(table.primary_key.columns)
    result = ColumnRotation(spec.name)
    old_keys = [k for k in cipher.keys if k != cipher.active_key_id]
    if not old_keys:
        return result
    for conn, rows in _batches(engine.begin, spec, _under_keys(spec, column, old_keys), batch_size):
        for row in rows:
            old = row[-1]
            try:
                new = _resealed(cipher, spec.kind, old)
            except (FieldKeyError, InvalidTag, ValueError):
                result.unreadable += 1
                continue
            if new == old:
                continue
            seen = [c == row[i] for i, c in enumerate(keys)]
            seen += [table.c[g] == row[len(keys) + i] for i, g in enumerate(spec.guard)]
            update = sa.update(table).where(*seen, column == old).values({spec.column: new})
            if conn.execute(update).rowcount == 1:
                result.rotated += 1
            else:
                result.conflicts += 1
        progress(len(rows))
    return result


def rows_to_rotate(engine: sa.Engine, cipher: FieldCipher) -> int:
    old_keys = [k for k in cipher.keys if k != cipher.active_key_id]
    if not old_keys:
        return 0
    total = 0
    with engine.connect() as conn:
        for spec in SEALED_COLUMNS:
            column = _table(spec.table).c[spec.column]
            query = sa.select(sa.func.count()).where(_under_keys(spec, column, old_keys))
            total += conn.execute(query).scalar_one()
    return total


def rotate_keys(
    engine: sa.Engine,
    cipher: FieldCipher,
    *,
    batch_size: int = 500,
    max_passes: int = 5,
    progress: Progress | None = None,
) -> list[ColumnRotation]:
    """Re-seal every value not under the active key, column by column; idempotent."""
    if blind_index_state(engine, cipher) is BlindIndexState.MISMATCH:
        raise BlindIndexMismatch(
            "the stored blind index was built with another HUB_BLIND_INDEX_KEY or "
            "HUB_BLIND_INDEX_ALGORITHM; restore the previous ones (changing the blind index "
            "needs a full re-index, which key rotation does not do)"
        )
    advance = progress or (lambda n: None)
    results = []
    for spec in SEALED_COLUMNS:
        total = ColumnRotation(spec.name)
        for _ in range(max_passes):
            done = _rotate_pass(engine, cipher, spec, batch_size, advance)
            total.rotated += done.rotated
            total.conflicts += done.conflicts
            total.unreadable = done.unreadable  # the last pass's count: those still left
            if not done.conflicts:
                break
        results.append(total)
    return results


def sealed_value_counts(engine: sa.Engine, *, batch_size: int = 1000) -> dict[str, Counter[str]]:
    """For every sealed column, how many values are stored under each key id."""
    counts: dict[str, Counter[str]] = {}
    for spec in SEALED_COLUMNS:
        column = _table(spec.table).c[spec.column]
        found: Counter[str] = Counter()
        for _, rows in _batches(engine.connect, spec, _any_sealed(spec, column), batch_size):
            for row in rows:
                value = row[-1]
                if spec.kind is SealedKind.BYTES:
                    found[key_id_of_bytes(bytes(value))] += 1
                elif spec.kind is SealedKind.TEXT:
                    found[key_id_of(value) or ""] += 1
                else:
                    found.update(m.group(1) for m in _SEALED_IN_JSON.finditer(value))
        found.pop("", None)
        counts[spec.name] = found
    return counts


def blind_index_state(
    engine: sa.Engine, cipher: FieldCipher, *, sample: int = 20
) -> BlindIndexState:
    """Recompute a sample of stored blind index values with the configured key and algorithm."""
    from hub.mpi.store import identifier_index

    checked = matched = 0
    xref, token, resource = (
        _table("mpi_identifier"),
        _table("search_token"),
        _table("fhir_resource"),
    )
    with engine.connect() as conn:
        for system, index, sealed in conn.execute(
            sa.select(xref.c.system, xref.c.value_index, xref.c.value).limit(sample)
        ):
            try:
                plain = cipher.decrypt(sealed)
            except (FieldKeyError, InvalidTag, ValueError):
                continue
            checked += 1
            matched += identifier_index(cipher, system, plain) == index
        query = (
            sa.select(token.c.code, resource.c.content)
            .join(resource, resource.c.rid == token.c.rid)
            .where(token.c.param == "identifier", token.c.system == RESIDENT_ID_SYSTEM,
                   token.c.code.like("bi:%"), resource.c.content.is_not(None))
            .limit(sample)
        )  # fmt: skip
        for code, content in conn.execute(query):
            try:
                stored = unseal_resource(orjson.loads(content), cipher)
            except (FieldKeyError, InvalidTag, ValueError):
                continue
            checked += 1
            matched += code in {
                identifier_blind_index(cipher, element["value"])
                for element in walk_protected(stored)
                if element.get("system") == RESIDENT_ID_SYSTEM
                and isinstance(element.get("value"), str)
            }
    if not checked:
        return BlindIndexState.UNKNOWN
    return BlindIndexState.CONSISTENT if matched == checked else BlindIndexState.MISMATCH
