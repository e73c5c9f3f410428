"""A person's links as a steward sees them: its sources now, and every link event behind them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hub.auth.actor import Actor
from hub.mpi.models import LinkEventRow, PersonRow, SourceRow
from hub.mpi.stewardship.links import audit_change, find_source, resolve_person

MAX_HISTORY = 1000


@dataclass(frozen=True)
class SourceLink:
    facility: str
    source_id: str
    patient_id: str | None
    state: str
    score: float | None
    updated: datetime


@dataclass(frozen=True)
class SourcePerson:
    facility: str
    source_id: str
    patient_id: str | None
    state: str
    score: float | None
    enterprise_id: str


@dataclass(frozen=True)
class LinkHistoryEntry:
    id: int
    at: datetime
    action: str
    facility: str | None  # None for person-level events (a merge's header) or removed sources
    source_id: str | None
    from_enterprise_id: str | None
    to_enterprise_id: str | None
    score: float | None
    actor: str
    reason: str
    undo_of: int | None


@dataclass(frozen=True)
class PersonLinks:
    enterprise_id: str  # the person read: the survivor when the requested id was merged
    requested_id: str
    status: str
    sources: list[SourceLink]
    history: list[LinkHistoryEntry]


def person_links(session: Session, actor: Actor, *, enterprise_id: str) -> PersonLinks:
    person = resolve_person(session, enterprise_id)
    sources = list(
        session.execute(
            select(SourceRow).where(SourceRow.person_id == person.id).order_by(SourceRow.id)
        ).scalars()
    )
    events = list(
        session.execute(
            select(LinkEventRow)
            .where(
                or_(
                    LinkEventRow.source_row.in_([s.id for s in sources]),
                    LinkEventRow.from_person == person.id,
                    LinkEventRow.to_person == person.id,
                )
            )
            .order_by(LinkEventRow.id)
            .limit(MAX_HISTORY)
        ).scalars()
    )
    source_names = _source_names(session, {e.source_row for e in events if e.source_row})
    eids = _enterprise_ids(
        session, {p for e in events for p in (e.from_person, e.to_person) if p is not None}
    )
    history = [
        LinkHistoryEntry(
            id=e.id, at=e.at, action=e.action,
            facility=source_names.get(e.source_row or 0, (None, None))[0],
            source_id=source_names.get(e.source_row or 0, (None, None))[1],
            from_enterprise_id=eids.get(e.from_person or 0),
            to_enterprise_id=eids.get(e.to_person or 0), score=e.score, actor=e.actor,
            reason=e.reason, undo_of=e.undo_of,
        )
        for e in events
    ]  # fmt: skip
    links = [SourceLink(s.facility, s.source_id, s.patient_id, s.state, s.score, s.updated)
             for s in sources]  # fmt: skip
    patients = sorted({s.patient_id for s in sources if s.patient_id})
    audit_change(session, actor, "links read", patients, interaction="read")
    return PersonLinks(person.enterprise_id, enterprise_id, person.status, links, history)


def source_link(session: Session, actor: Actor, *, facility: str, source_id: str) -> SourcePerson:
    """Which person one facility's source record is linked to now."""
    source = find_source(session, facility, source_id, for_update=False)
    person = session.get(PersonRow, source.person_id)
    assert person is not None
    audit_change(session, actor, "link read", [source.patient_id] if source.patient_id else [],
                 interaction="read")  # fmt: skip
    return SourcePerson(source.facility, source.source_id, source.patient_id, source.state,
                        source.score, person.enterprise_id)  # fmt: skip


def _source_names(session: Session, ids: set[int]) -> dict[int, tuple[str | None, str | None]]:
    if not ids:
        return {}
    rows = session.execute(
        select(SourceRow.id, SourceRow.facility, SourceRow.source_id).where(SourceRow.id.in_(ids))
    ).all()
    return {row_id: (facility, source_id) for row_id, facility, source_id in rows}


def _enterprise_ids(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(
        select(PersonRow.id, PersonRow.enterprise_id).where(PersonRow.id.in_(ids))
    ).all()
    return {person_id: eid for person_id, eid in rows}
