"""The review queue of the patient index: pairs the model was unsure of, for a steward.

Registration (hub.mpi.registration.online) queues a review between the model's thresholds. A
steward claims an item and resolves it: ``match`` moves the source to the candidate person,
``no-match`` keeps it apart. An explicit link change on a source answers its open items
(:func:`supersede_reviews`). Each step is audited in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from hub.auth.actor import Actor
from hub.mpi.errors import (
    InvalidLinkRequest,
    LinkConflict,
    ReviewClaimed,
    ReviewClosed,
    ReviewNotFound,
)
from hub.mpi.models import PersonRow, ReviewRow, SourceRow
from hub.mpi.registration.id_veto import person_resident_keys, source_resident_keys
from hub.mpi.stewardship.links import (
    actor_label,
    add_event,
    audit_change,
    follow_merges,
    lock_persons,
    move_sources,
    patient_ids,
    refuse_conflicting_ids,
    require_reason,
    settle,
)
from hub.security.fields import FieldCipher

__all__ = [
    "MAX_PAGE", "ReviewItem", "ReviewPage", "claim_review", "list_reviews", "resolve_review",
    "review_item", "supersede_reviews",
]  # fmt: skip

ReviewStatus = Literal["open", "claimed", "resolved"]
Resolution = Literal["match", "no-match"]
MAX_PAGE = 200


@dataclass(frozen=True)
class ReviewItem:
    id: int
    status: str
    probability: float
    created: datetime
    claimed_by: str | None
    resolution: str | None
    resolved_at: datetime | None
    facility: str
    source_id: str
    patient_id: str | None
    enterprise_id: str  # the person the source is linked to now
    candidate_enterprise_id: str  # the person it may be (its survivor, if merged since)


@dataclass(frozen=True)
class ReviewPage:
    total: int
    items: list[ReviewItem]


# -- the review queue ------------------------------------------------------------------------


def list_reviews(
    session: Session,
    actor: Actor,
    *,
    status: ReviewStatus | None = "open",
    limit: int = 50,
    offset: int = 0,
) -> ReviewPage:
    conds = [ReviewRow.status == status] if status else []
    total = session.execute(select(func.count()).select_from(ReviewRow).where(*conds)).scalar_one()
    ids = session.execute(
        select(ReviewRow.id)
        .where(*conds)
        .order_by(ReviewRow.created, ReviewRow.id)
        .offset(max(offset, 0))
        .limit(max(1, min(limit, MAX_PAGE)))
    ).scalars()
    items = [_review_item(session, review_id) for review_id in ids]
    patients = sorted({i.patient_id for i in items if i.patient_id})
    audit_change(session, actor, "review list", patients, interaction="search-type")
    return ReviewPage(total, items)


def review_item(session: Session, actor: Actor, *, review_id: int) -> ReviewItem:
    """One review item (404 when there is none); the read is audited."""
    item = _review_item(session, review_id)
    audit_change(session, actor, f"review {review_id} read",
                 [item.patient_id] if item.patient_id else [], interaction="read")  # fmt: skip
    return item


def _review_item(session: Session, review_id: int) -> ReviewItem:
    person, candidate = aliased(PersonRow), aliased(PersonRow)
    row = session.execute(
        select(ReviewRow, SourceRow, person, candidate)
        .join(SourceRow, SourceRow.id == ReviewRow.source_row)
        .join(person, person.id == SourceRow.person_id)
        .join(candidate, candidate.id == ReviewRow.candidate_person)
        .where(ReviewRow.id == review_id)
    ).one_or_none()
    if row is None:
        raise ReviewNotFound(review_id)
    review, source, current, candidate_row = row
    return ReviewItem(
        id=review.id, status=review.status, probability=review.probability,
        created=review.created, claimed_by=review.claimed_by, resolution=review.resolution,
        resolved_at=review.resolved_at, facility=source.facility, source_id=source.source_id,
        patient_id=source.patient_id, enterprise_id=current.enterprise_id,
        candidate_enterprise_id=follow_merges(session, candidate_row).enterprise_id,
    )  # fmt: skip


def _locked_review(session: Session, review_id: int, steward: str) -> ReviewRow:
    review = session.get(ReviewRow, review_id, with_for_update=True)
    if review is None:
        raise ReviewNotFound(review_id)
    if review.status == "resolved":
        raise ReviewClosed(review_id)
    if review.status == "claimed" and review.claimed_by != steward:
        raise ReviewClaimed(review_id)
    return review


def claim_review(session: Session, actor: Actor, *, review_id: int) -> ReviewItem:
    """Take a review item (idempotent for its holder; 409 if another steward holds it)."""
    steward = actor_label(actor)
    review = _locked_review(session, review_id, steward)
    review.status, review.claimed_by = "claimed", steward
    session.flush()
    item = _review_item(session, review_id)
    audit_change(session, actor, "review claim", [item.patient_id] if item.patient_id else [])
    return item


def resolve_review(
    session: Session,
    cipher: FieldCipher,
    actor: Actor,
    *,
    review_id: int,
    resolution: Resolution,
    reason: str,
) -> ReviewItem:
    """match: the source joins the candidate person; no-match: it keeps its own person."""
    text = require_reason(reason)
    if resolution not in ("match", "no-match"):
        raise InvalidLinkRequest("resolution must be 'match' or 'no-match'",
                                 expression=["resolution"])  # fmt: skip
    steward = actor_label(actor)
    review = _locked_review(session, review_id, steward)
    source = session.get(SourceRow, review.source_row, with_for_update=True)
    assert source is not None  # the review row cascades with its source
    now, why = datetime.now(UTC), f"review {review_id} {resolution}: {text}"
    candidate_row = session.get(PersonRow, review.candidate_person)
    assert candidate_row is not None
    target = follow_merges(session, candidate_row) if resolution == "match" else None
    persons = lock_persons(session, [source.person_id, *([target.id] if target else [])])
    current = persons[source.person_id]
    if target is not None and target.id != current.id:
        if target.status != "active":
            raise LinkConflict(f"candidate person {target.enterprise_id} is no longer active")
        held = person_resident_keys(session, [target.id])[target.id]
        refuse_conflicting_ids(held, source_resident_keys(session, source.id), False)
        move_sources(session, [source], target, action="link", at=now, actor=steward, reason=why)
    else:
        action = "link" if target is not None else "no-match"
        add_event(session, action=action, at=now, actor=steward, reason=why, source=source,
                  from_person=current.id, to_person=current.id)  # fmt: skip
        source.state = "manual"
    review.status, review.resolution, review.resolved_at = "resolved", resolution, now
    review.claimed_by = review.claimed_by or steward
    settle(session, cipher, [current, *([target] if target else [])], survivor=target)
    audit_change(session, actor, f"review {resolution}",
                 patient_ids(session, [current.id, *([target.id] if target else [])]))  # fmt: skip
    return _review_item(session, review_id)


def supersede_reviews(session: Session, sources: list[SourceRow], now: datetime) -> None:
    """A steward's explicit link decision on a source answers its pending review items."""
    reviews = session.execute(
        select(ReviewRow).where(
            ReviewRow.source_row.in_([s.id for s in sources]), ReviewRow.status != "resolved"
        )
    ).scalars()
    for review in reviews:
        review.status, review.resolution, review.resolved_at = "resolved", "superseded", now
