"""Moving source records between persons: the primitive under every stewardship action.

A move rewrites the source's person, its identifier cross-references and writes one link event
per source; ``settle`` then refreshes the golden record of every person involved (a person left
without sources is retired and, when its sources went to one person, points there) and queues the
audit entry. Nothing here commits: the caller's unit of work does.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.audit.service import AuditEntry, record_access
from hub.auth.actor import Actor
from hub.mpi import store as db
from hub.mpi.errors import LinkConflict, PersonNotFound, ReasonRequired, SourceNotFound
from hub.mpi.models import IdentifierRow, LinkEventRow, PersonRow, SourceRow
from hub.mpi.registration.id_veto import merge_conflicts
from hub.security.fields import FieldCipher

MAX_REASON = 512
_MAX_HOPS = 64  # merged_into chains are short; the bound only guards against a corrupt cycle


def require_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise ReasonRequired()
    return text[:MAX_REASON]


def actor_label(actor: Actor) -> str:
    """How link events and review claims name who did it (as registrations do)."""
    return f"{actor.client_id}@{actor.facility}"[:128]


def resolve_person(session: Session, enterprise_id: str, *, for_update: bool = False) -> PersonRow:
    """The person an enterprise id names now: a merged or retired one resolves to its survivor."""
    query = select(PersonRow).where(PersonRow.enterprise_id == enterprise_id)
    person = session.execute(query.with_for_update() if for_update else query).scalar_one_or_none()
    if person is None:
        raise PersonNotFound(enterprise_id)
    return follow_merges(session, person, for_update=for_update)


def follow_merges(session: Session, person: PersonRow, *, for_update: bool = False) -> PersonRow:
    for _ in range(_MAX_HOPS):
        if person.merged_into is None or person.status == "active":
            return person
        survivor = session.get(PersonRow, person.merged_into, with_for_update=for_update)
        if survivor is None:
            return person
        person = survivor
    return person


def find_source(
    session: Session, facility: str, source_id: str, *, for_update: bool = True
) -> SourceRow:
    query = select(SourceRow).where(
        SourceRow.facility == facility, SourceRow.source_id == source_id
    )
    source = session.execute(query.with_for_update() if for_update else query).scalar_one_or_none()
    if source is None:
        raise SourceNotFound(facility)
    return source


def sources_of(session: Session, person_id: int) -> list[SourceRow]:
    return list(
        session.execute(
            select(SourceRow)
            .where(SourceRow.person_id == person_id)
            .order_by(SourceRow.id)
            .with_for_update()
        )
        .scalars()
        .all()
    )


def add_event(
    session: Session,
    *,
    action: str,
    at: datetime,
    actor: str,
    reason: str,
    source: SourceRow | None = None,
    from_person: int | None = None,
    to_person: int | None = None,
    undo_of: int | None = None,
) -> LinkEventRow:
    event = LinkEventRow(
        at=at, action=action[:16], source_row=source.id if source else None,
        from_person=from_person, to_person=to_person,
        score=source.score if source else None, actor=actor[:128], reason=reason[:MAX_REASON],
        undo_of=undo_of,
    )  # fmt: skip
    session.add(event)
    session.flush()
    return event


def move_sources(
    session: Session,
    sources: Iterable[SourceRow],
    target: PersonRow,
    *,
    action: str,
    at: datetime,
    actor: str,
    reason: str,
    state: str = "manual",
    undo_of: dict[int, int] | None = None,
) -> list[LinkEventRow]:
    """Link each source to ``target`` (one event each); identifiers follow their source."""
    events: list[LinkEventRow] = []
    moved: list[int] = []
    for source in sources:
        events.append(
            add_event(
                session, action=action, at=at, actor=actor, reason=reason, source=source,
                from_person=source.person_id, to_person=target.id,
                undo_of=(undo_of or {}).get(source.id),
            )
        )  # fmt: skip
        source.person_id = target.id
        source.state = state
        moved.append(source.id)
    if moved:
        session.execute(
            update(IdentifierRow)
            .where(IdentifierRow.source_row.in_(moved))
            .values(person_id=target.id)
            .execution_options(synchronize_session=False)
        )
    session.flush()
    return events


def settle(
    session: Session,
    cipher: FieldCipher,
    persons: Iterable[PersonRow],
    *,
    survivor: PersonRow | None = None,
) -> None:
    """Refresh golden records; a person emptied into ``survivor`` is retired and points there."""
    seen: set[int] = set()
    for person in persons:
        if person.id in seen:
            continue
        seen.add(person.id)
        db.refresh_golden(session, cipher, person)
        if person.status == "retired" and survivor is not None and person.id != survivor.id:
            person.merged_into = survivor.id
    session.flush()


def patient_ids(session: Session, person_ids: Iterable[int]) -> list[str]:
    """FHIR Patient ids of every source of these persons (for the audit record)."""
    ids = sorted(set(person_ids))
    if not ids:
        return []
    rows = session.execute(
        select(SourceRow.patient_id).where(SourceRow.person_id.in_(ids))
    ).scalars()
    return sorted({p for p in rows if p})


def audit_change(
    session: Session,
    actor: Actor,
    operation: str,
    patients: list[str],
    interaction: str = "operation",
) -> None:
    record_access(
        session,
        AuditEntry(
            actor,
            interaction,
            "Patient",
            [f"Patient/{p}" for p in patients],
            patients,
            outcome_text=f"mpi {operation}",
        ),
    )


def lock_persons(session: Session, person_ids: Iterable[int]) -> dict[int, PersonRow]:
    """Lock the persons a change touches, in id order (no deadlock between two stewards)."""
    rows = session.execute(
        select(PersonRow)
        .where(PersonRow.id.in_(sorted(set(person_ids))))
        .order_by(PersonRow.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalars()
    return {p.id: p for p in rows}


def refuse_conflicting_ids(a: frozenset[str], b: frozenset[str], override: bool) -> None:
    """Two different valid resident IDs are two people: a steward who knows better (an ID
    recorded wrongly at the registration desk) says so explicitly, and the reason is kept."""
    if merge_conflicts(a, b) and not override:
        raise LinkConflict(
            "the records hold different valid resident IDs, which means two people (twins are "
            "the usual case); to link them anyway send override_conflicting_ids: true with the "
            "reason"
        )
