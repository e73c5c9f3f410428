"""Break-glass accesses, for operators' and auditors' after-the-fact review.

A break-glass access is an audit record whose consent decision was overridden by an emergency
purpose (``break_glass``), or any access claiming the emergency purpose (ETREAT) at all: every
emergency claim is accounted for, whether or not consent would have allowed it anyway.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.audit.models import AuditRecord, AuditReview
from hub.audit.service import EMERGENCY_PURPOSE
from hub.auth.actor import Actor
from hub.errors import Conflict, InvalidRequest, NotFound
from hub.fhir.search.dates import DateFormatError, date_range

MAX_NOTE_LENGTH = 2000


@dataclass(frozen=True)
class Review:
    reviewed_at: datetime
    reviewer: str
    reviewer_facility: str
    note: str

    def as_json(self) -> dict[str, Any]:
        return {
            "reviewedAt": self.reviewed_at.isoformat(),
            "reviewer": self.reviewer,
            "reviewerFacility": self.reviewer_facility,
            "note": self.note,
        }


@dataclass(frozen=True)
class BreakGlassAccess:
    seq: int
    recorded: datetime
    client_id: str
    facility: str
    role: str
    practitioner: str | None  # "Practitioner/<id>": who broke the glass (None before 0011)
    purpose_of_use: str | None
    reason: str | None
    overrode_consent: bool
    decision: str | None
    interaction: str
    outcome: str
    patients: list[str]
    resources: list[str]
    consents: list[str]
    review: Review | None

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "auditEvent": f"AuditEvent/{self.seq}",
            "recorded": self.recorded.isoformat(),
            "client": self.client_id,
            "facility": self.facility,
            "role": self.role,
            "practitioner": self.practitioner,
            "purposeOfUse": self.purpose_of_use,
            "reason": self.reason,
            "overrodeConsent": self.overrode_consent,
            "decision": self.decision,
            "interaction": self.interaction,
            "outcome": self.outcome,
            "patients": self.patients,
            "resources": self.resources,
            "consents": self.consents,
            "review": self.review.as_json() if self.review else None,
        }


def parse_since(text: str) -> datetime:
    """A FHIR date or dateTime (``2030-05``, ``2030-05-01T09:00:00+08:00``): its start, in UTC."""
    try:
        return date_range(text)[0]
    except DateFormatError as exc:
        raise InvalidRequest(f"since: {exc}", expression=["since"]) from None


def _is_break_glass() -> ColumnElement[bool]:
    return or_(AuditRecord.break_glass.is_(True), AuditRecord.purpose_of_use == EMERGENCY_PURPOSE)


def _access(rec: AuditRecord, review: AuditReview | None) -> BreakGlassAccess:
    return BreakGlassAccess(
        seq=rec.seq,
        recorded=rec.recorded,
        client_id=rec.client_id,
        facility=rec.facility,
        role=rec.role,
        practitioner=rec.practitioner,
        purpose_of_use=rec.purpose_of_use,
        reason=rec.break_glass_reason,
        overrode_consent=rec.break_glass,
        decision=rec.decision,
        interaction=rec.interaction,
        outcome=rec.outcome,
        patients=json.loads(rec.patients),
        resources=json.loads(rec.resources),
        consents=json.loads(rec.consents) if rec.consents else [],
        review=None
        if review is None
        else Review(review.reviewed_at, review.reviewer, review.reviewer_facility, review.note),
    )


def list_break_glass(
    *,
    db_session: Session,
    since: datetime | None = None,
    unreviewed_only: bool = False,
    offset: int = 0,
    count: int = 50,
) -> tuple[int, list[BreakGlassAccess]]:
    """(total, one page) of break-glass accesses, newest first."""
    conds: list[ColumnElement[bool]] = [_is_break_glass()]
    if since is not None:
        conds.append(AuditRecord.recorded >= since)
    if unreviewed_only:
        conds.append(AuditReview.seq.is_(None))
    joined = select(AuditRecord, AuditReview).outerjoin(
        AuditReview, AuditReview.seq == AuditRecord.seq
    )
    total = db_session.execute(
        select(func.count())
        .select_from(AuditRecord)
        .outerjoin(AuditReview, AuditReview.seq == AuditRecord.seq)
        .where(*conds)
    ).scalar_one()
    rows = db_session.execute(
        joined.where(*conds).order_by(AuditRecord.seq.desc()).offset(offset).limit(count)
    ).all()
    return total, [_access(rec, review) for rec, review in rows]


def review_break_glass(*, db_session: Session, seq: int, reviewer: Actor, note: str) -> Review:
    """Mark one break-glass access reviewed, with the reviewer's note (once per access)."""
    note = note.strip()
    if not note or len(note) > MAX_NOTE_LENGTH:
        raise InvalidRequest(f"a review needs a note of 1 to {MAX_NOTE_LENGTH} characters")
    found = db_session.execute(
        select(AuditRecord.seq).where(AuditRecord.seq == seq, _is_break_glass())
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"audit record {seq} is not a break-glass access")
    if db_session.get(AuditReview, seq) is not None:
        raise Conflict(f"break-glass access {seq} has already been reviewed")
    review = AuditReview(
        seq=seq,
        reviewed_at=datetime.now(UTC),
        reviewer=reviewer.client_id,
        reviewer_facility=reviewer.facility,
        note=note,
    )
    db_session.add(review)
    try:
        db_session.flush()
    except IntegrityError:  # a concurrent review won
        raise Conflict(f"break-glass access {seq} has already been reviewed") from None
    return Review(review.reviewed_at, review.reviewer, review.reviewer_facility, review.note)
