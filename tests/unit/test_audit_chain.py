"""The audit hash chain on an in-memory SQLite database: the hashes, write_entries, verify_chain,
signed checkpoints, the legacy boundary and retention. Attacks on the real databases (SQLite and
PostgreSQL, also through the CLI) are in tests/security/test_audit_tamper.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from hub.audit.chain import (
    ChainProblem,
    HashScheme,
    hashed_row,
    keyed_row_hash,
    record_hash,
    record_row,
    row_hash,
)
from hub.audit.checkpoints import (
    CHECKPOINT_INTERVAL,
    CheckpointKind,
    NothingToSign,
    signed_checkpoint,
    write_checkpoint,
)
from hub.audit.keys import (
    audit_hmac_key,
    key_id,
    load_checkpoint_key,
    load_hmac_key,
    load_public_keys,
    new_checkpoint_key,
    public_key_text,
)
from hub.audit.linking import link_pending
from hub.audit.models import GENESIS_HASH, AuditCheckpoint, AuditHead, AuditPatient, AuditRecord
from hub.audit.retention import prune_audit, retention_cutoff
from hub.audit.service import (
    AuditEntry,
    flush_pending_audit,
    record_access,
)
from hub.audit.service import (
    write_entries as append_entries,
)
from hub.audit.verification import verify_chain
from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.db import Base
from hub.models import import_all_models


def write_entries(
    session: Session, entries: list[AuditEntry], *, checkpoint_interval: int = CHECKPOINT_INTERVAL
) -> None:
    """Append ``entries`` and link them at once, as the chainer does after commit."""
    append_entries(session, entries)
    link_pending(session, grace=0, checkpoint_interval=checkpoint_interval)


T0 = datetime(2030, 5, 1, 9, 30, tzinfo=UTC)
ACTOR = Actor.build(
    client_id="lis-h001", facility="H001", role=Role.facility_system, scope="system/*.cruds"
)


@pytest.fixture
def session() -> Iterator[Session]:
    import_all_models()
    engine = sa.create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


def entry(n: int, *, patients: tuple[str, ...] = ("p1",), outcome: str = "0") -> AuditEntry:
    return AuditEntry(
        ACTOR,
        "read",
        "Patient",
        [f"Patient/{p}" for p in patients],
        list(patients),
        outcome=outcome,
        recorded=T0 + timedelta(seconds=n),
    )


def write(session: Session, count: int) -> None:
    write_entries(session, [entry(n, patients=(f"p{n}",)) for n in range(1, count + 1)])
    session.commit()


def problems(session: Session) -> list[ChainProblem]:
    return list(verify_chain(session, batch=2))


def test_row_hash_covers_the_content_and_the_previous_hash() -> None:
    row: dict[str, object] = {"seq": 1, "client_id": "a", "outcome": "0"}
    digest = row_hash(GENESIS_HASH, row)
    assert len(digest) == 64
    assert row_hash(GENESIS_HASH, dict(row)) == digest
    assert row_hash(GENESIS_HASH, {"outcome": "0", "client_id": "a", "seq": 1}) == digest
    assert row_hash(GENESIS_HASH, row | {"outcome": "4"}) != digest
    assert row_hash("1" * 64, row) != digest


def test_keyed_hash_covers_the_key_the_content_and_the_patient_index() -> None:
    row: dict[str, object] = {"seq": 1, "client_id": "a", "outcome": "0"}
    key = b"k" * 32
    digest = keyed_row_hash(key, GENESIS_HASH, row, ["p2", "p1"])
    assert len(digest) == 64
    assert keyed_row_hash(key, GENESIS_HASH, dict(row), ["p1", "p2", "p1"]) == digest
    assert digest != row_hash(GENESIS_HASH, row)
    for other in (
        keyed_row_hash(b"x" * 32, GENESIS_HASH, row, ["p1", "p2"]),
        keyed_row_hash(key, "1" * 64, row, ["p1", "p2"]),
        keyed_row_hash(key, GENESIS_HASH, row | {"outcome": "4"}, ["p1", "p2"]),
        keyed_row_hash(key, GENESIS_HASH, row, ["p1"]),
        keyed_row_hash(key, GENESIS_HASH, row, ["p1", "p2", "p3"]),
    ):
        assert other != digest


def test_written_records_form_an_intact_chain(session: Session) -> None:
    write(session, 5)
    write_entries(session, [entry(6, outcome="4")])
    session.commit()
    records = session.execute(sa.select(AuditRecord).order_by(AuditRecord.seq)).scalars().all()
    assert [r.seq for r in records] == [1, 2, 3, 4, 5, 6]
    assert records[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in pairwise(records))
    assert [r.action for r in records] == ["R"] * 6
    assert {r.hash_scheme for r in records} == {HashScheme.HMAC_SHA256}
    head = session.get(AuditHead, 1)
    assert head is not None
    assert (head.last_seq, head.last_hash) == (6, records[-1].hash)
    links = session.execute(sa.select(AuditPatient.patient_id).where(AuditPatient.seq == 3))
    assert links.scalars().all() == ["p3"]
    assert problems(session) == []


def test_pending_entries_wait_on_the_session(session: Session) -> None:
    record_access(session, entry(1))
    assert session.execute(sa.select(sa.func.count()).select_from(AuditRecord)).scalar() == 0
    flush_pending_audit(session)
    session.commit()
    assert session.execute(sa.select(sa.func.count()).select_from(AuditRecord)).scalar() == 1
    assert problems(session) == []


def test_an_edited_record_is_named(session: Session) -> None:
    write(session, 5)
    session.execute(
        sa.update(AuditRecord).where(AuditRecord.seq == 3).values(outcome_text="nothing to see")
    )
    session.commit()
    assert problems(session) == [ChainProblem(3, "content does not match its hash (edited)")]


def test_a_record_rehashed_without_the_key_is_named(session: Session) -> None:
    write(session, 5)
    forged = session.get(AuditRecord, 3)
    assert forged is not None
    forged.outcome = "4"
    forged.hash = row_hash(forged.prev_hash, record_row(forged))  # as the unkeyed chain allowed
    session.commit()
    assert problems(session) == [
        ChainProblem(3, "content does not match its hash (edited)"),
        ChainProblem(4, "previous-hash link broken"),
    ]


def test_an_edited_and_rehashed_record_breaks_the_next_link(session: Session) -> None:
    write(session, 5)
    forged = session.get(AuditRecord, 3)
    assert forged is not None
    forged.outcome = "4"
    forged.hash = record_hash(forged, ["p3"], key=audit_hmac_key())  # even with the key
    session.commit()
    assert problems(session) == [ChainProblem(4, "previous-hash link broken")]


def test_a_deleted_record_is_named(session: Session) -> None:
    write(session, 5)
    session.execute(sa.delete(AuditPatient).where(AuditPatient.seq == 3))
    session.execute(sa.delete(AuditRecord).where(AuditRecord.seq == 3))
    session.commit()
    found = problems(session)
    assert ChainProblem(4, "records 3..3 are missing") in found
    assert ChainProblem(4, "previous-hash link broken") in found
    assert {p.seq for p in found} == {4}


def test_records_deleted_at_the_end_are_detected(session: Session) -> None:
    write(session, 5)
    session.execute(sa.delete(AuditPatient).where(AuditPatient.seq >= 4))
    session.execute(sa.delete(AuditRecord).where(AuditRecord.seq >= 4))
    session.commit()
    found = problems(session)
    assert [p.seq for p in found] == [3]
    assert "head" in found[0].reason


def test_chain_continues_across_writes(session: Session) -> None:
    write(session, 2)
    write(session, 3)
    assert session.execute(sa.select(sa.func.max(AuditRecord.seq))).scalar() == 5
    assert problems(session) == []


# --- consent fields (migration 0008) and retention --------------------------------------------

CONSENT_FIELDS = ("decision", "consents", "break_glass", "break_glass_reason", "denied")
EMERGENCY = Actor.build(
    client_id="er-h002",
    facility="H002",
    role=Role.practitioner,
    scope="user/*.rs",
    purpose_of_use="ETREAT",
    purpose_reason="unconscious patient in the ER",
)


def legacy_hash(prev: str, rec: AuditRecord) -> str:
    """The hash as written before the consent fields existed: the 15 original columns only."""
    columns = [
        c.name
        for c in AuditRecord.__table__.columns
        if c.name not in ("prev_hash", "hash", "hash_scheme", "practitioner", *CONSENT_FIELDS)
    ]
    assert len(columns) == 15
    row: dict[str, object] = {c: getattr(rec, c) for c in columns}
    row["recorded"] = rec.recorded.astimezone(UTC).isoformat()
    return keyed_row_hash(audit_hmac_key(), prev, row, json.loads(rec.patients))


def test_records_without_a_decision_hash_as_before_the_consent_fields(session: Session) -> None:
    write(session, 3)
    records = session.execute(sa.select(AuditRecord).order_by(AuditRecord.seq)).scalars().all()
    for rec in records:
        assert (rec.decision, rec.consents, rec.break_glass, rec.denied) == (
            None,
            None,
            False,
            None,
        )
        assert legacy_hash(rec.prev_hash, rec) == rec.hash
        assert not set(CONSENT_FIELDS) & set(record_row(rec))


def test_consent_fields_are_stored_and_covered_by_the_hash(session: Session) -> None:
    decided = AuditEntry(
        EMERGENCY,
        "search-type",
        "Observation",
        ["Observation/o1"],
        ["p1"],
        recorded=T0,
        decision="permit-with-redaction",
        consents=["Consent/c1", "Consent/c2"],
        break_glass=True,
        denied=["Observation/o2"],
    )
    write_entries(session, [decided, entry(2)])
    session.commit()
    rec = session.get(AuditRecord, 1)
    assert rec is not None
    assert rec.decision == "permit-with-redaction"
    assert json.loads(rec.consents or "[]") == ["Consent/c1", "Consent/c2"]
    assert json.loads(rec.denied or "[]") == ["Observation/o2"]
    assert rec.break_glass is True
    assert rec.break_glass_reason == "unconscious patient in the ER"  # from the ETREAT token
    assert set(CONSENT_FIELDS) <= set(record_row(rec))
    assert legacy_hash(rec.prev_hash, rec) != rec.hash
    assert problems(session) == []
    for column, forged in (
        ("decision", "permit"),
        ("consents", '["Consent/c1"]'),
        ("break_glass", False),
        ("break_glass_reason", None),
        ("denied", None),
    ):
        original = getattr(rec, column)
        session.execute(sa.update(AuditRecord).where(AuditRecord.seq == 1).values({column: forged}))
        session.commit()
        assert problems(session) == [ChainProblem(1, "content does not match its hash (edited)")]
        session.execute(
            sa.update(AuditRecord).where(AuditRecord.seq == 1).values({column: original})
        )
        session.commit()
        assert problems(session) == []


def test_hashed_row_leaves_out_only_unset_consent_fields() -> None:
    row: dict[str, object] = {"seq": 1, "outcome_text": None, "prev_hash": "x", "hash": "y"}
    unset = dict(row, decision=None, consents=None, break_glass=False, denied=None)
    assert hashed_row(unset) == {"seq": 1, "outcome_text": None}
    assert hashed_row(dict(unset, decision="deny"))["decision"] == "deny"
    assert hashed_row(dict(unset, break_glass=True))["break_glass"] is True


def age(session: Session, upto_seq: int, days: int) -> None:
    session.execute(
        sa.update(AuditRecord)
        .where(AuditRecord.seq <= upto_seq)
        .values(recorded=datetime.now(UTC) - timedelta(days=days))
    )
    session.commit()


def patient_index(session: Session, seq: int) -> list[str]:
    found = session.execute(sa.select(AuditPatient.patient_id).where(AuditPatient.seq == seq))
    return list(found.scalars())


def rehash_all(session: Session) -> None:
    """Make aged records consistent again (as if they had been written that long ago)."""
    prev = GENESIS_HASH
    records = session.execute(sa.select(AuditRecord).order_by(AuditRecord.seq)).scalars().all()
    for rec in records:
        rec.prev_hash = prev
        rec.hash = prev = record_hash(rec, patient_index(session, rec.seq), key=audit_hmac_key())
    head = session.get(AuditHead, 1)
    assert head is not None
    head.last_hash = prev
    session.commit()


def test_prune_moves_the_anchor_and_the_chain_still_verifies(session: Session) -> None:
    write_entries(session, [entry(n, patients=(f"p{n}",)) for n in range(1, 7)])
    session.commit()
    age(session, 4, days=400)
    rehash_all(session)
    assert problems(session) == []
    anchor_hash = session.execute(sa.select(AuditRecord.hash).where(AuditRecord.seq == 4)).scalar()

    result = prune_audit(session, cutoff=retention_cutoff(183))
    flush_pending_audit(session)
    session.commit()
    assert (result.removed, result.anchor_seq, result.anchor_hash) == (4, 4, anchor_hash)
    seqs = session.execute(sa.select(AuditRecord.seq).order_by(AuditRecord.seq)).scalars().all()
    assert seqs == [5, 6, 7]  # 7: the prune itself, attesting the anchor
    assert session.execute(sa.select(sa.func.min(AuditPatient.seq))).scalar() == 5
    prune_record = session.get(AuditRecord, 7)
    assert prune_record is not None and anchor_hash in (prune_record.outcome_text or "")
    head = session.get(AuditHead, 1)
    assert head is not None and (head.anchor_seq, head.anchor_hash) == (4, anchor_hash)
    assert problems(session) == []

    again = prune_audit(session, cutoff=retention_cutoff(183))
    assert again.removed == 0
    write_entries(session, [entry(8)])
    session.commit()
    assert problems(session) == []


def test_tampering_after_a_prune_is_detected(session: Session) -> None:
    write_entries(session, [entry(n) for n in range(1, 6)])
    session.commit()
    age(session, 2, days=400)
    rehash_all(session)
    prune_audit(session, cutoff=retention_cutoff(183))
    flush_pending_audit(session)
    session.commit()
    assert problems(session) == []

    session.execute(
        sa.update(AuditRecord).where(AuditRecord.seq == 4).values(outcome_text="nothing here")
    )
    session.commit()
    assert problems(session) == [ChainProblem(4, "content does not match its hash (edited)")]


def test_records_removed_at_the_start_without_a_prune_are_detected(session: Session) -> None:
    write(session, 5)
    session.execute(sa.delete(AuditPatient).where(AuditPatient.seq <= 2))
    session.execute(sa.delete(AuditRecord).where(AuditRecord.seq <= 2))
    session.commit()
    assert ChainProblem(3, "records 1..2 are missing") in problems(session)
    # Moving the anchor by hand is not enough: no prune record in the chain attests it.
    record_2_hash = session.execute(sa.select(AuditRecord.prev_hash).where(AuditRecord.seq == 3))
    session.execute(
        sa.update(AuditHead).values(anchor_seq=2, anchor_hash=record_2_hash.scalar_one())
    )
    session.commit()
    assert problems(session) == [
        ChainProblem(2, "no prune record attests the anchor (records removed)")
    ]


def test_prune_with_nothing_old_removes_nothing(session: Session) -> None:
    write(session, 3)
    assert prune_audit(session, cutoff=T0 - timedelta(days=1)).removed == 0
    assert session.info.get("hub_audit_pending") is None
    assert problems(session) == []


def test_retention_below_six_months_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from hub.settings import Settings

    monkeypatch.setenv("HUB_AUDIT_RETENTION_DAYS", "90")
    with pytest.raises(ValidationError, match="at least 183 days"):
        Settings()
    monkeypatch.setenv("HUB_AUDIT_RETENTION_DAYS", "400")
    assert Settings().audit_retention_days == 400
    monkeypatch.delenv("HUB_AUDIT_RETENTION_DAYS")
    assert Settings().audit_retention_days == 183


# --- keyed hashes: the patient index, the scheme, the legacy boundary (migration 0009) ---------


def test_the_patient_index_is_covered_by_the_hash(session: Session) -> None:
    write_entries(session, [entry(1), entry(2, patients=("p1", "p2")), entry(3)])
    session.commit()
    changed = "its audit_patient rows do not match its hash (patient index changed)"
    for change in (
        sa.delete(AuditPatient).where(AuditPatient.seq == 2, AuditPatient.patient_id == "p2"),
        sa.insert(AuditPatient).values(seq=2, patient_id="p9"),
        sa.update(AuditPatient)
        .where(AuditPatient.seq == 2, AuditPatient.patient_id == "p2")
        .values(patient_id="p9"),
    ):
        session.execute(change)
        session.commit()
        assert problems(session) == [ChainProblem(2, changed)]
        session.execute(sa.delete(AuditPatient).where(AuditPatient.seq == 2))
        session.execute(
            sa.insert(AuditPatient), [{"seq": 2, "patient_id": p} for p in ("p1", "p2")]
        )
        session.commit()
        assert problems(session) == []


def rewrite_unkeyed(session: Session, from_seq: int) -> None:
    """Rewrite the records from ``from_seq`` on as the unkeyed chain hashed them (scheme 0)."""
    records = session.execute(sa.select(AuditRecord).order_by(AuditRecord.seq)).scalars().all()
    prev = GENESIS_HASH
    for rec in records:
        if rec.seq >= from_seq:
            rec.prev_hash, rec.hash_scheme = prev, HashScheme.SHA256
            rec.hash = row_hash(prev, record_row(rec))
        prev = rec.hash
    head = session.get(AuditHead, 1)
    assert head is not None
    head.last_hash = prev
    session.commit()


def test_records_downgraded_to_the_unkeyed_scheme_are_named(session: Session) -> None:
    write(session, 5)
    rewrite_unkeyed(session, 4)
    downgraded = "unkeyed hash where a keyed one is due (hash scheme downgraded)"
    assert problems(session) == [ChainProblem(4, downgraded), ChainProblem(5, downgraded)]
    rewrite_unkeyed(session, 1)  # the whole chain: no signed legacy boundary allows it
    assert [p.seq for p in problems(session)] == [1, 2, 3, 4, 5]


def sign_legacy_boundary(session: Session) -> None:
    """What migration 0009 does to a chain written before it."""
    head = session.get(AuditHead, 1)
    assert head is not None
    boundary = signed_checkpoint(head.last_seq, head.last_hash, CheckpointKind.LEGACY)
    session.execute(sa.insert(AuditCheckpoint).values(boundary))
    session.commit()


def test_records_before_the_signed_legacy_boundary_verify_unkeyed(session: Session) -> None:
    write(session, 3)
    rewrite_unkeyed(session, 1)  # as the code before migration 0009 wrote them
    sign_legacy_boundary(session)
    write_entries(session, [entry(n) for n in (4, 5)])
    session.commit()
    schemes = session.execute(sa.select(AuditRecord.hash_scheme).order_by(AuditRecord.seq))
    assert list(schemes.scalars()) == [0, 0, 0, 1, 1]
    assert problems(session) == []

    rewrite_unkeyed(session, 5)
    assert problems(session) == [
        ChainProblem(5, "unkeyed hash where a keyed one is due (hash scheme downgraded)")
    ]
    rewrite_unkeyed(session, 2)  # an unkeyed record is easy to forge, but the boundary is signed
    session.execute(sa.update(AuditRecord).where(AuditRecord.seq == 2).values(outcome="4"))
    session.commit()
    rewrite_unkeyed(session, 2)
    found = problems(session)
    assert ChainProblem(3, "does not match its signed checkpoint (chain rewritten)") in found
    assert (
        ChainProblem(4, "unkeyed hash where a keyed one is due (hash scheme downgraded)") in found
    )


# --- signed checkpoints -------------------------------------------------------------------------


def test_interval_checkpoints_are_written_with_the_records(session: Session) -> None:
    write_entries(session, [entry(n) for n in range(1, 8)], checkpoint_interval=3)
    session.commit()
    stored = session.execute(sa.select(AuditCheckpoint).order_by(AuditCheckpoint.seq)).scalars()
    hashes = {seq: h for seq, h in session.execute(sa.select(AuditRecord.seq, AuditRecord.hash))}
    assert [(c.seq, c.kind, c.hash) for c in stored.all()] == [
        (3, "interval", hashes[3]),
        (6, "interval", hashes[6]),
    ]
    assert list(verify_chain(session, batch=2, checkpoint_interval=3)) == []

    session.execute(sa.delete(AuditCheckpoint).where(AuditCheckpoint.seq == 3))
    session.commit()
    assert list(verify_chain(session, checkpoint_interval=3)) == [
        ChainProblem(3, "no signed checkpoint at this record (checkpoint deleted)")
    ]


def test_a_chain_rewritten_with_the_hmac_key_misses_its_checkpoints(session: Session) -> None:
    write_entries(session, [entry(n) for n in range(1, 8)], checkpoint_interval=3)
    session.commit()
    session.execute(sa.update(AuditRecord).where(AuditRecord.seq == 2).values(outcome="4"))
    session.commit()
    rehash_all(session)  # a thief of the HMAC key makes every record verify again ...
    assert list(verify_chain(session, checkpoint_interval=3)) == [
        ChainProblem(3, "does not match its signed checkpoint (chain rewritten)"),
        ChainProblem(6, "does not match its signed checkpoint (chain rewritten)"),
    ]
    session.execute(sa.delete(AuditCheckpoint))  # ... and deleting the checkpoints shows too
    session.commit()
    assert [p.seq for p in verify_chain(session, checkpoint_interval=3)] == [3, 6]


def test_checkpoints_not_signed_by_a_trusted_key_are_named(session: Session) -> None:
    write(session, 4)
    own = signed_checkpoint(2, "f" * 64, CheckpointKind.MANUAL, key=Ed25519PrivateKey.generate())
    session.execute(sa.insert(AuditCheckpoint).values(own))
    genuine = signed_checkpoint(3, "e" * 64, CheckpointKind.MANUAL)
    session.execute(sa.insert(AuditCheckpoint).values(genuine | {"hash": "d" * 64}))
    session.commit()
    found = problems(session)
    assert found[0].seq == 2 and "unknown key" in found[0].reason
    assert found[1] == ChainProblem(
        3, "checkpoint signature does not verify (forged or altered checkpoint)"
    )
    assert len(found) == 2  # neither is taken as vouching for anything


def test_records_deleted_at_the_end_past_a_checkpoint_are_named(session: Session) -> None:
    write(session, 4)
    checkpoint = write_checkpoint(session)
    session.commit()
    assert (checkpoint.seq, problems(session)) == (4, [])
    write_entries(session, [entry(5), entry(6)])
    session.commit()
    session.execute(sa.delete(AuditPatient).where(AuditPatient.seq >= 3))
    session.execute(sa.delete(AuditRecord).where(AuditRecord.seq >= 3))
    last = session.execute(sa.select(AuditRecord.hash).where(AuditRecord.seq == 2)).scalar_one()
    session.execute(sa.update(AuditHead).values(last_seq=2, last_hash=last))
    session.commit()
    assert problems(session) == [
        ChainProblem(
            3,
            "records 3..4 are missing: a signed checkpoint names record 4 "
            "(records deleted at the end)",
        )
    ]


def test_nothing_to_sign_in_an_empty_log(session: Session) -> None:
    with pytest.raises(NothingToSign):
        write_checkpoint(session)


def test_prune_signs_the_anchor_and_a_forged_prune_is_detected(session: Session) -> None:
    write_entries(session, [entry(n) for n in range(1, 7)])
    session.commit()
    age(session, 3, days=400)
    rehash_all(session)
    prune_audit(session, cutoff=retention_cutoff(183))
    flush_pending_audit(session)
    session.commit()
    anchor = session.execute(
        sa.select(AuditCheckpoint).where(AuditCheckpoint.kind == "anchor")
    ).scalar_one()
    head = session.get(AuditHead, 1)
    assert head is not None and (anchor.seq, anchor.hash) == (head.anchor_seq, head.anchor_hash)
    assert problems(session) == []

    # A thief of the HMAC key removes records 4 and 5 with a prune record of their own making.
    record_5_hash = session.execute(sa.select(AuditRecord.hash).where(AuditRecord.seq == 5))
    anchor_hash = record_5_hash.scalar_one()
    session.execute(sa.delete(AuditRecord).where(AuditRecord.seq <= 5))
    session.execute(sa.update(AuditHead).values(anchor_seq=5, anchor_hash=anchor_hash))
    session.commit()
    forged = AuditEntry(ACTOR, "operation", "AuditEvent", outcome_text=f"pruned up to record 5; "
                        f"chain anchor {anchor_hash}", recorded=T0)  # fmt: skip
    write_entries(session, [forged])
    session.commit()
    assert problems(session) == [
        ChainProblem(5, "no signed checkpoint vouches for the anchor (removed)")
    ]


# --- keys and settings --------------------------------------------------------------------------


def test_audit_keys_are_generated_into_var_once(tmp_path: Path) -> None:
    from hub.settings import Settings

    settings = Settings(var_dir=tmp_path, audit_hmac_key="", audit_checkpoint_key="")
    hmac_key = load_hmac_key(settings)
    private = load_checkpoint_key(settings)
    assert len(hmac_key) >= 32 and load_hmac_key(settings) == hmac_key
    assert public_key_text(load_checkpoint_key(settings)) == public_key_text(private)
    assert (tmp_path / "audit_hmac.key").stat().st_mode & 0o777 == 0o600
    trusted = load_public_keys(settings)
    assert list(trusted) == [key_id(private.public_key())]

    other = Ed25519PrivateKey.generate()
    only_public = Settings(var_dir=tmp_path / "none", audit_checkpoint_public_keys=(
        f" {public_key_text(other)}, {public_key_text(private)}"))  # fmt: skip
    assert set(load_public_keys(only_public)) == {
        key_id(other.public_key()),
        key_id(private.public_key()),
    }
    assert not (tmp_path / "none").exists()  # verifying needs no private key


def test_production_refuses_missing_audit_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from hub.settings import Settings

    def refusal(**settings: str) -> str:
        try:
            Settings(**settings)
        except ValidationError as refused:
            return str(refused)
        return ""

    production = {
        "environment": "production",
        "database_url": "postgresql+psycopg://hub@db/hub",
        "signing_key": "{}",
        "field_keys": '{"k": "x"}',
        "field_key_id": "k",
        "blind_index_key": "b" * 40,
    }
    for name in ("HUB_AUDIT_HMAC_KEY", "HUB_AUDIT_CHECKPOINT_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert "HUB_AUDIT_HMAC_KEY must be set" in refusal(**production)
    assert "HUB_AUDIT_CHECKPOINT_KEY must be set" in refusal(**production)
    keys = {"audit_hmac_key": "h" * 32, "audit_checkpoint_key": new_checkpoint_key()}
    assert "HUB_AUDIT" not in refusal(**production, **keys)
    assert "at least 32 characters" in refusal(audit_hmac_key="short")
    assert "Ed25519 key is 32 bytes" in refusal(audit_checkpoint_key="c2hvcnQ")
    assert "Ed25519 key is 32 bytes" in refusal(
        audit_checkpoint_public_keys=f"{new_checkpoint_key()},!!"
    )
