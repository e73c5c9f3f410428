"""Batch registration: many facility records in one transaction (bulk loads, feeds, benches).

:func:`register_sources` decides each record as :func:`hub.mpi.registration.online.register_source`
would, but pays the database once per batch instead of once per record:

- one lock statement: the advisory locks of every blocking key of the batch, in one sorted order
  (so concurrent batches never deadlock; a very large batch takes the index-wide lock instead,
  see :func:`hub.mpi.store.lock_hashed`);
- one query for the stored sources behind the batch's keys, one for their (sealed) features,
  each candidate opened once however many records of the batch it is a candidate of;
- decisions in order, each against its stored candidates *and* the records of the batch decided
  before it (two registrations of one new person in the same file end as one person);
- one multi-row insert per table, and each touched person's golden record computed once.

Records already indexed with the same content are ``unchanged``; changed ones (and a source
given twice in one batch) go through :func:`register_source` after the batch, under the locks
already held.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from hub.mpi import store as db
from hub.mpi.feature_cache import process_cache
from hub.mpi.matching.compare import query_keys, record_keys
from hub.mpi.models import BlockKeyRow, PersonRow, SourceRow
from hub.mpi.registration.batch_decisions import Pending, Registration, StoredSource, decide_batch
from hub.mpi.registration.batch_writes import write_batch
from hub.mpi.registration.id_veto import person_resident_keys, resident_key
from hub.mpi.registration.online import MAX_CANDIDATES, MatchOutcome, register_source
from hub.mpi.training.registry import active_model
from hub.security.fields import FieldCipher

__all__ = ["Registration", "register_sources"]
_CHUNK = 2_000  # bound parameters per IN list


@dataclass
class _Stored:
    id: int
    content_hash: str
    score: float | None
    enterprise_id: str


@dataclass
class _Plan:
    fresh: list[int] = field(default_factory=list)  # positions of new sources
    later: list[int] = field(default_factory=list)  # changed or repeated: register_source
    outcomes: dict[int, MatchOutcome] = field(default_factory=dict)


def register_sources(
    session: Session, cipher: FieldCipher, items: Sequence[Registration]
) -> list[MatchOutcome]:
    """Register ``items`` in the caller's transaction; one outcome per item, in order."""
    now = datetime.now(UTC)
    digests = [db.content_hash(r.features) for r in items]
    plan = _plan(session, items, digests)
    pending = plan.fresh + plan.later
    if pending:
        query = {i: db.hashed_keys(cipher, query_keys(items[i].features)) for i in pending}
        db.lock_hashed(session, {h for hashed in query.values() for h in hashed})
        model = active_model(session)
        if plan.fresh:
            work = [
                Pending(items[i].features, query[i], db.hashed_keys(cipher, record_keys(
                    items[i].features)), resident_key(cipher, items[i].features))
                for i in plan.fresh
            ]  # fmt: skip
            stored = _stored_candidates(session, [w.query for w in work])
            opened = _open(session, cipher, [s for ids in stored for s in ids])
            held = person_resident_keys(session, {o.person_id for o in opened.values()})
            choices = decide_batch(model, work, stored, opened, held)
            outcomes = write_batch(session, cipher, [items[i] for i in plan.fresh],
                                   [digests[i] for i in plan.fresh], work, choices,
                                   now)  # fmt: skip
            plan.outcomes.update(zip(plan.fresh, outcomes, strict=True))
        for i in plan.later:
            r = items[i]
            plan.outcomes[i] = register_source(session, cipher, facility=r.facility,
                                               source_id=r.source_id, patient_id=r.patient_id,
                                               features=r.features, actor=r.actor)  # fmt: skip
    return [plan.outcomes[i] for i in range(len(items))]


def _plan(session: Session, items: Sequence[Registration], digests: list[str]) -> _Plan:
    known = _known(session, [(r.facility, r.source_id[:128]) for r in items])
    plan = _Plan()
    seen: set[tuple[str, str]] = set()
    for i, r in enumerate(items):
        key = (r.facility, r.source_id[:128])
        row = known.get(key)
        if key in seen or (row is not None and row.content_hash != digests[i]):
            plan.later.append(i)
        elif row is not None:
            plan.outcomes[i] = MatchOutcome(row.enterprise_id, "unchanged", row.score)
        else:
            plan.fresh.append(i)
        seen.add(key)
    return plan


def _known(session: Session, keys: list[tuple[str, str]]) -> dict[tuple[str, str], _Stored]:
    out: dict[tuple[str, str], _Stored] = {}
    unique = sorted(set(keys))
    for at in range(0, len(unique), _CHUNK):
        rows = session.execute(
            select(SourceRow.facility, SourceRow.source_id, SourceRow.id, SourceRow.content_hash,
                   SourceRow.score, PersonRow.enterprise_id)
            .join(PersonRow, PersonRow.id == SourceRow.person_id)
            .where(tuple_(SourceRow.facility, SourceRow.source_id).in_(unique[at : at + _CHUNK]))
        ).all()  # fmt: skip
        for facility, source_id, row_id, digest, score, enterprise_id in rows:
            out[(facility, source_id)] = _Stored(row_id, digest, score, enterprise_id)
    return out


def _stored_candidates(session: Session, queries: list[list[str]]) -> list[list[int]]:
    """Per record: the stored sources sharing its keys, most shared keys first, at most
    ``MAX_CANDIDATES`` (ties: the lowest id)."""
    wanted = sorted({h for hashed in queries for h in hashed})
    by_key: dict[str, list[int]] = {}
    for at in range(0, len(wanted), _CHUNK):
        rows = session.execute(
            select(BlockKeyRow.key, BlockKeyRow.source_row).where(
                BlockKeyRow.key.in_(wanted[at : at + _CHUNK])
            )
        ).all()
        for key, source_row in rows:
            by_key.setdefault(key, []).append(source_row)
    out: list[list[int]] = []
    for hashed in queries:
        shared: Counter[int] = Counter()
        for h in hashed:
            shared.update(by_key.get(h, ()))
        ranked = sorted(shared.items(), key=lambda item: (-item[1], item[0]))
        out.append([source_row for source_row, _ in ranked[:MAX_CANDIDATES]])
    return out


def _open(session: Session, cipher: FieldCipher, ids: list[int]) -> dict[int, StoredSource]:
    """Active stored sources by id: person, enterprise id and opened features."""
    out: dict[int, StoredSource] = {}
    unique = sorted(set(ids))
    cache = process_cache()
    for at in range(0, len(unique), _CHUNK):
        rows = session.execute(
            select(SourceRow.id, SourceRow.person_id, SourceRow.features, PersonRow.enterprise_id)
            .join(PersonRow, PersonRow.id == SourceRow.person_id)
            .where(SourceRow.id.in_(unique[at : at + _CHUNK]), PersonRow.status == "active")
        ).all()
        for row_id, person_id, sealed, enterprise_id in rows:
            out[row_id] = StoredSource(person_id, enterprise_id, cache.open(cipher, row_id, sealed))
    return out
