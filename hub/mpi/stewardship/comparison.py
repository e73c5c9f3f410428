"""A review item's pair as the model sees it: the source record against its candidate person.

Registration queued the item with the probability of the candidate person's best-scoring source
record; the review stores the person, not that record. :func:`review_comparison` scores the
item's source against each source record of the candidate person (its survivor when merged
since) with the active model, and returns the best, comparison by comparison
(:mod:`hub.mpi.matching.explain`). When the model was retrained since, the figures are the
active model's, next to the probability the item was queued with. The read is audited.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.auth.actor import Actor
from hub.mpi import store as db
from hub.mpi.errors import ReviewNotFound
from hub.mpi.matching.explain import PairScore, explain_pair
from hub.mpi.matching.household import best_first
from hub.mpi.models import PersonRow, ReviewRow, SourceRow
from hub.mpi.stewardship.links import audit_change, follow_merges
from hub.mpi.training.registry import active_model
from hub.security.fields import FieldCipher


@dataclass(frozen=True)
class RecordRef:
    facility: str
    source_id: str
    patient_id: str | None  # the FHIR Patient the record is (None: registered without one)
    enterprise_id: str  # the person it is linked to now


@dataclass(frozen=True)
class ReviewComparison:
    review_id: int
    queued_probability: float  # what registration scored when it queued the item
    model_version: str  # the model that scored ``score`` (the active one)
    source: RecordRef
    candidate: RecordRef | None  # None: the candidate person has no other record left
    score: PairScore | None


def review_comparison(
    session: Session, cipher: FieldCipher, actor: Actor, *, review_id: int
) -> ReviewComparison:
    """The item's source against the candidate person's best-scoring record; audited."""
    review = session.get(ReviewRow, review_id)
    if review is None:
        raise ReviewNotFound(review_id)
    source = session.get(SourceRow, review.source_row)
    candidate_person = session.get(PersonRow, review.candidate_person)
    assert source is not None and candidate_person is not None  # foreign keys
    current = session.get(PersonRow, source.person_id)
    assert current is not None
    target = follow_merges(session, candidate_person)
    model = active_model(session)
    features = db.open_features(cipher, source.features)
    others = session.execute(
        select(SourceRow)
        .where(SourceRow.person_id == target.id, SourceRow.id != source.id)
        .order_by(SourceRow.id)
    ).scalars()
    best: tuple[SourceRow, PairScore] | None = None
    for other in others:
        score = explain_pair(model, features, db.open_features(cipher, other.features))
        if best is None or best_first(model, score) > best_first(model, best[1]):
            best = (other, score)
    patients = sorted({p for p in (source.patient_id, best and best[0].patient_id) if p})
    audit_change(session, actor, f"review {review_id} comparison", patients, interaction="read")
    return ReviewComparison(
        review_id=review.id,
        queued_probability=review.probability,
        model_version=model.version,
        source=RecordRef(source.facility, source.source_id, source.patient_id,
                         current.enterprise_id),
        candidate=None if best is None else RecordRef(
            best[0].facility, best[0].source_id, best[0].patient_id, target.enterprise_id
        ),
        score=None if best is None else best[1],
    )  # fmt: skip
