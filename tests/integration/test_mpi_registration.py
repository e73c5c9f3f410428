"""Batch registration (hub.mpi.registration.batch.register_sources) against the test database.

Within-batch duplicates become one person, a batch agrees with single registrations already
stored, registering the same batch again changes nothing; on PostgreSQL (``tests.postgres``,
whatever the run's database) a batch holds the advisory locks of its keys, a large batch the
index-wide lock instead (both seen in ``pg_locks``), and concurrent batches holding the same new
people neither deadlock nor make two persons of one.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from hub.db import session_scope
from hub.mpi import store
from hub.mpi.matching.compare import query_keys
from hub.mpi.matching.features import MatchFeatures, features_from_row
from hub.mpi.matching.identifiers import make_resident_id
from hub.mpi.models import BlockKeyRow, IdentifierRow, LinkEventRow, PersonRow, SourceRow
from hub.mpi.registration.batch import Registration, register_sources
from hub.mpi.registration.online import register_source
from hub.security.fields import get_cipher

FAMILIES = "欧阳司马诸葛上官东方皇甫令狐慕容尉迟长孙"
GIVEN = "伟芳秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚华玉萍红玲燕春菊凤洁梅琳云雪荣"


def _person(rng: random.Random) -> Callable[[], MatchFeatures]:
    """One new person's record (a fresh family name per call keeps other tests' records out)."""
    k = rng.randrange(0, len(FAMILIES), 2)
    family, given = FAMILIES[k : k + 2], "".join(rng.choice(GIVEN) for _ in range(2))
    birth = date(rng.randint(1935, 2005), rng.randint(1, 12), rng.randint(1, 28))
    resident = make_resident_id("420506", birth, rng.randint(1, 999), "female")
    phone = f"139{rng.randrange(10**8):08d}"

    def record() -> MatchFeatures:
        return features_from_row({"family_name": family, "given_name": given,
                                  "birth_date": birth.isoformat(), "id_number": resident,
                                  "gender": "女", "phone": phone})  # fmt: skip

    return record


def _tag() -> str:
    return uuid.uuid4().hex[:12]


def _persons_of(session: Session, tag: str) -> dict[str, int]:
    rows = session.execute(
        select(SourceRow.facility, SourceRow.person_id).where(SourceRow.source_id.like(f"{tag}%"))
    ).all()
    return dict(rows)


def test_within_batch_duplicates_become_one_person(database: str) -> None:
    rng, tag = random.Random(), _tag()
    person, other = _person(rng), _person(rng)
    items = [
        Registration("H001", f"{tag}-1", None, person(), "test"),
        Registration("H002", f"{tag}-2", None, other(), "test"),
        Registration("CS0001", f"{tag}-3", None, person(), "test"),
    ]
    with session_scope() as session:
        outcomes = register_sources(session, get_cipher(), items)
    assert [o.decision for o in outcomes] == ["new", "new", "link"]
    assert outcomes[0].enterprise_id == outcomes[2].enterprise_id != outcomes[1].enterprise_id
    assert outcomes[2].candidates[0].enterprise_id == outcomes[0].enterprise_id
    with session_scope() as session:
        persons = _persons_of(session, tag)
        assert persons["H001"] == persons["CS0001"] != persons["H002"]
        golden = store.read_golden(get_cipher(), session.get_one(PersonRow, persons["H001"]))
        assert golden["id"] == outcomes[0].enterprise_id
        keys = session.execute(
            select(func.count()).select_from(BlockKeyRow).join(SourceRow)
            .where(SourceRow.source_id.like(f"{tag}%"))
        ).scalar_one()  # fmt: skip
        assert keys > 0


def test_a_batch_links_to_persons_registered_one_by_one(database: str) -> None:
    rng, tag = random.Random(), _tag()
    person = _person(rng)
    with session_scope() as session:
        first = register_source(session, get_cipher(), facility="H001", source_id=f"{tag}-1",
                                patient_id=None, features=person(), actor="test")  # fmt: skip
    with session_scope() as session:
        (second,) = register_sources(
            session, get_cipher(), [Registration("H002", f"{tag}-2", None, person(), "test")]
        )
    assert (first.decision, second.decision) == ("new", "link")
    assert second.enterprise_id == first.enterprise_id
    with session_scope() as session:
        person_row = session.execute(
            select(PersonRow).where(PersonRow.enterprise_id == first.enterprise_id)
        ).scalar_one()
        golden = store.read_golden(get_cipher(), person_row)
        systems = {i["system"] for i in golden["identifier"]}  # type: ignore[attr-defined]
        assert len(systems) >= 2  # enterprise id and resident ID at least


def _row_counts(session: Session) -> tuple[int, ...]:
    return tuple(
        session.execute(select(func.count()).select_from(table)).scalar_one()
        for table in (PersonRow, SourceRow, BlockKeyRow, IdentifierRow, LinkEventRow)
    )


def test_registering_the_same_batch_twice_changes_nothing(database: str) -> None:
    rng, tag = random.Random(), _tag()
    people = [_person(rng) for _ in range(5)]
    items = [Registration("H001", f"{tag}-{k}", None, p(), "test") for k, p in enumerate(people)]
    with session_scope() as session:
        first = register_sources(session, get_cipher(), items)
        before = _row_counts(session)
    with session_scope() as session:
        again = register_sources(session, get_cipher(), items)
        assert _row_counts(session) == before
    assert [o.decision for o in again] == ["unchanged"] * len(items)
    assert [o.enterprise_id for o in again] == [o.enterprise_id for o in first]


def test_a_changed_or_repeated_source_goes_through_an_update(database: str) -> None:
    rng, tag = random.Random(), _tag()
    person, other = _person(rng), _person(rng)
    with session_scope() as session:
        (first,) = register_sources(
            session, get_cipher(), [Registration("H001", f"{tag}-1", None, person(), "test")]
        )
    changed = Registration("H001", f"{tag}-1", "p-1", other(), "test")
    repeated = Registration("H002", f"{tag}-2", None, person(), "test")
    with session_scope() as session:
        outcomes = register_sources(session, get_cipher(), [changed, repeated, repeated])
    # the repeated person is linked first (a new source), then the changed record, which now
    # holds another valid resident ID than its person: the hard rule splits it off
    assert [o.decision for o in outcomes] == ["new", "link", "unchanged"]
    assert outcomes[1].enterprise_id == first.enterprise_id != outcomes[0].enterprise_id


def _advisory_locks_held(session: Session, url: str) -> Counter[tuple[int, str]]:
    """The advisory locks ``session``'s transaction holds, as another connection sees them in
    ``pg_locks``: (64-bit key, mode) -> how many."""
    backend = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    onlooker = sa.create_engine(url)
    try:
        with onlooker.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT classid::bigint, objid::bigint, mode FROM pg_locks "
                    "WHERE locktype = 'advisory' AND objsubid = 1 AND pid = :pid AND granted"
                ),
                {"pid": backend},
            ).all()
    finally:
        onlooker.dispose()
    # a bigint key is split into two unsigned 32-bit halves (classid high, objid low)
    return Counter(
        (int.from_bytes(((high << 32) | low).to_bytes(8), signed=True), mode)
        for high, low, mode in rows
    )


def _batch_of_new_people(count: int) -> list[Registration]:
    rng, tag = random.Random(), _tag()
    people = [_person(rng) for _ in range(count)]
    return [Registration("H001", f"{tag}-{k}", None, p(), "test") for k, p in enumerate(people)]


def test_a_batch_with_more_keys_than_the_lock_table_takes_the_index_lock(
    hub_on_postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``MAX_KEY_LOCKS`` keys the batch holds the index-wide lock alone, exclusively."""
    monkeypatch.setattr(store, "MAX_KEY_LOCKS", 5)
    items = _batch_of_new_people(4)
    with session_scope() as session:
        outcomes = register_sources(session, get_cipher(), items)
        held = _advisory_locks_held(session, hub_on_postgres)
    assert [o.decision for o in outcomes] == ["new"] * 4
    assert held == Counter({(store.INDEX_LOCK, "ExclusiveLock"): 1})


def test_a_batch_within_the_lock_table_locks_its_keys_and_shares_the_index_lock(
    hub_on_postgres: str,
) -> None:
    """The counterpart: each of the batch's blocking keys exclusively, the index lock shared."""
    items = _batch_of_new_people(4)
    keys = {
        int(h[:15], 16)
        for r in items
        for h in store.hashed_keys(get_cipher(), query_keys(r.features))
    }
    with session_scope() as session:
        outcomes = register_sources(session, get_cipher(), items)
        held = _advisory_locks_held(session, hub_on_postgres)
    assert [o.decision for o in outcomes] == ["new"] * 4
    assert 5 < len(keys) <= store.MAX_KEY_LOCKS
    expected = Counter({(k, "ExclusiveLock"): 1 for k in keys})
    assert held == expected + Counter({(store.INDEX_LOCK, "ShareLock"): 1})


def test_concurrent_batches_of_the_same_new_people_make_one_person_each(
    hub_on_postgres: str,
) -> None:
    rng, tag = random.Random(), _tag()
    people = [_person(rng) for _ in range(30)]
    facilities = ("H001", "H002", "CS0001", "PH001")
    barrier = threading.Barrier(len(facilities))

    def load(facility: str) -> list[str]:
        order = list(range(len(people)))
        random.Random(facility).shuffle(order)  # each facility lists them in its own order
        items = [Registration(facility, f"{tag}-{k}", None, people[k](), "test") for k in order]
        barrier.wait(timeout=30)
        with session_scope() as session:
            return [o.decision for o in register_sources(session, get_cipher(), items)]

    with ThreadPoolExecutor(len(facilities)) as pool:
        decisions = list(pool.map(load, facilities))  # a deadlock would raise here
    assert sum(d.count("new") for d in decisions) == len(people)
    with session_scope() as session:
        rows = session.execute(
            select(SourceRow.source_id, func.count(func.distinct(SourceRow.person_id)))
            .where(SourceRow.source_id.like(f"{tag}-%"))
            .group_by(SourceRow.source_id)
        ).all()  # fmt: skip
    assert len(rows) == len(people)
    assert {count for _, count in rows} == {1}
