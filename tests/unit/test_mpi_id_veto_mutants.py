"""The resident-ID veto (hub.mpi.registration.id_veto), written for mutation testing (scripts/mutate
id-veto).

The rule: two different valid resident IDs never share a person. The pure checks are tested
directly; the two queries run against an in-memory SQLite table holding only the identifiers.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from hub.fhir.systems import RESIDENT_ID_SYSTEM
from hub.mpi.matching.features import MatchFeatures
from hub.mpi.matching.identifiers import make_resident_id
from hub.mpi.models import IdentifierRow
from hub.mpi.registration.id_veto import (
    conflicts,
    merge_conflicts,
    person_resident_keys,
    resident_key,
    source_resident_keys,
)
from hub.mpi.store import identifier_index
from hub.security.fields import FieldCipher

CIPHER = FieldCipher(keys={"k1": b"k" * 32}, active_key_id="k1", blind_key=b"b" * 32)
TWIN_A = make_resident_id("420502", date(1980, 3, 2), 120, "male")
TWIN_B = make_resident_id("420502", date(1980, 3, 2), 122, "male")


def test_a_record_key_is_the_blind_index_of_its_valid_resident_id() -> None:
    key = resident_key(CIPHER, MatchFeatures(resident_id=TWIN_A))
    assert key == identifier_index(CIPHER, RESIDENT_ID_SYSTEM, TWIN_A)
    assert key != resident_key(CIPHER, MatchFeatures(resident_id=TWIN_B))
    assert resident_key(CIPHER, MatchFeatures(resident_id_raw=TWIN_A[:17])) is None


def test_a_record_conflicts_only_with_a_person_holding_another_id() -> None:
    assert conflicts(frozenset({"a"}), "b")
    assert not conflicts(frozenset({"a"}), "a")
    assert not conflicts(frozenset({"a", "b"}), "b")
    assert not conflicts(frozenset(), "b")  # a person without an ID
    assert not conflicts(frozenset({"a"}), None)  # a record without an ID


def test_a_merge_conflicts_when_the_union_holds_two_ids() -> None:
    assert merge_conflicts(frozenset({"a"}), frozenset({"b"}))
    assert merge_conflicts(frozenset({"a", "b"}), frozenset())
    assert not merge_conflicts(frozenset({"a"}), frozenset({"a"}))
    assert not merge_conflicts(frozenset({"a"}), frozenset())
    assert not merge_conflicts(frozenset(), frozenset())


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    IdentifierRow.__table__.create(engine)
    with Session(engine) as db:
        yield db
    engine.dispose()


def add(db: Session, person: int, source: int, key: str, **fields: object) -> None:
    values = {"system": RESIDENT_ID_SYSTEM, "value": "sealed", "valid": True} | fields
    db.add(IdentifierRow(person_id=person, source_row=source, value_index=key, **values))
    db.flush()


def test_person_keys_are_their_sources_valid_resident_ids(session: Session) -> None:
    add(session, 1, 10, "a")
    add(session, 1, 11, "b")
    add(session, 1, 12, "c", valid=False)  # failed its check digit
    add(session, 1, 13, "d", system="urn:oid:insurance")
    add(session, 2, 20, "e")
    keys = person_resident_keys(session, [2, 1, 1, 3])
    assert keys == {1: frozenset({"a", "b"}), 2: frozenset({"e"}), 3: frozenset()}
    assert person_resident_keys(session, [1], exclude_source=11) == {1: frozenset({"a"})}


def test_person_keys_are_read_in_chunks(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("hub.mpi.registration.id_veto._CHUNK", 2)
    for person in range(1, 6):
        add(session, person, person * 10, f"k{person}")
    keys = person_resident_keys(session, range(1, 6))
    assert keys == {p: frozenset({f"k{p}"}) for p in range(1, 6)}


def test_source_keys_are_its_valid_resident_ids(session: Session) -> None:
    add(session, 1, 10, "a")
    add(session, 1, 10, "x", valid=False)
    add(session, 1, 10, "y", system="urn:oid:insurance")
    add(session, 1, 11, "b")
    assert source_resident_keys(session, 10) == frozenset({"a"})
    assert source_resident_keys(session, 12) == frozenset()
