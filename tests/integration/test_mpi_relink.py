"""``hub mpi relink`` against the test database: records the first pass left apart are joined,
twins stay apart, stewards' decisions stand, enterprise ids survive, --dry-run changes nothing
and a second run changes nothing more."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select, update

from hub.auth.actor import SYSTEM_ACTOR
from hub.db import reset_engine, session_scope
from hub.migrate import upgrade_database
from hub.mpi import store
from hub.mpi.loading.relink import relink
from hub.mpi.matching.features import MatchFeatures, features_from_row
from hub.mpi.matching.identifiers import make_resident_id
from hub.mpi.models import IdentifierRow, PersonRow, ReviewRow, SourceRow
from hub.mpi.registration.online import register_source
from hub.mpi.stewardship.link_changes import unlink_source
from hub.security.fields import get_cipher
from hub.settings import get_settings

FAMILIES = "欧阳司马诸葛上官东方皇甫令狐慕容尉迟长孙"
GIVEN = "伟芳秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚华玉萍红玲燕春菊凤洁梅琳云雪荣"


def _someone(rng: random.Random, **overrides: str) -> dict[str, str]:
    k = rng.randrange(0, len(FAMILIES), 2)
    birth = date(rng.randint(1940, 2005), rng.randint(1, 12), rng.randint(1, 28))
    row = {
        "family_name": FAMILIES[k : k + 2],
        "given_name": "".join(rng.sample(GIVEN, 2)),
        "birth_date": birth.isoformat(),
        "gender": "女",
        "id_number": make_resident_id("420506", birth, rng.randint(1, 999), "female"),
        "phone": f"139{rng.randrange(10**8):08d}",
        "address": "湖北省宜昌市夷陵区鸦鹊岭镇",
    }
    return row | overrides


def _register(tag: str, facility: str, row: dict[str, str]) -> int:
    features: MatchFeatures = features_from_row(row)
    with session_scope() as session:
        register_source(
            session,
            get_cipher(),
            facility=facility,
            source_id=f"{tag}-{facility}",
            patient_id=None,
            features=features,
            actor="test",
        )
        return int(
            session.execute(
                select(SourceRow.id).where(
                    SourceRow.facility == facility, SourceRow.source_id == f"{tag}-{facility}"
                )
            ).scalar_one()
        )


def _person_of(source: int) -> int:
    with session_scope() as session:
        return int(
            session.execute(select(SourceRow.person_id).where(SourceRow.id == source)).scalar_one()
        )


def _split_off(source: int) -> None:
    """As a weaker first-pass model would have left it: the record as a person of its own."""
    with session_scope() as session:
        person = store.new_person(session, datetime.now(UTC))
        session.execute(
            update(SourceRow).where(SourceRow.id == source).values(person_id=person.id, state="new")
        )
        session.execute(
            update(IdentifierRow)
            .where(IdentifierRow.source_row == source)
            .values(person_id=person.id)
        )


@pytest.fixture
def own_index(database: str, tmp_path: Path) -> Iterator[None]:
    """A database of its own: relink decides every record it holds, so the shared test database
    (other tests' records) must not be touched."""
    shared = os.environ["HUB_DATABASE_URL"]
    name = f"hub_relink_{uuid.uuid4().hex[:10]}"
    admin = None
    if shared.startswith("postgresql"):
        admin = sa.create_engine(shared, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = sa.make_url(shared).set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{tmp_path / 'relink.db'}"
    os.environ["HUB_DATABASE_URL"] = url
    get_settings.cache_clear()
    reset_engine()
    try:
        upgrade_database()
        yield
    finally:
        os.environ["HUB_DATABASE_URL"] = shared
        get_settings.cache_clear()
        reset_engine()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def test_relink_joins_what_the_first_pass_left_apart_and_nothing_else(own_index: None) -> None:
    rng, tag = random.Random(), uuid.uuid4().hex[:10]
    person = _someone(rng)
    a = _register(tag, "H001", person)
    b = _register(tag, "H002", person | {"phone": "13700000000"})
    assert _person_of(a) == _person_of(b)
    kept_eid = _eid(_person_of(a))
    _split_off(b)
    with session_scope() as session:  # the first pass had queued b for review
        session.add(ReviewRow(source_row=b, candidate_person=_person_of(a), probability=0.7,
                              status="open", created=datetime.now(UTC)))  # fmt: skip
    twin = _register(
        tag,
        "H003",
        person
        | {
            "given_name": "巧" + person["given_name"][1],
            "id_number": make_resident_id(
                "420506", date.fromisoformat(person["birth_date"]), 998, "female"
            ),
        },
    )
    steward_a = _register(tag, "CS0001", other := _someone(rng))
    steward_b = _register(tag, "CS0002", other)
    assert _person_of(steward_a) == _person_of(steward_b)
    with session_scope() as session:  # a steward says these two are different people
        unlink_source(
            session,
            get_cipher(),
            SYSTEM_ACTOR,
            facility="CS0002",
            source_id=f"{tag}-CS0002",
            reason="two people, checked at the desk",
        )

    preview = relink(get_cipher(), dry_run=True)
    assert not preview.applied and preview.moved >= 1
    assert _person_of(a) != _person_of(b)  # the dry run changed nothing

    done = relink(get_cipher())
    assert done.applied
    assert _person_of(a) == _person_of(b)
    assert _eid(_person_of(a)) == kept_eid  # the person keeps its enterprise id
    assert _person_of(twin) != _person_of(a)
    assert _person_of(steward_a) != _person_of(steward_b)  # the steward's unlink stands

    with session_scope() as session:  # the re-link answered it
        review = session.execute(select(ReviewRow).where(ReviewRow.source_row == b)).scalar_one()
        assert (review.status, review.resolution) == ("resolved", "superseded")

    again = relink(get_cipher())
    assert again.moved == 0


def _eid(person: int) -> str:
    with session_scope() as session:
        return str(
            session.execute(
                select(PersonRow.enterprise_id).where(PersonRow.id == person)
            ).scalar_one()
        )
