"""The hard rule, per person: two different valid resident IDs never share a person.

Checking the pair is not enough: a record without an ID can link to twin A, and twin B's record
could then link to it, chaining both IDs into one person. So a record carrying a valid resident
ID is never linked to a person that already holds a different valid one, on every path (online,
batch registration, bulk load, relink); merges check the union
(``hub.mpi.stewardship.link_changes``). Resident IDs are compared by their blind index
(``mpi_identifier.value_index``), never in clear.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, true
from sqlalchemy.orm import Session

from hub.fhir.systems import RESIDENT_ID_SYSTEM
from hub.mpi.matching.features import MatchFeatures
from hub.mpi.models import IdentifierRow
from hub.mpi.store import identifier_index
from hub.security.fields import FieldCipher

_CHUNK = 2_000


def resident_key(cipher: FieldCipher, features: MatchFeatures) -> str | None:
    """The blind index of the record's valid resident ID (None without one)."""
    if not features.resident_id:
        return None
    return identifier_index(cipher, RESIDENT_ID_SYSTEM, features.resident_id)


def person_resident_keys(
    session: Session, person_ids: Iterable[int], *, exclude_source: int | None = None
) -> dict[int, frozenset[str]]:
    """The blind indexes of the valid resident IDs each person holds (through its sources)."""
    wanted = sorted(set(person_ids))
    found: dict[int, set[str]] = {p: set() for p in wanted}
    for at in range(0, len(wanted), _CHUNK):
        query = select(IdentifierRow.person_id, IdentifierRow.value_index).where(
            IdentifierRow.person_id.in_(wanted[at : at + _CHUNK]),
            IdentifierRow.system == RESIDENT_ID_SYSTEM,
            IdentifierRow.valid == true(),
        )
        if exclude_source is not None:
            query = query.where(IdentifierRow.source_row != exclude_source)
        for person_id, value_index in session.execute(query):
            found[person_id].add(value_index)
    return {p: frozenset(keys) for p, keys in found.items()}


def source_resident_keys(session: Session, source_row: int) -> frozenset[str]:
    """The blind indexes of one source record's valid resident IDs."""
    rows = session.execute(
        select(IdentifierRow.value_index).where(
            IdentifierRow.source_row == source_row,
            IdentifierRow.system == RESIDENT_ID_SYSTEM,
            IdentifierRow.valid == true(),
        )
    ).scalars()
    return frozenset(rows)


def conflicts(held: frozenset[str], key: str | None) -> bool:
    """Whether a record with resident-ID key ``key`` may not join a person holding ``held``."""
    return key is not None and bool(held) and key not in held


def merge_conflicts(a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether two persons' valid resident IDs forbid putting them together."""
    return len(a | b) > 1
