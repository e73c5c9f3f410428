"""Online matching: register a source record, find and score candidates, link or queue.

One query fetches the candidates (blocking keys shared with the new record); scoring runs
in-process with the active trained model; the decision, the link event and the golden record
are written in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.mpi import store as db
from hub.mpi.feature_cache import process_cache
from hub.mpi.matching.compare import compare, query_keys, record_keys, tf_values
from hub.mpi.matching.features import MatchFeatures
from hub.mpi.matching.household import best_first, ceiling, decide, hanzi_names
from hub.mpi.matching.model import Decision, MatchModel
from hub.mpi.models import BlockKeyRow, LinkEventRow, PersonRow, ReviewRow, SourceRow
from hub.mpi.registration.id_veto import conflicts, person_resident_keys, resident_key
from hub.mpi.stewardship.links import move_sources
from hub.mpi.training.registry import active_model
from hub.security.fields import FieldCipher

MAX_CANDIDATES = 200


@dataclass(frozen=True)
class Candidate:
    person_id: int
    enterprise_id: str
    probability: float
    weight: float
    source_row: int
    # The most this candidate may be decided (hub.mpi.matching.household,
    # hub.mpi.registration.id_veto)
    ceiling: Decision = Decision.LINK


@dataclass
class MatchOutcome:
    enterprise_id: str
    decision: str  # link | review | new | unchanged | manual
    probability: float | None
    candidates: list[Candidate] = field(default_factory=list)


def find_candidates(
    session: Session,
    cipher: FieldCipher,
    model: MatchModel,
    features: MatchFeatures,
    *,
    exclude_source: int | None = None,
    limit: int = MAX_CANDIDATES,
) -> list[Candidate]:
    """Best-scoring source of each candidate person, highest probability first."""
    hashed = db.hashed_keys(cipher, query_keys(features))
    return _candidates(session, cipher, model, features, hashed, exclude_source, limit)


def _candidates(
    session: Session,
    cipher: FieldCipher,
    model: MatchModel,
    features: MatchFeatures,
    hashed: list[str],
    exclude_source: int | None,
    limit: int,
) -> list[Candidate]:
    if not hashed:
        return []
    source_ids = select(BlockKeyRow.source_row).where(BlockKeyRow.key.in_(hashed)).distinct()
    rows = session.execute(
        select(SourceRow.id, SourceRow.person_id, SourceRow.features, PersonRow.enterprise_id)
        .join(PersonRow, PersonRow.id == SourceRow.person_id)
        .where(SourceRow.id.in_(source_ids), PersonRow.status == "active")
        .limit(limit)
    ).all()
    tf = tf_values(features)
    best: dict[int, Candidate] = {}
    opened = process_cache()
    for source_id, person_id, sealed, enterprise_id in rows:
        if source_id == exclude_source:
            continue
        other = opened.open(cipher, source_id, sealed)
        levels = compare(features, other)
        weight = model.match_weight(levels, tf)
        cap = ceiling(levels, hanzi=hanzi_names(features, other))
        probability = model.match_probability(weight)
        candidate = Candidate(person_id, enterprise_id, probability, weight, source_id, cap)
        current = best.get(person_id)
        if current is None or best_first(model, candidate) > best_first(model, current):
            best[person_id] = candidate
    key = resident_key(cipher, features)
    if key is not None and best:
        held = person_resident_keys(session, best, exclude_source=exclude_source)
        for person_id, candidate in best.items():
            if conflicts(held[person_id], key):
                best[person_id] = replace(candidate, ceiling=Decision.NEW)
    return sorted(best.values(), key=lambda c: best_first(model, c), reverse=True)


def _event(
    session: Session,
    action: str,
    source: int | None,
    before: int | None,
    after: int | None,
    score: float | None,
    actor: str,
    reason: str = "",
) -> None:
    session.add(LinkEventRow(
        at=datetime.now(UTC), action=action, source_row=source, from_person=before,
        to_person=after, score=score, actor=actor[:128], reason=reason[:512],
    ))  # fmt: skip


def register_source(
    session: Session,
    cipher: FieldCipher,
    *,
    facility: str,
    source_id: str,
    patient_id: str | None,
    features: MatchFeatures,
    actor: str,
) -> MatchOutcome:
    """Link one facility registration to a person (new, updated or unchanged)."""
    now = datetime.now(UTC)
    digest = db.content_hash(features)
    existing = session.execute(
        select(SourceRow).where(SourceRow.facility == facility, SourceRow.source_id == source_id)
    ).scalar_one_or_none()
    if existing is not None and existing.content_hash == digest:
        person = session.get(PersonRow, existing.person_id)
        assert person is not None
        return MatchOutcome(person.enterprise_id, "unchanged", existing.score)
    hashed = db.hashed_keys(cipher, query_keys(features))
    db.lock_hashed(session, hashed)
    model = active_model(session)
    candidates = _candidates(session, cipher, model, features, hashed,
                             existing.id if existing else None, MAX_CANDIDATES)  # fmt: skip
    top = candidates[0] if candidates else None
    decision = decide(model, top)
    if existing is not None:
        return _update_source(session, cipher, existing, features, digest, patient_id, now, actor,
                              candidates)  # fmt: skip
    linked = decision is Decision.LINK and top is not None
    if linked:
        assert top is not None
        found = session.get(PersonRow, top.person_id)
        assert found is not None
        person, state = found, "auto"
    else:
        person = db.new_person(session, now)
        state = "review" if decision is Decision.REVIEW else "new"
    source = SourceRow(
        facility=facility, source_id=source_id[:128], patient_id=patient_id,
        person_id=person.id, state=state, score=top.probability if top else None,
        features=db.seal_features(cipher, features), content_hash=digest,
        flags=",".join(features.flags)[:255], updated=now,
    )  # fmt: skip
    session.add(source)
    session.flush()
    process_cache().remember(cipher, source.id, source.features, features)
    db.write_keys(session, cipher, source, record_keys(features), replace=False)
    db.write_identifiers(session, cipher, source, features, replace=False)
    if decision is Decision.REVIEW and top is not None:
        session.add(
            ReviewRow(
                source_row=source.id,
                candidate_person=top.person_id,
                probability=top.probability,
                status="open",
                created=now,
            )
        )
    _event(
        session,
        state if state != "auto" else "link",
        source.id,
        None,
        person.id,
        source.score,
        actor,
        f"decision {decision}",
    )
    db.refresh_golden(session, cipher, person, only=None if linked else source)
    return MatchOutcome(person.enterprise_id, str(decision), source.score, candidates[:5])


def _update_source(
    session: Session,
    cipher: FieldCipher,
    source: SourceRow,
    features: MatchFeatures,
    digest: str,
    patient_id: str | None,
    now: datetime,
    actor: str,
    candidates: list[Candidate],
) -> MatchOutcome:
    """A changed registration keeps its person; stewards move it if the change says otherwise."""
    source.features = db.seal_features(cipher, features)
    source.content_hash = digest
    source.flags = ",".join(features.flags)[:255]
    source.patient_id = patient_id or source.patient_id
    source.updated = now
    session.flush()
    process_cache().remember(cipher, source.id, source.features, features)
    db.write_keys(session, cipher, source, record_keys(features))
    db.write_identifiers(session, cipher, source, features)
    person = session.get(PersonRow, source.person_id)
    assert person is not None
    _event(session, "update", source.id, person.id, person.id, source.score, actor)
    held = person_resident_keys(session, [person.id], exclude_source=source.id)[person.id]
    if conflicts(held, resident_key(cipher, features)):
        # The change brings a valid resident ID the person's other records contradict: the
        # hard rule holds over the update too -- the record becomes a person of its own.
        alone = db.new_person(session, now)
        reason = "a changed record holds another valid resident ID"
        move_sources(session, [source], alone, action="split", at=now, actor=actor,
                     reason=reason, state="new")  # fmt: skip
        db.refresh_golden(session, cipher, person)
        db.refresh_golden(session, cipher, alone)
        return MatchOutcome(alone.enterprise_id, "new", source.score, candidates[:5])
    db.refresh_golden(session, cipher, person)
    return MatchOutcome(person.enterprise_id, "updated", source.score, candidates[:5])


def remove_source(
    session: Session, cipher: FieldCipher, facility: str, source_id: str, actor: str
) -> bool:
    source = session.execute(
        select(SourceRow).where(SourceRow.facility == facility, SourceRow.source_id == source_id)
    ).scalar_one_or_none()
    if source is None:
        return False
    person = session.get(PersonRow, source.person_id)
    _event(session, "remove", source.id, source.person_id, None, None, actor, "source deleted")
    session.delete(source)
    session.flush()
    if person is not None:
        db.refresh_golden(session, cipher, person)
    return True


def person_count(session: Session) -> int:
    return session.execute(
        select(func.count()).select_from(PersonRow).where(PersonRow.status == "active")
    ).scalar_one()
