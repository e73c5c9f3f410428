"""The patient index's feature cache never decides on what another process has changed.

Each test registers a record, makes a decision that puts its opened features in this process's
cache (hub.mpi.feature_cache), changes the record in a second session the way another API
replica or worker would (a plain UPDATE of the row, a deletion, a merge, a split, a key
rotation's reseal: nothing this process's cache is told about), and shows that the next
decision sees the change.
"""

from __future__ import annotations

import logging
import os
import random
import uuid
from datetime import date

import pytest
from sqlalchemy import select, update

from hub.auth.actor import SYSTEM_ACTOR
from hub.db import session_scope
from hub.mpi import store
from hub.mpi.feature_cache import process_cache
from hub.mpi.matching.compare import query_keys
from hub.mpi.matching.features import MatchFeatures, features_from_row
from hub.mpi.matching.identifiers import make_resident_id
from hub.mpi.models import BlockKeyRow, SourceRow
from hub.mpi.registration.batch import Registration, register_sources
from hub.mpi.registration.online import (
    MatchOutcome,
    find_candidates,
    register_source,
    remove_source,
)
from hub.mpi.stewardship import merge_persons, split_person
from hub.mpi.training.registry import active_model
from hub.security.fields import FieldCipher, get_cipher

# Rare characters, so the suite's other records stay out of these blocks
GIVEN = "翀骞翯翚翥翾耀耘耕聆聪肃胤舜艇芃芊芮苒茉荏荟莅莛菁萁"


def _record(rng: random.Random, sex: str = "女") -> MatchFeatures:
    birth = date(rng.randint(1935, 2005), rng.randint(1, 12), rng.randint(1, 28))
    gender = "female" if sex == "女" else "male"
    return features_from_row({
        "family_name": "欧阳", "given_name": "".join(rng.sample(GIVEN, 2)),
        "birth_date": birth.isoformat(), "gender": sex,
        "id_number": make_resident_id("420506", birth, rng.randint(1, 999), gender),
        "phone": f"139{rng.randrange(10**8):08d}",
    })  # fmt: skip


def _other_person_same_phone(rng: random.Random, features: MatchFeatures) -> MatchFeatures:
    """Someone else (name, birth date, ID, sex) behind the same phone: still a candidate."""
    other = _record(rng, sex="男")
    return features_from_row({
        "family_name": "司马", "given_name": other.given, "birth_date": str(other.birth_date),
        "gender": "男", "id_number": other.resident_id or "", "phone": features.phones[0],
    })  # fmt: skip


def _register(cipher: FieldCipher, facility: str, source_id: str, f: MatchFeatures) -> MatchOutcome:
    with session_scope() as session:
        return register_source(session, cipher, facility=facility, source_id=source_id,
                               patient_id=None, features=f, actor="test")  # fmt: skip


def _warm(cipher: FieldCipher, f: MatchFeatures) -> list[tuple[str, float]]:
    """A read-only decision ($match's): the candidates' features go into the cache."""
    with session_scope() as session:
        found = find_candidates(session, cipher, active_model(session), f)
    return [(c.enterprise_id, c.probability) for c in found]


def _source_row(facility: str, source_id: str) -> SourceRow:
    with session_scope() as session:
        row = session.execute(
            select(SourceRow).where(SourceRow.facility == facility,
                                    SourceRow.source_id == source_id)
        ).scalar_one()  # fmt: skip
        session.expunge(row)
        return row


@pytest.fixture
def tag(database: str) -> str:
    return uuid.uuid4().hex[:12]


def test_a_record_another_process_changed_is_decided_on_its_new_content(tag: str) -> None:
    rng, cipher = random.Random(), get_cipher()
    f = _record(rng)
    first = _register(cipher, "H001", f"{tag}-1", f)
    hits = process_cache().stats().hits
    assert _warm(cipher, f)[0][0] == first.enterprise_id
    assert _warm(cipher, f)[0][1] >= 0.99  # the same record again: linked
    assert process_cache().stats().hits > hits  # ... and its features came from the cache
    row = _source_row("H001", f"{tag}-1")
    other = _other_person_same_phone(rng, f)
    with session_scope() as second:  # another replica rewrites the record: a plain UPDATE
        second.execute(
            update(SourceRow)
            .where(SourceRow.id == row.id)
            .values(
                features=store.seal_features(cipher, other), content_hash=store.content_hash(other)
            )
        )
    found = dict(_warm(cipher, f))
    assert found[first.enterprise_id] < 0.5  # the changed features were scored, not the cached
    outcome = _register(cipher, "CS0001", f"{tag}-2", f)
    assert outcome.decision == "new"
    assert outcome.enterprise_id != first.enterprise_id


def test_a_merge_in_another_session_links_to_the_survivor(tag: str) -> None:
    rng, cipher = random.Random(), get_cipher()
    f = _record(rng)
    merged = _register(cipher, "H001", f"{tag}-1", f)
    survivor = _register(cipher, "H002", f"{tag}-2", _record(rng))
    assert _warm(cipher, f)[0][0] == merged.enterprise_id
    with session_scope() as second:
        merge_persons(second, cipher, SYSTEM_ACTOR, from_eid=merged.enterprise_id,
                      into_eid=survivor.enterprise_id, reason="test: same person",
                      override_conflicting_ids=True)  # fmt: skip
    assert [eid for eid, _ in _warm(cipher, f)] == [survivor.enterprise_id]
    with session_scope() as session:
        (outcome,) = register_sources(
            session, cipher, [Registration("CS0001", f"{tag}-3", None, f, "test")]
        )
    assert (outcome.decision, outcome.enterprise_id) == ("link", survivor.enterprise_id)


def test_a_split_in_another_session_is_seen(tag: str) -> None:
    rng, cipher = random.Random(), get_cipher()
    f = _record(rng)
    first = _register(cipher, "H001", f"{tag}-1", f)
    assert _register(cipher, "H002", f"{tag}-2", f).enterprise_id == first.enterprise_id
    assert [eid for eid, _ in _warm(cipher, f)] == [first.enterprise_id]
    with session_scope() as second:
        split = split_person(
            second,
            cipher,
            SYSTEM_ACTOR,
            enterprise_id=first.enterprise_id,
            sources=[("H002", f"{tag}-2")],
            reason="test: two people",
        )
    assert {eid for eid, _ in _warm(cipher, f)} == {first.enterprise_id, split.enterprise_id}


def test_a_record_deleted_in_another_session_is_no_candidate(tag: str) -> None:
    rng, cipher = random.Random(), get_cipher()
    f = _record(rng)
    _register(cipher, "H001", f"{tag}-1", f)
    assert len(_warm(cipher, f)) == 1
    with session_scope() as second:  # the facility deletes its Patient: the source goes
        assert remove_source(second, cipher, "H001", f"{tag}-1", "test")
    assert _warm(cipher, f) == []
    assert _register(cipher, "CS0001", f"{tag}-2", f).decision == "new"


def test_a_reseal_under_a_new_key_is_opened_with_it(tag: str) -> None:
    """Key rotation reseals the row (another value: a miss); once the old key is retired,
    decisions go on with the new one and nothing cached under the old is served."""
    rng, cipher = random.Random(), get_cipher()
    f = _record(rng)
    first = _register(cipher, "H001", f"{tag}-1", f)
    _warm(cipher, f)
    new_key = {"k-new": os.urandom(32)}
    rotating = FieldCipher({**cipher.keys, **new_key}, "k-new", cipher.blind_key)
    with session_scope() as second:  # the rotation reseals every row this decision reads
        keys = store.hashed_keys(cipher, query_keys(f))
        rows = second.execute(select(SourceRow).join(BlockKeyRow).where(BlockKeyRow.key.in_(keys)))
        resealed = {row.id: row.features for row in rows.scalars()}
        for row_id, sealed in resealed.items():
            second.execute(update(SourceRow).where(SourceRow.id == row_id)
                           .values(features=rotating.reseal(sealed)))  # fmt: skip
    try:
        misses = process_cache().stats().misses
        retired = FieldCipher(new_key, "k-new", cipher.blind_key)  # the old key is gone
        found = _warm(retired, f)
        assert found[0][0] == first.enterprise_id and found[0][1] >= 0.99
        assert _warm(retired, f) == found
        assert process_cache().stats().misses == misses + len(resealed)  # once, new key
    finally:  # the rest of the suite knows only the suite's key
        with session_scope() as session:
            for row_id, sealed in resealed.items():
                session.execute(update(SourceRow).where(SourceRow.id == row_id)
                                .values(features=sealed))  # fmt: skip


def test_registration_logs_no_personal_data(tag: str, caplog: pytest.LogCaptureFixture) -> None:
    rng, cipher = random.Random(), get_cipher()
    f = _record(rng)
    with caplog.at_level(logging.DEBUG):
        _register(cipher, "H001", f"{tag}-1", f)
        _register(cipher, "H002", f"{tag}-2", f)
        _warm(cipher, f)
    text = caplog.text
    assert f.given not in text and (f.resident_id or "") not in text and f.phones[0] not in text
