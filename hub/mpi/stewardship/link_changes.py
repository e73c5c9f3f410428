"""Manual link changes of the patient index: link, unlink, split, merge and undo a merge.

Registration (:mod:`hub.mpi.registration.online`) links a source automatically above the
model's upper threshold, queues a review between the thresholds
(:mod:`hub.mpi.stewardship.reviews`) and starts a new person below. Stewards link and unlink
sources, merge, undo a merge and split persons. Every change needs a reason, writes one link
event per moved source (who, when, why, from, to), refreshes the golden records involved and
queues an audit entry in the same transaction.

A merge is recorded as a person-level event (no source; its id is the merge id) followed by one
event per moved source with the same time, from and to persons; undoing it writes ``unmerge``
events pointing (``undo_of``) at the events they reverse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.auth.actor import Actor
from hub.events import publish
from hub.mpi import store as db
from hub.mpi.errors import (
    InvalidLinkRequest,
    LinkConflict,
    MergeNotFound,
    UndoRefused,
)
from hub.mpi.events import PersonsMerged
from hub.mpi.models import LinkEventRow, SourceRow
from hub.mpi.registration.id_veto import person_resident_keys, source_resident_keys
from hub.mpi.stewardship.history import PersonLinks, SourcePerson, person_links, source_link
from hub.mpi.stewardship.links import (
    actor_label,
    add_event,
    audit_change,
    find_source,
    lock_persons,
    move_sources,
    patient_ids,
    refuse_conflicting_ids,
    require_reason,
    resolve_person,
    settle,
    sources_of,
)
from hub.mpi.stewardship.reviews import supersede_reviews
from hub.security.fields import FieldCipher

__all__ = [
    "LinkResult", "MergeResult", "PersonLinks", "SourcePerson", "link_source", "merge_persons",
    "person_links", "source_link", "split_person", "undo_merge", "unlink_source",
]  # fmt: skip


@dataclass(frozen=True)
class LinkResult:
    enterprise_id: str  # the person the source(s) now belong to
    events: list[int]


@dataclass(frozen=True)
class MergeResult:
    merge_id: int
    from_enterprise_id: str
    into_enterprise_id: str
    moved: int


# -- manual link changes ---------------------------------------------------------------------


def link_source(
    session: Session,
    cipher: FieldCipher,
    actor: Actor,
    *,
    facility: str,
    source_id: str,
    enterprise_id: str,
    reason: str,
    override_conflicting_ids: bool = False,
) -> LinkResult:
    """Link one source to a person by hand (state ``manual``)."""
    text = require_reason(reason)
    source = find_source(session, facility, source_id)
    target = resolve_person(session, enterprise_id)
    persons = lock_persons(session, [source.person_id, target.id])
    current, target = persons[source.person_id], persons[target.id]
    if target.status != "active":
        raise LinkConflict(f"person {target.enterprise_id} is not active")
    held = person_resident_keys(session, [target.id])[target.id]
    refuse_conflicting_ids(held, source_resident_keys(session, source.id),
                            override_conflicting_ids)  # fmt: skip
    now, steward = datetime.now(UTC), actor_label(actor)
    events = move_sources(session, [source], target, action="link", at=now, actor=steward,
                          reason=text)  # fmt: skip
    supersede_reviews(session, [source], now)
    settle(session, cipher, [current, target], survivor=target)
    audit_change(session, actor, "link", patient_ids(session, [current.id, target.id]))
    return LinkResult(target.enterprise_id, [e.id for e in events])


def unlink_source(
    session: Session, cipher: FieldCipher, actor: Actor, *, facility: str, source_id: str,
    reason: str,
) -> LinkResult:  # fmt: skip
    """Take one source out of its person: it becomes a person of its own."""
    text = require_reason(reason)
    source = find_source(session, facility, source_id)
    current = lock_persons(session, [source.person_id])[source.person_id]
    if len(sources_of(session, current.id)) < 2:
        raise LinkConflict("the source is the only one of its person; nothing to unlink")
    now, steward = datetime.now(UTC), actor_label(actor)
    person = db.new_person(session, now)
    events = move_sources(session, [source], person, action="unlink", at=now, actor=steward,
                          reason=text)  # fmt: skip
    supersede_reviews(session, [source], now)
    settle(session, cipher, [current, person])
    audit_change(session, actor, "unlink", patient_ids(session, [current.id, person.id]))
    return LinkResult(person.enterprise_id, [e.id for e in events])


def split_person(
    session: Session,
    cipher: FieldCipher,
    actor: Actor,
    *,
    enterprise_id: str,
    sources: list[tuple[str, str]],
    reason: str,
) -> LinkResult:
    """Move some of a person's sources (facility, source id) to one new person."""
    text = require_reason(reason)
    if not sources:
        raise InvalidLinkRequest("name at least one source to split off", expression=["sources"])
    person = resolve_person(session, enterprise_id)
    person = lock_persons(session, [person.id])[person.id]
    rows = {s.id: s for s in (find_source(session, f, sid) for f, sid in sources)}
    if any(s.person_id != person.id for s in rows.values()):
        raise InvalidLinkRequest(f"every source must be linked to {person.enterprise_id}",
                                 expression=["sources"])  # fmt: skip
    if len(sources_of(session, person.id)) <= len(rows):
        raise InvalidLinkRequest("a split must leave the person at least one source",
                                 expression=["sources"])  # fmt: skip
    now, steward = datetime.now(UTC), actor_label(actor)
    new = db.new_person(session, now)
    moved = sorted(rows.values(), key=lambda s: s.id)
    events = move_sources(session, moved, new, action="split", at=now, actor=steward, reason=text)
    supersede_reviews(session, moved, now)
    settle(session, cipher, [person, new])
    audit_change(session, actor, "split", patient_ids(session, [person.id, new.id]))
    return LinkResult(new.enterprise_id, [e.id for e in events])


# -- merges ----------------------------------------------------------------------------------


def merge_persons(
    session: Session, cipher: FieldCipher, actor: Actor, *, from_eid: str, into_eid: str,
    reason: str, override_conflicting_ids: bool = False,
) -> MergeResult:  # fmt: skip
    """Move every source of ``from`` to ``into``; ``from`` is kept as ``merged`` (reversible)."""
    text = require_reason(reason)
    source_person = resolve_person(session, from_eid)
    if source_person.enterprise_id != from_eid:
        raise LinkConflict(f"person {from_eid[:32]} was already merged into "
                           f"{source_person.enterprise_id}")  # fmt: skip
    target = resolve_person(session, into_eid)
    if source_person.id == target.id:
        raise InvalidLinkRequest("a person cannot be merged into itself", expression=["into"])
    persons = lock_persons(session, [source_person.id, target.id])
    source_person, target = persons[source_person.id], persons[target.id]
    if source_person.status != "active" or target.status != "active":
        raise LinkConflict("both persons of a merge must be active")
    held = person_resident_keys(session, [source_person.id, target.id])
    refuse_conflicting_ids(held[source_person.id], held[target.id], override_conflicting_ids)
    now, steward = datetime.now(UTC), actor_label(actor)
    moving = sources_of(session, source_person.id)
    header = add_event(session, action="merge", at=now, actor=steward, reason=text,
                       from_person=source_person.id, to_person=target.id)  # fmt: skip
    source_person.status, source_person.merged_into = "merged", target.id
    move_sources(session, moving, target, action="merge", at=now, actor=steward, reason=text)
    settle(session, cipher, [source_person, target])
    audit_change(session, actor, "merge", patient_ids(session, [target.id]))
    publish(session, cipher, PersonsMerged(header.id))  # the outbound adapter sends ADT^A40
    return MergeResult(header.id, source_person.enterprise_id, target.enterprise_id, len(moving))


def _merge_events(session: Session, event_id: int) -> tuple[LinkEventRow, list[LinkEventRow]]:
    event = session.get(LinkEventRow, event_id)
    if event is None or event.action != "merge":
        raise MergeNotFound(event_id)
    same_merge = (
        LinkEventRow.action == "merge",
        LinkEventRow.from_person == event.from_person,
        LinkEventRow.to_person == event.to_person,
        LinkEventRow.at == event.at,
    )
    header = event if event.source_row is None else session.execute(
        select(LinkEventRow).where(*same_merge, LinkEventRow.source_row.is_(None))
    ).scalar_one_or_none()  # fmt: skip
    if header is None:
        raise MergeNotFound(event_id)
    members = session.execute(
        select(LinkEventRow)
        .where(*same_merge, LinkEventRow.source_row.is_not(None), LinkEventRow.id > header.id)
        .order_by(LinkEventRow.id)
    ).scalars()
    return header, list(members)


def undo_merge(
    session: Session, cipher: FieldCipher, actor: Actor, *, event_id: int, reason: str
) -> MergeResult:
    """Reverse exactly one merge, unless a later change touched the sources it moved."""
    text = require_reason(reason)
    header, members = _merge_events(session, event_id)
    undone = session.execute(
        select(func.count()).select_from(LinkEventRow).where(LinkEventRow.undo_of == header.id)
    ).scalar_one()
    if undone:
        raise UndoRefused(f"merge {header.id} was already undone")
    assert header.from_person is not None and header.to_person is not None
    persons = lock_persons(session, [header.from_person, header.to_person])
    restored, survivor = persons[header.from_person], persons[header.to_person]
    if restored.status != "merged" or restored.merged_into != survivor.id:
        raise UndoRefused(f"person {restored.enterprise_id} is no longer merged by {header.id}")
    source_ids = [m.source_row for m in members if m.source_row is not None]
    last = max([header.id, *(m.id for m in members)])
    later = session.execute(
        select(func.count()).select_from(LinkEventRow).where(
            LinkEventRow.source_row.in_(source_ids), LinkEventRow.id > last,
            LinkEventRow.action != "update",
        )
    ).scalar_one() if source_ids else 0  # fmt: skip
    moving = list(
        session.execute(
            select(SourceRow).where(SourceRow.id.in_(source_ids)).with_for_update()
        ).scalars()
    )
    if later or len(moving) != len(source_ids) or any(
        s.person_id != survivor.id for s in moving
    ):  # fmt: skip
        raise UndoRefused(f"a later change touched the sources of merge {header.id}")
    now, steward = datetime.now(UTC), actor_label(actor)
    add_event(session, action="unmerge", at=now, actor=steward, reason=text,
              from_person=survivor.id, to_person=restored.id, undo_of=header.id)  # fmt: skip
    restored.status, restored.merged_into = "active", None
    undo_of = {m.source_row: m.id for m in members if m.source_row is not None}
    move_sources(session, sorted(moving, key=lambda s: s.id), restored, action="unmerge",
                 at=now, actor=steward, reason=text, undo_of=undo_of)  # fmt: skip
    settle(session, cipher, [restored, survivor])
    audit_change(session, actor, "unmerge", patient_ids(session, [restored.id, survivor.id]))
    return MergeResult(header.id, restored.enterprise_id, survivor.enterprise_id, len(moving))
