"""The audit hash chain on an in-memory SQLite database: row_hash, write_entries, verify_chain."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from hub.audit.models import GENESIS_HASH, AuditHead, AuditPatient, AuditRecord
from hub.audit.retention import prune_audit, retention_cutoff
from hub.audit.service import (
    AuditEntry,
    ChainProblem,
    flush_pending_audit,
    hashed_row,
    record_access,
    record_row,
    row_hash,
    verify_chain,
    write_entries,
)
from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.db import Base
from hub.models import import_all_models

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


def test_written_records_form_an_intact_chain(session: Session) -> None:
    write(session, 5)
    write_entries(session, [entry(6, outcome="4")])
    session.commit()
    records = session.execute(sa.select(AuditRecord).order_by(AuditRecord.seq)).scalars().all()
    assert [r.seq for r in records] == [1, 2, 3, 4, 5, 6]
    assert records[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in pairwise(records))
    assert [r.action for r in records] == ["R"] * 6
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


def test_an_edited_and_rehashed_record_breaks_the_next_link(session: Session) -> None:
    write(session, 5)
    forged = session.get(AuditRecord, 3)
    assert forged is not None
    forged.outcome = "4"
    forged.hash = row_hash(forged.prev_hash, record_row(forged))
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
        if c.name not in ("prev_hash", "hash", *CONSENT_FIELDS)
    ]
    row: dict[str, object] = {c: getattr(rec, c) for c in columns}
    row["recorded"] = rec.recorded.astimezone(UTC).isoformat()
    return row_hash(prev, row)


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


def rehash_all(session: Session) -> None:
    """Make aged records consistent again (as if they had been written that long ago)."""
    prev = GENESIS_HASH
    for rec in session.execute(sa.select(AuditRecord).order_by(AuditRecord.seq)).scalars():
        rec.prev_hash = prev
        rec.hash = prev = row_hash(prev, record_row(rec))
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
