"""The writes of a registration batch: one multi-row insert per table, golden records once.

New persons are inserted with their golden record already computed (their sources are all in
the batch); stored persons that gained sources get theirs recomputed once, updated in id order
(one lock order for concurrent batches).
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from hub.mpi import store as db
from hub.mpi.feature_cache import process_cache
from hub.mpi.matching.golden import SourceView
from hub.mpi.matching.model import Decision
from hub.mpi.models import (
    BlockKeyRow,
    IdentifierRow,
    LinkEventRow,
    PersonRow,
    ReviewRow,
    SourceRow,
)
from hub.mpi.registration.batch_decisions import Choice, Option, Pending, Registration
from hub.mpi.registration.online import Candidate, MatchOutcome
from hub.security.fields import FieldCipher

_CHUNK = 2_000


def write_batch(
    session: Session,
    cipher: FieldCipher,
    items: Sequence[Registration],
    digests: Sequence[str],
    work: Sequence[Pending],
    choices: Sequence[Choice],
    now: datetime,
) -> list[MatchOutcome]:
    kinds = db.facility_kinds()
    views = [SourceView(r.facility, kinds.get(r.facility), r.source_id[:128], now, r.features)
             for r in items]  # fmt: skip
    members: defaultdict[int, list[int]] = defaultdict(list)
    for position, choice in enumerate(choices):
        members[choice.person].append(position)
    new_count = -min((c.person for c in choices), default=0)
    eids = ["YC" + secrets.token_hex(6).upper() for _ in range(new_count)]
    person_ids = _insert_ids(session, PersonRow, [
        {"enterprise_id": eid, "status": "active", "merged_into": None, "created": now,
         "updated": now,
         "golden": db.seal_golden(cipher, eid, [views[p] for p in members[-(k + 1)]])}
        for k, eid in enumerate(eids)
    ])  # fmt: skip

    def person_of(ref: int) -> int:
        return ref if ref > 0 else person_ids[-ref - 1]

    states = [_state(c) for c in choices]
    sealed = [db.seal_features(cipher, r.features) for r in items]
    source_ids = _insert_ids(session, SourceRow, [
        {"facility": r.facility, "source_id": r.source_id[:128], "patient_id": r.patient_id,
         "person_id": person_of(c.person), "state": state,
         "score": c.top.probability if c.top else None,
         "features": features, "content_hash": digest,
         "flags": ",".join(r.features.flags)[:255], "updated": now}
        for r, c, state, digest, features in zip(items, choices, states, digests, sealed,
                                                 strict=True)
    ])  # fmt: skip
    cache = process_cache()  # the batch's records are the next batches' candidates
    for r, source, features in zip(items, source_ids, sealed, strict=True):
        cache.remember(cipher, source, features, r.features)
    keys: list[dict[str, Any]] = []
    identifiers: list[dict[str, object]] = []
    events: list[dict[str, Any]] = []
    reviews: list[dict[str, Any]] = []
    for r, w, c, state, source in zip(items, work, choices, states, source_ids, strict=True):
        person = person_of(c.person)
        keys += [{"source_row": source, "key": k} for k in w.record]
        entries = db.source_identifiers(r.facility, r.source_id[:128], r.features)
        identifiers += db.identifier_rows(cipher, source, person, entries)
        score = c.top.probability if c.top else None
        events.append({"at": now, "action": "link" if state == "auto" else state,
                       "source_row": source, "from_person": None, "to_person": person,
                       "score": score, "actor": r.actor[:128],
                       "reason": f"decision {c.decision}"[:512]})  # fmt: skip
        if c.decision is Decision.REVIEW and c.top is not None:
            reviews.append({"source_row": source, "candidate_person": person_of(c.top.person),
                            "probability": c.top.probability, "status": "open",
                            "created": now})  # fmt: skip
    for table, rows in ((BlockKeyRow, keys), (IdentifierRow, identifiers),
                        (LinkEventRow, events), (ReviewRow, reviews)):  # fmt: skip
        if rows:
            session.execute(insert(table), rows)
    stored = sorted(p for p in members if p > 0)
    if stored:
        _refresh_stored(session, cipher, stored, members, views, set(source_ids), now)
    eid_of = {person_of(-(k + 1)): eid for k, eid in enumerate(eids)}

    def candidate(o: Option) -> Candidate:
        source = o.source if o.source > 0 else source_ids[-o.source - 1]
        person = person_of(o.person)
        return Candidate(person, o.enterprise_id or eid_of[person], o.probability, o.weight,
                         source, o.ceiling)  # fmt: skip

    out = []
    for c in choices:
        options = [candidate(o) for o in c.options]
        eid = eid_of.get(person_of(c.person)) or _linked_eid(c)
        score = c.top.probability if c.top else None
        out.append(MatchOutcome(eid, str(c.decision), score, options))
    return out


def _state(choice: Choice) -> str:
    if choice.decision is Decision.LINK:
        return "auto"
    return "review" if choice.decision is Decision.REVIEW else "new"


def _linked_eid(choice: Choice) -> str:
    assert choice.top is not None and choice.top.enterprise_id is not None
    return choice.top.enterprise_id


def _insert_ids(session: Session, table: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows``; their new ids in the same order."""
    if not rows:
        return []
    statement = insert(table).returning(table.id, sort_by_parameter_order=True)
    return list(session.execute(statement, rows).scalars())


def _refresh_stored(
    session: Session,
    cipher: FieldCipher,
    persons: list[int],
    members: dict[int, list[int]],
    views: list[SourceView],
    batch_sources: set[int],
    now: datetime,
) -> None:
    """Golden records of stored persons that gained sources: their stored sources + the new."""
    kinds = db.facility_kinds()
    cache = process_cache()
    sources: defaultdict[int, list[SourceView]] = defaultdict(list)
    eids: dict[int, str] = {}
    for at in range(0, len(persons), _CHUNK):
        chunk = persons[at : at + _CHUNK]
        rows = session.execute(
            select(SourceRow.id, SourceRow.person_id, SourceRow.facility, SourceRow.source_id,
                   SourceRow.updated, SourceRow.features)
            .where(SourceRow.person_id.in_(chunk))
        ).all()  # fmt: skip
        for row_id, person_id, facility, source_id, updated, sealed in rows:
            if row_id not in batch_sources:
                view = SourceView(facility, kinds.get(facility), source_id, updated,
                                  cache.open(cipher, row_id, sealed))  # fmt: skip
                sources[person_id].append(view)
        named = select(PersonRow.id, PersonRow.enterprise_id).where(PersonRow.id.in_(chunk))
        eids.update({person_id: eid for person_id, eid in session.execute(named)})
    updates = [
        {"id": p, "updated": now,
         "golden": db.seal_golden(cipher, eids[p], [*sources[p], *(views[i] for i in members[p])])}
        for p in persons
    ]  # fmt: skip
    session.execute(update(PersonRow), updates)
