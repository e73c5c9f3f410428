"""Which Patient records are one person: what a patient's consent and access log follow.

A patient's consent is about the person, not about the one facility record it was written
against: it applies to every source record the index links to the same person, now and after
later links, unlinks and merges (the link is read at decision time, never copied). These are
the index's answers for that, as SQL to embed in a larger query and as a lookup.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, aliased

from hub.mpi.models import SourceRow

_ASKED = aliased(SourceRow, name="same_person_asked")
_LINKED = aliased(SourceRow, name="same_person_linked")


def linked_patient_ids(patient_id: Any) -> Select[Any]:
    """SQL: the Patient ids of every record linked to the same person as ``patient_id`` (a
    column or a value), itself included when it is indexed."""
    return (
        select(_LINKED.patient_id)
        .join(_ASKED, _ASKED.person_id == _LINKED.person_id)
        .where(_ASKED.patient_id == patient_id, _LINKED.patient_id.is_not(None))
        # ``patient_id`` may be a column of a query several levels out: correlate to it there
        .correlate_except(_ASKED, _LINKED)
    )


def records_linked_to(patient_ids: Any) -> Select[Any]:
    """SQL: the ids of every record linked to the same person as one of ``patient_ids`` (a
    subquery or a list), those themselves included when the index holds them."""
    return same_person_pairs(patient_ids).with_only_columns(_LINKED.patient_id)


def same_person_pairs(patient_ids: Any) -> Select[str | None, str | None]:
    """SQL: (asked, linked) for every record ``linked`` to the same person as the record
    ``asked``, one of ``patient_ids`` (a subquery or a list); itself included when indexed."""
    return (
        select(_ASKED.patient_id, _LINKED.patient_id)
        .join(_LINKED, _LINKED.person_id == _ASKED.person_id)
        .where(_ASKED.patient_id.in_(patient_ids), _LINKED.patient_id.is_not(None))
    )


def same_person_records(session: Session, patient_ids: Sequence[str]) -> dict[str, set[str]]:
    """For each of ``patient_ids``: the ids of every record of the same person (itself too;
    only itself when the index does not hold it)."""
    groups: dict[str, set[str]] = {p: {p} for p in patient_ids}
    asked = sorted(groups)
    for start in range(0, len(asked), 500):
        chunk = asked[start : start + 500]
        rows = session.execute(
            select(_ASKED.patient_id, _LINKED.patient_id)
            .join(_LINKED, _LINKED.person_id == _ASKED.person_id)
            .where(_ASKED.patient_id.in_(chunk), _LINKED.patient_id.is_not(None))
        )
        for patient_id, linked in rows:
            if patient_id is not None and linked is not None:
                groups[patient_id].add(linked)
    return groups


def recording_facilities(session: Session, patient_ids: Sequence[str]) -> dict[str, str]:
    """The facility each indexed Patient record was registered by (its source's facility)."""
    found: dict[str, str] = {}
    for start in range(0, len(patient_ids), 500):
        rows = session.execute(
            select(SourceRow.patient_id, SourceRow.facility).where(
                SourceRow.patient_id.in_(patient_ids[start : start + 500])
            )
        )
        found.update({p: f for p, f in rows if p is not None})
    return found


def person_of(session: Session, patient_id: str) -> int | None:
    """The person the index links Patient ``patient_id`` to, or None when it holds no record."""
    return session.execute(
        select(SourceRow.person_id).where(SourceRow.patient_id == patient_id).limit(1)
    ).scalar_one_or_none()
